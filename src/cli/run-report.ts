/**
 * What every renewal command does after its per-certificate results are in: the results become
 * lifecycle events and reach the notifiers (Runtime.notify, the one call site the single exit of
 * renewCertificate will take over), and with `--metrics-file` the metrics (the status snapshot plus
 * this run's durations, deploys and ACME requests) are written for node_exporter's textfile
 * collector. Metrics are loaded (prom-client) only when asked for.
 */
import { resolve } from 'node:path';
import type { RunTiming } from '../notify/lifecycle-event.js';
import type { CertpilotMetrics } from '../notify/metrics.js';
import type { RenewalResult } from '../renewal/renew-certificate.js';
import type { Runtime } from './compose.js';
import type { CommandContext } from './main.js';
import { openRuntime } from './runtime.js';

/** A runtime, and the metrics its ACME client reports to when --metrics-file is given. */
export async function openObservedRuntime(ctx: CommandContext, withCertificate: boolean): Promise<{ runtime: Runtime; metrics: CertpilotMetrics | undefined }> {
  const metrics = ctx.values['metrics-file'] ? new (await import('../notify/metrics.js')).CertpilotMetrics() : undefined;
  const runtime = await openRuntime(ctx, withCertificate, metrics ? { acmeObserver: metrics.acmeObserver } : {});
  return { runtime, metrics };
}

/**
 * Notifies, then writes the metrics file. Never changes what the renewals did: a notifier that
 * fails is only logged. Returns false when the metrics file could not be written (said on stderr).
 */
export async function reportRun(ctx: CommandContext, runtime: Runtime, metrics: CertpilotMetrics | undefined, timed: readonly { result: RenewalResult; timing: RunTiming }[]): Promise<boolean> {
  const { events, summary } = await runtime.notify(timed, ctx.signal);
  if (!metrics) return true;
  for (const event of events) metrics.observeRun(event);
  metrics.observeNotifications(summary);
  return writeSnapshotMetrics(ctx, runtime, metrics);
}

/** Sets the metrics from a fresh status snapshot and writes --metrics-file; false (and a message) when it fails. */
export async function writeSnapshotMetrics(ctx: CommandContext, runtime: Runtime, metrics: CertpilotMetrics): Promise<boolean> {
  const file = ctx.values['metrics-file'];
  if (!file) return true;
  const [{ buildStatusSnapshot }, { writeMetricsFile }] = await Promise.all([import('../renewal/status.js'), import('../notify/metrics.js')]);
  try {
    metrics.setSnapshot(await buildStatusSnapshot({ config: runtime.config, store: runtime.store, now: runtime.clock.now() }));
    await writeMetricsFile(resolve(ctx.cwd, file), await metrics.text());
    return true;
  } catch (err) {
    const e = err as { code?: string; message?: string; hint?: string };
    ctx.output.err(`error ${e.code ?? 'ERR_METRICS_WRITE'}: ${e.message ?? String(err)}${e.hint ? `\n  hint: ${e.hint}` : ''}`);
    return false;
  }
}
