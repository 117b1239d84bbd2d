/**
 * The composition root: the only place that constructs plug-ins (DESIGN.md §1), and only through
 * the registry. Everything below receives its collaborators ready-made.
 *
 * The ACME layer, the solvers and the deployers are imported on first use: `status` and a
 * nothing-due `renew` never load TLS, the ACME client, a listener or a deployer's library (cold
 * start is most of their run time). Each named instance is built once per process and shared by
 * every certificate that names it.
 */
import { insecureTlsEnvironment } from '../strict-tls.js';
import type { AccountOptions, OpenAccountCall, OpenedAccount } from '../acme/account.js';
import type { AcmeClient } from '../acme/acme-client.js';
import type { ChallengeSolver } from '../challenges/challenge-solver.js';
import type { DnsProvider } from '../challenges/dns01/dns-provider.js';
import type { ChallengeTokenStore } from '../challenges/http01/challenge-token-store.js';
import { isDeployVerifier, type Deployer, type DeployVerifier } from '../deploy/deployer.js';
import { CertpilotError, ConfigError } from '../errors.js';
import { crossPluginIssues } from '../config/cross-checks.js';
import { isClosablePlugin, type PluginDeps, type PluginInstances, type PluginKind } from '../plugins/plugin.js';
import { kindSpec, sectionSpec } from '../plugins/plugin-kinds.js';
import { findPlugin, pluginsOfKind } from '../plugins/registry.js';
import { schemasFor } from '../config/schema.js';
import { PromiseCache } from '../promise-cache.js';
import { systemClock, type Clock } from '../clock.js';
import type { PluginInstanceConfig, ResolvedCertificate, ResolvedConfig } from '../config/load-config.js';
import type { AcquireOptions, Lock, Locker } from '../coordination/locker.js';
import type { Logger } from '../logger.js';
import type { AccountSession, RenewalContext } from '../renewal/renew-certificate.js';
import type { AcmeRequestObserver } from '../acme/protocol/transport.js';
import { CaReachability } from '../acme/protocol/ca-reachability.js';
import type { LifecycleEvent } from '../notify/lifecycle-event.js';
import type { DispatchSummary, Notifier, NotifierRoute, NotifyPolicy } from '../notify/notifier.js';
import { DIRECTORY_FACTS_MAX_AGE_MS, DirectoryCache } from '../storage/filesystem/directory-cache.js';
import type { RenewalState, StoredAccount } from '../storage/certificate-store.js';
import type { CertpilotStore } from '../storage/state-store.js';
import { VERSION } from '../version.js';

/** Everything a command needs, built from the resolved configuration. */
export interface Runtime {
  config: ResolvedConfig;
  logger: Logger;
  clock: Clock;
  /** The configured state store (filesystem or Secrets), typed by the seam. */
  store: CertpilotStore;
  /** Account options for a directory (production or staging). */
  accountOptions(directoryUrl: string): AccountOptions;
  /** The registered account of a directory (default: the configured one), created when needed (`askCa`: registered again when the CA forgot it). */
  openAccount(directoryUrl?: string, call?: OpenAccountCall): Promise<OpenedAccount>;
  /** Replaces the account key, crash-safely; returns the account URL. */
  rolloverAccountKey(): Promise<string>;
  /** The renewal context (lazy sessions; solvers started on first challenge). */
  renewalContext(): RenewalContext;
  /** The configured locker, built once on first use (`status` and `unlock` read its locks). */
  locker(): Promise<Locker>;
  /** The DNS provider of a solver whose type is a DNS provider (`route53 check`), built once. */
  dnsProvider(solverName: string): Promise<DnsProvider>;
  /**
   * The token store of a token-store solver (`certpilot serve --solver`), or of an entry given
   * here (`serve --redis-url`: validated by the plug-in's schema); built once per name.
   */
  tokenStore(solverName: string, entry?: { type: string } & Record<string, unknown>): Promise<ChallengeTokenStore>;
  /** The notifiers of a certificate (its `notify`, else `defaults.notify`), each built on first use. */
  notifierRoutes(certificate: string): NotifierRoute[];
  /**
   * Sends lifecycle events (from renewCertificate's one exit, through `run-report.ts`'s sink) to
   * each certificate's notifiers; loads nothing when none is configured. Never throws; a notifier
   * that fails is logged and counted in the summary.
   */
  notify(events: readonly LifecycleEvent[], signal?: AbortSignal): Promise<DispatchSummary>;
  /** Stops listeners and drops keep-alive connections. Idempotent. */
  close(): Promise<void>;
}

/**
 * What identifies the stored account a session signs with: its URL, key and deactivation. Another
 * value in the store means another process changed the account since (see `session`).
 */
function accountStamp(account: Pick<StoredAccount, 'url' | 'privateKeyPem' | 'deactivatedAt'> | undefined): string {
  return account ? JSON.stringify([account.url ?? null, account.privateKeyPem, account.deactivatedAt ?? null]) : '';
}

/**
 * Builds a state store through the registry: the configured `stateStore`, or one a `state copy`
 * spec names (`options` as its plug-in's schema outputs them). Does no I/O; the first use does.
 */
export async function createStateStore(
  entry: { readonly type: string; readonly options: unknown },
  deps: { logger: Logger; clock?: Clock; baseDir: string; stateDir: string; env?: Readonly<Record<string, string | undefined>> | undefined },
): Promise<CertpilotStore> {
  const plugin = findPlugin(entry.type, 'state-store');
  if (!plugin) throw new CertpilotError('ERR_INTERNAL', `compose: state store type "${entry.type}" is not a registered state store`);
  return (await plugin.create(entry.options as never, { name: 'stateStore', logger: deps.logger, clock: deps.clock ?? systemClock, baseDir: deps.baseDir, stateDir: deps.stateDir, ...(deps.env ? { env: deps.env } : {}) })) as CertpilotStore;
}

/**
 * Builds the runtime. Construction does no I/O (the state store's first use does, like every
 * plug-in's). `acmeObserver` is told of every ACME request (the metrics, with --metrics-file);
 * `store`, when given, is the configured state store already built (it was read before composing).
 */
export async function compose(
  config: ResolvedConfig,
  deps: { logger: Logger; clock?: Clock; env?: Readonly<Record<string, string | undefined>>; acmeObserver?: AcmeRequestObserver | undefined; store?: CertpilotStore },
): Promise<Runtime> {
  const clock = deps.clock ?? systemClock;
  const logger = deps.logger;
  // Every client verifies TLS whatever the environment says (src/strict-tls.ts); say so when it tries otherwise.
  const insecure = deps.env ? insecureTlsEnvironment(deps.env) : undefined;
  if (insecure) logger.warn({ variables: insecure.variables }, insecure.message);
  const store = deps.store ?? (await createStateStore(config.stateStore, { logger, clock, baseDir: config.baseDir, stateDir: config.stateDir, env: deps.env }));
  const directoryCache = new DirectoryCache({ stateDir: config.stateDir, logger });
  const built = new PromiseCache<unknown>();
  const closables: unknown[] = [];
  const clients: AcmeClient[] = [];
  // Per directory: the open session, and the stored account it was opened from (accountStamp).
  const sessions = new Map<string, Promise<{ session: AccountSession; stamp: string }>>();
  let renewalInfoClient: Promise<AcmeClient | undefined> | undefined;
  /** When a "no renewalInfo" answer stops being trusted (ms), like the directory cache's entry. */
  let noRenewalInfoUntil: number | undefined;
  // One for every ACME client of this runtime: once the CA has not answered, no client waits for it again.
  const reachability = new CaReachability({ clock });

  const accountOptions = (directoryUrl: string): AccountOptions => ({
    store,
    directoryUrl,
    caCertificates: [...config.acme.caCertificates],
    ...(config.acme.email ? { email: config.acme.email } : {}),
    termsOfServiceAgreed: config.acme.termsOfServiceAgreed,
    ...(config.acme.eab ? { eab: { ...config.acme.eab } } : {}),
    accountKeyType: config.acme.accountKeyType,
    pollTimeoutMs: config.acme.pollTimeoutSeconds * 1000,
    requestTimeoutMs: config.acme.requestTimeoutSeconds * 1000,
    reachability,
    userAgent: `certpilot/${VERSION}`,
    logger,
    clock,
    ...(deps.acmeObserver ? { observer: deps.acmeObserver } : {}),
  });

  const pluginDeps = (name: string, noun: string): PluginDeps => ({
    name,
    logger: logger.child({ [noun]: name }),
    clock,
    baseDir: config.baseDir,
    stateDir: config.stateDir,
    ...(deps.env ? { env: deps.env } : {}),
  });

  /** Builds the plug-in of an instance from its own options (the wrapper's stay apart). */
  const create = async <K extends PluginKind>(entry: PluginInstanceConfig, kinds: readonly K[], name: string, noun: string): Promise<PluginInstances[K]> => {
    const plugin = findPlugin(entry.type, ...kinds);
    if (!plugin || !(kinds as readonly PluginKind[]).includes(plugin.kind)) {
      throw new CertpilotError('ERR_INTERNAL', `compose: ${noun} "${name}" has type "${entry.type}", which is not a registered ${kinds.join(' or ')}`);
    }
    const instance = (await plugin.create(entry.options, pluginDeps(name, noun))) as PluginInstances[K];
    closables.push(instance);
    return instance;
  };

  /** Builds an instance and, when its kind's row in the table says so, the solver wrapped around it. */
  const createWrapped = async (entry: PluginInstanceConfig, name: string, noun: string): Promise<unknown> => {
    const inner = await create(entry, [entry.kind], name, noun);
    const wrapper = kindSpec(entry.kind).wraps;
    if (!wrapper) return inner;
    return wrapper.create(inner as never, entry.wrapper, { baseDir: config.baseDir, stateDir: config.stateDir, name, logger: logger.child({ [noun]: name }), clock, ...(deps.env ? { env: deps.env } : {}) });
  };

  const once = <T>(key: string, make: () => Promise<T>): Promise<T> => built.get(key, make) as Promise<T>;

  /** The named instance of a section, built once (wrapped as its kind says). */
  const named = <T>(section: 'solvers' | 'deployers' | 'notifiers', name: string): Promise<T> =>
    once(`${section}:${name}`, async () => {
      const entry = config[section][name];
      if (!entry) throw new CertpilotError('ERR_INTERNAL', `compose: no ${sectionSpec(section).noun} named "${name}"`);
      return (await createWrapped(entry, name, sectionSpec(section).noun)) as T;
    });

  const solver = (name: string): Promise<ChallengeSolver> => named<ChallengeSolver>('solvers', name);

  const dnsProvider = (name: string): Promise<DnsProvider> =>
    once(`dns-provider:${name}`, async () => {
      const entry = config.solvers[name];
      if (!entry) throw new CertpilotError('ERR_INTERNAL', `compose: no solver named "${name}"`);
      return create(entry, ['dns-provider'], name, 'solver');
    });

  const tokenStore = (name: string, given?: { type: string } & Record<string, unknown>): Promise<ChallengeTokenStore> =>
    once(`token-store:${name}`, async () => {
      let entry: PluginInstanceConfig | undefined = config.solvers[name];
      if (given) {
        // An entry made of flags (`serve --redis-url`): validated like a `solvers.<name>` entry.
        const parsed = schemasFor({ solvers: { [name]: given } }).instances.solvers?.safeParse(given);
        if (parsed && !parsed.success) {
          throw new CertpilotError('ERR_CLI_USAGE', `cli: ${name}: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(options)'}: ${i.message}`).join('; ')}`);
        }
        entry = parsed?.data;
      }
      if (!entry) {
        throw new CertpilotError('ERR_CLI_USAGE', `cli: no solver named "${name}" in the configuration`, { hint: `Configured solvers: ${Object.keys(config.solvers).join(', ')}.` });
      }
      if (entry.kind !== 'token-store') {
        throw new CertpilotError('ERR_CLI_USAGE', `cli: solver "${name}" is of type ${entry.type}, not a token store serve can read`, { hint: `Name a solver of type ${pluginsOfKind('token-store').map((p) => p.id).join(' or ')}.` });
      }
      return create(entry, ['token-store'], name, 'solver');
    });

  const deployer = (name: string): Promise<Deployer> => named<Deployer>('deployers', name);

  const locker = (): Promise<Locker> => once('locker', () => create(config.locker, ['locker'], 'locker', 'locker'));

  const solversOf = async (spec: ResolvedCertificate): Promise<ReadonlyMap<string, ChallengeSolver>> =>
    new Map(await Promise.all(Object.entries(spec.solvers).map(async ([domain, name]) => [domain, await solver(name)] as const)));

  const openSession = async (directoryUrl: string, signal?: AbortSignal): Promise<{ session: AccountSession; stamp: string }> => {
    const [{ openAccount }, { Issuer }] = await Promise.all([import('../acme/account.js'), import('../acme/issuer.js')]);
    const { client, account } = await openAccount(accountOptions(directoryUrl), signal ? { signal } : {});
    clients.push(client);
    await rememberDirectory(client, directoryUrl, signal);
    return { session: { issuer: new Issuer({ client, logger }), directoryUrl, accountUrl: account.url }, stamp: accountStamp(account) };
  };

  const rememberDirectory = async (client: AcmeClient, directoryUrl: string, signal?: AbortSignal): Promise<boolean> => {
    const directory = await client.getDirectory(signal ? { signal } : {});
    const facts = { directoryUrl, renewalInfo: directory.renewalInfo !== undefined, fetchedAt: clock.now().toISOString() };
    await directoryCache.put(facts).catch((err: unknown) => logger.debug({ err: String(err) }, 'directory cache not written'));
    return facts.renewalInfo;
  };

  // renewalInfo is an unauthenticated GET (RFC 9773 §4.1): any key will do when no account exists.
  const makeRenewalInfoClient = async (signal?: AbortSignal): Promise<AcmeClient | undefined> => {
    const directoryUrl = config.acme.directoryUrl;
    const known = await directoryCache.get(directoryUrl, clock.now());
    if (known && !known.renewalInfo) return undefined;
    const [{ clientForStoredAccount }, { AcmeClient: Client }, { generatePrivateKey }] = await Promise.all([
      import('../acme/account.js'),
      import('../acme/acme-client.js'),
      import('../acme/csr.js'),
    ]);
    const stored = await clientForStoredAccount(accountOptions(directoryUrl));
    const client =
      stored?.client ??
      new Client({
        directoryUrl,
        accountKey: (await generatePrivateKey('ec-p256')).key,
        caCertificates: [...config.acme.caCertificates],
        userAgent: `certpilot/${VERSION}`,
        requestTimeoutMs: config.acme.requestTimeoutSeconds * 1000,
        reachability,
        logger,
        clock,
        ...(deps.acmeObserver ? { observer: deps.acmeObserver } : {}),
      });
    clients.push(client);
    return (await rememberDirectory(client, directoryUrl, signal)) ? client : undefined;
  };

  // A notifier is built wrapped in its event filter (the kinds table's `notifier` row).
  const notifier = (name: string): Promise<Notifier> => named<Notifier>('notifiers', name);

  // By name: a search of the list per event was quadratic (renew of 1000 certificates: ~0.1 s).
  let specs: ReadonlyMap<string, ResolvedCertificate> | undefined;
  const notifierRoutes = (certificate: string): NotifierRoute[] => {
    specs ??= new Map(config.certificates.map((c) => [c.name, c] as const).reverse()); // the first of a name wins, as `find` did
    const spec = specs.get(certificate);
    const names = spec?.notify ?? config.defaults.notify ?? [];
    return names.flatMap((name) => {
      const entry = config.notifiers[name];
      if (!entry) return [];
      const policy: NotifyPolicy = entry.wrapper;
      return [{ name, policy, notifier: () => notifier(name) }];
    });
  };

  const unsavedNotifications = new Map<string, NonNullable<RenewalState['notifications']>>();
  // The events come from renewCertificate's one exit (RenewalContext.events), each with the live
  // certificate's expiry when the run read it: no store read here.
  const notify = async (events: readonly LifecycleEvent[], signal?: AbortSignal): Promise<DispatchSummary> => {
    const routed = events.filter((e) => notifierRoutes(e.certificate).length > 0);
    if (routed.length === 0) return { sent: [], failed: [], aborted: [], suppressed: [], told: [] }; // nothing configured: nothing loaded
    const { dispatchEvents } = await import('../notify/notifier.js');
    // What each notifier was told is read (without the lock: a read) only for an event that may be news.
    // This process's own records that could not be written (a full volume) come first.
    const records = async (certificate: string): Promise<RenewalState['notifications']> => ({ ...(await store.loadState(certificate)).notifications, ...unsavedNotifications.get(certificate) });
    const summary = await dispatchEvents(routed, notifierRoutes, { logger, signal, records });
    // Kept in the state, so a broken notifier stays in the metrics of later runs (a textfile too).
    const { recordNotifications } = await import('../notify/notification-records.js');
    await recordNotifications(summary, { store, locker: await locker(), lockTtlSeconds: config.renewal.lockTtlSeconds, now: clock.now(), logger, unsaved: unsavedNotifications });
    return summary;
  };

  return {
    config,
    logger,
    clock,
    store,
    accountOptions,
    openAccount: async (directoryUrl = config.acme.directoryUrl, call = {}) => {
      const { openAccount } = await import('../acme/account.js');
      const opened = await openAccount(accountOptions(directoryUrl), call);
      clients.push(opened.client);
      return opened;
    },
    rolloverAccountKey: async () => {
      const { rolloverAccountKey } = await import('../acme/account.js');
      return (await rolloverAccountKey(accountOptions(config.acme.directoryUrl))).url;
    },
    renewalContext: () => ({
      store,
      // The configured locker (file by default), built on the first acquire: a nothing-due run
      // never loads it (a lease locker would load the Kubernetes client).
      locker: { acquire: async (name: string, o: AcquireOptions): Promise<Lock | undefined> => (await locker()).acquire(name, o) },
      session: async (which, signal) => {
        const directoryUrl = which === 'staging' ? config.acme.stagingDirectoryUrl : config.acme.directoryUrl;
        let opened = sessions.get(directoryUrl);
        if (opened) {
          // The stored account is read again at each use (one read; only a run with an order to
          // place gets here): one another process changed since (`account create` after the CA
          // forgot it, `account deactivate`, then `create` with a new key, a key rollover) is
          // opened again, instead of signing with what a long-running daemon read at start.
          // A store that cannot be read now keeps the open session (a failed read is no change).
          const [cached, stored] = await Promise.all([opened.catch(() => undefined), store.loadAccount(directoryUrl).then((a) => ({ account: a }), () => undefined)]);
          if (cached && stored && cached.stamp !== accountStamp(stored.account)) {
            logger.info({ directoryUrl, was: cached.session.accountUrl, now: stored.account?.url }, 'the stored ACME account changed since this process opened it; opening it again');
            if (sessions.get(directoryUrl) === opened) sessions.delete(directoryUrl);
          }
          opened = sessions.get(directoryUrl);
        }
        if (!opened) {
          const opening = openSession(directoryUrl, signal);
          opening.catch(() => {
            if (sessions.get(directoryUrl) === opening) sessions.delete(directoryUrl);
          });
          sessions.set(directoryUrl, opening);
          opened = opening;
        }
        return (await opened).session;
      },
      renewalInfo: (signal) => {
        // A CA without renewalInfo is looked at again once the directory cache's answer expires, also
        // in a daemon that runs for months: a CA that adds ARI is noticed the next day.
        if (noRenewalInfoUntil !== undefined && clock.now().getTime() >= noRenewalInfoUntil) {
          renewalInfoClient = undefined;
          noRenewalInfoUntil = undefined;
        }
        if (!renewalInfoClient) {
          const asked = makeRenewalInfoClient(signal);
          renewalInfoClient = asked;
          asked.then(
            (client) => {
              if (!client) noRenewalInfoUntil = clock.now().getTime() + DIRECTORY_FACTS_MAX_AGE_MS;
            },
            () => {
              if (renewalInfoClient === asked) renewalInfoClient = undefined;
            },
          );
        }
        return renewalInfoClient;
      },
      solvers: solversOf,
      deployers: (spec) => Promise.all(spec.deploy.map(deployer)),
      // Only the deployers whose plug-in checks its target cheaply (files, kubernetes-secret): no other plug-in is loaded.
      verifiers: async (spec) =>
        (await Promise.all(spec.deploy.filter((name) => findPlugin(config.deployers[name]?.type ?? '', 'deployer')?.verifiesDeploy === true).map(deployer))).filter(
          (d): d is Deployer & DeployVerifier => isDeployVerifier(d),
        ),
      preflight: async (spec) => {
        const issues = await crossPluginIssues(config, spec);
        if (issues.length > 0) throw new ConfigError(issues, config.source ? { source: config.source } : {});
      },
      ari: config.acme.ari,
      ...(config.acme.preferredChain ? { preferredChain: config.acme.preferredChain } : {}),
      lockTtlSeconds: config.renewal.lockTtlSeconds,
      retention: config.renewal.retention,
      ...(config.renewal.runIntervalHours ? { runIntervalMs: config.renewal.runIntervalHours * 3_600_000 } : {}),
      clock,
      logger,
    }),
    locker,
    dnsProvider,
    tokenStore,
    notifierRoutes,
    notify,
    close: async () => {
      await Promise.allSettled(closables.flatMap((s) => (isClosablePlugin(s) ? [s.close()] : [])));
      // Wrapped solvers (dns-01, token store) may hold their own resources too.
      await Promise.allSettled(built.values().map(async (p) => {
        const instance = await p.catch(() => undefined);
        if (isClosablePlugin(instance) && !closables.includes(instance)) await instance.close();
      }));
      for (const client of clients) client.close();
    },
  };
}
