/**
 * The composition root: the only place that constructs plug-ins (DESIGN.md §1), and only through
 * the registry. Everything below receives its collaborators ready-made.
 *
 * The ACME layer, the solvers and the deployers are imported on first use: `status` and a
 * nothing-due `renew` never load TLS, the ACME client, a listener or a deployer's library (cold
 * start is most of their run time). Each named instance is built once per process and shared by
 * every certificate that names it.
 */
import { join } from 'node:path';
import type { AccountOptions, OpenedAccount } from '../acme/account.js';
import type { AcmeClient } from '../acme/acme-client.js';
import type { ChallengeSolver } from '../challenges/challenge-solver.js';
import type { DnsProvider } from '../challenges/dns01/dns-provider.js';
import type { ChallengeTokenStore } from '../challenges/http01/challenge-token-store.js';
import type { Deployer } from '../deploy/deployer.js';
import { CertpilotError } from '../errors.js';
import { isClosablePlugin, type PluginDeps, type PluginInstances, type PluginKind } from '../plugins/plugin.js';
import { findPlugin } from '../plugins/registry.js';
import { PromiseCache } from '../promise-cache.js';
import { systemClock, type Clock } from '../clock.js';
import type { PluginInstanceConfig, ResolvedCertificate, ResolvedConfig } from '../config/load-config.js';
import { FileLocker } from '../coordination/file-locker.js';
import type { Logger } from '../logger.js';
import type { AccountSession, RenewalContext, RenewalResult } from '../renewal/renew-certificate.js';
import type { AcmeRequestObserver } from '../acme/protocol/transport.js';
import type { LifecycleEvent, RunTiming } from '../notify/lifecycle-event.js';
import type { DispatchSummary, Notifier, NotifierRoute, NotifyPolicy } from '../notify/notifier.js';
import { DirectoryCache } from '../storage/filesystem/directory-cache.js';
import { FilesystemCertificateStore } from '../storage/filesystem/filesystem-certificate-store.js';
import { VERSION } from '../version.js';

/** Everything a command needs, built from the resolved configuration. */
export interface Runtime {
  config: ResolvedConfig;
  logger: Logger;
  clock: Clock;
  store: FilesystemCertificateStore;
  /** Account options for a directory (production or staging). */
  accountOptions(directoryUrl: string): AccountOptions;
  /** The registered account of a directory (default: the configured one), created when needed. */
  openAccount(directoryUrl?: string): Promise<OpenedAccount>;
  /** Replaces the account key, crash-safely; returns the account URL. */
  rolloverAccountKey(): Promise<string>;
  /** The renewal context (lazy sessions; solvers started on first challenge). */
  renewalContext(): RenewalContext;
  /** The DNS provider of a solver whose type is a DNS provider (`route53 check`), built once. */
  dnsProvider(solverName: string): Promise<DnsProvider>;
  /**
   * The token store of a token-store solver (`certpilot serve --solver`), or of an entry given
   * here (`serve --redis-url`: validated by the plug-in's schema); built once per name.
   */
  tokenStore(solverName: string, entry?: PluginInstanceConfig): Promise<ChallengeTokenStore>;
  /** The notifiers of a certificate (its `notify`, else `defaults.notify`), each built on first use. */
  notifierRoutes(certificate: string): NotifierRoute[];
  /**
   * The one place a run's per-certificate results become lifecycle events and reach the
   * certificate's notifiers (until renewCertificate has its single exit, which will call this).
   * Never throws; a notifier that fails is logged.
   */
  notify(results: readonly { result: RenewalResult; timing: RunTiming }[], signal?: AbortSignal): Promise<{ events: LifecycleEvent[]; summary: DispatchSummary }>;
  /** Stops listeners and drops keep-alive connections. Idempotent. */
  close(): Promise<void>;
}

/** Builds the runtime. Construction does no I/O; the first use does. */
export function compose(
  config: ResolvedConfig,
  deps: { logger: Logger; clock?: Clock; env?: Readonly<Record<string, string | undefined>>; acmeObserver?: AcmeRequestObserver | undefined },
): Runtime {
  const clock = deps.clock ?? systemClock;
  const logger = deps.logger;
  const store = new FilesystemCertificateStore({ stateDir: config.stateDir, logger });
  const directoryCache = new DirectoryCache({ stateDir: config.stateDir, logger });
  const built = new PromiseCache<unknown>();
  const closables: unknown[] = [];
  const clients: AcmeClient[] = [];
  const sessions = new Map<string, Promise<AccountSession>>();
  let renewalInfoClient: Promise<AcmeClient | undefined> | undefined;

  const accountOptions = (directoryUrl: string): AccountOptions => ({
    store,
    directoryUrl,
    caCertificates: [...config.acme.caCertificates],
    ...(config.acme.email ? { email: config.acme.email } : {}),
    termsOfServiceAgreed: config.acme.termsOfServiceAgreed,
    ...(config.acme.eab ? { eab: { ...config.acme.eab } } : {}),
    accountKeyType: config.acme.accountKeyType,
    pollTimeoutMs: config.acme.pollTimeoutSeconds * 1000,
    userAgent: `certpilot/${VERSION}`,
    logger,
    clock,
    ...(deps.acmeObserver ? { observer: deps.acmeObserver } : {}),
  });

  const pluginDeps = (name: string, role: 'solver' | 'deployer' | 'notifier'): PluginDeps => ({
    name,
    logger: logger.child({ [role]: name }),
    clock,
    baseDir: config.baseDir,
    stateDir: config.stateDir,
    ...(deps.env ? { env: deps.env } : {}),
  });

  /** Builds a plug-in of `kind` from an instance entry, passing only the plug-in's own options. */
  const create = async <K extends PluginKind>(entry: PluginInstanceConfig, kind: K, name: string, role: 'solver' | 'deployer' | 'notifier'): Promise<PluginInstances[K]> => {
    const plugin = findPlugin(entry.type);
    if (!plugin || plugin.kind !== kind) {
      throw new CertpilotError('ERR_INTERNAL', `compose: ${role} "${name}" has type "${entry.type}", which is not a registered ${kind}`);
    }
    const own = Object.fromEntries(Object.keys(plugin.schema.shape).filter((k) => k in entry).map((k) => [k, entry[k]]));
    const instance = (await plugin.create(own, pluginDeps(name, role))) as PluginInstances[K];
    closables.push(instance);
    return instance;
  };

  const once = <T>(key: string, make: () => Promise<T>): Promise<T> => built.get(key, make) as Promise<T>;

  const solver = (name: string): Promise<ChallengeSolver> =>
    once(`solver:${name}`, async () => {
      const entry = config.solvers[name];
      if (!entry) throw new CertpilotError('ERR_INTERNAL', `compose: no solver named "${name}"`);
      const kind = findPlugin(entry.type)?.kind;
      if (kind === 'dns-provider') {
        const { createDns01Solver, dns01OptionsShape } = await import('../challenges/dns01/dns01-options.js');
        const common = Object.fromEntries(Object.keys(dns01OptionsShape).map((k) => [k, entry[k]]));
        return createDns01Solver(await create(entry, 'dns-provider', name, 'solver'), common as Parameters<typeof createDns01Solver>[1], { logger: logger.child({ solver: name }), clock });
      }
      if (kind === 'token-store') {
        const { createTokenStoreSolver, tokenStoreSolverOptionsShape } = await import('../challenges/http01/token-store-options.js');
        const common = Object.fromEntries(Object.keys(tokenStoreSolverOptionsShape).map((k) => [k, entry[k]]));
        return createTokenStoreSolver(await create(entry, 'token-store', name, 'solver'), common as Parameters<typeof createTokenStoreSolver>[1], {
          baseDir: config.baseDir,
          logger: logger.child({ solver: name }),
          clock,
        });
      }
      return create(entry, 'challenge-solver', name, 'solver');
    });

  const dnsProvider = (name: string): Promise<DnsProvider> =>
    once(`dns-provider:${name}`, async () => {
      const entry = config.solvers[name];
      if (!entry) throw new CertpilotError('ERR_INTERNAL', `compose: no solver named "${name}"`);
      return create(entry, 'dns-provider', name, 'solver');
    });

  const tokenStore = (name: string, given?: PluginInstanceConfig): Promise<ChallengeTokenStore> =>
    once(`token-store:${name}`, async () => {
      const entry = given ?? config.solvers[name];
      if (!entry) {
        throw new CertpilotError('ERR_CLI_USAGE', `cli: no solver named "${name}" in the configuration`, { hint: `Configured solvers: ${Object.keys(config.solvers).join(', ')}.` });
      }
      const plugin = findPlugin(entry.type);
      if (plugin?.kind !== 'token-store') {
        throw new CertpilotError('ERR_CLI_USAGE', `cli: solver "${name}" is of type ${entry.type}, not a token store serve can read`, { hint: 'Name a solver of type redis.' });
      }
      if (!given) return create(entry, 'token-store', name, 'solver');
      const parsed = plugin.schema.safeParse(Object.fromEntries(Object.entries(entry).filter(([k]) => k !== 'type')));
      if (!parsed.success) {
        throw new CertpilotError('ERR_CLI_USAGE', `cli: ${name}: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(options)'}: ${i.message}`).join('; ')}`);
      }
      return create({ type: entry.type, ...(parsed.data as Record<string, unknown>) }, 'token-store', name, 'solver');
    });

  const deployer = (name: string): Promise<Deployer> =>
    once(`deployer:${name}`, async () => {
      const entry = config.deployers[name];
      if (!entry) throw new CertpilotError('ERR_INTERNAL', `compose: no deployer named "${name}"`);
      return create(entry, 'deployer', name, 'deployer');
    });

  const solversOf = async (spec: ResolvedCertificate): Promise<ReadonlyMap<string, ChallengeSolver>> =>
    new Map(await Promise.all(Object.entries(spec.solvers).map(async ([domain, name]) => [domain, await solver(name)] as const)));

  const openSession = async (directoryUrl: string, signal?: AbortSignal): Promise<AccountSession> => {
    const [{ openAccount }, { Issuer }] = await Promise.all([import('../acme/account.js'), import('../acme/issuer.js')]);
    const { client, account } = await openAccount(accountOptions(directoryUrl), signal ? { signal } : {});
    clients.push(client);
    await rememberDirectory(client, directoryUrl, signal);
    return { issuer: new Issuer({ client, logger }), directoryUrl, accountUrl: account.url };
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
        logger,
        clock,
        ...(deps.acmeObserver ? { observer: deps.acmeObserver } : {}),
      });
    clients.push(client);
    return (await rememberDirectory(client, directoryUrl, signal)) ? client : undefined;
  };

  const notifier = (name: string): Promise<Notifier> =>
    once(`notifier:${name}`, async () => {
      const entry = config.notifiers[name];
      if (!entry) throw new CertpilotError('ERR_INTERNAL', `compose: no notifier named "${name}"`);
      return create(entry, 'notifier', name, 'notifier');
    });

  const notifierRoutes = (certificate: string): NotifierRoute[] => {
    const spec = config.certificates.find((c) => c.name === certificate);
    const names = spec?.notify ?? config.defaults.notify ?? [];
    return names.flatMap((name) => {
      const entry = config.notifiers[name];
      if (!entry) return [];
      const policy: NotifyPolicy = { on: (entry.on as NotifyPolicy['on'] | undefined) ?? ['failure'], expiringDays: (entry.expiringDays as number | undefined) ?? 14 };
      return [{ name, policy, notifier: () => notifier(name) }];
    });
  };

  const notify = async (results: readonly { result: RenewalResult; timing: RunTiming }[], signal?: AbortSignal): Promise<{ events: LifecycleEvent[]; summary: DispatchSummary }> => {
    const [{ eventFromResult }, { dispatchEvents }] = await Promise.all([import('../notify/lifecycle-event.js'), import('../notify/notifier.js')]);
    const events: LifecycleEvent[] = [];
    for (const { result, timing } of results) {
      const spec = config.certificates.find((c) => c.name === result.name);
      // The expiry of a certificate this run did not renew comes from the store (its metadata only).
      let notAfter = result.notAfter;
      if (notAfter === undefined && notifierRoutes(result.name).some((r) => r.policy.on.includes('expiring'))) {
        notAfter = await store.load(result.name).then((s) => s?.metadata.notAfter, () => undefined);
      }
      const event = eventFromResult(result, { domains: spec?.domains ?? [], timing, notAfter });
      if (event) events.push(event);
    }
    const summary = await dispatchEvents(events, notifierRoutes, { logger, signal });
    return { events, summary };
  };

  return {
    config,
    logger,
    clock,
    store,
    accountOptions,
    openAccount: async (directoryUrl = config.acme.directoryUrl) => {
      const { openAccount } = await import('../acme/account.js');
      const opened = await openAccount(accountOptions(directoryUrl));
      clients.push(opened.client);
      return opened;
    },
    rolloverAccountKey: async () => {
      const { rolloverAccountKey } = await import('../acme/account.js');
      return (await rolloverAccountKey(accountOptions(config.acme.directoryUrl))).url;
    },
    renewalContext: () => ({
      store,
      locker: new FileLocker({ dir: join(config.stateDir, 'locks'), clock, logger }),
      session: (which, signal) => {
        const directoryUrl = which === 'staging' ? config.acme.stagingDirectoryUrl : config.acme.directoryUrl;
        let opened = sessions.get(directoryUrl);
        if (!opened) {
          opened = openSession(directoryUrl, signal);
          opened.catch(() => sessions.delete(directoryUrl));
          sessions.set(directoryUrl, opened);
        }
        return opened;
      },
      renewalInfo: (signal) => {
        renewalInfoClient ??= makeRenewalInfoClient(signal);
        renewalInfoClient.catch(() => (renewalInfoClient = undefined));
        return renewalInfoClient;
      },
      solvers: solversOf,
      deployers: (spec) => Promise.all(spec.deploy.map(deployer)),
      ari: config.acme.ari,
      ...(config.acme.preferredChain ? { preferredChain: config.acme.preferredChain } : {}),
      lockTtlSeconds: config.renewal.lockTtlSeconds,
      ...(config.renewal.runIntervalHours ? { runIntervalMs: config.renewal.runIntervalHours * 3_600_000 } : {}),
      clock,
      logger,
    }),
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
