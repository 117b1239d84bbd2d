/**
 * Options every DNS-provider solver has besides its provider's own (`solvers.<name>` with a
 * `type` of kind dns-provider): how the dns-01 solver around the provider behaves.
 */
import { z } from 'zod';

/** The dns-01 solver's own options, merged into every DNS provider's solver entry. */
export const dns01OptionsShape = {
  ttlSeconds: z.number().int().min(1).max(86400).default(60).describe('TTL of the `_acme-challenge` TXT records.'),
  propagationTimeoutSeconds: z
    .number()
    .int()
    .min(1)
    .max(3600)
    .default(120)
    .describe('Longest wait for every authoritative nameserver to serve the TXT value before the CA is told to validate.'),
  propagationCheck: z
    .boolean()
    .default(true)
    .describe('Ask every authoritative nameserver of the zone (IPv4 and IPv6) for the TXT value before telling the CA; false tells the CA at once.'),
  resolvers: z
    .array(z.string().min(1))
    .optional()
    .describe('Resolvers (`address` or `address:port`, `[v6]:port`) used to follow CNAMEs and find the zone, its nameservers and their addresses; default the system resolvers. Set it for split-horizon DNS.'),
  nameserverPort: z
    .number()
    .int()
    .min(1)
    .max(65535)
    .default(53)
    .describe('Port the authoritative nameservers are asked on (tests and unusual setups only).'),
  followCname: z
    .boolean()
    .default(true)
    .describe('When `_acme-challenge.<name>` is a CNAME (acme-dns, a validation zone), write the TXT record at its target.'),
};

/** The dns-01 solver options after validation. */
export type Dns01Options = z.output<z.ZodObject<typeof dns01OptionsShape>>;
