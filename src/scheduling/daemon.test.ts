import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { testCertificateSpec } from '../testing/certificate-spec.js';
import type { ResolvedCertificate } from '../config/load-config.js';
import { FileLocker } from '../coordination/file/file-locker.js';
import { silentLogger } from '../logger.js';
import type { LifecycleEvent } from '../notify/lifecycle-event.js';
import { DEPLOY_CHECK_MS, MIN_SLEEP_MS } from '../renewal/scheduler.js';
import type { FilesystemCertificateStore } from '../storage/backends/filesystem/filesystem-certificate-store.js';
import { CaDouble, caDoubleContext, type DoubleCertificate } from '../testing/ca-double.js';
import { FakeClock } from '../testing/fake-clock.js';
import { mulberry32 } from '../testing/prng.js';
import { tempDir } from '../testing/temp-dir.js';
import { RenewalDaemon, type DaemonSetup } from './daemon.js';

const DAY = 86_400_000;
const HOUR = 3_600_000;

const shortlived: ResolvedCertificate = testCertificateSpec({ profile: 'shortlived' });

/** A fake clock that stops the daemon once simulated time passes `end` (checked after each sleep). */
class StopClock extends FakeClock {
  readonly controller = new AbortController();
  sleepCount = 0;
  constructor(start: number, private readonly end: number) {
    super(start);
  }
  override async sleep(ms: number, signal?: AbortSignal): Promise<void> {
    this.sleepCount++;
    await super.sleep(ms, signal);
    if (this.now().getTime() >= this.end) this.controller.abort();
  }
}

interface World {
  clock: StopClock;
  ca: CaDouble;
  store: FilesystemCertificateStore;
  setup: DaemonSetup;
  events: LifecycleEvent[];
  stateDir: string;
}

async function world(options: { days: number; backdateMs?: number; ariRetryAfterMs?: number; start?: number }): Promise<World> {
  const start = options.start ?? Date.parse('2027-03-01T00:00:00Z');
  const clock = new StopClock(start, start + options.days * DAY);
  const ca = new CaDouble({ clock, ...(options.backdateMs !== undefined ? { backdateMs: options.backdateMs } : {}), ...(options.ariRetryAfterMs ? { ariRetryAfterMs: options.ariRetryAfterMs } : {}) });
  const stateDir = await tempDir('certpilot-daemon-');
  const events: LifecycleEvent[] = [];
  const context = caDoubleContext(ca, { clock, stateDir, events: (e) => void events.push(e) });
  return { clock, ca, store: context.store, setup: { certificates: [shortlived], context, concurrency: 4 }, events, stateDir };
}

/** Asserts the CA's log: every renewal inside the window of the certificate it replaces, exactly one order per window. */
function assertOneOrderPerWindow(w: World): DoubleCertificate[] {
  const certs = w.ca.certificates;
  const orders = w.ca.orders;
  assert.equal(orders.length, certs.length);
  const end = w.clock.now().getTime();
  for (const [i, cert] of certs.entries()) {
    const replacedBy = certs.filter((c) => c.replaces === cert.certId);
    if (cert.window.end.getTime() <= end) {
      assert.equal(replacedBy.length, 1, `certificate ${i} (window ${cert.window.start.toISOString()}…${cert.window.end.toISOString()}): exactly one order in its window, got ${replacedBy.length}`);
    } else {
      assert.ok(replacedBy.length <= 1, `certificate ${i}: at most one order so far`);
    }
    for (const next of replacedBy) {
      assert.ok(
        next.orderAt >= cert.window.start && next.orderAt <= cert.window.end,
        `the renewal of certificate ${i} at ${next.orderAt.toISOString()} is inside its ARI window ${cert.window.start.toISOString()}…${cert.window.end.toISOString()}`,
      );
    }
  }
  // Every order after the first replaces the certificate before it.
  for (let i = 1; i < certs.length; i++) assert.equal(certs[i]?.replaces, certs[i - 1]?.certId, `order ${i} sends replaces`);
  return certs;
}

test('30 simulated days of a shortlived certificate: every renewal inside its ARI window, one order per window, no request between windows but the ARI fetches the CA asked for', async () => {
  const w = await world({ days: 30 });
  const daemon = new RenewalDaemon(w.setup, { clock: w.clock, logger: silentLogger, random: mulberry32(7) });
  await daemon.run(w.clock.controller.signal);

  const certs = assertOneOrderPerWindow(w);
  // 6-day certificates renewed at two thirds: one issuance, then one renewal every ~4 days.
  assert.ok(certs.length >= 7 && certs.length <= 9, `7 to 9 certificates in 30 days, got ${certs.length}`);
  assert.equal(w.events.filter((e) => e.type === 'issued').length, 1);
  assert.equal(w.events.filter((e) => e.type === 'renewed').length, certs.length - 1);
  assert.equal(w.events.filter((e) => e.type === 'failed').length, 0);

  // Between windows only renewalInfo, each at least the CA's Retry-After (6 h) after the previous for that certificate.
  const ari = w.ca.requests.filter((r) => r.kind === 'renewalInfo');
  const lastAsked = new Map<string, number>();
  for (const r of ari) {
    const before = lastAsked.get(r.certId ?? '');
    if (before !== undefined) assert.ok(r.at.getTime() - before >= 6 * HOUR, `renewalInfo for ${r.certId} again after ${(r.at.getTime() - before) / HOUR} h, before the CA's Retry-After`);
    lastAsked.set(r.certId ?? '', r.at.getTime());
  }
  assert.ok(ari.length <= 30 * 4 + certs.length, `at most one renewalInfo per Retry-After (got ${ari.length})`);
  assert.ok(ari.length >= 30 * 3, `and it does ask again when the Retry-After ends (~4 a day, got ${ari.length} in 30 days)`);
  assert.equal(w.ca.requests.length, certs.length + ari.length, 'no other request');
  // The daemon slept between wakes; never a busy poll: each cycle is a wake the state asked for.
  assert.ok(daemon.cycleCount <= ari.length + certs.length + 2, `cycles ${daemon.cycleCount} ≈ requests (${ari.length + certs.length}): no idle spinning`);
  assert.ok(w.clock.sleeps.every((ms) => ms >= MIN_SLEEP_MS), 'never a sleep shorter than the minimum');
});

test('cert-manager #8993 replay: shortlived, ARI, a backdated notBefore, a reconcile loop every 10 s: exactly one order per window', async () => {
  // A day of backdating makes the naive "notBefore + 2/3 lifetime" rule land a day early, and the
  // renewed certificate's own window then looks due at once to a client that mixes the two.
  const w = await world({ days: 14, backdateMs: DAY });
  const daemon = new RenewalDaemon(w.setup, { clock: w.clock, logger: silentLogger, random: mulberry32(11) });
  let cycles = 0;
  // Many simulated cycles: the daemon's own wakes, plus an outside trigger every 10 s around each window.
  while (w.clock.now().getTime() < Date.parse('2027-03-01T00:00:00Z') + 14 * DAY) {
    const report = await daemon.cycle();
    cycles++;
    const current = w.ca.certificates.at(-1);
    const t = w.clock.now().getTime();
    // Around each window, and for two hours after each order (where #8993 renewed five times).
    const near = current && ((t >= current.window.start.getTime() - 2 * HOUR && t <= current.window.end.getTime() + 2 * HOUR) || t <= current.orderAt.getTime() + 2 * HOUR);
    w.clock.advance(near ? 10_000 : report.sleepMs);
  }
  assert.ok(cycles > 2000, `many cycles (${cycles})`);
  const certs = assertOneOrderPerWindow(w);
  assert.ok(certs.length >= 3, `several renewals (${certs.length})`);
  // No renewal right after a renewal: consecutive orders are days apart, never seconds.
  for (let i = 1; i < certs.length; i++) {
    const gap = (certs[i]?.orderAt.getTime() ?? 0) - (certs[i - 1]?.orderAt.getTime() ?? 0);
    assert.ok(gap > 2 * DAY, `orders ${i - 1} and ${i} are ${gap / 1000} s apart`);
  }
});

test('two replicas sharing the state and the lock directory, waking at the same instants for 30 days: still one order per window', async () => {
  const w = await world({ days: 30 });
  const end = w.clock.now().getTime() + 30 * DAY;
  // The same jitter: both wake at the same instant and run at once; only the lock keeps them apart.
  const replicas = [new RenewalDaemon(w.setup, { clock: w.clock, logger: silentLogger, random: () => 0.5 }), new RenewalDaemon({ ...w.setup }, { clock: w.clock, logger: silentLogger, random: () => 0.5 })];
  const next = [w.clock.now().getTime(), w.clock.now().getTime()];
  while (w.clock.now().getTime() < end) {
    const t = Math.min(...next);
    if (t > w.clock.now().getTime()) w.clock.set(t);
    const due = replicas.map((d, i) => (next[i] as number) <= t ? i : -1).filter((i) => i >= 0);
    const reports = await Promise.all(due.map((i) => (replicas[i] as RenewalDaemon).cycle()));
    reports.forEach((r, k) => (next[due[k] as number] = w.clock.now().getTime() + r.sleepMs));
  }
  const certs = assertOneOrderPerWindow(w);
  assert.ok(certs.length >= 7, `renewed all along (${certs.length} certificates)`);
  assert.ok(w.events.some((e) => e.type === 'locked'), 'the replicas did meet at the lock');
});

test('a certificate locked by another replica is looked at again after a minute, not in a loop; the holder\'s renewal is seen, not repeated', async () => {
  const w = await world({ days: 1 });
  const other = await new FileLocker({ dir: join(w.stateDir, 'locks'), clock: w.clock }).acquire('www', { ttlSeconds: 3600 });
  assert.ok(other);
  const daemon = new RenewalDaemon(w.setup, { clock: w.clock, logger: silentLogger, random: () => 0 });
  const first = await daemon.cycle();
  assert.deepEqual(first.results.map((r) => r.outcome), ['locked']);
  assert.equal(first.next?.why, 'floor');
  assert.ok(first.sleepMs >= 60_000, `sleeps ${first.sleepMs} ms, not a busy poll`);
  // The other replica issues it meanwhile (same state), then releases.
  w.clock.advance(30_000);
  await other.release();
  w.clock.advance(first.sleepMs - 30_000);
  const second = await daemon.cycle();
  assert.deepEqual(second.results.map((r) => r.outcome), ['issued']);
  assert.equal(w.ca.orders.length, 1);
  const third = await daemon.cycle();
  assert.deepEqual(third.results, [], 'nothing run again right after its own run');
  assert.equal(third.next?.why, 'floor');
  w.clock.advance(third.sleepMs);
  const fourth = await daemon.cycle();
  assert.deepEqual(fourth.results.map((r) => r.outcome), ['not-due'], 'the new certificate\'s ARI is fetched');
  assert.equal(fourth.next?.why, 'ari-refetch');
  assert.ok(fourth.sleepMs >= 6 * HOUR, 'then it sleeps until the CA\'s Retry-After');
  assert.equal(w.ca.orders.length, 1);
});

test('a failure the CA did not count is retried after 5 minutes, not at once; replace() swaps the configuration at once; abort ends run() at once', async () => {
  const w = await world({ days: 1 });
  let calls = 0;
  const broken: DaemonSetup = { ...w.setup, context: { ...w.setup.context, solvers: async () => (calls++, Promise.reject(new Error('solver plug-in broken'))) } };
  let closed = 0;
  const daemon = new RenewalDaemon({ ...broken, close: async () => void closed++ }, { clock: w.clock, logger: silentLogger, random: () => 0 });
  const failed = await daemon.cycle();
  assert.deepEqual(failed.results.map((r) => r.outcome), ['failed']);
  assert.equal(failed.sleepMs, 5 * 60_000);
  assert.equal(calls, 1);

  // Still broken 1 min later: the floor holds, nothing runs.
  w.clock.advance(60_000);
  const waiting = await daemon.cycle();
  assert.deepEqual(waiting.results, [], 'the floor holds for this certificate');
  assert.equal(waiting.sleepMs, 4 * 60_000);
  assert.equal(calls, 1);
  // A fixed configuration (SIGHUP) is used by the next cycle at once (it may be the fix); the old one is closed.
  daemon.replace(w.setup);
  const fixed = await daemon.cycle();
  assert.equal(closed, 1);
  assert.deepEqual(fixed.results.map((r) => r.outcome), ['issued']);

  // run() returns when the signal aborts, even mid-sleep (a real clock: a 1-day sleep is cut short).
  const { systemClock } = await import('../clock.js');
  const live = new RenewalDaemon(w.setup, { clock: systemClock, logger: silentLogger });
  const stop = new AbortController();
  const running = live.run(stop.signal);
  await new Promise((r) => setTimeout(r, 50));
  stop.abort();
  await running;
  assert.equal(live.cycleCount, 1);
});


test('a CA without ARI (Pebble 2.4): after the issuance and one look, the daemon sleeps a day at a time, never waking every few seconds for an ARI fetch; a failing renewalInfo is asked again after 6 hours', async () => {
  // 90-day certificates at a CA whose directory has no renewalInfo (acme.ari stays on, the default).
  const w = await world({ days: 10 });
  const plain = testCertificateSpec();
  const noAri: DaemonSetup = { ...w.setup, certificates: [plain], context: { ...w.setup.context, renewalInfo: async () => undefined } };
  const daemon = new RenewalDaemon(noAri, { clock: w.clock, logger: silentLogger, random: () => 0.5 });
  await daemon.run(w.clock.controller.signal);

  assert.deepEqual(w.events.map((e) => e.type).filter((t) => t !== 'not-due'), ['issued'], 'issued once, nothing else but not-due looks');
  // The not-due looks are what certpilot_renewals_total{outcome="not-due"} counts: one right after
  // the issuance (the new certificate's ARI), then one a day, not one every 10-70 s.
  const looks = w.events.filter((e) => e.type === 'not-due').length;
  assert.ok(looks <= 1 + 10, `at most one not-due look a day (got ${looks} in 10 days)`);
  assert.ok(daemon.cycleCount <= 2 + 10 + 1, `cycles: the issuance, the look after it, one a day (got ${daemon.cycleCount})`);
  const afterFirstLook = w.clock.sleeps.slice(2);
  assert.ok(afterFirstLook.length > 0 && afterFirstLook.every((ms) => ms >= 23 * HOUR), `each sleep after the first look is about a day (${afterFirstLook.map((ms) => Math.round(ms / 1000)).join(', ')} s)`);

  // A CA with ARI whose renewalInfo keeps failing (a 5xx): RFC 9773 §4.3.3, asked again after six hours.
  const f = await world({ days: 2 });
  let fetches = 0;
  const failing: DaemonSetup = { ...f.setup, certificates: [plain], context: { ...f.setup.context, renewalInfo: async () => ({ getRenewalInfo: async () => (fetches++, Promise.reject(new Error('renewalInfo: 500 Internal Server Error'))) }) } };
  const again = new RenewalDaemon(failing, { clock: f.clock, logger: silentLogger, random: () => 0.5 });
  await again.run(f.clock.controller.signal);
  assert.deepEqual(f.events.map((e) => e.type).filter((t) => t !== 'not-due'), ['issued']);
  assert.ok(fetches >= 2 && fetches <= 2 * 4 + 1, `renewalInfo asked about every 6 h, not every few seconds (got ${fetches} in 2 days)`);
});

test('a one-off forgotten while the daemon runs (certpilot forget, no SIGHUP) is dropped at its next look: no order, a warning, nothing left to renew', async () => {
  const w = await world({ days: 30 });
  const oneOff = testCertificateSpec({ profile: 'shortlived', oneOff: true, fromRecord: true });
  w.setup.certificates = [oneOff];
  const record = { domains: ['www.example.test'], keyType: 'ec-p256' as const, reuseKey: false, challenge: { type: 'standalone' as const, port: 80 }, directoryUrl: 'https://ca.example/dir', recordedAt: w.clock.now().toISOString() };
  await w.store.saveState('www', { failureCount: 0, oneOff: record });
  const warnings: string[] = [];
  const logger = Object.assign(Object.create(silentLogger) as typeof silentLogger, { warn: (...args: unknown[]) => void warnings.push(args.map(String).join(' ')) });
  const daemon = new RenewalDaemon(w.setup, { clock: w.clock, logger, random: mulberry32(3) });
  const first = await daemon.cycle();
  assert.deepEqual(first.results.map((r) => r.outcome), ['issued'], 'renewed while remembered');
  // certpilot forget: the record goes (another process), the daemon is not told.
  const { oneOff: _dropped, ...rest } = await w.store.loadState('www');
  await w.store.saveState('www', rest);
  w.clock.advance(first.sleepMs);
  const orders = w.ca.orders.length;
  const later = await daemon.cycle();
  assert.deepEqual(later.results, [], 'not renewed once forgotten');
  assert.equal(w.ca.orders.length, orders, 'no order');
  assert.equal(later.next, undefined, 'nothing scheduled');
  assert.deepEqual(w.setup.certificates, [], 'dropped from what the daemon renews');
  assert.ok(warnings.some((m) => /the one-off www was forgotten/.test(m)), warnings.join('\n'));
});

/** A deployer whose target can be emptied (`rm -rf`) and can be made to fail; it checks its target like `files`. */
class TargetDouble {
  readonly id = 'vol';
  held: number | undefined;
  deploys = 0;
  verifies = 0;
  failing = false;
  async deploy(certificate: { version: number }): Promise<{ message: string }> {
    this.deploys++;
    if (this.failing) throw new Error('vol: the disk is read-only');
    this.held = certificate.version;
    return { message: `wrote version ${certificate.version}` };
  }
  async verify(certificate: { version: number }): Promise<string | undefined> {
    this.verifies++;
    return this.held === certificate.version ? undefined : 'files missing in /vol';
  }
}

/** A 90-day certificate deployed to a {@link TargetDouble}, at a CA without ARI (nothing to fetch: only the deploy checks wake it). */
async function deployedWorld(): Promise<{ w: World; target: TargetDouble; daemon: RenewalDaemon }> {
  const w = await world({ days: 2 });
  const target = new TargetDouble();
  const spec = testCertificateSpec({ deploy: ['vol'] });
  const setup: DaemonSetup = { ...w.setup, certificates: [spec], context: { ...w.setup.context, renewalInfo: async () => undefined, deployers: async () => [target], verifiers: async () => [target] } };
  const daemon = new RenewalDaemon(setup, { clock: w.clock, logger: silentLogger, random: () => 0.5 });
  const first = await daemon.cycle();
  assert.deepEqual(first.results.map((r) => r.outcome), ['issued']);
  assert.equal(target.deploys, 1);
  return { w, target, daemon };
}

test('a deploy target lost while nothing is due (rm -rf of a files directory) is checked every 10 minutes and deployed again by the certificate\'s nothing-due run; no CA request; held targets cost one check each, no run', async () => {
  const { w, target, daemon } = await deployedWorld();
  const cycles: Awaited<ReturnType<RenewalDaemon['cycle']>>[] = [];
  const until = async (stop: (r: (typeof cycles)[number]) => boolean, limitMs: number): Promise<(typeof cycles)[number]> => {
    const end = w.clock.now().getTime() + limitMs;
    for (;;) {
      w.clock.advance(cycles.at(-1)?.sleepMs ?? 1_000);
      const report = await daemon.cycle();
      cycles.push(report);
      if (stop(report)) return report;
      assert.ok(w.clock.now().getTime() <= end, `gave up after ${limitMs / 60_000} min: ${JSON.stringify(cycles.map((c) => [c.next?.why, c.sleepMs, c.results.map((r) => r.outcome)]))}`);
    }
  };
  // Quiet: the checks find the target held and run nothing; the wake says why.
  const quiet = await until((r) => r.checked.length > 0, DEPLOY_CHECK_MS + 2 * 60_000);
  assert.deepEqual([quiet.results, quiet.lost], [[], []]);
  assert.equal(quiet.next?.why, 'deploy-check');
  assert.ok(quiet.nextRenewal && quiet.nextRenewal.why !== 'deploy-check', 'the next renewal wake is said besides');
  assert.ok(quiet.sleepMs >= DEPLOY_CHECK_MS && quiet.sleepMs <= DEPLOY_CHECK_MS + 60_000, `the next check in 10 minutes (${quiet.sleepMs} ms)`);
  const requests = w.ca.requests.length;

  // rm -rf: found at the next check (within 10 minutes and the jitter), deployed again at once.
  target.held = undefined;
  const lostAt = w.clock.now().getTime();
  const redeployed = await until((r) => r.results.length > 0, DEPLOY_CHECK_MS + 2 * 60_000);
  assert.deepEqual(redeployed.lost, [{ certificate: 'www', deployer: 'vol', reason: 'files missing in /vol' }]);
  assert.deepEqual(redeployed.results.map((r) => r.outcome), ['deployed']);
  assert.ok(w.clock.now().getTime() - lostAt <= DEPLOY_CHECK_MS + 60_000);
  assert.equal(target.deploys, 2);
  assert.equal(target.held, 1);
  assert.equal(w.ca.requests.length, requests, 'no CA request for a check or the redeploy');
  assert.equal(w.ca.orders.length, 1);

  // A redeploy that keeps failing is retried every 5 minutes (deploy-retry), never in a loop.
  target.failing = true;
  target.held = undefined;
  const deploysBefore = target.deploys;
  const from = w.clock.now().getTime();
  await until(() => w.clock.now().getTime() - from >= 3_600_000, 3_700_000);
  const attempts = target.deploys - deploysBefore;
  assert.ok(attempts >= 5 && attempts <= 13, `an hour of a failing redeploy: ${attempts} attempts, about one per 5 minutes`);
  assert.equal(w.ca.requests.length, requests);
});

test('a lost target a /metrics scrape saw (deployTargetLost) is checked at once, but never sooner than 5 minutes after the last run a lost target caused', async () => {
  const { w, target, daemon } = await deployedWorld();
  // Past the floor and the first check.
  w.clock.advance(60_000);
  await daemon.cycle();
  const checksBefore = target.verifies;
  target.held = undefined;
  w.clock.advance(60_000);
  assert.equal((await daemon.cycle()).results.length, 0, 'the next check is minutes away');
  daemon.deployTargetLost('www');
  const seen = await daemon.cycle();
  assert.deepEqual([seen.checked, seen.results.map((r) => r.outcome)], [['www'], ['deployed']]);
  assert.ok(target.verifies > checksBefore);
  assert.equal(target.held, 1);
  // Lost again at once (a redeploy that does not stick): a scrape seeing it does not make it run again before 5 minutes.
  target.held = undefined;
  w.clock.advance(20_000);
  daemon.deployTargetLost('www');
  const soon = await daemon.cycle();
  assert.deepEqual(soon.results, []);
  assert.equal(soon.next?.why, 'deploy-check');
  assert.ok(soon.next.at.getTime() - w.clock.now().getTime() >= 5 * 60_000 - 20_000 - 1_000, `not before 5 minutes after the last lost run: ${soon.next.at.toISOString()}`);
  w.clock.advance(soon.sleepMs);
  assert.deepEqual((await daemon.cycle()).results.map((r) => r.outcome), ['deployed']);
});
