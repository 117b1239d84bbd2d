/**
 * The `stateless` http-01 solver (RFC 8555 §8.3): `present` and `cleanUp` do nothing, because every
 * responder already answers `<token>.<account thumbprint>` for any well-formed token. With
 * self-check URLs it is a {@link ChallengeWaiter} that makes sure they do before the CA is told
 * (a responder with the wrong thumbprint fails here, naming its URL, not at the CA).
 */
import type { ChallengeSolver, PendingChallenge, SolverCallOptions } from '../../../challenge-solver.js';
import type { Logger } from '../../../../logger.js';
import { assertToken } from '../../http01-solver.js';
import { Http01SelfCheck } from '../../self-check.js';

/** Options for {@link StatelessHttp01Solver}. */
export interface StatelessHttp01SolverOptions {
  selfCheck?: { urls: readonly string[]; enabled: boolean; timeoutSeconds: number };
  logger?: Logger;
}

/** An http-01 solver with nothing to present: the responders compute the answer. */
export class StatelessHttp01Solver implements ChallengeSolver {
  /** Always `http-01`. */
  readonly type = 'http-01' as const;
  /** Present only with self-check URLs. */
  readonly wait?: (challenge: PendingChallenge, options: SolverCallOptions) => Promise<void>;

  constructor(options: StatelessHttp01SolverOptions = {}) {
    const check = options.selfCheck;
    if (check !== undefined && check.enabled && check.urls.length > 0) {
      const waiter = new Http01SelfCheck({ urls: check.urls, timeoutSeconds: check.timeoutSeconds, ...(options.logger ? { logger: options.logger } : {}) });
      this.wait = (challenge, call) => waiter.wait(challenge, call);
    }
  }

  /** Checks the token's shape only: the answer needs no storing. */
  async present(challenge: PendingChallenge, options: SolverCallOptions = {}): Promise<void> {
    options.signal?.throwIfAborted();
    assertToken(challenge.token);
  }

  /** Nothing to remove. */
  async cleanUp(_challenge: PendingChallenge, options: SolverCallOptions = {}): Promise<void> {
    options.signal?.throwIfAborted();
  }
}
