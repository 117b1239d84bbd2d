/** The `dns-persist` solver plug-in: dns-persist-01 with a record published once; renewals write nothing. */
import { definePlugin } from '../../../../plugins/plugin.js';
import { dnsPersistSchema } from './schema.js';

/** `type: dns-persist`. */
export const plugin = definePlugin({
  id: 'dns-persist',
  kind: 'challenge-solver',
  challengeType: 'dns-persist-01',
  summary: 'dns-persist-01: a TXT record at `_validation-persist.<name>` published once (`certpilot dns-persist record --apply`); renewals need no DNS credentials, only check every nameserver serves it.',
  dir: 'challenges/dns-persist01/solvers/dns-persist',
  schema: dnsPersistSchema,
  create: async (o, d) => {
    const [{ DnsPersistSolver }, { PropagationChecker }, { parseDnsServer }] = await Promise.all([
      import('./dns-persist-solver.js'),
      import('../../../dns01/propagation.js'),
      import('../../../dns01/dns-client.js'),
    ]);
    const propagation = new PropagationChecker({
      ...(o.resolvers ? { resolvers: o.resolvers.map((r) => parseDnsServer(r)) } : {}),
      nameserverPort: o.nameserverPort,
      timeoutMs: o.propagationTimeoutSeconds * 1000,
      clock: d.clock,
      logger: d.logger,
    });
    return new DnsPersistSolver({ propagation, timeoutSeconds: o.propagationTimeoutSeconds, clock: d.clock, warnDays: o.warnDays, stateDir: d.stateDir, logger: d.logger });
  },
});
