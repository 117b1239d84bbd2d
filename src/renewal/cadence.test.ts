import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkCadence, cronScheduleFor } from './cadence.js';

const H = 3_600_000;
const DAY = 24 * H;
const t0 = Date.parse('2026-03-01T00:00:00Z');
const iso = (ms: number): string => new Date(ms).toISOString();

// A `shortlived` 6-day certificate whose CA window is ~3.2 hours wide (Let's Encrypt's shape).
const shortlived = {
  name: 'short',
  notBefore: iso(t0),
  notAfter: iso(t0 + 6 * DAY),
  ariWindow: { start: iso(t0 + 3 * DAY), end: iso(t0 + 3 * DAY + 3.2 * H) },
};

test('a 12-hour cron cannot land inside a 3.2-hour ARI window: warned, with a cadence that fits', () => {
  const w = checkCadence(shortlived, 12 * H);
  assert.ok(w, 'a warning');
  assert.equal(w.windowSource, 'ari');
  assert.equal(w.windowMs, 3.2 * H);
  assert.ok(w.suggestedIntervalMs <= w.windowMs / 2, 'two runs land inside the window');
  assert.equal(w.suggestedCron, '17 * * * *');
  assert.match(w.message, /short: renew runs every 12h 0m but the CA's ARI window is 3h 12m wide/);
  assert.match(w.message, /cron "17 \* \* \* \*"/);
  assert.match(w.message, /renewal\.runIntervalHours/);
  assert.match(w.message, /certpilot daemon/, 'the daemon is the other way');
});

test('an hourly run fits the same window; a 90-day certificate fits twice a day', () => {
  assert.equal(checkCadence(shortlived, 1 * H), undefined);
  const long = { name: 'long', notBefore: iso(t0), notAfter: iso(t0 + 90 * DAY), ariWindow: { start: iso(t0 + 60 * DAY), end: iso(t0 + 62 * DAY) } };
  assert.equal(checkCadence(long, 12 * H), undefined);
  assert.equal(checkCadence(shortlived, undefined), undefined, 'no known cadence, no warning');
});

test('before any ARI answer a short-lived certificate (or a shortlived profile) is judged by an estimate', () => {
  const w = checkCadence({ name: 'fresh', notBefore: iso(t0), notAfter: iso(t0 + 6 * DAY) }, 12 * H);
  assert.equal(w?.windowSource, 'estimate');
  assert.match(w?.message ?? '', /estimated for a short-lived certificate/);
  assert.equal(checkCadence({ name: 'new', profile: 'shortlived' }, 12 * H)?.windowSource, 'estimate');
  assert.equal(checkCadence({ name: 'new', profile: 'classic' }, 12 * H), undefined);
});

test('cron schedules for an interval', () => {
  assert.equal(cronScheduleFor(6 * H), '17 */6 * * *');
  assert.equal(cronScheduleFor(40 * 60_000), '*/30 * * * *');
  assert.equal(cronScheduleFor(10 * 60_000), '*/10 * * * *');
});
