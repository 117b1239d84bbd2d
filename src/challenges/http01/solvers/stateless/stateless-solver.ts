/**
 * The `stateless` http-01 solver (RFC 8555 §8.3): `present` and `cleanUp` do nothing, because every
 * responder already answers `<token>.<account thumbprint>` for any well-formed token. With
 * a self-check (URLs or pods) it is a {@link ChallengeWaiter} that makes sure they do before the CA is told
 * (a responder with the wrong thumbprint fails here, naming its URL, not at the CA).
 */
import type { ChallengeSolver, ChallengeWaiter, PendingChallenge, SolverCallOptions } from '../../../challenge-solver.js';
import { assertToken } from '../../http01-solver.js';

/** Options for {@link StatelessHttp01Solver}. */
export interface StatelessHttp01SolverOptions {
  /** The self-check (`createSelfCheck`), waited on before the CA is told. */
  waiter?: ChallengeWaiter;
}

/** An http-01 solver with nothing to present: the responders compute the answer. */
export class StatelessHttp01Solver implements ChallengeSolver {
  /** Always `http-01`. */
  readonly type = 'http-01' as const;
  /** Present only with a self-check. */
  readonly wait?: (challenge: PendingChallenge, options: SolverCallOptions) => Promise<void>;

  constructor(options: StatelessHttp01SolverOptions = {}) {
    const waiter = options.waiter;
    if (waiter !== undefined) this.wait = (challenge, call) => waiter.wait(challenge, call);
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
