/** The `route53` DNS provider's plug-in definition: dns-01 in an Amazon Route 53 hosted zone. */
import { definePlugin } from '../../../../plugins/plugin.js';
import { route53Schema } from './schema.js';

/** `solvers.<name>: { type: route53 }` (wrapped in the dns-01 solver). */
export const plugin = definePlugin({
  id: 'route53',
  kind: 'dns-provider',
  summary: 'dns-01 in an Amazon Route 53 hosted zone; credentials from the AWS SDK chain; `certpilot route53 policy` prints a least-privilege IAM policy.',
  dir: 'challenges/dns01/providers/route53',
  schema: route53Schema,
  create: async (o, d) => {
    const { createRoute53DnsProvider } = await import('./route53-dns-provider.js');
    return createRoute53DnsProvider(o, d);
  },
  // The SDK commands route53-dns-provider.ts sends (a registry test compares the two sets).
  iam: (o) => [
    { action: 'route53:ChangeResourceRecordSets', resource: 'hosted-zone', scope: 'acme-challenge-txt', why: 'UPSERT and DELETE of the _acme-challenge TXT value' },
    { action: 'route53:ListResourceRecordSets', resource: 'hosted-zone', why: 'read the TXT record set, so other values are kept' },
    { action: 'route53:GetChange', resource: 'change', why: 'wait until the change is INSYNC' },
    ...(o.hostedZoneId ? [] : [{ action: 'route53:ListHostedZonesByName', resource: '*' as const, why: 'find the zone of a name when no hostedZoneId is configured' }]),
  ],
});
