// Two certpilot processes coordinated by the lease locker through the built CLI, against Pebble
// (behind the counting proxy) and the Kubernetes stand-in: while one holds the certificate's
// Lease (stuck at finalize), another makes no order; after the holder is SIGKILLed, runs are
// refused until the Lease expires, then one takes it over and resumes the pending order with zero
// new orders. (State here is a shared directory; with state in Secrets this is the lead's
// two-halves test.) A Lease a killed pod left is shown by status, stale, and broken by unlock.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { cliPath, repoRoot, runCli, tempDir, writeConfig } from '../harness/certpilot.js';
import { startProxiedPebble } from '../harness/fault-proxy.js';
import { standinFor } from '../harness/kube-standin.js';
import { requirePebble } from '../harness/servers.js';
import { findPlugin } from '../../src/plugins/registry.js';

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

void test('lease locker: a Lease a killed pod left shows in status as stale with the command that breaks it, keeps renew at exit 75, and unlock breaks it with only the Role the plug-in declares; a live Lease is refused and a renew that meets it exits 0', { timeout: 180_000 }, async (t) => {
  if (!requirePebble(t, '2.4')) return;
  const { pebble, proxy } = await startProxiedPebble(t, { version: '2.4', noSleep: true });
  const { standin, kubeconfig } = await standinFor(t);
  const dir = await tempDir();
  const config = await writeConfig(dir, { directoryUrl: proxy.directoryUrl, httpPort: pebble.httpPort, certificates: [{ name: 'www', domains: [DOMAIN] }] });
  await writeFile(config, `${await readFile(config, 'utf8')}\nlocker: ${JSON.stringify({ type: 'lease', kubeconfig, identity: 'runner' })}\n`);
  await mkdir(join(dir, 'state'), { recursive: true });
  // Exactly the rules the plug-in declares (what `kubernetes manifests` puts in the Role).
  const plugin = findPlugin('lease');
  assert.ok(plugin);
  const needs = plugin.kubernetes?.(plugin.schema.parse({ kubeconfig, identity: 'runner' }), { certificates: ['www'] });
  standin.rules = (needs?.rules ?? []).map((r) => ({ apiGroups: r.apiGroups, verbs: r.verbs, resources: r.resources, ...(r.resourceNames ? { resourceNames: r.resourceNames } : {}) }));
  const orders = (): number => proxy.requests.log.filter((r) => r.kind === 'POST /order-plz' && r.status === 201).length;
  const micro = (ms: number): string => new Date(ms).toISOString().replace(/Z$/, '000Z');
  const cli = (...args: string[]): ReturnType<typeof runCli> => runCli([...args, '--config', config]);

  // A CronJob pod killed mid-run: its Lease was last renewed 700 s ago (duration 900 s, renewed every 300 s).
  const now = Date.now();
  standin.putLease('certpilot-www', { holderIdentity: 'certpilot-renew-29001-x7k2p_0a1b2c', leaseDurationSeconds: 900, acquireTime: micro(now - 800_000), renewTime: micro(now - 700_000), leaseTransitions: 4 });
  const status = await cli('status');
  assert.equal(status.code, 0, `${status.stdout}\n${status.stderr}`);
  assert.match(status.stdout, /^www: locked by certpilot-renew-29001-x7k2p_0a1b2c \(Lease default\/certpilot-www; since .*, renewed .*, expires .*\): STALE: its holder stopped renewing it; `certpilot unlock www --config .*` breaks it$/m);
  assert.match(status.stdout, /locked until .* \(stale lock\)/, 'the next-renewal cell says the lock holds it back');
  assert.match(status.stderr, /^warning: www: its lock is stale: /m);
  const [row] = JSON.parse((await cli('status', '--json')).stdout) as { lock?: { state: string; holder: string; where: string; ttlSeconds: number; renewedAt: string; expiresAt: string } }[];
  assert.equal(row?.lock?.state, 'stale');
  assert.equal(row?.lock?.holder, 'certpilot-renew-29001-x7k2p_0a1b2c');
  assert.equal(row?.lock?.ttlSeconds, 900);
  assert.equal(row?.lock?.renewedAt, new Date(now - 700_000).toISOString());
  assert.equal(row?.lock?.expiresAt, new Date(now + 200_000).toISOString());

  // A scheduled run: nobody is at work on the certificate, so "try again later", naming the fix.
  const blocked = await cli('renew');
  assert.equal(blocked.code, 75, `${blocked.stdout}\n${blocked.stderr}`);
  assert.match(blocked.stdout, /^locked +www/m);
  assert.match(blocked.stderr, /warning: www: not renewed: its lock is stale .*`certpilot unlock www --config .*` breaks it/);
  assert.equal(orders(), 0);

  const unlocked = await cli('unlock', 'www');
  assert.equal(unlocked.code, 0, `${unlocked.stdout}\n${unlocked.stderr}`);
  assert.match(unlocked.stdout, /^unlocked www: broke the stale lock of certpilot-renew-29001-x7k2p_0a1b2c \(Lease default\/certpilot-www; acquired .*, last renewed .*, expiring .*\); the next run takes the certificate$/m);
  assert.equal((standin.lease('certpilot-www')?.spec as { holderIdentity?: string }).holderIdentity, '', 'the holder is cleared, as its release would');
  const renewed = await cli('renew');
  assert.equal(renewed.code, 0, `${renewed.stdout}\n${renewed.stderr}`);
  assert.match(renewed.stdout, /^issued +www/m, 'the next run issues at once, without waiting for the TTL');

  // A live Lease (a daemon at work): unlock refuses and changes nothing; a renew that meets it exits 0.
  standin.putLease('certpilot-www', { holderIdentity: 'certpilot-daemon-5d9c_77aa', leaseDurationSeconds: 900, acquireTime: micro(Date.now()), renewTime: micro(Date.now()), leaseTransitions: 5 });
  const before = standin.lease('certpilot-www')?.metadata as { resourceVersion: string };
  const refused = await cli('unlock', 'www');
  assert.equal(refused.code, 75, `${refused.stdout}\n${refused.stderr}`);
  assert.match(refused.stderr, /error ERR_LOCK_LIVE: unlock www: its lock is live: held by certpilot-daemon-5d9c_77aa \(Lease default\/certpilot-www\)/);
  assert.equal((standin.lease('certpilot-www')?.metadata as { resourceVersion: string }).resourceVersion, before.resourceVersion, 'not written');
  const inOtherHands = await cli('renew', '--force');
  assert.equal(inOtherHands.code, 0, `${inOtherHands.stdout}\n${inOtherHands.stderr}`);
  assert.match(inOtherHands.stdout, /^locked +www/m);
  assert.match((await cli('status', '--name', 'www')).stdout, /^www: locked by certpilot-daemon-5d9c_77aa .*: live: a run is at work$/m);

  const denied = standin.requests.filter((r) => r.status === 403);
  assert.deepEqual(denied, [], 'status, renew and unlock needed nothing beyond the declared Role');
});
