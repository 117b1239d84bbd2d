import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CertpilotError, type ErrorCode } from '../errors.js';
import { silentLogger } from '../logger.js';
import type { RenewalResult } from '../renewal/renew-certificate.js';
import { eventFromResult, eventSummary, eventText, type LifecycleEvent } from './lifecycle-event.js';
import { decideNotice, dispatchEvents, wants, type Notifier, type NotifyPolicy } from './notifier.js';

const timing = { startedAt: new Date('2026-03-01T00:00:00Z'), finishedAt: new Date('2026-03-01T00:00:02.500Z') };
const KEY = '-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg-NOT-FOR-YOUR-EYES\n-----END PRIVATE KEY-----';

const event = (result: Partial<RenewalResult>, notAfter?: string, notBefore?: string): LifecycleEvent => {
  const e = eventFromResult({ name: 'site', outcome: 'renewed', message: 'renewed version 2', ...result }, { domains: ['site.example'], timing, notAfter, notBefore });
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
  const failure: NotifyPolicy = { on: ['failure'], expiringDays: 14, repeatHours: 24 };
  const all: NotifyPolicy = { on: ['failure', 'success', 'expiring'], expiringDays: 14, repeatHours: 24 };
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
  assert.equal(wants({ on: ['expiring'], expiringDays: 10, repeatHours: 24 }, held), true);
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
      { name: 'broken', policy: { on: ['failure'], expiringDays: 14, repeatHours: 24 }, notifier: async () => broken },
      { name: 'unbuildable', policy: { on: ['failure'], expiringDays: 14, repeatHours: 24 }, notifier: async () => Promise.reject(new Error('cannot build')) },
      { name: 'chat', policy: { on: ['failure', 'success'], expiringDays: 14, repeatHours: 24 }, notifier: async () => ok },
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
  const filtered = (await wrapper.create(inner as never, { on: ['failure'], expiringDays: 14, repeatHours: 24 }, { baseDir: '/', logger: silentLogger, clock: { now: () => new Date(), sleep: async () => {} } as never })) as Notifier;
  await filtered.notify(event({}));
  await filtered.notify(event({ outcome: 'failed', message: 'failed', error: new CertpilotError('ERR_ACME_PROBLEM', 'acme: no') }));
  assert.deepEqual(seen, ['failed'], 'the success never reached the plug-in');
});

test('expiring scales with the lifetime: the smaller of expiringDays and a fifth of it (the alert\'s rule), never inside the normal renewal time', () => {
  const expiring: NotifyPolicy = { on: ['expiring'], expiringDays: 14, repeatHours: 24 };
  const at = (iso: string, days: number): string => new Date(Date.parse(iso) - days * 86_400_000).toISOString();
  // 10-day certificates (renewed with a third left, 3.3 days): 9 days left is no news, 1.5 days is.
  const tenDayEnd = '2026-03-10T00:00:00Z';
  const tenDayFresh = event({ outcome: 'not-due', version: 4, message: 'not due' }, tenDayEnd, at(tenDayEnd, 10));
  assert.equal(wants(expiring, tenDayFresh), false, 'a 10-day certificate 9 days before its end is not expiring');
  const tenDayLate = event({ outcome: 'held', version: 4, message: 'held' }, '2026-03-02T12:00:00Z', at('2026-03-02T12:00:00Z', 10));
  assert.equal(wants(expiring, tenDayLate), true, 'a 10-day certificate 1.5 days before its end is');
  // 6-day (shortlived): 29 h is the line.
  const sixDayEnd = '2026-03-02T06:00:00Z';
  assert.equal(wants(expiring, event({ outcome: 'not-due', message: 'not due' }, sixDayEnd, at(sixDayEnd, 6))), false, '30 h of 6 days left');
  assert.equal(wants(expiring, event({ outcome: 'not-due', message: 'not due' }, '2026-03-02T04:00:00Z', at('2026-03-02T04:00:00Z', 6))), true, '28 h of 6 days left');
  // 90-day: expiringDays (14) is the smaller.
  assert.equal(wants(expiring, event({ outcome: 'not-due', message: 'not due' }, '2026-03-14T00:00:00Z', at('2026-03-14T00:00:00Z', 90))), true, '13 days of 90');
  assert.equal(wants(expiring, event({ outcome: 'not-due', message: 'not due' }, '2026-03-16T00:00:00Z', at('2026-03-16T00:00:00Z', 90))), false, '15 days of 90');
  // The lifetime unknown (no notBefore): expiringDays alone, as before.
  assert.equal(wants(expiring, event({ outcome: 'not-due', message: 'not due' }, tenDayEnd)), true);
  // The run's own new certificate (a renewal whose deploy failed): its lifetime is the new one's.
  const renewedUndeployed = event({ outcome: 'renewed', version: 5, notAfter: '2026-03-11T00:00:00Z', notBefore: '2026-03-01T00:00:00Z', deploy: { ok: false, version: 5, steps: [] } }, tenDayEnd, at(tenDayEnd, 10));
  assert.equal(renewedUndeployed.notBefore, '2026-03-01T00:00:00Z');
  assert.equal(wants(expiring, renewedUndeployed), false);
});

test('an expiring notice says EXPIRING, and what the renewal is doing', async () => {
  const got: LifecycleEvent[] = [];
  const end = '2026-03-02T12:00:00Z';
  const late = event({ outcome: 'not-due', version: 4, message: 'not due' }, end, new Date(Date.parse(end) - 10 * 86_400_000).toISOString());
  await dispatchEvents([late], () => [{ name: 'mail', policy: { on: ['failure', 'expiring'], expiringDays: 14, repeatHours: 24 }, notifier: async () => ({ notify: async (e) => void got.push(e) }) }], { logger: silentLogger });
  assert.equal(got.length, 1);
  assert.equal(got[0]?.expiring, true);
  assert.equal(eventSummary(got[0]!), 'certpilot: site not-due v4 EXPIRING: expires in 1d 11h, renewal not yet done');
  const lastError = { code: 'ERR_ACME_AUTHORIZATION_FAILED', message: 'acme: no', hint: 'fix it' };
  assert.equal(eventSummary({ ...late, type: 'held', lastError, expiring: true }), 'certpilot: site held v4 EXPIRING: expires in 1d 11h, renewal FAILING (ERR_ACME_AUTHORIZATION_FAILED)');
  assert.equal(eventSummary({ ...late, notAfter: '2026-02-28T21:00:00Z', expiring: true }), 'certpilot: site not-due v4 EXPIRED 3h 0m ago, renewal not yet done');
  assert.equal(late.expiring, undefined, 'the run\'s event itself is not marked');
});

test('an interrupted run is no failure: its summary says INTERRUPTED, and those who hear of failures hear of it', () => {
  const error = new CertpilotError('ERR_INTERRUPTED', 'cli: interrupted by SIGINT');
  const stopped = event({ outcome: 'interrupted', version: 1, message: 'interrupted while deploying version 1', error, deploy: { ok: false, version: 1, steps: [{ deployer: 'slow', status: 'failed', message: 'interrupted', error }] } });
  assert.equal(eventSummary(stopped), 'certpilot: site INTERRUPTED v1');
  assert.equal(wants({ on: ['failure'], expiringDays: 14, repeatHours: 24 }, stopped), true);
  assert.equal(wants({ on: ['success'], expiringDays: 14, repeatHours: 24 }, stopped), false);
});

test('after a stop, a delivery gets a signal of its own and a bounded time: delivered is sent, cut short is aborted (never failed)', async () => {
  const stop = new AbortController();
  stop.abort(new CertpilotError('ERR_INTERRUPTED', 'cli: interrupted by SIGINT'));
  const stopped = event({ outcome: 'interrupted', message: 'interrupted', error: new CertpilotError('ERR_INTERRUPTED', 'x') });
  const signals: (AbortSignal | undefined)[] = [];
  // Honours its signal as the webhook does: an aborted one fails at once.
  const honest: Notifier = {
    notify: async (_e, o) => {
      signals.push(o?.signal);
      o?.signal?.throwIfAborted();
    },
  };
  // Never answers (a hung receiver), and ignores its signal (as the e-mail notifier does).
  const hung: Notifier = { notify: () => new Promise<void>(() => undefined) };
  // Honours its signal, and waits for it: cut short by the bound.
  const slow: Notifier = { notify: (_e, o) => new Promise<void>((_, reject) => o?.signal?.addEventListener('abort', () => reject(new CertpilotError('ERR_NOTIFY_FAILED', 'webhook: ABORT_ERR: The operation was aborted')))) };
  const policy: NotifyPolicy = { on: ['failure'], expiringDays: 14, repeatHours: 24 };
  const summary = await dispatchEvents(
    [stopped],
    () => [
      { name: 'chat', policy, notifier: async () => honest },
      { name: 'mail', policy, notifier: async () => hung },
      { name: 'slow', policy, notifier: async () => slow },
    ],
    { logger: silentLogger, signal: stop.signal, stoppedDeliveryMs: 50 },
  );
  assert.deepEqual(summary.sent, [{ certificate: 'site', notifier: 'chat' }], 'the interrupted event reached a receiver that was up');
  assert.notEqual(signals[0], stop.signal);
  assert.equal(summary.failed.length, 0, JSON.stringify(summary.failed));
  assert.deepEqual(summary.aborted.map((a) => a.notifier).sort(), ['mail', 'slow']);
});

test('the same notice is the same kind with the same substance; interrupted and deploy failures have their own', () => {
  const failure: NotifyPolicy = { on: ['failure'], expiringDays: 14, repeatHours: 24 };
  const at = timing.finishedAt.toISOString();
  const hourAgo = new Date(timing.finishedAt.getTime() - 3_600_000).toISOString();
  const deployFailed = (version: number, code: ErrorCode) =>
    event({ outcome: 'deploy-failed', version, message: 'deploy failed', deploy: { ok: false, version, steps: [{ deployer: 'files', status: 'deployed', message: 'ok' }, { deployer: 'hook', status: 'failed', message: 'exit 1', error: new CertpilotError(code, 'hook: exit 1') }] } });
  const first = decideNotice(failure, deployFailed(3, 'ERR_DEPLOY_HOOK_FAILED'), undefined);
  assert.equal(first.action, 'send');
  assert.deepEqual(first.action === 'send' && first.repeats, { kind: 'failure', about: 'deploy v3: hook ERR_DEPLOY_HOOK_FAILED' });
  const told = { failure: { about: 'deploy v3: hook ERR_DEPLOY_HOOK_FAILED', at: hourAgo } };
  assert.equal(decideNotice(failure, deployFailed(3, 'ERR_DEPLOY_HOOK_FAILED'), told).action, 'suppress', 'the retried deploy failing alike');
  assert.equal(decideNotice(failure, deployFailed(4, 'ERR_DEPLOY_HOOK_FAILED'), told).action, 'send', 'a new version failing to deploy');
  assert.equal(decideNotice(failure, deployFailed(3, 'ERR_DEPLOY_FAILED'), told).action, 'send', 'another error');
  assert.equal(decideNotice({ ...failure, repeatHours: 0 }, deployFailed(3, 'ERR_DEPLOY_HOOK_FAILED'), told).action, 'send', 'repeatHours 0: every run');
  assert.equal(decideNotice(failure, deployFailed(3, 'ERR_DEPLOY_HOOK_FAILED'), { failure: { about: told.failure.about, at: new Date(timing.finishedAt.getTime() + 60_000).toISOString() } }).action, 'send', 'a record from the future silences nothing');

  // Interrupted: a kind of its own; a failure told before is not replaced by it.
  const stopped = event({ outcome: 'interrupted', message: 'interrupted', error: new CertpilotError('ERR_INTERRUPTED', 'cli: SIGTERM') });
  const withStop = decideNotice(failure, stopped, told);
  assert.deepEqual(withStop.action === 'send' && withStop.repeats, { kind: 'interrupted', about: 'interrupted' });
  assert.equal(decideNotice(failure, stopped, { ...told, interrupted: { about: 'interrupted', at: hourAgo } }).action, 'suppress');
  assert.equal(decideNotice(failure, stopped, { interrupted: { about: 'interrupted', at: hourAgo } }).action, 'suppress');

  // A success: RESOLVED only after a failure; after an interrupted or expiring notice the memory is just cleared.
  const renewed = event({ version: 4 });
  assert.deepEqual(decideNotice(failure, renewed, { interrupted: { about: 'interrupted', at } }), { action: 'none', clears: true });
  assert.deepEqual(decideNotice(failure, renewed, undefined), { action: 'none' });
  const resolved = decideNotice({ ...failure, on: ['success'] }, renewed, told);
  assert.equal(resolved.action === 'send' && eventSummary(resolved.event), 'certpilot: site renewed v4 RESOLVED (was deploy v3: hook ERR_DEPLOY_HOOK_FAILED)');
  // A record written by hand or by an older version counts as never told.
  assert.equal(decideNotice(failure, deployFailed(3, 'ERR_DEPLOY_HOOK_FAILED'), { failure: { about: 'deploy v3: hook ERR_DEPLOY_HOOK_FAILED', at: 'yesterday' } }).action, 'send');
});

test('the event filter lets a resolution through to a notifier whose `on` lacks success', async () => {
  const { kindSpec } = await import('../plugins/plugin-kinds.js');
  const seen: LifecycleEvent[] = [];
  const wrapper = kindSpec('notifier').wraps;
  assert.ok(wrapper);
  const filtered = (await wrapper.create({ notify: async (e: LifecycleEvent) => void seen.push(e) } as never, { on: ['failure'], expiringDays: 14, repeatHours: 24 }, { baseDir: '/', logger: silentLogger, clock: { now: () => new Date(), sleep: async () => {} } as never })) as Notifier;
  await filtered.notify({ ...event({}), resolved: { was: 'ERR_ACME_PROBLEM' } });
  assert.deepEqual(seen.map((e) => e.resolved), [{ was: 'ERR_ACME_PROBLEM' }]);
});

test('a failure already told of does not hide that the certificate now runs out: the expiring notice goes, once', () => {
  const both: NotifyPolicy = { on: ['failure', 'expiring'], expiringDays: 14, repeatHours: 24 };
  const hourAgo = new Date(timing.finishedAt.getTime() - 3_600_000).toISOString();
  // Failing alike for days (a failure the CA did not count: no `held` run), now 2 days from its end.
  const failing = event({ outcome: 'failed', version: 3, message: 'failed', error: new CertpilotError('ERR_DNS_UPDATE_REFUSED', 'dns: refused') }, '2026-03-03T00:00:00Z', '2025-12-03T00:00:00Z');
  const toldFailure = { failure: { about: 'ERR_DNS_UPDATE_REFUSED', at: hourAgo } };
  const d = decideNotice(both, failing, toldFailure);
  assert.equal(d.action, 'send');
  assert.deepEqual(d.action === 'send' ? [d.repeats, d.event.expiring] : [], [{ kind: 'expiring', about: 'v3' }, true]);
  // Told of both: nothing new.
  assert.equal(decideNotice(both, failing, { ...toldFailure, expiring: { about: 'v3', at: hourAgo } }).action, 'suppress');
  // A failure-only notifier still hears nothing more.
  assert.equal(decideNotice({ ...both, on: ['failure'] }, failing, toldFailure).action, 'suppress');
});
