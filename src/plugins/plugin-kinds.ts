/**
 * The one table of plug-in kinds (DESIGN.md §1). For each kind: the configuration section its
 * instances live in, what certpilot wraps around it (a DNS provider is wrapped in the dns-01
 * solver, whose options its entries also take), its contract suite in `src/testing/`, and its
 * heading in the docs. The config schema, the JSON Schema, the config reference, `compose.ts` and
 * the registry test are all derived from this table and the registry, never from a list of kinds
 * of their own.
 *
 * Adding a kind is: one row in {@link PLUGIN_KINDS}, its section in
 * {@link CONFIG_SECTIONS} when it has a new one, its instance type in `PluginInstances`
 * (`plugin.ts`), and its plug-in folders. A kind with no registered plug-in adds no section.
 */
import type * as z from 'zod/mini';
import { createDns01Solver, dns01OptionsShape, type Dns01Options } from '../challenges/dns01/dns01-options.js';
import { createTokenStoreSolver, selfCheckKubernetesNeeds, tokenStoreSolverOptionsShape, type TokenStoreSolverOptions } from '../challenges/http01/token-store-options.js';
import type { Clock } from '../clock.js';
import type { Logger } from '../logger.js';
import type { DnsProvider } from '../challenges/dns01/dns-provider.js';
import type { ChallengeTokenStore } from '../challenges/http01/challenge-token-store.js';
import { createFilteredNotifier, notifyOptionsShape, type NotifyOptions } from '../notify/notify-options.js';
import type { Notifier } from '../notify/notifier.js';
import type { KubernetesNeeds, PluginDefinition, PluginKind, PluginUse } from './plugin.js';
import type { PLUGINS } from './registry.js';

/** The options of the solver certpilot wraps around a plug-in of some kinds. */
export interface WrapperOptions {
  'dns-provider': Dns01Options;
  'token-store': TokenStoreSolverOptions;
  notifier: NotifyOptions;
}

/** What certpilot wraps around a plug-in of a kind, and the options that wrapper takes. */
export interface KindWrapper<W = unknown> {
  /** What the wrapper is, for the docs. */
  readonly what: string;
  /** The wrapper's options, taken from the same entry as the plug-in's (no key may be in both); built on first read. */
  readonly shape: z.core.$ZodShape;
  /** Wraps a built plug-in (imports the wrapper on first use). */
  create(inner: never, options: W, deps: WrapperDeps): Promise<unknown>;
  /** The Kubernetes access the wrapper itself needs with these options (the self-check's pod list). */
  kubernetes?(options: W, use: PluginUse): KubernetesNeeds | undefined;
}

/** What a wrapper gets besides the plug-in and its options. */
export interface WrapperDeps {
  baseDir: string;
  logger: Logger;
  clock: Clock;
  /** certpilot's environment (only cli/ fills it): the in-cluster API server address, for one. */
  env?: Readonly<Record<string, string | undefined>> | undefined;
  /** certpilot's state directory (journals of what a solver presented live under it). */
  stateDir?: string;
  /** The instance's name in the configuration (`solvers.<name>`). */
  name?: string;
}

/** One row of the table. */
export interface PluginKindSpec<W = unknown> {
  /** The configuration section (a key of {@link CONFIG_SECTIONS}). */
  readonly section: SectionName;
  /** Heading of the kind in docs/plugins.md. */
  readonly title: string;
  /** What certpilot wraps around it, if anything. */
  readonly wraps?: KindWrapper<W>;
  /** The contract suite every plug-in of this kind passes (a file under `src/testing/`), if any. */
  readonly contract?: string;
}

/** One configuration section holding plug-in instances. */
export interface ConfigSectionSpec {
  /** `named`: a map of named instances (`solvers.<name>`); `single`: one instance (`locker:`). */
  readonly shape: 'named' | 'single';
  /** The section's description in the schema and the reference. */
  readonly description: string;
  /** Named sections: instances that exist unless the file defines one of that name. Single sections: the instance when the section is absent. */
  readonly builtIn?: Readonly<Record<string, Readonly<{ type: string } & Record<string, unknown>>>>;
  /** Single sections: the default instance, as written in YAML. */
  readonly default?: Readonly<{ type: string } & Record<string, unknown>>;
  /** The word for one instance in messages (`solver`, `deployer`, `locker`). */
  readonly noun: string;
}

/** The configuration sections that hold plug-ins, in the order the reference lists them. */
export const CONFIG_SECTIONS = {
  solvers: {
    shape: 'named',
    noun: 'solver',
    description: 'Named challenge solvers. A solver named `default` of type `standalone` (port 80) exists unless you define one.',
    builtIn: { default: { type: 'standalone', port: 80 } },
  },
  deployers: {
    shape: 'named',
    noun: 'deployer',
    description: 'Named deployers: where each new certificate version goes after it is saved (files, hook, Kubernetes…).',
  },
  locker: {
    shape: 'single',
    noun: 'locker',
    description:
      'How two certpilot processes keep from renewing one certificate at once: `file` (lock files under stateDir; one host or a shared volume, the default) or `lease` (a Kubernetes Lease per certificate; any node of any zone).',
    default: { type: 'file' },
  },
  stateStore: {
    shape: 'single',
    noun: 'state store',
    description:
      'Where accounts, certificates and renewal state are kept: `filesystem` (`stateDir` in certbot layout, the default) or `kubernetes-secret` (Secrets in a namespace; no volume needed). Locks and caches stay in `stateDir` either way. `certpilot state copy` moves state between stores.',
    default: { type: 'filesystem' },
  },
  notifiers: {
    shape: 'named',
    noun: 'notifier',
    description:
      'Named notifiers (webhook, e-mail): who hears about failed renewals and deploys (and, if asked, successes and certificates about to expire). Certificates name theirs in `notify` (or `defaults.notify`). A notifier that fails never fails a renewal.',
  },
} as const satisfies Record<string, ConfigSectionSpec>;

/** A configuration section that holds plug-ins. */
export type SectionName = keyof typeof CONFIG_SECTIONS;

/** The table: one row per kind. */
export const PLUGIN_KINDS = {
  'challenge-solver': { section: 'solvers', title: 'Challenge solvers' },
  'token-store': {
    section: 'solvers',
    title: 'Token stores for http-01 across many pods',
    contract: 'testing/token-store-contract.ts',
    wraps: {
      what: 'the store-backed http-01 solver',
      get shape() {
        return tokenStoreSolverOptionsShape();
      },
      create: (store: ChallengeTokenStore, o: TokenStoreSolverOptions, d: WrapperDeps) => createTokenStoreSolver(store, o, d),
      kubernetes: (o: TokenStoreSolverOptions) => selfCheckKubernetesNeeds(o.selfCheck),
    } satisfies KindWrapper<TokenStoreSolverOptions>,
  },
  'dns-provider': {
    section: 'solvers',
    title: 'DNS providers for dns-01',
    contract: 'testing/dns-provider-contract.ts',
    wraps: {
      what: 'the dns-01 solver (CNAME following, propagation check)',
      get shape() {
        return dns01OptionsShape();
      },
      create: (provider: DnsProvider, o: Dns01Options, d: WrapperDeps) => createDns01Solver(provider, o, d),
    } satisfies KindWrapper<Dns01Options>,
  },
  deployer: { section: 'deployers', title: 'Deployers', contract: 'testing/deployer-contract.ts' },
  locker: { section: 'locker', title: 'Lockers', contract: 'testing/locker-contract.ts' },
  'state-store': { section: 'stateStore', title: 'State stores', contract: 'testing/state-store-contract.ts' },
  notifier: {
    section: 'notifiers',
    title: 'Notifiers',
    wraps: {
      what: 'the event filter (which lifecycle events reach it)',
      get shape() {
        return notifyOptionsShape();
      },
      create: (notifier: Notifier, o: NotifyOptions) => createFilteredNotifier(notifier, o),
    } satisfies KindWrapper<NotifyOptions>,
  },
} as const satisfies Record<PluginKind, PluginKindSpec<never>>;

/** The row of a kind, typed loosely (for code that walks the table). */
export function kindSpec(kind: PluginKind): PluginKindSpec<unknown> {
  return PLUGIN_KINDS[kind] as PluginKindSpec<unknown>;
}

/** The kinds whose instances live in a section, in table order. */
export function kindsInSection(section: SectionName): PluginKind[] {
  return (Object.keys(PLUGIN_KINDS) as PluginKind[]).filter((k) => PLUGIN_KINDS[k].section === section);
}

/** The section spec, typed loosely. */
export function sectionSpec(section: SectionName): ConfigSectionSpec {
  return CONFIG_SECTIONS[section];
}

// --- the typed, normalized instances the configuration hands to compose ---------------------------

/** Any registered plug-in definition, with its literal id, kind and schema types. */
export type RegisteredPlugin = (typeof PLUGINS)[number];

type WrapperOf<K> = K extends keyof WrapperOptions ? { readonly wrapper: WrapperOptions[K] } : { readonly wrapper?: undefined };

/**
 * One configured instance, normalized: the plug-in id, its kind, the plug-in's own options as its
 * schema outputs them, and the wrapper's options (a DNS provider's dns-01 options) apart.
 */
export type PluginInstanceConfig<P = RegisteredPlugin> =
  P extends PluginDefinition<infer K, infer S, infer I> ? { readonly type: I; readonly kind: K; readonly options: z.output<S> } & WrapperOf<K> : never;

/** The instances of the plug-ins of some kinds. */
export type InstanceOfKind<K extends PluginKind> = PluginInstanceConfig<Extract<RegisteredPlugin, { kind: K }>>;

type KindsIn<S extends SectionName> = { [K in PluginKind]: (typeof PLUGIN_KINDS)[K]['section'] extends S ? K : never }[PluginKind];

/** The value of a section in the resolved configuration: a map of named instances, or one. */
export type SectionValue<S extends SectionName> = (typeof CONFIG_SECTIONS)[S]['shape'] extends 'named'
  ? Readonly<Record<string, InstanceOfKind<KindsIn<S>>>>
  : InstanceOfKind<KindsIn<S>>;

/** Every plug-in section of the resolved configuration, typed from the table. */
export type ResolvedSections = { readonly [S in SectionName]: SectionValue<S> };
