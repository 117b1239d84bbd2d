/** The `rfc2136` DNS provider's plug-in definition: dns-01 by DNS UPDATE signed with TSIG. */
import { definePlugin } from '../../../../plugins/plugin.js';
import { rfc2136Schema } from './schema.js';

/** `solvers.<name>: { type: rfc2136 }` (wrapped in the dns-01 solver). */
export const plugin = definePlugin({
  id: 'rfc2136',
  kind: 'dns-provider',
  summary: 'dns-01 through DNS UPDATE (RFC 2136) signed with a TSIG key (hmac-sha256, hmac-sha512): BIND, Knot, PowerDNS.',
  dir: 'challenges/dns01/providers/rfc2136',
  schema: rfc2136Schema,
  create: async (o, d) => {
    const { createRfc2136DnsProvider } = await import('./rfc2136-dns-provider.js');
    return createRfc2136DnsProvider(o, d);
  },
});
