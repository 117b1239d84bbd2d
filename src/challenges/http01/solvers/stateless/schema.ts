/**
 * Options of the `stateless` http-01 solver (`solvers.<name>: { type: stateless }`): nothing is
 * stored; the responders answer `<token>.<account thumbprint>` by themselves (`certpilot serve
 * --thumbprint`, or the nginx/apache lines `certpilot account show` prints). Only the self-check.
 */
import * as z from 'zod/mini';
import '../../../../zod-english.js';
import { tokenStoreSolverOptionsShape } from '../../token-store-options.js';

/** Builds the schema of the `stateless` solver's options (a new one per call; the plug-in definition builds its own on first use). */
export const statelessSchema = () => z.strictObject({
  selfCheck: tokenStoreSolverOptionsShape().selfCheck,
});
