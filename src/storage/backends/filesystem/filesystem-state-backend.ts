/**
 * The filesystem state backend: state keys mapped onto certbot's layout under one directory, so
 * server configurations written for certbot keep working and a certbot directory is read as is.
 *
 * ```
 * certificates/<name>/versions/<N>  archive/<name>/{cert,chain,fullchain,privkey}N.pem, metaN.json
 * certificates/<name>/live          live/<name> -> .<name>.vN   (certbot-layout.ts)
 * certificates/<name>/renewal-state renewal-state/<name>.json
 * certificates/<name>/pending-order pending/<name>/{privkey.pem,order.json}
 * accounts/<folder>                 accounts/<folder>/{private_key.pem,private_key.next.pem,account.json}
 * ```
 * Directories are 0700, private keys and records 0600. Every file is written through
 * {@link atomicWrite}; a value of several files is written in an order that a crash at any step
 * leaves readable: a key before the record that makes it visible (an account, a pending order),
 * the archive files of a version before the one rename that makes it live.
 *
 * Versions are a hash of the files' contents (the live link's target for `live`), so a version
 * read by one process is checked by another with no sidecar file. The precondition is checked
 * before the write, under the caller's Locker: it catches a stale read, not a racing writer.
 *
 * Capabilities: {@link LocalPaths} (`live/<name>/…`), {@link WritableProbe} (disk-probe.ts) and
 * {@link SetAside} (an unreadable state file is renamed to `<file>.corrupt-<time>`, never deleted).
 */
import { promises as fs, lstatSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { CertpilotError } from '../../../errors.js';
import { silentLogger, type Logger } from '../../../logger.js';
import { atomicWrite, ensureDir, fsyncDir, hasErrno, ioError, removeFile, setAside as setAsideFile, tmpSibling } from '../../../fs/atomic-write.js';
import type { WriteFaultHook } from '../../../fs/atomic-write.js';
import { unsafeNameReason } from '../../filesystem/safe-name.js';
import {
  StateConflictError,
  type CertificatePaths,
  type LocalPaths,
  type Presence,
  type SetAside,
  type StateBackend,
  type StateEntry,
  type StateValue,
  type WritableProbe,
  type WriteOptions,
} from '../../state-backend.js';
import { parseKey } from '../../state-keys.js';
import { CertbotLayout, presentOrThrow, readdirOrEmpty, readIfPresent, readOrUndefined, under } from './certbot-layout.js';
import { probeDisk } from './disk-probe.js';

export type { WriteFaultHook } from '../../../fs/atomic-write.js';

/** Options of {@link FilesystemStateBackend}. */
export interface FilesystemStateBackendOptions {
  /** The state directory (certbot's `/etc/letsencrypt` equivalent); created 0700 when missing. */
  stateDir: string;
  logger?: Logger;
  /** Test hook called before each durable step of a write (see {@link WriteFaultHook}). */
  faults?: WriteFaultHook;
}

/** A content hash as a version token (FNV-1a, two lanes; no crypto needed to read state). */
function contentVersion(value: StateValue): string {
  let a = 0x811c9dc5;
  let b = 0x01000193 ^ 0x5bd1e995;
  for (const field of Object.keys(value).sort()) {
    const text = `${field}\u0000${value[field] ?? ''}\u0000`;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      a = Math.imul(a ^ c, 0x01000193) >>> 0;
      b = Math.imul(b ^ c, 0x01000193 ^ 0x2f) >>> 0;
    }
  }
  return `${a.toString(16).padStart(8, '0')}${b.toString(16).padStart(8, '0')}`;
}

/**
 * An entry whose version token is hashed when first asked for: readers that only load (every
 * `status` row, every plan) never ask, and hashing every PEM read was ~2 % of a nothing-due
 * `renew` of 1000 certificates (bench/findings.md). Writers with `ifVersion` ask, and get the same token.
 */
function entryOf(value: StateValue): StateEntry {
  let version: string | undefined;
  return {
    value,
    get version(): string {
      return (version ??= contentVersion(value));
    },
  };
}

const ACCOUNT_FIELDS = new Set(['private_key.pem', 'private_key.next.pem', 'account.json']);
const PENDING_FIELDS = new Set(['privkey.pem', 'order.json']);

/** State keys on the local file system, in certbot's layout. */
export class FilesystemStateBackend implements StateBackend, LocalPaths, WritableProbe, SetAside, Presence {
  /** Absolute path of the state directory. */
  readonly stateDir: string;
  readonly description: string;
  /** Every version is kept, as certbot does. */
  readonly keepVersions = undefined;
  private readonly logger: Logger;
  private readonly faults: WriteFaultHook | undefined;
  private readonly layout: CertbotLayout;

  constructor(options: FilesystemStateBackendOptions) {
    this.stateDir = resolve(options.stateDir);
    this.description = `directory ${this.stateDir}`;
    this.logger = options.logger ?? silentLogger;
    this.faults = options.faults;
    this.layout = new CertbotLayout(this.stateDir, this.logger, this.faults);
  }

  /** True when the state directory exists (a status of a mistyped --state-dir says so). */
  async exists(): Promise<boolean> {
    try {
      return (await fs.stat(this.stateDir)).isDirectory();
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return false;
      throw ioError(`reading ${this.stateDir}`, err);
    }
  }

  /** The paths users point their servers at for `name` (they exist once it was saved). */
  pathsFor(name: string): CertificatePaths {
    return this.layout.pathsFor(name);
  }

  async checkWritable(name: string, bytes: number): Promise<void> {
    await probeDisk(this.stateDir, name, bytes, this.faults);
  }

  async get(key: string): Promise<StateEntry | undefined> {
    const k = parseKey(key);
    switch (k.kind) {
      case 'certificate':
        if (k.part === 'live') {
          const live = await this.layout.locateLive(k.name);
          return live === undefined ? undefined : { value: { version: String(live.version) }, version: live.token };
        }
        return this.readFiles(this.filesOf(key), k.part === 'pending-order');
      case 'version': {
        const value = await this.layout.readVersion(k.name, k.version);
        return value === undefined ? undefined : entryOf(value);
      }
      case 'account':
        return this.readFiles(this.filesOf(key));
      default:
        return undefined;
    }
  }

  async put(key: string, value: StateValue, options: WriteOptions = {}): Promise<string> {
    const k = parseKey(key);
    await this.check(key, options);
    const faults = this.faults;
    switch (k.kind) {
      case 'version':
        await this.layout.writeVersion(k.name, k.version, value);
        return contentVersion(value);
      case 'certificate':
        if (k.part === 'live') {
          const n = value.version;
          if (n === undefined || !/^[0-9]{1,9}$/.test(n)) throw new CertpilotError('ERR_INTERNAL', `storage: ${key}: a live value names a version`);
          return this.layout.switchLive(k.name, Number(n));
        }
        if (k.part === 'renewal-state') {
          const dir = join(this.stateDir, 'renewal-state');
          await ensureDir(dir, faults, 'renewal-state');
          await atomicWrite(join(dir, `${k.name}.json`), this.field(key, value, 'state.json'), { mode: 0o600, faults, label: `renewal-state/${k.name}.json` });
          return contentVersion(value);
        }
        {
          this.onlyFields(key, value, PENDING_FIELDS);
          const dir = join(this.stateDir, 'pending', k.name);
          await ensureDir(join(this.stateDir, 'pending'), faults, 'pending');
          await ensureDir(dir, faults, `pending/${k.name}`);
          await this.layout.removeTmpFiles(dir, `pending/${k.name}`);
          // The checkpoint after finalize carries the key the first one wrote: a key already there
          // with the same bytes was made durable by that write (its content fsynced before its
          // rename, the folder after), so it is not written again. A different key (a new order)
          // is written, and durable, before the record that names its order.
          const privateKey = this.field(key, value, 'privkey.pem');
          if (!(await holdsPrivately(join(dir, 'privkey.pem'), privateKey))) {
            await atomicWrite(join(dir, 'privkey.pem'), privateKey, { mode: 0o600, faults, label: `pending/${k.name}/privkey.pem` });
          }
          await atomicWrite(join(dir, 'order.json'), this.field(key, value, 'order.json'), { mode: 0o600, faults, label: `pending/${k.name}/order.json` });
          return contentVersion(value);
        }
      case 'account': {
        this.onlyFields(key, value, ACCOUNT_FIELDS);
        const dir = join(this.stateDir, 'accounts', k.folder);
        const label = `accounts/${k.folder}`;
        if (options.ifVersion === null) return this.createAccountDir(key, dir, label, value);
        await ensureDir(dir, faults, label);
        // A crashed earlier save may have left a temporary copy of a key: never let it linger.
        await this.layout.removeTmpFiles(dir, label);
        const nextKeyFile = join(dir, 'private_key.next.pem');
        const next = value['private_key.next.pem'];
        if (next !== undefined) await atomicWrite(nextKeyFile, next, { mode: 0o600, faults, label: `${label}/private_key.next.pem` });
        const privateKey = value['private_key.pem'];
        if (privateKey !== undefined) await atomicWrite(join(dir, 'private_key.pem'), privateKey, { mode: 0o600, faults, label: `${label}/private_key.pem` });
        else await removeFile(join(dir, 'private_key.pem'));
        if (next === undefined) await removeFile(nextKeyFile);
        await atomicWrite(join(dir, 'account.json'), this.field(key, value, 'account.json'), { mode: 0o600, faults, label: `${label}/account.json` });
        return contentVersion(value);
      }
      default:
        throw new CertpilotError('ERR_STORAGE_NAME', `storage: ${key} refused: the filesystem backend keeps unreadable entries beside their file, not under a key`);
    }
  }

  async delete(key: string, options: WriteOptions = {}): Promise<void> {
    const k = parseKey(key);
    await this.check(key, options);
    try {
      switch (k.kind) {
        case 'version': {
          const live = await this.layout.locateLive(k.name);
          if (live?.version === k.version) throw new CertpilotError('ERR_INTERNAL', `storage: deleting ${key} refused: it is the live version`);
          await this.layout.removeVersion(k.name, k.version);
          return;
        }
        case 'certificate':
          if (k.part === 'live') return await this.layout.removeLive(k.name);
          if (k.part === 'renewal-state') return await removeFile(join(this.stateDir, 'renewal-state', `${k.name}.json`));
          {
            // The record first, so a crash never leaves a record without its key.
            const dir = join(this.stateDir, 'pending', k.name);
            await removeFile(join(dir, 'order.json'));
            // Then the key and the folder by name (fs.rm's recursive walk tries rmdir, lists the
            // folder and removes entry by entry); anything else left in it falls back to the walk.
            await removeFile(join(dir, 'privkey.pem'));
            await fs.rmdir(dir).catch(async (err: unknown) => {
              if (!hasErrno(err, 'ENOENT')) await fs.rm(dir, { recursive: true, force: true });
            });
            return;
          }
        case 'account': {
          const dir = join(this.stateDir, 'accounts', k.folder);
          await removeFile(join(dir, 'account.json'));
          await fs.rm(dir, { recursive: true, force: true });
          return;
        }
        default:
          return;
      }
    } catch (err) {
      if (err instanceof CertpilotError) throw err;
      throw ioError(`removing ${key} from ${this.stateDir}`, err);
    }
  }

  async list(prefix: string): Promise<string[]> {
    const keys: string[] = [];
    if ('accounts/'.startsWith(prefix) || prefix.startsWith('accounts/')) {
      for (const folder of await readdirOrEmpty(join(this.stateDir, 'accounts'))) {
        if (unsafeNameReason(folder) === undefined) keys.push(`accounts/${folder}`);
      }
    }
    if ('certificates/'.startsWith(prefix) || prefix.startsWith('certificates/')) {
      const only = /^certificates\/([^/]+)\//.exec(prefix)?.[1];
      if (only !== undefined) {
        if (unsafeNameReason(only) === undefined) keys.push(...(await this.listOne(only, prefix)));
        return keys.filter((k) => k.startsWith(prefix)).sort();
      }
      // One readdir each of live/, renewal-state/ and pending/ for every name: per-name listings of
      // those folders made listing 1000 certificates quadratic.
      const listing = await this.layout.liveListing();
      const live = new Set(listing.names);
      const names = new Set<string>(only !== undefined ? [only] : [...live, ...(await this.layout.archiveNames())]);
      // Listing one certificate (every save does) reads its own files only.
      const stateFiles = new Set(only === undefined ? await readdirOrEmpty(join(this.stateDir, 'renewal-state')) : [`${only}.json`]);
      const pending = new Set(only === undefined ? await readdirOrEmpty(join(this.stateDir, 'pending')) : [only]);
      if (only === undefined) {
        for (const f of stateFiles) {
          const n = /^(.+)\.json$/.exec(f)?.[1];
          if (n !== undefined && unsafeNameReason(n) === undefined) names.add(n);
        }
        for (const n of pending) if (unsafeNameReason(n) === undefined) names.add(n);
      }
      for (const name of names) {
        if (unsafeNameReason(name) !== undefined) continue;
        const base = `certificates/${name}`;
        if (live.has(name)) keys.push(`${base}/live`);
        for (const n of await this.layout.versionNumbers(name, listing.versionDirs)) keys.push(`${base}/versions/${n}`);
        if (stateFiles.has(`${name}.json`) && this.hasState(name)) keys.push(`${base}/renewal-state`);
        if (pending.has(name) && (await this.hasPendingOrder(name))) keys.push(`${base}/pending-order`);
      }
    }
    return keys.filter((k) => k.startsWith(prefix)).sort();
  }

  /**
   * {@link StateNames}: one readdir of renewal-state/ and nothing per name (a file removed since
   * the readdir may be listed; its `get` answers undefined, as the seam allows for `list`).
   */
  async stateNames(): Promise<string[]> {
    const names: string[] = [];
    for (const f of await readdirOrEmpty(join(this.stateDir, 'renewal-state'))) {
      const n = /^(.+)\.json$/.exec(f)?.[1];
      if (n !== undefined && unsafeNameReason(n) === undefined) names.push(n);
    }
    return names.sort();
  }

  /**
   * The keys of one certificate under `prefix`, from its own entries alone: live/ is never listed
   * (every save and every prune lists its own versions; reading a live/ of 2000 entries each time
   * made issuing 1000 certificates quadratic), and the renewal state and pending order are looked
   * at only when the prefix asks for them.
   */
  private async listOne(name: string, prefix: string): Promise<string[]> {
    const base = `certificates/${name}`;
    const wants = (key: string): boolean => key.startsWith(prefix) || prefix.startsWith(`${key}/`);
    const keys: string[] = [];
    const own = await this.layout.ownVersions(name);
    if (own.live) keys.push(`${base}/live`);
    for (const n of own.versions) keys.push(`${base}/versions/${n}`);
    if (wants(`${base}/renewal-state`) && this.hasState(name)) keys.push(`${base}/renewal-state`);
    if (wants(`${base}/pending-order`) && (await this.hasPendingOrder(name))) keys.push(`${base}/pending-order`);
    return keys;
  }

  /**
   * Whether `name` has a renewal state: listed is not enough, it must still be there (not removed
   * since a readdir), as get() finds it. A stat, not a read: `status` reads each one afterwards.
   */
  private hasState(name: string): boolean {
    return presentOrThrow(under(under(this.stateDir, 'renewal-state'), `${name}.json`));
  }

  /** Whether `name` has a pending order: its folder holds the record (the key alone is no order). */
  private async hasPendingOrder(name: string): Promise<boolean> {
    return (await readdirOrEmpty(under(under(this.stateDir, 'pending'), name))).includes('order.json');
  }

  async setAside(key: string): Promise<{ from: string; to: string } | undefined> {
    const k = parseKey(key);
    if (k.kind !== 'certificate' || k.part === 'live') throw new CertpilotError('ERR_INTERNAL', `storage: ${key} is never set aside`);
    const file = k.part === 'renewal-state' ? join(this.stateDir, 'renewal-state', `${k.name}.json`) : join(this.stateDir, 'pending', k.name, 'order.json');
    try {
      const to = await setAsideFile(file);
      return to === undefined ? undefined : { from: file, to };
    } catch (err) {
      throw ioError(`setting aside ${file}`, err);
    }
  }

  /** The files of a value kept as plain files: field → path; the first one decides presence. */
  private filesOf(key: string): [string, string][] {
    const k = parseKey(key);
    // Names are safe names (parseKey checks them): no `path.join` needed (see `under`).
    if (k.kind === 'account') {
      const dir = under(under(this.stateDir, 'accounts'), k.folder);
      return [['account.json', `${dir}/account.json`], ['private_key.pem', `${dir}/private_key.pem`], ['private_key.next.pem', `${dir}/private_key.next.pem`]];
    }
    if (k.kind === 'certificate' && k.part === 'renewal-state') return [['state.json', under(under(this.stateDir, 'renewal-state'), `${k.name}.json`)]];
    if (k.kind === 'certificate' && k.part === 'pending-order') {
      const dir = under(under(this.stateDir, 'pending'), k.name);
      return [['order.json', `${dir}/order.json`], ['privkey.pem', `${dir}/privkey.pem`]];
    }
    return [];
  }

  /** Reads the files of a value; absent when its first file (the record) is absent. */
  private async readFiles(files: [string, string][], usuallyAbsent = false): Promise<StateEntry | undefined> {
    // The record first: when it is absent (no pending order: every certificate of a nothing-due
    // run) the other files are not tried, each a failed open and a thrown error.
    const [first, ...others] = files;
    if (first === undefined) return undefined;
    const record = await (usuallyAbsent ? readIfPresent : readOrUndefined)(first[1]);
    if (record === undefined) return undefined;
    const texts = [[first[0], record] as const, ...(await Promise.all(others.map(async ([field, file]) => [field, await readOrUndefined(file)] as const)))];
    const value = Object.fromEntries(texts.filter((t): t is readonly [string, string] => t[1] !== undefined));
    return entryOf(value);
  }

  /**
   * Writes a new account only if none exists, atomically across processes: the files are made in
   * a staging directory beside it, which is then renamed onto the account's directory. rename(2)
   * fails when the target is a directory with entries, so of two runs creating the same account
   * at once exactly one wins; the other gets a {@link StateConflictError} and nothing of its own
   * is left behind.
   */
  private async createAccountDir(key: string, dir: string, label: string, value: StateValue): Promise<string> {
    const faults = this.faults;
    const root = join(this.stateDir, 'accounts');
    await ensureDir(root, faults, 'accounts');
    const staging = tmpSibling(dir);
    try {
      await fs.mkdir(staging, { mode: 0o700 });
    } catch (err) {
      throw ioError(`creating ${staging}`, err);
    }
    let renamed = false;
    try {
      for (const field of ['private_key.next.pem', 'private_key.pem', 'account.json']) {
        const text = value[field];
        if (text !== undefined) await atomicWrite(join(staging, field), text, { mode: 0o600, faults, label: `${label}/${field}` });
      }
      await faults?.(`rename ${label}`);
      try {
        await fs.rename(staging, dir);
        renamed = true;
      } catch (err) {
        if (hasErrno(err, 'ENOTEMPTY') || hasErrno(err, 'EEXIST')) throw new StateConflictError(key, 'it exists already');
        throw ioError(`renaming ${staging} to ${dir}`, err);
      }
      await fsyncDir(root, faults, 'accounts');
      return contentVersion(value);
    } finally {
      // A staging folder that never became the account's is removed (it may hold a key).
      if (!renamed) await fs.rm(staging, { recursive: true, force: true }).catch(() => undefined);
    }
  }

  private async check(key: string, { ifVersion }: WriteOptions): Promise<void> {
    if (ifVersion === undefined) return;
    const current = (await this.get(key))?.version ?? null;
    if (current !== ifVersion) throw new StateConflictError(key, current === null ? 'it is absent' : ifVersion === null ? 'it exists already' : 'it changed since it was read');
  }

  private field(key: string, value: StateValue, field: string): string {
    const text = value[field];
    if (text === undefined) throw new CertpilotError('ERR_INTERNAL', `storage: writing ${key} refused: the value has no ${field}`);
    return text;
  }

  private onlyFields(key: string, value: StateValue, allowed: ReadonlySet<string>): void {
    const extra = Object.keys(value).filter((f) => !allowed.has(f));
    if (extra.length > 0) throw new CertpilotError('ERR_INTERNAL', `storage: writing ${key} refused: no file for ${extra.join(', ')}`);
  }
}

/**
 * True when `file` is a regular file readable by its owner alone that holds exactly `text`
 * (a key written earlier need not be written again); false when absent or different.
 */
async function holdsPrivately(file: string, text: string): Promise<boolean> {
  try {
    const stat = lstatSync(file);
    if (!stat.isFile() || (stat.mode & 0o077) !== 0) return false;
  } catch (err) {
    if (hasErrno(err, 'ENOENT')) return false;
    throw ioError(`reading ${file}`, err);
  }
  return (await readOrUndefined(file)) === text;
}

