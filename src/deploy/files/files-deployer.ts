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
 */
import { execFile } from 'node:child_process';
import { constants, promises as fs } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Clock } from '../../clock.js';
import { CertpilotError } from '../../errors.js';
import type { Logger } from '../../logger.js';
import { hasErrno as isErrno, isTransientErrno, type WriteFaultHook } from '../../storage/filesystem/atomic-write.js';
import type { StoredCertificate } from '../../storage/certificate-store.js';
import type { DeployOptions, DeployResult, Deployer } from '../deployer.js';
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
const TMP_SUFFIX = '.certpilot-tmp';
const run = promisify(execFile);

/** Writes a certificate's files into a directory, switched atomically (see the module comment). */
export class FilesDeployer implements Deployer {
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
    const dir = this.options.dir.split(NAME_PLACEHOLDER).join(certificate.name);
    // Two certificates in one directory would overwrite (and prune) each other on every run.
    const holder = this.dirHolders.get(dir);
    if (holder !== undefined && holder !== certificate.name) {
      throw new CertpilotError('ERR_DEPLOY_FILES', `files deployer "${this.id}": ${dir} already holds certificate "${holder}", so it cannot hold "${certificate.name}" too`, {
        hint: `Put ${NAME_PLACEHOLDER} in the deployer's dir (e.g. /certs/${NAME_PLACEHOLDER}), or give each certificate its own files deployer.`,
      });
    }
    this.dirHolders.set(dir, certificate.name);
    if (dir !== this.options.dir) {
      let target = this.targets.get(dir);
      if (!target) {
        target = new FilesDeployer({ ...this.options, dir });
        target.ids = this.resolveIds();
        this.targets.set(dir, target);
      }
      return target.deploy(certificate, options);
    }
    const planned = this.plan(certificate);
    const ids = await this.resolveIds();
    await this.ensureTargetDir(ids);
    options.signal?.throwIfAborted();
    return this.options.layout === 'atomic' ? this.deployAtomic(certificate, planned, ids, options.signal) : this.deployPlain(certificate, planned, ids, options.signal);
  }

  private plan(certificate: StoredCertificate): PlannedFile[] {
    return this.options.files.map((f) => ({
      name: f.name,
      data: renderFile(f.parts, certificate),
      mode: f.parts.includes('key') ? this.options.keyMode : this.options.certMode,
    }));
  }

  private async deployAtomic(certificate: StoredCertificate, planned: PlannedFile[], ids: Ids, signal: AbortSignal | undefined): Promise<DeployResult> {
    const { dir } = this.options;
    const names = planned.map((f) => f.name);
    const current = await this.readDataLink();
    if (current !== undefined && (await this.versionMatches(join(dir, current), planned, ids)) && (await this.linksMatch(names))) {
      await this.prune(current);
      return this.unchanged(certificate, planned, current);
    }

    // 1. The new version, complete and durable, beside the live one.
    const version = await this.makeVersionDir(certificate.version, ids);
    const versionDir = join(dir, version);
    try {
      for (const file of planned) await this.writeFile(join(versionDir, file.name), `${version}/${file.name}`, file, ids);
      await this.syncDir(versionDir, version);
      await this.syncDir(dir, '.');
      signal?.throwIfAborted();

      // 2. The switch: one rename() of a temporary link over ..data.
      await this.step(`symlink ${DATA_TMP}`);
      await fs.rm(join(dir, DATA_TMP), { force: true });
      await fs.symlink(version, join(dir, DATA_TMP));
      await this.chownLink(join(dir, DATA_TMP), ids);
      await this.step(`rename ${DATA_LINK}`);
      await fs.rename(join(dir, DATA_TMP), join(dir, DATA_LINK));
    } catch (err) {
      await fs.rm(versionDir, { recursive: true, force: true }).catch(() => undefined);
      await fs.rm(join(dir, DATA_TMP), { force: true }).catch(() => undefined);
      if (signal?.aborted && err === signal.reason) throw err;
      throw this.ioError(`writing version ${certificate.version} into ${dir}`, err);
    }
    try {
      await this.syncDir(dir, '.');
      // 3. The visible names: links through ..data (new names only; existing links already follow the switch).
      let added = false;
      for (const name of names) {
        if (await this.isDataLink(name)) continue;
        const tmp = join(dir, `.${name}${TMP_SUFFIX}`);
        await this.step(`symlink ${name}`);
        await fs.rm(tmp, { force: true });
        await fs.symlink(`${DATA_LINK}/${name}`, tmp);
        await this.chownLink(tmp, ids);
        await this.step(`rename ${name}`);
        await fs.rename(tmp, join(dir, name));
        added = true;
      }
      // 4. Links to names no longer configured, then the older versions.
      for (const stale of await this.staleLinks(names)) {
        await this.step(`unlink ${stale}`);
        await fs.rm(join(dir, stale), { force: true });
        added = true;
      }
      if (added) await this.syncDir(dir, '.');
      await this.prune(version);
    } catch (err) {
      throw this.ioError(`linking version ${certificate.version} in ${dir}`, err);
    }
    this.options.logger?.info({ dir, version: certificate.version, files: names }, 'files: deployed');
    return {
      message: `wrote ${planned.length} files to ${dir} (version ${certificate.version}, atomic layout)`,
      details: { dir, layout: 'atomic', files: names, versionDir: version, unchanged: false },
    };
  }

  private async deployPlain(certificate: StoredCertificate, planned: PlannedFile[], ids: Ids, signal: AbortSignal | undefined): Promise<DeployResult> {
    const { dir } = this.options;
    const names = planned.map((f) => f.name);
    await this.removeTemps();
    if (await this.plainMatches(planned, ids)) {
      await this.prune(undefined);
      return this.unchanged(certificate, planned, undefined);
    }
    // Every temporary file complete and durable first, so the renames below are one short burst.
    const temps: string[] = [];
    try {
      for (const file of planned) {
        const tmp = join(dir, `.${file.name}${TMP_SUFFIX}`);
        temps.push(tmp);
        await this.writeFile(tmp, `.${file.name}${TMP_SUFFIX}`, file, ids);
      }
      signal?.throwIfAborted();
      for (const file of planned) {
        await this.step(`rename ${file.name}`);
        await fs.rename(join(dir, `.${file.name}${TMP_SUFFIX}`), join(dir, file.name));
      }
      await this.syncDir(dir, '.');
    } catch (err) {
      for (const tmp of temps) await fs.rm(tmp, { force: true }).catch(() => undefined);
      if (signal?.aborted && err === signal.reason) throw err;
      throw this.ioError(`writing version ${certificate.version} into ${dir}`, err);
    }
    try {
      // Leaving the atomic layout: its links and versions go.
      for (const stale of await this.staleLinks(names)) {
        await this.step(`unlink ${stale}`);
        await fs.rm(join(dir, stale), { force: true });
      }
      await this.step(`unlink ${DATA_LINK}`);
      await fs.rm(join(dir, DATA_LINK), { force: true });
      await this.prune(undefined);
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

  /** Creates an exclusive `..<timestamp>-v<N>` directory with the configured mode and owner. */
  private async makeVersionDir(version: number, ids: Ids): Promise<string> {
    const stamp = (this.options.clock?.now() ?? new Date()).toISOString().replace(/:/g, '-');
    for (let attempt = 0; ; attempt++) {
      const name = `..${stamp}-v${version}${attempt ? `-${attempt}` : ''}`;
      await this.step(`mkdir ${name}`);
      try {
        await fs.mkdir(join(this.options.dir, name), { mode: this.options.dirMode });
      } catch (err) {
        if (isErrno(err, 'EEXIST') && attempt < 100) continue;
        throw this.ioError(`creating ${join(this.options.dir, name)}`, err);
      }
      const path = join(this.options.dir, name);
      await fs.chmod(path, this.options.dirMode);
      if (ids.uid !== -1 || ids.gid !== -1) await fs.chown(path, ids.uid, ids.gid);
      return name;
    }
  }

  /** Writes one file exclusively with its final mode and owner set before any byte, then fsyncs it. */
  private async writeFile(path: string, label: string, file: PlannedFile, ids: Ids): Promise<void> {
    await this.step(`write ${label}`);
    await fs.rm(path, { force: true });
    const handle = await fs.open(path, 'wx', file.mode);
    try {
      await handle.chmod(file.mode);
      if (ids.uid !== -1 || ids.gid !== -1) await handle.chown(ids.uid, ids.gid);
      await handle.writeFile(file.data);
      await this.step(`fsync ${label}`);
      await handle.sync();
    } finally {
      await handle.close();
    }
  }

  private async syncDir(path: string, label: string): Promise<void> {
    await this.step(`fsync-dir ${label}`);
    const handle = await fs.open(path, constants.O_RDONLY | constants.O_DIRECTORY);
    try {
      await handle.sync();
    } catch (err) {
      // Some file systems refuse fsync on directories; rename() is still atomic there.
      if (!isErrno(err, 'EINVAL') && !isErrno(err, 'EPERM')) throw err;
    } finally {
      await handle.close();
    }
  }

  private async step(label: string): Promise<void> {
    await this.options.faults?.(label);
  }

  /** The version directory `..data` points at, or undefined. */
  private async readDataLink(): Promise<string | undefined> {
    try {
      const target = await fs.readlink(join(this.options.dir, DATA_LINK));
      return /^\.\.[^/]+$/.test(target) && target !== DATA_LINK && target !== DATA_TMP ? target : undefined;
    } catch (err) {
      if (isErrno(err, 'ENOENT') || isErrno(err, 'EINVAL')) return undefined;
      throw this.ioError(`reading ${join(this.options.dir, DATA_LINK)}`, err);
    }
  }

  /** True when `versionDir` holds exactly `planned`: same names, bytes, modes and owner. */
  private async versionMatches(versionDir: string, planned: PlannedFile[], ids: Ids): Promise<boolean> {
    try {
      const dirStat = await fs.stat(versionDir);
      if ((dirStat.mode & 0o7777) !== this.options.dirMode || !ownedAs(dirStat, ids)) return false;
      const entries = (await fs.readdir(versionDir)).sort();
      if (entries.join('\0') !== planned.map((f) => f.name).sort().join('\0')) return false;
      for (const file of planned) if (!(await regularFileMatches(join(versionDir, file.name), file, ids))) return false;
      return true;
    } catch (err) {
      if (isErrno(err, 'ENOENT') || isErrno(err, 'ENOTDIR')) return false;
      throw this.ioError(`reading ${versionDir}`, err);
    }
  }

  /** True when every name is a link into `..data` and no link to a name no longer configured remains. */
  private async linksMatch(names: readonly string[]): Promise<boolean> {
    for (const name of names) if (!(await this.isDataLink(name))) return false;
    return (await this.staleLinks(names)).length === 0;
  }

  private async isDataLink(name: string): Promise<boolean> {
    try {
      return (await fs.readlink(join(this.options.dir, name))) === `${DATA_LINK}/${name}`;
    } catch {
      return false;
    }
  }

  /** Links into `..data` whose names are not in `names` (a file removed from the configuration). */
  private async staleLinks(names: readonly string[]): Promise<string[]> {
    const stale: string[] = [];
    for (const entry of await fs.readdir(this.options.dir, { withFileTypes: true })) {
      if (!entry.isSymbolicLink() || names.includes(entry.name) || entry.name.startsWith('..')) continue;
      const target = await fs.readlink(join(this.options.dir, entry.name)).catch(() => '');
      if (target.startsWith(`${DATA_LINK}/`)) stale.push(entry.name);
    }
    return stale;
  }

  /** True when every planned file is already a regular file with the same bytes, mode and owner. */
  private async plainMatches(planned: PlannedFile[], ids: Ids): Promise<boolean> {
    for (const file of planned) {
      try {
        if (!(await regularFileMatches(join(this.options.dir, file.name), file, ids))) return false;
      } catch (err) {
        if (isErrno(err, 'ENOENT')) return false;
        throw this.ioError(`reading ${join(this.options.dir, file.name)}`, err);
      }
    }
    return (await this.staleLinks(planned.map((f) => f.name))).length === 0;
  }

  /** Removes `..*` version directories other than `keep`, and what a crashed deploy left. */
  private async prune(keep: string | undefined): Promise<void> {
    const { dir } = this.options;
    for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
      const leftover = entry.name === DATA_TMP || (entry.name.startsWith('.') && entry.name.endsWith(TMP_SUFFIX));
      const oldVersion = entry.isDirectory() && entry.name.startsWith('..') && entry.name !== keep;
      if (!leftover && !oldVersion) continue;
      await this.step(`remove ${entry.name}`);
      await fs.rm(join(dir, entry.name), { recursive: true, force: true });
    }
  }

  private async removeTemps(): Promise<void> {
    for (const entry of await fs.readdir(this.options.dir)) {
      if (entry.startsWith('.') && entry.endsWith(TMP_SUFFIX)) await fs.rm(join(this.options.dir, entry), { force: true });
    }
  }

  private async ensureTargetDir(ids: Ids): Promise<void> {
    const { dir, dirMode } = this.options;
    try {
      const created = await fs.mkdir(dir, { recursive: true, mode: dirMode });
      if (created !== undefined) {
        await fs.chmod(dir, dirMode);
        if (ids.uid !== -1 || ids.gid !== -1) await fs.chown(dir, ids.uid, ids.gid);
      }
      if (!(await fs.stat(dir)).isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
    } catch (err) {
      throw this.ioError(`preparing ${dir}`, err);
    }
  }

  private async chownLink(path: string, ids: Ids): Promise<void> {
    if (ids.uid !== -1 || ids.gid !== -1) await fs.lchown(path, ids.uid, ids.gid);
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
    let line = '';
    try {
      line = (await run('getent', [database, value], { encoding: 'utf8' })).stdout.trim();
    } catch (err) {
      // getent exits 2 for "not found"; anything else (no getent) is reported with its cause.
      if ((err as { code?: unknown }).code !== 2) throw this.error('ERR_DEPLOY_FILES', `cannot look up ${what} "${value}" with getent`, err);
    }
    const id = Number(line.split(':')[2]);
    if (!line || !Number.isInteger(id)) {
      throw this.error('ERR_DEPLOY_OWNER_UNKNOWN', `no ${what} named "${value}" on this machine`);
    }
    return id;
  }

  private error(code: 'ERR_DEPLOY_FILES' | 'ERR_DEPLOY_OWNER_UNKNOWN', why: string, cause?: unknown): CertpilotError {
    return new CertpilotError(code, `files deployer "${this.id}": ${why}`, { cause });
  }

  private ioError(what: string, cause: unknown): CertpilotError {
    if (cause instanceof CertpilotError) return cause;
    const code = (cause as NodeJS.ErrnoException | undefined)?.code;
    const why = code ?? (cause instanceof Error ? cause.message : String(cause));
    return new CertpilotError('ERR_DEPLOY_FILES', `files deployer "${this.id}": ${what} failed: ${why}`, {
      cause,
      retryable: isTransientErrno(code),
    });
  }
}

async function regularFileMatches(path: string, file: PlannedFile, ids: Ids): Promise<boolean> {
  const stat = await fs.lstat(path);
  if (!stat.isFile() || (stat.mode & 0o7777) !== file.mode || !ownedAs(stat, ids) || stat.size !== file.data.length) return false;
  return (await fs.readFile(path)).equals(file.data);
}

function ownedAs(stat: { uid: number; gid: number }, ids: Ids): boolean {
  return (ids.uid === -1 || stat.uid === ids.uid) && (ids.gid === -1 || stat.gid === ids.gid);
}
