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
 * `renewCertificate`'s single exit emits each run's event to the context's sink; the sink of every
 * command and of the daemon (`cli/run-report.ts` `observeEvents`) hands it to `Runtime.notify`,
 * which calls {@link dispatchEvents}: the one call site.
 */
import type { Logger } from '../logger.js';
import { isFailure, isSuccess, type LifecycleEvent } from './lifecycle-event.js';

/** Delivers lifecycle events somewhere people look. */
export interface Notifier {
  notify(event: LifecycleEvent, options?: { signal?: AbortSignal }): Promise<void>;
}

/** What a notifier instance is told about (the common `on` / `expiringDays` options). */
export interface NotifyPolicy {
  /** `failure` (default), `success`, `expiring` (expires within `expiringDays` with no renewal in this run). */
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

/** True when `policy` asks for `event`. */
export function wants(policy: NotifyPolicy, event: LifecycleEvent): boolean {
  if (policy.on.includes('failure') && isFailure(event)) return true;
  if (policy.on.includes('success') && isSuccess(event)) return true;
  if (policy.on.includes('expiring') && !isSuccess(event) && event.expiresInDays !== undefined && event.expiresInDays < policy.expiringDays) return true;
  return false;
}

/** What a dispatch did, for the run's log and tests. */
export interface DispatchSummary {
  sent: { certificate: string; notifier: string }[];
  failed: { certificate: string; notifier: string; code: string; message: string }[];
}

/**
 * Sends each event to the notifiers of its certificate that want it, all at once. Never throws:
 * a notifier that cannot be built or fails is logged (code and message, never the event's secrets:
 * it has none) and counted in the summary.
 */
export async function dispatchEvents(
  events: readonly LifecycleEvent[],
  routes: (certificate: string) => readonly NotifierRoute[],
  deps: { logger: Logger; signal?: AbortSignal | undefined },
): Promise<DispatchSummary> {
  const summary: DispatchSummary = { sent: [], failed: [] };
  const jobs = events.flatMap((event) =>
    routes(event.certificate)
      .filter((route) => wants(route.policy, event))
      .map(async (route) => {
        try {
          const notifier = await route.notifier();
          await notifier.notify(event, deps.signal ? { signal: deps.signal } : {});
          summary.sent.push({ certificate: event.certificate, notifier: route.name });
          deps.logger.info({ certificate: event.certificate, notifier: route.name, event: event.type }, 'notification sent');
        } catch (err) {
          const code = (err as { code?: unknown }).code;
          const failure = { certificate: event.certificate, notifier: route.name, code: typeof code === 'string' ? code : 'ERR_NOTIFY_FAILED', message: err instanceof Error ? err.message : String(err) };
          summary.failed.push(failure);
          deps.logger.warn({ ...failure, event: event.type }, 'notification not delivered; the renewal result stands');
        }
      }),
  );
  await Promise.all(jobs);
  return summary;
}
