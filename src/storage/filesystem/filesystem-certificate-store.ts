/**
 * The filesystem implementation of the storage seams, in certbot's `live/` + `archive/` layout so
 * that server configurations written for certbot keep working.
 */
// node:crypto is loaded only to save or to read a certbot directory: a nothing-due run needs neither.
import type * as NodeCryptoModule from 'node:crypto';
type NodeCrypto = typeof NodeCryptoModule;
import { promises as fs } from 'node:fs';
import type { Dirent, Stats } from 'node:fs';
import { join, resolve } from 'node:path';
import { CertpilotError } from '../../errors.js';
import { silentLogger } from '../../logger.js';
import type { Logger } from '../../logger.js';
import { EMPTY_RENEWAL_STATE } from '../certificate-store.js';
import type {
  AccountStore,
  CertificateBundle,
  CertificatePaths,
  CertificateStore,
  CertificateVersionList,
  IssuanceMetadata,
  PendingOrder,
  PendingOrderStore,
  RenewalState,
  RenewalStateStore,
  StoredAccount,
  StoredCertificate,
} from '../certificate-store.js';
import { atomicWrite, ensureDir, fsyncDir, hasErrno, ioError, isTmpSibling, setAside as setAsideFile } from './atomic-write.js';
import type { WriteFaultHook } from './atomic-write.js';
import { directoryFolderName, safeName, unsafeNameReason } from './safe-name.js';

export type { WriteFaultHook } from './atomic-write.js';

/** Options of {@link FilesystemCertificateStore}. */
export interface FilesystemCertificateStoreOptions {
  /** The state directory (certbot's `/etc/letsencrypt` equivalent); created 0700 when missing. */
  stateDir: string;
  logger?: Logger;
  /** Test hook called before each durable step of a write (see {@link WriteFaultHook}). */
  faults?: WriteFaultHook;
}

/** The four PEM files of a set, in the order certbot lists them. */
const PEM_FILES = ['cert', 'chain', 'fullchain', 'privkey'] as const;
type PemFile = (typeof PEM_FILES)[number];

const BUNDLE_FIELD: Record<PemFile, 'certPem' | 'chainPem' | 'fullchainPem' | 'privateKeyPem'> = {
  cert: 'certPem',
  chain: 'chainPem',
  fullchain: 'fullchainPem',
  privkey: 'privateKeyPem',
};

const ARCHIVE_ENTRY = /^(?:cert|chain|fullchain|privkey|meta)(\d+)\.(?:pem|json)$/;

const README = `This directory holds your current certificate, kept up to date by certpilot.

\`privkey.pem\`  : the private key for your certificate.
\`fullchain.pem\`: the certificate file used in most server software.
\`chain.pem\`    : used for OCSP stapling in Nginx >=1.3.7.
\`cert.pem\`     : will break many server configurations, and should not be used
                 without reading further documentation.

Point your server at these paths; do not move or rename them. They are symbolic links into
../../archive/<name>/, which keeps every version.
`;

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Where a name's live set currently is: the real directory holding the four links. */
interface LiveLocation {
  /** Absolute path of the directory holding cert.pem etc. */
  dir: string;
  /** How it was found: our versioned directory, a certbot directory, or one set aside mid-migration. */
  kind: 'versioned' | 'legacy' | 'legacy-aside';
}

/**
 * Certificates, renewal state and ACME accounts on the local file system.
 *
 * Layout under `stateDir` (directories 0700, private keys 0600):
 * ```
 * archive/<name>/{cert,chain,fullchain,privkey}N.pem   every version, N = 1, 2, … (never deleted)
 * archive/<name>/metaN.json                            IssuanceMetadata of version N
 * live/<name> -> .<name>.vN                            symlink: the one atomic switch
 * live/.<name>.vN/{cert,chain,fullchain,privkey}.pem   -> ../../archive/<name>/…N.pem
 * live/.<name>.vN/README
 * renewal-state/<name>.json                            RenewalState
 * accounts/<host_port_path>/account.json               url, contact, createdAt, directoryUrl
 * accounts/<host_port_path>/private_key.pem            the account key
 * ```
 * Users keep reading `live/<name>/fullchain.pem` and `live/<name>/privkey.pem`, as with certbot.
 *
 * Crash safety: certbot swaps four symlinks one by one, so a crash between two of them leaves a key
 * that does not match its certificate. Here a save (1) writes the archive files N, each through
 * {@link atomicWrite}; (2) builds a fresh directory `live/.<name>.vN` holding the four relative
 * links and the README and fsyncs it; (3) points a temporary symlink at that directory and
 * `rename()`s it over `live/<name>` — the single atomic step that makes N live — then fsyncs
 * `live/`; (4) removes older `live/.<name>.v*` directories. Before (3) the old set is live, after it
 * the new one; readers resolve `live/<name>` once per path lookup, so they never see a mix. `load`
 * resolves the link once and reads the version it points at.
 *
 * Leftovers of an interrupted save (archive files N or a `.<name>.vN` directory that never went
 * live, temporary files) are never loaded: the next save skips every number already present, and
 * removes temporary files and stale version directories.
 *
 * A certbot directory (`live/<name>/` as a real directory of links) is loaded as is; the first save
 * renames it aside to `live/.<name>.legacy` right before the switch, continuing certbot's version
 * numbers. rename(2) cannot replace a non-empty directory, so this one-time migration has a
 * window of microseconds without `live/<name>`; if a crash falls into it, the next `load` renames
 * the set-aside directory (still the old set) back into place. Metadata of certbot versions is derived from the
 * certificate by `../certificate-facts.ts` (the ARI id included; `directoryUrl` and `accountUrl`
 * empty), the same reading `certpilot import certbot` does.
 */
export class FilesystemCertificateStore implements CertificateStore, CertificateVersionList, RenewalStateStore, AccountStore, PendingOrderStore {
  /** Absolute path of the state directory. */
  readonly stateDir: string;
  private readonly logger: Logger;
  private readonly faults: WriteFaultHook | undefined;

  constructor(options: FilesystemCertificateStoreOptions) {
    this.stateDir = resolve(options.stateDir);
    this.logger = options.logger ?? silentLogger;
    this.faults = options.faults;
  }

  /** The paths users point their servers at for `name` (they exist once it was saved). */
  pathsFor(name: string): CertificatePaths {
    const dir = join(this.stateDir, 'live', safeName(name));
    return {
      dir,
      cert: join(dir, 'cert.pem'),
      chain: join(dir, 'chain.pem'),
      fullchain: join(dir, 'fullchain.pem'),
      privkey: join(dir, 'privkey.pem'),
    };
  }

  /** Loads the live version of `name`, or `undefined` when it was never saved. */
  async load(name: string): Promise<StoredCertificate | undefined> {
    const safe = safeName(name);
    // A concurrent save may remove the version directory we just resolved; resolve again then.
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.loadOnce(safe);
      } catch (err) {
        if (attempt < 3 && hasErrno(err, 'ENOENT')) continue;
        if (err instanceof CertpilotError) throw err;
        throw ioError(`loading certificate ${safe}`, err);
      }
    }
  }

  /** Saves a new version of `name` and makes it live, all or nothing (see the class comment). */
  async save(name: string, bundle: CertificateBundle): Promise<StoredCertificate> {
    const safe = safeName(name);
    checkBundle(safe, bundle, await import('node:crypto'));
    const faults = this.faults;
    const liveRoot = join(this.stateDir, 'live');
    const archiveDir = join(this.stateDir, 'archive', safe);
    await ensureDir(archiveDir, faults, `archive/${safe}`);
    await ensureDir(liveRoot, faults, 'live');
    await this.removeTmpFiles(archiveDir, `archive/${safe}`);

    const version = await this.nextVersion(safe);
    try {
      return await this.writeVersion(safe, version, bundle, archiveDir, liveRoot);
    } catch (err) {
      // Nothing of a version that never went live may stay behind (a full disk must not leave a
      // half-written cert2.pem that a later run would trip over).
      if ((await this.locateLiveVersion(safe)) !== version) await this.removeVersion(safe, version, archiveDir, liveRoot);
      throw err;
    }
  }

  private async writeVersion(safe: string, version: number, bundle: CertificateBundle, archiveDir: string, liveRoot: string): Promise<StoredCertificate> {
    const faults = this.faults;
    for (const file of PEM_FILES) {
      await atomicWrite(join(archiveDir, `${file}${version}.pem`), bundle[BUNDLE_FIELD[file]], {
        mode: file === 'privkey' ? 0o600 : 0o644,
        faults,
        label: `archive/${safe}/${file}${version}.pem`,
      });
    }
    await atomicWrite(join(archiveDir, `meta${version}.json`), `${JSON.stringify(bundle.metadata, null, 2)}\n`, {
      mode: 0o644,
      faults,
      label: `archive/${safe}/meta${version}.json`,
    });

    const versionName = `.${safe}.v${version}`;
    const versionDir = join(liveRoot, versionName);
    try {
      await faults?.(`mkdir live/${versionName}`);
      await fs.mkdir(versionDir, { mode: 0o700 });
      for (const file of PEM_FILES) {
        await faults?.(`symlink live/${versionName}/${file}.pem`);
        await fs.symlink(`../../archive/${safe}/${file}${version}.pem`, join(versionDir, `${file}.pem`));
      }
    } catch (err) {
      if (err instanceof CertpilotError) throw err;
      throw ioError(`building ${versionDir}`, err);
    }
    await atomicWrite(join(versionDir, 'README'), README, { mode: 0o644, faults, label: `live/${versionName}/README` });
    await fsyncDir(liveRoot, faults, 'live');

    const link = join(liveRoot, safe);
    const tmpLink = join(liveRoot, `.${safe}.link.tmp`);
    try {
      const current = await lstatOrUndefined(link);
      if (current?.isDirectory()) {
        // A certbot directory cannot be replaced by rename(2); set it aside, then switch at once.
        const aside = join(liveRoot, `.${safe}.legacy`);
        await fs.rm(aside, { recursive: true, force: true });
        await faults?.(`rename live/${safe} live/.${safe}.legacy`);
        await fs.rename(link, aside);
        this.logger.info({ name: safe }, 'storage: replacing the certbot live directory with a versioned link');
      }
      await fs.rm(tmpLink, { force: true });
      await faults?.(`symlink live/.${safe}.link.tmp`);
      await fs.symlink(versionName, tmpLink);
      await faults?.(`rename live/${safe}`);
      await fs.rename(tmpLink, link);
    } catch (err) {
      if (err instanceof CertpilotError) throw err;
      throw ioError(`switching live/${safe} to version ${version}`, err);
    }
    await fsyncDir(liveRoot, faults, 'live');
    this.logger.debug({ name: safe, version }, 'storage: saved certificate version');

    await this.removeStaleLiveEntries(safe, versionName);
    return { ...structuredClone(bundle), name: safe, version, paths: this.pathsFor(safe) };
  }

  /** The version `live/<safe>` points at now, if any. */
  private async locateLiveVersion(safe: string): Promise<number | undefined> {
    const target = await fs.readlink(join(this.stateDir, 'live', safe)).catch(() => undefined);
    const m = target === undefined ? null : new RegExp(`^\\.${escapeRegExp(safe)}\\.v(\\d+)$`).exec(target);
    return m?.[1] === undefined ? undefined : Number(m[1]);
  }

  /** Removes every file of a version that did not go live (best effort; warns on failure). */
  private async removeVersion(safe: string, version: number, archiveDir: string, liveRoot: string): Promise<void> {
    const targets = [
      ...[...PEM_FILES.map((f) => `${f}${version}.pem`), `meta${version}.json`].map((f) => join(archiveDir, f)),
      join(liveRoot, `.${safe}.v${version}`),
      join(liveRoot, `.${safe}.link.tmp`),
    ];
    for (const target of targets) {
      await fs.rm(target, { recursive: true, force: true }).catch((err: unknown) =>
        this.logger.warn({ name: safe, target, code: (err as NodeJS.ErrnoException).code }, 'storage: could not remove a leftover of a failed save'),
      );
    }
    await this.removeTmpFiles(archiveDir, `archive/${safe}`).catch(() => undefined);
  }

  /** The versions kept in `archive/<name>/` with all four files, up to the live one (see {@link CertificateVersionList}). */
  async listVersions(name: string): Promise<number[]> {
    const safe = safeName(name);
    const location = await this.locateLive(safe);
    if (location === undefined) return [];
    const target = await readlinkOrUndefined(join(location.dir, 'cert.pem')).catch(() => undefined);
    const live = Number(/cert(\d+)\.pem$/.exec(target ?? '')?.[1] ?? NaN);
    const counts = new Map<number, number>();
    for (const entry of await readdirOrEmpty(join(this.stateDir, 'archive', safe))) {
      const m = /^(cert|chain|fullchain|privkey)(\d+)\.pem$/.exec(entry);
      if (m?.[2] !== undefined) counts.set(Number(m[2]), (counts.get(Number(m[2])) ?? 0) + 1);
    }
    return [...counts.entries()]
      .filter(([n, files]) => files === PEM_FILES.length && (Number.isNaN(live) || n <= live))
      .map(([n]) => n)
      .sort((a, b) => a - b);
  }

  /** Names of stored certificates, sorted. */
  async list(): Promise<string[]> {
    let entries: Dirent[];
    try {
      entries = await fs.readdir(join(this.stateDir, 'live'), { withFileTypes: true });
    } catch (err) {
      if (hasErrno(err, 'ENOENT')) return [];
      throw ioError('listing live/', err);
    }
    const names = new Set<string>();
    for (const dirent of entries) {
      const entry = dirent.name;
      // certbot keeps a README file directly in live/; only links and directories are certificates.
      if (!dirent.isSymbolicLink() && !dirent.isDirectory()) continue;
      if (unsafeNameReason(entry) === undefined) names.add(entry);
      // A crash mid-migration leaves only the set-aside certbot directory.
      const aside = /^\.(.+)\.legacy$/.exec(entry)?.[1];
      if (aside !== undefined && unsafeNameReason(aside) === undefined) names.add(aside);
    }
    return [...names].sort();
  }

  /** Loads the renewal state of `name`; absent state reads as {@link EMPTY_RENEWAL_STATE}. */
  async loadState(name: string): Promise<RenewalState> {
    const file = join(this.stateDir, 'renewal-state', `${safeName(name)}.json`);
    const text = await readOrUndefined(file);
    if (text === undefined) return { ...EMPTY_RENEWAL_STATE };
    let state: Partial<RenewalState> | null;
    try {
      state = JSON.parse(text) as Partial<RenewalState> | null;
    } catch {
      state = null;
    }
    if (typeof state !== 'object' || state === null || Array.isArray(state) || typeof state.failureCount !== 'number') {
      // Derived data: set it aside for a human to look at, and start again from nothing.
      await this.setAside(file, 'it is not a renewal state');
      return { ...EMPTY_RENEWAL_STATE };
    }
    return state as RenewalState;
  }

  /** Renames an unreadable derived file to `<file>.corrupt-<time>` (never deletes it) and warns. */
  private async setAside(file: string, why: string): Promise<void> {
    let aside: string | undefined;
    try {
      aside = await setAsideFile(file);
    } catch (err) {
      throw ioError(`setting aside ${file}`, err);
    }
    if (aside === undefined) return;
    this.logger.warn({ file, aside }, `storage: ${file} was unreadable (${why}); set aside as ${aside} and rebuilt`);
  }

  /** Saves the renewal state of `name` atomically. */
  async saveState(name: string, state: RenewalState): Promise<void> {
    const safe = safeName(name);
    const dir = join(this.stateDir, 'renewal-state');
    await ensureDir(dir, this.faults, 'renewal-state');
    await atomicWrite(join(dir, `${safe}.json`), `${JSON.stringify(state, null, 2)}\n`, {
      mode: 0o600,
      faults: this.faults,
      label: `renewal-state/${safe}.json`,
    });
  }

  /** The pending order of `name` (see {@link PendingOrderStore}). */
  async loadPendingOrder(name: string): Promise<PendingOrder | undefined> {
    const dir = join(this.stateDir, 'pending', safeName(name));
    const [text, key] = await Promise.all([readOrUndefined(join(dir, 'order.json')), readOrUndefined(join(dir, 'privkey.pem'))]);
    if (text === undefined) return undefined;
    let order: Partial<PendingOrder> | null = null;
    try {
      order = JSON.parse(text) as Partial<PendingOrder>;
    } catch {
      order = null;
    }
    if (!order || typeof order.orderUrl !== 'string' || !key?.includes('PRIVATE KEY')) {
      await this.setAside(join(dir, 'order.json'), 'it is not a pending order with its key');
      return undefined;
    }
    return { ...(order as PendingOrder), privateKeyPem: key };
  }

  /** Writes the pending order of `name`: the key first (0600), then the record. */
  async savePendingOrder(name: string, order: PendingOrder): Promise<void> {
    const safe = safeName(name);
    const dir = join(this.stateDir, 'pending', safe);
    await ensureDir(join(this.stateDir, 'pending'), this.faults, 'pending');
    await ensureDir(dir, this.faults, `pending/${safe}`);
    await this.removeTmpFiles(dir, `pending/${safe}`);
    const { privateKeyPem, ...record } = order;
    await atomicWrite(join(dir, 'privkey.pem'), privateKeyPem, { mode: 0o600, faults: this.faults, label: `pending/${safe}/privkey.pem` });
    await atomicWrite(join(dir, 'order.json'), `${JSON.stringify(record, null, 2)}\n`, { mode: 0o600, faults: this.faults, label: `pending/${safe}/order.json` });
  }

  /** Removes the pending order of `name`: the record first, so a crash never leaves a record without its key. */
  async clearPendingOrder(name: string): Promise<void> {
    const dir = join(this.stateDir, 'pending', safeName(name));
    try {
      await fs.rm(join(dir, 'order.json'), { force: true });
      await fs.rm(dir, { recursive: true, force: true });
    } catch (err) {
      throw ioError(`removing ${dir}`, err);
    }
  }

  /**
   * Proves a new version fits: creates the certificate's folders and writes, fsyncs and removes a
   * probe as large as a new version with its state (three times the live set, at least 64 KiB).
   */
  async checkWritable(name: string): Promise<void> {
    const safe = safeName(name);
    const archiveDir = join(this.stateDir, 'archive', safe);
    let size = 64 * 1024;
    try {
      const live = this.pathsFor(safe);
      const stats = await Promise.all([live.cert, live.chain, live.fullchain, live.privkey].map((f) => fs.stat(f).then((st) => st.size, () => 0)));
      size = Math.max(size, 3 * stats.reduce((a, b) => a + b, 0));
      await ensureDir(archiveDir, this.faults, `archive/${safe}`);
      await ensureDir(join(this.stateDir, 'live'), this.faults, 'live');
    } catch (err) {
      throw this.notWritable(err);
    }
    const probe = join(archiveDir, `.probe-${process.pid}-${Date.now()}`);
    let handle: fs.FileHandle | undefined;
    try {
      handle = await fs.open(probe, 'wx', 0o600);
      // A full volume may take part of a write without an error: write until all of it is in.
      const block = Buffer.alloc(size);
      for (let done = 0; done < size; ) {
        const { bytesWritten } = await handle.write(block, done, size - done);
        if (bytesWritten === 0) throw Object.assign(new Error('no space left'), { code: 'ENOSPC' });
        done += bytesWritten;
      }
      await handle.sync();
    } catch (err) {
      throw this.notWritable(err);
    } finally {
      await handle?.close().catch(() => undefined);
      await fs.rm(probe, { force: true }).catch(() => undefined);
    }
  }

  private notWritable(err: unknown): CertpilotError {
    if (err instanceof CertpilotError && (err.cause as NodeJS.ErrnoException | undefined)?.code !== 'ENOSPC') return err;
    const code = (err instanceof CertpilotError ? (err.cause as NodeJS.ErrnoException | undefined)?.code : (err as NodeJS.ErrnoException).code) ?? 'error';
    if (code === 'ENOSPC' || code === 'EDQUOT') {
      return new CertpilotError('ERR_STORAGE_FULL', `storage: ${this.stateDir} has no room for a new certificate version (${code}); no order was placed`, { cause: err });
    }
    return err instanceof CertpilotError ? err : ioError(`preparing ${this.stateDir} for a new version (no order was placed)`, err);
  }

  /** Loads the account stored for `directoryUrl`, or `undefined` when there is none. */
  async loadAccount(directoryUrl: string): Promise<StoredAccount | undefined> {
    const dir = join(this.stateDir, 'accounts', directoryFolderName(directoryUrl));
    const file = join(dir, 'account.json');
    const text = await readOrUndefined(file);
    if (text === undefined) return undefined;
    const data = parseJson(file, text) as Partial<StoredAccount> | null;
    if (typeof data !== 'object' || data === null || typeof data.createdAt !== 'string') {
      throw new CertpilotError('ERR_STORAGE_CORRUPT', `storage: reading ${file} failed: it is not an account record`);
    }
    const keyFile = join(dir, 'private_key.pem');
    const privateKeyPem = await readOrUndefined(keyFile);
    if (privateKeyPem === undefined) {
      throw new CertpilotError('ERR_STORAGE_CORRUPT', `storage: reading ${keyFile} failed: the account key is missing`);
    }
    const account: StoredAccount = { directoryUrl, privateKeyPem, createdAt: data.createdAt };
    const nextPrivateKeyPem = await readOrUndefined(join(dir, 'private_key.next.pem'));
    if (nextPrivateKeyPem !== undefined) account.nextPrivateKeyPem = nextPrivateKeyPem;
    if (typeof data.url === 'string') account.url = data.url;
    if (Array.isArray(data.contact)) account.contact = data.contact.filter((c): c is string => typeof c === 'string');
    return account;
  }

  /** Saves an account: the key first (0600), then the record that makes it visible to `loadAccount`. */
  async saveAccount(account: StoredAccount): Promise<void> {
    const folder = directoryFolderName(account.directoryUrl);
    const dir = join(this.stateDir, 'accounts', folder);
    await ensureDir(dir, this.faults, `accounts/${folder}`);
    // A crashed earlier save may have left a temporary copy of a key: never let it linger.
    await this.removeTmpFiles(dir, `accounts/${folder}`);
    const nextKeyFile = join(dir, 'private_key.next.pem');
    if (account.nextPrivateKeyPem !== undefined) {
      await atomicWrite(nextKeyFile, account.nextPrivateKeyPem, { mode: 0o600, faults: this.faults, label: `accounts/${folder}/private_key.next.pem` });
    }
    await atomicWrite(join(dir, 'private_key.pem'), account.privateKeyPem, {
      mode: 0o600,
      faults: this.faults,
      label: `accounts/${folder}/private_key.pem`,
    });
    if (account.nextPrivateKeyPem === undefined) {
      await fs.rm(nextKeyFile, { force: true });
    }
    const record = { url: account.url, contact: account.contact, createdAt: account.createdAt, directoryUrl: account.directoryUrl };
    await atomicWrite(join(dir, 'account.json'), `${JSON.stringify(record, null, 2)}\n`, {
      mode: 0o600,
      faults: this.faults,
      label: `accounts/${folder}/account.json`,
    });
  }

  /** Finds the directory the live set of `safe` is in, or `undefined` when there is none. */
  private async locateLive(safe: string): Promise<LiveLocation | undefined> {
    const liveRoot = join(this.stateDir, 'live');
    const link = join(liveRoot, safe);
    const stat = await lstatOrUndefined(link);
    if (stat === undefined) {
      const aside = join(liveRoot, `.${safe}.legacy`);
      if (!(await lstatOrUndefined(aside))?.isDirectory()) return undefined;
      // A save died between setting the certbot directory aside and the switch: put it back so
      // servers find their files again (rename is atomic; a racing save then fails cleanly).
      try {
        await fs.rename(aside, link);
        await fsyncDir(liveRoot);
        this.logger.info({ name: safe }, 'storage: restored the certbot live directory an interrupted save had set aside');
        return { dir: link, kind: 'legacy' };
      } catch {
        return { dir: aside, kind: 'legacy-aside' };
      }
    }
    if (stat.isSymbolicLink()) return { dir: resolve(liveRoot, await fs.readlink(link)), kind: 'versioned' };
    if (stat.isDirectory()) return { dir: link, kind: 'legacy' };
    throw new CertpilotError('ERR_STORAGE_CORRUPT', `storage: reading ${link} failed: it is neither a symlink nor a directory`);
  }

  private async loadOnce(safe: string): Promise<StoredCertificate | undefined> {
    const location = await this.locateLive(safe);
    if (location === undefined) return undefined;
    // Only the cert link says which version is live; the files are read together (a nothing-due
    // run loads every certificate, so these reads are most of its I/O).
    let version = 0;
    let archiveDir: string | undefined;
    const certTarget = await readlinkOrUndefined(join(location.dir, 'cert.pem'));
    if (certTarget !== undefined) {
      const m = /^(.*)[/\\]cert(\d+)\.pem$/.exec(resolve(location.dir, certTarget));
      if (m?.[1] !== undefined && m[2] !== undefined) {
        archiveDir = m[1];
        version = Number(m[2]);
      }
    }
    const [texts, metaText] = await Promise.all([
      Promise.all(PEM_FILES.map((file) => fs.readFile(join(location.dir, `${file}.pem`), 'utf8'))),
      archiveDir === undefined ? undefined : readOrUndefined(join(archiveDir, `meta${version}.json`)),
    ]);
    const pems = Object.fromEntries(PEM_FILES.map((file, i) => [file, texts[i] as string])) as Record<PemFile, string>;
    for (const file of PEM_FILES) {
      // A truncated or emptied file must not be deployed nor planned on: report it, never overwrite it.
      if (file === 'chain' && pems.chain === '') continue;
      if (!/-----BEGIN [A-Z ]+-----[\s\S]+-----END [A-Z ]+-----/.test(pems[file])) {
        throw new CertpilotError('ERR_STORAGE_CORRUPT', `storage: reading ${join(this.pathsFor(safe).dir, `${file}.pem`)} failed: it is not a complete PEM file (truncated or emptied); restore it from archive/ or a backup, or move the certificate folder away and issue again`);
      }
    }
    const metadata =
      metaText === undefined
        ? await deriveMetadata(safe, pems.cert, pems.privkey)
        : (parseJson(join(archiveDir ?? '', `meta${version}.json`), metaText) as IssuanceMetadata);
    if (location.kind !== 'versioned') this.logger.debug({ name: safe, kind: location.kind }, 'storage: loaded a certbot-style live directory');
    return {
      certPem: pems.cert,
      chainPem: pems.chain,
      fullchainPem: pems.fullchain,
      privateKeyPem: pems.privkey,
      metadata,
      name: safe,
      version,
      paths: this.pathsFor(safe),
    };
  }

  /** One more than every version number present for `safe`, live or left over by a crash. */
  private async nextVersion(safe: string): Promise<number> {
    let max = 0;
    const archive = await readdirOrEmpty(join(this.stateDir, 'archive', safe));
    for (const entry of archive) {
      const n = Number(ARCHIVE_ENTRY.exec(entry)?.[1] ?? 0);
      if (n > max) max = n;
    }
    const versionDir = new RegExp(`^\\.${escapeRegExp(safe)}\\.v(\\d+)$`);
    for (const entry of await readdirOrEmpty(join(this.stateDir, 'live'))) {
      const n = Number(versionDir.exec(entry)?.[1] ?? 0);
      if (n > max) max = n;
    }
    return max + 1;
  }

  /** Removes temporary files a crashed write left in `dir` (the caller's Locker excludes a live writer). */
  private async removeTmpFiles(dir: string, label: string): Promise<void> {
    for (const entry of await readdirOrEmpty(dir)) {
      if (!isTmpSibling(entry)) continue;
      await this.faults?.(`cleanup ${label}/${entry}`);
      await fs.rm(join(dir, entry), { force: true });
    }
  }

  /** After a switch: removes the older version directories, a set-aside certbot directory and temp links. */
  private async removeStaleLiveEntries(safe: string, keep: string): Promise<void> {
    const liveRoot = join(this.stateDir, 'live');
    const mine = new RegExp(`^\\.${escapeRegExp(safe)}\\.(?:v\\d+|legacy|link\\.tmp)$`);
    for (const entry of await readdirOrEmpty(liveRoot)) {
      if (entry === keep || !mine.test(entry)) continue;
      try {
        await this.faults?.(`cleanup live/${entry}`);
        await fs.rm(join(liveRoot, entry), { recursive: true, force: true });
      } catch (err) {
        // The new version is live already; a leftover only costs disk space and is retried next save.
        if (err instanceof CertpilotError) throw err;
        this.logger.warn({ name: safe, entry, code: (err as NodeJS.ErrnoException).code }, 'storage: could not remove an old live directory');
      }
    }
  }
}

function checkBundle(name: string, bundle: CertificateBundle, { X509Certificate, createPrivateKey }: NodeCrypto): void {
  for (const field of Object.values(BUNDLE_FIELD)) {
    if (typeof bundle[field] !== 'string' || bundle[field].length === 0) {
      throw new CertpilotError('ERR_INTERNAL', `storage: saving ${name} refused: the bundle has no ${field}`);
    }
  }
  if (typeof bundle.metadata !== 'object' || bundle.metadata === null) {
    throw new CertpilotError('ERR_INTERNAL', `storage: saving ${name} refused: the bundle has no metadata`);
  }
  // Never make live a key that cannot serve its certificate.
  let matches: boolean;
  try {
    matches = new X509Certificate(bundle.certPem).checkPrivateKey(createPrivateKey(bundle.privateKeyPem));
  } catch (cause) {
    throw new CertpilotError('ERR_KEY_INVALID', `storage: saving ${name} refused: the certificate or private key cannot be parsed`, { cause });
  }
  if (!matches) {
    throw new CertpilotError('ERR_KEY_INVALID', `storage: saving ${name} refused: the private key does not match the certificate`);
  }
}

/**
 * Issuance metadata of a certbot version loaded in place, read from the certificate by the same
 * function `certpilot import` uses (with its ARI id, so the first renewal sends `replaces`).
 */
async function deriveMetadata(name: string, certPem: string, privateKeyPem: string): Promise<IssuanceMetadata> {
  const { metadataFromCertificate } = await import('../certificate-facts.js');
  try {
    return metadataFromCertificate(certPem, privateKeyPem);
  } catch (cause) {
    throw new CertpilotError('ERR_STORAGE_CORRUPT', `storage: reading live/${name}/cert.pem failed: it is not a certificate`, { cause });
  }
}

function parseJson(file: string, text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (cause) {
    throw new CertpilotError('ERR_STORAGE_CORRUPT', `storage: reading ${file} failed: it is not valid JSON`, { cause });
  }
}

async function readOrUndefined(file: string): Promise<string | undefined> {
  try {
    return await fs.readFile(file, 'utf8');
  } catch (err) {
    if (hasErrno(err, 'ENOENT')) return undefined;
    throw ioError(`reading ${file}`, err);
  }
}

async function readlinkOrUndefined(file: string): Promise<string | undefined> {
  try {
    return await fs.readlink(file);
  } catch (err) {
    // EINVAL: a regular file where certbot would have a link; read it as is.
    if (hasErrno(err, 'EINVAL')) return undefined;
    throw err;
  }
}

async function lstatOrUndefined(file: string): Promise<Stats | undefined> {
  try {
    return await fs.lstat(file);
  } catch (err) {
    if (hasErrno(err, 'ENOENT')) return undefined;
    throw ioError(`reading ${file}`, err);
  }
}

async function readdirOrEmpty(dir: string): Promise<string[]> {
  try {
    return await fs.readdir(dir);
  } catch (err) {
    if (hasErrno(err, 'ENOENT')) return [];
    throw ioError(`listing ${dir}`, err);
  }
}
