/**
 * The store-backed http-01 solver (DESIGN.md §6.4; certmagic `distributedSolver`): `present` puts
 * the key authorization into a shared {@link ChallengeTokenStore}, and whatever responder serves the
 * names (in this process, another pod, a PHP controller over Redis) answers the CA from it.
 */
import type { ChallengeSolver, ChallengeWaiter, PendingChallenge, SolverCallOptions } from '../challenge-solver.js';
import { CertpilotError } from '../../errors.js';
import type { ChallengeTokenStore } from './challenge-token-store.js';
import { TOKEN_PATTERN } from './challenge-token-store.js';

/**
 * Default token lifetime, one for every http-01 solver (standalone, webroot-free store solvers and
 * the `ttlSeconds` option's default): an hour outlasts the CA's validations from several vantage
 * points (Pebble and Let's Encrypt validate each challenge three or more times) and its retries,
 * and a slow order; tokens are deleted on cleanup anyway (docs/config-reference.md).
 */
export const DEFAULT_TOKEN_TTL_SECONDS = 3600;

/** Options for {@link Http01Solver}. */
export interface Http01SolverOptions {
  /** Where the responder looks the tokens up. */
  store: ChallengeTokenStore;
  /** How long a presented token stays readable; defaults to {@link DEFAULT_TOKEN_TTL_SECONDS}. */
  ttlSeconds?: number;
  /** Optional: what must hold before the CA is told (the self-check); makes this solver a waiter. */
  waiter?: ChallengeWaiter;
}

/** Presents http-01 answers by writing them to a token store; cleans up only its own token. */
export class Http01Solver implements ChallengeSolver {
  /** Always `http-01`. */
  readonly type = 'http-01' as const;
  private readonly store: ChallengeTokenStore;
  private readonly ttlSeconds: number;

  /** Present only with a waiter: resolves when the answer can be seen (issuer calls it before telling the CA). */
  readonly wait?: (challenge: PendingChallenge, options: SolverCallOptions) => Promise<void>;

  constructor(options: Http01SolverOptions) {
    this.store = options.store;
    this.ttlSeconds = options.ttlSeconds ?? DEFAULT_TOKEN_TTL_SECONDS;
    const waiter = options.waiter;
    if (waiter !== undefined) this.wait = (challenge, call) => waiter.wait(challenge, call);
  }

  /** Stores the key authorization under the challenge token (idempotent: a second put overwrites). */
  async present(challenge: PendingChallenge, options: SolverCallOptions = {}): Promise<void> {
    options.signal?.throwIfAborted();
    assertToken(challenge.token);
    await this.store.put(challenge.token, challenge.keyAuthorization, this.ttlSeconds);
  }

  /** Deletes the challenge token from the store; nothing else. */
  async cleanUp(challenge: PendingChallenge, options: SolverCallOptions = {}): Promise<void> {
    options.signal?.throwIfAborted();
    // A token that could never have been presented has nothing to remove, and must not reach the store.
    if (!TOKEN_PATTERN.test(challenge.token)) return;
    await this.store.delete(challenge.token);
  }
}

/**
 * Rejects a token that is not base64url (RFC 8555 §8.3) before it becomes a store key or a path:
 * such a token can only come from a broken or hostile CA.
 */
export function assertToken(token: string): void {
  if (!TOKEN_PATTERN.test(token)) {
    throw new CertpilotError('ERR_ACME_BAD_RESPONSE', 'http-01: cannot present challenge: the token is not 16-256 base64url characters (RFC 8555 §8.3)', {
      hint: 'Check that acme.directoryUrl points at a trustworthy ACME server; the challenge was refused.',
    });
  }
}
