import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { FileLocker } from '../coordination/file/file-locker.js';
import { CertpilotError, type ErrorCode } from '../errors.js';
import { createLogger } from '../logger.js';
import type { RenewalResult } from '../renewal/renew-certificate.js';
import type { RenewalState } from '../storage/certificate-store.js';
import { MemoryStateBackend } from '../storage/backends/memory/memory-state-backend.js';
import { StateStore } from '../storage/state-store.js';
import { tempDir } from '../testing/temp-dir.js';
import { eventFromResult, eventSummary, type LifecycleEvent } from './lifecycle-event.js';
import { recordNotifications } from './notification-records.js';
import { dispatchEvents, type Notifier, type NotifierRoute, type NotifyPolicy } from './notifier.js';

const MINUTE = 60_000;
const T0 = Date.parse('2026-03-01T03:00:00Z');

/** One run of `site` at `at`: its event, dispatched and recorded as compose does (state read, then written under the lock). */
async function harness(options: { unsaved?: Map<string, NonNullable<RenewalState['notifications']>> } = {}) {
  const store = new StateStore(new MemoryStateBackend());
  const locker = new FileLocker({ dir: join(await tempDir('certpilot-notice-'), 'locks') });
  const lines: string[] = [];
  const logger = createLogger({ level: 'info', destination: new Writable({ write: (chunk: Buffer, _e, done) => (lines.push(chunk.toString()), done()) }) });
  const got: Record<string, LifecycleEvent[]> = { oncall: [], chat: [] };
  let chatDown = false;
  const notifierOf = (name: string): Notifier => ({
    notify: async (e) => {
      if (name === 'chat' && chatDown) throw new CertpilotError('ERR_NOTIFY_FAILED', 'webhook chat: answered HTTP 503');
      got[name]?.push(e);
    },
  });
  const policy = (on: NotifyPolicy['on']): NotifyPolicy => ({ on, expiringDays: 14, repeatHours: 24 });
  const routes = (): NotifierRoute[] => [
    { name: 'oncall', policy: policy(['failure']), notifier: async () => notifierOf('oncall') },
    { name: 'chat', policy: policy(['failure', 'expiring']), notifier: async () => notifierOf('chat') },
  ];
  const run = async (at: number, result: Partial<RenewalResult>, notAfter?: string) => {
    const finishedAt = new Date(at);
    const event = eventFromResult({ name: 'site', outcome: 'failed', message: 'failed', ...result }, { domains: ['site.example'], timing: { startedAt: finishedAt, finishedAt }, notAfter });
    assert.ok(event);
    const summary = await dispatchEvents([event], routes, { logger, records: async (c) => ({ ...(await store.loadState(c)).notifications, ...options.unsaved?.get(c) }) });
    await recordNotifications(summary, { store, locker, lockTtlSeconds: 60, now: finishedAt, logger, ...(options.unsaved ? { unsaved: options.unsaved } : {}) });
    return summary;
  };
  const failed = (code: ErrorCode): Partial<RenewalResult> => ({ outcome: 'failed', error: new CertpilotError(code, `acme: ${code}`) });
  return { store, lines, got, run, failed, setChatDown: (down: boolean) => void (chatDown = down) };
}

test('a failure that repeats every 5 minutes is sent once per repeatHours; a new error at once; a success resolves it', async () => {
  const h = await harness();
  const dns = h.failed('ERR_DNS_UPDATE_REFUSED');
  await h.run(T0, dns);
  for (let i = 1; i <= 12; i++) {
    const again = await h.run(T0 + i * 5 * MINUTE, dns);
    assert.deepEqual(again.sent, [], `retry ${i} is the same news`);
    assert.deepEqual(again.suppressed.map((s) => [s.notifier, s.kind, s.until]), [['oncall', 'failure', '2026-03-02T03:00:00.000Z'], ['chat', 'failure', '2026-03-02T03:00:00.000Z']]);
  }
  assert.equal(h.got.oncall?.length, 1, 'one e-mail in the hour, not 13');
  const line = h.lines.find((l) => l.includes('not repeated'));
  assert.ok(line, h.lines.join(''));
  assert.deepEqual(
    (({ certificate, notifier, repeatAfter }) => ({ certificate, notifier, repeatAfter }))(JSON.parse(line) as Record<string, unknown>),
    { certificate: 'site', notifier: 'oncall', repeatAfter: '2026-03-02T03:00:00.000Z' },
    'the log names the certificate, the notifier and the earliest repeat',
  );
  // A suppressed notice is no attempt: the status meaning of the record stays the first delivery's.
  const record = (await h.store.loadState('site')).notifications?.oncall;
  assert.equal(record?.at, new Date(T0).toISOString());
  assert.equal(record?.result, 'sent');
  assert.deepEqual(record?.told, { failure: { about: 'ERR_DNS_UPDATE_REFUSED', at: new Date(T0).toISOString() } });

  // Another error is news at once.
  const other = await h.run(T0 + 70 * MINUTE, h.failed('ERR_ACME_AUTHORIZATION_FAILED'));
  assert.deepEqual(other.sent.map((s) => s.notifier).sort(), ['chat', 'oncall']);
  // The same error a day after it was last told: repeated.
  assert.equal((await h.run(T0 + 70 * MINUTE + 23 * 60 * MINUTE, h.failed('ERR_ACME_AUTHORIZATION_FAILED'))).sent.length, 0);
  assert.equal((await h.run(T0 + 70 * MINUTE + 24 * 60 * MINUTE, h.failed('ERR_ACME_AUTHORIZATION_FAILED'))).sent.length, 2, 'repeated after repeatHours');
  assert.equal(h.got.oncall?.length, 3);

  // The next success: RESOLVED to both, though neither has `success` in `on`; the memory is cleared.
  const renewed = await h.run(T0 + 3 * 24 * 60 * MINUTE, { outcome: 'renewed', version: 2, message: 'renewed version 2' });
  assert.deepEqual(renewed.sent.map((s) => s.notifier).sort(), ['chat', 'oncall']);
  const resolved = h.got.oncall?.at(-1);
  assert.deepEqual(resolved?.resolved, { was: 'ERR_ACME_AUTHORIZATION_FAILED' });
  assert.equal(eventSummary(resolved!), 'certpilot: site renewed v2 RESOLVED (was ERR_ACME_AUTHORIZATION_FAILED)');
  assert.equal((await h.store.loadState('site')).notifications?.oncall?.told, undefined);
  // The same failure after the success is news again.
  assert.equal((await h.run(T0 + 3 * 24 * 60 * MINUTE + 5 * MINUTE, h.failed('ERR_ACME_AUTHORIZATION_FAILED'))).sent.length, 2);
  // A second success resolves once only.
  await h.run(T0 + 4 * 24 * 60 * MINUTE, { outcome: 'renewed', version: 3, message: 'renewed version 3' });
  const count = h.got.oncall?.length;
  assert.deepEqual((await h.run(T0 + 5 * 24 * 60 * MINUTE, { outcome: 'renewed', version: 4, message: 'renewed version 4' })).sent, []);
  assert.equal(h.got.oncall?.length, count);
});

test('a delivery that failed is tried again by the next run; a resolution that failed, by the next success', async () => {
  const h = await harness();
  const dns = h.failed('ERR_DNS_UPDATE_REFUSED');
  h.setChatDown(true);
  const first = await h.run(T0, dns);
  assert.deepEqual(first.failed.map((f) => f.notifier), ['chat']);
  assert.equal((await h.store.loadState('site')).notifications?.chat?.result, 'failed', 'the record still says the notifier is failing');
  h.setChatDown(false);
  const second = await h.run(T0 + 5 * MINUTE, dns);
  assert.deepEqual(second.sent.map((s) => s.notifier), ['chat'], 'not suppressed: it was never told');
  assert.deepEqual(second.suppressed.map((s) => s.notifier), ['oncall']);
  assert.equal((await h.store.loadState('site')).notifications?.chat?.result, 'sent');

  h.setChatDown(true);
  const success = await h.run(T0 + 60 * MINUTE, { outcome: 'renewed', version: 2, message: 'renewed' });
  assert.deepEqual(success.failed.map((f) => f.notifier), ['chat']);
  assert.equal((await h.store.loadState('site')).notifications?.chat?.told?.failure?.about, 'ERR_DNS_UPDATE_REFUSED', 'kept until the resolution is delivered');
  h.setChatDown(false);
  await h.run(T0 + 2 * 24 * 60 * MINUTE, { outcome: 'deployed', version: 2, message: 'deployed' });
  assert.deepEqual(h.got.chat?.at(-1)?.resolved, { was: 'ERR_DNS_UPDATE_REFUSED' });
});

test('expiring: once per repeatHours for a version, at once for a new version or once it has expired', async () => {
  const h = await harness();
  const held = (version: number): Partial<RenewalResult> => ({ outcome: 'held', version, message: 'held' });
  const end = new Date(T0 + 36 * 60 * MINUTE).toISOString();
  assert.deepEqual((await h.run(T0, held(3), end)).sent.map((s) => s.notifier), ['chat']);
  assert.deepEqual((await h.run(T0 + 6 * 60 * MINUTE, held(3), end)).sent, [], 'six hours later: the same news');
  assert.deepEqual((await h.run(T0 + 37 * 60 * MINUTE, held(3), end)).sent.map((s) => s.notifier), ['chat'], 'expired: news');
  assert.match(eventSummary(h.got.chat!.at(-1)!), /EXPIRED/);
  assert.deepEqual((await h.run(T0 + 38 * 60 * MINUTE, held(4), new Date(T0 + 40 * 60 * MINUTE).toISOString())).sent.map((s) => s.notifier), ['chat'], 'a new version');
});

test('a record that cannot be written (a full volume): the process keeps what it told, so the daemon does not repeat it every retry; written with the next save', async () => {
  const unsaved = new Map<string, NonNullable<RenewalState['notifications']>>();
  const h = await harness({ unsaved });
  const saveState = h.store.saveState.bind(h.store);
  let full = true;
  h.store.saveState = (name, state) => (full ? Promise.reject(Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' })) : saveState(name, state));
  const disk = h.failed('ERR_STORAGE_FULL');
  assert.equal((await h.run(T0, disk)).sent.length, 2);
  assert.ok(h.lines.some((l) => l.includes('notification result not recorded')));
  for (let i = 1; i <= 3; i++) assert.deepEqual((await h.run(T0 + i * 5 * MINUTE, disk)).sent, [], `retry ${i}: told already (in this process)`);
  assert.equal(h.got.oncall?.length, 1);
  // Space again: the next record is written with what was kept, and the memory is let go.
  full = false;
  assert.equal((await h.run(T0 + 20 * MINUTE, h.failed('ERR_ACME_AUTHORIZATION_FAILED'))).sent.length, 2);
  assert.equal(unsaved.size, 0);
  assert.equal((await h.store.loadState('site')).notifications?.oncall?.told?.failure?.about, 'ERR_ACME_AUTHORIZATION_FAILED');
});
