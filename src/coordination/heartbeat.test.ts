// The one heartbeat: renews while held; a renewal that finds another holder fires lost at once;
// failing renewals fire lost only when the next beat would come after the lock could expire.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { silentLogger } from '../logger.js';
import { FakeClock } from '../testing/fake-clock.js';
import { Heartbeat } from './heartbeat.js';

function beat(renew: () => Promise<boolean>, clock = new FakeClock()): Heartbeat {
  return new Heartbeat({ component: 'test-locker', name: 'www', ttlMs: 90_000, renew, clock, logger: silentLogger });
}

test('a renewal that finds another holder fires lost with ERR_LOCK_LOST, and renewals stop', async () => {
  let calls = 0;
  const h = beat(async () => (++calls, calls < 2));
  await h.beat();
  assert.equal(h.lost.aborted, false);
  await h.beat();
  assert.equal(h.lost.aborted, true);
  const reason = h.lost.reason as { code?: string; message?: string };
  assert.equal(reason.code, 'ERR_LOCK_LOST');
  assert.match(reason.message ?? '', /test-locker: lock www: lost: another holder/);
  await h.beat();
  assert.equal(calls, 2, 'no renewal after the loss');
  await h.stop();
});

test('failed renewals are retried while the lock cannot have expired, and fire lost one interval before it could', async () => {
  const clock = new FakeClock();
  const h = beat(async () => {
    throw new Error('API server unreachable');
  }, clock);
  clock.advance(30_000);
  await h.beat();
  assert.equal(h.lost.aborted, false, '60 s left of a 90 s TTL: retried at the next beat');
  clock.advance(29_000);
  await h.beat();
  assert.equal(h.lost.aborted, false, '31 s left: one more beat fits');
  clock.advance(1_000);
  await h.beat();
  assert.equal(h.lost.aborted, true, '30 s left, one interval: another process could take it before the next beat');
  assert.match((h.lost.reason as Error).message, /not renewed for 60 s \(API server unreachable\)/);
  await h.stop();
});

test('a good renewal moves the deadline', async () => {
  const clock = new FakeClock();
  let fail = false;
  const h = beat(async () => {
    if (fail) throw new Error('flaky');
    return true;
  }, clock);
  clock.advance(50_000);
  await h.beat();
  fail = true;
  clock.advance(25_000);
  await h.beat();
  assert.equal(h.lost.aborted, false, '75 s after acquire but 25 s after the last renewal');
  await h.stop();
});
