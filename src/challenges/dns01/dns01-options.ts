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
};
