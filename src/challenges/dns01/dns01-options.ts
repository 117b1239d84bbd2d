/**
 * Options every DNS-provider solver has besides its provider's own (`solvers.<name>` with a
 * `type` of kind dns-provider): how the dns-01 solver around the provider behaves.
 */
import { join } from 'node:path';
import * as z from 'zod/mini';
import '../../zod-english.js';
import { lazy } from '../../lazy.js';
import type { ChallengeSolver } from '../challenge-solver.js';
import type { Clock } from '../../clock.js';
import type { Logger } from '../../logger.js';
import type { DnsProvider } from './dns-provider.js';
import type { PropagationProgress } from './propagation.js';

/** The dns-01 solver's own options, merged into every DNS provider's solver entry. */
export const dns01OptionsShape = lazy(() => ({
  challenge: z
    ._default(z.enum(['dns-01', 'dns-account-01']), 'dns-01')
    .check(z.describe('Which DNS challenge this solver answers: `dns-01` writes `_acme-challenge.<name>`; `dns-account-01` (draft-ietf-acme-dns-account-label) writes `_<account label>._acme-challenge.<name>`, a name of its own per ACME account, so several clusters or CAs can prove one name at once.')),
  ttlSeconds: z._default(z.number().check(z.int(), z.gte(1), z.lte(86400)), 60).check(z.describe('TTL of the `_acme-challenge` TXT records.')),
  propagationTimeoutSeconds: z
    ._default(z.number().check(z.int(), z.gte(1), z.lte(3600)), 120)
    .check(z.describe('Longest wait for every authoritative nameserver to serve the TXT value before the CA is told to validate.')),
  propagationCheck: z
    ._default(z.boolean(), true)
    .check(z.describe('Ask every authoritative nameserver of the zone (IPv4 and IPv6) for the TXT value before telling the CA; false tells the CA at once.')),
  resolvers: z
    .optional(z.array(z.string().check(z.minLength(1))))
    .check(z.describe('Resolvers (`address` or `address:port`, `[v6]:port`) used to follow CNAMEs and find the zone, its nameservers and their addresses; default the system resolvers. Set it for split-horizon DNS.')),
  nameserverPort: z
    ._default(z.number().check(z.int(), z.gte(1), z.lte(65535)), 53)
    .check(z.describe('Port the authoritative nameservers are asked on (tests and unusual setups only).')),
  followCname: z
    ._default(z.boolean(), true)
    .check(z.describe('When `_acme-challenge.<name>` is a CNAME (acme-dns, a validation zone), write the TXT record at its target.')),
}));

/** The dns-01 solver's own options, as validated. */
export type Dns01Options = z.output<z.ZodMiniObject<ReturnType<typeof dns01OptionsShape>>>;

/** What the dns-01 solver takes from its surroundings (compose passes the run's logger and clock). */
export interface Dns01SolverDeps {
  logger?: Logger;
  clock?: Clock;
  /** Called after every propagation round (tests record the order of events with it). */
  onProgress?: (progress: PropagationProgress) => void;
  /** certpilot's state directory and the solver's name: the journal of written values goes to `<stateDir>/dns01-records/<name>`. */
  stateDir?: string;
  name?: string;
}

/**
 * Wraps a DNS provider in the dns-01 solver with the entry's dns-01 options: CNAME following and
 * the propagation check at every authoritative nameserver, unless switched off.
 */
export async function createDns01Solver(provider: DnsProvider, options: Dns01Options, deps: Dns01SolverDeps = {}): Promise<ChallengeSolver> {
  const [{ Dns01Solver }, { PropagationChecker }, { parseDnsServer }, { systemClock }, { silentLogger }] = await Promise.all([
    import('./dns01-solver.js'),
    import('./propagation.js'),
    import('./dns-client.js'),
    import('../../clock.js'),
    import('../../logger.js'),
  ]);
  const logger = deps.logger ?? silentLogger;
  // The checker also follows CNAMEs, so it exists whenever either is on.
  const propagation =
    options.propagationCheck || options.followCname
    ? new PropagationChecker({
        ...(options.resolvers ? { resolvers: options.resolvers.map((r) => parseDnsServer(r)) } : {}),
        nameserverPort: options.nameserverPort,
        timeoutMs: options.propagationTimeoutSeconds * 1000,
        clock: deps.clock ?? systemClock,
        logger,
        ...(deps.onProgress ? { onProgress: deps.onProgress } : {}),
      })
    : undefined;
  return new Dns01Solver({
    provider,
    type: options.challenge,
    ttlSeconds: options.ttlSeconds,
    ...(propagation ? { propagation } : {}),
    checkPropagation: options.propagationCheck,
    followCname: options.followCname,
    ...(deps.stateDir !== undefined && deps.name !== undefined ? { journalDir: join(deps.stateDir, 'dns01-records', deps.name) } : {}),
    logger,
  });
}
