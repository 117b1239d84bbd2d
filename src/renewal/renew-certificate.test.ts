import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import type { AcmeClient } from '../acme/acme-client.js';
import type { IssuedCertificate, IssueRequest, Issuer } from '../acme/issuer.js';
import { RateLimitedError } from '../acme/protocol/problem.js';
import type { ResolvedCertificate } from '../config/load-config.js';
import { FileLocker } from '../coordination/file-locker.js';
import { CertpilotError } from '../errors.js';
import { silentLogger } from '../logger.js';
import { FilesystemCertificateStore } from '../storage/filesystem/filesystem-certificate-store.js';
import { makeTestBundle } from '../testing/certificate-fixtures.js';
import { FakeClock } from '../testing/fake-clock.js';
import { tempDir } from '../testing/temp-dir.js';
import { renewAll, renewCertificate, type RenewalContext } from './renew-certificate.js';

const DAY = 86_400_000;

const spec: ResolvedCertificate = {
  name: 'www',
  domains: ['www.example.test'],
  identifiers: [{ type: 'dns', value: 'www.example.test' }],
  keyType: 'ec-p256',
  reuseKey: false,
  challenge: 'http-01',
};

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
  /** What the next renewalInfo fetch returns (undefined: the CA has no ARI). */
  ari?: { start: Date; end: Date; retryAfter: Date };
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
    next: async () => issued(),
    ctx: undefined as unknown as RenewalContext,
  };
  const issuer = { issue: async (req: IssueRequest) => (h.requests.push(req), h.next(req)) } as unknown as Issuer;
  const ariClient = {
    getRenewalInfo: async (_pem: string) => {
      h.ariFetches++;
      const stored = await store.load(spec.name);
      if (!h.ari || !stored) throw new Error('no ARI');
      return { certId: stored.metadata.ariCertId, suggestedWindow: { start: h.ari.start, end: h.ari.end }, retryAfter: h.ari.retryAfter };
    },
  } as unknown as AcmeClient;
  h.ctx = {
    store,
    locker: new FileLocker({ dir: join(stateDir, 'locks'), clock }),
    session: async () => {
      h.sessions++;
      return { client: {} as AcmeClient, issuer, directoryUrl: 'https://ca.test/dir', accountUrl: 'https://ca.test/acct/1' };
    },
    renewalInfoClient: async () => (h.ari ? ariClient : undefined),
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
    throw new CertpilotError('ERR_ACME_AUTHORIZATION_FAILED', 'http-01 for www.example.test: connection refused');
  };
  const failed = await renewCertificate(spec, h.ctx);
  assert.equal(failed.outcome, 'failed');
  assert.equal(failed.error?.code, 'ERR_ACME_AUTHORIZATION_FAILED');
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

  h.clock.set(Date.parse(state.backoffUntil as string) + 1000);
  h.next = async () => issued();
  const renewed = await renewCertificate(spec, h.ctx);
  assert.equal(renewed.outcome, 'renewed');
  assert.equal((await h.store.loadState('www')).failureCount, 0);
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

test('ARI: fetched once per Retry-After, the window decides, and the renewal sends replaces', async () => {
  const h = await harness();
  await renewCertificate(spec, h.ctx);
  const v1 = await h.store.load('www');
  const now = h.clock.now().getTime();
  h.ari = { start: new Date(now + 10 * DAY), end: new Date(now + 12 * DAY), retryAfter: new Date(now + 6 * 3_600_000) };

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
