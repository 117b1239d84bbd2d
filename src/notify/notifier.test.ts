import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CertpilotError } from '../errors.js';
import { silentLogger } from '../logger.js';
import type { RenewalResult } from '../renewal/renew-certificate.js';
import { eventFromResult, eventSummary, eventText, type LifecycleEvent } from './lifecycle-event.js';
import { dispatchEvents, wants, type Notifier, type NotifyPolicy } from './notifier.js';

const timing = { startedAt: new Date('2026-03-01T00:00:00Z'), finishedAt: new Date('2026-03-01T00:00:02.500Z') };
const KEY = '-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg-NOT-FOR-YOUR-EYES\n-----END PRIVATE KEY-----';

const event = (result: Partial<RenewalResult>, notAfter?: string): LifecycleEvent => {
  const e = eventFromResult({ name: 'site', outcome: 'renewed', message: 'renewed version 2', ...result }, { domains: ['site.example'], timing, notAfter });
  assert.ok(e);
  return e;
};

test('an event carries reason, version, timings and expiry; a dry run is no event', () => {
  const e = event({ reason: 'ari-window', version: 2, notAfter: '2026-03-07T00:00:00Z' });
  assert.equal(e.type, 'renewed');
  assert.equal(e.reason, 'ari-window');
  assert.equal(e.version, 2);
  assert.equal(e.timings.durationMs, 2500);
  assert.equal(e.expiresInDays, 5);
  assert.equal(eventFromResult({ name: 'site', outcome: 'dry-run', message: 'dry run' }, { domains: [], timing }), undefined);
});

test('no private key reaches an event, even one an error message quotes', () => {
  const error = new CertpilotError('ERR_DEPLOY_FAILED', `deploy site: hook printed ${KEY}`, { hint: `see ${KEY}` });
  const e = event({
    outcome: 'failed',
    message: `failed: ${KEY}`,
    error,
    deploy: { ok: false, version: 2, steps: [{ deployer: 'hook', status: 'failed', message: `stderr: ${KEY}`, error }] },
  });
  const wire = JSON.stringify(e) + eventText(e);
  assert.doesNotMatch(wire, /PRIVATE KEY|NOT-FOR-YOUR-EYES/);
  assert.match(wire, /\[PEM removed\]/);
  assert.equal(e.error?.code, 'ERR_DEPLOY_FAILED');
});

test('on failure by default; success and expiring only when asked', () => {
  const failure: NotifyPolicy = { on: ['failure'], expiringDays: 14 };
  const all: NotifyPolicy = { on: ['failure', 'success', 'expiring'], expiringDays: 14 };
  const failed = event({ outcome: 'failed', message: 'x', error: new CertpilotError('ERR_ACME_PROBLEM', 'acme: no') });
  const deployFailed = event({ outcome: 'renewed', deploy: { ok: false, version: 2, steps: [{ deployer: 'hook', status: 'failed', message: 'exit 1' }] } });
  const renewed = event({});
  const notDueSoon = event({ outcome: 'not-due', message: 'not due' }, '2026-03-05T00:00:00Z');
  const notDueLater = event({ outcome: 'not-due', message: 'not due' }, '2026-05-05T00:00:00Z');
  assert.deepEqual([failed, deployFailed, renewed, notDueSoon].map((e) => wants(failure, e)), [true, true, false, false]);
  assert.deepEqual([failed, deployFailed, renewed, notDueSoon, notDueLater].map((e) => wants(all, e)), [true, true, true, true, false]);
});

test('a held run while renewals fail says so: summary, last error and hint; expiry within a week in days and hours', () => {
  const lastError = { code: 'ERR_ACME_AUTHORIZATION_FAILED', message: 'acme: shop.example: connection refused', hint: 'Check that port 80 reaches certpilot.' };
  // 2 days 23 hours left: "2 day(s)" would hide most of a day.
  const held = event({ outcome: 'held', version: 1, message: 'due (lifetime); held until …: 3 consecutive failure(s) at the CA', lastError }, '2026-03-03T23:00:02.500Z');
  assert.equal(eventSummary(held), 'certpilot: site held v1: renewal FAILING (ERR_ACME_AUTHORIZATION_FAILED); expires in 2d 23h');
  const text = eventText(held);
  assert.match(text, /^renewal failing: last error ERR_ACME_AUTHORIZATION_FAILED: acme: shop\.example: connection refused$/m);
  assert.match(text, /^hint: Check that port 80 reaches certpilot\.$/m);
  assert.equal(wants({ on: ['expiring'], expiringDays: 10 }, held), true);
  // Not failing, a month left: as before.
  assert.equal(eventSummary(event({ outcome: 'not-due', version: 1, message: 'not due' }, '2026-04-01T00:00:00Z')), 'certpilot: site not-due v1; expires in 30 day(s)');
  assert.equal(eventSummary(event({ outcome: 'held', message: 'held' }, '2026-02-28T21:00:00Z')), 'certpilot: site held; EXPIRED 3h 0m ago');
});

test('a notifier that throws is logged and counted; the others still get the event', async () => {
  const got: string[] = [];
  const ok: Notifier = { notify: async (e) => void got.push(e.certificate) };
  const broken: Notifier = {
    notify: async () => {
      throw new CertpilotError('ERR_NOTIFY_FAILED', 'webhook hooks: not delivered: answered HTTP 500');
    },
  };
  const failed = event({ outcome: 'failed', message: 'x' });
  const summary = await dispatchEvents(
    [failed, event({})],
    () => [
      { name: 'broken', policy: { on: ['failure'], expiringDays: 14 }, notifier: async () => broken },
      { name: 'unbuildable', policy: { on: ['failure'], expiringDays: 14 }, notifier: async () => Promise.reject(new Error('cannot build')) },
      { name: 'chat', policy: { on: ['failure', 'success'], expiringDays: 14 }, notifier: async () => ok },
    ],
    { logger: silentLogger },
  );
  assert.deepEqual(got, ['site', 'site'], 'chat got the failure and the success');
  assert.deepEqual(summary.failed.map((f) => [f.notifier, f.code]).sort(), [['broken', 'ERR_NOTIFY_FAILED'], ['unbuildable', 'ERR_NOTIFY_FAILED']]);
  assert.equal(summary.sent.length, 2);
});

test('the notifier row\'s wrapper (the event filter, built through the kinds table) passes only the events its `on` asks for', async () => {
  const { kindSpec } = await import('../plugins/plugin-kinds.js');
  const seen: string[] = [];
  const inner: Notifier = { notify: async (e) => void seen.push(e.type) };
  const wrapper = kindSpec('notifier').wraps;
  assert.ok(wrapper, 'the notifier kind has a wrapper');
  const filtered = (await wrapper.create(inner as never, { on: ['failure'], expiringDays: 14 }, { baseDir: '/', logger: silentLogger, clock: { now: () => new Date(), sleep: async () => {} } as never })) as Notifier;
  await filtered.notify(event({}));
  await filtered.notify(event({ outcome: 'failed', message: 'failed', error: new CertpilotError('ERR_ACME_PROBLEM', 'acme: no') }));
  assert.deepEqual(seen, ['failed'], 'the success never reached the plug-in');
});
