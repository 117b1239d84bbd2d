/**
 * certpilot's Prometheus metrics (prom-client). Like cert-manager's `pkg/metrics/certificates.go`
 * they observe state: the per-certificate gauges are set from the one status snapshot
 * (renewal/status.ts), never threaded through the renewal flow. A run adds what only it sees:
 * renewal durations and outcomes, deploy results per deployer, and ACME requests by endpoint and
 * status (through the transport's optional observer, handed down from the composition root; no
 * global registry). `serve` adds its responder's hits, misses and errors.
 *
 * docs/metrics.md maps each metric to cert-manager's and x509-certificate-exporter's names;
 * monitoring/ holds the alert rules and the Grafana dashboard built on them.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { AcmeRequestObserver, AcmeRequestRecord } from '../acme/protocol/transport.js';
import { CertpilotError } from '../errors.js';
import type { StatusSnapshot } from '../renewal/status.js';
import { dirname } from 'node:path';
import { atomicWrite, writeFailureReason } from '../fs/atomic-write.js';
import { VERSION } from '../version.js';
import type { LifecycleEvent } from './lifecycle-event.js';

const seconds = (iso: string | undefined): number | undefined => {
  if (iso === undefined) return undefined;
  const t = Date.parse(iso);
  return Number.isFinite(t) ? t / 1000 : undefined;
};

/** Every metric name certpilot exports (the dashboard test checks its queries use only these). */
export const METRIC_NAMES = [
  'certpilot_build_info',
  'certpilot_status_generated_timestamp_seconds',
  'certpilot_state_backend_unreachable',
  'certpilot_certificate_expiration_timestamp_seconds',
  'certpilot_certificate_not_before_timestamp_seconds',
  'certpilot_certificate_renewal_timestamp_seconds',
  'certpilot_certificate_ari_window_start_timestamp_seconds',
  'certpilot_certificate_ari_window_end_timestamp_seconds',
  'certpilot_certificate_last_success_timestamp_seconds',
  'certpilot_certificate_last_failure_timestamp_seconds',
  'certpilot_certificate_consecutive_failures',
  'certpilot_certificate_ready_status',
  'certpilot_certificate_cadence_misfit',
  'certpilot_deployer_up_to_date',
  'certpilot_deployer_last_deploy_timestamp_seconds',
  'certpilot_notifier_last_attempt_success',
  'certpilot_notifier_last_attempt_timestamp_seconds',
  'certpilot_renewal_duration_seconds',
  'certpilot_renewals_total',
  'certpilot_deploys_total',
  'certpilot_notifications_total',
  'certpilot_acme_requests_total',
  'certpilot_acme_request_duration_seconds',
  'certpilot_http01_responder_requests_total',
] as const;

/** The metrics only the daemon exports (`daemon: true`), beside {@link METRIC_NAMES}. */
export const DAEMON_METRIC_NAMES = ['certpilot_config_last_reload_successful', 'certpilot_config_last_reload_success_timestamp_seconds'] as const;

/** A set of certpilot metrics in its own registry. */
export class CertpilotMetrics {
  /** The registry to expose (`/metrics`) or write (`--metrics-file`). */
  readonly registry = new Registry();
  /** Hand this to the ACME transport (through compose) to count requests. */
  readonly acmeObserver: AcmeRequestObserver;

  private readonly expiration: Gauge;
  private readonly notBefore: Gauge;
  private readonly renewalAt: Gauge;
  private readonly ariStart: Gauge;
  private readonly ariEnd: Gauge;
  private readonly lastSuccess: Gauge;
  private readonly lastFailure: Gauge;
  private readonly failures: Gauge;
  private readonly ready: Gauge;
  private readonly cadence: Gauge;
  private readonly deployerCurrent: Gauge;
  private readonly deployerLast: Gauge;
  private readonly notifierSuccess: Gauge;
  private readonly notifierLast: Gauge;
  private readonly generated: Gauge;
  private readonly stateUnreachable: Gauge;
  /** The daemon's configuration reloads (`daemon: true` only). */
  private readonly reloadOk: Gauge | undefined;
  private readonly reloadOkAt: Gauge | undefined;
  private readonly duration: Histogram;
  private readonly renewals: Counter;
  private readonly deploys: Counter;
  private readonly notifications: Counter;
  private readonly acmeRequests: Counter;
  private readonly acmeDuration: Histogram;
  private readonly responder: Counter;

  /**
   * `processMetrics`: add prom-client's process metrics (for long-running `serve`, not for a textfile).
   * `snapshot: false` (`serve`, which has no status snapshot): leave out the gauges
   * {@link setSnapshot} sets, so no `certpilot_status_generated_timestamp_seconds 0` (a label-less
   * gauge exports 0 until set) makes the shipped rules think the metrics are two days old.
   */
  constructor(options: { processMetrics?: boolean; snapshot?: boolean; daemon?: boolean } = {}) {
    const registers = [this.registry];
    const snapshotRegisters = options.snapshot === false ? [] : registers;
    const gauge = (name: string, help: string, labelNames: string[] = ['name']): Gauge => new Gauge({ name, help, labelNames, registers: snapshotRegisters });
    new Gauge({ name: 'certpilot_build_info', help: 'Always 1; the certpilot version as a label.', labelNames: ['version'], registers }).set({ version: VERSION }, 1);
    // Prometheus's own names for the same facts (prometheus_config_last_reload_successful): only the daemon reloads.
    this.reloadOk = options.daemon
      ? new Gauge({ name: 'certpilot_config_last_reload_successful', help: "1 when the daemon's last configuration load (its start, each SIGHUP) succeeded; 0 while the file it was sent last is not in use.", registers })
      : undefined;
    this.reloadOkAt = options.daemon
      ? new Gauge({ name: 'certpilot_config_last_reload_success_timestamp_seconds', help: 'When the daemon last loaded its configuration successfully (its start, or a SIGHUP).', registers })
      : undefined;
    this.generated = gauge('certpilot_status_generated_timestamp_seconds', 'When the status snapshot behind these metrics was taken (a textfile that stops moving means renew stopped running).', []);
    this.stateUnreachable = gauge(
      'certpilot_state_backend_unreachable',
      '1 while the daemon cannot read its state store (the Kubernetes API server unreachable, or refusing): the certificate gauges then hold their last known values and certpilot_status_generated_timestamp_seconds stops moving; 0 once a read succeeds.',
      [],
    );
    this.expiration = gauge('certpilot_certificate_expiration_timestamp_seconds', 'The live certificate\'s notAfter (cert-manager: certmanager_certificate_expiration_timestamp_seconds).');
    this.notBefore = gauge('certpilot_certificate_not_before_timestamp_seconds', 'The live certificate\'s notBefore (cert-manager: certmanager_certificate_not_before_timestamp_seconds).');
    this.renewalAt = gauge('certpilot_certificate_renewal_timestamp_seconds', 'When the next renewal happens: the ARI-chosen or lifetime time, the end of a hold, or now when due (cert-manager: certmanager_certificate_renewal_timestamp_seconds).', ['name', 'reason']);
    this.ariStart = gauge('certpilot_certificate_ari_window_start_timestamp_seconds', 'Start of the CA\'s ARI suggested renewal window (RFC 9773) for the live certificate.');
    this.ariEnd = gauge('certpilot_certificate_ari_window_end_timestamp_seconds', 'End of the CA\'s ARI suggested renewal window for the live certificate.');
    this.lastSuccess = gauge('certpilot_certificate_last_success_timestamp_seconds', 'The last successful issuance or renewal.');
    this.lastFailure = gauge('certpilot_certificate_last_failure_timestamp_seconds', 'The last failed attempt, present only while the last attempt failed.');
    this.failures = gauge('certpilot_certificate_consecutive_failures', 'Consecutive failed attempts at the CA (0 after a success).');
    this.ready = gauge('certpilot_certificate_ready_status', 'Ready: a live, unexpired certificate that every deployer holds, its state readable (cert-manager: certmanager_certificate_ready_status).', ['name', 'condition']);
    this.cadence = gauge('certpilot_certificate_cadence_misfit', '1 when the run cadence cannot land inside the certificate\'s renewal window (see `certpilot status`).');
    this.deployerCurrent = gauge('certpilot_deployer_up_to_date', '1 when the deployer holds the live version, 0 when it failed, lags behind, or its target lost it.', ['name', 'deployer']);
    this.deployerLast = gauge('certpilot_deployer_last_deploy_timestamp_seconds', 'When the deployer last ran for the certificate, by result.', ['name', 'deployer', 'result']);
    this.notifierSuccess = gauge('certpilot_notifier_last_attempt_success', '1 when the notifier\'s last attempt (for any certificate\'s event, kept in the state) was delivered, 0 when it failed.', ['notifier']);
    this.notifierLast = gauge('certpilot_notifier_last_attempt_timestamp_seconds', 'When the notifier was last tried.', ['notifier']);
    this.duration = new Histogram({
      name: 'certpilot_renewal_duration_seconds',
      help: 'How long one certificate\'s run took (plan, order, deploy), by outcome.',
      labelNames: ['name', 'outcome'],
      buckets: [0.01, 0.05, 0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600],
      registers,
    });
    this.renewals = new Counter({ name: 'certpilot_renewals_total', help: 'Certificate runs by outcome (issued, renewed, deployed, deploy-failed, not-due, held, locked, failed, interrupted).', labelNames: ['name', 'outcome'], registers });
    this.deploys = new Counter({ name: 'certpilot_deploys_total', help: 'Deployer runs by result (deployed, up-to-date, failed, not-run).', labelNames: ['name', 'deployer', 'result'], registers });
    this.notifications = new Counter({ name: 'certpilot_notifications_total', help: 'Notifications by notifier and result (sent, failed).', labelNames: ['notifier', 'result'], registers });
    this.acmeRequests = new Counter({ name: 'certpilot_acme_requests_total', help: 'ACME requests by endpoint and HTTP status ("error": no answer) (cert-manager: certmanager_http_acme_client_request_count).', labelNames: ['endpoint', 'status'], registers });
    this.acmeDuration = new Histogram({
      name: 'certpilot_acme_request_duration_seconds',
      help: 'ACME request latency by endpoint (cert-manager: certmanager_http_acme_client_request_duration_seconds).',
      labelNames: ['endpoint'],
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.responder = new Counter({ name: 'certpilot_http01_responder_requests_total', help: 'http-01 responder answers: hit (token served), miss (404), error (store failure, 503).', labelNames: ['result'], registers });
    this.acmeObserver = { observe: (r: AcmeRequestRecord) => this.observeAcme(r) };
    if (options.processMetrics) {
      collectDefaultMetrics({ register: this.registry, prefix: 'certpilot_' });
      // Gauges named like counters (`promtool check metrics` refuses them); the same numbers by type
      // stay in certpilot_nodejs_active_{handles,requests,resources} (sum them for the total).
      for (const name of ['handles', 'requests', 'resources']) this.registry.removeSingleMetric(`certpilot_nodejs_active_${name}_total`);
    }
  }

  /** Sets every per-certificate gauge from `snapshot` (the previous values are dropped first). */
  setSnapshot(snapshot: StatusSnapshot): void {
    for (const g of [this.expiration, this.notBefore, this.renewalAt, this.ariStart, this.ariEnd, this.lastSuccess, this.lastFailure, this.failures, this.ready, this.cadence, this.deployerCurrent, this.deployerLast, this.notifierSuccess, this.notifierLast]) g.reset();
    const now = Date.parse(snapshot.generatedAt);
    this.generated.set(now / 1000);
    for (const n of snapshot.notifiers ?? []) {
      this.notifierSuccess.set({ notifier: n.notifier }, n.result === 'sent' ? 1 : 0);
      const at = seconds(n.at);
      if (at !== undefined) this.notifierLast.set({ notifier: n.notifier }, at);
    }
    for (const c of snapshot.certificates) {
      const name = c.name;
      const set = (g: Gauge, value: number | undefined, labels: Record<string, string> = {}): void => {
        if (value !== undefined) g.set({ name, ...labels }, value);
      };
      const notAfter = seconds(c.notAfter);
      set(this.expiration, notAfter);
      set(this.notBefore, seconds(c.notBefore));
      set(this.renewalAt, seconds(c.nextRenewal), { reason: c.nextRenewalReason ?? 'unknown' });
      // The state keeps a window only for the live certificate (a renewal drops it).
      if (c.ariWindow && c.notAfter !== undefined) {
        set(this.ariStart, seconds(c.ariWindow.start));
        set(this.ariEnd, seconds(c.ariWindow.end));
      }
      set(this.lastSuccess, seconds(c.lastSuccessAt));
      // Failures only of a certificate certpilot still renews: one removed from the configuration
      // keeps its state (and its last failure) until forgotten, which would keep
      // CertpilotRenewalFailing / CertpilotIssuanceFailing firing forever.
      if (c.configured || c.oneOff === true) {
        set(this.lastFailure, seconds(c.lastFailureAt));
        set(this.failures, c.failureCount);
      }
      if (c.configured) set(this.cadence, c.cadence ? 1 : 0);
      const deployersOk = (c.deployers ?? []).every((d) => d.current);
      const isReady = c.problem === undefined && notAfter !== undefined && notAfter * 1000 > now && deployersOk;
      const unknown = c.problem !== undefined;
      for (const condition of ['True', 'False', 'Unknown']) {
        this.ready.set({ name, condition }, (unknown ? condition === 'Unknown' : isReady ? condition === 'True' : condition === 'False') ? 1 : 0);
      }
      for (const d of c.deployers ?? []) {
        this.deployerCurrent.set({ name, deployer: d.deployer }, d.current ? 1 : 0);
        const at = seconds(d.at);
        if (at !== undefined && d.result) this.deployerLast.set({ name, deployer: d.deployer, result: d.result }, at);
      }
    }
  }

  /**
   * Says whether the state store could be read for the snapshot being served: `true` keeps the
   * per-certificate gauges of the last {@link setSnapshot} (the last known values).
   */
  setStateBackendUnreachable(unreachable: boolean): void {
    this.stateUnreachable.set(unreachable ? 1 : 0);
  }

  /** The daemon loaded its configuration (`ok`), or a SIGHUP's file was not taken (the previous one stays in use). */
  configLoaded(ok: boolean, at: Date): void {
    this.reloadOk?.set(ok ? 1 : 0);
    if (ok) this.reloadOkAt?.set(at.getTime() / 1000);
  }

  /** Records one certificate's run: its duration and outcome, and each deployer's result. */
  observeRun(event: LifecycleEvent): void {
    this.duration.observe({ name: event.certificate, outcome: event.type }, event.timings.durationMs / 1000);
    this.renewals.inc({ name: event.certificate, outcome: event.type });
    for (const step of event.deploy?.steps ?? []) this.deploys.inc({ name: event.certificate, deployer: step.deployer, result: step.status });
  }

  /** Records what the notifiers did. */
  observeNotifications(summary: { sent: { notifier: string }[]; failed: { notifier: string }[] }): void {
    for (const s of summary.sent) this.notifications.inc({ notifier: s.notifier, result: 'sent' });
    for (const f of summary.failed) this.notifications.inc({ notifier: f.notifier, result: 'failed' });
  }

  /** Records one http-01 responder answer. */
  observeResponder(result: 'hit' | 'miss' | 'error'): void {
    this.responder.inc({ result });
  }

  /** The exposition text (Prometheus text format 0.0.4, which node_exporter's textfile collector reads). */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  /** The content type of {@link text}. */
  get contentType(): string {
    return this.registry.contentType;
  }

  private observeAcme(r: AcmeRequestRecord): void {
    this.acmeRequests.inc({ endpoint: r.endpoint, status: r.status === undefined ? 'error' : String(r.status) });
    this.acmeDuration.observe({ endpoint: r.endpoint }, r.durationMs / 1000);
  }
}

/**
 * Writes the metrics for node_exporter's textfile collector: to a temporary sibling, then renamed
 * over `file` (the collector never reads half a file; it ignores names not ending in `.prom`).
 */
export async function writeMetricsFile(file: string, text: string): Promise<void> {
  try {
    await atomicWrite(file, text, { mode: 0o644 });
  } catch (cause) {
    throw new CertpilotError('ERR_METRICS_WRITE', `metrics: writing ${file} failed: ${writeFailureReason(file, cause)}`, { cause, hint: metricsWriteHint(file, cause) });
  }
}

/** The fix for a metrics file that could not be written, by its cause: a missing directory, a full disk, permissions (the catalog's hint otherwise). */
export function metricsWriteHint(file: string, cause: unknown): string | undefined {
  const errno = cause instanceof CertpilotError && cause.cause !== undefined ? cause.cause : cause;
  const dir = dirname(file);
  switch ((errno as NodeJS.ErrnoException | undefined)?.code) {
    case 'ENOENT':
    case 'ENOTDIR':
      return `Create ${dir} (e.g. node_exporter's textfile directory, /var/lib/prometheus/node-exporter) or point --metrics-file into an existing directory.`;
    case 'ENOSPC':
    case 'EDQUOT':
      return `Free space on the volume of ${dir} (df -h ${dir}): the metrics file is small, but nothing can be written there; the next run writes it again.`;
    case 'EACCES':
    case 'EPERM':
      return `Let the user certpilot runs as write ${dir} (chown or chmod it, e.g. the node_exporter textfile directory's group), or point --metrics-file into a directory it may write.`;
    case 'EROFS':
      return `${dir} is read-only here (a read-only root or mount): point --metrics-file into a writable volume.`;
    case 'EISDIR':
      return `--metrics-file names a directory: give a file in it, e.g. ${file.replace(/\/+$/, '')}/certpilot.prom.`;
    default:
      return undefined;
  }
}
