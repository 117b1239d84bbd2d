/**
 * `certpilot daemon`: one long-running process that renews every configured certificate at its
 * time (the chosen ARI time inside the CA's window, the lifetime rule, the end of a hold, a deploy
 * retry), sleeping in between (scheduling/daemon.ts, renewal/scheduler.ts). Each run takes the
 * certificate's lock (file or Lease, as configured), so two replicas are safe.
 *
 * Signals: SIGHUP re-reads the configuration (a bad file is logged with each field and its fix,
 * and the configuration in use stays); SIGTERM or SIGINT stop the work in flight through the run's
 * AbortSignal (challenges cleaned up, locks released, an order left for the next start to resume)
 * and the process exits 0; a second one exits at once (bin.ts).
 */
import { CertpilotError, ConfigError } from '../../errors.js';
import type { RenewalContext } from '../../renewal/renew-certificate.js';
import { RenewalDaemon, type DaemonSetup } from '../../scheduling/daemon.js';
import type { Runtime } from '../compose.js';
import { EXIT, type CommandContext } from '../main.js';
import { openRuntime } from '../runtime.js';

/** The renewal context of the daemon: no run interval (it wakes on time, so it never renews early). */
function daemonContext(runtime: Runtime): RenewalContext {
  const context = runtime.renewalContext();
  delete context.runIntervalMs;
  return context;
}

/** A configuration the daemon can run: at least one certificate. */
async function openSetup(ctx: CommandContext): Promise<{ runtime: Runtime; setup: DaemonSetup }> {
  const runtime = await openRuntime(ctx, false);
  if (runtime.config.certificates.length === 0) {
    await runtime.close();
    throw new CertpilotError('ERR_DAEMON_NO_CERTIFICATES', 'daemon: the configuration lists no certificates', {
      hint: 'List the certificates to keep renewed under `certificates:` in the configuration file (see docs/daemon.md).',
    });
  }
  return {
    runtime,
    setup: { certificates: runtime.config.certificates, context: daemonContext(runtime), concurrency: runtime.config.renewal.concurrency, close: () => runtime.close() },
  };
}

/** Entry point of `certpilot daemon`. */
export async function run(ctx: CommandContext): Promise<number> {
  const { runtime, setup } = await openSetup(ctx);
  // The daemon's own lines (start, one per cycle, reload, stop) show at the default level (warn):
  // a long-running process must say it is alive. `logLevel: error` or `silent` quiets them too.
  const level = runtime.logger.level;
  const logger = level === 'error' || level === 'fatal' || level === 'silent' || level === 'debug' || level === 'trace' ? runtime.logger : runtime.logger.child({}, { level: 'info' });
  const daemon = new RenewalDaemon(setup, { clock: runtime.clock, logger });
  const stop = ctx.signal ?? new AbortController().signal;

  let reloading: Promise<void> = Promise.resolve();
  const reload = async (): Promise<void> => {
    logger.info('SIGHUP: re-reading the configuration');
    try {
      const next = await openSetup(ctx);
      daemon.replace(next.setup);
      logger.info({ certificates: next.setup.certificates.map((c) => c.name) }, 'configuration reloaded; the next cycle uses it');
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
  }
  logger.info({ reason: stop.reason instanceof Error ? stop.reason.message : undefined }, 'daemon stopped: work in flight was stopped cleanly; the next start resumes any order it left');
  return EXIT.ok;
}
