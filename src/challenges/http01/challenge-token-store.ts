/**
 * Where http-01 key authorizations live between `present` and the CA's validation
 * (DESIGN.md §2, §6.4). The responder reads; the solver writes.
 *
 * Contract:
 * - `put` overwrites any value for the token and makes it readable until `ttlSeconds` pass; the TTL
 *   must outlast the CA's several validation vantage points.
 * - `get` returns `undefined` for an absent or expired token, never throws for absence; a key that
 *   holds something that is no value at all (a Redis hash: WRONGTYPE) rejects with
 *   `ERR_TOKEN_STORE_VALUE`, which the responder answers like a malformed value (404, warned once
 *   per token), not like a store that is down (503).
 * - `delete` is idempotent.
 * - Implementations only ever touch keys under their own prefix.
 */
export interface ChallengeTokenStore {
  put(token: string, keyAuthorization: string, ttlSeconds: number): Promise<void>;
  get(token: string): Promise<string | undefined>;
  delete(token: string): Promise<void>;
}

/** A token as ACME issues it: base64url, no padding (RFC 8555 §8.3 requires ≥128 bits of entropy). */
export const TOKEN_PATTERN = /^[A-Za-z0-9_-]{16,256}$/;

/** Optional: a store that can say whether its backend answers (Redis `PING`), for `/healthz`. */
export interface HealthCheckedStore {
  /** Resolves when the backend answers; rejects with a CertpilotError otherwise. */
  check(): Promise<void>;
}

/** Type guard for {@link HealthCheckedStore}. */
export function isHealthCheckedStore(store: unknown): store is HealthCheckedStore {
  return typeof (store as Partial<HealthCheckedStore> | null)?.check === 'function';
}
