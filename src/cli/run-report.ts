/**
 * Where every renewal command's lifecycle events go: the sink of renewCertificate's one exit
 * ({@link observeEvents}) counts each in the metrics and sends it to the notifiers (the one call site
 * of Runtime.notify); after the run, with `--metrics-file`, the metrics (the status snapshot plus
 * this run's durations, deploys and ACME requests) are written for node_exporter's textfile
 * collector. Metrics are loaded (prom-client) only when asked for.
 */
import { resolve } from 'node:path';
import type { LifecycleEvent } from '../notify/lifecycle-event.js';
import type { CertpilotMetrics } from '../notify/metrics.js';
import type { StatusInput, StatusSnapshot } from '../renewal/status.js';
import type { Runtime } from './compose.js';
import type { CommandContext } from './main.js';
import { openWithOneOffs, type OneOffProblem } from './one-offs.js';
import { openRuntime } from './runtime.js';

/**
 * A runtime, and the metrics its ACME client reports to when --metrics-file is given. With
 * `oneOffs` (`renew`, `status`), the one-offs `issue -d` remembered are added to the configuration
 * (for `status` whatever their CA), and the records that cannot be used are returned (each fails alone).
 * `printsResults`: the command prints each certificate's result (`CommandLoggerOptions` in ./runtime.ts).
 */
export async function openObservedRuntime(
  ctx: CommandContext,
  withCertificate: boolean,
  oneOffs: false | 'renew' | 'status' = false,
  printsResults = false,
): Promise<{ runtime: Runtime; metrics: CertpilotMetrics | undefined; problems: OneOffProblem[]; otherCa: string[] }> {
  const metrics = ctx.values['metrics-file'] ? new (await import('../notify/metrics.js')).CertpilotMetrics() : undefined;
  const options = { ...(metrics ? { acmeObserver: metrics.acmeObserver } : {}), ...(printsResults ? { printsResults: true } : {}) };
  if (oneOffs) return { ...(await openWithOneOffs(ctx, { ...options, anyCa: oneOffs === 'status' })), metrics };
  return { runtime: await openRuntime(ctx, withCertificate, options), metrics, problems: [], otherCa: [] };
}

/** Where a command's (or the daemon's) lifecycle events go, and how to wait for the notifications in flight. */
export interface EventObserver {
  /** The sink of renewCertificate's one exit (`RenewalContext.events`): metrics at once, notifiers in the background. */
  sink: (event: LifecycleEvent) => void;
  /** Resolves once every notification started so far has been delivered or given up. */
  settled(): Promise<void>;
}

/**
 * The one call site of notifications: each event, as the run's one exit emits it, is counted in
 * `metrics` and sent to its certificate's notifiers. Nothing is kept once delivered (the daemon runs
 * for months); a notifier that fails is logged by the dispatch and never changes a result.
 */
export function observeEvents(runtime: Runtime, metrics: CertpilotMetrics | undefined, signal?: AbortSignal): EventObserver {
  const inFlight = new Set<Promise<void>>();
  return {
    sink: (event) => {
      metrics?.observeRun(event);
      const delivery = runtime.notify([event], signal).then(
        (summary) => metrics?.observeNotifications(summary),
        (err: unknown) => runtime.logger.warn({ certificate: event.certificate, err: err instanceof Error ? err.message : String(err) }, 'notifications not sent'),
      );
      inFlight.add(delivery);
      void delivery.finally(() => inFlight.delete(delivery));
    },
    settled: async () => {
      while (inFlight.size > 0) await Promise.all([...inFlight]);
    },
  };
}

/**
 * Waits for the run's notifications, then writes the metrics file. Never changes what the renewals
 * did. Returns false when the metrics file could not be written (said on stderr).
 */
export async function reportRun(ctx: CommandContext, runtime: Runtime, metrics: CertpilotMetrics | undefined, observer: EventObserver): Promise<boolean> {
  await observer.settled();
  if (!metrics) return true;
  return writeSnapshotMetrics(ctx, runtime, metrics);
}

/**
 * The status snapshot's check of deploy targets (`StatusInput.unheld`): the runtime's deployers that
 * verify their target cheaply (files: one marker read each; kubernetes-secret: one GET of its
 * Secret), so `status`, the page and the metrics say a target lost its files or Secret instead of
 * what the deploy record says.
 */
export function unheldOf(runtime: Runtime, options: { reuseForMs?: number } = {}): NonNullable<StatusInput['unheld']> {
  const context = runtime.renewalContext();
  // The daemon answers each scrape of /metrics and each look at / from a fresh snapshot: a
  // certificate's answer is reused for `reuseForMs` while its live version and records stay (a
  // Prometheus scraping every 15 s would otherwise GET every Secret four times a minute).
  const reused = new Map<string, { at: number; key: string; answer: Promise<Awaited<ReturnType<NonNullable<StatusInput['unheld']>>>> }>();
  return async (spec, stored, records) => {
    if (!context.verifiers) return [];
    const ask = async (): ReturnType<NonNullable<StatusInput['unheld']>> => {
      const { unheldDeployers } = await import('../deploy/deploy-chain.js');
      return unheldDeployers(stored, await context.verifiers!(spec), records);
    };
    if (!options.reuseForMs) return ask();
    const key = `${stored.version} ${JSON.stringify(records ?? {})}`;
    const now = runtime.clock.now().getTime();
    const last = reused.get(spec.name);
    if (last && last.key === key && now - last.at < options.reuseForMs) return last.answer;
    const answer = ask();
    reused.set(spec.name, { at: now, key, answer });
    // A check that failed is asked again next time.
    answer.catch(() => reused.delete(spec.name));
    return answer;
  };
}

/** Sets the metrics from a fresh status snapshot and writes --metrics-file; false (and a message) when it fails. */
export async function writeSnapshotMetrics(ctx: CommandContext, runtime: Runtime, metrics: CertpilotMetrics, built?: StatusSnapshot): Promise<boolean> {
  const file = ctx.values['metrics-file'];
  if (!file) return true;
  const [{ buildStatusSnapshot }, { writeMetricsFile }] = await Promise.all([import('../renewal/status.js'), import('../notify/metrics.js')]);
  try {
    // `built`: a snapshot of every certificate this run already made (`status`), not made again.
    metrics.setSnapshot(built ?? (await buildStatusSnapshot({ config: runtime.config, store: runtime.store, now: runtime.clock.now(), unheld: unheldOf(runtime) })));
    await writeMetricsFile(resolve(ctx.cwd, file), await metrics.text());
    return true;
  } catch (err) {
    const e = err as { code?: string; message?: string; hint?: string };
    ctx.output.err(`error ${e.code ?? 'ERR_METRICS_WRITE'}: ${e.message ?? String(err)}${e.hint ? `\n  hint: ${e.hint}` : ''}`);
    return false;
  }
}
