/** The `standalone` solver's plug-in definition: http-01 on certpilot's own listener. */
import { definePlugin } from '../../../../plugins/plugin.js';
import { standaloneSchema } from './schema.js';

/** `solvers.<name>: { type: standalone }`. */
export const plugin = definePlugin({
  id: 'standalone',
  kind: 'challenge-solver',
  challengeType: 'http-01',
  summary: 'http-01 answered by certpilot on its own listener (port 80 by default); the embedded default.',
  dir: 'challenges/http01/solvers/standalone',
  schema: standaloneSchema,
  create: async (o, d) => {
    const { StandaloneHttp01Solver } = await import('./standalone-solver.js');
    return new StandaloneHttp01Solver({ port: o.port, ...(o.host ? { host: o.host } : {}), logger: d.logger, clock: d.clock });
  },
});
