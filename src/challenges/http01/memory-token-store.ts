/**
 * An in-process {@link ChallengeTokenStore}: the store behind the standalone solver, and the default
 * when the responder runs in the same process as the ACME client.
 */
import type { Clock } from '../../clock.js';
import { systemClock } from '../../clock.js';
import { CertpilotError } from '../../errors.js';
import type { ChallengeTokenStore } from './challenge-token-store.js';

/** Options for {@link MemoryTokenStore}. */
export interface MemoryTokenStoreOptions {
  /** Time source for expiry; tests pass a `FakeClock`. */
  clock?: Clock;
}

interface Entry {
  keyAuthorization: string;
  expiresAt: number;
}

/**
 * Keeps key authorizations in a `Map` keyed by token, each with an expiry read from the clock.
 * Expired entries read as `undefined` and are pruned on access, so nothing outlives its TTL for long.
 * Safe for concurrent use within one process (every method is a single synchronous step).
 */
export class MemoryTokenStore implements ChallengeTokenStore {
  private readonly entries = new Map<string, Entry>();
  private readonly clock: Clock;

  constructor(options: MemoryTokenStoreOptions = {}) {
    this.clock = options.clock ?? systemClock;
  }

  /** Stores `keyAuthorization` for `token` for `ttlSeconds`, replacing any earlier value and TTL. */
  async put(token: string, keyAuthorization: string, ttlSeconds: number): Promise<void> {
    if (!Number.isFinite(ttlSeconds) || ttlSeconds <= 0) {
      throw new CertpilotError('ERR_INTERNAL', `memory token store: cannot store token: ttlSeconds must be a positive number, got ${String(ttlSeconds)}`);
    }
    const now = this.clock.now().getTime();
    this.prune(now);
    this.entries.set(token, { keyAuthorization, expiresAt: now + ttlSeconds * 1000 });
  }

  /** Returns the key authorization for `token`, or `undefined` when absent or expired. */
  async get(token: string): Promise<string | undefined> {
    const entry = this.entries.get(token);
    if (entry === undefined) return undefined;
    if (entry.expiresAt <= this.clock.now().getTime()) {
      this.entries.delete(token);
      return undefined;
    }
    return entry.keyAuthorization;
  }

  /** Removes `token`; does nothing when it is absent. */
  async delete(token: string): Promise<void> {
    this.entries.delete(token);
  }

  /** The number of live (unexpired) entries; for diagnostics and tests. */
  get size(): number {
    this.prune(this.clock.now().getTime());
    return this.entries.size;
  }

  private prune(now: number): void {
    for (const [token, entry] of this.entries) {
      if (entry.expiresAt <= now) this.entries.delete(token);
    }
  }
}
