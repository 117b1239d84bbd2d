/**
 * When the daemon wakes next: a pure function of each certificate's stored state and `now` (no
 * clock, no I/O), so a test can replay months of cycles with plain dates.
 *
 * A certificate's wake is the earliest of: its renewal time (the chosen ARI time inside the CA's
 * window, else the lifetime rule), the end of a hold (failure backoff, the CA's Retry-After), the
 * next ARI fetch (the CA's Retry-After, clamped by the planner; never before the hold a run
 * reported when it got no answer, e.g. from a CA whose directory has no renewalInfo), a pending
 * order to resume, a deploy retry, and the daemon's next look at the certificate's deploy targets
 * (`deploy-check`: a target that lost its files or Secret since is deployed again); never before
 * the floor the daemon sets after a certificate's own run (so a certificate that is locked
 * elsewhere, or fails before the CA counts anything, is not retried in a tight loop). The daemon sleeps until the earliest wake of all,
 * plus a small jitter that never pushes a renewal past the end of its ARI window.
 */
import { pendingDeployers } from '../deploy/deploy-chain.js';
import type { ResolvedCertificate } from '../config/load-config.js';
import type { RenewalState, StoredCertificate } from '../storage/certificate-store.js';
import { BACKOFF_BASE_MS, nextRenewalInfoFetch, type AriHold } from './planner.js';
import { currentRenewalInfo } from './policies.js';
import { decideRenewal, type RenewalResult } from './renew-certificate.js';

/** Why the daemon wakes for a certificate. */
export type WakeReason = 'due' | 'renewal-time' | 'ari-refetch' | 'backoff' | 'retry-after' | 'resume-order' | 'deploy-retry' | 'deploy-check' | 'floor';

/** One certificate's next wake. */
export interface CertificateWake {
  name: string;
  at: Date;
  why: WakeReason;
  /** The latest time the work is still on time (the ARI window's end), when there is one: jitter never passes it. */
  latest?: Date;
}

/** What {@link certificateWake} looks at (what the daemon read from the store). */
export interface WakeInput {
  spec: ResolvedCertificate;
  stored: StoredCertificate | undefined;
  state: RenewalState;
  /** An order an earlier run left unfinished. */
  pendingOrder: boolean;
  now: Date;
  /** Whether ARI is on (`acme.ari`). */
  ari: boolean;
  /** The daemon's floor for this certificate after its last run ({@link floorAfter}). */
  floor?: Date | undefined;
  /** No ARI fetch before this: what the certificate's last run reported ({@link AriHold}). */
  ariHold?: AriHold | undefined;
  /**
   * When the daemon looks next at whether the certificate's deploy targets still hold its live
   * version ({@link DEPLOY_CHECK_MS}); unset for a certificate none of whose deployers can check.
   */
  deployCheck?: Date | undefined;
}

/** A failed deploy is tried again this long after it failed (the renewal's first backoff step). */
export const DEPLOY_RETRY_MS = BACKOFF_BASE_MS;
/**
 * How often the daemon checks that each certificate's deploy targets still hold the live version
 * (files: one marker read; kubernetes-secret: one GET of the Secret; never a CA request), so a
 * target emptied or deleted is deployed again within minutes instead of at the next renewal. Ten
 * minutes: twice the deploy retry, and a tenth of the reads a 15 s /metrics scrape already makes
 * (its answers are reused for a minute), while a lost target is back well within an hour.
 */
export const DEPLOY_CHECK_MS = 10 * 60_000;
/** A certificate another process holds the lock of is looked at again after this long. */
export const LOCKED_RETRY_MS = 60_000;
/** A run that failed before the CA counted anything (no backoff) is tried again after this long. */
export const LOCAL_FAILURE_RETRY_MS = BACKOFF_BASE_MS;
/** A certificate just run is never run again sooner than this (nothing should be due right after its own run). */
export const RERUN_FLOOR_MS = 10_000;
/** The daemon never sleeps less than this: no busy polling, whatever the state says. */
export const MIN_SLEEP_MS = 1_000;
/** The daemon wakes at least this often, even with nothing scheduled (a certificate with no time at all). */
export const MAX_SLEEP_MS = 24 * 3_600_000;
/** The largest jitter added to a wake (spreads replicas and many certificates of one window). */
export const MAX_JITTER_MS = 60_000;

function time(iso: string | undefined): number | undefined {
  if (iso === undefined) return undefined;
  const t = Date.parse(iso);
  return Number.isFinite(t) ? t : undefined;
}

/** The next wake of one certificate. */
export function certificateWake(input: WakeInput): CertificateWake {
  const { spec, stored, state, now } = input;
  const nowMs = now.getTime();
  const candidates: { at: number; why: WakeReason; latest?: number }[] = [];

  if (input.pendingOrder) {
    const retryAfter = time(state.retryAfter);
    candidates.push(retryAfter !== undefined && retryAfter > nowMs ? { at: retryAfter, why: 'retry-after' } : { at: nowMs, why: 'resume-order' });
  } else {
    const decision = decideRenewal(spec, stored, state, now);
    if (decision.due) candidates.push({ at: nowMs, why: 'due' });
    else if (decision.heldUntil) candidates.push({ at: decision.heldUntil.getTime(), why: decision.heldBy === 'retry-after' ? 'retry-after' : 'backoff' });
    else if (decision.dueAt) {
      const info = stored ? currentRenewalInfo(stored, state) : undefined;
      const end = info ? time(state.ari?.windowEnd) : undefined;
      candidates.push({ at: decision.dueAt.getTime(), why: 'renewal-time', ...(end !== undefined ? { latest: end } : {}) });
    }
  }

  const fetchAt = input.ari ? nextRenewalInfoFetch(stored, state, input.ariHold) : undefined;
  if (fetchAt) candidates.push({ at: Math.max(fetchAt.getTime(), nowMs), why: 'ari-refetch' });

  if (stored) {
    for (const deployer of pendingDeployers(spec.deploy, stored, state.deployments)) {
      const record = state.deployments?.[deployer];
      const failedAt = record && record.result === 'failure' && record.version === stored.version ? time(record.at) : undefined;
      candidates.push({ at: failedAt !== undefined ? failedAt + DEPLOY_RETRY_MS : nowMs, why: 'deploy-retry' });
    }
    if (input.deployCheck) candidates.push({ at: Math.max(input.deployCheck.getTime(), nowMs), why: 'deploy-check' });
  }

  let best = candidates.reduce<(typeof candidates)[number] | undefined>((a, c) => (!a || c.at < a.at ? c : a), undefined) ?? { at: nowMs + MAX_SLEEP_MS, why: 'renewal-time' };
  const floor = input.floor?.getTime();
  if (floor !== undefined && floor > best.at) best = { at: floor, why: 'floor' };
  return { name: spec.name, at: new Date(best.at), why: best.why, ...(best.latest !== undefined && best.latest >= best.at ? { latest: new Date(best.latest) } : {}) };
}

/** The earliest of `wakes` (the first in order among equals), or undefined when there are none. */
export function earliestWake(wakes: Iterable<CertificateWake>): CertificateWake | undefined {
  let best: CertificateWake | undefined;
  for (const w of wakes) if (!best || w.at.getTime() < best.at.getTime()) best = w;
  return best;
}

/**
 * How long to sleep until `wake`: at least {@link MIN_SLEEP_MS}, at most {@link MAX_SLEEP_MS},
 * plus a jitter of up to {@link MAX_JITTER_MS} (`random` in [0, 1)) that never passes `wake.latest`.
 */
export function sleepFor(wake: CertificateWake | undefined, now: Date, random: () => number = Math.random): number {
  if (!wake) return MAX_SLEEP_MS;
  const until = wake.at.getTime() - now.getTime();
  const room = wake.latest ? Math.max(0, wake.latest.getTime() - wake.at.getTime()) : MAX_JITTER_MS;
  const jitter = Math.floor(Math.min(Math.max(random(), 0), 1) * Math.min(MAX_JITTER_MS, room));
  return Math.min(Math.max(until, MIN_SLEEP_MS) + jitter, MAX_SLEEP_MS);
}

/**
 * The floor the daemon sets for a certificate after its run: nothing sooner than
 * {@link RERUN_FLOOR_MS}; a certificate locked by another process after {@link LOCKED_RETRY_MS}; a
 * failure that holds nothing (the CA counted nothing: failure-cost.ts) or an internal failure
 * after {@link LOCAL_FAILURE_RETRY_MS}; a failed deploy after {@link DEPLOY_RETRY_MS}. A hold the
 * state records (backoff, Retry-After) needs no floor: the planner already says it.
 */
export function floorAfter(result: RenewalResult, now: Date): Date {
  let wait = RERUN_FLOOR_MS;
  if (result.outcome === 'locked') wait = Math.max(wait, LOCKED_RETRY_MS);
  if (result.outcome === 'failed' && !result.backoff?.held) wait = Math.max(wait, LOCAL_FAILURE_RETRY_MS);
  if (result.deploy?.ok === false) wait = Math.max(wait, DEPLOY_RETRY_MS);
  return new Date(now.getTime() + wait);
}
