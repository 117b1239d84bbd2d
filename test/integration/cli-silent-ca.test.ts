// A CA that accepts connections and never answers (down behind its load balancer, a proxy holding
// the connection): the first request waits acme.requestTimeoutSeconds, and every later request of
// the run to that CA fails at once with ERR_ACME_NO_ANSWER, whatever the number of certificates; the
// run exits 75 (try again later) and the certificates already issued stay live. Counted by the
// connections (or requests) the silent CA receives, never by the clock.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { runCli, tempDir, writeConfig } from '../harness/certpilot.js';
import { startProxiedPebble } from '../harness/fault-proxy.js';
import { requirePebble } from '../harness/servers.js';
import { startSilentListener } from '../harness/silent-listener.js';

const names = (n: number, zone: string): { name: string; domains: string[] }[] => Array.from({ length: n }, (_, i) => ({ name: `c${i}`, domains: [`c${i}.${zone}`] }));

test('no account yet, six certificates, a CA that never answers: one connection, every certificate ERR_ACME_NO_ANSWER, exit 75', { timeout: 60_000 }, async (t) => {
  const { port: silentPort, held } = await startSilentListener(t);
  const dir = await tempDir();
  const config = await writeConfig(dir, {
    directoryUrl: `https://127.0.0.1:${silentPort}/dir`,
    httpPort: 5002,
    certificates: names(6, 'silent.test'),
    // One at a time: without the run's memory of the silent CA, each certificate would connect anew.
    renewal: { concurrency: 1 },
    acme: { requestTimeoutSeconds: 1 },
  });
  const run = await runCli(['renew', '--config', config]);
  assert.equal(run.code, 75, run.stdout + run.stderr);
  assert.equal(held.length, 1, `the silent CA got ${held.length} connections for 6 certificates:\n${run.stdout}`);
  for (let i = 0; i < 6; i++) assert.match(run.stdout, new RegExp(`^failed +c${i}: ERR_ACME_NO_ANSWER: acme: directory: GET \\S+`, 'm'), run.stdout);
  assert.match(run.stdout, /c0: ERR_ACME_NO_ANSWER: acme: directory: GET \S+: no answer within 1 s\n +hint: The CA is down or overloaded/);
  assert.match(run.stdout, /c5: ERR_ACME_NO_ANSWER: .* not sent: https:\/\/127\.0\.0\.1:\d+ accepted a connection and did not answer an earlier request of this run/);
  assert.match(run.stderr, /6 of 6 certificate\(s\) failed; no certificate was issued for them yet/);
});

test('issued certificates, then the CA goes silent: renew --force of four sends one request, exits 75, every certificate stays live', { timeout: 120_000 }, async (t) => {
  if (!requirePebble(t, '2.4')) return;
  const { pebble, proxy } = await startProxiedPebble(t, { version: '2.4', strict: true, noSleep: true });
  const dir = await tempDir();
  const config = await writeConfig(dir, {
    directoryUrl: proxy.directoryUrl,
    httpPort: pebble.httpPort,
    certificates: names(4, 'hang.test'),
    renewal: { concurrency: 1 },
    acme: { requestTimeoutSeconds: 1 },
  });
  const issued = await runCli(['renew', '--config', config]);
  assert.equal(issued.code, 0, issued.stdout + issued.stderr);
  const live = (name: string): string => new X509Certificate(readFileSync(join(dir, 'state', 'live', name, 'cert.pem'))).fingerprint256;
  const before = Object.fromEntries(names(4, 'hang.test').map((c) => [c.name, live(c.name)]));

  // From now on the CA accepts every request and answers none.
  const mark = proxy.requests.total;
  proxy.failNext({ match: () => true, status: 0, hang: true, count: 1000 });
  const renewed = await runCli(['renew', '--force', '--config', config]);
  assert.equal(renewed.code, 75, renewed.stdout + renewed.stderr);
  const sent = proxy.requests.log.slice(mark).map((e) => e.kind);
  assert.equal(sent.length, 1, `the silent CA got ${sent.length} requests for 4 certificates: ${sent.join(', ')}`);
  for (const name of Object.keys(before)) assert.match(renewed.stdout, new RegExp(`^failed +${name}: ERR_ACME_NO_ANSWER: `, 'm'), renewed.stdout);
  assert.match(renewed.stderr, /4 of 4 certificate\(s\) failed; the previous certificates stay live/);
  assert.deepEqual(Object.fromEntries(Object.keys(before).map((n) => [n, live(n)])), before, 'every live certificate is the one issued before');

  const status = await runCli(['status', '--json', '--config', config]);
  const rows = JSON.parse(status.stdout) as { name: string; version: number; lastResult?: { code?: string } }[];
  assert.deepEqual(rows.map((r) => [r.name, r.version, r.lastResult?.code]), Object.keys(before).map((n) => [n, 1, 'ERR_ACME_NO_ANSWER']));
});
