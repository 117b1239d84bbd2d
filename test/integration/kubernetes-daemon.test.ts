// `certpilot kubernetes manifests --mode daemon` as a cluster would run it: the generated
// Deployment's pod spec as TWO long-running pods in certpilot's image (test/harness/pod-runner.ts
// `start`: user 65532, the root read-only, the ConfigMap, Secret, emptyDir and service-account
// mounts, KUBERNETES_SERVICE_HOST/PORT naming the stand-in), with the set-up of the CronJob test
// (test/harness/deck-cluster.ts: Pebble, Redis http-01 with a password, three responders, three
// apache pods, the stand-in holding exactly the generated Role; --state secret, so both replicas
// share the state as in a cluster).
//
// The Lease of the certificate is held by someone else when the replicas start: each must log the
// certificate as `locked` (so both honour the same Lease), and no order is made. Released, the
// daemons (which look again a minute later) issue exactly ONE order across both replicas (distinct
// order URLs), the Secret holds the new certificate, every apache pod serves it; `/healthz` of the
// container's probe answers on each pod; SIGTERM stops each replica with exit 0 within the
// Deployment's terminationGracePeriodSeconds (else the runner SIGKILLs, as a kubelet would).
//
// Pods here share the host's network (buildah chroot isolation), where a cluster gives each its
// own: each replica's `--listen` port becomes a free port (the one change to the generated spec).
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { test } from 'node:test';
import type { IDeployment } from 'kubernetes-models/apps/v1';
import type { IIoK8sApiCoreV1PodSpec } from 'kubernetes-models/v1';
import { normalizeSerial, probeServedSerial } from '../../src/deploy/kubernetes-reload/tls-probe.js';
import { DECK_NAMES as NAMES, startDeckCluster } from '../harness/deck-cluster.js';
import { fetchBuffered } from '../harness/http.js';
import { requireApache } from '../harness/kube-fixtures.js';
import { preparePod, type RunningPod } from '../harness/pod-runner.js';
import { freePort } from '../harness/ports.js';
import { requirePebble, requireServer } from '../harness/servers.js';

/** Polls `check` until it returns a value (bounded; never a fixed sleep). */
async function eventually<T>(what: string, check: () => Promise<T | undefined> | T | undefined, timeoutMs: number, log: () => string = () => ''): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs / 1000} s\n${log()}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

const now = (): string => new Date().toISOString().replace('Z', '000Z');

void test('--mode daemon: two replicas of the generated Deployment with the Lease make one order, patch the Secret, reload and verify every pod; /healthz answers; SIGTERM exits 0 in the grace period', { timeout: 900_000 }, async (t) => {
  if (!requirePebble(t, '2.4') || !requireServer(t, 'redis-server') || !requireApache(t)) return;
  const { runtime, standin, objects, cluster, orders } = await startDeckCluster(t, ['--mode', 'daemon', '--state', 'secret']);
  if (!runtime.inImage) t.todo(`the pods ran on the host, not in the image: ${runtime.fallbackReason}`);
  const deployment = objects.find((o) => o.kind === 'Deployment' && o.metadata.name === 'certpilot') as unknown as IDeployment;
  const spec = deployment.spec?.template.spec as IIoK8sApiCoreV1PodSpec;
  assert.equal(deployment.spec?.replicas, 2, 'the generated Deployment runs two replicas');
  const container = spec.containers[0];
  assert.ok(container?.readinessProbe?.httpGet);
  const probe = container.readinessProbe.httpGet;
  const containerPort = container.ports?.find((p) => p.name === probe.port)?.containerPort;
  assert.ok(containerPort, `the probe's port ${String(probe.port)} is a named container port`);
  const grace = spec.terminationGracePeriodSeconds ?? 30;

  // Someone else holds the certificate's Lease while the replicas start.
  standin.putLease('certpilot-www', { holderIdentity: 'other_holder', leaseDurationSeconds: 300, acquireTime: now(), renewTime: now() });

  const replicas: { pod: RunningPod; port: number }[] = [];
  t.after(async () => {
    for (const { pod } of replicas) await pod.stop('SIGKILL', 1).catch(() => undefined);
  });
  for (let i = 0; i < 2; i++) {
    const port = await freePort();
    const args = (container.args ?? []).map((a) => (a.endsWith(`:${containerPort}`) ? `127.0.0.1:${port}` : a));
    assert.notDeepEqual(args, container.args, 'the --listen address is the container port');
    const pod = await preparePod({ ...spec, containers: [{ ...container, args }] }, cluster, runtime);
    replicas.push({ pod: pod.start(), port });
  }
  const logs = (): string => replicas.map(({ pod }, i) => `--- replica ${i + 1}\n${pod.output().stdout}\n${pod.output().stderr}`).join('\n');

  // /healthz of the container's probe answers on each pod.
  for (const { port } of replicas) {
    const res = await eventually('/healthz', async () => {
      const r = await fetchBuffered(`http://127.0.0.1:${port}${probe.path ?? '/'}`).catch(() => undefined);
      return r?.status === 200 ? r : undefined;
    }, 60_000, logs);
    assert.equal(res.text, 'ok\n');
  }

  // Both replicas find the Lease held (the same Lease) and make no order.
  for (const [i, { pod }] of replicas.entries()) {
    await eventually(`replica ${i + 1} logs www as locked`, () => (/"ran":"www:locked"/.test(pod.output().stdout + pod.output().stderr) ? true : undefined), 60_000, logs);
  }
  assert.equal(orders(), 0, 'no order while the Lease is held elsewhere');

  // Released: one replica issues, the Secret holds the new certificate, every apache pod serves it.
  standin.putLease('certpilot-www', { holderIdentity: '', leaseDurationSeconds: 300 });
  const leaf = await eventually(
    'the Secret holds the new certificate',
    () => {
      const pem = standin.secretData('www-certificate')['tls.crt'];
      const cert = pem ? new X509Certificate(pem) : undefined;
      return cert && NAMES.every((n) => cert.subjectAltName?.includes(`DNS:${n}`)) ? cert : undefined;
    },
    240_000,
    logs,
  );
  const serial = normalizeSerial(leaf.serialNumber);
  for (const name of standin.podNames()) {
    const { ip } = standin.podAddress(name);
    await eventually(`${name} serves the new certificate`, async () => ((await probeServedSerial({ host: ip, port: standin.podPort, serverName: NAMES[0] as string, timeoutMs: 5000 }).catch(() => undefined)) === serial ? true : undefined), 60_000, logs);
  }
  await eventually('a replica reports www issued', () => (/"ran":"www:issued"/.test(logs()) ? true : undefined), 60_000, logs);
  assert.equal(orders(), 1, `exactly one order across both replicas\n${logs()}`);

  // SIGTERM: each replica exits 0 within the grace period.
  for (const [i, { pod }] of replicas.entries()) {
    const stopped = await pod.stop('SIGTERM', grace);
    assert.deepEqual({ code: stopped.code, killed: stopped.killed }, { code: 0, killed: false }, `replica ${i + 1} on SIGTERM\n${stopped.stdout}\n${stopped.stderr}`);
  }
  assert.equal(orders(), 1);
});
