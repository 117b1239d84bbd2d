import { readFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import type { CertificateIssuer, IssuedCertificate, IssueRequest } from '../acme/issuer.js';
import { AcmeProblemError, RateLimitedError, ValidationFailedError } from '../acme/protocol/problem.js';
import { testCertificateSpec } from '../testing/certificate-spec.js';
import type { ResolvedCertificate } from '../config/load-config.js';
import type { FileLock} from '../coordination/file/file-locker.js';
import { FileLocker } from '../coordination/file/file-locker.js';
import type { Deployer } from '../deploy/deployer.js';
import { CertpilotError } from '../errors.js';
import { createLogger, silentLogger } from '../logger.js';
import { ioError } from '../fs/atomic-write.js';
import { FilesystemCertificateStore } from '../storage/backends/filesystem/filesystem-certificate-store.js';
import { MemoryStateBackend } from '../storage/backends/memory/memory-state-backend.js';
import type { StateValue, WriteOptions } from '../storage/state-backend.js';
import { StateStore } from '../storage/state-store.js';
import { makeTestBundle } from '../testing/certificate-fixtures.js';
import { FakeClock } from '../testing/fake-clock.js';
import { tempDir } from '../testing/temp-dir.js';
import type { LifecycleEvent } from '../notify/lifecycle-event.js';
import { deployCertificate, renewAll, renewCertificate, type RenewalContext, type RenewalInfoSource, type RenewalResult } from './renew-certificate.js';

const DAY = 86_400_000;

const spec: ResolvedCertificate = testCertificateSpec();

function issued(days = 90): IssuedCertificate {
  const b = makeTestBundle({ domains: spec.domains, days });
  return {
    certPem: b.certPem,
    chainPem: b.chainPem,
    fullchainPem: b.fullchainPem,
    privateKeyPem: b.privateKeyPem,
    notBefore: new Date(b.metadata.notBefore),
    notAfter: new Date(b.metadata.notAfter),
    serialNumber: b.metadata.serialNumber,
    issuer: b.metadata.issuer,
    ariCertId: b.metadata.ariCertId,
    orderUrl: 'https://ca.test/order/1',
  };
}

interface Harness {
  ctx: RenewalContext;
  store: FilesystemCertificateStore;
  clock: FakeClock;
  requests: IssueRequest[];
  sessions: number;
  ariFetches: number;
  /** What the next issue does. */
  next: (req: IssueRequest) => Promise<IssuedCertificate>;
  /** The certificate's deployers (set `spec.deploy` to match). */
  deployers: Deployer[];
  /** What the next renewalInfo fetch returns (undefined: the CA has no ARI). */
  ari?: { start: Date; end: Date; retryAfter: Date };
  /** The signal the last issue got. */
  signal?: AbortSignal | undefined;
  /** The last lock the run acquired. */
  lock?: FileLock | undefined;
}

async function harness(): Promise<Harness> {
  const stateDir = await tempDir('certpilot-renew-');
  const clock = new FakeClock(Date.now());
  const store = new FilesystemCertificateStore({ stateDir });
  const h: Harness = {
    store,
    clock,
    requests: [],
    sessions: 0,
    ariFetches: 0,
    deployers: [],
    next: async () => issued(),
    ctx: undefined as unknown as RenewalContext,
  };
  const issuer: CertificateIssuer = { issue: async (req: IssueRequest, opts?: { signal?: AbortSignal }) => (h.requests.push(req), (h.signal = opts?.signal), h.next(req)) };
  const ariClient: RenewalInfoSource = {
    getRenewalInfo: async (_pem: string) => {
      h.ariFetches++;
      const stored = await store.load(spec.name);
      if (!h.ari || !stored) throw new Error('no ARI');
      return { certId: stored.metadata.ariCertId, suggestedWindow: { start: h.ari.start, end: h.ari.end }, retryAfter: h.ari.retryAfter };
    },
  };
  h.ctx = {
    store,
    locker: {
      acquire: async (name, o) => {
        h.lock = await new FileLocker({ dir: join(stateDir, 'locks'), clock }).acquire(name, o);
        return h.lock;
      },
    },
    session: async () => {
      h.sessions++;
      return { issuer, directoryUrl: 'https://ca.test/dir', accountUrl: 'https://ca.test/acct/1' };
    },
    renewalInfo: async () => (h.ari ? ariClient : undefined),
    solvers: async () => new Map(),
    deployers: async () => h.deployers,
    ari: true,
    lockTtlSeconds: 60,
    clock,
    logger: silentLogger,
  };
  return h;
}

test('a missing certificate is issued and saved; the next run asks the CA nothing', async () => {
  const h = await harness();
  const first = await renewCertificate(spec, h.ctx);
  assert.equal(first.outcome, 'issued');
  assert.equal(first.reason, 'missing');
  assert.equal((await h.store.load('www'))?.version, 1);
  assert.equal((await h.store.loadState('www')).lastAttempt?.result, 'success');

  const second = await renewCertificate(spec, h.ctx);
  assert.equal(second.outcome, 'not-due');
  assert.equal(h.sessions, 1, 'no account opened when nothing is due');
  assert.equal(h.requests.length, 1);
});

test('a failed renewal leaves the old certificate live, records the failure and backs off', async () => {
  const h = await harness();
  await renewCertificate(spec, h.ctx);
  const before = await h.store.load('www');

  h.clock.advance(70 * DAY); // past 2/3 of a 90-day lifetime: due
  h.next = async () => {
    throw new ValidationFailedError('http-01 for www.example.test: connection refused');
  };
  const failed = await renewCertificate(spec, h.ctx);
  assert.equal(failed.outcome, 'failed');
  assert.equal(failed.error?.code, 'ERR_ACME_AUTHORIZATION_FAILED');
  assert.equal(failed.previousLive, before?.version);
  assert.equal(failed.previousExpired, undefined, 'not expired yet');
  const after = await h.store.load('www');
  assert.equal(after?.version, before?.version);
  assert.equal(after?.certPem, before?.certPem, 'the old certificate stays live');
  const state = await h.store.loadState('www');
  assert.equal(state.failureCount, 1);
  assert.equal(state.lastAttempt?.code, 'ERR_ACME_AUTHORIZATION_FAILED');
  assert.ok(state.backoffUntil && Date.parse(state.backoffUntil) > h.clock.now().getTime());

  // A fresh process (new context over the same state) respects the backoff without asking the CA.
  const sessionsBefore = h.sessions;
  const held = await renewCertificate(spec, h.ctx);
  assert.equal(held.outcome, 'held');
  assert.equal(h.sessions, sessionsBefore);
  // It says the renewal is failing, with the last error's code, message and (kept) hint.
  assert.deepEqual(held.lastError, { code: 'ERR_ACME_AUTHORIZATION_FAILED', message: failed.error?.message, hint: failed.error?.hint });
  assert.equal(state.lastAttempt?.hint, failed.error?.hint);

  // Failing on past its end: the result says the version that stays is expired.
  h.clock.set(Date.parse(before?.metadata.notAfter as string) + 1000);
  const late = await renewCertificate(spec, h.ctx, { force: true });
  assert.equal(late.outcome, 'failed');
  assert.equal(late.previousExpired, before?.metadata.notAfter);

  h.clock.set(Date.parse((await h.store.loadState('www')).backoffUntil as string) + 1000);
  h.next = async () => issued();
  const renewed = await renewCertificate(spec, h.ctx);
  assert.equal(renewed.outcome, 'renewed');
  assert.equal((await h.store.loadState('www')).failureCount, 0);
  assert.equal((await renewCertificate(spec, h.ctx)).lastError, undefined, 'renewed: no longer failing');
});

test('rateLimited is persisted and holds even --force until the CA\'s time', async () => {
  const h = await harness();
  const retryAfter = new Date(h.clock.now().getTime() + 3_600_000);
  h.next = async () => {
    throw new RateLimitedError('acme: too many certificates', { type: 'urn:ietf:params:acme:error:rateLimited', detail: 'too many' }, 429, retryAfter);
  };
  const limited = await renewCertificate(spec, h.ctx);
  assert.equal(limited.outcome, 'failed');
  assert.equal(limited.error?.code, 'ERR_ACME_RATE_LIMITED');
  assert.equal((await h.store.loadState('www')).retryAfter, retryAfter.toISOString());

  const forced = await renewCertificate(spec, h.ctx, { force: true });
  assert.equal(forced.outcome, 'held');
  assert.equal(h.requests.length, 1, 'no new order before Retry-After');

  h.clock.set(retryAfter.getTime() + 1);
  h.next = async () => issued();
  assert.equal((await renewCertificate(spec, h.ctx)).outcome, 'issued');
});

test('a certificate locked by another process is left alone', async () => {
  const h = await harness();
  const other = await new FileLocker({ dir: join(h.store.stateDir, 'locks') }).acquire('www', { ttlSeconds: 60 });
  assert.ok(other);
  const result = await renewCertificate(spec, h.ctx);
  assert.equal(result.outcome, 'locked');
  assert.equal(h.sessions, 0);
  await other.release();
  assert.equal((await renewCertificate(spec, h.ctx)).outcome, 'issued');
});

test('a lock lost mid-run (expired and taken over) stops the run: the issue is aborted, nothing is written, no failure is recorded', async () => {
  const h = await harness();
  await renewCertificate(spec, h.ctx);
  h.clock.advance(70 * DAY);
  const before = await h.store.loadState('www');
  let successor: FileLock | undefined;
  let checkpointError: unknown;
  let signalAborted: boolean | undefined;
  h.next = async (req) => {
    // This run hangs past its lock's TTL; another run takes the expired lock over.
    h.clock.advance(61_000);
    successor = await new FileLocker({ dir: join(h.store.stateDir, 'locks'), clock: h.clock }).acquire('www', { ttlSeconds: 60 });
    await h.lock?.refresh();
    signalAborted = h.signal?.aborted;
    // A checkpoint after the loss writes nothing.
    await req.checkpoint?.({ orderUrl: 'https://ca.test/order/2', privateKeyPem: 'k' }).catch((e: unknown) => (checkpointError = e));
    return issued(); // an issuer that finished anyway: its certificate is not saved under the lost lock
  };
  const result = await renewCertificate(spec, h.ctx);
  assert.ok(successor, 'the expired lock was taken over');
  assert.equal(signalAborted, true, 'the issue\'s signal is joined with the lock\'s lost signal');
  assert.equal((checkpointError as CertpilotError | undefined)?.code, 'ERR_LOCK_LOST', 'the pending-order checkpoint is refused');
  assert.equal(result.outcome, 'locked', result.message);
  assert.equal(result.error?.code, 'ERR_LOCK_LOST');
  assert.match(result.message, /lost its lock to another certpilot process/);
  assert.equal((await h.store.load('www'))?.version, 1, 'no version saved under a lock another run holds');
  assert.equal(await h.store.loadPendingOrder('www'), undefined, 'no pending order written');
  assert.deepEqual(await h.store.loadState('www'), before, 'no failure recorded: no backoff for the run that holds the lock now');
  assert.equal(successor.lost.aborted, false);
  assert.ok(await new FileLocker({ dir: join(h.store.stateDir, 'locks'), clock: h.clock }).acquire('www', { ttlSeconds: 60 }).then((l) => l === undefined), 'the loser\'s release left the successor\'s lock');
  await successor.release();
});

test('a lock lost in the middle of a save (version written, not yet live) never makes that version live', async () => {
  const h = await harness();
  let successor: FileLock | undefined;
  // The lock is taken over while the store writes the new version, between its two writes.
  class LosingBackend extends MemoryStateBackend {
    override async put(key: string, value: StateValue, options?: WriteOptions): Promise<string> {
      const version = await super.put(key, value, options);
      if (key === 'certificates/www/versions/2' && !successor) {
        h.clock.advance(61_000);
        successor = await new FileLocker({ dir: join(h.store.stateDir, 'locks'), clock: h.clock }).acquire('www', { ttlSeconds: 60 });
        await h.lock?.refresh();
      }
      return version;
    }
  }
  const store = new StateStore(new LosingBackend());
  h.ctx = { ...h.ctx, store };
  assert.equal((await renewCertificate(spec, h.ctx)).outcome, 'issued');
  h.clock.advance(70 * DAY);
  const before = await store.loadState('www');
  const result = await renewCertificate(spec, h.ctx);
  assert.ok(successor, 'the lock was taken over mid-save');
  assert.equal(result.outcome, 'locked', result.message);
  assert.equal(result.error?.code, 'ERR_LOCK_LOST');
  assert.equal((await store.load('www'))?.version, 1, 'the live version is still the one from before the loss');
  assert.deepEqual(await store.loadState('www'), before, 'no renewal state written after the loss');
  await successor.release();
});

/** Version 1 issued; the CA's ARI answer about it (once asked) is a window 10 to 12 days ahead, asked again after 6 hours. */
async function issuedWithWindowAhead(): Promise<{ h: Harness; v1: Awaited<ReturnType<FilesystemCertificateStore['load']>>; now: number }> {
  const h = await harness();
  await renewCertificate(spec, h.ctx);
  const now = h.clock.now().getTime();
  h.ari = { start: new Date(now + 10 * DAY), end: new Date(now + 12 * DAY), retryAfter: new Date(now + 6 * 3_600_000) };
  return { h, v1: await h.store.load('www'), now };
}

test('ARI: fetched once per Retry-After, the window decides, and the renewal sends replaces', async () => {
  const { h, v1, now } = await issuedWithWindowAhead();

  assert.equal((await renewCertificate(spec, h.ctx)).outcome, 'not-due');
  assert.equal(h.ariFetches, 1);
  const selected = Date.parse((await h.store.loadState('www')).ari?.selectedTime ?? '');
  assert.ok(selected >= now + 10 * DAY && selected <= now + 12 * DAY);
  await renewCertificate(spec, h.ctx);
  assert.equal(h.ariFetches, 1, 'not fetched again before Retry-After');

  // The CA moves the window into the past (e.g. a revocation event): renew now, with replaces.
  h.clock.advance(7 * 3_600_000);
  h.ari = { start: new Date(now - 2 * DAY), end: new Date(now - DAY), retryAfter: new Date(h.clock.now().getTime() + 6 * 3_600_000) };
  const renewed = await renewCertificate(spec, h.ctx);
  assert.equal(h.ariFetches, 2);
  assert.equal(renewed.outcome, 'renewed');
  assert.equal(renewed.reason, 'ari-window');
  assert.equal(h.requests.at(-1)?.replaces, v1?.metadata.ariCertId);
});

/** Makes the harness's ARI source run `meanwhile` (given the context as it was) before each answer: another process acting while this run waits for the CA. */
async function duringAriFetch(h: Harness, meanwhile: (ctx: RenewalContext) => Promise<void>): Promise<void> {
  const source = await h.ctx.renewalInfo();
  assert.ok(source);
  const base = h.ctx;
  h.ctx = {
    ...base,
    renewalInfo: async () => ({
      getRenewalInfo: async (pem, o) => {
        await meanwhile(base);
        return source.getRenewalInfo(pem, o);
      },
    }),
  };
}

test('ARI: the answer is saved over the renewal state as it is under the lock, so what another run recorded meanwhile is kept', async () => {
  const { h, now } = await issuedWithWindowAhead();
  // While this run waits for the CA's answer, another process records a failed attempt under the lock.
  await duringAriFetch(h, async (ctx) => {
    const other = await ctx.locker.acquire('www', { ttlSeconds: 60 });
    assert.ok(other);
    const state = await h.store.loadState('www');
    await h.store.saveState('www', { ...state, failureCount: 1, lastAttempt: { at: h.clock.now().toISOString(), result: 'failure', code: 'ERR_OTHER_RUN' } });
    await other.release();
  });
  assert.equal((await renewCertificate(spec, h.ctx)).outcome, 'not-due');
  const state = await h.store.loadState('www');
  assert.equal(state.lastAttempt?.code, 'ERR_OTHER_RUN', "the other run's record is kept");
  assert.equal(state.failureCount, 1);
  const selected = Date.parse(state.ari?.selectedTime ?? '');
  assert.ok(selected >= now + 10 * DAY && selected <= now + 12 * DAY, 'and the answer is saved too');
});

test('ARI: while another process holds the certificate, the answer plans this run and nothing is written', async () => {
  const h = await harness();
  await renewCertificate(spec, h.ctx);
  const before = await h.store.loadState('www');
  const v1 = await h.store.load('www');
  const holder = await h.ctx.locker.acquire('www', { ttlSeconds: 60 });
  assert.ok(holder);
  const now = h.clock.now().getTime();
  h.ari = { start: new Date(now - 2 * DAY), end: new Date(now - DAY), retryAfter: new Date(now + 6 * 3_600_000) };
  const held = await renewCertificate(spec, h.ctx);
  assert.equal(held.outcome, 'locked', 'due by the answer, and the holder has it');
  assert.deepEqual(await h.store.loadState('www'), before, 'no renewal state written without the lock');
  await holder.release();
  const renewed = await renewCertificate(spec, h.ctx);
  assert.equal(renewed.outcome, 'renewed');
  assert.equal(renewed.reason, 'ari-window');
  assert.equal(h.requests.at(-1)?.replaces, v1?.metadata.ariCertId);
});

test('ARI: an answer about a certificate another run has replaced meanwhile is not saved', async () => {
  const { h, v1 } = await issuedWithWindowAhead();
  // Another run renews it (version 2) while this one waits for the CA's answer about version 1.
  await duringAriFetch(h, async (ctx) => assert.equal((await renewCertificate(spec, { ...ctx, ari: false }, { force: true })).outcome, 'renewed'));
  await renewCertificate(spec, h.ctx);
  assert.equal((await h.store.load('www'))?.version, 2);
  assert.equal((await h.store.loadState('www')).ari, undefined, `no answer about version 1 (${v1?.metadata.ariCertId}) recorded for version 2`);
});

test('ARI: an answer that cannot be saved (a full disk) still plans the run, and says so', async () => {
  const { h, now } = await issuedWithWindowAhead();
  const full = (): Promise<never> => Promise.reject(ioError('writing renewal-state/www.json', Object.assign(new Error('no space left on device'), { code: 'ENOSPC' })));
  const lines: string[] = [];
  const logger = createLogger({ level: 'warn', destination: new Writable({ write: (chunk: Buffer, _e, done) => (lines.push(chunk.toString()), done()) }) });
  const store = h.store;
  h.ctx = { ...h.ctx, logger, store: Object.assign(Object.create(store) as typeof store, { fenced: (lost: AbortSignal) => Object.assign(Object.create(store.fenced(lost)) as ReturnType<typeof store.fenced>, { saveState: full }) }) };
  const result = await renewCertificate(spec, h.ctx);
  assert.equal(result.outcome, 'not-due');
  const next = result.next?.getTime() ?? 0;
  assert.ok(next >= now + 10 * DAY && next <= now + 12 * DAY, `planned at the CA's window, not by the lifetime rule (${result.next?.toISOString()})`);
  assert.equal((await store.loadState('www')).ari, undefined, 'nothing was written');
  assert.match(lines.join(''), /renewal info fetched but not saved; this run plans with it/);
  assert.match(lines.join(''), /ENOSPC/);
});

test('ARI: a CA without renewalInfo, or a failed fetch, is not asked again at once: the run says when (a day; the CA\'s Retry-After, else 6 h) and writes nothing', async () => {
  const h = await harness();
  assert.equal((await renewCertificate(spec, h.ctx)).outcome, 'issued');
  const certId = (await h.store.load('www'))?.metadata.ariCertId;
  const before = await h.store.loadState('www');
  let asked = 0;
  const base = h.ctx;
  h.ctx = { ...base, renewalInfo: (signal) => (asked++, base.renewalInfo(signal)) };
  const HOUR = 3_600_000;
  const now = h.clock.now().getTime();

  // The CA's directory has no renewalInfo (h.ari unset): the lifetime rule plans, and the next look is a day away.
  const first = await renewCertificate(spec, h.ctx);
  assert.equal(first.outcome, 'not-due');
  assert.deepEqual(first.ariHold, { certId, until: new Date(now + DAY) });
  assert.deepEqual(await h.store.loadState('www'), before, 'a nothing-due run against a CA without ARI writes nothing');
  // Given back (as the daemon does), the hold is honoured and reported again.
  h.clock.advance(HOUR);
  const held = await renewCertificate(spec, h.ctx, { ariHolds: new Map([['www', first.ariHold!]]) });
  assert.equal(asked, 1, 'not asked again inside the hold');
  assert.deepEqual(held.ariHold, first.ariHold);

  // A fetch that fails: the CA's Retry-After when its error has one, else six hours (RFC 9773 §4.3.3).
  const at = h.clock.now().getTime();
  let failure: Error = new RateLimitedError('acme: renewalInfo: service unavailable', { type: 'urn:ietf:params:acme:error:serverInternal', detail: 'busy' }, 503, new Date(at + 2 * HOUR));
  h.ctx = { ...h.ctx, renewalInfo: async () => ({ getRenewalInfo: async () => Promise.reject(failure) }) };
  assert.equal((await renewCertificate(spec, h.ctx)).ariHold?.until.getTime(), at + 2 * HOUR);
  failure = new Error('renewalInfo: 500 Internal Server Error');
  assert.equal((await renewCertificate(spec, h.ctx)).ariHold?.until.getTime(), at + 6 * HOUR);
  assert.deepEqual(await h.store.loadState('www'), before);
});

test('renewAll keeps configured order and respects the concurrency limit', async () => {
  const h = await harness();
  // A barrier: each issuance waits until two run at once (or the last one starts alone).
  let running = 0;
  let started = 0;
  let peak = 0;
  let release: (() => void)[] = [];
  h.next = async () => {
    running++;
    started++;
    peak = Math.max(peak, running);
    const gate = new Promise<void>((resolve) => release.push(resolve));
    if (running === 2 || started === 5) {
      for (const r of release) r();
      release = [];
    }
    await gate;
    running--;
    return issued();
  };
  const specs = ['a', 'b', 'c', 'd', 'e'].map((n) => ({ ...spec, name: n, domains: [`${n}.example.test`], identifiers: [{ type: 'dns' as const, value: `${n}.example.test` }] }));
  const results = await renewAll(specs, h.ctx, { concurrency: 2 });
  assert.deepEqual(results.map((r) => r.name), ['a', 'b', 'c', 'd', 'e']);
  assert.ok(results.every((r) => r.outcome === 'issued'));
  assert.equal(peak, 2);
});

test('an interrupted run is not a failure: no backoff, and certificates not started are skipped', async () => {
  const h = await harness();
  const controller = new AbortController();
  h.next = async () => {
    controller.abort(new CertpilotError('ERR_INTERRUPTED', 'cli: interrupted by SIGTERM'));
    throw new Error('request aborted');
  };
  const specs = ['a', 'b', 'c'].map((n) => ({ ...spec, name: n, domains: [`${n}.example.test`], identifiers: [{ type: 'dns' as const, value: `${n}.example.test` }] }));
  const results = await renewAll(specs, h.ctx, { concurrency: 1, signal: controller.signal });
  assert.deepEqual(results.map((r) => r.outcome), ['interrupted', 'interrupted', 'interrupted']);
  assert.equal(results[0]?.error?.code, 'ERR_INTERRUPTED');
  assert.equal(h.requests.length, 1, 'no new certificate started after the signal');
  const state = await h.store.loadState('a');
  assert.equal(state.failureCount, 0);
  assert.equal(state.backoffUntil, undefined);
});

test('with a known run interval, a renewal due before the next run is done now (RFC 9773 §4.2)', async () => {
  const h = await harness();
  await renewCertificate(spec, h.ctx);
  const stored = await h.store.load('www');
  const notBefore = Date.parse(stored?.metadata.notBefore ?? '');
  const notAfter = Date.parse(stored?.metadata.notAfter ?? '');
  const dueAt = notAfter - (notAfter - notBefore) / 3;
  h.clock.set(dueAt - 12 * 3_600_000); // due in 12 hours
  assert.equal((await renewCertificate(spec, h.ctx)).outcome, 'not-due', 'without a schedule: wait for the time');
  const daily = { ...h.ctx, runIntervalMs: 24 * 3_600_000 };
  const result = await renewCertificate(spec, daily);
  assert.equal(result.outcome, 'renewed', 'a daily run would be 12 hours late: renew now');
  assert.equal(result.reason, 'lifetime');
});

/** A deployer that records what it was given and fails while `failing` is set. */
function fakeDeployer(id: string, calls: string[]): Deployer & { failing: boolean } {
  const d = {
    id,
    failing: false,
    deploy: async (cert: { version: number }) => {
      calls.push(`${id}:v${cert.version}`);
      if (d.failing) throw new CertpilotError('ERR_DEPLOY_FAILED', `deploy ${id}: target refused`, { hint: 'fix the target' });
      return { message: `${id} holds v${cert.version}` };
    },
  };
  return d;
}

test('the deploy stage runs after save in order; a failure stops the chain, keeps the new version, and only what failed is retried', async () => {
  const h = await harness();
  const calls: string[] = [];
  const files = fakeDeployer('files', calls);
  const hook = fakeDeployer('hook', calls);
  const secret = fakeDeployer('secret', calls);
  h.deployers = [files, hook, secret];
  const withDeploy: ResolvedCertificate = { ...spec, deploy: ['files', 'hook', 'secret'] };

  hook.failing = true;
  const first = await renewCertificate(withDeploy, h.ctx);
  assert.equal(first.outcome, 'issued', 'the certificate was issued and saved');
  assert.equal(first.deploy?.ok, false);
  assert.deepEqual(first.deploy?.steps.map((s) => s.status), ['deployed', 'failed', 'not-run'], 'the chain stops at the failure');
  assert.deepEqual(calls, ['files:v1', 'hook:v1']);
  assert.equal((await h.store.load('www'))?.version, 1, 'the store is never rolled back');
  const state = await h.store.loadState('www');
  assert.equal(state.deployments?.files?.result, 'success');
  assert.equal(state.deployments?.hook?.result, 'failure');
  assert.equal(state.deployments?.hook?.code, 'ERR_DEPLOY_FAILED');
  assert.equal(state.deployments?.secret, undefined, 'a deployer that did not run has no record');

  // Still failing: nothing due, the deploy is retried (no new order), and fails again.
  const again = await renewCertificate(withDeploy, h.ctx);
  assert.equal(again.outcome, 'deploy-failed');
  assert.equal(again.deploy?.ok, false);
  assert.equal(h.requests.length, 1, 'no new order for a deploy retry');

  hook.failing = false;
  calls.length = 0;
  const fixed = await renewCertificate(withDeploy, h.ctx);
  assert.equal(fixed.outcome, 'deployed');
  assert.equal(fixed.deploy?.ok, true);
  assert.deepEqual(calls, ['hook:v1', 'secret:v1'], 'files already held v1 and was not redeployed');
  assert.equal(h.requests.length, 1);

  calls.length = 0;
  const quiet = await renewCertificate(withDeploy, h.ctx);
  assert.equal(quiet.outcome, 'not-due');
  assert.deepEqual(calls, [], 'nothing due and everything deployed: no deployer runs');
  assert.equal(quiet.deploy, undefined);
});

test('v1 → v2 with a failing deployer: v2 is live and stays live (never rolled back to v1, never re-saved), and the retry deploys v2', async () => {
  const h = await harness();
  const calls: string[] = [];
  const files = fakeDeployer('files', calls);
  const hook = fakeDeployer('hook', calls);
  h.deployers = [files, hook];
  const withDeploy: ResolvedCertificate = { ...spec, deploy: ['files', 'hook'] };
  assert.equal((await renewCertificate(withDeploy, h.ctx)).deploy?.ok, true);
  const v1 = await h.store.load('www');

  hook.failing = true;
  const second = issued();
  h.next = async () => second;
  const renewed = await renewCertificate(withDeploy, h.ctx, { force: true });
  assert.equal(renewed.outcome, 'renewed');
  assert.equal(renewed.deploy?.ok, false);
  const live = async (): Promise<void> => {
    const now = await h.store.load('www');
    assert.equal(now?.version, 2, 'v2 is the live version');
    assert.equal(now?.certPem, second.certPem, 'the live certificate is the one issued for v2');
    assert.notEqual(now?.metadata.serialNumber, v1?.metadata.serialNumber);
    assert.equal(readFileSync(join(now?.paths?.dir ?? '', 'cert.pem'), 'utf8'), second.certPem, 'live/www/cert.pem is v2');
  };
  await live();
  // The next run retries only the deploy of v2: no new order, no new version, no step back.
  const retry = await renewCertificate(withDeploy, h.ctx);
  assert.equal(retry.outcome, 'deploy-failed');
  assert.equal(retry.deploy?.ok, false);
  await live();
  assert.equal(h.requests.length, 2, 'two orders: v1 and v2');
  hook.failing = false;
  assert.equal((await renewCertificate(withDeploy, h.ctx)).deploy?.ok, true);
  await live();
  assert.deepEqual(calls, ['files:v1', 'hook:v1', 'files:v2', 'hook:v2', 'hook:v2', 'hook:v2']);
});

test('a renewal deploys the new version to every deployer; deployCertificate --force redeploys, and needs a stored certificate', async () => {
  const h = await harness();
  const calls: string[] = [];
  h.deployers = [fakeDeployer('files', calls)];
  const withDeploy: ResolvedCertificate = { ...spec, deploy: ['files'] };
  assert.equal((await deployCertificate(withDeploy, h.ctx)).error?.code, 'ERR_DEPLOY_NO_CERTIFICATE');

  await renewCertificate(withDeploy, h.ctx);
  const renewed = await renewCertificate(withDeploy, h.ctx, { force: true });
  assert.equal(renewed.outcome, 'renewed');
  assert.deepEqual(calls, ['files:v1', 'files:v2']);
  assert.equal((await h.store.loadState('www')).deployments?.files?.version, 2);

  const skipped = await deployCertificate(withDeploy, h.ctx);
  assert.deepEqual(skipped.deploy?.steps.map((s) => s.status), ['up-to-date']);
  const forced = await deployCertificate(withDeploy, h.ctx, { force: true });
  assert.deepEqual(forced.deploy?.steps.map((s) => s.status), ['deployed']);
  assert.deepEqual(calls, ['files:v1', 'files:v2', 'files:v2']);
});

test('a new deployer added to the configuration gets the live version on the next nothing-due run', async () => {
  const h = await harness();
  const calls: string[] = [];
  await renewCertificate(spec, h.ctx);
  h.deployers = [fakeDeployer('volume', calls)];
  const result = await renewCertificate({ ...spec, deploy: ['volume'] }, h.ctx);
  assert.equal(result.outcome, 'deployed');
  assert.deepEqual(calls, ['volume:v1']);
  assert.equal(h.requests.length, 1);
});

test('a nothing-due run redeploys a deployer whose target lost the version (its check says why), and the deployers after it; a deployer whose target holds it is left alone', async () => {
  const h = await harness();
  const calls: string[] = [];
  const verifies: string[] = [];
  let lost: string | undefined;
  const volume = Object.assign(fakeDeployer('volume', calls), {
    verify: async (cert: { version: number }) => (verifies.push(`volume:v${cert.version}`), lost),
  });
  const hook = fakeDeployer('hook', calls);
  h.deployers = [volume, hook];
  h.ctx = { ...h.ctx, verifiers: async () => [volume] };
  const withDeploy: ResolvedCertificate = { ...spec, deploy: ['volume', 'hook'] };
  assert.equal((await renewCertificate(withDeploy, h.ctx)).outcome, 'issued');
  assert.deepEqual(calls, ['volume:v1', 'hook:v1']);

  calls.length = 0;
  const quiet = await renewCertificate(withDeploy, h.ctx);
  assert.equal(quiet.outcome, 'not-due');
  assert.deepEqual(calls, []);
  assert.deepEqual(verifies, ['volume:v1'], 'the target was checked once, before any lock');

  lost = 'files missing in /certs';
  const redeployed = await renewCertificate(withDeploy, h.ctx);
  assert.equal(redeployed.outcome, 'deployed');
  assert.deepEqual(calls, ['volume:v1', 'hook:v1'], 'the lost target and the hook after it');
  assert.match(redeployed.message, /deployed version 1 to volume \(files missing in \/certs\), hook/);
  assert.equal(redeployed.deploy?.steps[0]?.reason, 'files missing in /certs');
  assert.equal(h.requests.length, 1, 'no new order');

  // `certpilot deploy` (not forced) checks too.
  calls.length = 0;
  lost = '/certs holds another version';
  const deployed = await deployCertificate(withDeploy, h.ctx);
  assert.deepEqual(deployed.deploy?.steps.map((s) => s.status), ['deployed', 'deployed']);
  lost = undefined;
  calls.length = 0;
  assert.deepEqual((await deployCertificate(withDeploy, h.ctx)).deploy?.steps.map((s) => s.status), ['up-to-date', 'up-to-date']);
  assert.deepEqual(calls, []);
});

test('a target that cannot be checked (the API server down, a 403) is not lost: no redeploy, a warning naming the error and its hint, by run and by `deploy`', async () => {
  const h = await harness();
  const calls: string[] = [];
  const lines: string[] = [];
  h.ctx = { ...h.ctx, logger: createLogger({ level: 'warn', destination: new Writable({ write: (chunk: Buffer, _e, done) => (lines.push(chunk.toString()), done()) }) }) };
  const forbidden = new CertpilotError('ERR_KUBERNETES_FORBIDDEN', 'kubernetes: get secrets/www-tls in namespace web: forbidden: the service account may not get secrets "www-tls"', {
    hint: 'grant the service account { apiGroups: [""], resources: ["secrets"], verbs: ["get"], resourceNames: ["www-tls"] } in a Role',
  });
  const secret = Object.assign(fakeDeployer('secret', calls), { verify: async () => Promise.reject(forbidden) });
  const reload = fakeDeployer('reload', calls);
  h.deployers = [secret, reload];
  h.ctx = { ...h.ctx, verifiers: async () => [secret] };
  const withDeploy: ResolvedCertificate = { ...spec, deploy: ['secret', 'reload'] };
  assert.equal((await renewCertificate(withDeploy, h.ctx)).outcome, 'issued');
  calls.length = 0;
  lines.length = 0;
  const quiet = await renewCertificate(withDeploy, h.ctx);
  assert.equal(quiet.outcome, 'not-due');
  assert.deepEqual(calls, [], 'nothing deployed, no pod reloaded');
  const warned = lines.join('');
  assert.match(warned, /could not check that deployer secret still holds version 1; trusting its deploy record/);
  assert.match(warned, /ERR_KUBERNETES_FORBIDDEN/);
  assert.match(warned, /verbs: \[\\"get\\"\]/);
  const deployed = await deployCertificate(withDeploy, h.ctx);
  assert.deepEqual(deployed.deploy?.steps.map((s) => s.status), ['up-to-date', 'up-to-date']);
  assert.match(deployed.deploy?.steps[0]?.message ?? '', /not checked, ERR_KUBERNETES_FORBIDDEN/);
  assert.deepEqual(calls, []);
  assert.equal(h.requests.length, 1, 'no new order');

  // A verifier that cannot even be built (its kubeconfig gone): the same, not a failed run.
  lines.length = 0;
  h.ctx = { ...h.ctx, verifiers: async () => Promise.reject(new CertpilotError('ERR_KUBERNETES_CONFIG', 'kubernetes: read service account token /var/run/token: ENOENT')) };
  const unbuilt = await renewCertificate(withDeploy, h.ctx);
  assert.equal(unbuilt.outcome, 'not-due');
  assert.deepEqual(calls, []);
  assert.match(lines.join(''), /could not check that the deployers still hold the live version; trusting their deploy records/);
  assert.match(lines.join(''), /ERR_KUBERNETES_CONFIG/);
});

test('a deployer that cannot be built fails the deploy stage of its certificate only', async () => {
  const h = await harness();
  h.ctx = { ...h.ctx, deployers: async () => Promise.reject(new CertpilotError('ERR_DEPLOY_FAILED', 'deploy files: cannot load')) };
  const result = await renewCertificate({ ...spec, deploy: ['files'] }, h.ctx);
  assert.equal(result.outcome, 'issued');
  assert.equal(result.deploy?.ok, false);
  assert.equal((await h.store.loadState('www')).deployments, undefined);
});

test('a failed attempt keeps its reason in the state', async () => {
  const h = await harness();
  h.next = async () => Promise.reject(new CertpilotError('ERR_ACME_PROBLEM', 'boom'));
  await renewCertificate(spec, h.ctx);
  assert.equal((await h.store.loadState('www')).lastAttempt?.reason, 'missing');
});

test('a crash after finalize costs no issuance: the next run resumes the pending order, due or not', async () => {
  const h = await harness();
  await renewCertificate(spec, h.ctx);
  // The CA issued, then the run died before the save (here: the download failed on the network).
  h.next = async (req) => {
    await req.checkpoint?.({ orderUrl: 'https://ca.test/order/7', privateKeyPem: issued().privateKeyPem });
    await req.checkpoint?.({ orderUrl: 'https://ca.test/order/7', privateKeyPem: issued().privateKeyPem, certificateUrl: 'https://ca.test/cert/7' });
    throw new CertpilotError('ERR_ACME_NETWORK', 'acme: download: socket hang up');
  };
  const failed = await renewCertificate(spec, h.ctx, { force: true });
  assert.equal(failed.outcome, 'failed');
  assert.equal((await h.store.loadPendingOrder('www'))?.certificateUrl, 'https://ca.test/cert/7');

  // Not forced, not due: the pending order is still completed.
  h.next = async () => issued();
  const resumed = await renewCertificate(spec, h.ctx);
  assert.equal(resumed.outcome, 'renewed');
  assert.equal(resumed.reason, 'resume-order');
  const last = h.requests[h.requests.length - 1];
  assert.deepEqual(last?.resume && { orderUrl: last.resume.orderUrl, certificateUrl: last.resume.certificateUrl }, { orderUrl: 'https://ca.test/order/7', certificateUrl: 'https://ca.test/cert/7' });
  assert.equal(await h.store.loadPendingOrder('www'), undefined, 'cleared after the save');
  assert.equal((await renewCertificate(spec, h.ctx)).outcome, 'not-due');
});

test('a full state directory fails before any order; local failures do not back off; a config change clears a CA backoff', async () => {
  const h = await harness();
  const orders = (): number => h.requests.length;
  h.ctx = { ...h.ctx, store: Object.assign(Object.create(h.store) as typeof h.store, { checkWritable: async () => Promise.reject(new CertpilotError('ERR_STORAGE_FULL', 'storage: /state has no room')) }) };
  const full = await renewCertificate(spec, h.ctx);
  assert.equal(full.error?.code, 'ERR_STORAGE_FULL');
  assert.equal(orders(), 0, 'no order placed');
  assert.equal(h.sessions, 0, 'not even an account opened');
  assert.equal((await h.store.loadState('www')).backoffUntil, undefined, 'a local failure holds nothing');

  h.ctx = { ...h.ctx, store: h.store };
  h.next = async () => Promise.reject(new ValidationFailedError('http-01 for www.example.test: connection refused'));
  await renewCertificate(spec, h.ctx);
  const held = await renewCertificate(spec, h.ctx);
  assert.equal(held.outcome, 'held', 'a CA-side failure backs off');
  assert.match(held.message, /run with --force to try now/);

  h.next = async () => issued();
  const changed: ResolvedCertificate = { ...spec, solvers: { 'www.example.test': 'site' } };
  const retried = await renewCertificate(changed, h.ctx);
  assert.equal(retried.outcome, 'issued', 'another solver is a fix worth trying at once');
});

test('one certificate with an unreadable live set fails alone; the others renew', async () => {
  const h = await harness();
  const other: ResolvedCertificate = { ...spec, name: 'other', domains: ['other.example.test'], identifiers: [{ type: 'dns', value: 'other.example.test' }], solvers: { 'other.example.test': 'default' } };
  await renewAll([spec, other], h.ctx, { concurrency: 2 });
  const { writeFile } = await import('node:fs/promises');
  await writeFile(join(h.store.stateDir, 'archive', 'www', 'cert1.pem'), '');
  const results = await renewAll([spec, other], h.ctx, { concurrency: 2, force: true });
  assert.equal(results[0]?.outcome, 'failed');
  assert.equal(results[0]?.error?.code, 'ERR_STORAGE_CORRUPT');
  assert.equal(results[1]?.outcome, 'renewed');
  assert.equal((await h.store.load('other'))?.version, 2);
  const { readFile } = await import('node:fs/promises');
  assert.equal(await readFile(join(h.store.stateDir, 'archive', 'www', 'cert1.pem'), 'utf8'), '', 'the damaged file is reported, never overwritten');
});

test('SIGTERM during the deploy stage is an interruption: saved, reported as interrupted, deployed by the next run', async () => {
  const h = await harness();
  const controller = new AbortController();
  const calls: string[] = [];
  h.deployers = [
    {
      id: 'slow',
      deploy: async (cert, o) => {
        calls.push(`slow:v${cert.version}`);
        if (calls.length === 1) {
          controller.abort(new CertpilotError('ERR_INTERRUPTED', 'renew: interrupted by SIGTERM'));
          o.signal?.throwIfAborted();
        }
        return { message: 'ok' };
      },
    },
  ];
  const withDeploy: ResolvedCertificate = { ...spec, deploy: ['slow'] };
  const first = await renewCertificate(withDeploy, h.ctx, { signal: controller.signal });
  assert.equal(first.outcome, 'interrupted');
  assert.match(first.message, /saved, and the next run deploys it/);
  assert.equal((await h.store.load('www'))?.version, 1);
  const next = await renewCertificate(withDeploy, h.ctx);
  assert.equal(next.outcome, 'deployed');
  assert.equal(next.deploy?.ok, true);
  assert.deepEqual(calls, ['slow:v1', 'slow:v1']);
});

test('a hold follows the CA\'s cost: only a validation the CA failed, a rate limit or a CA 5xx holds the next run', async () => {
  const notCharged: [string, () => Error][] = [
    ['Redis down', () => new CertpilotError('ERR_TOKEN_STORE_UNAVAILABLE', 'http-01 token store: redis://127.0.0.1:1: connect ECONNREFUSED')],
    ['BADSIG', () => new CertpilotError('ERR_DNS_TSIG_REJECTED', 'rfc2136: update refused: BADSIG')],
    ['REFUSED', () => new CertpilotError('ERR_DNS_UPDATE_REFUSED', 'rfc2136: update refused: REFUSED')],
    ['self-check', () => new CertpilotError('ERR_CHALLENGE_SELF_CHECK', 'http-01 self-check: http://www.example.test/... answered 404')],
    ['secretFile', () => new CertpilotError('ERR_DNS_SECRET', 'rfc2136: /etc/tsig.key: EACCES')],
    ['wrong host', () => new CertpilotError('ERR_ACME_NETWORK', 'acme: directory: GET https://typo.test/dir failed: ENOTFOUND')],
    ['wrong path', () => new AcmeProblemError('ERR_ACME_PROBLEM', 'acme: directory: HTTP 404', { type: 'about:blank' }, 404)],
    ['bad answer', () => new CertpilotError('ERR_ACME_BAD_RESPONSE', 'acme: directory: did not return JSON')],
    ['a bug', () => new Error('TypeError: x is undefined')],
  ];
  for (const [what, make] of notCharged) {
    const h = await harness();
    h.next = async () => Promise.reject(make());
    const failed = await renewCertificate(spec, h.ctx);
    assert.equal(failed.outcome, 'failed', what);
    assert.equal(failed.backoff?.held, false, `${what}: holds nothing`);
    assert.match(failed.backoff?.why ?? '', /before the CA was asked to validate/, what);
    assert.equal(failed.next, undefined, what);
    const state = await h.store.loadState('www');
    assert.equal(state.backoffUntil, undefined, `${what}: no backoff recorded`);
    assert.equal(state.lastAttempt?.result, 'failure', `${what}: the failure is still the last result`);
    h.next = async () => issued();
    assert.equal((await renewCertificate(spec, h.ctx)).outcome, 'issued', `${what}: the fixed run proceeds at once, no --force`);
  }
  const charged: [string, () => Error, RegExp][] = [
    ['invalid authorization', () => new ValidationFailedError('http-01 for www.example.test: 404'), /marked the authorization invalid/],
    ['wrapped invalid authorization', () => new CertpilotError('ERR_ACME_AUTHORIZATION_FAILED', 'issuer: 1 of 2 failed', { cause: new ValidationFailedError('dns-01: NXDOMAIN') }), /marked the authorization invalid/],
    ['CA 500', () => new AcmeProblemError('ERR_ACME_PROBLEM', 'acme: newOrder: HTTP 500', { type: 'about:blank' }, 500), /answered 500/],
    ['rate limit', () => new RateLimitedError('acme: newOrder: too many', { type: 'urn:ietf:params:acme:error:rateLimited' }, 429, new Date(Date.now() + 3_600_000)), /rate-limited/],
  ];
  for (const [what, make, why] of charged) {
    const h = await harness();
    h.next = async () => Promise.reject(make());
    const failed = await renewCertificate(spec, h.ctx);
    assert.equal(failed.backoff?.held, true, `${what}: holds`);
    assert.match(failed.backoff?.why ?? '', why, what);
    assert.ok(failed.next, `${what}: says when`);
    h.next = async () => issued();
    assert.equal((await renewCertificate(spec, h.ctx)).outcome, 'held', `${what}: the next run is held`);
  }
});

test('the backoff fingerprint covers the directory URL and every solver and deployer setting', async () => {
  const h = await harness();
  const configured: ResolvedCertificate = { ...spec, settings: 'digest-1' };
  h.next = async () => Promise.reject(new ValidationFailedError('http-01 for www.example.test: 404'));
  await renewCertificate(configured, h.ctx);
  h.next = async () => issued();
  assert.equal((await renewCertificate(configured, h.ctx)).outcome, 'held');
  assert.equal((await renewCertificate({ ...configured, settings: 'digest-2' }, h.ctx)).outcome, 'issued', 'a changed setting is a fix worth trying at once');
});

test('a run stopped after the live switch, before the pending order was cleared: the next run recognizes its own work (no new version, no second deploy)', async () => {
  const h = await harness();
  const deploys: number[] = [];
  h.deployers = [{ id: 'out', deploy: async (cert) => (deploys.push(cert.version), { message: 'ok' }) }];
  const withDeploy: ResolvedCertificate = { ...spec, deploy: ['out'] };
  await renewCertificate(withDeploy, h.ctx);
  assert.deepEqual(deploys, [1]);
  const cert = issued();
  h.next = async (req) => {
    await req.checkpoint?.({ orderUrl: 'https://ca.test/order/2', privateKeyPem: cert.privateKeyPem, certificateUrl: 'https://ca.test/cert/2' });
    return cert;
  };
  // The "kill": the save made version 2 live, then the run died before clearing the order.
  const realClear = h.store.clearPendingOrder.bind(h.store);
  h.store.clearPendingOrder = async () => Promise.reject(new Error('killed'));
  await renewCertificate(withDeploy, h.ctx, { force: true });
  h.store.clearPendingOrder = realClear;
  assert.equal((await h.store.load('www'))?.version, 2);
  assert.ok(await h.store.loadPendingOrder('www'), 'the order is still pending');
  assert.deepEqual(deploys, [1], 'the killed run never deployed');

  // The next run resumes the order; the CA hands back the same certificate.
  const resumed = await renewCertificate(withDeploy, h.ctx);
  assert.equal(resumed.outcome, 'renewed');
  assert.match(resumed.message, /version 2 already holds the certificate of order https:\/\/ca\.test\/order\/2.*nothing saved again/);
  assert.equal((await h.store.load('www'))?.version, 2, 'no new version');
  assert.equal(await h.store.loadPendingOrder('www'), undefined, 'the order is cleared');
  assert.deepEqual(deploys, [1, 2], 'version 2 deployed once, by the run that found it undeployed');
  assert.equal((await renewCertificate(withDeploy, h.ctx)).outcome, 'not-due');
  assert.deepEqual(deploys, [1, 2], 'and never again');
  const { readdirSync } = await import('node:fs');
  assert.equal(readdirSync(join(h.store.stateDir, 'archive', 'www')).filter((f) => f.startsWith('cert')).length, 2);
});

// ---- One exit, one event -------------------------------------------------------------------

/** Records every event of `h`'s runs. */
function recordEvents(h: Harness): LifecycleEvent[] {
  const events: LifecycleEvent[] = [];
  h.ctx.events = (e) => void events.push(e);
  return events;
}

test('every outcome emits exactly one lifecycle event, with reason, version and timings', async () => {
  const h = await harness();
  const events = recordEvents(h);
  const seen = new Map<string, LifecycleEvent>();
  /** Runs `act`, asserts it emitted exactly one event of the result's outcome, and returns the result. */
  const once = async (act: () => Promise<RenewalResult>): Promise<RenewalResult> => {
    const before = events.length;
    const result = await act();
    assert.equal(events.length - before, 1, `${result.outcome}: exactly one event (got ${events.length - before})`);
    const event = events.at(-1) as LifecycleEvent;
    assert.equal(event.type, result.outcome);
    assert.equal(event.certificate, result.name);
    assert.deepEqual(event.domains, spec.domains);
    assert.equal(event.version, result.version);
    assert.equal(event.reason, result.reason);
    assert.ok(event.timings.durationMs >= 0 && Date.parse(event.timings.finishedAt) >= Date.parse(event.timings.startedAt));
    seen.set(result.outcome, event);
    return result;
  };

  const calls: string[] = [];
  const files = fakeDeployer('files', calls);
  h.deployers = [files];
  const withDeploy: ResolvedCertificate = { ...spec, deploy: ['files'] };

  assert.equal((await once(() => renewCertificate(withDeploy, h.ctx))).outcome, 'issued');
  assert.equal(seen.get('issued')?.reason, 'missing');
  assert.equal(seen.get('issued')?.version, 1);
  assert.equal((await once(() => renewCertificate(withDeploy, h.ctx))).outcome, 'not-due');
  assert.ok(seen.get('not-due')?.notAfter, 'a not-due event carries the live expiry');
  assert.equal((await once(() => renewCertificate(withDeploy, h.ctx, { force: true }))).outcome, 'renewed');
  assert.equal(seen.get('renewed')?.version, 2);
  assert.equal((await once(() => deployCertificate(withDeploy, h.ctx, { force: true }))).outcome, 'deployed');

  // A slow order: the event's timings are the run's, on the context's clock.
  h.clock.advance(70 * DAY);
  h.next = async () => {
    h.clock.advance(90_000);
    throw new ValidationFailedError('http-01 for www.example.test: connection refused');
  };
  assert.equal((await once(() => renewCertificate(withDeploy, h.ctx))).outcome, 'failed');
  assert.equal(seen.get('failed')?.error?.code, 'ERR_ACME_AUTHORIZATION_FAILED');
  assert.equal(seen.get('failed')?.timings.durationMs, 90_000);
  assert.equal((await once(() => renewCertificate(withDeploy, h.ctx))).outcome, 'held');

  const other = await new FileLocker({ dir: join(h.store.stateDir, 'locks'), clock: h.clock }).acquire('www', { ttlSeconds: 60 });
  assert.equal((await once(() => renewCertificate(withDeploy, h.ctx, { force: true }))).outcome, 'locked');
  assert.equal((await once(() => deployCertificate(withDeploy, h.ctx))).outcome, 'locked');
  await other?.release();

  const controller = new AbortController();
  h.next = async () => {
    controller.abort(new CertpilotError('ERR_INTERRUPTED', 'cli: interrupted by SIGTERM'));
    throw new Error('request aborted');
  };
  assert.equal((await once(() => renewCertificate(withDeploy, h.ctx, { force: true, signal: controller.signal }))).outcome, 'interrupted');
  // renewAll: a certificate not started because of the signal still has its one event.
  const before = events.length;
  const results = await renewAll([withDeploy, { ...withDeploy, name: 'later' }], h.ctx, { concurrency: 1, signal: controller.signal });
  assert.deepEqual(results.map((r) => r.outcome), ['interrupted', 'interrupted']);
  assert.deepEqual(events.slice(before).map((e) => `${e.certificate}:${e.type}`), ['www:interrupted', 'later:interrupted']);

  assert.deepEqual([...seen.keys()].sort(), ['deployed', 'failed', 'held', 'interrupted', 'issued', 'locked', 'not-due', 'renewed']);
  // A dry run changes nothing live: no event.
  const dry = events.length;
  h.next = async () => issued();
  assert.equal((await renewCertificate(withDeploy, h.ctx, { dryRun: true, force: true })).outcome, 'dry-run');
  assert.equal(events.length, dry);
});

test('a sink that throws (or rejects) changes no result and stops no run', async () => {
  const plain = await harness();
  const throwing = await harness();
  const rejecting = await harness();
  let calls = 0;
  throwing.ctx.events = () => {
    calls++;
    throw new Error('sink down');
  };
  rejecting.ctx.events = (() => {
    calls++;
    return Promise.reject(new Error('sink down, later'));
  }) as unknown as (e: LifecycleEvent) => void;
  // What a user sees of a result, without the per-harness dates and paths.
  const seen = (r: RenewalResult): unknown => ({ outcome: r.outcome, reason: r.reason, version: r.version, error: r.error?.code, message: r.message.replace(/\d{4}-\d\d-\d\dT[\d:.]+Z/g, 'T').replace(/in [\w ]+, at/, 'in D, at') });
  const script = async (h: Harness): Promise<unknown[]> => [
    seen(await renewCertificate(spec, h.ctx)),
    seen(await renewCertificate(spec, h.ctx)),
    seen(await renewCertificate(spec, h.ctx, { force: true })),
    (await h.store.load('www'))?.version,
  ];
  const expected = await script(plain);
  assert.deepEqual(expected.map((r) => (r as { outcome?: string }).outcome ?? r), ['issued', 'not-due', 'renewed', 2]);
  assert.deepEqual(await script(throwing), expected);
  assert.deepEqual(await script(rejecting), expected);
  assert.equal(calls, 6, 'the sinks were called, once per run');
});

test('a one-off forgotten between the run\'s reading of the records and its lock is not renewed, and nothing is ordered', async () => {
  const h = await harness();
  const oneOff = testCertificateSpec({ oneOff: true, fromRecord: true });
  // No record in the state: `certpilot forget` removed it after this run listed the one-offs.
  await h.store.saveState(oneOff.name, { failureCount: 0, retired: { at: h.clock.now().toISOString() } });
  const [result] = await renewAll([oneOff], h.ctx, { concurrency: 1 });
  assert.equal(result?.outcome, 'not-due');
  assert.match(result?.message ?? '', /forgotten \(certpilot forget\) after this run read it: not renewed/);
  assert.equal(h.requests.length, 0, 'no order');
  assert.equal(await h.store.load(oneOff.name), undefined);
  // `issue -d` (a one-off of this run, no record yet): issued.
  const [fresh] = await renewAll([testCertificateSpec({ oneOff: true })], h.ctx, { concurrency: 1 });
  assert.equal(fresh?.outcome, 'issued', 'a first issue -d is not taken for a forgotten one');
});
