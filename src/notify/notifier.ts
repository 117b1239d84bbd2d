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
 * A notifier is not sent the same notice again within its `repeatHours` ({@link decideNotice}, from
 * what its record in the renewal state says it was told): a retry every 5 minutes is no news.
 * `renewCertificate`'s single exit emits each run's event to the context's sink; the sink of every
 * command and of the daemon (`cli/run-report.ts` `observeEvents`) hands it to `Runtime.notify`,
 * which calls {@link dispatchEvents}: the one call site.
 */
import { CertpilotError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { NotificationRecord, RepeatedNotice } from '../storage/certificate-store.js';
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
  /** The same notice is not sent again within this many hours ({@link decideNotice}); 0: every run. */
  repeatHours: number;
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
 * What one event means for one notifier, given what it was told before (`told`, its record's
 * memory, NotificationRecord.told) and its policy. Pure: the time is the run's (`finishedAt`).
 * - `send`: the notice to deliver. A failure, expiring or interrupted notice carries `repeats`
 *   (its kind and substance), remembered once delivered. A success after a failure the notifier
 *   was told of is sent as a resolution (`resolved`, summary `RESOLVED`) even when `on` lacks
 *   `success`; a delivered success clears the memory (`clears`).
 * - `suppress`: the same kind with the same substance was delivered less than `repeatHours` ago.
 * - `none`: nothing for this notifier; `clears` when the event is a success and the memory holds
 *   only notices that are not failures (an expiring or interrupted notice is over; nothing to say).
 *
 * The substance ({@link noticeSubstance}): a failure's error code; a deploy failure's version and
 * failed deployers with their codes; the live version for expiring (and whether it has expired);
 * nothing for interrupted (a stop is a stop, whichever step it cut short).
 */
export function decideNotice(
  policy: NotifyPolicy,
  event: LifecycleEvent,
  told: NotificationRecord['told'] | undefined,
): NoticeDecision {
  const memory = told !== null && typeof told === 'object' ? told : {};
  const failure = validTold(memory.failure);
  if (isSuccess(event)) {
    if (failure) return { action: 'send', event: { ...event, resolved: { was: failure.about } }, clears: true };
    const remembered = Object.keys(memory).length > 0;
    if (wantedAs(policy, event) === 'success') return { action: 'send', event, ...(remembered ? { clears: true } : {}) };
    return { action: 'none', ...(remembered ? { clears: true } : {}) };
  }
  const as = wantedAs(policy, event);
  if (as === undefined || as === 'success') return { action: 'none' };
  const decide = (kind: RepeatedNotice): NoticeDecision => {
    const about = noticeSubstance(kind, event);
    const last = kind === 'failure' ? failure : validTold(memory[kind]);
    const now = Date.parse(event.timings.finishedAt);
    if (last && last.about === about && policy.repeatHours > 0 && Number.isFinite(now)) {
      const until = Date.parse(last.at) + policy.repeatHours * 3_600_000;
      // A record from the future (a clock set back) silences nothing.
      if (now < until && Date.parse(last.at) <= now) return { action: 'suppress', kind, about, until: new Date(until) };
    }
    return { action: 'send', event: kind === 'expiring' ? { ...event, expiring: true } : event, repeats: { kind, about } };
  };
  const first = decide(as === 'expiring' ? 'expiring' : event.type === 'interrupted' ? 'interrupted' : 'failure');
  // A failure already told of does not hide that the certificate now runs out (or has): the
  // expiring notice, with its own memory, is news of its own.
  if (first.action === 'suppress' && first.kind === 'failure' && policy.on.includes('expiring') && isExpiring(event, policy.expiringDays)) {
    const expiring = decide('expiring');
    if (expiring.action === 'send') return expiring;
  }
  return first;
}

/** What {@link decideNotice} says for one notifier and one event. */
export type NoticeDecision =
  | { action: 'send'; event: LifecycleEvent; repeats?: { kind: RepeatedNotice; about: string }; clears?: true }
  | { action: 'suppress'; kind: RepeatedNotice; about: string; until: Date }
  | { action: 'none'; clears?: true };

/** What makes two notices of one kind the same news (see {@link decideNotice}). */
export function noticeSubstance(kind: RepeatedNotice, event: LifecycleEvent): string {
  if (kind === 'interrupted') return 'interrupted';
  if (kind === 'expiring') {
    const left = event.notAfter !== undefined ? Date.parse(event.notAfter) - Date.parse(event.timings.finishedAt) : NaN;
    return `v${event.version ?? '?'}${left <= 0 ? ' expired' : ''}`;
  }
  if (event.type === 'failed') return event.error?.code ?? 'error';
  const failed = (event.deploy?.steps ?? []).filter((step) => step.status === 'failed').map((step) => `${step.deployer} ${step.code ?? 'failed'}`);
  return `deploy v${event.deploy?.version ?? event.version ?? '?'}: ${failed.join(', ') || 'failed'}`;
}

/** A stored notice as written, or undefined (a hand-edited or older record counts as never told). */
function validTold(told: unknown): { about: string; at: string } | undefined {
  if (told === null || typeof told !== 'object') return undefined;
  const { about, at } = told as { about?: unknown; at?: unknown };
  return typeof about === 'string' && typeof at === 'string' && Number.isFinite(Date.parse(at)) ? { about, at } : undefined;
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
  /** Not sent: the notifier was told the same within its `repeatHours` (neither a delivery nor a failure). */
  suppressed: { certificate: string; notifier: string; kind: RepeatedNotice; until: string }[];
  /**
   * What the notifiers' records remember from here on (NotificationRecord.told): a delivered
   * notice of a condition (`remember`), or a success that ends every condition (`clear`).
   */
  told: ({ certificate: string; notifier: string } & ({ remember: { kind: RepeatedNotice; about: string } } | { clear: true }))[];
}

/**
 * Sends each event to the notifiers of its certificate that want it ({@link decideNotice}), all at
 * once. Never throws: a notifier that cannot be built or fails is logged (code and message, never
 * the event's secrets: it has none) and counted in the summary. `signal` is the run's: once it
 * fires, each delivery has `stoppedDeliveryMs` more (its own signal, then no more waiting for it),
 * and one cut short is `aborted`, not `failed`. `records` reads what each notifier of a certificate
 * was told (its NotificationRecord), once per certificate and only when an event may be news to one
 * of them; without it, or when it fails, nothing counts as told (a repeat rather than silence).
 */
export async function dispatchEvents(
  events: readonly LifecycleEvent[],
  routes: (certificate: string) => readonly NotifierRoute[],
  deps: {
    logger: Logger;
    signal?: AbortSignal | undefined;
    stoppedDeliveryMs?: number;
    records?: (certificate: string) => Promise<Readonly<Record<string, NotificationRecord>> | undefined>;
  },
): Promise<DispatchSummary> {
  const summary: DispatchSummary = { sent: [], failed: [], aborted: [], suppressed: [], told: [] };
  const read = new Map<string, Promise<Readonly<Record<string, NotificationRecord>> | undefined>>();
  const recordsOf = (certificate: string): Promise<Readonly<Record<string, NotificationRecord>> | undefined> => {
    let records = read.get(certificate);
    if (!records) {
      records = (deps.records?.(certificate) ?? Promise.resolve(undefined)).catch((err: unknown) => {
        deps.logger.debug({ certificate, err: err instanceof Error ? err.message : String(err) }, 'notification records not read: every notice counts as new');
        return undefined;
      });
      read.set(certificate, records);
    }
    return records;
  };
  const jobs = events.flatMap((event) => {
    const eventRoutes = routes(event.certificate);
    // A success may resolve a failure any notifier was told of; anything else is news only to those who want it.
    if (!isSuccess(event) && !eventRoutes.some((route) => wantedAs(route.policy, event) !== undefined)) return [];
    return eventRoutes.map(async (route) => {
      const told = (await recordsOf(event.certificate))?.[route.name]?.told;
      const decision = decideNotice(route.policy, event, told);
      const who = { certificate: event.certificate, notifier: route.name };
      if (decision.action === 'suppress') {
        summary.suppressed.push({ ...who, kind: decision.kind, until: decision.until.toISOString() });
        deps.logger.info({ ...who, event: event.type, notice: decision.kind, about: decision.about, repeatAfter: decision.until.toISOString() }, 'notification not repeated: told the same within repeatHours');
        return;
      }
      if (decision.action === 'none') {
        if (decision.clears) summary.told.push({ ...who, clear: true });
        return;
      }
      // What this notifier is told: an expiring notice says so (EXPIRING), a resolution too (RESOLVED).
      const sent = decision.event;
      const bound = afterStop(deps.signal, deps.stoppedDeliveryMs ?? STOPPED_DELIVERY_MS);
      try {
        const notifier = await route.notifier();
        await untilAborted(notifier.notify(sent, bound.signal ? { signal: bound.signal } : {}), bound.signal);
        summary.sent.push(who);
        if (decision.repeats) summary.told.push({ ...who, remember: decision.repeats });
        if (decision.clears) summary.told.push({ ...who, clear: true });
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
    });
  });
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
