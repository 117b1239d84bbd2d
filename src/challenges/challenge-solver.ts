/**
 * The challenge seam (DESIGN.md §2; acmez `Solver` + `Waiter`, lego `challenge.Provider`).
 *
 * Contract:
 * - `present` makes the challenge answerable by the CA and is idempotent: presenting the same
 *   challenge twice leaves one answer.
 * - `cleanUp` removes only what this solver presented for this challenge (never another TXT value,
 *   another token or another certificate's answer). It runs in `finally`, also after a failed
 *   `present`, and must not throw for something already gone.
 * - Both honour `signal`: when it aborts they stop and reject with its reason.
 * - Solvers may be called concurrently for different challenges.
 */

/**
 * The ACME challenge types certpilot knows: http-01 and dns-01 (RFC 8555 §8.3, §8.4), tls-alpn-01
 * (RFC 8737), dns-account-01 (draft-ietf-acme-dns-account-label-03) and dns-persist-01
 * (draft-ietf-acme-dns-persist-02, and -01's plain `accounturi`).
 */
export type ChallengeType = 'http-01' | 'dns-01' | 'dns-account-01' | 'dns-persist-01' | 'tls-alpn-01';

/** The challenge types that may prove a wildcard name (RFC 8555 §7.1.3: only DNS-based ones). */
export const WILDCARD_CHALLENGE_TYPES: readonly ChallengeType[] = ['dns-01', 'dns-account-01', 'dns-persist-01'];

/** The challenge types that may prove an IP address (RFC 8738 §7: http-01 and tls-alpn-01). */
export const IP_CHALLENGE_TYPES: readonly ChallengeType[] = ['http-01', 'tls-alpn-01'];

/** What a dns-persist-01 record must say for this account and CA (draft-ietf-acme-dns-persist-02 §4). */
export interface PersistExpectation {
  /** Issuer domain names the CA accepts, from the challenge (`issuerDomainNames`, -01 `issuer-domain-names`). */
  issuerDomainNames: string[];
  /** The `accounturi` the record must carry: hashed (-02, the directory has `accountHashPrefix`) or the account URL (-01). */
  accountUri: string;
  /** The account URL itself (to recognize a record still in the plain -01 form). */
  accountUrl: string;
}

/** An identifier of an order (RFC 8555 §7.1.3; RFC 8738 for `ip`). */
export interface Identifier {
  type: 'dns' | 'ip';
  value: string;
}

/** What a solver needs to present one challenge. */
export interface PendingChallenge {
  type: ChallengeType;
  /** The identifier being validated; for a wildcard order this is the base name (no `*.`). */
  identifier: Identifier;
  /** True when the authorization is for a wildcard name. */
  wildcard: boolean;
  /** The challenge URL (unique per challenge). */
  url: string;
  /** The challenge token (base64url). */
  token: string;
  /** `token || '.' || base64url(JWK thumbprint)` (RFC 8555 §8.1). */
  keyAuthorization: string;
  /**
   * For dns-01 the TXT record name `_acme-challenge.<name>.` (RFC 8555 §8.4); for dns-account-01
   * `_<account label>._acme-challenge.<name>.`; for dns-persist-01 `_validation-persist.<name>.`.
   */
  dnsRecordName?: string;
  /** For dns-01 and dns-account-01: the TXT value, base64url(SHA-256(keyAuthorization)). */
  dnsValue?: string;
  /** For dns-persist-01: what the standing record must say. */
  persist?: PersistExpectation;
}

/** Options passed to every solver call. */
export interface SolverCallOptions {
  signal?: AbortSignal;
}

/** Presents and removes the answer to one challenge type. */
export interface ChallengeSolver {
  /** The challenge type this solver answers. */
  readonly type: ChallengeType;
  /** Makes the challenge answerable. Idempotent. */
  present(challenge: PendingChallenge, options: SolverCallOptions): Promise<void>;
  /** Removes only this challenge's answer. Never throws for an answer already gone. */
  cleanUp(challenge: PendingChallenge, options: SolverCallOptions): Promise<void>;
}

/** Optional: resolves once the CA can see the answer (e.g. DNS propagation). */
export interface ChallengeWaiter {
  wait(challenge: PendingChallenge, options: SolverCallOptions): Promise<void>;
}

/**
 * Optional: work a solver does before an order is placed, so that what fails there costs the CA
 * nothing (no order, no authorization answered): bind its listener (a port in use), remove what a
 * killed run of it left (`challenge-journal.ts`). The Issuer calls it once per order for each
 * solver of the order, before `newOrder`. Idempotent; honours `signal`.
 */
export interface PreparedSolver {
  prepare(options: SolverCallOptions): Promise<void>;
}

/**
 * Optional: what the solver did for a challenge, in one sentence for the hint of a validation the
 * CA failed (e.g. "the webroot solver "site" wrote /srv/www/.well-known/acme-challenge/<token>:
 * check that the web server serves /srv/www as http://<name>/"). The Issuer uses it as the hint.
 */
export interface ExplainedSolver {
  explain(challenge: PendingChallenge): string;
}

/** Optional: a solver that owns resources for its lifetime (a listener) and must be closed. */
export interface ClosableSolver {
  close(): Promise<void>;
}

/** Type guard for {@link ChallengeWaiter}. */
export function isChallengeWaiter(solver: unknown): solver is ChallengeWaiter {
  return typeof (solver as Partial<ChallengeWaiter> | null)?.wait === 'function';
}

/** Type guard for {@link PreparedSolver}. */
export function isPreparedSolver<T>(solver: T): solver is T & PreparedSolver {
  return typeof (solver as Partial<PreparedSolver> | null)?.prepare === 'function';
}

/** Type guard for {@link ExplainedSolver}. */
export function isExplainedSolver<T>(solver: T): solver is T & ExplainedSolver {
  return typeof (solver as Partial<ExplainedSolver> | null)?.explain === 'function';
}

/** Type guard for {@link ClosableSolver}. */
export function isClosableSolver(solver: unknown): solver is ClosableSolver {
  return typeof (solver as Partial<ClosableSolver> | null)?.close === 'function';
}
