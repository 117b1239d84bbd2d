/**
 * The notifier seam (DESIGN.md §2) and the one place that sends a run's events to notifiers.
 *
 * Contract of {@link Notifier}:
 * - `notify(event)` delivers one lifecycle event (webhook POST, e-mail…), retrying as it sees fit,
 *   and resolves when delivered; it rejects with a `CertpilotError` (`ERR_NOTIFY_FAILED`) when it
 *   gives up. It honours `signal` (Ctrl-C stops a retry wait).
 * - It is never told a key or a secret: the event carries none (lifecycle-event.ts), and its own
 *   secrets (a signing key, an SMTP password) never appear in what it sends or in its errors.
 * - It may be called concurrently for different certificates.
 *
 * A notifier that fails never fails a renewal: {@link dispatchEvents} logs the failure and goes on.
 * A stop (SIGINT/SIGTERM) is not a failure of a notifier either: deliveries, the `interrupted`
 * event's included, go on for {@link STOPPED_DELIVERY_MS} after it under a signal of their own (never
 * the run's, which has already fired); one that could not finish in that time is `aborted`, which
 * is recorded nowhere (not attempted, not failed).
 * `renewCertificate`'s single exit emits each run's event to the context's sink; the sink of every
 * command and of the daemon (`cli/run-report.ts` `observeEvents`) hands it to `Runtime.notify`,
 * which calls {@link dispatchEvents}: the one call site.
 */
import { CertpilotError } from '../errors.js';
import type { Logger } from '../logger.js';
import { isExpiring, isFailure, isSuccess, type LifecycleEvent } from './lifecycle-event.js';

/** Delivers lifecycle events somewhere people look. */
export interface Notifier {
  notify(event: LifecycleEvent, options?: { signal?: AbortSignal }): Promise<void>;
}

/** What a notifier instance is told about (the common `on` / `expiringDays` options). */
export interface NotifyPolicy {
  /**
   * `failure` (default; also an `interrupted` run, said as such), `success`, `expiring` (no renewal
   * in this run and less left than the smaller of `expiringDays` and a fifth of the lifetime: {@link isExpiring}).
   */
  on: readonly ('failure' | 'success' | 'expiring')[];
  expiringDays: number;
}

/** The notifiers of one certificate, by instance name, each with its policy. */
export interface NotifierRoute {
  name: string;
  policy: NotifyPolicy;
  /** Built on first use (the plug-in's code is loaded only when an event is due). */
  notifier: () => Promise<Notifier>;
}

/** Which of `policy`'s kinds `event` is sent as (a failure first), or undefined when it asks for none. */
export function wantedAs(policy: NotifyPolicy, event: LifecycleEvent): NotifyPolicy['on'][number] | undefined {
  // An interrupted run is no failure (nothing counts as one), but those who hear of failures hear of it.
  if (policy.on.includes('failure') && (isFailure(event) || event.type === 'interrupted')) return 'failure';
  if (policy.on.includes('success') && isSuccess(event)) return 'success';
  if (policy.on.includes('expiring') && isExpiring(event, policy.expiringDays)) return 'expiring';
  return undefined;
}

/** True when `policy` asks for `event`. */
export function wants(policy: NotifyPolicy, event: LifecycleEvent): boolean {
  return wantedAs(policy, event) !== undefined;
}

/**
 * How long a delivery may still take once the run's signal fired (SIGINT/SIGTERM): enough for one
 * request to a receiver that is up (the `interrupted` event is news), short enough that a stop is
 * a stop (Kubernetes waits 30 s before SIGKILL; a second signal exits at once).
 */
export const STOPPED_DELIVERY_MS = 5_000;

/** What a dispatch did, for the run's log and tests. */
export interface DispatchSummary {
  sent: { certificate: string; notifier: string }[];
  failed: { certificate: string; notifier: string; code: string; message: string }[];
  /** Cut short {@link STOPPED_DELIVERY_MS} after a stop: not a failure of the notifier, recorded nowhere. */
  aborted: { certificate: string; notifier: string }[];
}

/**
 * Sends each event to the notifiers of its certificate that want it, all at once. Never throws:
 * a notifier that cannot be built or fails is logged (code and message, never the event's secrets:
 * it has none) and counted in the summary. `signal` is the run's: once it fires, each delivery has
 * `stoppedDeliveryMs` more (its own signal, then no more waiting for it), and one cut short is
 * `aborted`, not `failed`.
 */
export async function dispatchEvents(
  events: readonly LifecycleEvent[],
  routes: (certificate: string) => readonly NotifierRoute[],
  deps: { logger: Logger; signal?: AbortSignal | undefined; stoppedDeliveryMs?: number },
): Promise<DispatchSummary> {
  const summary: DispatchSummary = { sent: [], failed: [], aborted: [] };
  const jobs = events.flatMap((event) =>
    routes(event.certificate).flatMap((route) => {
      const as = wantedAs(route.policy, event);
      if (as === undefined) return [];
      // What this notifier is told: an expiring notice says so (its summary reads EXPIRING).
      const sent: LifecycleEvent = as === 'expiring' ? { ...event, expiring: true } : event;
      return [(async () => {
        const bound = afterStop(deps.signal, deps.stoppedDeliveryMs ?? STOPPED_DELIVERY_MS);
        try {
          const notifier = await route.notifier();
          await untilAborted(notifier.notify(sent, bound.signal ? { signal: bound.signal } : {}), bound.signal);
          summary.sent.push({ certificate: event.certificate, notifier: route.name });
          deps.logger.info({ certificate: event.certificate, notifier: route.name, event: event.type }, 'notification sent');
        } catch (err) {
          if (bound.signal?.aborted) {
            summary.aborted.push({ certificate: event.certificate, notifier: route.name });
            deps.logger.info({ certificate: event.certificate, notifier: route.name, event: event.type }, 'notification not finished before the stop: not counted against the notifier');
            return;
          }
          const code = (err as { code?: unknown }).code;
          const failure = { certificate: event.certificate, notifier: route.name, code: typeof code === 'string' ? code : 'ERR_NOTIFY_FAILED', message: err instanceof Error ? err.message : String(err) };
          summary.failed.push(failure);
          deps.logger.warn({ ...failure, event: event.type }, 'notification not delivered; the renewal result stands');
        } finally {
          bound.dispose();
        }
      })()];
    }),
  );
  await Promise.all(jobs);
  return summary;
}

/** A signal that fires `ms` after `run` does (at once counting from now when it already has); none without `run`. */
function afterStop(run: AbortSignal | undefined, ms: number): { signal: AbortSignal | undefined; dispose(): void } {
  if (!run) return { signal: undefined, dispose: () => undefined };
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const start = (): void => {
    timer = setTimeout(() => controller.abort(new CertpilotError('ERR_INTERRUPTED', `notify: not finished ${ms} ms after the stop`)), ms);
  };
  if (run.aborted) start();
  else run.addEventListener('abort', start, { once: true });
  return {
    signal: controller.signal,
    dispose: () => {
      clearTimeout(timer);
      run.removeEventListener('abort', start);
    },
  };
}

/** `work`, or its signal's reason once that fires first (a notifier that ignores its signal is not waited for). */
function untilAborted<T>(work: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return work;
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    if (signal.aborted) onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
