/**
 * Options every token-store solver has besides its store's own (`solvers.<name>` with a `type` of
 * kind token-store): how the store-backed http-01 solver around the store behaves.
 */
import * as z from 'zod/mini';
import '../../zod-english.js';
import { lazy } from '../../lazy.js';
import type { ChallengeSolver, ChallengeWaiter } from '../challenge-solver.js';
import type { ChallengeTokenStore } from './challenge-token-store.js';
import type { Clock } from '../../clock.js';
import type { Logger } from '../../logger.js';
import { kubernetesConnectionShape } from '../../kubernetes/connection-options.js';
import type { KubernetesNeeds } from '../../plugins/plugin.js';
import { DEFAULT_TOKEN_TTL_SECONDS } from './http01-solver.js';

/** The store-backed http-01 solver's own options, merged into every token store's solver entry. */
export const tokenStoreSolverOptionsShape = lazy(() => ({
  ttlSeconds: z
    ._default(z.number().check(z.int(), z.gte(60), z.lte(86400)), DEFAULT_TOKEN_TTL_SECONDS)
    .check(z.describe('How long a token stays readable: long enough for every CA vantage point and its retries. Tokens are deleted on cleanup anyway.')),
  selfCheck: z
    ._default(z.strictObject({
      urls: z
        ._default(z.array(z.string().check(z.regex(/^https?:\/\/\S+$/, 'expected an http:// or https:// URL'))), [])
        .check(z.describe('Base URLs to fetch each token through before the CA is told (each pod, or the public name); {name} becomes the name validated. Sent with Host: <name>.')),
      pods: z
        .optional(z.strictObject({
          selector: z.string().check(z.minLength(1), z.describe('Label selector of the pods that answer http-01, e.g. `app=www`.')),
          port: z._default(z.number().check(z.int(), z.gte(1), z.lte(65535)), 80).check(z.describe('Port the responder listens on in each pod.')),
          scheme: z._default(z.enum(['http', 'https']), 'http').check(z.describe('http, or https for a responder behind TLS in the pod.')),
          ...kubernetesConnectionShape(),
        }))
        .check(z.describe('Also check every running pod of this selector at its pod IP (listed anew for each challenge; needs `list` on pods).')),
      enabled: z._default(z.boolean(), true).check(z.describe('Check before telling the CA (only when urls or pods are given).')),
      timeoutSeconds: z._default(z.number().check(z.int(), z.gte(1), z.lte(600)), 60).check(z.describe('How long every URL has to answer the key authorization.')),
    }), { urls: [], enabled: true, timeoutSeconds: 60 })
    .check(z.describe('Self-check: fetch the token through these URLs and tell the CA only when all of them answer it.')),
}));

/** The store-backed http-01 solver's own options, as validated. */
export type TokenStoreSolverOptions = z.output<z.ZodMiniObject<ReturnType<typeof tokenStoreSolverOptionsShape>>>;

/**
 * The Kubernetes access a self-check needs: `list` on pods (through the connection of
 * `selfCheck.pods`) when it checks every pod of a selector, else none. Derived from
 * `podBaseUrls`, which only lists pods.
 */
export function selfCheckKubernetesNeeds(check: TokenStoreSolverOptions['selfCheck'] | undefined): KubernetesNeeds | undefined {
  if (check?.pods === undefined || !check.enabled) return undefined;
  const { selector: _selector, port: _port, scheme: _scheme, ...connection } = check.pods;
  return { connection, rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['list'] }] };
}

/**
 * The self-check an http-01 solver waits on before the CA is told, or undefined when none is
 * configured: the fixed `urls`, plus every running pod of `pods.selector` listed anew for each
 * challenge. Shared by the store-backed and the stateless solvers.
 */
export async function createSelfCheck(
  check: TokenStoreSolverOptions['selfCheck'] | undefined,
  deps: { baseDir?: string; logger?: Logger; clock?: Clock; env?: Readonly<Record<string, string | undefined>> | undefined } = {},
): Promise<ChallengeWaiter | undefined> {
  if (check === undefined || !check.enabled || (check.urls.length === 0 && check.pods === undefined)) return undefined;
  const { Http01SelfCheck } = await import('./self-check.js');
  let discover: ((signal?: AbortSignal) => Promise<string[]>) | undefined;
  if (check.pods !== undefined) {
    const pods = check.pods;
    // The one Kubernetes adapter, loaded only when a selector is configured.
    const [{ KubernetesClient }, { podBaseUrls }] = await Promise.all([import('../../kubernetes/kubernetes-client.js'), import('../../kubernetes/pod-urls.js')]);
    const client = new KubernetesClient(pods, deps.baseDir ?? '.', deps.env);
    discover = () => podBaseUrls(client, pods);
  }
  return new Http01SelfCheck({
    urls: check.urls,
    ...(discover ? { discover } : {}),
    timeoutSeconds: check.timeoutSeconds,
    ...(deps.logger ? { logger: deps.logger } : {}),
    ...(deps.clock ? { clock: deps.clock } : {}),
  });
}

/**
 * Wraps a token store in the store-backed http-01 solver with the entry's options. A store that can
 * check its backend (Redis `PING`) is checked here, when the certificate's solvers are made, so an
 * unreachable store fails the run before any order is placed.
 */
export async function createTokenStoreSolver(
  store: ChallengeTokenStore,
  options: TokenStoreSolverOptions,
  deps: { baseDir?: string; logger?: Logger; clock?: Clock; env?: Readonly<Record<string, string | undefined>> | undefined } = {},
): Promise<ChallengeSolver> {
  const [{ Http01Solver }, { isHealthCheckedStore }] = await Promise.all([import('./http01-solver.js'), import('./challenge-token-store.js')]);
  if (isHealthCheckedStore(store)) await store.check();
  const waiter = await createSelfCheck(options.selfCheck, deps);
  return new Http01Solver({ store, ttlSeconds: options.ttlSeconds, ...(waiter ? { waiter } : {}) });
}
