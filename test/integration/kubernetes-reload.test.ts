// kubernetes-secret then kubernetes-reload over real apache2 pods of the stand-in: each pod waits
// for its own projection, is reloaded one at a time and proven by a TLS handshake to serve the new
// serial; failures stop the rollout with an exact report.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CertpilotError } from '../../src/errors.js';
import { probeServedSerial } from '../../src/deploy/kubernetes-reload/tls-probe.js';
import { normalizeSerial } from '../../src/deploy/kubernetes-reload/tls-probe.js';
import type { KubeStandin } from '../harness/kube-standin.js';
import { makeDeployer, reloadOptions } from '../harness/kube-deployers.js';
import { reloadsBeforeProjection, requireApache, startStandinWithPods, storedCertificate, until } from '../harness/kube-fixtures.js';
import type { StoredCertificate } from '../../src/storage/certificate-store.js';

async function servedSerials(standin: KubeStandin): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const name of standin.podNames()) {
    const { ip, port } = standin.podAddress(name);
    out[name] = await probeServedSerial({ host: ip, port, serverName: 'www.example.test', timeoutMs: 5000 });
  }
  return out;
}

const serialOf = (c: StoredCertificate): string => normalizeSerial(c.metadata.serialNumber);
const reloads = (standin: KubeStandin): string[] => standin.execs.filter((e) => e.argv[0] === 'apachectl').map((e) => e.pod);

void test('secret then reload over 3 apache pods: each waits for its projection, is reloaded once and serves the new serial; a second run reloads nothing', { timeout: 90_000 }, async (t) => {
  if (!requireApache(t)) return;
  const v1 = storedCertificate(1);
  const delays: Record<string, number> = { 'www-0': 1500, 'www-1': 300, 'www-2': 800 };
  const standin = await startStandinWithPods({ pods: 3, initial: v1, projectionDelayMs: (p) => delays[p] ?? 0 });
  try {
    assert.deepEqual(Object.values(await servedSerials(standin)), [serialOf(v1), serialOf(v1), serialOf(v1)]);
    const secret = await makeDeployer('kubernetes-secret', standin, { secretName: 'www-certificate' });
    const reload = await makeDeployer('kubernetes-reload', standin, reloadOptions(standin));
    const v2 = storedCertificate(2);
    await secret.deploy(v2, {});
    const result = await reload.deploy(v2, {});
    assert.match(result.message, /^3 pod\(s\) serve version 2 .*3 reloaded/);
    assert.deepEqual(await servedSerials(standin), { 'www-0': serialOf(v2), 'www-1': serialOf(v2), 'www-2': serialOf(v2) });
    // Each pod reloaded exactly once, never before it saw the new Secret.
    assert.deepEqual(reloads(standin).sort(), ['www-0', 'www-1', 'www-2']);
    assert.deepEqual(reloadsBeforeProjection(standin), []);
    const digestReads = standin.execs.filter((e) => e.argv[0] === 'sha256sum');
    assert.ok(digestReads.length >= 3 && digestReads.every((e) => e.argv[1] === '/etc/ssl/certpilot/tls.crt' && e.exitCode === 0));
    // Idempotent: the same version again reloads nothing.
    const again = await reload.deploy(v2, {});
    assert.match(again.message, /0 reloaded, 3 already serving it/);
    assert.equal(reloads(standin).length, 3);
  } finally {
    await standin.stop();
  }
});

void test('one pod\'s reload fails: the rollout stops there and the report says which pod serves which serial', { timeout: 90_000 }, async (t) => {
  if (!requireApache(t)) return;
  const v1 = storedCertificate(1);
  // www-0 sees the Secret first; www-1 once www-0 is done; www-2 only later (by projectNow).
  const standin = await startStandinWithPods({ pods: 3, initial: v1, projectionDelayMs: (p) => (p === 'www-0' ? 100 : Infinity) });
  try {
    await standin.podApache('www-1').breakConfig(true);
    const v2 = storedCertificate(2);
    await (await makeDeployer('kubernetes-secret', standin, { secretName: 'www-certificate' })).deploy(v2, {});
    const reload = await makeDeployer('kubernetes-reload', standin, reloadOptions(standin));
    const running = reload.deploy(v2, {});
    await until(() => standin.execs.some((e) => e.pod === 'www-0' && e.argv[0] === 'apachectl' && e.exitCode === 0));
    await standin.projectNow('www-1');
    await assert.rejects(running, (e: unknown) => {
      assert.ok(e instanceof CertpilotError);
      assert.equal(e.code, 'ERR_DEPLOY_RELOAD_FAILED');
      assert.match(e.message, /^kubernetes-reload: group www: `apachectl graceful` exited 1 in pod www-1: .*ThisDirectiveDoesNotExist/);
      assert.match(e.message, new RegExp(`rollout stopped: www-0 reloaded, serves ${serialOf(v2)} \\(new\\); www-1 failed, serves ${serialOf(v1)} \\(old\\); www-2 untouched, serves ${serialOf(v1)} \\(old\\)$`));
      return true;
    });
    assert.deepEqual(reloads(standin), ['www-0', 'www-1']);
    // Mended, the next run finishes the rollout; www-0 is not reloaded again.
    await standin.podApache('www-1').breakConfig(false);
    await standin.projectNow();
    const result = await reload.deploy(v2, {});
    assert.match(result.message, /2 reloaded, 1 already serving it/);
    assert.deepEqual(reloads(standin), ['www-0', 'www-1', 'www-1', 'www-2']);
  } finally {
    await standin.stop();
  }
});

void test('a projection that never arrives times out naming the pod; pods that saw it were reloaded, that one was not', { timeout: 90_000 }, async (t) => {
  if (!requireApache(t)) return;
  const v1 = storedCertificate(1);
  const standin = await startStandinWithPods({ pods: 3, initial: v1, projectionDelayMs: (p) => (p === 'www-2' ? Infinity : 200) });
  try {
    const v2 = storedCertificate(2);
    await (await makeDeployer('kubernetes-secret', standin, { secretName: 'www-certificate' })).deploy(v2, {});
    const reload = await makeDeployer('kubernetes-reload', standin, reloadOptions(standin, { propagationTimeoutSeconds: 3 }));
    await assert.rejects(reload.deploy(v2, {}), (e: unknown) => {
      assert.ok(e instanceof CertpilotError);
      assert.equal(e.code, 'ERR_DEPLOY_PROPAGATION_TIMEOUT');
      assert.match(e.message, /pod www-2 did not see the new Secret in \/etc\/ssl\/certpilot\/tls\.crt within 3 s/);
      assert.match(e.message, /www-2 untouched, serves [0-9a-f]+ \(old\)$/);
      return true;
    });
    assert.ok(!reloads(standin).includes('www-2'));
  } finally {
    await standin.stop();
  }
});

void test('a subPath mount fails at once with a hint, before any pod is touched; a stale Secret reloads nothing', { timeout: 90_000 }, async (t) => {
  if (!requireApache(t)) return;
  const v1 = storedCertificate(1);
  const standin = await startStandinWithPods({ pods: 2, initial: v1, subPath: true });
  try {
    const v2 = storedCertificate(2);
    const reload = await makeDeployer('kubernetes-reload', standin, reloadOptions(standin));
    // The Secret still holds v1 (its update failed or never ran): nothing is reloaded.
    await assert.rejects(reload.deploy(v2, {}), (e: CertpilotError) => e.code === 'ERR_DEPLOY_SECRET_STALE' && /nothing reloaded/.test(e.message));
    await (await makeDeployer('kubernetes-secret', standin, { secretName: 'www-certificate' })).deploy(v2, {});
    await assert.rejects(reload.deploy(v2, {}), (e: unknown) => {
      assert.ok(e instanceof CertpilotError);
      assert.equal(e.code, 'ERR_DEPLOY_SUBPATH_MOUNT');
      assert.match(e.message, /pod www-1 mounts Secret www-certificate at \/etc\/ssl\/certpilot\/tls\.crt with subPath tls\.crt, which the kubelet never updates/);
      assert.match(e.hint, /without|no subPath|rollout restart/);
      return true;
    });
    assert.equal(standin.execs.length, 0, 'no pod was touched');
  } finally {
    await standin.stop();
  }
});

void test('a pod that appears during the rollout is checked too', { timeout: 90_000 }, async (t) => {
  if (!requireApache(t)) return;
  const v1 = storedCertificate(1);
  const standin = await startStandinWithPods({ pods: 2, initial: v1, projectionDelayMs: (p) => (p === 'www-1' ? Infinity : 100) });
  try {
    const v2 = storedCertificate(2);
    await (await makeDeployer('kubernetes-secret', standin, { secretName: 'www-certificate' })).deploy(v2, {});
    const reload = await makeDeployer('kubernetes-reload', standin, reloadOptions(standin));
    const running = reload.deploy(v2, {});
    // While the rollout waits for www-1, a new pod is scheduled: it mounts the Secret as it is now.
    await until(() => standin.execs.some((e) => e.pod === 'www-0' && e.argv[0] === 'apachectl' && e.exitCode === 0));
    await standin.addPod({ name: 'www-new', labels: { app: 'www' }, secretName: 'www-certificate' });
    await standin.projectNow('www-1');
    const result = await running;
    const pods = (result.details?.pods as { pod: string; outcome: string }[]).map((p) => `${p.pod}:${p.outcome}`).sort();
    assert.deepEqual(pods, ['www-0:reloaded', 'www-1:reloaded', 'www-new:serving']);
    assert.deepEqual(Object.values(await servedSerials(standin)), [serialOf(v2), serialOf(v2), serialOf(v2)]);
  } finally {
    await standin.stop();
  }
});

void test('rolloutRestart: owner restarts the owning Deployment and verifies each replacement pod', { timeout: 90_000 }, async (t) => {
  if (!requireApache(t)) return;
  const v1 = storedCertificate(1);
  const standin = await startStandinWithPods({ pods: 0, initial: v1 });
  try {
    standin.putWorkload('Deployment', 'mongooseim', { app: 'mongooseim' });
    for (const n of ['mongooseim-5d4f8c9b7-aaaaa', 'mongooseim-5d4f8c9b7-bbbbb']) {
      await standin.addPod({ name: n, labels: { app: 'mongooseim' }, secretName: 'www-certificate', owner: { kind: 'Deployment', name: 'mongooseim' } });
    }
    const v2 = storedCertificate(2);
    await (await makeDeployer('kubernetes-secret', standin, { secretName: 'www-certificate' })).deploy(v2, {});
    const reload = await makeDeployer('kubernetes-reload', standin, reloadOptions(standin, {}, { name: 'xmpp', selector: 'app=mongooseim', command: undefined, rolloutRestart: 'owner' }));
    const result = await reload.deploy(v2, {});
    const pods = result.details?.pods as { pod: string; outcome: string }[];
    assert.equal(pods.length, 2);
    assert.ok(pods.every((p) => p.outcome === 'restarted' && !p.pod.includes('aaaaa') && !p.pod.includes('bbbbb')));
    const patch = standin.requests.find((r) => r.resource === 'deployments' && r.method === 'PATCH');
    assert.equal(patch?.contentType, 'application/strategic-merge-patch+json');
    assert.deepEqual(Object.values(await servedSerials(standin)), [serialOf(v2), serialOf(v2)]);
  } finally {
    await standin.stop();
  }
});
