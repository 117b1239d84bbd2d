/**
 * ACME problem documents (RFC 8555 §6.7, RFC 7807) as typed errors, and `Retry-After` parsing
 * (RFC 9110 §10.2.3). Callers branch on {@link RateLimitedError} (come back at `retryAfter`) and on
 * the error `code`; everything else is an {@link AcmeProblemError} carrying the document.
 */
import { CertpilotError } from '../../errors.js';
import type { ErrorCode } from '../../errors.js';
import type { Identifier } from '../../challenges/challenge-solver.js';

/** The URN prefix of ACME error types (RFC 8555 §6.7). */
export const ACME_ERROR_PREFIX = 'urn:ietf:params:acme:error:';

/** How long to stay away after a rate limit that names no time: one hour. */
export const DEFAULT_RATE_LIMIT_RETRY_MS = 60 * 60 * 1000;

/** A problem document (RFC 7807; RFC 8555 §6.7 adds `subproblems` and `identifier`). */
export interface AcmeProblem {
  type: string;
  detail?: string;
  status?: number;
  subproblems?: AcmeProblem[];
  identifier?: Identifier;
}

/** The server refused a request with a problem document. */
export class AcmeProblemError extends CertpilotError {
  /** The problem document as sent. */
  readonly problem: AcmeProblem;
  /** The HTTP status of the response. */
  readonly status: number;

  constructor(
    code: ErrorCode,
    message: string,
    problem: AcmeProblem,
    status: number,
    options: { hint?: string; retryable?: boolean; cause?: unknown } = {},
  ) {
    super(code, message, options);
    this.problem = problem;
    this.status = status;
  }

  /** The ACME error type without its URN prefix (`badNonce`, `rateLimited`, …), or the full type. */
  get acmeType(): string {
    return shortProblemType(this.problem.type);
  }
}

/** The server rate-limited us or asked us to come back later; do not retry before `retryAfter`. */
export class RateLimitedError extends AcmeProblemError {
  /** The earliest time to try again. */
  readonly retryAfter: Date;

  constructor(message: string, problem: AcmeProblem, status: number, retryAfter: Date) {
    super('ERR_ACME_RATE_LIMITED', message, problem, status, {
      retryable: true,
      hint: `Nothing to do: certpilot will not ask again before ${retryAfter.toISOString()}.`,
    });
    this.retryAfter = retryAfter;
  }
}

/**
 * The CA marked an authorization `invalid` (RFC 8555 §7.1.6): it tried to validate and failed. This
 * is the failure a CA counts against the account (Let's Encrypt's failed-validation limit), unlike
 * anything that went wrong on our side before the CA was asked to validate.
 */
export class ValidationFailedError extends CertpilotError {
  constructor(message: string, options: { hint?: string; cause?: unknown } = {}) {
    super('ERR_ACME_AUTHORIZATION_FAILED', message, options);
  }
}

/** `badNonce` for `urn:ietf:params:acme:error:badNonce`; other types are returned unchanged. */
export function shortProblemType(type: string): string {
  return type.startsWith(ACME_ERROR_PREFIX) ? type.slice(ACME_ERROR_PREFIX.length) : type;
}

/** True when `value` looks like a problem document (has a string `type`). */
export function isProblemDocument(value: unknown): value is AcmeProblem {
  return typeof value === 'object' && value !== null && typeof (value as { type?: unknown }).type === 'string';
}

/**
 * Parses a `Retry-After` header (RFC 9110 §10.2.3): delay-seconds or an HTTP-date. Returns the
 * absolute time, or `undefined` when the header is absent or unparseable.
 */
export function parseRetryAfter(header: string | string[] | undefined | null, now: Date): Date | undefined {
  const value = (Array.isArray(header) ? header[0] : header)?.trim();
  if (!value) return undefined;
  if (/^\d+$/.test(value)) return new Date(now.getTime() + Number(value) * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : new Date(date);
}

function describe(problem: AcmeProblem): string {
  const parts = [problem.detail?.trim() || shortProblemType(problem.type)];
  for (const sub of problem.subproblems ?? []) {
    const who = sub.identifier ? `${sub.identifier.value}: ` : '';
    parts.push(`${who}${sub.detail ?? shortProblemType(sub.type)}`);
  }
  return parts.join('; ');
}

/**
 * Turns a problem document into the error to throw. `what` names the failed step, e.g.
 * `newOrder` → message `acme: newOrder: <detail>`. `retryAfterHeader` is the response's header.
 */
export function problemToError(
  problem: AcmeProblem,
  context: { what: string; status: number; retryAfterHeader?: string | string[] | undefined; now: Date },
): AcmeProblemError {
  const type = shortProblemType(problem.type);
  const message = `acme: ${context.what}: ${describe(problem)}`;
  const status = context.status;
  switch (type) {
    case 'rateLimited': {
      const retryAfter =
        parseRetryAfter(context.retryAfterHeader, context.now) ??
        new Date(context.now.getTime() + DEFAULT_RATE_LIMIT_RETRY_MS);
      return new RateLimitedError(message, problem, status, retryAfter);
    }
    case 'accountDoesNotExist':
      return new AcmeProblemError('ERR_ACME_ACCOUNT_NOT_FOUND', message, problem, status);
    case 'externalAccountRequired':
      return new AcmeProblemError('ERR_ACME_EAB_REQUIRED', message, problem, status);
    case 'badNonce':
      return new AcmeProblemError('ERR_ACME_BAD_NONCE', message, problem, status, { retryable: true });
    case 'unauthorized':
      // A deactivated account is refused as `unauthorized` (RFC 8555 §7.3.6); callers branch on it.
      if (/deactivated/i.test(problem.detail ?? '')) {
        return new AcmeProblemError('ERR_ACME_ACCOUNT_DEACTIVATED', message, problem, status);
      }
      return new AcmeProblemError('ERR_ACME_PROBLEM', message, problem, status);
    case 'serverInternal':
      return new AcmeProblemError('ERR_ACME_PROBLEM', message, problem, status, { retryable: true });
    default:
      return new AcmeProblemError('ERR_ACME_PROBLEM', message, problem, status, { retryable: status >= 500 });
  }
}
