/**
 * The `files` deployer: writes the live set (cert.pem, chain.pem, fullchain.pem, privkey.pem,
 * fullbundle.pem and any custom bundles) into a directory another program reads — a docker named
 * volume mounted read-only into the web container, `/etc/ssl/<site>/`, an XMPP server's cert dir.
 *
 * The `atomic` layout is the one the kubelet uses for Secret volumes (DESIGN.md §6.11; kubernetes
 * `pkg/volume/util/atomic_writer.go`):
 *
 * ```
 * <dir>/..2026-12-01T19-55-00.123Z-v3/   one complete version: the files, fsynced
 * <dir>/..data -> ..2026-12-01T19-55-00.123Z-v3   the one switch
 * <dir>/cert.pem -> ..data/cert.pem       what consumers open (one link per file)
 * ```
 *
 * A deploy writes the new version directory and fsyncs it, points a temporary link at it and
 * `rename()`s that over `..data` (the single atomic step), fsyncs `<dir>`, adds links for new file
 * names, removes links for names no longer configured, and only then removes older version
 * directories. Before the rename every path resolves into the old version, after it into the new
 * one; a crash at any step leaves one of the two, and the next deploy removes what a crash left.
 * Names starting with `..` in `<dir>` are reserved for this, as in the kubelet.
 *
 * What it does not give: a consumer that opens `privkey.pem` and later `cert.pem` by path resolves
 * `..data` twice, and can straddle a switch that falls between the two opens. A consumer that wants
 * a pair resolves `..data` once (and re-reads if it changed), or reads one file holding both
 * (`fullbundle.pem`). Reloads driven by a `hook` after the deploy never straddle.
 *
 * The `plain` layout writes regular files, each replaced by its own rename (temporary files are
 * all written and fsynced first, then renamed in one burst), for consumers that refuse symlinks;
 * during that burst a reader can pair one version's key with the other's certificate.
 *
 * A deploy of the content already in place (same bytes, modes and owner) changes nothing and says
 * so; deploying is idempotent for one version.
 *
 * `<dir>/..certpilot` (both layouts) says what the directory holds: the certificate's name, the
 * version and its SHA-256 fingerprint, and a digest of the deployer's options. A deploy first
 * claims the directory (the marker is created exclusively, naming the certificate, when there is
 * none) and refuses a directory whose marker names another certificate, whatever run wrote it;
 * after the switch it records the version. {@link FilesDeployer.verify} reads it (one small read)
 * so a nothing-due run notices a directory emptied, replaced by another version, or moved (a new
 * `dir`) since its last deploy, although the deploy record says it was deployed.
 */
import { createHash } from 'node:crypto';
import { constants, promises as fs } from 'node:fs';
import { join, resolve } from 'node:path';
import { pemToDer } from '../../acme/protocol/der.js';
import type { Clock } from '../../clock.js';
import { CertpilotError } from '../../errors.js';
import type { DirHandle, OpenDirectoryOptions } from '../../fs/dir-handle.js';
import { openDirectory, probeDirectory } from '../../fs/dir-handle.js';
import { lookupId } from '../../fs/getent.js';
import type { Logger } from '../../logger.js';
import { hasErrno as isErrno, isTransientErrno, type WriteFaultHook } from '../../fs/atomic-write.js';
import type { StoredCertificate } from '../../storage/certificate-store.js';
import type { DeployOptions, DeployResult, DeployVerifier, Deployer } from '../deployer.js';
import { BUNDLE_ORDERS, type FilePart, type FilesOptions } from './schema.js';

/** One file the deployer writes: its name in the target directory and the parts it holds, in order. */
export interface FileSpec {
  name: string;
  parts: readonly FilePart[];
}

/** Options of {@link FilesDeployer} (paths resolved, modes as numbers). */
export interface FilesDeployerOptions {
  /** The deployer instance's name (`deployers.<id>`). */
  id: string;
  /** Absolute target directory; `{name}` in it is replaced by the certificate's name. */
  dir: string;
  layout?: 'atomic' | 'plain';
  /** The files to write; see {@link fileSet}. */
  files: readonly FileSpec[];
  /** User name or uid owning the files. */
  owner?: string | number;
  /** Group name or gid of the files. */
  group?: string | number;
  /** Mode of files that hold the key (default 0o600). */
  keyMode?: number;
  /** Mode of files that hold only certificates (default 0o644). */
  certMode?: number;
  /** Mode of the version directory and of a created target directory (default 0o755). */
  dirMode?: number;
  clock?: Clock;
  logger?: Logger;
  /**
   * Work in `dir` even when it (or a parent) can be written by another user. Every operation is
   * still done through descriptors, but such a user can then plant names, and a symlink in a
   * shared parent is followed (see docs/security.md). Default false: such a directory is refused.
   */
  allowSharedDir?: boolean;
  /** Test hook called before each durable step (a crash test kills the process at step k). */
  faults?: WriteFaultHook;
}

/** The five standard files. */
const STANDARD_FILES: Readonly<Record<string, readonly FilePart[]>> = {
  'cert.pem': ['cert'],
  'chain.pem': ['chain'],
  'fullchain.pem': ['fullchain'],
  'privkey.pem': ['key'],
};

/** The file list of a `files` deployer's options: the standard five with `bundle`'s order, then `files` applied. */
export function fileSet(options: Pick<FilesOptions, 'bundle' | 'files'>): FileSpec[] {
  const merged: Record<string, readonly FilePart[] | false> = { ...STANDARD_FILES, 'fullbundle.pem': BUNDLE_ORDERS[options.bundle] };
  for (const [name, parts] of Object.entries(options.files ?? {})) merged[name] = parts;
  return Object.entries(merged).flatMap(([name, parts]) => (parts === false ? [] : [{ name, parts }]));
}

/** The options of the deployer `deployers.<id>` as configured (`dir` relative to `baseDir`): for the plug-in and the cross-checks alike. */
export function filesDeployerOptions(o: FilesOptions, id: string, baseDir: string): FilesDeployerOptions {
  return {
    id,
    dir: resolve(baseDir, o.dir),
    layout: o.layout,
    files: fileSet(o),
    ...(o.owner !== undefined ? { owner: o.owner } : {}),
    ...(o.group !== undefined ? { group: o.group } : {}),
    keyMode: parseMode(o.keyMode),
    certMode: parseMode(o.certMode),
    dirMode: parseMode(o.dirMode),
    allowSharedDir: o.allowSharedDir,
  };
}

/** Parses an octal mode string such as `"0640"`. */
export function parseMode(text: string): number {
  return Number.parseInt(text, 8);
}

/** The bytes of one file: the parts concatenated like `cat` (a newline added only where a part lacks one). */
export function renderFile(parts: readonly FilePart[], certificate: Pick<StoredCertificate, 'certPem' | 'chainPem' | 'fullchainPem' | 'privateKeyPem'>): Buffer {
  const text: Record<FilePart, string> = {
    cert: certificate.certPem,
    chain: certificate.chainPem,
    fullchain: certificate.fullchainPem,
    key: certificate.privateKeyPem,
  };
  return Buffer.from(parts.map((p) => (text[p].endsWith('\n') || text[p] === '' ? text[p] : `${text[p]}\n`)).join(''), 'utf8');
}

interface PlannedFile {
  name: string;
  data: Buffer;
  mode: number;
}

interface Ids {
  uid: number;
  gid: number;
}

/** Replaced in `dir` by the certificate's name, so one deployer can serve several certificates. */
export const NAME_PLACEHOLDER = '{name}';
const DATA_LINK = '..data';
const DATA_TMP = '..data_tmp';
/** Links are made inside the private version directory under these names, then renamed out. */
const STAGED_DATA = '.staged..data';
const STAGED_PREFIX = '.staged.';
/** The exact names of the version directories certpilot creates (`..2026-12-01T19-55-00.123Z-v3`, `-1` on a clash). */
const VERSION_NAME = /^\.\.\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}\.\d{3}Z-v\d+(?:-\d+)?$/;
const TMP_SUFFIX = '.certpilot-tmp';
/** What the directory holds (see the module comment); `..` names are ours. */
export const MARKER = '..certpilot';
/** Errors of a check that could not look (permission, the disk): the target is not known to be lost. */
const CANNOT_LOOK: ReadonlySet<string> = new Set(['EACCES', 'EPERM', 'EIO']);
const MARKER_TMP = '..certpilot_tmp';
/** A marker or certificate file larger than this is not ours: not read. */
const MAX_READ = 1 << 20;

/** The content of {@link MARKER}. */
interface Marker {
  certificate: string;
  /** Absent while the first deploy into the directory is under way (the claim). */
  version?: number;
  /** SHA-256 of the leaf certificate's DER, lowercase hex. */
  fingerprint?: string;
  /** {@link FilesDeployer.optionsDigest} of the deployer that wrote it. */
  options?: string;
}

/** SHA-256 of the first certificate in `pem` (DER), lowercase hex; undefined when there is none. */
function leafFingerprint(pem: string): string | undefined {
  try {
    return createHash('sha256').update(pemToDer(pem)).digest('hex');
  } catch {
    return undefined;
  }
}

function parseMarker(data: Buffer): Marker | undefined {
  try {
    const value = JSON.parse(data.toString('utf8')) as Partial<Marker> | null;
    return value && typeof value.certificate === 'string' && value.certificate !== '' ? (value as Marker) : undefined;
  } catch {
    return undefined;
  }
}

/** Reads the regular file `path` without following a link as its last component (O_NOFOLLOW, O_NONBLOCK: a FIFO never blocks); undefined when it is absent. */
async function readNoFollow(path: string): Promise<Buffer | undefined> {
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    if (isErrno(err, 'ENOENT') || isErrno(err, 'ENOTDIR')) return undefined;
    throw err;
  }
  try {
    const stat = await handle.stat();
    if (!stat.isFile() || stat.size > MAX_READ) throw Object.assign(new Error(`${path} is not a regular file of certpilot's`), { code: 'EFTYPE' });
    return await handle.readFile();
  } finally {
    await handle.close();
  }
}

/** Writes a certificate's files into a directory, switched atomically (see the module comment). */
export class FilesDeployer implements Deployer, DeployVerifier {
  /** The deployer instance's name in the configuration. */
  readonly id: string;
  private readonly options: Required<Pick<FilesDeployerOptions, 'dir' | 'layout' | 'files' | 'keyMode' | 'certMode' | 'dirMode'>> & FilesDeployerOptions;
  private ids: Promise<Ids> | undefined;
  /** Which certificate each target directory holds (one per directory). */
  private readonly dirHolders = new Map<string, string>();
  /** Per-certificate targets when `dir` contains {@link NAME_PLACEHOLDER}. */
  private readonly targets = new Map<string, FilesDeployer>();

  constructor(options: FilesDeployerOptions) {
    this.id = options.id;
    this.options = { layout: 'atomic', keyMode: 0o600, certMode: 0o644, dirMode: 0o755, ...options };
  }

  /** Makes `dir` hold `certificate`'s files; a no-op when it already holds exactly them. */
  async deploy(certificate: StoredCertificate, options: DeployOptions = {}): Promise<DeployResult> {
    options.signal?.throwIfAborted();
    const dir = this.dirOf(certificate.name);
    // Two certificates in one directory would overwrite (and prune) each other on every run.
    const holder = this.dirHolders.get(dir);
    if (holder !== undefined && holder !== certificate.name) throw this.heldError(dir, holder, certificate.name);
    this.dirHolders.set(dir, certificate.name);
    if (dir !== this.options.dir) return this.target(dir).deploy(certificate, options);
    const planned = this.plan(certificate);
    const ids = await this.resolveIds();
    const d = await this.openTarget(ids);
    try {
      // Across runs, the directory's marker says which certificate it holds (a same-run holder is caught above).
      const held = await this.claim(d, certificate, ids);
      options.signal?.throwIfAborted();
      const result = this.options.layout === 'atomic' ? await this.deployAtomic(d, certificate, planned, ids, options.signal) : await this.deployPlain(d, certificate, planned, ids, options.signal);
      await this.record(d, certificate, held, ids);
      return result;
    } finally {
      await d.close();
    }
  }

  /**
   * Why `dir` does not hold `certificate` as this deployer would write it, or undefined when it
   * does: one read of its marker (no link followed as the last component), and only when there is
   * no marker (a directory written by an older certpilot, or copied in by hand), of the certificate
   * file consumers read. Compared by the certificate's fingerprint, never by serial or mtime.
   * Writes nothing.
   */
  async verify(certificate: StoredCertificate, options: DeployOptions = {}): Promise<string | undefined> {
    options.signal?.throwIfAborted();
    const dir = this.dirOf(certificate.name);
    if (dir !== this.options.dir) return this.target(dir).verify(certificate, options);
    const fingerprint = leafFingerprint(certificate.certPem);
    let marker: Marker | undefined;
    try {
      const data = await readNoFollow(join(dir, MARKER));
      if (data !== undefined) marker = parseMarker(data) ?? { certificate: '' };
    } catch (err) {
      // Not allowed to look, or the disk failing: nothing is known to be lost (DeployVerifier: throw).
      if (CANNOT_LOOK.has((err as NodeJS.ErrnoException).code ?? '')) throw this.ioError(`reading ${join(dir, MARKER)}`, err);
      return `cannot read ${join(dir, MARKER)} (${(err as NodeJS.ErrnoException).code ?? String(err)})`;
    }
    if (marker !== undefined) {
      if (marker.certificate === '') return `${join(dir, MARKER)} is not certpilot's`;
      if (marker.certificate !== certificate.name) return `${dir} holds certificate "${marker.certificate}"`;
      if (marker.fingerprint === undefined) return `a deploy into ${dir} did not finish`;
      if (marker.fingerprint !== fingerprint) return `${dir} holds another version`;
      if (marker.options !== this.optionsDigest()) return `the deployer's options changed since ${dir} was written`;
      // The marker says what was written; consumers open the names, which can go on their own (`rm dir/*`).
      return this.unpublished(dir);
    }
    const found = await this.readCertificateFile(dir).catch((err: unknown) => {
      if (CANNOT_LOOK.has((err as NodeJS.ErrnoException).code ?? '')) throw this.ioError(`reading ${dir}`, err);
      return `cannot read ${dir} (${(err as NodeJS.ErrnoException).code ?? String(err)})`;
    });
    if (found === undefined) return `files missing in ${dir}`;
    if (typeof found === 'string') return found;
    if (found.fingerprint === undefined) return `${dir} holds no record of the version it holds`;
    return found.fingerprint === fingerprint ? undefined : `${dir} holds another version`;
  }

  /**
   * Why a consumer of `dir` would not find every configured file, or undefined: in the atomic layout
   * each name still the link into `..data` and the file behind it a regular file in the version
   * directory `..data` names; in the plain layout each name a regular file. Read-only, no link
   * followed but `..data`'s one step (read with readlink, checked against the version names).
   */
  private async unpublished(dir: string): Promise<string | undefined> {
    const gone: string[] = [];
    const isFile = (path: string): Promise<boolean> => fs.lstat(path).then((st) => st.isFile(), () => false);
    let version: string | undefined;
    if (this.options.layout === 'atomic') {
      version = await fs.readlink(join(dir, DATA_LINK)).catch(() => undefined);
      if (version === undefined || !VERSION_NAME.test(version)) return `${join(dir, DATA_LINK)} was removed or replaced`;
    }
    for (const { name } of this.options.files) {
      const present = version === undefined
        ? await isFile(join(dir, name))
        : (await fs.readlink(join(dir, name)).catch(() => undefined)) === `${DATA_LINK}/${name}` && (await isFile(join(dir, version, name)));
      if (!present) gone.push(name);
    }
    return gone.length > 0 ? `${gone.join(', ')} ${gone.length === 1 ? 'was' : 'were'} removed or replaced in ${dir}` : undefined;
  }

  /** `dir` with {@link NAME_PLACEHOLDER} filled in. */
  private dirOf(name: string): string {
    return this.options.dir.split(NAME_PLACEHOLDER).join(name);
  }

  /** The deployer of one resolved directory (for a `dir` with {@link NAME_PLACEHOLDER}). */
  private target(dir: string): FilesDeployer {
    let target = this.targets.get(dir);
    if (!target) {
      target = new FilesDeployer({ ...this.options, dir });
      target.ids = this.resolveIds();
      target.ids.catch(() => undefined);
      this.targets.set(dir, target);
    }
    return target;
  }

  private heldError(dir: string, holder: string, name: string): CertpilotError {
    return new CertpilotError('ERR_DEPLOY_FILES', `files deployer "${this.id}": ${dir} already holds certificate "${holder}", so it cannot hold "${name}" too`, {
      hint: `Put ${NAME_PLACEHOLDER} in the deployer's dir (e.g. /certs/${NAME_PLACEHOLDER}), or give each certificate its own files deployer. If "${holder}" no longer uses ${dir}, remove ${join(dir, MARKER)} (it names the certificate the directory holds) and deploy again.`,
    });
  }

  /**
   * A digest of the options that shape what is written (the resolved `dir`, layout, files, owner,
   * group, modes): a marker written under other options does not count as holding the version.
   */
  optionsDigest(): string {
    const { dir, layout, files, owner, group, keyMode, certMode, dirMode } = this.options;
    return createHash('sha256').update(JSON.stringify({ dir, layout, files, owner: owner ?? null, group: group ?? null, keyMode, certMode, dirMode })).digest('hex').slice(0, 32);
  }

  /**
   * The directory's marker, after refusing one that names another certificate; when there is none,
   * the directory is claimed for `certificate` by creating one exclusively (two runs racing for an
   * empty directory: one of them wins, the other reads the winner's name).
   */
  private async claim(d: DirHandle, certificate: StoredCertificate, ids: Ids): Promise<{ marker?: Marker; raw?: string }> {
    const read = async (): Promise<{ marker?: Marker; raw?: string }> => {
      const file = await d.readRegularFile(MARKER);
      if (file === undefined || file.data.length > MAX_READ) return {};
      const marker = parseMarker(file.data);
      return marker ? { marker, raw: file.data.toString('utf8') } : {};
    };
    try {
      let held = await read();
      if (held.marker === undefined) {
        try {
          await this.step(`claim ${MARKER}`);
          await d.writeNewFile(MARKER, `${JSON.stringify({ certificate: certificate.name })}\n`, this.options.certMode, ids);
          await d.sync();
          return {};
        } catch (err) {
          if (!isErrno(err, 'EEXIST')) throw err;
          held = await read();
        }
      }
      if (held.marker !== undefined && held.marker.certificate !== certificate.name) throw this.heldError(this.options.dir, held.marker.certificate, certificate.name);
      return held;
    } catch (err) {
      throw this.ioError(`reading ${join(this.options.dir, MARKER)}`, err);
    }
  }

  /** Records in the marker that the directory holds `certificate` (only when it says something else). */
  private async record(d: DirHandle, certificate: StoredCertificate, held: { raw?: string }, ids: Ids): Promise<void> {
    const text = `${JSON.stringify({ certificate: certificate.name, version: certificate.version, fingerprint: leafFingerprint(certificate.certPem), options: this.optionsDigest() } satisfies Marker)}\n`;
    if (held.raw === text) return;
    try {
      await this.step(`write ${MARKER}`);
      await d.unlink(MARKER_TMP);
      await d.writeNewFile(MARKER_TMP, text, this.options.certMode, ids);
      await d.rename(MARKER_TMP, MARKER);
      await d.sync();
    } catch (err) {
      await d.unlink(MARKER_TMP).catch(() => undefined);
      throw this.ioError(`recording version ${certificate.version} in ${join(this.options.dir, MARKER)}`, err);
    }
  }

  /**
   * The fingerprint of the certificate in the first file consumers read it from (one whose first
   * part is `cert` or `fullchain`, e.g. cert.pem), no link followed but the layout's own
   * (`name -> ..data/name`, `..data -> ..<version>`); undefined when the file is missing,
   * `{ fingerprint: undefined }` when no configured file starts with the certificate.
   */
  private async readCertificateFile(dir: string): Promise<{ fingerprint: string | undefined } | undefined> {
    const file = this.options.files.find((f) => f.parts[0] === 'cert' || f.parts[0] === 'fullchain');
    if (!file) return { fingerprint: undefined };
    let data: Buffer | undefined;
    try {
      data = await readNoFollow(join(dir, file.name));
    } catch (err) {
      if (!isErrno(err, 'ELOOP')) throw err;
      const link = await fs.readlink(join(dir, file.name));
      if (link !== `${DATA_LINK}/${file.name}`) return { fingerprint: undefined };
      const version = await fs.readlink(join(dir, DATA_LINK)).catch((e: unknown) => (isErrno(e, 'ENOENT') ? undefined : Promise.reject(e)));
      if (version === undefined) return undefined;
      if (!VERSION_NAME.test(version)) return { fingerprint: undefined };
      data = await readNoFollow(join(dir, version, file.name));
    }
    return data === undefined ? undefined : { fingerprint: leafFingerprint(data.toString('utf8')) };
  }

  private plan(certificate: StoredCertificate): PlannedFile[] {
    return this.options.files.map((f) => ({
      name: f.name,
      data: renderFile(f.parts, certificate),
      mode: f.parts.includes('key') ? this.options.keyMode : this.options.certMode,
    }));
  }

  private async deployAtomic(d: DirHandle, certificate: StoredCertificate, planned: PlannedFile[], ids: Ids, signal: AbortSignal | undefined): Promise<DeployResult> {
    const { dir } = this.options;
    const names = planned.map((f) => f.name);
    const current = await this.readDataLink(d);
    if (current !== undefined && (await this.versionMatches(d, current, planned, ids)) && (await this.linksMatch(d, names))) {
      await this.prune(d, current, ids);
      return this.unchanged(certificate, planned, current);
    }

    // 1. The new version, complete and durable, beside the live one. The version directory stays
    //    private (0700, ours) until its files and the links to move out of it are made, so the
    //    links' owners are set where nobody else can swap them.
    const version = await this.makeVersionDir(d, certificate.version);
    const v = version.handle;
    const newLinks: string[] = [];
    try {
      for (const file of planned) {
        await this.step(`write ${version.name}/${file.name}`);
        await v.writeNewFile(file.name, file.data, file.mode, ids);
        await this.step(`fsync ${version.name}/${file.name}`);
      }
      await this.step(`symlink ${DATA_TMP}`);
      await v.symlink(version.name, STAGED_DATA);
      await this.chownLink(v, STAGED_DATA, ids);
      for (const name of names) {
        if (await this.isDataLink(d, name)) continue;
        await v.symlink(`${DATA_LINK}/${name}`, `${STAGED_PREFIX}${name}`);
        await this.chownLink(v, `${STAGED_PREFIX}${name}`, ids);
        newLinks.push(name);
      }
      await this.step(`fsync-dir ${version.name}`);
      await v.sync();
      await v.chmod(this.options.dirMode);
      if (ids.uid !== -1 || ids.gid !== -1) await v.chown(ids.uid, ids.gid);
      await this.step('fsync-dir .');
      await d.sync();
      signal?.throwIfAborted();

      // 2. The switch: one rename() of the staged link over ..data, if the name still is our directory.
      const [named, opened] = await Promise.all([d.lstat(version.name), v.stat()]);
      if (named.dev !== opened.dev || named.ino !== opened.ino) throw Object.assign(new Error(`${version.name} was replaced by someone else`), { code: 'ERACE' });
      await this.step(`rename ${DATA_LINK}`);
      await v.rename(STAGED_DATA, DATA_LINK, d);
    } catch (err) {
      await d.removeOwnedDir(version.name, this.ownUids(ids)).catch(() => undefined);
      if (signal?.aborted && err === signal.reason) throw err;
      throw this.ioError(`writing version ${certificate.version} into ${dir}`, err);
    } finally {
      await v.close();
    }
    try {
      await this.step('fsync-dir .');
      await d.sync();
      // 3. The visible names: links through ..data (new names only; existing links already follow the switch).
      let changed = newLinks.length > 0;
      const staged = await d.openDir(version.name);
      try {
        for (const name of newLinks) {
          await this.step(`rename ${name}`);
          await staged.rename(`${STAGED_PREFIX}${name}`, name, d);
        }
      } finally {
        await staged.close();
      }
      // 4. Links to names no longer configured, then the older versions.
      for (const stale of await this.staleLinks(d, names)) {
        await this.step(`unlink ${stale}`);
        await d.unlink(stale);
        changed = true;
      }
      if (changed) {
        await this.step('fsync-dir .');
        await d.sync();
      }
      await this.prune(d, version.name, ids);
    } catch (err) {
      throw this.ioError(`linking version ${certificate.version} in ${dir}`, err);
    }
    this.options.logger?.info({ dir, version: certificate.version, files: names }, 'files: deployed');
    return {
      message: `wrote ${planned.length} files to ${dir} (version ${certificate.version}, atomic layout)`,
      details: { dir, layout: 'atomic', files: names, versionDir: version.name, unchanged: false },
    };
  }

  private async deployPlain(d: DirHandle, certificate: StoredCertificate, planned: PlannedFile[], ids: Ids, signal: AbortSignal | undefined): Promise<DeployResult> {
    const { dir } = this.options;
    const names = planned.map((f) => f.name);
    await this.removeTemps(d);
    if (await this.plainMatches(d, planned, ids)) {
      await this.prune(d, undefined, ids);
      return this.unchanged(certificate, planned, undefined);
    }
    // Every temporary file complete and durable first, so the renames below are one short burst.
    const temps: string[] = [];
    try {
      for (const file of planned) {
        const tmp = `.${file.name}${TMP_SUFFIX}`;
        temps.push(tmp);
        await this.step(`write ${tmp}`);
        await d.unlink(tmp);
        await d.writeNewFile(tmp, file.data, file.mode, ids);
        await this.step(`fsync ${tmp}`);
      }
      signal?.throwIfAborted();
      for (const file of planned) {
        await this.step(`rename ${file.name}`);
        await d.rename(`.${file.name}${TMP_SUFFIX}`, file.name);
      }
      await this.step('fsync-dir .');
      await d.sync();
    } catch (err) {
      for (const tmp of temps) await d.unlink(tmp).catch(() => undefined);
      if (signal?.aborted && err === signal.reason) throw err;
      throw this.ioError(`writing version ${certificate.version} into ${dir}`, err);
    }
    try {
      // Leaving the atomic layout: its links and versions go.
      for (const stale of await this.staleLinks(d, names)) {
        await this.step(`unlink ${stale}`);
        await d.unlink(stale);
      }
      await this.step(`unlink ${DATA_LINK}`);
      await d.unlink(DATA_LINK);
      await this.prune(d, undefined, ids);
    } catch (err) {
      throw this.ioError(`cleaning up ${dir}`, err);
    }
    this.options.logger?.info({ dir, version: certificate.version, files: names }, 'files: deployed');
    return {
      message: `wrote ${planned.length} files to ${dir} (version ${certificate.version}, plain layout)`,
      details: { dir, layout: 'plain', files: names, unchanged: false },
    };
  }

  private unchanged(certificate: StoredCertificate, planned: PlannedFile[], versionDir: string | undefined): DeployResult {
    const { dir, layout } = this.options;
    this.options.logger?.debug({ dir, version: certificate.version }, 'files: already deployed');
    return {
      message: `version ${certificate.version} is already in ${dir} (${planned.length} files, ${layout} layout); nothing to do`,
      details: { dir, layout, files: planned.map((f) => f.name), ...(versionDir ? { versionDir } : {}), unchanged: true },
    };
  }

  /** Opens (creating if missing) the target directory through {@link openDirectory}: no link followed in a shared parent, shared directories refused. */
  private openTarget(ids: Ids): Promise<DirHandle> {
    return openDirectory(this.options.dir, this.targetOptions(ids));
  }

  /**
   * Before any order (`config check`, each certificate's check): the error a deploy of
   * `certificateName` would meet opening its directory, by the same walk and rule
   * ({@link probeDirectory}), creating nothing; undefined when it would open. The owner and group
   * are looked up as the deploy looks them up; when that fails, the deploy reports it.
   */
  async probe(certificateName: string): Promise<CertpilotError | undefined> {
    const dir = this.dirOf(certificateName);
    let ids: Ids;
    try {
      ids = await this.resolveIds();
    } catch {
      return undefined;
    }
    try {
      await probeDirectory(dir, { ...this.targetOptions(ids), component: `files deployer "${this.id}"` });
      return undefined;
    } catch (err) {
      return err instanceof CertpilotError ? err : undefined;
    }
  }

  private targetOptions(ids: Ids): OpenDirectoryOptions {
    return {
      create: true,
      createMode: this.options.dirMode,
      createOwner: ids,
      allowShared: this.options.allowSharedDir === true,
      trusted: { uids: ids.uid === -1 ? [] : [ids.uid], gids: ids.gid === -1 ? [] : [ids.gid] },
      component: `files deployer "${this.id}"`,
      allowSharedField: `deployers.${this.id}.allowSharedDir`,
      createModeField: `deployers.${this.id}.dirMode`,
      errorCode: 'ERR_DEPLOY_FILES',
    };
  }

  /** Creates an exclusive, private (0700) `..<timestamp>-v<N>` directory and keeps it open. */
  private async makeVersionDir(d: DirHandle, version: number): Promise<{ name: string; handle: DirHandle }> {
    const stamp = (this.options.clock?.now() ?? new Date()).toISOString().replace(/:/g, '-');
    for (let attempt = 0; ; attempt++) {
      const name = `..${stamp}-v${version}${attempt ? `-${attempt}` : ''}`;
      await this.step(`mkdir ${name}`);
      try {
        return { name, handle: await d.mkdir(name, 0o700) };
      } catch (err) {
        if (isErrno(err, 'EEXIST') && attempt < 100) continue;
        throw this.ioError(`creating ${join(this.options.dir, name)}`, err);
      }
    }
  }

  private async step(label: string): Promise<void> {
    await this.options.faults?.(label);
  }

  /** The version directory `..data` points at, or undefined. */
  private async readDataLink(d: DirHandle): Promise<string | undefined> {
    try {
      const target = await d.readlink(DATA_LINK);
      return VERSION_NAME.test(target) ? target : undefined;
    } catch (err) {
      if (isErrno(err, 'ENOENT') || isErrno(err, 'EINVAL')) return undefined;
      throw this.ioError(`reading ${join(this.options.dir, DATA_LINK)}`, err);
    }
  }

  /** True when the version directory holds exactly `planned`: same names, bytes, modes and owner. */
  private async versionMatches(d: DirHandle, version: string, planned: PlannedFile[], ids: Ids): Promise<boolean> {
    let v: DirHandle;
    try {
      v = await d.openDir(version);
    } catch (err) {
      if (isErrno(err, 'ENOENT') || isErrno(err, 'ENOTDIR') || isErrno(err, 'ELOOP')) return false;
      throw this.ioError(`reading ${join(this.options.dir, version)}`, err);
    }
    try {
      const dirStat = await v.stat();
      if ((dirStat.mode & 0o7777) !== this.options.dirMode || !ownedAs(dirStat, ids)) return false;
      const entries = (await v.readdir()).sort();
      if (entries.join('\0') !== planned.map((f) => f.name).sort().join('\0')) return false;
      for (const file of planned) if (!(await regularFileMatches(v, file.name, file, ids))) return false;
      return true;
    } finally {
      await v.close();
    }
  }

  /** True when every name is a link into `..data` and no link to a name no longer configured remains. */
  private async linksMatch(d: DirHandle, names: readonly string[]): Promise<boolean> {
    for (const name of names) if (!(await this.isDataLink(d, name))) return false;
    return (await this.staleLinks(d, names)).length === 0;
  }

  private async isDataLink(d: DirHandle, name: string): Promise<boolean> {
    try {
      return (await d.readlink(name)) === `${DATA_LINK}/${name}`;
    } catch {
      return false;
    }
  }

  /** Links into `..data` whose names are not in `names` (a file removed from the configuration). */
  private async staleLinks(d: DirHandle, names: readonly string[]): Promise<string[]> {
    const stale: string[] = [];
    for (const entry of await d.readdir()) {
      if (names.includes(entry) || entry.startsWith('..')) continue;
      const target = await d.readlink(entry).catch(() => '');
      if (target.startsWith(`${DATA_LINK}/`)) stale.push(entry);
    }
    return stale;
  }

  /** True when every planned file is already a regular file with the same bytes, mode and owner. */
  private async plainMatches(d: DirHandle, planned: PlannedFile[], ids: Ids): Promise<boolean> {
    for (const file of planned) {
      try {
        if (!(await regularFileMatches(d, file.name, file, ids))) return false;
      } catch (err) {
        throw this.ioError(`reading ${join(this.options.dir, file.name)}`, err);
      }
    }
    return (await this.staleLinks(d, planned.map((f) => f.name))).length === 0;
  }

  /** The owners a version directory of ours can have: the user we run as, and the configured owner. */
  private ownUids(ids: Ids): number[] {
    const euid = process.geteuid?.() ?? -1;
    return ids.uid === -1 || ids.uid === euid ? [euid] : [euid, ids.uid];
  }

  /**
   * Removes version directories other than `keep` and what a crashed deploy left. Only names of
   * the exact `..<time>-v<N>` pattern, owned by us (or the configured owner), holding no
   * subdirectory are removed, entry by entry through a descriptor ({@link DirHandle.removeOwnedDir}):
   * no tree is walked by path, so a directory planted or changed by someone else is left alone.
   */
  private async prune(d: DirHandle, keep: string | undefined, ids: Ids): Promise<void> {
    for (const entry of await d.readdir()) {
      if (entry === DATA_TMP || entry === MARKER_TMP || (entry.startsWith('.') && !entry.startsWith('..') && entry.endsWith(TMP_SUFFIX))) {
        const st = await d.lstat(entry).catch(() => undefined);
        if (st && !st.isDirectory()) {
          await this.step(`remove ${entry}`);
          await d.unlink(entry);
        }
        continue;
      }
      if (!VERSION_NAME.test(entry) || entry === keep) continue;
      await this.step(`remove ${entry}`);
      if (!(await d.removeOwnedDir(entry, this.ownUids(ids)))) {
        this.options.logger?.warn({ deployer: this.id, dir: this.options.dir, entry }, 'files: left a version directory that is not ours or holds a subdirectory');
      }
    }
  }

  private async removeTemps(d: DirHandle): Promise<void> {
    for (const entry of await d.readdir()) {
      if (entry.startsWith('.') && !entry.startsWith('..') && entry.endsWith(TMP_SUFFIX)) await d.unlink(entry);
    }
  }

  /** Sets a link's owner; only ever called on links inside our private version directory. */
  private async chownLink(v: DirHandle, name: string, ids: Ids): Promise<void> {
    if (ids.uid !== -1 || ids.gid !== -1) await fs.lchown(v.at(name), ids.uid, ids.gid);
  }

  /** The uid/gid to give the files (-1: leave as created), resolved once through NSS (`getent`). */
  private resolveIds(): Promise<Ids> {
    this.ids ??= (async () => ({
      uid: await this.resolveId('passwd', this.options.owner),
      gid: await this.resolveId('group', this.options.group),
    }))();
    // A failed lookup (a user added later) is tried again on the next deploy.
    this.ids.catch(() => {
      this.ids = undefined;
    });
    return this.ids;
  }

  private async resolveId(database: 'passwd' | 'group', value: string | number | undefined): Promise<number> {
    if (value === undefined) return -1;
    if (typeof value === 'number') return value;
    const what = database === 'passwd' ? 'user' : 'group';
    let id: number | undefined;
    try {
      id = await lookupId(database, value);
    } catch (err) {
      // Not "not found" (that is undefined): no getent, or it failed; reported with its cause.
      throw this.error('ERR_DEPLOY_FILES', `cannot look up ${what} "${value}" with getent`, err);
    }
    if (id === undefined) throw this.error('ERR_DEPLOY_OWNER_UNKNOWN', `no ${what} named "${value}" on this machine`);
    return id;
  }

  private error(code: 'ERR_DEPLOY_FILES' | 'ERR_DEPLOY_OWNER_UNKNOWN', why: string, cause?: unknown): CertpilotError {
    return new CertpilotError(code, `files deployer "${this.id}": ${why}`, { cause });
  }

  private ioError(what: string, cause: unknown): CertpilotError {
    if (cause instanceof CertpilotError) return cause;
    const code = (cause as NodeJS.ErrnoException | undefined)?.code;
    const why = code ?? (cause instanceof Error ? cause.message : String(cause));
    // The hint fits the cause: a full volume is not a permissions problem.
    const hint =
      code === 'ENOSPC' || code === 'EDQUOT'
        ? `The volume of the deployer's \`dir\` is full (${code}): free space there (or raise the quota), then run \`certpilot deploy\`; what was live stays live, nothing half-written is kept.`
        : code === 'EROFS'
          ? `The deployer's \`dir\` is on a read-only file system: point the deployer's \`dir\` at a writable volume.`
          : undefined;
    return new CertpilotError('ERR_DEPLOY_FILES', `files deployer "${this.id}": ${what} failed: ${why}`, {
      cause,
      retryable: isTransientErrno(code),
      ...(hint ? { hint } : {}),
    });
  }
}

async function regularFileMatches(d: DirHandle, name: string, file: PlannedFile, ids: Ids): Promise<boolean> {
  const read = await d.readRegularFile(name);
  if (read === undefined) return false;
  const { stat, data } = read;
  if ((stat.mode & 0o7777) !== file.mode || !ownedAs(stat, ids) || stat.size !== file.data.length) return false;
  return data.equals(file.data);
}

function ownedAs(stat: { uid: number; gid: number }, ids: Ids): boolean {
  return (ids.uid === -1 || stat.uid === ids.uid) && (ids.gid === -1 || stat.gid === ids.gid);
}
