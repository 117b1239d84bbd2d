/**
 * The composition root: the only place that constructs plug-ins by name (DESIGN.md §1). Everything
 * below receives its collaborators ready-made.
 *
 * The ACME layer and the solvers are imported on first use: `status` and a nothing-due `renew`
 * never load TLS, the ACME client or the http-01 listener (cold start is most of their run time).
 */
import { join } from 'node:path';
import type { AccountOptions, OpenedAccount } from '../acme/account.js';
import type { AcmeClient } from '../acme/acme-client.js';
import type { ChallengeSolver } from '../challenges/challenge-solver.js';
import { isClosableSolver } from '../challenges/challenge-solver.js';
import { systemClock, type Clock } from '../clock.js';
import type { ResolvedConfig } from '../config/load-config.js';
import { FileLocker } from '../coordination/file-locker.js';
import type { Logger } from '../logger.js';
import type { AccountSession, RenewalContext } from '../renewal/renew-certificate.js';
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
  /** Stops listeners and drops keep-alive connections. Idempotent. */
  close(): Promise<void>;
}

/** Builds the runtime. Construction does no I/O; the first use does. */
export function compose(config: ResolvedConfig, deps: { logger: Logger; clock?: Clock }): Runtime {
  const clock = deps.clock ?? systemClock;
  const logger = deps.logger;
  const store = new FilesystemCertificateStore({ stateDir: config.stateDir, logger });
  const directoryCache = new DirectoryCache({ stateDir: config.stateDir });
  const solvers: ChallengeSolver[] = [];
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
  });

  const solversFor = async (): Promise<ChallengeSolver[]> => {
    if (solvers.length === 0) {
      const http01 = config.challenges.http01;
      if (http01.solver === 'webroot') {
        const { WebrootHttp01Solver } = await import('../challenges/http01/solvers/webroot/webroot-solver.js');
        solvers.push(new WebrootHttp01Solver({ webroot: http01.webroot as string, logger }));
      } else {
        const { StandaloneHttp01Solver } = await import('../challenges/http01/solvers/standalone/standalone-solver.js');
        solvers.push(new StandaloneHttp01Solver({ port: http01.port, ...(http01.host ? { host: http01.host } : {}), logger, clock }));
      }
    }
    return solvers;
  };

  const openSession = async (directoryUrl: string, signal?: AbortSignal): Promise<AccountSession> => {
    const [{ openAccount }, { Issuer }] = await Promise.all([import('../acme/account.js'), import('../acme/issuer.js')]);
    const { client, account } = await openAccount(accountOptions(directoryUrl), signal ? { signal } : {});
    clients.push(client);
    await rememberDirectory(client, directoryUrl, signal);
    return { client, issuer: new Issuer({ client, solvers: await solversFor(), logger }), directoryUrl, accountUrl: account.url };
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
      new Client({ directoryUrl, accountKey: (await generatePrivateKey('ec-p256')).key, caCertificates: [...config.acme.caCertificates], userAgent: `certpilot/${VERSION}`, logger, clock });
    clients.push(client);
    return (await rememberDirectory(client, directoryUrl, signal)) ? client : undefined;
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
      renewalInfoClient: (signal) => {
        renewalInfoClient ??= makeRenewalInfoClient(signal);
        renewalInfoClient.catch(() => (renewalInfoClient = undefined));
        return renewalInfoClient;
      },
      ari: config.acme.ari,
      ...(config.acme.preferredChain ? { preferredChain: config.acme.preferredChain } : {}),
      lockTtlSeconds: config.renewal.lockTtlSeconds,
      ...(config.renewal.runIntervalHours ? { runIntervalMs: config.renewal.runIntervalHours * 3_600_000 } : {}),
      clock,
      logger,
    }),
    close: async () => {
      await Promise.allSettled(solvers.flatMap((s) => (isClosableSolver(s) ? [s.close()] : [])));
      for (const client of clients) client.close();
    },
  };
}
