// Two certpilot processes coordinated by the lease locker through the built CLI, against Pebble
// (behind the counting proxy) and the Kubernetes stand-in: while one holds the certificate's
// Lease (stuck at finalize), another makes no order; after the holder is SIGKILLed, runs are
// refused until the Lease expires, then one takes it over and resumes the pending order with zero
// new orders. (State here is a shared directory; with state in Secrets this is the lead's
// two-halves test.)
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { cliPath, repoRoot, runCli, tempDir, writeConfig } from '../harness/certpilot.js';
import { startProxiedPebble } from '../harness/fault-proxy.js';
import { standinFor } from '../harness/kube-standin.js';
import { requirePebble } from '../harness/servers.js';

const DOMAIN = 'lease.k8s.test';

async function until(check: () => boolean, what: string, timeoutMs = 60_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

void test('lease locker: a second renew makes no order while the holder works; after SIGKILL the Lease expires and the next run resumes the order, zero new orders', { timeout: 180_000 }, async (t) => {
  if (!requirePebble(t, '2.4')) return;
  const { pebble, proxy } = await startProxiedPebble(t, { version: '2.4', noSleep: true });
  const { standin, kubeconfig } = await standinFor(t);
  const dir = await tempDir();
  const config = await writeConfig(dir, { directoryUrl: proxy.directoryUrl, httpPort: pebble.httpPort, certificates: [{ name: 'www', domains: [DOMAIN] }] });
  // The lease locker, with the shortest lock TTL the schema allows.
  await writeFile(config, `${await readFile(config, 'utf8')}\nlocker: ${JSON.stringify({ type: 'lease', kubeconfig, identity: 'runner' })}\nrenewal: { lockTtlSeconds: 30 }\n`);
  // Orders the CA created (a badNonce retry of newOrder is a POST but not an order).
  const orders = (): number => proxy.requests.log.filter((r) => r.kind === 'POST /order-plz' && r.status === 201).length;

  // 1. The holder gets stuck at finalize (the CA hangs), holding the Lease and renewing it.
  proxy.failNext({ match: (r) => r.kind === 'POST /finalize-order', status: 0, hang: true });
  const holder = spawn(process.execPath, [cliPath, 'renew', '--config', config], { cwd: repoRoot, stdio: 'ignore' });
  t.after(() => holder.kill('SIGKILL'));
  await until(() => proxy.requests.log.some((r) => r.kind === 'POST /finalize-order'), 'the holder to reach finalize');
  assert.equal(orders(), 1);
  const lease = (): { holderIdentity?: string; renewTime?: string; leaseDurationSeconds?: number } => (standin.lease('certpilot-www')?.spec ?? {}) as never;
  assert.match(lease().holderIdentity ?? '', /^runner_/);
  assert.equal(lease().leaseDurationSeconds, 30);

  // 2. A second run while the holder works: refused by the Lease, no order.
  const second = await runCli(['renew', '--config', config]);
  assert.match(second.stdout, /^locked +www: another certpilot process is renewing it/m, `${second.stdout}\n${second.stderr}`);
  assert.equal(second.code, 0, 'a scheduled run that finds the work in other hands is not a failure');
  assert.equal(orders(), 1, 'no second order while the Lease is held');

  // 3. SIGKILL the holder right after it asked to finalize: nothing releases its Lease.
  holder.kill('SIGKILL');
  await new Promise((r) => holder.once('exit', r));
  assert.match(lease().holderIdentity ?? '', /^runner_/, 'a killed holder leaves its Lease');
  const early = await runCli(['renew', '--config', config]);
  assert.match(early.stdout, /^locked +www/m, 'still locked until the Lease expires');
  assert.equal(orders(), 1);

  // 4. After the Lease's duration, the next run takes it over and resumes the pending order.
  const expiresAt = Date.parse(lease().renewTime ?? '') + 30_000;
  await until(() => Date.now() > expiresAt + 500, 'the Lease to expire', 60_000);
  const resumed = await runCli(['renew', '--config', config]);
  assert.equal(resumed.code, 0, `${resumed.stdout}\n${resumed.stderr}`);
  assert.match(resumed.stdout, /^issued +www/m);
  assert.equal(orders(), 1, 'the pending order was resumed: zero new orders');
  const leaf = new X509Certificate(await readFile(join(dir, 'state', 'live', 'www', 'cert.pem')));
  assert.match(leaf.subjectAltName ?? '', new RegExp(DOMAIN));
  assert.equal(lease().holderIdentity, '', 'released on exit');
});
