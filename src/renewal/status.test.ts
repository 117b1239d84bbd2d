import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import type { ResolvedCertificate, ResolvedConfig } from '../config/load-config.js';
import { CertpilotError } from '../errors.js';
import { FilesystemCertificateStore } from '../storage/backends/filesystem/filesystem-certificate-store.js';
import type { RenewalState, StoredCertificate } from '../storage/certificate-store.js';
import { makeTestBundle } from '../testing/certificate-fixtures.js';
import { tempDir } from '../testing/temp-dir.js';
import { DAY, T0, storedCert } from './fixtures/stored-certificate.js';
import { buildStatusSnapshot, type StatusInput } from './status.js';

const H = 3_600_000;
const spec = (name: string, over: Partial<ResolvedCertificate> = {}): ResolvedCertificate => ({
  name,
  domains: ['site.example', 'www.site.example'],
  identifiers: [],
  keyType: 'ec-p256',
  reuseKey: false,
  solvers: {},
  deploy: ['files', 'reload'],
  ...over,
});

const RENEWAL = { concurrency: 4, lockTtlSeconds: 900, retention: { keepVersions: 10, keepDays: 30 } };
const config = (certificates: ResolvedCertificate[], renewal: Partial<ResolvedConfig['renewal']> = {}): StatusInput['config'] => ({
  certificates,
  renewal: { ...RENEWAL, ...renewal },
  solvers: {},
  stateDir: '/nonexistent/certpilot-status-test',
});

function memoryStore(certs: Record<string, StoredCertificate>, states: Record<string, RenewalState>, broken: string[] = []) {
  return {
    list: async () => Object.keys(certs).sort(),
    listStates: async () => Object.keys(states).sort(),
    load: async (n: string) => {
      if (broken.includes(n)) throw new CertpilotError('ERR_STORAGE_CORRUPT', `storage: ${n}: unreadable`);
      return certs[n];
    },
    loadState: async (n: string) => states[n] ?? { failureCount: 0 },
  };
}

test('the snapshot: live version, serial, ARI window and chosen time, next renewal and why, deployers, cadence', async () => {
  const site = { ...storedCert({ lifetimeDays: 6, serialNumber: '0a1b', profile: 'shortlived' }), privateKeyPem: '-----BEGIN PRIVATE KEY-----\nS3CR3T-KEY-MATERIAL\n-----END PRIVATE KEY-----\n' };
  const state: RenewalState = {
    failureCount: 0,
    ari: { certId: 'aki.01', windowStart: new Date(T0 + 3 * DAY).toISOString(), windowEnd: new Date(T0 + 3 * DAY + 3 * H).toISOString(), selectedTime: new Date(T0 + 3 * DAY + H).toISOString(), fetchedAt: new Date(T0).toISOString(), nextFetchAt: new Date(T0 + 6 * H).toISOString() },
    lastAttempt: { at: new Date(T0).toISOString(), result: 'success', reason: 'missing' },
    deployments: {
      files: { version: 1, serialNumber: '0a1b', at: new Date(T0).toISOString(), result: 'success', message: 'ok' },
      reload: { version: 1, serialNumber: '0a1b', at: new Date(T0).toISOString(), result: 'failure', message: 'pod web-0 still serves the old serial', code: 'ERR_DEPLOY_VERIFY' },
    },
  };
  const snapshot = await buildStatusSnapshot({
    config: config([spec('site', { profile: 'shortlived' }), spec('other')], { runIntervalHours: 12 }),
    store: memoryStore({ site, gone: { ...storedCert(), name: 'gone' } }, { site: state, oneoff: { failureCount: 1, lastAttempt: { at: new Date(T0).toISOString(), result: 'failure', code: 'ERR_ACME_PROBLEM' } } }, ['other']),
    now: new Date(T0 + DAY),
  });
  assert.deepEqual(snapshot.certificates.map((c) => c.name), ['site', 'other', 'gone', 'oneoff'], 'configured first, then stored only, then a renewal state alone (a failed one-off)');
  const [c, other, gone, oneoff] = snapshot.certificates;
  assert.ok(c && other && gone && oneoff);
  assert.equal(oneoff.version, undefined);
  assert.equal(oneoff.lastResult?.code, 'ERR_ACME_PROBLEM');
  assert.equal(oneoff.decision, 'never issued: its first `issue` failed (ERR_ACME_PROBLEM) and nothing renews it; run that `issue -d` line again once fixed, or `certpilot forget oneoff` to clear it');
  assert.equal(c.version, 1);
  assert.equal(c.serial, '0a1b');
  assert.equal(c.notAfter, new Date(T0 + 6 * DAY).toISOString());
  assert.equal(c.ariWindow?.selected, new Date(T0 + 3 * DAY + H).toISOString());
  assert.equal(c.due, false);
  assert.equal(c.nextRenewal, new Date(T0 + 3 * DAY + H).toISOString());
  assert.equal(c.nextRenewalReason, 'ari-window');
  assert.equal(c.lastSuccessAt, new Date(T0).toISOString());
  assert.equal(c.lastFailureAt, undefined);
  assert.deepEqual(c.deployers?.map((d) => [d.deployer, d.current, d.result, d.code]), [['files', true, 'success', undefined], ['reload', false, 'failure', 'ERR_DEPLOY_VERIFY']]);
  assert.deepEqual(
    { stage: c.lastResult?.stage, deployer: c.lastResult?.deployer, result: c.lastResult?.result, code: c.lastResult?.code },
    { stage: 'deploy', deployer: 'reload', result: 'failure', code: 'ERR_DEPLOY_VERIFY' },
    'a deployer that failed since the renewal is the last result, never "success"',
  );
  assert.equal(c.cadence?.windowSource, 'ari', 'a 12-hour cadence does not fit a 3-hour window');
  assert.doesNotMatch(JSON.stringify(snapshot), /S3CR3T|PRIVATE KEY/, 'no key in the snapshot');
  // One unreadable certificate is its own problem; the others are whole.
  assert.equal(other.problem?.code, 'ERR_STORAGE_CORRUPT');
  assert.equal(gone.configured, false);
  assert.equal(gone.decision, 'not in the configuration; `certpilot forget gone` stops watching it');
});

test('a version saved after the last recorded success (a run killed before it recorded the attempt) is the last success', async () => {
  const base = storedCert({ lifetimeDays: 90 });
  const savedAt = new Date(T0 + 2 * H).toISOString();
  const live = { ...base, version: 5, metadata: { ...base.metadata, issuedAt: savedAt } };
  const state: RenewalState = { failureCount: 0, lastAttempt: { at: new Date(T0).toISOString(), result: 'success', reason: 'lifetime' } };
  const snapshot = await buildStatusSnapshot({ config: config([spec('site', { deploy: [] })]), store: memoryStore({ site: live }, { site: state }), now: new Date(T0 + DAY) });
  assert.equal(snapshot.certificates[0]?.lastSuccessAt, savedAt, "v5's save, not v4's recorded attempt");
});

test('a held certificate: next renewal is the end of the hold, and the last failure is dated', async () => {
  const site = storedCert({ lifetimeDays: 90 });
  const now = new Date(T0 + 80 * DAY);
  const state: RenewalState = {
    failureCount: 2,
    backoffUntil: new Date(now.getTime() + 2 * H).toISOString(),
    lastAttempt: { at: new Date(now.getTime() - H).toISOString(), result: 'failure', code: 'ERR_ACME_PROBLEM', message: 'unauthorized' },
  };
  const snapshot = await buildStatusSnapshot({ config: config([spec('site', { deploy: [] })]), store: memoryStore({ site }, { site: state }), now });
  const c = snapshot.certificates[0];
  assert.equal(c?.heldBy, 'backoff');
  assert.equal(c?.nextRenewal, state.backoffUntil);
  assert.equal(c?.nextRenewalReason, 'backoff');
  assert.equal(c?.lastFailureAt, state.lastAttempt?.at);
  assert.equal(c?.lastSuccessAt, site.metadata.issuedAt, 'the live version was the last success');
  assert.equal(c?.failureCount, 2);
  assert.equal(c?.lastResult?.stage, 'renewal');
});

test('status of many certificates lists the state once, not once per row, and shows each one\'s versions as listVersions does', async () => {
  const store = new FilesystemCertificateStore({ stateDir: join(await tempDir('certpilot-status-list-'), 'state') });
  const names = ['a', 'b', 'c', 'd'];
  for (const name of names) await store.save(name, makeTestBundle({ domains: [`${name}.test`] }));
  await store.save('b', makeTestBundle({ domains: ['b.test'] }));
  const expected = await Promise.all(names.map((n) => store.listVersions(n)));
  let listings = 0;
  const list = store.backend.list.bind(store.backend);
  store.backend.list = async (prefix: string) => {
    listings++;
    return list(prefix);
  };
  const snapshot = await buildStatusSnapshot({ config: config(names.map((n) => spec(n, { domains: [`${n}.test`] }))), store, now: new Date() });
  assert.equal(listings, 1, 'one listing for the whole snapshot');
  assert.deepEqual(snapshot.certificates.map((c) => c.versions), expected);
  assert.deepEqual(expected[1], [1, 2], 'b has two versions');
});

test('the daemon\'s snapshot: no run interval, so no cadence warning and no renewing early for a late next run, whatever renewal.runIntervalHours says', async () => {
  const site = storedCert({ lifetimeDays: 6, serialNumber: '0a1b', profile: 'shortlived' });
  const long = { ...storedCert({ lifetimeDays: 90 }), name: 'long' };
  const state: RenewalState = {
    failureCount: 0,
    ari: { certId: 'aki.01', windowStart: new Date(T0 + 3 * DAY).toISOString(), windowEnd: new Date(T0 + 3 * DAY + 3 * H).toISOString(), selectedTime: new Date(T0 + 3 * DAY + H).toISOString(), fetchedAt: new Date(T0).toISOString(), nextFetchAt: new Date(T0 + 6 * H).toISOString() },
  };
  const input = (daemon: boolean): StatusInput => ({
    config: config([spec('site', { profile: 'shortlived', deploy: [] }), spec('long', { deploy: [] })], { runIntervalHours: 12 }),
    store: memoryStore({ site, long }, { site: state }),
    // Six hours before the long one's lifetime rule makes it due (day 60 of 90): the next 12-hourly run would be late.
    now: new Date(T0 + 60 * DAY - 6 * H),
    ...(daemon ? { daemon: true } : {}),
  });
  const cron = await buildStatusSnapshot(input(false));
  assert.equal(cron.runIntervalMs, 12 * H);
  assert.ok(cron.certificates[0]?.cadence, 'runs every 12 hours miss a 3-hour window');
  assert.equal(cron.certificates[1]?.due, true, 'renewed now: the next run would come after its time');
  const daemon = await buildStatusSnapshot(input(true));
  assert.equal(daemon.daemon, true);
  assert.equal(daemon.runIntervalMs, undefined);
  assert.equal(daemon.certificates[0]?.cadence, undefined, 'the daemon wakes inside the window');
  assert.equal(daemon.certificates[1]?.due, false, 'the daemon wakes at its time');
  assert.equal(daemon.certificates[1]?.nextRenewal, new Date(T0 + 60 * DAY).toISOString());
  const { renderStatusPage } = await import('../notify/status-page.js');
  assert.match(renderStatusPage(daemon), /certpilot daemon renews each certificate at its time/);
  assert.doesNotMatch(renderStatusPage(daemon), /renew runs every|class="warning cadence"/);
});

test('a backoff shows wherever it holds: not due yet, it sets the next renewal when it ends after the renewal time; a changed configuration lifts it; the CA\'s later Retry-After leads', async () => {
  const site = storedCert({ lifetimeDays: 90 });
  const now = new Date(T0 + DAY);
  const backoffUntil = new Date(now.getTime() + 2 * H).toISOString();
  const failed: RenewalState = { failureCount: 1, backoffUntil, lastAttempt: { at: new Date(now.getTime() - H).toISOString(), result: 'failure', code: 'ERR_ACME_PROBLEM' } };
  const row = async (state: RenewalState, s = spec('site', { deploy: [] })) =>
    (await buildStatusSnapshot({ config: config([s]), store: memoryStore({ site }, { site: state }), now })).certificates[0];

  // Due in two months: the backoff ends first and changes nothing, but it is shown.
  const notDue = await row(failed);
  assert.deepEqual([notDue?.due, notDue?.backoffUntil, notDue?.heldBy, notDue?.nextRenewalReason], [false, backoffUntil, undefined, 'lifetime']);
  // A renewal time inside the backoff: the backoff's end is the next renewal.
  const ari = { certId: site.metadata.ariCertId, windowStart: now.toISOString(), windowEnd: new Date(now.getTime() + 4 * H).toISOString(), selectedTime: new Date(now.getTime() + H).toISOString(), fetchedAt: now.toISOString(), nextFetchAt: new Date(now.getTime() + 6 * H).toISOString() };
  const inside = await row({ ...failed, ari });
  assert.deepEqual([inside?.due, inside?.heldBy, inside?.heldUntil, inside?.nextRenewal, inside?.backoffUntil], [false, 'backoff', backoffUntil, backoffUntil, backoffUntil]);
  assert.match(inside?.decision ?? '', /a failure backoff holds it until /);
  // The configuration changed since the failure: the backoff no longer holds.
  const changed = await row({ ...failed, ari, backoffFingerprint: 'another configuration' });
  assert.deepEqual([changed?.backoffUntil, changed?.heldBy, changed?.nextRenewal], [undefined, undefined, ari.selectedTime]);
  // The CA's Retry-After, later than the backoff, leads; the backoff is still shown.
  const retryAfter = new Date(now.getTime() + 3 * H).toISOString();
  const ca = await row({ ...failed, ari, retryAfter });
  assert.deepEqual([ca?.heldBy, ca?.nextRenewal, ca?.backoffUntil], ['retry-after', retryAfter, backoffUntil]);
});
