import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CertpilotError } from '../errors.js';
import type { RenewalState, StoredCertificate } from '../storage/certificate-store.js';
import { DAY, T0, storedCert } from './fixtures/stored-certificate.js';
import {
  BACKOFF_BASE_MS,
  applyRenewalInfo,
  backoffDelayMs,
  needsRenewalInfo,
  planRenewal,
  recordFailure,
  recordSuccess,
  renewalTime,
} from './planner.js';
import type { CertificateSpec } from './planner.js';

const HOUR = 3600 * 1000;
const MIN = 60 * 1000;
const spec: CertificateSpec = { name: 'site', domains: ['site.example', 'www.site.example'], keyType: 'ec-p256' };
const empty: RenewalState = { failureCount: 0 };

describe('planRenewal', () => {
  it('is not due before the renewal time and says when it will be', () => {
    const stored = storedCert({ lifetimeDays: 90 });
    const d = planRenewal({ spec, stored, state: empty, now: new Date(T0 + 30 * DAY) });
    assert.equal(d.due, false);
    assert.equal(d.reason, undefined);
    assert.equal(d.dueAt?.getTime(), T0 + 60 * DAY);
    assert.match(d.message, /^not due: renews in 30d 0h/);
  });

  it('is due with the policy reason', () => {
    const d = planRenewal({ spec, stored: undefined, state: empty, now: new Date(T0) });
    assert.deepEqual({ due: d.due, reason: d.reason, dueAt: d.dueAt?.getTime() }, { due: true, reason: 'missing', dueAt: T0 });
    const l = planRenewal({ spec, stored: storedCert(), state: empty, now: new Date(T0 + 61 * DAY) });
    assert.deepEqual({ due: l.due, reason: l.reason, dueAt: l.dueAt?.getTime() }, { due: true, reason: 'lifetime', dueAt: T0 + 60 * DAY });
  });

  it('renews when forced even if not due', () => {
    const d = planRenewal({ spec, stored: storedCert(), state: empty, now: new Date(T0 + DAY), force: true });
    assert.equal(d.due, true);
    assert.equal(d.reason, 'forced');
  });

  it('holds a due renewal during failure backoff; force overrides backoff', () => {
    const now = new Date(T0 + 61 * DAY);
    const state: RenewalState = { failureCount: 3, backoffUntil: new Date(now.getTime() + 20 * MIN).toISOString(), lastAttempt: { at: now.toISOString(), result: 'failure', code: 'ERR_ACME_ORDER_FAILED' } };
    const held = planRenewal({ spec, stored: storedCert(), state, now });
    assert.equal(held.due, false);
    assert.equal(held.reason, 'lifetime');
    assert.equal(held.heldBy, 'backoff');
    assert.equal(held.heldUntil?.getTime(), now.getTime() + 20 * MIN);
    assert.match(held.message, /3 consecutive failure\(s\) at the CA, last ERR_ACME_ORDER_FAILED; run with --force to try now/);
    // A network error since (the CA counted nothing) is not called a failure at the CA.
    const network = recordFailure(state, now, { code: 'ERR_ACME_NETWORK', message: 'connect ECONNREFUSED', local: true });
    const stillHeld = planRenewal({ spec, stored: storedCert(), state: network, now });
    assert.equal(stillHeld.heldBy, 'backoff');
    assert.match(stillHeld.message, /3 consecutive failure\(s\) at the CA; the last attempt failed with ERR_ACME_NETWORK before the CA counted anything; run with --force/);
    assert.doesNotMatch(stillHeld.message, /at the CA, last ERR_ACME_NETWORK/);
    const forced = planRenewal({ spec, stored: storedCert(), state, now, force: true });
    assert.equal(forced.due, true);
    assert.equal(forced.reason, 'lifetime');
    // Backoff over: due again.
    assert.equal(planRenewal({ spec, stored: storedCert(), state, now: new Date(now.getTime() + 20 * MIN) }).due, true);
  });

  it("never overrides the CA's Retry-After, not even with force", () => {
    const now = new Date(T0 + 61 * DAY);
    const state: RenewalState = { failureCount: 1, retryAfter: new Date(now.getTime() + 2 * HOUR).toISOString(), backoffUntil: new Date(now.getTime() + 5 * MIN).toISOString() };
    for (const force of [false, true]) {
      const d = planRenewal({ spec, stored: storedCert(), state, now, force });
      assert.equal(d.due, false, `force=${force}`);
      assert.equal(d.heldBy, 'retry-after');
      assert.equal(d.heldUntil?.getTime(), now.getTime() + 2 * HOUR);
    }
    // Even a missing certificate waits for the CA.
    assert.equal(planRenewal({ spec, stored: undefined, state, now, force: true }).heldBy, 'retry-after');
    // Whichever hold lasts longer is reported.
    const longBackoff: RenewalState = { ...state, backoffUntil: new Date(now.getTime() + 3 * HOUR).toISOString() };
    assert.equal(planRenewal({ spec, stored: storedCert(), state: longBackoff, now }).heldBy, 'backoff');
    assert.equal(planRenewal({ spec, stored: storedCert(), state: longBackoff, now, force: true }).heldBy, 'retry-after');
  });

  it('renews now what falls due before the next run', () => {
    const stored = storedCert({ lifetimeDays: 90 });
    const now = new Date(T0 + 59.5 * DAY);
    assert.equal(planRenewal({ spec, stored, state: empty, now }).due, false);
    const d = planRenewal({ spec, stored, state: empty, now, nextRunAt: new Date(now.getTime() + DAY) });
    assert.equal(d.due, true);
    assert.equal(d.reason, 'lifetime');
    assert.equal(planRenewal({ spec, stored, state: empty, now, nextRunAt: new Date(now.getTime() + HOUR) }).due, false);
  });
});

describe('recordFailure and recordSuccess', () => {
  it('backs off exponentially from 5 minutes, capped at 24 h', () => {
    const delays = [1, 2, 3, 4, 9, 10, 20].map((n) => backoffDelayMs(n, 90 * DAY));
    assert.deepEqual(delays, [5 * MIN, 10 * MIN, 20 * MIN, 40 * MIN, 1280 * MIN, 24 * HOUR, 24 * HOUR]);
  });

  it('caps the backoff at a twelfth of a short lifetime', () => {
    assert.equal(backoffDelayMs(20, 6 * DAY), 12 * HOUR);
    assert.equal(backoffDelayMs(20), 24 * HOUR);
  });

  it('persists the failure, its backoff and the CA Retry-After in the state', () => {
    const now = new Date(T0);
    let state: RenewalState = { failureCount: 0, deployments: { files: { version: 2, serialNumber: '0a', at: '2026-01-01T00:00:00.000Z', result: 'success', message: 'ok' } } };
    state = recordFailure(state, now, { code: 'ERR_ACME_PROBLEM', message: 'first' }, 90 * DAY);
    state = recordFailure(state, now, { code: 'ERR_ACME_RATE_LIMITED', message: 'slow down', retryAfter: new Date(T0 + 3 * HOUR) }, 90 * DAY);
    // A restart reads the state back from JSON.
    const restored = JSON.parse(JSON.stringify(state)) as RenewalState;
    assert.equal(restored.failureCount, 2);
    assert.equal(restored.backoffUntil, new Date(T0 + 2 * BACKOFF_BASE_MS).toISOString());
    assert.equal(restored.retryAfter, new Date(T0 + 3 * HOUR).toISOString());
    assert.deepEqual(restored.lastAttempt, { at: now.toISOString(), result: 'failure', code: 'ERR_ACME_RATE_LIMITED', message: 'slow down' });
    assert.equal(restored.deployments?.files?.version, 2);
    const d = planRenewal({ spec, stored: undefined, state: restored, now: new Date(T0 + HOUR) });
    assert.equal(d.heldBy, 'retry-after');
  });

  it('resets failures, holds, the old ARI answer and a retirement (certpilot forget) on success', () => {
    const failed: RenewalState = {
      retired: { at: new Date(T0 - DAY).toISOString() },
      ...recordFailure({ failureCount: 4 }, new Date(T0), { code: 'ERR_ACME_PROBLEM', message: 'x', retryAfter: new Date(T0 + HOUR) }),
      ari: { certId: 'old', windowStart: 'a', windowEnd: 'b', fetchedAt: 'c', nextFetchAt: 'd', selectedTime: 'e' },
      deployments: { files: { version: 3, serialNumber: '0b', at: 'f', result: 'success', message: 'ok' } },
    };
    const ok = recordSuccess(failed, new Date(T0 + 2 * HOUR), 'lifetime');
    assert.deepEqual(ok, { failureCount: 0, deployments: failed.deployments, lastAttempt: { at: new Date(T0 + 2 * HOUR).toISOString(), result: 'success', reason: 'lifetime' } });
  });
});

describe('applyRenewalInfo and needsRenewalInfo', () => {
  const window = { start: new Date(T0 + 60 * DAY), end: new Date(T0 + 62 * DAY) };
  const info = { certId: 'aki.01', suggestedWindow: window, explanationURL: 'https://ca.example/why', retryAfter: new Date(T0 + 6 * HOUR) };

  it('picks a uniformly random time inside the window and records the answer', () => {
    const state = applyRenewalInfo(empty, info, new Date(T0), () => 0.25);
    assert.deepEqual(state.ari, {
      certId: 'aki.01',
      windowStart: window.start.toISOString(),
      windowEnd: window.end.toISOString(),
      explanationUrl: 'https://ca.example/why',
      fetchedAt: new Date(T0).toISOString(),
      nextFetchAt: new Date(T0 + 6 * HOUR).toISOString(),
      selectedTime: new Date(T0 + 60.5 * DAY).toISOString(),
    });
    assert.equal(renewalTime(storedCert(), state).getTime(), T0 + 60.5 * DAY);
  });

  it('keeps the selected time while the window stays, and picks again when it moves', () => {
    const first = applyRenewalInfo(empty, info, new Date(T0), () => 0.25);
    const again = applyRenewalInfo(first, { ...info, retryAfter: new Date(T0 + 12 * HOUR) }, new Date(T0 + 6 * HOUR), () => 0.9);
    assert.equal(again.ari?.selectedTime, first.ari?.selectedTime);
    assert.equal(again.ari?.nextFetchAt, new Date(T0 + 12 * HOUR).toISOString());
    const moved = applyRenewalInfo(first, { ...info, suggestedWindow: { start: new Date(T0 + 10 * DAY), end: new Date(T0 + 11 * DAY) } }, new Date(T0 + 6 * HOUR), () => 0.5);
    assert.equal(moved.ari?.selectedTime, new Date(T0 + 10.5 * DAY).toISOString());
    // A new certificate (other certId) with the same window also picks again.
    const other = applyRenewalInfo(first, { ...info, certId: 'aki.02' }, new Date(T0), () => 0.75);
    assert.equal(other.ari?.selectedTime, new Date(T0 + 61.5 * DAY).toISOString());
  });

  it('selects now for a window in the past, or a pick that already passed', () => {
    const now = new Date(T0 + 100 * DAY);
    assert.equal(applyRenewalInfo(empty, info, now, () => 0.5).ari?.selectedTime, now.toISOString());
    const inside = new Date(T0 + 61 * DAY);
    assert.equal(applyRenewalInfo(empty, info, inside, () => 0.1).ari?.selectedTime, inside.toISOString());
    assert.equal(applyRenewalInfo(empty, info, inside, () => 0.75).ari?.selectedTime, new Date(T0 + 61.5 * DAY).toISOString());
  });

  it('clamps the next fetch to between one minute and one day', () => {
    assert.equal(applyRenewalInfo(empty, { ...info, retryAfter: new Date(T0) }, new Date(T0)).ari?.nextFetchAt, new Date(T0 + MIN).toISOString());
    assert.equal(applyRenewalInfo(empty, { ...info, retryAfter: new Date(T0 + 30 * DAY) }, new Date(T0)).ari?.nextFetchAt, new Date(T0 + DAY).toISOString());
  });

  it('refuses a window that ends before it starts', () => {
    assert.throws(
      () => applyRenewalInfo(empty, { ...info, suggestedWindow: { start: window.end, end: window.start } }, new Date(T0)),
      (err: unknown) => err instanceof CertpilotError && err.code === 'ERR_ACME_BAD_RESPONSE',
    );
  });

  it('asks for renewal info when there is no answer for the live certificate, or the next fetch time came', () => {
    const stored = storedCert();
    assert.equal(needsRenewalInfo(undefined, empty, new Date(T0)), false);
    assert.equal(needsRenewalInfo(storedCert({ ariCertId: '' }), empty, new Date(T0)), false);
    assert.equal(needsRenewalInfo(stored, empty, new Date(T0)), true);
    const answered = applyRenewalInfo(empty, info, new Date(T0));
    assert.equal(needsRenewalInfo(stored, answered, new Date(T0 + HOUR)), false);
    assert.equal(needsRenewalInfo(stored, answered, new Date(T0 + 6 * HOUR)), true);
    assert.equal(needsRenewalInfo(storedCert({ ariCertId: 'aki.new' }), answered, new Date(T0 + HOUR)), true);
  });
});

describe('6-day certificates under daily runs', () => {
  interface Outcome {
    renewedOnRun: boolean[];
    minLeftAtRun: number;
    minLeftAtNextRun: number;
  }

  /**
   * Replays `weeks` of daily runs at 03:00 plus a fixed jitter pattern. The CA issues 6-day
   * certificates (notBefore backdated an hour, as Let's Encrypt does); `failOn` makes the CA fail
   * the nth attempt; with `ari` it answers a window from 50% to 75% of the lifetime.
   */
  function simulate(options: { weeks: number; jitterMin?: number[]; failOn?: Set<number>; ari?: boolean; knowsNextRun?: boolean }): Outcome {
    const jitter = options.jitterMin ?? [0];
    const runs = options.weeks * 7;
    const runAt = (i: number): number => T0 + i * DAY + 3 * HOUR + (jitter[i % jitter.length] ?? 0) * MIN;
    let stored: StoredCertificate | undefined;
    let state: RenewalState = { failureCount: 0 };
    let attempts = 0;
    let serial = 0;
    const outcome: Outcome = { renewedOnRun: [], minLeftAtRun: Infinity, minLeftAtNextRun: Infinity };
    for (let i = 0; i < runs; i++) {
      const now = new Date(runAt(i));
      if (stored) outcome.minLeftAtRun = Math.min(outcome.minLeftAtRun, Date.parse(stored.metadata.notAfter) - now.getTime());
      if (options.ari && needsRenewalInfo(stored, state, now) && stored) {
        const nb = Date.parse(stored.metadata.notBefore);
        const life = Date.parse(stored.metadata.notAfter) - nb;
        state = applyRenewalInfo(state, { certId: stored.metadata.ariCertId, suggestedWindow: { start: new Date(nb + life / 2), end: new Date(nb + life * 0.75) }, retryAfter: new Date(now.getTime() + 6 * HOUR) }, now, () => ((i * 7919) % 100) / 100);
      }
      const decision = planRenewal({ spec, stored, state, now, ...(options.knowsNextRun ? { nextRunAt: new Date(runAt(i + 1)) } : {}) });
      let renewed = false;
      if (decision.due) {
        attempts++;
        if (options.failOn?.has(attempts)) {
          const life = stored ? Date.parse(stored.metadata.notAfter) - Date.parse(stored.metadata.notBefore) : undefined;
          state = recordFailure(state, now, { code: 'ERR_ACME_ORDER_FAILED', message: 'CA down' }, life);
        } else {
          serial++;
          stored = storedCert({ lifetimeDays: 6, issuedAtMs: now.getTime() - HOUR, serialNumber: String(serial), ariCertId: `aki.${serial}` });
          // The metadata's 6 days start at notBefore, backdated an hour.
          state = recordSuccess(state, now, decision.reason);
          renewed = true;
        }
      }
      outcome.renewedOnRun.push(renewed);
      if (stored) outcome.minLeftAtNextRun = Math.min(outcome.minLeftAtNextRun, Date.parse(stored.metadata.notAfter) - runAt(i + 1));
    }
    return outcome;
  }

  function assertHealthy(o: Outcome, label: string): void {
    assert.ok(o.minLeftAtRun > 0, `${label}: a run found the certificate expired (min left ${o.minLeftAtRun} ms)`);
    assert.ok(o.minLeftAtNextRun > 0, `${label}: the certificate expired before the next run`);
    // Not renewed on every run: never on two consecutive runs (after the first issuance).
    for (let i = 2; i < o.renewedOnRun.length; i++) {
      assert.ok(!(o.renewedOnRun[i] && o.renewedOnRun[i - 1]), `${label}: renewed on consecutive runs ${i - 1} and ${i}`);
    }
    const renewals = o.renewedOnRun.filter(Boolean).length;
    assert.ok(renewals <= Math.ceil(o.renewedOnRun.length / 2), `${label}: ${renewals} renewals in ${o.renewedOnRun.length} runs`);
  }

  it('never lets a certificate expire and never renews on every run (lifetime rule)', () => {
    for (const jitterMin of [[0], [0, 25, -10, 40, 5, -30, 15], [30, -30]]) {
      const o = simulate({ weeks: 6, jitterMin });
      assertHealthy(o, `jitter ${jitterMin.join(',')}`);
      // 6 weeks of 6-day certificates renewed every 3–4 days.
      const renewals = o.renewedOnRun.filter(Boolean).length;
      assert.ok(renewals >= 10 && renewals <= 15, `jitter ${jitterMin.join(',')}: ${renewals} renewals`);
    }
  });

  it('survives two failed days in a row thanks to the lifetime-capped backoff', () => {
    const o = simulate({ weeks: 4, failOn: new Set([3, 4]), knowsNextRun: true });
    assertHealthy(o, 'two failures');
    const o2 = simulate({ weeks: 4, failOn: new Set([3, 4]) });
    assertHealthy(o2, 'two failures, no next-run hint');
  });

  it('follows an ARI window without expiring or renewing every run', () => {
    const o = simulate({ weeks: 6, ari: true, knowsNextRun: true, jitterMin: [0, 20, -20] });
    assertHealthy(o, 'ari');
  });
});
