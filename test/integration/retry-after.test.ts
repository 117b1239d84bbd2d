// A CA that says "come back later" (rateLimited 429, or 503 with Retry-After) is not slept through:
// the time is persisted, the run exits 75, and later runs send nothing to the CA before it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FilesystemCertificateStore } from '../../src/storage/backends/filesystem/filesystem-certificate-store.js';
import { runCli, startCliScenario } from '../harness/certpilot.js';
import { requirePebble } from '../harness/servers.js';

function near(actual: string | undefined, expectedMs: number, label: string): void {
  assert.ok(actual, `${label}: persisted`);
  const delta = Math.abs(Date.parse(actual) - expectedMs);
  assert.ok(delta < 60_000, `${label}: ${actual} is within a minute of ${new Date(expectedMs).toISOString()}`);
}

test('rateLimited and 503 Retry-After are persisted and respected by later runs', { timeout: 120_000 }, async (t) => {
  if (!requirePebble(t, '2.4')) return;
  const { proxy, config, stateDir } = await startCliScenario(t, {
    pebble: { version: '2.4', strict: true, noSleep: true },
    certificates: [
      { name: 'limited', domains: ['limited.test'] },
      { name: 'busy', domains: ['busy.test'] },
    ],
  });
  const store = new FilesystemCertificateStore({ stateDir });

  proxy.failNext({
    match: (r) => r.kind === 'POST /order-plz',
    status: 429,
    retryAfter: '3600',
    problem: { type: 'urn:ietf:params:acme:error:rateLimited', detail: 'too many new orders recently' },
  });
  const limited = await runCli(['issue', '--name', 'limited', '--config', config]);
  assert.equal(limited.code, 75, limited.stdout + limited.stderr);
  assert.match(limited.stdout, /ERR_ACME_RATE_LIMITED/);
  assert.match(limited.stdout, /too many new orders recently/);
  near((await store.loadState('limited')).retryAfter, Date.now() + 3600_000, 'rateLimited Retry-After');

  // Later runs, forced or not, ask the CA nothing for that certificate before the time.
  const before = proxy.requests.total;
  // Held with no certificate issued yet: "try later" (75), even from a renew, so a CronJob does not
  // show success while the certificate does not exist.
  const held = await runCli(['renew', '--name', 'limited', '--config', config]);
  assert.equal(held.code, 75, held.stdout + held.stderr);
  assert.match(held.stdout, /^held +limited/m);
  const forced = await runCli(['issue', '--force', '--name', 'limited', '--config', config]);
  assert.equal(forced.code, 75, forced.stdout);
  assert.equal(proxy.requests.total, before, 'no request reached the CA while held');

  // 503 with Retry-After on finalize: same treatment; the authorizations were valid, nothing is live.
  proxy.failNext({ match: (r) => r.kind === 'POST /finalize-order', status: 503, retryAfter: '120' });
  const busy = await runCli(['issue', '--name', 'busy', '--config', config]);
  assert.equal(busy.code, 75, busy.stdout + busy.stderr);
  near((await store.loadState('busy')).retryAfter, Date.now() + 120_000, '503 Retry-After');
  assert.equal(await store.load('busy'), undefined, 'nothing half-issued is stored');
  assert.equal(proxy.pendingFaults(), 0);
});
