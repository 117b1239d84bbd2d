/**
 * The composition root: the only place that constructs plug-ins by name (DESIGN.md §1). Everything
 * below receives its collaborators ready-made.
 */
import { join } from 'node:path';
import { clientForStoredAccount, openAccount, type AccountOptions } from '../acme/account.js';
import { AcmeClient } from '../acme/acme-client.js';
import { generatePrivateKey } from '../acme/csr.js';
import { Issuer } from '../acme/issuer.js';
import type { ChallengeSolver } from '../challenges/challenge-solver.js';
import { isClosableSolver } from '../challenges/challenge-solver.js';
import { StandaloneHttp01Solver } from '../challenges/http01/standalone-solver.js';
import { WebrootHttp01Solver } from '../challenges/http01/webroot-solver.js';
import { systemClock, type Clock } from '../clock.js';
import type { ResolvedConfig } from '../config/load-config.js';
import { FileLocker } from '../coordination/file-locker.js';
import type { Logger } from '../logger.js';
import type { AccountSession, RenewalContext } from '../renewal/renew-certificate.js';
import { FilesystemCertificateStore } from '../storage/filesystem/filesystem-certificate-store.js';
import { VERSION } from './version.js';

/** Everything a command needs, built from the resolved configuration. */
export interface Runtime {
  config: ResolvedConfig;
  logger: Logger;
  clock: Clock;
  store: FilesystemCertificateStore;
  /** Account options for a directory (production or staging). */
  accountOptions(directoryUrl: string): AccountOptions;
  /** The renewal context (lazy sessions; solvers started on first challenge). */
  renewalContext(): RenewalContext;
  /** Stops listeners and other resources. Idempotent. */
  close(): Promise<void>;
}

/** Builds the runtime. Construction does no I/O; the first use does. */
export function compose(config: ResolvedConfig, deps: { logger: Logger; clock?: Clock }): Runtime {
  const clock = deps.clock ?? systemClock;
  const logger = deps.logger;
  const store = new FilesystemCertificateStore({ stateDir: config.stateDir, logger });
  const solvers: ChallengeSolver[] = [];
  const sessions = new Map<string, Promise<AccountSession>>();
  let ariClient: Promise<AcmeClient> | undefined;

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

  const solversFor = (): ChallengeSolver[] => {
    if (solvers.length === 0) {
      const http01 = config.challenges.http01;
      solvers.push(
        http01.solver === 'webroot'
          ? new WebrootHttp01Solver({ webroot: http01.webroot as string, logger })
          : new StandaloneHttp01Solver({ port: http01.port, ...(http01.host ? { host: http01.host } : {}), logger }),
      );
    }
    return solvers;
  };

  const session = (which: 'production' | 'staging', signal?: AbortSignal): Promise<AccountSession> => {
    const directoryUrl = which === 'staging' ? config.acme.stagingDirectoryUrl : config.acme.directoryUrl;
    let opened = sessions.get(directoryUrl);
    if (!opened) {
      opened = openAccount(accountOptions(directoryUrl), signal ? { signal } : {}).then(({ client, account }) => ({
        client,
        issuer: new Issuer({ client, solvers: solversFor(), logger }),
        directoryUrl,
        accountUrl: account.url,
      }));
      opened.catch(() => sessions.delete(directoryUrl));
      sessions.set(directoryUrl, opened);
    }
    return opened;
  };

  return {
    config,
    logger,
    clock,
    store,
    accountOptions,
    renewalContext: () => ({
      store,
      locker: new FileLocker({ dir: join(config.stateDir, 'locks'), clock, logger }),
      session,
      ariClient: () => {
        // renewalInfo is an unauthenticated GET: any key will do when no account exists yet.
        ariClient ??= (async () => {
          const stored = await clientForStoredAccount(accountOptions(config.acme.directoryUrl));
          if (stored) return stored.client;
          const { key } = await generatePrivateKey('ec-p256');
          return new AcmeClient({ directoryUrl: config.acme.directoryUrl, accountKey: key, caCertificates: [...config.acme.caCertificates], logger, clock });
        })();
        return ariClient;
      },
      ari: config.acme.ari,
      ...(config.acme.preferredChain ? { preferredChain: config.acme.preferredChain } : {}),
      lockTtlSeconds: config.renewal.lockTtlSeconds,
      clock,
      logger,
    }),
    close: async () => {
      await Promise.allSettled(solvers.flatMap((s) => (isClosableSolver(s) ? [s.close()] : [])));
      // Drop keep-alive sockets so the process exits at once.
      const clients = await Promise.allSettled([...sessions.values(), ...(ariClient ? [ariClient.then((client) => ({ client }))] : [])]);
      for (const c of clients) if (c.status === 'fulfilled') c.value.client.close();
    },
  };
}
