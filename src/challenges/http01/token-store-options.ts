/**
 * Options every token-store solver has besides its store's own (`solvers.<name>` with a `type` of
 * kind token-store): how the store-backed http-01 solver around the store behaves.
 */
import { z } from 'zod';
import type { ChallengeSolver } from '../challenge-solver.js';
import type { ChallengeTokenStore } from './challenge-token-store.js';

/** The store-backed http-01 solver's own options, merged into every token store's solver entry. */
export const tokenStoreSolverOptionsShape = {
  ttlSeconds: z
    .number()
    .int()
    .min(60)
    .max(86400)
    .default(3600)
    .describe('How long a token stays readable: long enough for every CA vantage point and its retries. Tokens are deleted on cleanup anyway.'),
};

/** The store-backed http-01 solver's own options, as validated. */
export type TokenStoreSolverOptions = z.output<z.ZodObject<typeof tokenStoreSolverOptionsShape>>;

/** Wraps a token store in the store-backed http-01 solver with the entry's options. */
export async function createTokenStoreSolver(
  store: ChallengeTokenStore,
  options: TokenStoreSolverOptions,
): Promise<ChallengeSolver> {
  const { Http01Solver } = await import('./http01-solver.js');
  return new Http01Solver({ store, ttlSeconds: options.ttlSeconds });
}
