/**
 * A {@link Locker} on one host or a shared file system: one lock file per name, created
 * exclusively, holding who owns it and until when.
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { systemClock } from '../../clock.js';
import type { Clock } from '../../clock.js';
import { CertpilotError } from '../../errors.js';
import { removeFile } from '../../fs/atomic-write.js';
import { silentLogger } from '../../logger.js';
import type { Logger } from '../../logger.js';
import { safeName } from '../../storage/filesystem/safe-name.js';
import { Heartbeat } from '../heartbeat.js';
import type { AcquireOptions, Lock, Locker } from '../locker.js';

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
 */
export class FileLocker implements Locker {
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
    };
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
    const next = { ...this.record, expiresAt: new Date(this.clock.now().getTime() + this.ttlMs).toISOString() };
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
