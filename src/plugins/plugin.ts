/**
 * What a plug-in is (DESIGN.md §1): an id (at once its folder name, config `type`, CLI value and
 * docs slug), a kind (a row of the table in `plugin-kinds.ts`), a zod schema of its options, a
 * factory, and what it needs from the platforms it calls: the Kubernetes RBAC rules and the AWS IAM
 * actions, declared beside the code that makes the calls so `kubernetes check`, `route53 policy`
 * and the manifests generator can never drift from it.
 *
 * Each plug-in folder holds a `plugin.ts` that does `export const plugin = definePlugin({...})`;
 * the registry (`registry.ts`) is the list of them. A factory imports its implementation with a
 * dynamic `import()`, so a command that never uses a plug-in never loads its code (ioredis, the AWS
 * SDK, the Kubernetes client).
 */
import type * as z from 'zod/mini';
import type { ChallengeSolver, ChallengeType } from '../challenges/challenge-solver.js';
import type { DnsProvider } from '../challenges/dns01/dns-provider.js';
import type { ChallengeTokenStore } from '../challenges/http01/challenge-token-store.js';
import type { Clock } from '../clock.js';
import type { Locker } from '../coordination/locker.js';
import type { Deployer } from '../deploy/deployer.js';
import type { KubernetesConnectionOptions } from '../kubernetes/connection-options.js';
import type { Logger } from '../logger.js';
import type { Notifier } from '../notify/notifier.js';
import type { CertpilotStore } from '../storage/state-store.js';

/**
 * The kinds of plug-in; each is one row of {@link PLUGIN_KINDS} in `plugin-kinds.ts`. A
 * certificate's solver may be a `challenge-solver`, a `dns-provider` (wrapped in the dns-01 solver)
 * or a `token-store` (wrapped in the store-backed http-01 solver).
 */
export type PluginKind = 'challenge-solver' | 'dns-provider' | 'token-store' | 'deployer' | 'locker' | 'state-store' | 'notifier';

/** What each kind's factory returns (a new kind adds its row here and in `plugin-kinds.ts`). */
export interface PluginInstances {
  'challenge-solver': ChallengeSolver;
  'dns-provider': DnsProvider;
  'token-store': ChallengeTokenStore;
  deployer: Deployer;
  locker: Locker;
  'state-store': CertpilotStore;
  notifier: Notifier;
}

/** What a factory gets besides its own options. */
export interface PluginDeps {
  /** The instance's name in the configuration (`solvers.<name>`, `deployers.<name>`, `notifiers.<name>`, the section's name for a single instance). */
  name: string;
  logger: Logger;
  clock: Clock;
  /** Directory relative paths in the options are resolved against (the config file's). */
  baseDir: string;
  /** certpilot's state directory. */
  stateDir: string;
  /**
   * certpilot's own environment, for plug-ins that start programs (the `hook` deployer passes on
   * only the variables its `passEnv` names: PATH, HOME, LANG…). Only cli/ fills it.
   */
  env?: Readonly<Record<string, string | undefined>>;
}

/** One rule of a Kubernetes Role, as `rbac.authorization.k8s.io/v1` writes it. */
export interface RbacRule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
  /** Limits the rule to these objects (never with `create` or `list`: the API server cannot limit those by name). */
  resourceNames?: string[];
  /**
   * The code calls these verbs only while this Secret does not exist (a deployer creating its
   * Secret the first time). The manifests grant the rule all the same (they must work as
   * generated, before the Secret exists); `kubernetes check` asks about it only when the Secret is
   * absent (or cannot be read), since an existing Secret is never created again.
   */
  untilSecretExists?: string;
}

/** What the configuration says about where a plug-in is used, for its declarations. */
export interface PluginUse {
  /** The certificate names that use this instance (a locker, a state store: every certificate). */
  certificates: readonly string[];
  /** The ACME directories whose accounts a state store keeps (the configured one and the dry runs'). */
  directories?: readonly string[];
}

/** The Kubernetes access a plug-in instance needs: where, and which Role rules. */
export interface KubernetesNeeds {
  connection: KubernetesConnectionOptions;
  rules: RbacRule[];
}

/**
 * One AWS IAM action a plug-in's code calls, and on what. `scope` narrows it with condition keys
 * the policy builder of that service knows (route53: only `_acme-challenge` TXT records).
 */
export interface IamAction {
  action: string;
  /** `hosted-zone`: the configured zone (or every zone); `change`: Route 53 change ids; `*`: no resource-level permissions. */
  resource: 'hosted-zone' | 'change' | '*';
  scope?: 'acme-challenge-txt';
  /** Why the code calls it (printed by nothing; read by reviewers). */
  why: string;
}

/** One plug-in: id, kind, options schema, factory, and the platform access it needs. */
export interface PluginDefinition<K extends PluginKind = PluginKind, S extends z.ZodMiniObject = z.ZodMiniObject, I extends string = string> {
  /** Folder name, config `type`, CLI value and docs slug, e.g. `route53`. */
  readonly id: I;
  readonly kind: K;
  /** One line for the docs' plug-in list. */
  readonly summary: string;
  /** The plug-in's folder, relative to `src/` (a test keeps registry and folders the same set). */
  readonly dir: string;
  /** For kind `challenge-solver`: the challenge type it answers (the other solver kinds imply theirs). */
  readonly challengeType?: ChallengeType;
  /** Options besides `type`, with descriptions and defaults (a `z.strictObject`), built on the first read (`definePlugin`). */
  readonly schema: S;
  /** Builds an instance; does no network I/O (the first call does). */
  create(options: z.output<S>, deps: PluginDeps): Promise<PluginInstances[K]>;
  /**
   * The Kubernetes Role rules this instance's code needs with these options, derived from the
   * calls it makes through `kubernetes/kubernetes-client.ts` (and the namespace it makes them in).
   */
  kubernetes?(options: z.output<S>, use: PluginUse): KubernetesNeeds | undefined;
  /**
   * For kind `deployer`: its instances implement `DeployVerifier` (`deploy/deployer.ts`) with one
   * small read, so a nothing-due run (and `status`) builds them to check that the target still
   * holds the live version: the `files` deployer (one local read, nothing else loaded), the
   * `kubernetes-secret` deployer (one GET of its Secret, which loads the Kubernetes client).
   * Deployers without it are trusted by their deploy record.
   */
  readonly verifiesDeploy?: boolean;
  /** The AWS IAM actions its code calls (the SDK commands it sends), with these options. */
  iam?(options: z.output<S>): IamAction[];
  /**
   * Options whose plain value is a credential (besides `password`, `secret` and `hmacKey`, which
   * every plug-in reads from their `…File` form), each with the option that reads it from a file:
   * `certpilot kubernetes manifests` moves such a value into a Secret and sets the file option.
   */
  readonly credentialOptions?: Readonly<Record<string, string>>;
}

/**
 * Declares a plug-in with its id and option types inferred from the definition. `schema` is given
 * as a function that builds it, and is built on the first read of the definition's `schema`: a
 * command builds only the option schemas of the plug-ins its configuration names (building every
 * plug-in's zod schema costs ~50 ms of CPU and MiBs of heap on each start, bench/findings.md).
 */
export function definePlugin<K extends PluginKind, S extends z.ZodMiniObject, I extends string>(
  definition: Omit<PluginDefinition<K, S, I>, 'schema'> & { readonly schema: () => S },
): PluginDefinition<K, S, I> {
  const { schema: build, ...rest } = definition;
  let built: S | undefined;
  return {
    ...rest,
    get schema(): S {
      return (built ??= build());
    },
  };
}

/**
 * The challenge type a solver plug-in answers: http-01 for token stores; for DNS providers dns-01,
 * or the `challenge` option of the wrapping dns-01 solver when given (`dns-account-01`).
 */
export function challengeTypeOf(plugin: Pick<PluginDefinition, 'kind' | 'challengeType'>, wrapper?: Readonly<{ challenge?: unknown }>): ChallengeType | undefined {
  if (plugin.kind === 'dns-provider') return wrapper?.challenge === 'dns-account-01' ? 'dns-account-01' : 'dns-01';
  if (plugin.kind === 'token-store') return 'http-01';
  return plugin.kind === 'challenge-solver' ? plugin.challengeType : undefined;
}

/** Optional: an instance that holds connections or listeners and must be closed after the run. */
export interface ClosablePlugin {
  close(): Promise<void>;
}

/** Type guard for {@link ClosablePlugin}. */
export function isClosablePlugin(value: unknown): value is ClosablePlugin {
  return typeof (value as Partial<ClosablePlugin> | null)?.close === 'function';
}
