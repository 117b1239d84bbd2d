/**
 * A read-side cache in front of a shared token store, for `certpilot serve`: a key authorization
 * found is kept for a moment (one second by default), so the CA's burst of validation requests
 * for one token (several vantage points, retries) costs the store one read. Misses are never
 * cached: a token written a moment ago is answered as soon as the store has it.
 *
 * What it trades: after the solver deletes a token, a responder may still answer it for up to the
 * cache time. The value is the key authorization the CA has already fetched over plain HTTP; it
 * is no secret, and the responder still serves it only for its own token.
 *
 * Misses can be cached too (`missTtlMs`, off by default, at most 5 s): a scanner asking for random
 * tokens then costs the store one read per token per period. The trade: a token written during that
 * period is answered 404 until it ends, so keep it well below the CA's retry interval.
 */
import type { Clock } from '../../clock.js';
import { systemClock } from '../../clock.js';
import type { ChallengeTokenStore, HealthCheckedStore } from './challenge-token-store.js';
import { isHealthCheckedStore } from './challenge-token-store.js';

/** The longest the cache holds entries (tokens are few; a flood of distinct hits cannot grow it). */
export const HIT_CACHE_MAX_ENTRIES = 1024;
/** The longest a miss may be cached, whatever the option says. */
export const MISS_CACHE_MAX_MS = 5000;

/** Caches the store's hits for `ttlMs`; writes and deletes go to the store and drop the entry. The store's owner closes it. */
export class HitCacheTokenStore implements ChallengeTokenStore, HealthCheckedStore {
  private readonly entries = new Map<string, { value: string; until: number }>();
  private readonly store: ChallengeTokenStore;
  private readonly ttlMs: number;
  private readonly clock: Clock;

  private readonly misses = new Map<string, number>();
  private readonly missTtlMs: number;

  constructor(options: { store: ChallengeTokenStore; ttlMs: number; missTtlMs?: number; clock?: Clock }) {
    this.store = options.store;
    this.ttlMs = options.ttlMs;
    this.missTtlMs = Math.min(options.missTtlMs ?? 0, MISS_CACHE_MAX_MS);
    this.clock = options.clock ?? systemClock;
  }

  async put(token: string, keyAuthorization: string, ttlSeconds: number): Promise<void> {
    this.entries.delete(token);
    this.misses.delete(token);
    await this.store.put(token, keyAuthorization, ttlSeconds);
  }

  /** A cached hit while it is fresh, else the store's answer (kept when it is a hit). */
  async get(token: string): Promise<string | undefined> {
    const now = this.clock.now().getTime();
    const cached = this.entries.get(token);
    if (cached && cached.until > now) return cached.value;
    if (cached) this.entries.delete(token);
    const missUntil = this.misses.get(token);
    if (missUntil !== undefined && missUntil > now) return undefined;
    if (missUntil !== undefined) this.misses.delete(token);
    const value = await this.store.get(token);
    if (value === undefined && this.missTtlMs > 0) {
      if (this.misses.size >= HIT_CACHE_MAX_ENTRIES) {
        const oldest = this.misses.keys().next().value;
        if (oldest !== undefined) this.misses.delete(oldest);
      }
      this.misses.set(token, now + this.missTtlMs);
    }
    if (value !== undefined && this.ttlMs > 0) {
      if (this.entries.size >= HIT_CACHE_MAX_ENTRIES) {
        const oldest = this.entries.keys().next().value;
        if (oldest !== undefined) this.entries.delete(oldest);
      }
      this.entries.set(token, { value, until: now + this.ttlMs });
    }
    return value;
  }

  async delete(token: string): Promise<void> {
    this.entries.delete(token);
    this.misses.delete(token);
    await this.store.delete(token);
  }

  /** The store's own health check (`/healthz` must see the backend, not the cache). */
  async check(): Promise<void> {
    if (isHealthCheckedStore(this.store)) await this.store.check();
  }
}
