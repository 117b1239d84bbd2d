import assert from 'node:assert/strict';
import { test } from 'node:test';
import { testCertificateSpec } from '../testing/certificate-spec.js';
import type { ResolvedCertificate } from '../config/load-config.js';
import type { RenewalState, StoredCertificate } from '../storage/certificate-store.js';
import { certificateWake, DEPLOY_RETRY_MS, floorAfter, LOCAL_FAILURE_RETRY_MS, MAX_JITTER_MS, MAX_SLEEP_MS, MIN_SLEEP_MS, RERUN_FLOOR_MS, sleepFor } from './scheduler.js';

const HOUR = 3_600_000;
const now = new Date('2027-03-01T12:00:00Z');

const spec: ResolvedCertificate = testCertificateSpec({ profile: 'shortlived', deploy: ['files'] });

function stored(notBefore: Date, days: number): StoredCertificate {
  return {
    version: 1,
    certPem: '',
    chainPem: '',
    fullchainPem: '',
    privateKeyPem: '',
    metadata: {
      domains: spec.domains,
      keyType: 'ec-p256',
      profile: 'shortlived',
      notBefore: notBefore.toISOString(),
      notAfter: new Date(notBefore.getTime() + days * 24 * HOUR).toISOString(),
      serialNumber: '01',
      issuer: 'CN=test',
      ariCertId: 'aki.01',
      issuedAt: notBefore.toISOString(),
      directoryUrl: 'https://ca.test/dir',
      accountUrl: 'https://ca.test/acct/1',
    },
    paths: { dir: '/x', cert: '/x/cert.pem', chain: '/x/chain.pem', fullchain: '/x/fullchain.pem', privkey: '/x/privkey.pem' },
  } as unknown as StoredCertificate;
}

const deployed = { files: { version: 1, serialNumber: '01', at: now.toISOString(), result: 'success' as const, message: 'ok' } };

test('the wake is the earliest of the ARI time and the next ARI fetch; jitter never passes the window end', () => {
  const cert = stored(new Date(now.getTime() - 2 * 24 * HOUR), 6);
  const state: RenewalState = {
    failureCount: 0,
    deployments: deployed,
    ari: { certId: 'aki.01', windowStart: new Date(now.getTime() + 30 * HOUR).toISOString(), windowEnd: new Date(now.getTime() + 33 * HOUR).toISOString(), selectedTime: new Date(now.getTime() + 33 * HOUR - 10_000).toISOString(), fetchedAt: now.toISOString(), nextFetchAt: new Date(now.getTime() + 6 * HOUR).toISOString() },
  };
  const early = certificateWake({ spec, stored: cert, state, pendingOrder: false, now, ari: true });
  assert.equal(early.why, 'ari-refetch');
  assert.equal(early.at.getTime(), now.getTime() + 6 * HOUR);

  const later = new Date(now.getTime() + 10 * HOUR);
  const refetched = { ...state, ari: { ...state.ari!, nextFetchAt: new Date(later.getTime() + 48 * HOUR).toISOString() } };
  const wake = certificateWake({ spec, stored: cert, state: refetched, pendingOrder: false, now: later, ari: true });
  assert.equal(wake.why, 'renewal-time');
  assert.equal(wake.at.toISOString(), state.ari?.selectedTime);
  assert.equal(wake.latest?.toISOString(), state.ari?.windowEnd);
  // The selected time is 10 s before the window ends: the largest jitter still lands inside.
  const sleep = sleepFor(wake, later, () => 0.999999);
  assert.ok(later.getTime() + sleep <= Date.parse(state.ari?.windowEnd ?? ''), 'jitter stays inside the window');
  assert.ok(later.getTime() + sleep >= wake.at.getTime());
});

test('never a sleep below the minimum or above the maximum; jitter at most a minute', () => {
  assert.equal(sleepFor({ name: 'a', at: new Date(now.getTime() - HOUR), why: 'due' }, now, () => 0), MIN_SLEEP_MS);
  assert.equal(sleepFor(undefined, now), MAX_SLEEP_MS);
  assert.equal(sleepFor({ name: 'a', at: new Date(now.getTime() + 400 * HOUR), why: 'renewal-time' }, now, () => 0.5), MAX_SLEEP_MS);
  assert.equal(sleepFor({ name: 'a', at: new Date(now.getTime() + HOUR), why: 'ari-refetch' }, now, () => 0.999999), HOUR + MAX_JITTER_MS - 1);
});

test('holds, a pending order, a failed deploy and the floors each decide the wake', () => {
  const cert = stored(new Date(now.getTime() - 2 * 24 * HOUR), 6);
  const base: RenewalState = { failureCount: 0, deployments: deployed };
  // A missing certificate is due at once; a floor after its own run delays it.
  assert.equal(certificateWake({ spec, stored: undefined, state: { failureCount: 0 }, pendingOrder: false, now, ari: true }).why, 'due');
  const floored = certificateWake({ spec, stored: undefined, state: { failureCount: 0 }, pendingOrder: false, now, ari: true, floor: new Date(now.getTime() + 60_000) });
  assert.deepEqual([floored.why, floored.at.getTime() - now.getTime()], ['floor', 60_000]);
  // A backoff after a CA failure.
  const backoffUntil = new Date(now.getTime() + 20 * 60_000);
  const expired = stored(new Date(now.getTime() - 7 * 24 * HOUR), 6);
  const held = certificateWake({ spec, stored: expired, state: { ...base, failureCount: 1, backoffUntil: backoffUntil.toISOString(), backoffFingerprint: undefined as unknown as string }, pendingOrder: false, now, ari: false });
  assert.deepEqual([held.why, held.at.toISOString()], ['backoff', backoffUntil.toISOString()]);
  // A pending order: now, or when the CA's Retry-After ends.
  assert.equal(certificateWake({ spec, stored: cert, state: base, pendingOrder: true, now, ari: false }).why, 'resume-order');
  const retryAfter = new Date(now.getTime() + HOUR);
  const waiting = certificateWake({ spec, stored: cert, state: { ...base, retryAfter: retryAfter.toISOString() }, pendingOrder: true, now, ari: false });
  assert.deepEqual([waiting.why, waiting.at.toISOString()], ['retry-after', retryAfter.toISOString()]);
  // A deploy that failed for the live version: retried 5 min after it failed; a new deployer at once.
  const failedDeploy = { files: { ...deployed.files, result: 'failure' as const, at: now.toISOString() } };
  const retry = certificateWake({ spec, stored: cert, state: { ...base, deployments: failedDeploy }, pendingOrder: false, now, ari: false });
  assert.deepEqual([retry.why, retry.at.getTime() - now.getTime()], ['deploy-retry', DEPLOY_RETRY_MS]);
  assert.equal(certificateWake({ spec, stored: cert, state: { failureCount: 0 }, pendingOrder: false, now, ari: false }).at.getTime(), now.getTime());
  // Floors after a run.
  assert.equal(floorAfter({ name: 'www', outcome: 'failed', message: 'x', backoff: { held: false, why: '' } }, now).getTime() - now.getTime(), LOCAL_FAILURE_RETRY_MS);
  assert.equal(floorAfter({ name: 'www', outcome: 'locked', message: 'x' }, now).getTime() - now.getTime(), 60_000);
});

test('an ARI id and no ARI answer: fetched at once the first time; once a run found the CA has no renewalInfo, the wake is the renewal time or the next look a day later, never minutes away', () => {
  // A 90-day certificate issued two days ago: the lifetime rule renews it in 58 days.
  const cert = stored(new Date(now.getTime() - 2 * 24 * HOUR), 90);
  const state: RenewalState = { failureCount: 0, deployments: deployed };
  const fresh = certificateWake({ spec, stored: cert, state, pendingOrder: false, now, ari: true });
  assert.deepEqual([fresh.why, fresh.at.getTime()], ['ari-refetch', now.getTime()], "a new certificate's window is asked for at once");

  // The run found no renewalInfo in the CA's directory: it reported a hold of a day, and the daemon set its 10 s floor.
  const hold = { certId: 'aki.01', until: new Date(now.getTime() + 24 * HOUR) };
  const floor = new Date(now.getTime() + RERUN_FLOOR_MS);
  const idle = certificateWake({ spec, stored: cert, state, pendingOrder: false, now, ari: true, floor, ariHold: hold });
  assert.deepEqual([idle.why, idle.at.toISOString()], ['ari-refetch', hold.until.toISOString()]);
  assert.ok(sleepFor(idle, now, () => 0) >= 23 * HOUR, 'it sleeps about a day, not the 10 s floor');
  // As with acme.ari off, where the renewal time is sooner than the next look.
  const dueSoon = stored(new Date(now.getTime() - 60 * 24 * HOUR + 2 * HOUR), 90);
  const soon = certificateWake({ spec, stored: dueSoon, state, pendingOrder: false, now, ari: true, floor, ariHold: hold });
  assert.deepEqual([soon.why, soon.at.getTime() - now.getTime()], ['renewal-time', 2 * HOUR]);
  assert.deepEqual(soon, certificateWake({ spec, stored: dueSoon, state, pendingOrder: false, now, ari: false, floor }));

  // A hold is for the certificate it was learned on: a renewed certificate is asked about at once.
  const renewed = { ...cert, metadata: { ...cert.metadata, ariCertId: 'aki.02' } };
  const next = certificateWake({ spec, stored: renewed, state, pendingOrder: false, now, ari: true, floor, ariHold: hold });
  assert.deepEqual([next.why, next.at.toISOString()], ['floor', floor.toISOString()]);
});
