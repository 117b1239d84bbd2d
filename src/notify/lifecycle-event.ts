/**
 * The lifecycle event: what one certificate's run did, as notifiers, logs and metrics see it
 * (DESIGN.md §2; certmagic emits events). Built from the run's result by one function, field by
 * field: never from a stored certificate, so a private key cannot reach it; and every text is
 * scrubbed of anything PEM-shaped, so not even an error message quoting a key can carry one out.
 */
import { formatDuration } from '../duration.js';
import type { RenewalResult } from '../renewal/renew-certificate.js';

/**
 * What happened to one certificate in one run. `deploy-failed`: only the deploy stage ran (a retry,
 * or `certpilot deploy`) and a deployer failed; an `issued`/`renewed` whose deploy failed keeps its
 * type, with `deploy.ok` false (both are failures to {@link isFailure}).
 */
export type LifecycleEventType = 'issued' | 'renewed' | 'deployed' | 'deploy-failed' | 'not-due' | 'held' | 'locked' | 'failed' | 'interrupted';

/** One certificate's run, for notifiers. Holds no key, no secret; every string is scrubbed. */
export interface LifecycleEvent {
  type: LifecycleEventType;
  /** The certificate's name. */
  certificate: string;
  domains: string[];
  /** Why it was renewed (`ari-window`, `lifetime`, `missing`…), when it was. */
  reason?: string;
  /** One human sentence. */
  message: string;
  /** The live version after the run. */
  version?: number;
  /** The live certificate's expiry, when known. */
  notAfter?: string;
  /** The start of validity of the certificate {@link notAfter} is of, when known (with it, its lifetime). */
  notBefore?: string;
  /** Whole days until {@link notAfter}, when known (negative: expired). */
  expiresInDays?: number;
  /** When it becomes due, or may be tried again. */
  next?: string;
  /**
   * Set on what a notifier is sent because the certificate is expiring (its `on: [expiring]`,
   * {@link isExpiring}): the summary then says `EXPIRING`. Never set by the run itself.
   */
  expiring?: true;
  /**
   * Set on a success sent to a notifier that was told of a failure of this certificate (the
   * failure's error code, or its failed deployers): the summary then says `RESOLVED`. Never set by
   * the run itself.
   */
  resolved?: { was: string };
  /** On failure: code, message and hint. */
  error?: { code: string; message: string; hint: string };
  /** Not renewed in this run (`held`, `not-due`) while its renewal is failing: the last attempt's error. */
  lastError?: { code: string; message: string; hint: string };
  /** The deploy stage, when it ran: each deployer's status. */
  deploy?: { ok: boolean; version: number; steps: { deployer: string; status: string; message: string; code?: string }[] };
  /** When the run for this certificate started and ended. */
  timings: { startedAt: string; finishedAt: string; durationMs: number };
}

/** When one certificate's run started and ended. */
export interface RunTiming {
  startedAt: Date;
  finishedAt: Date;
}

const PEM_BLOCK = /-----BEGIN [A-Z0-9 ]+-----[\s\S]*?(?:-----END [A-Z0-9 ]+-----|$)/g;

/** Removes anything PEM-shaped (a key or certificate block) from a text bound for a notification. */
export function scrub(text: string): string {
  return text.replace(PEM_BLOCK, '[PEM removed]');
}

/**
 * True for events that report a failure: the run failed, or its deploy stage did. An `interrupted`
 * run (SIGINT/SIGTERM) is not one, whatever its deploy stage says: nothing is counted as a failure.
 */
export function isFailure(event: LifecycleEvent): boolean {
  if (event.type === 'interrupted') return false;
  return event.type === 'failed' || event.type === 'deploy-failed' || event.deploy?.ok === false;
}

/** True for events that report a success: a new version, or a deploy that completed. */
export function isSuccess(event: LifecycleEvent): boolean {
  return (event.type === 'issued' || event.type === 'renewed' || event.type === 'deployed') && event.deploy?.ok !== false;
}

/**
 * The event of one result, or undefined for a dry run (nothing happened to the live certificate).
 * `notAfter` is the live certificate's expiry when the caller knows it and the result does not.
 */
export function eventFromResult(
  result: RenewalResult,
  context: { domains: readonly string[]; timing: RunTiming; notAfter?: string | undefined; notBefore?: string | undefined },
): LifecycleEvent | undefined {
  if (result.outcome === 'dry-run') return undefined;
  const notAfter = result.notAfter ?? context.notAfter;
  // The start of validity of that same certificate: the result's own when the expiry is the result's.
  const notBefore = result.notAfter !== undefined ? result.notBefore : context.notBefore;
  const finished = context.timing.finishedAt;
  const expiresInDays = notAfter !== undefined && Number.isFinite(Date.parse(notAfter)) ? Math.floor((Date.parse(notAfter) - finished.getTime()) / 86_400_000) : undefined;
  return {
    type: result.outcome,
    certificate: result.name,
    domains: [...context.domains],
    ...(result.reason ? { reason: result.reason } : {}),
    message: scrub(result.message),
    ...(result.version !== undefined ? { version: result.version } : {}),
    ...(notAfter !== undefined ? { notAfter } : {}),
    ...(notAfter !== undefined && notBefore !== undefined ? { notBefore } : {}),
    ...(expiresInDays !== undefined ? { expiresInDays } : {}),
    ...(result.next ? { next: result.next.toISOString() } : {}),
    ...(result.error ? { error: { code: result.error.code, message: scrub(result.error.message), hint: scrub(result.error.hint) } } : {}),
    ...(result.lastError ? { lastError: { code: result.lastError.code, message: scrub(result.lastError.message), hint: scrub(result.lastError.hint) } } : {}),
    ...(result.deploy
      ? {
          deploy: {
            ok: result.deploy.ok,
            version: result.deploy.version,
            steps: result.deploy.steps.map((s) => ({ deployer: s.deployer, status: s.status, message: scrub(s.message), ...(s.error ? { code: s.error.code } : {}) })),
          },
        }
      : {}),
    timings: { startedAt: context.timing.startedAt.toISOString(), finishedAt: finished.toISOString(), durationMs: Math.max(0, finished.getTime() - context.timing.startedAt.getTime()) },
  };
}

/** One line for chat (Slack/Mattermost `text`) and e-mail subjects. */
export function eventSummary(event: LifecycleEvent): string {
  const what = isFailure(event)
    ? event.type === 'failed'
      ? `renewal FAILED (${event.error?.code ?? 'error'})`
      : `deploy FAILED (${event.deploy?.steps.find((s) => s.status === 'failed')?.deployer ?? 'a deployer'})`
    : event.type === 'interrupted'
      ? 'INTERRUPTED'
      : event.type;
  const head = `certpilot: ${event.certificate} ${what}${event.version !== undefined ? ` v${event.version}` : ''}`;
  const left = expiry(event);
  if (event.expiring && !isFailure(event)) {
    // Sent because it is expiring: said first, with what the renewal is doing about it.
    const renewal = event.lastError ? `renewal FAILING (${event.lastError.code})` : 'renewal not yet done';
    return `${head} ${left?.startsWith('EXPIRED') ? left : `EXPIRING${left ? `: ${left}` : ''}`}, ${renewal}`;
  }
  const failing = !isFailure(event) && event.lastError ? `: renewal FAILING (${event.lastError.code})` : '';
  // Sent because it follows a failure this notifier was told of: the news is that it is over.
  const resolved = event.resolved && isSuccess(event) ? ` RESOLVED (was ${event.resolved.was})` : '';
  return `${head}${resolved}${failing}${left ? `; ${left}` : ''}`;
}

/** `expires in 40 day(s)`, or in days and hours within a week (`2d 23h`: "2 day(s)" would hide most of a day), or `EXPIRED 3h ago`; undefined when unknown. */
function expiry(event: LifecycleEvent): string | undefined {
  const left = event.notAfter !== undefined ? Date.parse(event.notAfter) - Date.parse(event.timings.finishedAt) : NaN;
  if (!Number.isFinite(left)) return event.expiresInDays !== undefined ? `expires in ${event.expiresInDays} day(s)` : undefined;
  if (left <= 0) return `EXPIRED ${formatDuration(-left)} ago`;
  return left < 7 * 86_400_000 ? `expires in ${formatDuration(left)}` : `expires in ${Math.floor(left / 86_400_000)} day(s)`;
}

/**
 * The share of a certificate's lifetime under which it counts as expiring: the shipped alert's
 * (`CertpilotCertificateExpiringNoRenewal`, monitoring/certpilot-rules.yml). certpilot renews with a
 * third of the lifetime left (a half under 10 days) or inside the CA's ARI window, so a certificate
 * this close to its end is one whose renewal is not happening.
 */
export const EXPIRING_LIFETIME_SHARE = 0.2;

/**
 * True when `event`'s certificate is expiring for a notifier with `expiringDays`: this run did not
 * renew it, and less time is left than the smaller of `expiringDays` and a fifth of its lifetime
 * (`expiringDays` alone when the lifetime is unknown). A 90-day certificate: 14 days (the default);
 * a 10-day one: 2 days; a 6-day one: 29 h, never while it is still inside its normal renewal time.
 */
export function isExpiring(event: LifecycleEvent, expiringDays: number): boolean {
  if (isSuccess(event)) return false;
  const notAfter = event.notAfter !== undefined ? Date.parse(event.notAfter) : NaN;
  const now = Date.parse(event.timings.finishedAt);
  if (!Number.isFinite(notAfter) || !Number.isFinite(now)) return event.expiresInDays !== undefined && event.expiresInDays < expiringDays;
  let threshold = expiringDays * 86_400_000;
  const notBefore = event.notBefore !== undefined ? Date.parse(event.notBefore) : NaN;
  if (Number.isFinite(notBefore) && notAfter > notBefore) threshold = Math.min(threshold, EXPIRING_LIFETIME_SHARE * (notAfter - notBefore));
  return notAfter - now < threshold;
}

/** The notification body for humans: the summary, the sentence, the hint and the next step. */
export function eventText(event: LifecycleEvent): string {
  const lines = [eventSummary(event), event.message];
  if (event.error) lines.push(`hint: ${event.error.hint}`);
  if (event.lastError) lines.push(`renewal failing: last error ${event.lastError.code}: ${event.lastError.message}`, `hint: ${event.lastError.hint}`);
  for (const s of event.deploy?.steps ?? []) if (s.status === 'failed') lines.push(`deployer ${s.deployer}: ${s.message}`);
  if (event.next) lines.push(`next: ${event.next}`);
  lines.push(`names: ${event.domains.join(', ')}`);
  return lines.join('\n');
}
