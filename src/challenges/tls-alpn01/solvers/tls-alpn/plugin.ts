/** The `tls-alpn` solver plug-in: tls-alpn-01 answered on certpilot's own TLS listener. */
import { definePlugin } from '../../../../plugins/plugin.js';
import { tlsAlpnSchema } from './schema.js';

/** `type: tls-alpn`. */
export const plugin = definePlugin({
  id: 'tls-alpn',
  kind: 'challenge-solver',
  challengeType: 'tls-alpn-01',
  summary: 'tls-alpn-01 (RFC 8737) answered by certpilot on its own TLS listener (port 443 by default), for hosts where port 80 is closed; answers only `acme-tls/1`.',
  dir: 'challenges/tls-alpn01/solvers/tls-alpn',
  schema: tlsAlpnSchema,
  create: async (o, d) => {
    const { TlsAlpnSolver } = await import('./tls-alpn-solver.js');
    return new TlsAlpnSolver({ port: o.port, ...(o.host ? { host: o.host } : {}), clock: d.clock, logger: d.logger });
  },
});
