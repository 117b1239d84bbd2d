/**
 * What a plug-in is (DESIGN.md §1): an id (at once its folder name, config `type`, CLI value and
 * docs slug), a kind, a zod schema of its options and a factory. The registry
 * (`registry.ts`) lists them; the config schema, JSON Schema and config reference are assembled
 * from it, and `cli/compose.ts` builds plug-ins only through it.
 *
 * A factory imports its implementation with a dynamic `import()`, so a command that never uses a
 * plug-in never loads its code (ioredis, the AWS SDK, the Kubernetes client).
 */
import type { z } from 'zod';
import type { ChallengeSolver, ChallengeType } from '../challenges/challenge-solver.js';
import type { DnsProvider } from '../challenges/dns01/dns-provider.js';
import type { ChallengeTokenStore } from '../challenges/http01/challenge-token-store.js';
import type { Clock } from '../clock.js';
import type { Deployer } from '../deploy/deployer.js';
import type { Logger } from '../logger.js';
import type { Notifier } from '../notify/notifier.js';

/**
 * The kinds of plug-in. A certificate's solver may be a `challenge-solver`, a `dns-provider`
 * (wrapped in the dns-01 solver) or a `token-store` (wrapped in the store-backed http-01 solver).
 */
export type PluginKind = 'challenge-solver' | 'dns-provider' | 'token-store' | 'deployer' | 'notifier';

/** What each kind's factory returns. */
export interface PluginInstances {
  'challenge-solver': ChallengeSolver;
  'dns-provider': DnsProvider;
  'token-store': ChallengeTokenStore;
  deployer: Deployer;
  notifier: Notifier;
}

/** What a factory gets besides its own options. */
export interface PluginDeps {
  /** The instance's name in the configuration (`solvers.<name>`, `deployers.<name>`, `notifiers.<name>`). */
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

/** One plug-in: id, kind, options schema and factory. */
export interface PluginDefinition<K extends PluginKind = PluginKind, S extends z.ZodObject = z.ZodObject> {
  /** Folder name, config `type`, CLI value and docs slug, e.g. `route53`. */
  readonly id: string;
  readonly kind: K;
  /** One line for the docs' plug-in list. */
  readonly summary: string;
  /** The plug-in's folder, relative to `src/` (a test keeps registry and folders the same set). */
  readonly dir: string;
  /** For kind `challenge-solver`: the challenge type it answers (the other solver kinds imply theirs). */
  readonly challengeType?: ChallengeType;
  /** Options besides `type`, with descriptions and defaults (a `z.strictObject`). */
  readonly schema: S;
  /** Builds an instance; does no network I/O (the first call does). */
  create(options: z.output<S>, deps: PluginDeps): Promise<PluginInstances[K]>;
}

/** Declares a plug-in with its option types inferred from the schema. */
export function definePlugin<K extends PluginKind, S extends z.ZodObject>(definition: PluginDefinition<K, S>): PluginDefinition<K, S> {
  return definition;
}

/** The challenge type a solver plug-in answers: dns-01 for DNS providers, http-01 for token stores. */
export function challengeTypeOf(plugin: PluginDefinition): ChallengeType | undefined {
  if (plugin.kind === 'dns-provider') return 'dns-01';
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
