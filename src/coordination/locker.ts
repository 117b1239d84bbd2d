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
