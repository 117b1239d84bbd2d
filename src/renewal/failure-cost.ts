/**
 * The one rule that decides whether a failed renewal holds the next run back (failure backoff),
 * kept in one place so README's "When does it renew?" has one thing to be true of.
 *
 * **A hold follows the CA's cost.** Only a failure the CA counted holds the next run:
 * - a failed validation at the CA: an authorization the CA marked `invalid` (RFC 8555 §7.1.6;
 *   {@link ValidationFailedError}), which counts against the account's failed-validation limit;
 * - a rate limit (`rateLimited`, RFC 8555 §6.7) or a `503` with `Retry-After` ({@link RateLimitedError}:
 *   the CA's own time is recorded, and not even `--force` asks before it);
 * - any other answer of the CA with a 5xx status (the CA is failing: hammering it helps nobody).
 *
 * **Everything else holds nothing**: it failed before the CA was asked to validate, or it is ours
 * to fix, and the user's fix must be tried at once, without `--force`. That covers an unreachable
 * token store (Redis), a DNS update refused or signed with a wrong TSIG key, a failed self-check,
 * an unreadable `secretFile`, configuration, TLS trust, the disk, a network error (a typo in the
 * directory URL looks exactly like that), a CA's 4xx refusal of a request (a wrong URL answering
 * 404, an unknown profile, a bad CSR), an order the CA gave up on after finalize, and our own
 * bugs. The failure is still recorded as the last result, and the run still fails (exit 1).
 *
 * The error's `cause` chain is searched, so a CA answer wrapped by a step that names the context
 * (an authorization stage, several names failing alike) still counts.
 */
import { AcmeProblemError, RateLimitedError, ValidationFailedError } from '../acme/protocol/problem.js';

/** Whether a failure holds the next run, and the sentence that says why. */
export type FailureCost =
  | { held: true; why: string; retryAfter?: Date }
  | { held: false; why: string };

/** The sentence of a failure that holds nothing. */
export const NOT_HELD_WHY = 'it failed before the CA was asked to validate (or on our side), so the CA counted nothing: no backoff, the next run tries at once';

/** Applies the rule in the module comment to `err` and its causes. */
export function failureCost(err: unknown): FailureCost {
  for (let e: unknown = err, depth = 0; e && depth < 8; e = (e as { cause?: unknown }).cause, depth++) {
    if (e instanceof RateLimitedError) return { held: true, why: 'the CA rate-limited us or asked us to come back later (Retry-After)', retryAfter: e.retryAfter };
    if (e instanceof ValidationFailedError) return { held: true, why: 'the CA tried to validate and marked the authorization invalid (it counts failed validations)' };
    if (e instanceof AcmeProblemError && e.status >= 500) return { held: true, why: `the CA answered ${e.status}: it is failing, so it is given time` };
  }
  return { held: false, why: NOT_HELD_WHY };
}
