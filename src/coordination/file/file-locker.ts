/**
 * A {@link Locker} on one host or a shared file system: one lock file per name, created
 * exclusively, holding who owns it and until when.
 */
import { createHash, randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { systemClock } from '../../clock.js';
import type { Clock } from '../../clock.js';
import { CertpilotError } from '../../errors.js';
import { hasErrno, removeFile } from '../../fs/atomic-write.js';
import { openDirectory, type DirHandle } from '../../fs/dir-handle.js';
import { silentLogger } from '../../logger.js';
import type { Logger } from '../../logger.js';
import { safeName } from '../../storage/filesystem/safe-name.js';
import { Heartbeat } from '../heartbeat.js';
import { lockState, type AcquireOptions, type BreakResult, type InspectedLock, type Lock, type Locker, type LockInspector } from '../locker.js';

/** Options of {@link FileLocker}. */
export interface FileLockerOptions {
  /** Directory of the lock files; created 0700 when missing. */
  dir: string;
  clock?: Clock;
  logger?: Logger;
}

/** What a lock file holds (JSON). */
export interface LockRecord {
  pid: number;
  hostname: string;
  /** Random per acquisition: tells our lock from a successor's after a takeover. */
  token: string;
  acquiredAt: string;
  /** ISO time after which anyone may take the lock over unless the holder refreshed it. */
  expiresAt: string;
  /** The holder's last refresh (absent in files written before certpilot recorded it). */
  renewedAt?: string;
  /** The TTL the holder refreshes it by (absent in older files). */
  ttlSeconds?: number;
}

/** How long a takeover marker protects a takeover in progress. */
const MARKER_TTL_MS = 30_000;

function errnoOf(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null ? (err as NodeJS.ErrnoException).code : undefined;
}

function ioError(what: string, cause: unknown): CertpilotError {
  const errno = errnoOf(cause);
  // A full volume is ERR_STORAGE_FULL wherever it shows, not a permissions problem.
  if (errno === 'ENOSPC' || errno === 'EDQUOT') {
    return new CertpilotError('ERR_STORAGE_FULL', `file-locker: ${what} failed: ${errno} (the volume is full)`, { cause, retryable: true });
  }
  return new CertpilotError('ERR_STORAGE_IO', `file-locker: ${what} failed: ${errnoOf(cause) ?? String(cause)}`, { cause });
}

/** Reads a lock file: its record, `absent`, or `unreadable` when it is not a lock record. */
async function readRecord(path: string): Promise<LockRecord | 'absent' | 'unreadable'> {
  let text: string;
  try {
    text = await fs.readFile(path, 'utf8');
  } catch (err) {
    if (errnoOf(err) === 'ENOENT') return 'absent';
    throw ioError(`reading ${path}`, err);
  }
  return parseRecord(text);
}

/** A lock file's text as a record, or `unreadable`. */
function parseRecord(text: string): LockRecord | 'unreadable' {
  try {
    const data = JSON.parse(text) as Partial<LockRecord>;
    if (typeof data.pid === 'number' && typeof data.hostname === 'string' && typeof data.token === 'string' && typeof data.expiresAt === 'string') {
      return data as LockRecord;
    }
  } catch {
    // Not ours or damaged: our writer never leaves a partial file (see createExclusive).
  }
  return 'unreadable';
}

/** True when a process with this id exists on this host (EPERM: it exists but is not ours). */
function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return errnoOf(err) === 'EPERM';
  }
}

/**
 * Lock files `<dir>/<name>.lock`, each a JSON {@link LockRecord}.
 *
 * - Acquire: the record is written to a private temporary file, fsynced, then `link()`ed to the
 *   lock path; `link` fails with EEXIST when the lock exists, so creation is exclusive (O_EXCL
 *   semantics, also on NFS) and a lock file is never seen half-written.
 * - A lock is stale when its `expiresAt` passed, or when it was taken on this host by a process
 *   that no longer exists (`kill(pid, 0)`). A live holder makes `acquire` return `undefined`.
 * - Takeover of a stale lock: the taker first creates `<name>.lock.takeover` exclusively; only the
 *   one that gets it re-reads the lock, and removes it only if it is still the same stale record
 *   (same token), then creates its own exclusively. Two takers therefore cannot both win: the
 *   loser of the marker returns `undefined`, and a plain acquirer racing the taker loses on EEXIST
 *   of one or the other. A marker left by a taker that crashed expires after 30 s.
 * - While held, the heartbeat (`../heartbeat.ts`) refreshes `expiresAt` every third of the TTL
 *   (write-temp then rename, after checking the token is still ours), so the TTL only matters when
 *   the holder dies; a file that holds another token means the lock was taken over: `lost` aborts.
 * - `release` is idempotent and deletes the lock file only while it still holds our token.
 * - Inspect and break (`certpilot status`, `certpilot unlock`) work through the lock directory's
 *   descriptor (`fs/dir-handle.ts`): lock files are opened with `O_NOFOLLOW` and must be regular
 *   files. A break takes the takeover marker as a taker does, then removes the lock file only while
 *   it is the same inode with the same content as inspected (a refresh renames a new file in), so
 *   a lock renewed or taken since is never broken.
 */
export class FileLocker implements Locker, LockInspector {
  private readonly dir: string;
  private readonly clock: Clock;
  private readonly logger: Logger;

  constructor(options: FileLockerOptions) {
    this.dir = options.dir;
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger ?? silentLogger;
  }

  /** The path of the lock file of `name`. */
  lockPath(name: string): string {
    return join(this.dir, `${safeName(name)}.lock`);
  }

  /** Takes the lock of `name`, or returns `undefined` at once when a live holder has it. */
  async acquire(name: string, options: AcquireOptions): Promise<FileLock | undefined> {
    const path = this.lockPath(name);
    options.signal?.throwIfAborted();
    if (!(options.ttlSeconds > 0)) {
      throw new CertpilotError('ERR_INTERNAL', `file-locker: acquiring ${name} failed: ttlSeconds must be positive, got ${options.ttlSeconds}`);
    }
    try {
      await fs.mkdir(this.dir, { recursive: true, mode: 0o700 });
    } catch (err) {
      throw ioError(`creating ${this.dir}`, err);
    }
    const ttlMs = options.ttlSeconds * 1000;
    const record = this.newRecord(ttlMs);

    // Two rounds: a lock released between our EEXIST and our read deserves a second try.
    for (let round = 0; round < 2; round++) {
      options.signal?.throwIfAborted();
      if (await this.createExclusive(path, record)) return this.held(name, path, record, ttlMs);
      const holder = await readRecord(path);
      if (holder === 'absent') continue;
      if (holder !== 'unreadable' && !this.isStale(holder)) {
        this.logger.debug({ name, pid: holder.pid, host: holder.hostname, expiresAt: holder.expiresAt }, 'file-locker: lock held');
        return undefined;
      }
      return await this.takeOver(name, path, holder, record, ttlMs);
    }
    return undefined;
  }

  private newRecord(ttlMs: number): LockRecord {
    const now = this.clock.now();
    return {
      pid: process.pid,
      hostname: hostname(),
      token: randomBytes(12).toString('hex'),
      acquiredAt: now.toISOString(),
      expiresAt: new Date(now.getTime() + ttlMs).toISOString(),
      renewedAt: now.toISOString(),
      ttlSeconds: ttlMs / 1000,
    };
  }

  /** The lock directory, pinned by its descriptor (undefined when it does not exist yet). */
  private async openLockDir(): Promise<DirHandle | undefined> {
    try {
      return await openDirectory(this.dir, { component: 'file-locker', allowShared: true, allowSharedField: '-', errorCode: 'ERR_STORAGE_IO' });
    } catch (err) {
      if (err instanceof CertpilotError && hasErrno(err.cause, 'ENOENT')) return undefined;
      throw err;
    }
  }

  /** The held lock files of `names` (read through the directory's descriptor, no link followed). */
  async inspect(names: readonly string[], options: { signal?: AbortSignal } = {}): Promise<Map<string, InspectedLock>> {
    const out = new Map<string, InspectedLock>();
    const d = await this.openLockDir();
    if (!d) return out;
    try {
      const present = new Set(await d.readdir());
      for (const name of names) {
        options.signal?.throwIfAborted();
        const file = `${safeName(name)}.lock`;
        if (!present.has(file)) continue;
        const seen = await this.readAt(d, file);
        if (seen) out.set(name, this.describe(name, seen));
      }
    } catch (err) {
      if (err instanceof CertpilotError) throw err;
      throw ioError(`reading ${this.dir}`, err);
    } finally {
      await d.close();
    }
    return out;
  }

  /** The regular file `file` in `d` (`O_NOFOLLOW`): its record and identity, or undefined when absent or not a regular file. */
  private async readAt(d: DirHandle, file: string): Promise<{ record: LockRecord | 'unreadable'; seen: string } | undefined> {
    const read = await d.readRegularFile(file);
    if (!read) return undefined;
    const seen = JSON.stringify([String(read.stat.dev), String(read.stat.ino), createHash('sha256').update(read.data).digest('hex')]);
    return { record: parseRecord(read.data.toString('utf8')), seen };
  }

  private describe(name: string, read: { record: LockRecord | 'unreadable'; seen: string }): InspectedLock {
    const where = `lock file ${this.lockPath(name)}`;
    const r = read.record;
    if (r === 'unreadable') {
      return { name, where, holder: 'unknown (not a lock record)', expiresAt: new Date(0).toISOString(), state: 'expired', why: 'the file is not a lock record: the next run takes it over', seen: read.seen };
    }
    const expiresAt = new Date(Date.parse(r.expiresAt));
    const base = {
      name,
      where,
      holder: `pid ${r.pid} on ${r.hostname}`,
      acquiredAt: r.acquiredAt,
      ...(r.renewedAt ? { renewedAt: r.renewedAt } : {}),
      expiresAt: Number.isFinite(expiresAt.getTime()) ? expiresAt.toISOString() : new Date(0).toISOString(),
      ...(r.ttlSeconds ? { ttlSeconds: r.ttlSeconds } : {}),
      seen: read.seen,
    };
    if (Number.isFinite(expiresAt.getTime()) && expiresAt > this.clock.now() && r.hostname === hostname() && !pidAlive(r.pid)) {
      return { ...base, state: 'expired', why: `process ${r.pid} no longer runs on this host: the next run here takes it over` };
    }
    const renewedAt = r.renewedAt ? new Date(Date.parse(r.renewedAt)) : undefined;
    return { ...base, ...lockState(this.clock.now(), { renewedAt, expiresAt: Number.isFinite(expiresAt.getTime()) ? expiresAt : new Date(0), ttlMs: r.ttlSeconds ? r.ttlSeconds * 1000 : undefined }) };
  }

  /**
   * Removes the lock file of `lock.name` only while it is the inode with the content `lock` saw,
   * under the takeover marker (so no taker runs meanwhile); never follows a link.
   */
  async breakLock(lock: InspectedLock): Promise<BreakResult> {
    const d = await this.openLockDir();
    if (!d) return 'absent';
    const file = `${safeName(lock.name)}.lock`;
    const marker = `${file}.takeover`;
    try {
      const ours = this.newRecord(MARKER_TTL_MS);
      if (!(await this.createExclusiveAt(d, marker, ours))) {
        // A run is taking it over right now (or a taker died: its marker expires after 30 s).
        return 'changed';
      }
      try {
        const now = await this.readAt(d, file);
        if (!now) return 'absent';
        if (now.seen !== lock.seen) return 'changed';
        // The name must still be that inode when we unlink it (lstat: never follows).
        const [dev, ino] = JSON.parse(now.seen) as [string, string];
        const st = await d.lstat(file);
        if (String(st.dev) !== dev || String(st.ino) !== ino) return 'changed';
        await d.unlink(file);
        this.logger.info({ name: lock.name, holder: lock.holder }, 'file-locker: broke the lock');
        return 'broken';
      } finally {
        const left = await this.readAt(d, marker).catch(() => undefined);
        if (left && left.record !== 'unreadable' && left.record.token === ours.token) await d.unlink(marker).catch(() => undefined);
      }
    } catch (err) {
      if (err instanceof CertpilotError) throw err;
      throw ioError(`breaking ${this.lockPath(lock.name)}`, err);
    } finally {
      await d.close();
    }
  }

  /** {@link createExclusive} inside the pinned directory `d`: a private file linked to `name` (EEXIST: false). */
  private async createExclusiveAt(d: DirHandle, name: string, record: LockRecord): Promise<boolean> {
    const tmp = `${name}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    try {
      await d.writeNewFile(tmp, `${JSON.stringify(record)}\n`, 0o600);
      try {
        await fs.link(d.at(tmp), d.at(name));
        return true;
      } catch (err) {
        if (errnoOf(err) === 'EEXIST') return false;
        throw err;
      }
    } finally {
      await d.unlink(tmp).catch(() => undefined);
    }
  }

  private isStale(record: LockRecord): boolean {
    const expires = Date.parse(record.expiresAt);
    if (!Number.isFinite(expires) || expires <= this.clock.now().getTime()) return true;
    return record.hostname === hostname() && !pidAlive(record.pid);
  }

  /** Creates `path` holding `record` only if it does not exist; never visible half-written. */
  private async createExclusive(path: string, record: LockRecord): Promise<boolean> {
    const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    try {
      await fs.writeFile(tmp, `${JSON.stringify(record)}\n`, { mode: 0o600, flag: 'wx' });
      try {
        await fs.link(tmp, path);
        return true;
      } catch (err) {
        if (errnoOf(err) === 'EEXIST') return false;
        throw err;
      }
    } catch (err) {
      throw ioError(`creating ${path}`, err);
    } finally {
      await removeFile(tmp).catch(() => undefined);
    }
  }

  private async takeOver(name: string, path: string, stale: LockRecord | 'unreadable', record: LockRecord, ttlMs: number): Promise<FileLock | undefined> {
    const marker = `${path}.takeover`;
    const markerRecord = { ...record, expiresAt: new Date(this.clock.now().getTime() + MARKER_TTL_MS).toISOString() };
    if (!(await this.createExclusive(marker, markerRecord))) {
      const other = await readRecord(marker);
      if (other === 'unreadable' || (other !== 'absent' && this.isStale(other))) {
        // A taker died mid-takeover; clear its marker so the next attempt can proceed.
        await removeFile(marker).catch(() => undefined);
      }
      return undefined;
    }
    try {
      const current = await readRecord(path);
      const same =
        current === 'unreadable' ? stale === 'unreadable' : current !== 'absent' && stale !== 'unreadable' && current.token === stale.token;
      if (current !== 'absent') {
        if (!same) return undefined;
        await removeFile(path);
      }
      if (!(await this.createExclusive(path, record))) return undefined;
      this.logger.info(
        stale === 'unreadable' ? { name } : { name, pid: stale.pid, host: stale.hostname, expiresAt: stale.expiresAt },
        'file-locker: took over a stale lock',
      );
      return this.held(name, path, record, ttlMs);
    } catch (err) {
      if (err instanceof CertpilotError) throw err;
      throw ioError(`taking over ${path}`, err);
    } finally {
      await removeFile(marker).catch(() => undefined);
    }
  }

  private held(name: string, path: string, record: LockRecord, ttlMs: number): FileLock {
    return new FileLock(name, path, record, ttlMs, this.clock, this.logger);
  }
}

/** A held file lock: refreshed by the heartbeat until released; `lost` once another holder has it. */
export class FileLock implements Lock {
  private released = false;
  private record: LockRecord;
  private readonly heartbeat: Heartbeat;

  constructor(
    readonly name: string,
    /** The lock file. */
    readonly path: string,
    record: LockRecord,
    private readonly ttlMs: number,
    private readonly clock: Clock,
    logger: Logger,
  ) {
    this.record = record;
    this.heartbeat = new Heartbeat({ component: 'file-locker', name, ttlMs, renew: () => this.renew(), clock, logger });
  }

  /** Aborts once the lock file is no longer ours (or could not be refreshed in time). */
  get lost(): AbortSignal {
    return this.heartbeat.lost;
  }

  /** Pushes the expiry to now + TTL now (the heartbeat does it every third of the TTL); `lost` aborts if the file is no longer ours. */
  refresh(): Promise<void> {
    return this.heartbeat.beat();
  }

  /** One renewal: false when the file holds another token (taken over), else rewrites our expiry. */
  private async renew(): Promise<boolean> {
    const onDisk = await readRecord(this.path);
    if (onDisk === 'absent' || onDisk === 'unreadable' || onDisk.token !== this.record.token) return false;
    const now = this.clock.now();
    const next = { ...this.record, expiresAt: new Date(now.getTime() + this.ttlMs).toISOString(), renewedAt: now.toISOString() };
    const tmp = `${this.path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    try {
      await fs.writeFile(tmp, `${JSON.stringify(next)}\n`, { mode: 0o600, flag: 'wx' });
      await fs.rename(tmp, this.path);
      this.record = next;
      return true;
    } catch (err) {
      throw ioError(`refreshing ${this.path}`, err);
    } finally {
      await removeFile(tmp).catch(() => undefined);
    }
  }

  /** Deletes the lock file if it is still ours; idempotent. */
  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    // Refresh and release never overlap, or a late rename could resurrect a released lock.
    await this.heartbeat.stop();
    const onDisk = await readRecord(this.path);
    if (onDisk !== 'absent' && onDisk !== 'unreadable' && onDisk.token === this.record.token) {
      try {
        await removeFile(this.path);
      } catch (err) {
        throw ioError(`releasing ${this.path}`, err);
      }
    }
  }
}
