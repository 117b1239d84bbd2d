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
import { CertpilotError, ConfigError } from '../../errors.js';
import type { Logger } from '../../logger.js';
import type { CertpilotMetrics } from '../../notify/metrics.js';
import { RenewalDaemon, type DaemonSetup } from '../../scheduling/daemon.js';
import type { Runtime } from '../compose.js';
import { EXIT, type CommandContext } from '../main.js';
import { observeEvents } from '../run-report.js';
import { openWithOneOffs } from '../one-offs.js';
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
  return { runtime, setup: { certificates: runtime.config.certificates, context, concurrency: runtime.config.renewal.concurrency, close } };
}

/**
 * The read-only listener: `/metrics` and `/` from a fresh status snapshot of the configuration in
 * use, `/healthz`; GET and HEAD only. Nothing it serves is secret (the snapshot has no key).
 */
async function listen(address: string, current: () => Runtime, metrics: CertpilotMetrics, logger: Logger): Promise<Server> {
  const { host, port } = parseListen(address);
  const [{ createServer }, { buildStatusSnapshot }, { renderStatusPage }] = await Promise.all([import('node:http'), import('../../renewal/status.js'), import('../../notify/status-page.js')]);
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
    const runtime = current();
    void (async () => {
      try {
        const snapshot = await buildStatusSnapshot({ config: runtime.config, store: runtime.store, now: runtime.clock.now(), daemon: true });
        if (path === '/') {
          send(200, 'text/html; charset=utf-8', renderStatusPage(snapshot));
          return;
        }
        metrics.setSnapshot(snapshot);
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

/** Entry point of `certpilot daemon`. */
export async function run(ctx: CommandContext): Promise<number> {
  const stop = ctx.signal ?? new AbortController().signal;
  // Metrics (prom-client) only when they are served.
  const metrics = ctx.values.listen ? new (await import('../../notify/metrics.js')).CertpilotMetrics({ processMetrics: true }) : undefined;
  const { runtime, setup } = await openSetup(ctx, metrics, stop);
  let newest = runtime;
  let current = setup;
  // The daemon's own lines (start, one per cycle, reload, stop) show at the default level (warn):
  // a long-running process must say it is alive. `logLevel: error` or `silent` quiets them too.
  const level = runtime.logger.level;
  const logger = level === 'error' || level === 'fatal' || level === 'silent' || level === 'debug' || level === 'trace' ? runtime.logger : runtime.logger.child({}, { level: 'info' });
  const daemon = new RenewalDaemon(setup, { clock: runtime.clock, logger });
  let server: Server | undefined;
  if (ctx.values.listen && metrics) {
    try {
      server = await listen(ctx.values.listen, () => newest, metrics, logger);
    } catch (err) {
      await setup.close?.();
      throw err;
    }
    const at = server.address();
    logger.info({ listen: typeof at === 'object' && at ? `${at.address}:${at.port}` : ctx.values.listen }, 'daemon: serving /metrics and the status page / (read-only)');
  }

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
      daemon.replace(next.setup);
      if (next.setup.certificates.length === 0) {
        logger.warn({ certificates: [] }, 'configuration reloaded: no certificate left to renew (the state holds no one-off any more); the daemon renews nothing until a SIGHUP finds one (`certpilot issue -d NAME …`), or stop it');
      } else logger.info({ certificates: next.setup.certificates.map((c) => c.name) }, 'configuration reloaded; the next cycle uses it');
    } catch (err) {
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
  logger.info({ certificates: setup.certificates.map((c) => c.name), pid: process.pid }, 'daemon started (SIGHUP reloads the configuration, SIGTERM stops)');
  try {
    await daemon.run(stop);
  } finally {
    process.off('SIGHUP', onHangup);
    await reloading;
    if (server) {
      server.closeAllConnections();
      await new Promise((resolve) => server?.close(resolve));
    }
  }
  logger.info({ reason: stop.reason instanceof Error ? stop.reason.message : undefined }, 'daemon stopped: work in flight was stopped cleanly; the next start resumes any order it left');
  return EXIT.ok;
}
