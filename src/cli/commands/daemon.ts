/**
 * `certpilot daemon`: one long-running process that renews every configured certificate (and every
 * one-off `issue -d` remembered, src/cli/one-offs.ts) at its
 * time (the chosen ARI time inside the CA's window, the lifetime rule, the end of a hold, a deploy
 * retry), sleeping in between (scheduling/daemon.ts, renewal/scheduler.ts). Each run takes the
 * certificate's lock (file or Lease, as configured), so two replicas are safe.
 *
 * Signals: SIGHUP re-reads the configuration and the one-offs (a bad file is logged with each field
 * and its fix, and the configuration in use stays; a daemon of one-offs only that finds none left,
 * after `certpilot forget`, renews nothing until the next SIGHUP); SIGTERM or SIGINT stop the work in flight through the run's
 * AbortSignal (challenges cleaned up, locks released, an order left for the next start to resume)
 * and the process exits 0; a second one exits at once (bin.ts).
 *
 * Each run's lifecycle event (renewCertificate's one exit) goes to the certificate's notifiers and,
 * with `--listen HOST:PORT`, to the metrics served there read-only: `/metrics` (Prometheus) and `/`
 * (the status page), from the same status snapshot as `certpilot status` (renewal/status.ts).
 */
import type { Server } from 'node:http';
import { systemClock } from '../../clock.js';
import { CertpilotError, ConfigError } from '../../errors.js';
import type { Logger } from '../../logger.js';
import type { CertpilotMetrics } from '../../notify/metrics.js';
import type { StatusSnapshot } from '../../renewal/status.js';
import { RenewalDaemon, type DaemonSetup } from '../../scheduling/daemon.js';
import type { Runtime } from '../compose.js';
import { EXIT, type CommandContext } from '../main.js';
import { lostDeployers } from '../../deploy/deploy-chain.js';
import { observeEvents, unheldOf } from '../run-report.js';
import { openWithOneOffs } from '../one-offs.js';
import { commandLogger, loadCommandConfig } from '../runtime.js';
import { parseListen } from './serve.js';

/**
 * A configuration the daemon can run (at least one certificate, or none with `idleWhenEmpty`): its
 * renewal context has no run interval (the daemon wakes on time, so it never renews early) and
 * sends each event to the notifiers and `metrics`; closing it waits for the notifications in flight.
 */
async function openSetup(ctx: CommandContext, metrics: CertpilotMetrics | undefined, signal: AbortSignal, options: { idleWhenEmpty?: boolean } = {}): Promise<{ runtime: Runtime; setup: DaemonSetup }> {
  // The one-offs `issue -d` remembered are renewed too; a record that cannot be used is logged (at each start and reload).
  const { runtime, problems } = await openWithOneOffs(ctx, metrics ? { acmeObserver: metrics.acmeObserver } : {});
  for (const p of problems) runtime.logger.error({ certificate: p.name, code: p.error.code, hint: p.error.hint }, p.error.message);
  if (runtime.config.certificates.length === 0 && !options.idleWhenEmpty) {
    await runtime.close();
    throw new CertpilotError('ERR_DAEMON_NO_CERTIFICATES', 'daemon: the configuration lists no certificates, and the state holds no one-off certificate to renew', {
      hint: 'List the certificates to keep renewed under `certificates:` in the configuration file (see docs/daemon.md), or issue one with `certpilot issue -d NAME …` into the same state.',
    });
  }
  const observer = observeEvents(runtime, metrics, signal);
  const context = { ...runtime.renewalContext(), events: observer.sink };
  delete context.runIntervalMs;
  const close = async (): Promise<void> => {
    await observer.settled();
    await runtime.close();
  };
  return { runtime, setup: { certificates: runtime.config.certificates, context, concurrency: runtime.config.renewal.concurrency, close, unheld: deployChecksOf(runtime) } };
}

/** How long a certificate's deploy-target check is reused (its live version and records unchanged), by the listener and the daemon's own checks. */
const DEPLOY_CHECK_REUSE_MS = 60_000;

const deployChecks = new WeakMap<Runtime, ReturnType<typeof unheldOf>>();

/**
 * The one deploy-target check of a runtime, shared by the daemon's `deploy-check` wakes and the
 * listener's snapshots: one check per certificate a minute at most, however often /metrics is
 * scraped, and a scrape's fresh answer serves the daemon's next check.
 */
function deployChecksOf(runtime: Runtime): ReturnType<typeof unheldOf> {
  let check = deployChecks.get(runtime);
  if (!check) deployChecks.set(runtime, (check = unheldOf(runtime, { reuseForMs: DEPLOY_CHECK_REUSE_MS })));
  return check;
}

/** How long a request to the listener waits for a fresh status snapshot before it is served the last known one. */
const SNAPSHOT_WAIT_MS = 5_000;

/** The start-up attempts while the state store cannot be read: 2 s, 4 s, 8 s … at most a minute apart. */
const START_RETRY_FIRST_MS = 2_000;
const START_RETRY_MAX_MS = 60_000;

/** A failure that another attempt may not meet (the API server unreachable or overloaded), not a mistake to fix. */
function temporary(err: unknown): err is CertpilotError {
  return err instanceof CertpilotError && !(err instanceof ConfigError) && err.retryable;
}

/** What to say about a temporary failure: the API server could not be reached, or the state store could not be read. */
function unreachableWhat(err: CertpilotError): string {
  return err.code === 'ERR_KUBERNETES_UNREACHABLE' ? 'the Kubernetes API server could not be reached' : 'the state store could not be read';
}

/**
 * The read-only listener: `/metrics` and `/` from a fresh status snapshot of the configuration in
 * use, `/healthz`; GET and HEAD only. Nothing it serves is secret (the snapshot has no key).
 *
 * It answers while the state store cannot be read (the daemon still starting against an API server
 * that is down, or an outage later): a snapshot that fails, or that is not ready within
 * {@link SNAPSHOT_WAIT_MS}, serves the last known one, and `certpilot_state_backend_unreachable`
 * says 1 until a snapshot reads the state again. One snapshot is built at a time, whatever the
 * number of requests.
 */
async function listen(address: string, current: () => Runtime | undefined, metrics: CertpilotMetrics, logger: Logger, onLost: (certificate: string) => void): Promise<Server> {
  const { host, port } = parseListen(address);
  const [{ createServer }, { buildStatusSnapshot }, { renderStatusPage }] = await Promise.all([import('node:http'), import('../../renewal/status.js'), import('../../notify/status-page.js')]);
  let known: StatusSnapshot | undefined;
  let unreachable = false;
  let unreadableWhy = '';
  let building: Promise<void> | undefined;
  // The daemon's own deploy-target check (one per certificate a minute at most); a target it finds
  // lost brings the daemon's check of that certificate forward (`onLost`), so it is deployed again now.
  const checksOf = (runtime: Runtime): ReturnType<typeof unheldOf> => {
    const check = deployChecksOf(runtime);
    return async (spec, stored, records) => {
      const unheld = await check(spec, stored, records);
      if (lostDeployers(unheld).length > 0) onLost(spec.name);
      return unheld;
    };
  };
  const degrade = (why: string): void => {
    unreadableWhy = why;
    if (!unreachable) logger.warn({ err: why }, 'daemon listener: the state store cannot be read: /metrics and / serve the last known status, with certpilot_state_backend_unreachable 1');
    unreachable = true;
  };
  const refresh = (): Promise<void> => {
    const runtime = current();
    if (!runtime) {
      degrade('the daemon has not read its state yet');
      return Promise.resolve();
    }
    building ??= buildStatusSnapshot({ config: runtime.config, store: runtime.store, now: runtime.clock.now(), daemon: true, unheld: checksOf(runtime) })
      .then(
        (snapshot) => {
          const problem = snapshot.certificates.find((c) => c.problem?.code === 'ERR_KUBERNETES_UNREACHABLE')?.problem;
          if (problem) {
            degrade(problem.message);
            known ??= snapshot;
            return;
          }
          if (unreachable) logger.info('daemon listener: the state store answers again');
          known = snapshot;
          unreachable = false;
        },
        (err: unknown) => degrade(err instanceof Error ? err.message : String(err)),
      )
      .finally(() => {
        building = undefined;
      });
    return building;
  };
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const send = (status: number, type: string, body: string): void => {
      res.writeHead(status, { 'Content-Type': type, 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff' });
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      send(405, 'text/plain; charset=utf-8', 'read-only: GET or HEAD\n');
      return;
    }
    if (path === '/healthz') {
      send(200, 'text/plain; charset=utf-8', 'ok\n');
      return;
    }
    if (path !== '/metrics' && path !== '/') {
      send(404, 'text/plain; charset=utf-8', 'not found: / (status page), /metrics, /healthz\n');
      return;
    }
    void (async () => {
      try {
        let timer: NodeJS.Timeout | undefined;
        const late = await Promise.race([
          refresh().then(() => false),
          new Promise<boolean>((resolve) => {
            timer = setTimeout(() => resolve(true), SNAPSHOT_WAIT_MS);
          }),
        ]);
        clearTimeout(timer);
        if (late) degrade(`no status snapshot within ${SNAPSHOT_WAIT_MS / 1000} s`);
        if (path === '/') {
          // The last known page says it is one, and why: a green page from before an outage must not pass for now.
          if (known) send(200, 'text/html; charset=utf-8', renderStatusPage(known, unreachable ? { unreadable: unreadableWhy } : {}));
          else send(503, 'text/plain; charset=utf-8', 'the daemon cannot read its state store yet (see its log); /metrics answers meanwhile\n');
          return;
        }
        if (known) metrics.setSnapshot(known);
        metrics.setStateBackendUnreachable(unreachable);
        send(200, metrics.contentType, await metrics.text());
      } catch (err) {
        logger.warn({ path, err: err instanceof Error ? err.message : String(err) }, 'daemon listener: the status snapshot failed');
        send(500, 'text/plain; charset=utf-8', 'the status snapshot failed; see the daemon log\n');
      }
    })();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(new CertpilotError('ERR_CLI_USAGE', `cli: daemon --listen ${address}: ${err.code === 'EADDRINUSE' ? 'the address is in use' : err.message}`, { cause: err, hint: 'Choose another port (or address) for --listen.' })),
    );
    server.listen(port, host, () => resolve());
  });
  return server;
}

/**
 * Opens the first setup, trying again while the state store cannot be read (the Kubernetes API
 * server down or not answering: a Deployment's pod must not crash-loop on it): one warning per
 * attempt naming what failed and when the next attempt is, 2 s, 4 s … at most a minute apart. A
 * configuration error still ends the daemon at once. `wake` cuts a wait short (SIGHUP). Undefined
 * once `stop` aborts.
 */
async function openWhenReadable(ctx: CommandContext, metrics: CertpilotMetrics | undefined, stop: AbortSignal, logger: Logger, wake: { next?: AbortController }): Promise<{ runtime: Runtime; setup: DaemonSetup } | undefined> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await openSetup(ctx, metrics, stop);
    } catch (err) {
      if (!temporary(err) || stop.aborted) throw err;
      const delayMs = Math.min(START_RETRY_FIRST_MS * 2 ** (attempt - 1), START_RETRY_MAX_MS);
      const at = new Date(systemClock.now().getTime() + delayMs);
      logger.warn(
        { attempt, code: err.code, err: err.message, retryInSeconds: delayMs / 1000, retryAt: at.toISOString() },
        `daemon: not started yet: ${unreachableWhat(err)} (${err.message}); retrying in ${delayMs / 1000} s, at ${at.toISOString()} (SIGHUP: at once); /healthz and /metrics answer meanwhile`,
      );
      const nap = new AbortController();
      wake.next = nap;
      const onStop = (): void => nap.abort();
      stop.addEventListener('abort', onStop, { once: true });
      try {
        await systemClock.sleep(delayMs, nap.signal);
      } catch {
        // cut short: SIGHUP (try now) or the stop signal
      } finally {
        stop.removeEventListener('abort', onStop);
        wake.next = undefined;
      }
      if (stop.aborted) return undefined;
    }
  }
}

/** Entry point of `certpilot daemon`. */
export async function run(ctx: CommandContext): Promise<number> {
  const stop = ctx.signal ?? new AbortController().signal;
  // A configuration error ends the daemon here, at once (exit 2); a state store that cannot be read does not.
  const base = await loadCommandConfig(ctx, false);
  // The daemon's own lines (start, one per cycle, reload, stop) show at the default level (warn):
  // a long-running process must say it is alive. `logLevel: error` or `silent` quiets them too.
  const baseLogger = commandLogger(ctx, base.logLevel);
  const level = baseLogger.level;
  const logger = level === 'error' || level === 'fatal' || level === 'silent' || level === 'debug' || level === 'trace' ? baseLogger : baseLogger.child({}, { level: 'info' });
  // Metrics (prom-client) only when they are served.
  const metrics = ctx.values.listen ? new (await import('../../notify/metrics.js')).CertpilotMetrics({ processMetrics: true, daemon: true }) : undefined;
  let newest: Runtime | undefined;
  // The listener answers from the start, while the first setup may still be waiting for the state store.
  // A lost deploy target a snapshot of the listener sees is told to the daemon once it runs.
  const running: { daemon?: RenewalDaemon } = {};
  const server = ctx.values.listen && metrics ? await listen(ctx.values.listen, () => newest, metrics, logger, (name) => running.daemon?.deployTargetLost(name)) : undefined;
  const closeServer = async (): Promise<void> => {
    if (!server) return;
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  };
  if (server) {
    const at = server.address();
    logger.info({ listen: typeof at === 'object' && at ? `${at.address}:${at.port}` : ctx.values.listen }, 'daemon: serving /metrics and the status page / (read-only)');
  }
  // Until the first setup is open, SIGHUP tries again at once (each attempt reads the configuration anew).
  const wake: { next?: AbortController } = {};
  const onEarlyHangup = (): void => {
    logger.info('SIGHUP: not started yet; trying again now with the configuration as it is now');
    wake.next?.abort();
  };
  process.on('SIGHUP', onEarlyHangup);
  let opened: { runtime: Runtime; setup: DaemonSetup } | undefined;
  try {
    opened = await openWhenReadable(ctx, metrics, stop, logger, wake);
  } catch (err) {
    await closeServer();
    throw err;
  } finally {
    process.off('SIGHUP', onEarlyHangup);
  }
  if (!opened) {
    await closeServer();
    logger.info({ reason: stop.reason instanceof Error ? stop.reason.message : undefined }, 'daemon stopped before it started: nothing was in flight');
    return EXIT.ok;
  }
  const { runtime, setup } = opened;
  newest = runtime;
  let current = setup;
  const renewing = new RenewalDaemon(setup, { clock: runtime.clock, logger });
  running.daemon = renewing;

  let reloading: Promise<void> = Promise.resolve();
  const reload = async (): Promise<void> => {
    logger.info('SIGHUP: re-reading the configuration');
    try {
      // A daemon that renews only one-offs and finds none left (`certpilot forget`) renews nothing
      // until the next SIGHUP: keeping the old configuration would renew what was forgotten. A file
      // that lost all its certificates is still refused (a mistake is likelier than the intent).
      const onlyOneOffs = current.certificates.every((c) => c.oneOff === true);
      const next = await openSetup(ctx, metrics, stop, { idleWhenEmpty: onlyOneOffs });
      newest = next.runtime;
      current = next.setup;
      renewing.replace(next.setup);
      metrics?.configLoaded(true, runtime.clock.now());
      if (next.setup.certificates.length === 0) {
        logger.warn({ certificates: [] }, 'configuration reloaded: no certificate left to renew (the state holds no one-off any more); the daemon renews nothing until a SIGHUP finds one (`certpilot issue -d NAME …`), or stop it');
      } else logger.info({ certificates: next.setup.certificates.map((c) => c.name) }, 'configuration reloaded; the next cycle uses it');
    } catch (err) {
      // The file sent is not the one in use, whatever the reason (CertpilotConfigReloadFailed).
      metrics?.configLoaded(false, runtime.clock.now());
      if (temporary(err)) {
        // Nothing is wrong with the file: the state (Secrets) could not be read to build the new setup.
        logger.warn(
          { code: err.code, err: err.message },
          `configuration NOT reloaded: ${unreachableWhat(err)} (${err.message}); the running configuration is kept; send SIGHUP again once the API server answers`,
        );
        return;
      }
      const e = err instanceof CertpilotError ? err : new CertpilotError('ERR_INTERNAL', String(err));
      logger.error(
        { code: e.code, err: e.message, hint: e.hint, ...(e instanceof ConfigError ? { issues: e.issues.map((i) => `${i.path}: ${i.message}`) } : {}) },
        'configuration NOT reloaded: the previous configuration stays in use; fix the file and send SIGHUP again',
      );
    }
  };
  // Reloads one after another: a burst of SIGHUPs never opens two runtimes at once.
  const onHangup = (): void => {
    reloading = reloading.then(reload);
  };
  process.on('SIGHUP', onHangup);
  metrics?.configLoaded(true, runtime.clock.now());
  logger.info({ certificates: setup.certificates.map((c) => c.name), pid: process.pid }, 'daemon started (SIGHUP reloads the configuration, SIGTERM stops)');
  try {
    await renewing.run(stop);
  } finally {
    process.off('SIGHUP', onHangup);
    await reloading;
    await closeServer();
  }
  logger.info({ reason: stop.reason instanceof Error ? stop.reason.message : undefined }, 'daemon stopped: work in flight was stopped cleanly; the next start resumes any order it left');
  return EXIT.ok;
}
