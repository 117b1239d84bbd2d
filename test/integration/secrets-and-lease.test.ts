// Issue 12's two halves together, through the built CLI against Pebble and the Kubernetes
// stand-in: state in Secrets (`stateStore: kubernetes-secret`) AND the Lease lock (`locker:
// lease`). Two `renew` processes started together make exactly one order per certificate (counted
// at the proxy by distinct order URLs: Pebble's nonce rejection is on and repeats POSTs); SIGKILL
// of the Lease holder right after finalize, then a run after the Lease expired resumes the pending
// order from its Secret with zero new orders. (lease-coordination.test.ts is the same with state in
// a directory; kubernetes-state-store.test.ts covers the Secrets store alone.)
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { test } from 'node:test';
import { loadConfig } from '../../src/config/load-config.js';
import { kubernetesNeeds } from '../../src/plugins/platform-needs.js';
import { cliPath, repoRoot, runCli, tempDir, writeConfig } from '../harness/certpilot.js';
import { orderUrls, orderUrlsByIdentifier, startProxiedPebble } from '../harness/fault-proxy.js';
import { until } from '../harness/kube-fixtures.js';
import { standinFor } from '../harness/kube-standin.js';
import { requirePebble } from '../harness/servers.js';

/** The lock and the state of every test here: a Lease per certificate, state in Secrets. */
function clusterConfig(kubeconfig: string): { stateStore: Record<string, unknown>; locker: Record<string, unknown> } {
  return {
    stateStore: { type: 'kubernetes-secret', kubeconfig, secretPrefix: 'certpilot' },
    locker: { type: 'lease', kubeconfig, identity: 'runner' },
  };
}

void test('state in Secrets + Lease lock: two renew processes started together make exactly one order per certificate', { timeout: 180_000 }, async (t) => {
  if (!requirePebble(t, '2.4')) return;
  // Pebble's defaults stay on: nonce rejection and validation delays (which keep the two runs overlapping).
  const { pebble, proxy } = await startProxiedPebble(t, { version: '2.4' });
  const { standin, kubeconfig } = await standinFor(t);
  // One certificate: both processes answer http-01 with a standalone listener on Pebble's one port,
  // so two certificates held by two processes at once would collide on it (a test set-up limit,
  // seen under load), not a coordination failure.
  const certificates = ['alpha'].map((name) => ({ name, domains: [`${name}.together.test`] }));
  const dir = await tempDir();
  const config = await writeConfig(dir, { directoryUrl: proxy.directoryUrl, httpPort: pebble.httpPort, certificates, ...clusterConfig(kubeconfig) });
  // The stand-in grants only what the state store and the locker declare (what `kubernetes check`
  // asks for): a call their declarations forgot is refused (403) and fails the runs.
  const declared = kubernetesNeeds(await loadConfig({ file: config, cwd: dir, env: {} })).flatMap((n) => n.rules);
  assert.ok(declared.some((r) => r.resources.includes('secrets')) && declared.some((r) => r.resources.includes('leases')));
  standin.rules = declared.map((r) => ({ apiGroups: r.apiGroups, verbs: r.verbs, resources: r.resources, ...(r.resourceNames ? { resourceNames: r.resourceNames } : {}) }));

  const [a, b] = await Promise.all([runCli(['renew', '--config', config]), runCli(['renew', '--config', config])]);
  const both = `--- first\n${a.stdout}${a.stderr}\n--- second\n${b.stdout}${b.stderr}`;
  assert.equal(a.code, 0, both);
  assert.equal(b.code, 0, both);
  const byName = orderUrlsByIdentifier(proxy.requests.log);
  for (const c of certificates) {
    assert.equal(byName[c.domains[0] ?? '']?.length, 1, `${c.name}: exactly one order at the CA (${JSON.stringify(byName)})\n${both}`);
    const issued = [a.stdout, b.stdout].join('\n').match(new RegExp(`^issued +${c.name}\\b`, 'gm')) ?? [];
    assert.equal(issued.length, 1, `${c.name}: issued by one of the two runs\n${both}`);
  }
  assert.equal(orderUrls(proxy.requests.log).length, certificates.length);
  assert.deepEqual(standin.requests.filter((r) => r.status === 403).map((r) => `${r.verb} ${r.resource}`), [], 'the declared rules were enough');
  // Each certificate is live in its own Secret, and each Lease was released.
  for (const c of certificates) {
    const data = standin.secretData(`certpilot-cert-${c.name}`);
    assert.equal(data['live.version'], '1', `${c.name}: version 1 is live in its Secret`);
    assert.match(new X509Certificate(data['versions.1.cert.pem'] ?? '').subjectAltName ?? '', new RegExp(c.domains[0] ?? ''));
    assert.equal((standin.lease(`certpilot-${c.name}`)?.spec as { holderIdentity?: string } | undefined)?.holderIdentity, '', `${c.name}: Lease released`);
  }
});

void test('state in Secrets + Lease lock: SIGKILL of the holder right after finalize; after the Lease expires the next run resumes the order from its Secret, zero new orders', { timeout: 180_000 }, async (t) => {
  if (!requirePebble(t, '2.4')) return;
  const { pebble, proxy } = await startProxiedPebble(t, { version: '2.4', noSleep: true });
  const { standin, kubeconfig } = await standinFor(t);
  const domain = 'www.resume.test';
  const config = await writeConfig(await tempDir(), {
    directoryUrl: proxy.directoryUrl,
    httpPort: pebble.httpPort,
    certificates: [{ name: 'www', domains: [domain] }],
    ...clusterConfig(kubeconfig),
    // The shortest lock TTL the schema allows: the Lease's duration.
    renewal: { lockTtlSeconds: 30 },
  });
  const log = proxy.requests.log;
  const finalized = (): boolean => log.some((r) => r.kind === 'POST /finalize-order' && r.status === 200);

  // 1. The holder's finalize reaches the CA; the CA then hangs on the holder's next look at the order.
  proxy.failNext({ match: (r) => r.kind !== 'POST /finalize-order' && finalized(), status: 0, hang: true });
  const holder = spawn(process.execPath, [cliPath, 'renew', '--config', config], { cwd: repoRoot, stdio: 'ignore' });
  t.after(() => holder.kill('SIGKILL'));
  await until(() => finalized() && proxy.pendingFaults() === 0, 60_000);
  const [order] = orderUrls(log);
  assert.ok(order, 'the holder placed an order');
  const pending = JSON.parse(standin.secretData('certpilot-cert-www')['pending-order.order.json'] ?? '{}') as { orderUrl?: string };
  assert.equal(pending.orderUrl, order, 'the pending order was saved to the certificate\'s Secret before finalize');

  // 2. SIGKILL: nothing releases the Lease, and runs before it expires make no order.
  holder.kill('SIGKILL');
  await new Promise((r) => holder.once('exit', r));
  const lease = (): { holderIdentity?: string; renewTime?: string } => (standin.lease('certpilot-www')?.spec ?? {}) as never;
  assert.match(lease().holderIdentity ?? '', /^runner_/, 'a killed holder leaves its Lease');
  const early = await runCli(['renew', '--config', config]);
  assert.match(early.stdout, /^locked +www/m, `${early.stdout}\n${early.stderr}`);
  assert.equal(orderUrls(log).length, 1);

  // 3. After the Lease's duration a run takes it over and resumes the order from the Secret.
  const expiresAt = Date.parse(lease().renewTime ?? '') + 30_000;
  await until(() => Date.now() > expiresAt + 500, 60_000);
  const resumed = await runCli(['renew', '--config', config]);
  assert.equal(resumed.code, 0, `${resumed.stdout}\n${resumed.stderr}`);
  assert.match(resumed.stdout, /^issued +www/m);
  assert.deepEqual(orderUrls(log), [order], 'the pending order was resumed: zero new orders');
  const data = standin.secretData('certpilot-cert-www');
  assert.equal(data['pending-order.order.json'], undefined, 'the pending order is cleared once the version is live');
  assert.equal(data['live.version'], '1');
  assert.match(new X509Certificate(data['versions.1.cert.pem'] ?? '').subjectAltName ?? '', new RegExp(domain));
  assert.equal(lease().holderIdentity, '', 'released on exit');
});
