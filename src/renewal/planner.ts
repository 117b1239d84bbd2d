/**
 * The renewal planner: runs the policy chain, then holds back a due renewal while the CA asked us to
 * wait (Retry-After) or while failures put it in backoff; and the pure state transitions a renewal
 * run records (ARI answer, success, failure). Everything takes `now`; nothing reads a clock, so a
 * test can replay weeks of daily runs with plain dates.
 */
import { CertpilotError } from '../errors.js';
import type { RenewalState, StoredCertificate } from '../storage/certificate-store.js';
import { formatDuration } from '../duration.js';
import { currentRenewalInfo, evaluatePolicies, renewalTime } from './policies.js';
import type { CertificateSpec, PolicyResult, RenewalReason } from './policies.js';

export type { CertificateSpec, RenewalReason } from './policies.js';
export { renewalTime } from './policies.js';

/** The planner's answer for one certificate. */
export interface RenewalDecision {
  /** Renew now. */
  due: boolean;
  /** Why it is (or would be, when held) due. */
  reason?: RenewalReason;
  /** One human sentence for logs and `certpilot status`. */
  message: string;
  /** When it becomes (or became) due, for status. */
  dueAt?: Date;
  /** Why it is held back even though due: until when. */
  heldUntil?: Date;
  /** What holds it back: our failure backoff, or the CA's Retry-After. */
  heldBy?: 'backoff' | 'retry-after';
}

/** What {@link planRenewal} looks at. */
export interface PlanInput {
  spec: CertificateSpec;
  stored: StoredCertificate | undefined;
  state: RenewalState;
  now: Date;
  /** Renew even when not due, and despite failure backoff; never despite the CA's Retry-After. */
  force?: boolean;
  /**
   * When the caller will next run, if known (cron, daemon). A renewal that falls due before then is
   * done now rather than a whole run late (RFC 9773 §4.2, step 5 of the client algorithm).
   */
  nextRunAt?: Date;
}

/** First retry delay after a failure; doubles per consecutive failure. */
export const BACKOFF_BASE_MS = 5 * 60 * 1000;
/** The longest failure backoff. */
export const BACKOFF_MAX_MS = 24 * 3600 * 1000;
/** The backoff never exceeds this fraction of the certificate's lifetime (12 h for a 6-day certificate). */
export const BACKOFF_LIFETIME_FRACTION = 1 / 12;
/** Bounds for the next ARI fetch: RFC 9773 §4.3 asks clients to clamp the server's Retry-After to a sane range. */
export const ARI_MIN_REFETCH_MS = 60 * 1000;
/** The longest time between two ARI fetches for one certificate. */
export const ARI_MAX_REFETCH_MS = 24 * 3600 * 1000;
/**
 * After a renewalInfo fetch that got no usable answer and no Retry-After: RFC 9773 §4.3.3 treats
 * an error that retries did not clear as long-term and asks again after about six hours (the
 * transport has already retried a network error once).
 */
export const ARI_ERROR_REFETCH_MS = 6 * 3600 * 1000;
/**
 * After finding that the CA's directory offers no renewalInfo: asked again when certpilot next
 * looks at the directory (its directory cache keeps the answer a day), so a CA that adds ARI is
 * noticed the next day and one without it costs no wake in between.
 */
export const ARI_UNSUPPORTED_REFETCH_MS = ARI_MAX_REFETCH_MS;

/**
 * A renewalInfo fetch not to make before `until`, for the certificate `certId`: what a run that
 * wanted an ARI answer and got none into the store learned (the CA offers no renewalInfo, the fetch
 * failed, the answer could not be saved). Without it "no answer yet" means "fetch now" for ever,
 * and a daemon wakes for nothing after every run. It is not in the renewal state on purpose: a
 * nothing-due `renew` against a CA without ARI writes nothing and takes no lock; cron's own cadence
 * spaces those runs, and the daemon keeps the hold in memory (a restart costs one more look).
 */
export interface AriHold {
  certId: string;
  until: Date;
}

function parseTime(iso: string | undefined): number | undefined {
  if (iso === undefined) return undefined;
  const t = Date.parse(iso);
  return Number.isFinite(t) ? t : undefined;
}

/** What holds a certificate's renewal back, and until when. */
export interface RenewalHold {
  until: Date;
  /** Our failure backoff, or the CA's Retry-After (the later of the two when both hold). */
  by: 'backoff' | 'retry-after';
  /** When our failure backoff ends, when one holds (also when the CA's Retry-After ends later). */
  backoffUntil?: Date;
}

/**
 * What holds `spec` back at `now`, due or not: the CA's Retry-After (not even `force` passes it)
 * and our failure backoff (which `force`, or a changed configuration, lifts). Undefined when
 * nothing does. {@link planRenewal} applies it to a due certificate; `status` shows it for every one.
 */
export function activeHold(spec: CertificateSpec, state: RenewalState, now: Date, force = false): RenewalHold | undefined {
  const nowMs = now.getTime();
  // The CA's word outranks --force: a CA that said wait is never asked again before then.
  const retryAfter = parseTime(state.retryAfter);
  const ca = retryAfter !== undefined && retryAfter > nowMs ? retryAfter : undefined;
  // A changed configuration is a fix worth trying now: its backoff no longer holds.
  const configChanged = state.backoffFingerprint !== undefined && state.backoffFingerprint !== configFingerprint(spec);
  const backoffUntil = configChanged || force ? undefined : parseTime(state.backoffUntil);
  const ours = backoffUntil !== undefined && backoffUntil > nowMs ? backoffUntil : undefined;
  if (ours !== undefined && (ca === undefined || ours > ca)) return { until: new Date(ours), by: 'backoff', backoffUntil: new Date(ours) };
  if (ca !== undefined) return { until: new Date(ca), by: 'retry-after', ...(ours !== undefined ? { backoffUntil: new Date(ours) } : {}) };
  return undefined;
}

/** Decides whether `spec` is due now, and whether backoff or the CA's Retry-After holds it back. */
export function planRenewal(input: PlanInput): RenewalDecision {
  const { stored, state, now, force } = input;
  const nowMs = now.getTime();
  let verdict: PolicyResult | undefined = evaluatePolicies(input);

  if (!verdict && stored) {
    const at = renewalTime(stored, state);
    if (input.nextRunAt && at.getTime() <= input.nextRunAt.getTime()) {
      const reason = currentRenewalInfo(stored, state) ? 'ari-window' : 'lifetime';
      verdict = { reason, message: `due at ${at.toISOString()}, before the next run at ${input.nextRunAt.toISOString()}`, dueAt: at };
    } else if (!force) {
      return { due: false, message: `not due: renews in ${formatDuration(at.getTime() - nowMs)}, at ${at.toISOString()}`, dueAt: at };
    }
  }
  if (!verdict) verdict = { reason: 'forced', message: 'renewal forced' };
  else if (force && verdict.reason !== 'forced') verdict = { ...verdict, message: `${verdict.message} (forced)` };
  const dueAt = verdict.dueAt ?? now;

  const hold = activeHold(input.spec, state, now, force);
  if (hold) {
    const heldUntil = hold.until.getTime();
    const heldBy = hold.by;
    const why =
      heldBy === 'retry-after'
        ? 'the CA asked us to wait (rate limit or Retry-After); not even --force asks it again before then'
        : `${state.failureCount} consecutive failure(s) at the CA${lastCounted(state)}; run with --force to try now`;
    return {
      due: false,
      reason: verdict.reason,
      message: `${verdict.message}; held until ${new Date(heldUntil).toISOString()} (${formatDuration(heldUntil - nowMs)}): ${why}`,
      dueAt,
      heldUntil: new Date(heldUntil),
      heldBy,
    };
  }
  return { due: true, reason: verdict.reason, message: verdict.message, dueAt };
}

/**
 * Records a renewalInfo answer (RFC 9773 §4.2): picks a uniformly random time inside the suggested
 * window and keeps it for as long as the CA keeps that window, so repeated fetches do not re-roll
 * the dice; a moved window is picked again. A time already past (or a window already over) is
 * `now`: due at once. The next fetch is the answer's Retry-After, clamped to [1 min, 24 h].
 */
export function applyRenewalInfo(
  state: RenewalState,
  info: { certId: string; suggestedWindow: { start: Date; end: Date }; explanationURL?: string; retryAfter: Date },
  now: Date,
  random: () => number = Math.random,
): RenewalState {
  const start = info.suggestedWindow.start.getTime();
  const end = info.suggestedWindow.end.getTime();
  if (!Number.isFinite(start) || !Number.isFinite(end) || end < start) {
    throw new CertpilotError('ERR_ACME_BAD_RESPONSE', `renewal: renewalInfo for ${info.certId} ignored: the suggested window ends before it starts`, {
      hint: 'Nothing to do: certpilot falls back to the lifetime rule for this certificate.',
    });
  }
  const windowStart = new Date(start).toISOString();
  const windowEnd = new Date(end).toISOString();
  const previous = state.ari;
  const sameWindow = previous?.certId === info.certId && previous.windowStart === windowStart && previous.windowEnd === windowEnd;
  let selectedTime: string;
  if (sameWindow && previous) {
    selectedTime = previous.selectedTime;
  } else {
    const pick = start + Math.min(Math.max(random(), 0), 1) * (end - start);
    selectedTime = new Date(Math.max(pick, now.getTime())).toISOString();
  }
  const retryAfter = Number.isFinite(info.retryAfter.getTime()) ? info.retryAfter.getTime() : now.getTime() + 6 * 3600 * 1000;
  const nextFetch = Math.min(Math.max(retryAfter, now.getTime() + ARI_MIN_REFETCH_MS), now.getTime() + ARI_MAX_REFETCH_MS);
  const ari: NonNullable<RenewalState['ari']> = {
    certId: info.certId,
    windowStart,
    windowEnd,
    fetchedAt: now.toISOString(),
    nextFetchAt: new Date(nextFetch).toISOString(),
    selectedTime,
  };
  if (info.explanationURL) ari.explanationUrl = info.explanationURL;
  return { ...state, ari };
}

/**
 * When the live certificate's next renewalInfo fetch is due (RFC 9773 §4.3), or undefined when it
 * has no ARI id: at once without an answer for it (a new certificate's window is fetched right
 * after issuance), else the answer's clamped Retry-After; never before a `hold` for the same
 * certificate.
 */
export function nextRenewalInfoFetch(stored: StoredCertificate | undefined, state: RenewalState, hold?: AriHold): Date | undefined {
  const certId = stored?.metadata.ariCertId;
  if (!certId) return undefined;
  const ari = state.ari;
  // Without an answer for this certificate (or with an unreadable time): due since the epoch, i.e. now.
  let at = ari && ari.certId === certId ? (parseTime(ari.nextFetchAt) ?? 0) : 0;
  const held = hold && hold.certId === certId ? hold.until.getTime() : undefined;
  if (held !== undefined && Number.isFinite(held)) at = Math.max(at, held);
  return new Date(at);
}

/**
 * True when there is a live certificate with an ARI id and no answer for it yet, or its next fetch
 * time has come, and no `hold` for it ({@link AriHold}) says to wait.
 */
export function needsRenewalInfo(stored: StoredCertificate | undefined, state: RenewalState, now: Date, hold?: AriHold): boolean {
  const next = nextRenewalInfoFetch(stored, state, hold);
  return next !== undefined && now.getTime() >= next.getTime();
}

/**
 * The hold after a renewalInfo fetch that got no usable answer (RFC 9773 §4.3.3): the CA's
 * Retry-After when its error carried one (clamped like an answer's), else
 * {@link ARI_ERROR_REFETCH_MS}.
 */
export function ariHoldAfterError(certId: string, now: Date, retryAfter?: Date): AriHold {
  const asked = retryAfter?.getTime();
  const wait = asked !== undefined && Number.isFinite(asked) ? Math.min(Math.max(asked - now.getTime(), ARI_MIN_REFETCH_MS), ARI_MAX_REFETCH_MS) : ARI_ERROR_REFETCH_MS;
  return { certId, until: new Date(now.getTime() + wait) };
}

/** Records a successful issuance: failures and holds cleared, the old ARI answer dropped (it was for the old certificate). */
export function recordSuccess(state: RenewalState, now: Date, reason?: string): RenewalState {
  const next: RenewalState = { ...state, failureCount: 0, lastAttempt: { at: now.toISOString(), result: 'success' } };
  if (reason !== undefined && next.lastAttempt) next.lastAttempt.reason = reason;
  delete next.ari;
  delete next.backoffUntil;
  delete next.backoffFingerprint;
  delete next.retryAfter;
  delete next.retired;
  return next;
}

/**
 * What of a certificate's configuration a fix would change: its names, their solvers, the key
 * type, the profile, and (through `spec.settings`, a digest) the directory URL and every setting of
 * its solvers and deployers. A backoff recorded under another fingerprint no longer holds.
 */
export function configFingerprint(spec: CertificateSpec): string {
  return JSON.stringify([[...spec.domains].sort(), spec.solvers ? Object.entries(spec.solvers).sort() : [], spec.keyType, spec.profile ?? null, ...(spec.settings ? [spec.settings] : [])]);
}

/**
 * The last attempt, said after the count of failures at the CA: a network error or a fix of ours
 * that failed since (counted nothing, holds nothing) is not called a failure at the CA.
 */
function lastCounted(state: RenewalState): string {
  const last = state.lastAttempt;
  if (last?.result !== 'failure' || !last.code) return '';
  return last.local ? `; the last attempt failed with ${last.code} before the CA counted anything` : `, last ${last.code}`;
}

/**
 * The failure backoff after `failureCount` consecutive failures: 5 min doubling, capped at 24 h and
 * at 1/12 of the certificate's lifetime, so a short-lived certificate still gets several tries
 * before it expires.
 */
export function backoffDelayMs(failureCount: number, lifetimeMs?: number): number {
  const exponential = BACKOFF_BASE_MS * 2 ** Math.min(Math.max(failureCount - 1, 0), 30);
  let cap = BACKOFF_MAX_MS;
  if (lifetimeMs !== undefined && Number.isFinite(lifetimeMs) && lifetimeMs > 0) cap = Math.min(cap, lifetimeMs * BACKOFF_LIFETIME_FRACTION);
  return Math.min(exponential, cap);
}

/**
 * Records a failed attempt: one more consecutive failure, a backoff that survives restarts (it is
 * in the state), and the CA's Retry-After when it sent one. `lifetimeMs` is the live certificate's
 * lifetime, when there is one. No secrets go into `err.message`.
 */
export function recordFailure(
  state: RenewalState,
  now: Date,
  err: {
    code: string;
    message: string;
    /** The error's hint, kept for what reports the failure later (a held run's notification, the status page). */
    hint?: string;
    retryAfter?: Date;
    reason?: string;
    /** True when the CA counted nothing (the rule of `failure-cost.ts`): no backoff. */
    local?: boolean;
    fingerprint?: string;
  },
  lifetimeMs?: number,
): RenewalState {
  if (err.local) {
    // The CA counted nothing (see failure-cost.ts for the one rule): the next attempt is not held;
    // the user's fix is tried at once.
    const next: RenewalState = { ...state, lastAttempt: { at: now.toISOString(), result: 'failure', code: err.code, message: err.message.slice(0, 500), ...(err.hint !== undefined ? { hint: err.hint.slice(0, 500) } : {}), local: true } };
    if (err.reason !== undefined && next.lastAttempt) next.lastAttempt.reason = err.reason;
    return next;
  }
  const failureCount = (Number.isFinite(state.failureCount) ? state.failureCount : 0) + 1;
  const next: RenewalState = {
    ...state,
    failureCount,
    backoffUntil: new Date(now.getTime() + backoffDelayMs(failureCount, lifetimeMs)).toISOString(),
    lastAttempt: { at: now.toISOString(), result: 'failure', code: err.code, message: err.message.slice(0, 500), ...(err.hint !== undefined ? { hint: err.hint.slice(0, 500) } : {}) },
  };
  if (err.fingerprint !== undefined) next.backoffFingerprint = err.fingerprint;
  if (err.reason !== undefined && next.lastAttempt) next.lastAttempt.reason = err.reason;
  const previousHold = parseTime(state.retryAfter);
  if (err.retryAfter && Number.isFinite(err.retryAfter.getTime())) next.retryAfter = err.retryAfter.toISOString();
  else if (previousHold === undefined || previousHold <= now.getTime()) delete next.retryAfter;
  return next;
}
