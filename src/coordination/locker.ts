/**
 * One renewal per certificate at a time (DESIGN.md §2).
 *
 * Contract (every locker passes `src/testing/locker-contract.ts`):
 * - `acquire` returns a {@link Lock} when this process now holds the named lock, or `undefined` at
 *   once when another live holder has it. It never waits for the holder. Names are independent.
 * - A holder that died (its TTL passed without renewal) does not block forever: the next
 *   `acquire` after the TTL takes the lock over.
 * - While held, the lock is renewed in the background (`heartbeat.ts`); `lost` aborts when it may
 *   no longer be ours: taken over after it expired, or not renewable until just before it would
 *   expire. The renewal run joins `lost` to its own signal, so nothing is written under a lock
 *   another run now holds.
 * - `release` is idempotent, removes only our own lock (never a successor's), and runs on every
 *   exit of the run (`finally`).
 * - `acquire` honours `signal` (rejects with its reason once aborted).
 */
export interface Lock {
  readonly name: string;
  /** Aborts (reason: a CertpilotError `ERR_LOCK_LOST`) once the lock may be another process's. */
  readonly lost: AbortSignal;
  release(): Promise<void>;
}

/** Options for {@link Locker.acquire}. */
export interface AcquireOptions {
  /** How long the lock stays valid without the holder; the holder refreshes it while alive. */
  ttlSeconds: number;
  signal?: AbortSignal;
}

/** Mutual exclusion by name. */
export interface Locker {
  acquire(name: string, options: AcquireOptions): Promise<Lock | undefined>;
}

/**
 * What a lock backend shows of one held lock (`certpilot status`, `certpilot unlock`). Times are
 * ISO 8601 strings.
 *
 * - `live`: its holder renewed it within two heartbeat intervals (two thirds of its TTL): a run is
 *   at work under it.
 * - `stale`: its holder stopped renewing it (killed, frozen, partitioned) but it has not expired:
 *   it holds the certificate back until `expiresAt`, or until `certpilot unlock NAME` breaks it.
 * - `expired`: the next run takes it over (its TTL passed, or its holder's process is gone from
 *   this host); nothing holds the certificate back.
 */
export interface LockStatus {
  /** The lock's (certificate's) name. */
  name: string;
  /** Where it lives, for people: `lock file /var/lib/certpilot/locks/www.lock`, `Lease certpilot/certpilot-www`. */
  where: string;
  /** Who holds it: `pid 4242 on host web1`, or the Lease's holderIdentity. */
  holder: string;
  acquiredAt?: string | undefined;
  /** The holder's last renewal (heartbeat); unknown for a lock file written before certpilot recorded it. */
  renewedAt?: string | undefined;
  /** When anyone may take it over unless its holder renews it first. */
  expiresAt: string;
  ttlSeconds?: number | undefined;
  state: 'live' | 'stale' | 'expired';
  /** One sentence: why it is in that state. */
  why: string;
}

/** A lock as {@link LockInspector.inspect} saw it: {@link LockInspector.breakLock} breaks only this very one. */
export interface InspectedLock extends LockStatus {
  /** Opaque identity of what was seen (the Lease's resourceVersion; the lock file's inode and content). */
  readonly seen: string;
}

/** What {@link LockInspector.breakLock} did. */
export type BreakResult = 'broken' | 'changed' | 'absent';

/**
 * The optional capability of a {@link Locker} to show and break the locks other runs hold (found by
 * {@link isLockInspector}). Contract:
 * - `inspect` reads only (the verbs and files `acquire` already uses) and returns the held locks
 *   among `names`; a released or absent lock is left out.
 * - `breakLock` releases the lock only while it is exactly the one `inspect` returned (Lease: same
 *   resourceVersion and holder; file: same inode and content), so a lock a new run has just taken,
 *   or that its holder renewed since, is never broken: `changed`. `absent`: nothing held any more.
 *   The holder it was taken from finds out at its next heartbeat (`lost`) and stops writing.
 */
export interface LockInspector {
  inspect(names: readonly string[], options?: { signal?: AbortSignal }): Promise<Map<string, InspectedLock>>;
  breakLock(lock: InspectedLock): Promise<BreakResult>;
}

/** True when `locker` can show and break locks. */
export function isLockInspector(locker: unknown): locker is LockInspector {
  return typeof locker === 'object' && locker !== null && typeof (locker as LockInspector).inspect === 'function' && typeof (locker as LockInspector).breakLock === 'function';
}

/** The state of a held lock from its times (see {@link LockStatus}); `renewedAt` undefined: only expiry is known. */
export function lockState(now: Date, o: { renewedAt?: Date | undefined; expiresAt: Date; ttlMs?: number | undefined }): { state: LockStatus['state']; why: string } {
  const t = now.getTime();
  if (!(o.expiresAt.getTime() > t)) return { state: 'expired', why: `it expired at ${o.expiresAt.toISOString()}: the next run takes it over` };
  if (o.renewedAt !== undefined && o.ttlMs !== undefined) {
    const silent = t - o.renewedAt.getTime();
    if (silent > staleAfterMs(o.ttlMs)) {
      return { state: 'stale', why: `its holder has not renewed it for ${Math.round(silent / 1000)} s (it renews every ${Math.round(heartbeatIntervalMs(o.ttlMs) / 1000)} s while alive): it holds the certificate back until ${o.expiresAt.toISOString()}` };
    }
  }
  return { state: 'live', why: `its holder is renewing it; it expires at ${o.expiresAt.toISOString()} unless renewed` };
}

/** The heartbeat's interval for a TTL: a third of it, at least 1 s (`heartbeat.ts`). */
export function heartbeatIntervalMs(ttlMs: number): number {
  return Math.max(1000, ttlMs / 3);
}

/**
 * How long a live holder can go without renewing: two intervals, after which its own heartbeat
 * declares the lock lost (`heartbeat.ts`); a lock silent for longer has a holder that stopped.
 */
export function staleAfterMs(ttlMs: number): number {
  return 2 * heartbeatIntervalMs(ttlMs);
}
