/** The `webroot` solver's plug-in definition: http-01 by a token file under a served directory. */
import { resolve } from 'node:path';
import { definePlugin } from '../../../../plugins/plugin.js';
import { selfCheckKubernetesNeeds } from '../../token-store-options.js';
import { webrootSchema } from './schema.js';

/** `solvers.<name>: { type: webroot }`. */
export const plugin = definePlugin({
  id: 'webroot',
  kind: 'challenge-solver',
  challengeType: 'http-01',
  summary: 'http-01 answered by writing the token file under a directory your web server already serves.',
  dir: 'challenges/http01/solvers/webroot',
  schema: webrootSchema,
  create: async (o, d) => {
    const [{ WebrootHttp01Solver }, { createSelfCheck }] = await Promise.all([import('./webroot-solver.js'), import('../../token-store-options.js')]);
    const selfCheck = await createSelfCheck(o.selfCheck, { baseDir: d.baseDir, logger: d.logger, clock: d.clock, env: d.env });
    return new WebrootHttp01Solver({
      webroot: resolve(d.baseDir, o.path),
      name: d.name,
      allowSharedDir: o.allowSharedDir,
      allowSharedField: `solvers.${d.name}.allowSharedDir`,
      journalDir: resolve(d.stateDir, 'http01-webroot', d.name),
      ...(selfCheck ? { selfCheck } : {}),
      logger: d.logger,
    });
  },
  kubernetes: (o) => selfCheckKubernetesNeeds(o.selfCheck),
});
