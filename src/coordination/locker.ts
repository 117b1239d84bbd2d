/**
 * One renewal per certificate at a time (DESIGN.md §2).
 *
 * Contract: `acquire` returns a {@link Lock} when this process now holds the named lock, or
 * `undefined` at once when another live holder has it. A holder that died (its TTL passed without
 * renewal) does not block forever. `release` is idempotent.
 */
export interface Lock {
  readonly name: string;
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
