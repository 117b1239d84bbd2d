/**
 * Options every DNS-provider solver has besides its provider's own (`solvers.<name>` with a
 * `type` of kind dns-provider): how the dns-01 solver around the provider behaves.
 */
import { z } from 'zod';
import type { ChallengeSolver } from '../challenge-solver.js';
import type { DnsProvider } from './dns-provider.js';

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

/** The dns-01 solver's own options, as validated. */
export type Dns01Options = z.output<z.ZodObject<typeof dns01OptionsShape>>;

/** Wraps a DNS provider in the dns-01 solver with the entry's dns-01 options. */
export async function createDns01Solver(
  provider: DnsProvider,
  options: Dns01Options,
): Promise<ChallengeSolver> {
  const { Dns01Solver } = await import('./dns01-solver.js');
  return new Dns01Solver({ provider, ttlSeconds: options.ttlSeconds });
}
