/** The `stateless` solver's plug-in definition: http-01 with nothing stored. */
import { definePlugin } from '../../../../plugins/plugin.js';
import { selfCheckKubernetesNeeds } from '../../token-store-options.js';
import { statelessSchema } from './schema.js';

/** `solvers.<name>: { type: stateless }`. */
export const plugin = definePlugin({
  id: 'stateless',
  kind: 'challenge-solver',
  challengeType: 'http-01',
  summary: 'http-01 with nothing stored: every responder answers <token>.<account thumbprint> (`certpilot serve --thumbprint`, or the nginx/apache lines of `certpilot account show`).',
  dir: 'challenges/http01/solvers/stateless',
  schema: statelessSchema,
  create: async (o, d) => {
    const [{ StatelessHttp01Solver }, { createSelfCheck }] = await Promise.all([import('./stateless-solver.js'), import('../../token-store-options.js')]);
    const waiter = await createSelfCheck(o.selfCheck, { baseDir: d.baseDir, logger: d.logger, clock: d.clock, env: d.env });
    return new StatelessHttp01Solver(waiter ? { waiter } : {});
  },
  kubernetes: (o) => selfCheckKubernetesNeeds(o.selfCheck),
});
