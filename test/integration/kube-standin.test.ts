// The Kubernetes stand-in against the real kubectl (get, patch in three types, apply --server-side,
// exec over v5 and its authorization by HTTP method, Leases, auth can-i, the 1 MiB Secret limit,
// create never limited by name) and against client-node (exec over v4 when the server offers only
// v4): the stand-in must speak the API kubectl speaks, not a dialect of our own client.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { KubernetesClient } from '../../src/kubernetes/kubernetes-client.js';
import { requireApache, startStandinWithPods, storedCertificate } from '../harness/kube-fixtures.js';
import { MAX_SECRET_SIZE, startKubeStandin } from '../harness/kube-standin.js';
import { requireServer } from '../harness/servers.js';

const run = promisify(execFile);
const KUBECTL = '/usr/bin/kubectl';

async function kubectl(kubeconfig: string, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(KUBECTL, ['--kubeconfig', kubeconfig, ...args], { timeout: 30_000 });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof err.code === 'number' ? err.code : 1, stdout: err.stdout ?? '', stderr: err.stderr ?? '' };
  }
}

const b64 = (s: string): string => Buffer.from(s).toString('base64');

void test('kubectl gets, patches (strategic, merge, json) and server-side applies a Secret on the stand-in; applies keep other managers\' keys', { timeout: 60_000 }, async (t) => {
  if (!requireServer(t, KUBECTL, 'kubectl from the machine image or Debian `kubernetes-client`')) return;
  const standin = await startKubeStandin();
  try {
    standin.putSecret('www', { 'tls.crt': 'old', other: 'keep' }, { labels: { team: 'web' } });
    const kc = await standin.writeKubeconfig();
    const got = await kubectl(kc, 'get', 'secret', 'www', '-o', 'json');
    assert.equal(got.code, 0, got.stderr);
    const obj = JSON.parse(got.stdout) as { data: Record<string, string>; metadata: { labels: Record<string, string> } };
    assert.equal(Buffer.from(obj.data.other ?? '', 'base64').toString(), 'keep');
    assert.deepEqual(obj.metadata.labels, { team: 'web' });

    assert.equal((await kubectl(kc, 'patch', 'secret', 'www', '-p', JSON.stringify({ data: { a: b64('A') } }))).code, 0);
    assert.equal((await kubectl(kc, 'patch', 'secret', 'www', '--type=merge', '-p', JSON.stringify({ data: { b: b64('B') } }))).code, 0);
    assert.equal((await kubectl(kc, 'patch', 'secret', 'www', '--type=json', '-p', JSON.stringify([{ op: 'remove', path: '/data/b' }]))).code, 0);
    assert.deepEqual(standin.secretData('www'), { 'tls.crt': 'old', other: 'keep', a: 'A' });
    const types = standin.requests.filter((r) => r.method === 'PATCH').map((r) => r.contentType);
    assert.deepEqual(types, ['application/strategic-merge-patch+json', 'application/merge-patch+json', 'application/json-patch+json']);

    // A stale resourceVersion precondition is a 409, as kubectl reports it.
    const stale = await kubectl(kc, 'patch', 'secret', 'www', '--type=merge', '-p', JSON.stringify({ metadata: { resourceVersion: '1' }, data: { c: b64('C') } }));
    assert.notEqual(stale.code, 0);
    assert.match(stale.stderr, /the object has been modified/);

    // Server-side apply by kubectl: its key is added, everyone else's stay; a second apply without
    // the key removes only it.
    const manifest = join(standin.dir, 'apply.yaml');
    await writeFile(manifest, 'apiVersion: v1\nkind: Secret\nmetadata:\n  name: www\n  labels:\n    applied: "yes"\nstringData:\n  mine: hello\n');
    const applied = await kubectl(kc, 'apply', '--server-side', '--validate=false', '-f', manifest);
    assert.equal(applied.code, 0, applied.stderr);
    assert.match(applied.stdout, /serverside-applied/);
    assert.deepEqual(standin.secretData('www'), { 'tls.crt': 'old', other: 'keep', a: 'A', mine: 'hello' });
    await writeFile(manifest, 'apiVersion: v1\nkind: Secret\nmetadata:\n  name: www\nstringData:\n  mine2: x\n');
    assert.equal((await kubectl(kc, 'apply', '--server-side', '--validate=false', '-f', manifest)).code, 0);
    assert.deepEqual(standin.secretData('www'), { 'tls.crt': 'old', other: 'keep', a: 'A', mine2: 'x' });
    const labels = (standin.secret('www')?.metadata as { labels: Record<string, string> }).labels;
    assert.deepEqual(labels, { team: 'web' });

    // Taking over a key another manager wrote is a conflict unless forced.
    await writeFile(manifest, 'apiVersion: v1\nkind: Secret\nmetadata:\n  name: www\nstringData:\n  a: mine-now\n');
    const conflict = await kubectl(kc, 'apply', '--server-side', '--validate=false', '-f', manifest);
    assert.notEqual(conflict.code, 0);
    assert.match(conflict.stderr, /conflict with "kubectl-patch"/);
    assert.equal((await kubectl(kc, 'apply', '--server-side', '--force-conflicts', '--validate=false', '-f', manifest)).code, 0);
    assert.equal(standin.secretData('www').a, 'mine-now');
  } finally {
    await standin.stop();
  }
});

void test('kubectl is refused with the real 403 Status when the Role lacks the verb', { timeout: 60_000 }, async (t) => {
  if (!requireServer(t, KUBECTL, 'kubectl from the machine image or Debian `kubernetes-client`')) return;
  const standin = await startKubeStandin({ rules: [{ verbs: ['get'], resources: ['secrets'], resourceNames: ['www'] }] });
  try {
    standin.putSecret('www', { a: 'b' });
    const kc = await standin.writeKubeconfig();
    assert.equal((await kubectl(kc, 'get', 'secret', 'www', '-o', 'name')).code, 0);
    const denied = await kubectl(kc, 'patch', 'secret', 'www', '-p', '{"data":{"x":"eA=="}}');
    assert.notEqual(denied.code, 0);
    assert.match(denied.stderr, /secrets "www" is forbidden: User "system:serviceaccount:default:certpilot" cannot patch resource "secrets" in API group "" in the namespace "default"/);
    const other = await kubectl(kc, 'get', 'secret', 'other', '-o', 'name');
    assert.match(other.stderr, /cannot get resource "secrets"/);
    const badToken = await standin.writeKubeconfig('wrong-token');
    assert.match((await kubectl(badToken, 'get', 'secret', 'www')).stderr, /Unauthorized|provide credentials/);
  } finally {
    await standin.stop();
  }
});

void test('kubectl lists pods by selector and execs in an apache pod over v5: output, exit code, graceful reload; the mounted Secret follows updates', { timeout: 90_000 }, async (t) => {
  if (!requireServer(t, KUBECTL, 'kubectl from the machine image or Debian `kubernetes-client`') || !requireApache(t)) return;
  const initial = storedCertificate(1);
  const standin = await startStandinWithPods({ pods: 2, initial, projectionDelayMs: () => Infinity });
  try {
    standin.putSecret('unrelated', { a: 'b' });
    const kc = await standin.writeKubeconfig();
    const pods = await kubectl(kc, 'get', 'pods', '-l', 'app=www', '-o', 'name');
    assert.deepEqual(pods.stdout.trim().split('\n'), ['pod/www-0', 'pod/www-1']);
    assert.equal((await kubectl(kc, 'get', 'pods', '-l', 'app in (db,cache)', '-o', 'name')).stdout.trim(), '');

    const sum = await kubectl(kc, 'exec', 'www-0', '--', 'sha256sum', '/etc/ssl/certpilot/tls.crt');
    assert.equal(sum.code, 0, sum.stderr);
    const digest = createHash('sha256').update(initial.fullchainPem).digest('hex');
    assert.equal(sum.stdout, `${digest}  /etc/ssl/certpilot/tls.crt\n`);
    const fail = await kubectl(kc, 'exec', 'www-1', '--', 'sh', '-c', 'echo oops >&2; exit 3');
    assert.equal(fail.code, 3);
    assert.match(fail.stderr, /oops/);
    assert.equal((await kubectl(kc, 'exec', 'www-1', '--', 'apachectl', 'graceful')).code, 0);
    assert.ok(standin.execs.every((e) => e.protocol === 'v5.channel.k8s.io'));

    // kubelet-style projection: the mounted file changes only when the kubelet projects, via ..data.
    const next = storedCertificate(2);
    assert.equal((await kubectl(kc, 'patch', 'secret', 'www-certificate', '--type=merge', '-p', JSON.stringify({ data: { 'tls.crt': b64(next.fullchainPem), 'tls.key': b64(next.privateKeyPem) } }))).code, 0);
    const nextDigest = createHash('sha256').update(next.fullchainPem).digest('hex');
    const before = await kubectl(kc, 'exec', 'www-0', '--', 'sha256sum', '/etc/ssl/certpilot/tls.crt');
    assert.ok(before.stdout.startsWith(digest), 'not projected before the kubelet syncs');
    await standin.projectNow();
    const after = await kubectl(kc, 'exec', 'www-0', '--', 'sh', '-c', 'sha256sum /etc/ssl/certpilot/tls.crt; readlink /etc/ssl/certpilot/tls.crt /etc/ssl/certpilot/..data');
    const lines = after.stdout.trim().split('\n');
    assert.ok(lines[0]?.startsWith(nextDigest), after.stdout);
    assert.equal(lines[1], '..data/tls.crt');
    assert.match(lines[2] ?? '', /^\.\.\d{4}-/);
  } finally {
    await standin.stop();
  }
});

void test('client-node execs over v4 when the server offers only v4, and reads the exit code', { timeout: 60_000 }, async (t) => {
  if (!requireApache(t)) return;
  const standin = await startStandinWithPods({ pods: 1, initial: storedCertificate(1), execProtocols: ['v4.channel.k8s.io'] });
  try {
    const client = new KubernetesClient({ kubeconfig: await standin.writeKubeconfig(), apiServer: 'https://unused', serviceAccountDir: '/unused', requestTimeoutSeconds: 10 }, standin.dir);
    const ok = await client.exec('www-0', 'apache', ['cat', '/etc/ssl/certpilot/other']);
    assert.deepEqual(ok, { exitCode: 0, stdout: 'kept', stderr: '', protocol: 'v4.channel.k8s.io' });
    const bad = await client.exec('www-0', 'apache', ['sh', '-c', 'exit 7']);
    assert.equal(bad.exitCode, 7);
    await assert.rejects(client.exec('www-0', 'apache', ['no-such-binary']), (e: Error & { code?: string }) => e.code === 'ERR_KUBERNETES_EXEC' && /executable file not found/.test(e.message));
    standin.execProtocols = ['v5.channel.k8s.io', 'v4.channel.k8s.io'];
    assert.equal((await client.exec('www-0', 'apache', ['true'])).protocol, 'v5.channel.k8s.io');
  } finally {
    await standin.stop();
  }
});

void test('kubectl rollout restart replaces a Deployment\'s pods on the stand-in, as certpilot\'s restart does', { timeout: 90_000 }, async (t) => {
  if (!requireServer(t, KUBECTL, 'kubectl from the machine image or Debian `kubernetes-client`') || !requireApache(t)) return;
  const standin = await startStandinWithPods({ pods: 0, initial: storedCertificate(1) });
  try {
    standin.putWorkload('Deployment', 'web', { app: 'web' });
    await standin.addPod({ name: 'web-5d4f8c9b7-aaaaa', labels: { app: 'web' }, secretName: 'www-certificate', owner: { kind: 'Deployment', name: 'web' } });
    const kc = await standin.writeKubeconfig();
    const out = await kubectl(kc, 'rollout', 'restart', 'deployment/web');
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stdout, /deployment.apps\/web restarted/);
    await standin.rolloutsDone();
    const names = standin.podNames();
    assert.equal(names.length, 1);
    assert.notEqual(names[0], 'web-5d4f8c9b7-aaaaa');
    const patch = standin.requests.find((r) => r.method === 'PATCH' && r.resource === 'deployments');
    assert.equal(patch?.contentType, 'application/strategic-merge-patch+json');
  } finally {
    await standin.stop();
  }
});

void test('kubectl on Leases: MicroTime with six fractional digits only, resourceVersion conflicts on replace, AlreadyExists on create', { timeout: 60_000 }, async (t) => {
  if (!requireServer(t, KUBECTL, 'kubectl from the machine image or Debian `kubernetes-client`')) return;
  const standin = await startKubeStandin();
  try {
    const kc = await standin.writeKubeconfig();
    const file = join(standin.dir, 'lease.yaml');
    const lease = (renewTime: string, extra = ''): string =>
      `apiVersion: coordination.k8s.io/v1\nkind: Lease\nmetadata:\n  name: certpilot-www\n${extra}spec:\n  holderIdentity: pod-a\n  leaseDurationSeconds: 60\n  acquireTime: "${renewTime}"\n  renewTime: "${renewTime}"\n  leaseTransitions: 0\n`;
    await writeFile(file, lease('2026-05-01T00:00:00.000Z'));
    const millis = await kubectl(kc, 'create', '--validate=false', '-f', file);
    assert.notEqual(millis.code, 0, 'a MicroTime with millisecond precision is refused, as by metav1.MicroTime');
    assert.match(millis.stderr, /cannot be handled as a Lease: parsing time "2026-05-01T00:00:00.000Z"/);
    await writeFile(file, lease('2026-05-01T00:00:00.000000Z'));
    const created = await kubectl(kc, 'create', '--validate=false', '-f', file);
    assert.equal(created.code, 0, created.stderr);
    const again = await kubectl(kc, 'create', '--validate=false', '-f', file);
    assert.match(again.stderr, /leases.coordination.k8s.io "certpilot-www" already exists/);
    const got = JSON.parse((await kubectl(kc, 'get', 'lease', 'certpilot-www', '-o', 'json')).stdout) as { metadata: { resourceVersion: string }; spec: { holderIdentity: string } };
    assert.equal(got.spec.holderIdentity, 'pod-a');
    // Replace with the current resourceVersion succeeds; with the old one, 409.
    await writeFile(file, lease('2026-05-01T00:00:20.000000Z', `  resourceVersion: "${got.metadata.resourceVersion}"\n`));
    assert.equal((await kubectl(kc, 'replace', '--validate=false', '-f', file)).code, 0);
    const stale = await kubectl(kc, 'replace', '--validate=false', '-f', file);
    assert.notEqual(stale.code, 0);
    assert.match(stale.stderr, /Operation cannot be fulfilled on leases.coordination.k8s.io "certpilot-www": the object has been modified/);
    assert.equal((await kubectl(kc, 'delete', 'lease', 'certpilot-www')).code, 0);
  } finally {
    await standin.stop();
  }
});

void test('kubectl auth can-i is answered from the stand-in\'s rules (SelfSubjectAccessReview); create is never limited by resourceNames', { timeout: 60_000 }, async (t) => {
  if (!requireServer(t, KUBECTL, 'kubectl from the machine image or Debian `kubernetes-client`')) return;
  const standin = await startKubeStandin({
    rules: [
      { apiGroups: [''], verbs: ['get', 'create'], resources: ['secrets'], resourceNames: ['www'] },
      { apiGroups: [''], verbs: ['create'], resources: ['pods/exec'] },
      { apiGroups: ['coordination.k8s.io'], verbs: ['update'], resources: ['leases'], resourceNames: ['certpilot-www'] },
    ],
  });
  try {
    const kc = await standin.writeKubeconfig();
    const canI = async (...args: string[]): Promise<string> => (await kubectl(kc, 'auth', 'can-i', ...args)).stdout.trim();
    assert.equal(await canI('get', 'secrets/www'), 'yes');
    assert.equal(await canI('get', 'secrets/other'), 'no');
    assert.equal(await canI('get', 'secrets'), 'no', 'a rule with resourceNames does not allow every object');
    assert.equal(await canI('create', 'pods', '--subresource=exec'), 'yes');
    assert.equal(await canI('get', 'pods', '--subresource=exec'), 'no');
    assert.equal(await canI('update', 'leases.coordination.k8s.io/certpilot-www'), 'yes');
    assert.equal(await canI('update', 'leases/certpilot-www'), 'yes');
    assert.equal(await canI('update', 'leases.coordination.k8s.io/certpilot-api'), 'no');
    assert.ok(standin.requests.some((r) => r.resource === 'selfsubjectaccessreviews' && r.status === 201));
    // `create` names no object at authorization time: the resourceNames rule does not allow it.
    const manifest = join(standin.dir, 'www.json');
    await writeFile(manifest, JSON.stringify({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'www' }, data: { a: b64('b') } }));
    const create = await kubectl(kc, 'create', '--validate=false', '-f', manifest);
    assert.notEqual(create.code, 0);
    assert.match(create.stderr, /cannot create resource "secrets"/);
  } finally {
    await standin.stop();
  }
});

void test('kubectl exec is authorized by HTTP method: the WebSocket GET as get (and create on 1.35+), the SPDY POST it falls back to as create', { timeout: 90_000 }, async (t) => {
  if (!requireServer(t, KUBECTL, 'kubectl from the machine image or Debian `kubernetes-client`') || !requireApache(t)) return;
  const standin = await startStandinWithPods({ pods: 1, initial: storedCertificate(1), rules: [{ verbs: ['list', 'get'], resources: ['pods'] }, { verbs: ['create'], resources: ['pods/exec'] }] });
  try {
    const kc = await standin.writeKubeconfig();
    // The deck's Role: `create` only. The WebSocket upgrade is refused as `get`; kubectl falls back
    // to SPDY, a POST, which the Role allows (and which the stand-in does not speak).
    const deck = await kubectl(kc, 'exec', 'www-0', '--', 'true');
    assert.notEqual(deck.code, 0);
    const execs = standin.requests.filter((r) => r.resource === 'pods/exec').map((r) => `${r.method} ${r.verb} ${r.status}`);
    assert.equal(execs[0], 'GET get 403', execs.join(', '));
    assert.ok(execs.some((e) => e.startsWith('POST create') && !e.endsWith('403')), `the SPDY POST is authorized as create: ${execs.join(', ')}`);
    assert.equal(standin.execs.length, 0);

    // 1.35+: `get` alone is not enough for the WebSocket upgrade.
    standin.rules = [{ verbs: ['list', 'get'], resources: ['pods'] }, { verbs: ['get'], resources: ['pods/exec'] }];
    standin.requests.length = 0;
    const getOnly = await kubectl(kc, 'exec', 'www-0', '--', 'true');
    assert.notEqual(getOnly.code, 0);
    assert.equal(standin.requests.find((r) => r.resource === 'pods/exec')?.verb, 'create');
    // Before 1.35 it was.
    standin.execRequiresCreate = false;
    assert.equal((await kubectl(kc, 'exec', 'www-0', '--', 'true')).code, 0);
    // Both verbs: every version.
    standin.execRequiresCreate = true;
    standin.rules = [{ verbs: ['list', 'get'], resources: ['pods'] }, { verbs: ['get', 'create'], resources: ['pods/exec'] }];
    assert.equal((await kubectl(kc, 'exec', 'www-0', '--', 'true')).code, 0);
  } finally {
    await standin.stop();
  }
});

void test('kubectl: a Secret over 1 MiB is refused with 422 "Too long"; exactly 1 MiB is stored', { timeout: 60_000 }, async (t) => {
  if (!requireServer(t, KUBECTL, 'kubectl from the machine image or Debian `kubernetes-client`')) return;
  const standin = await startKubeStandin();
  try {
    const kc = await standin.writeKubeconfig();
    const file = join(standin.dir, 'big.json');
    // `kubectl create -f` sends JSON (its `create secret` generator sends protobuf, which the stand-in refuses).
    const secret = (bytes: number): string => JSON.stringify({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'big' }, data: { blob: Buffer.alloc(bytes, 0x61).toString('base64') } });
    await writeFile(file, secret(MAX_SECRET_SIZE + 1));
    const big = await kubectl(kc, 'create', '--validate=false', '-f', file);
    assert.notEqual(big.code, 0);
    assert.match(big.stderr, /Secret "big" is invalid: data: Too long: must have at most 1048576 bytes/);
    await writeFile(file, secret(MAX_SECRET_SIZE));
    const fits = await kubectl(kc, 'create', '--validate=false', '-f', file);
    assert.equal(fits.code, 0, fits.stderr);
    assert.equal(standin.secretData('big').blob?.length, MAX_SECRET_SIZE);
  } finally {
    await standin.stop();
  }
});

void test('kubectl against the stand-in\'s Secrets-as-state rules: list by label, AlreadyExists on create, 409 on a stale replace and on a delete precondition, 422 "Too long" over 1 MiB', { timeout: 60_000 }, async (t) => {
  if (!requireServer(t, KUBECTL, 'kubectl from the machine image or Debian `kubernetes-client`')) return;
  const standin = await startKubeStandin();
  try {
    const kc = await standin.writeKubeconfig();
    standin.putSecret('state-a', { x: '1' }, { labels: { 'app.kubernetes.io/managed-by': 'certpilot', 'certpilot.io/state': 'certificate' } });
    standin.putSecret('deployed', { y: '2' }, { labels: { 'app.kubernetes.io/managed-by': 'certpilot' } });
    standin.putSecret('foreign', { z: '3' });
    const listed = await kubectl(kc, 'get', 'secrets', '-l', 'app.kubernetes.io/managed-by=certpilot,certpilot.io/state', '-o', 'name');
    assert.equal(listed.code, 0, listed.stderr);
    assert.deepEqual(listed.stdout.trim().split('\n'), ['secret/state-a']);
    assert.deepEqual((await kubectl(kc, 'get', 'secrets', '-l', 'app.kubernetes.io/managed-by=certpilot', '-o', 'name')).stdout.trim().split('\n').sort(), ['secret/deployed', 'secret/state-a']);

    // `kubectl create secret generic` sends protobuf, which the stand-in does not speak: create from JSON.
    const manifest = async (name: string, data: Record<string, string>): Promise<string> => {
      const f = join(standin.dir, `${name}.json`);
      await writeFile(f, JSON.stringify({ apiVersion: 'v1', kind: 'Secret', metadata: { name }, type: 'Opaque', data }));
      return f;
    };
    const again = await kubectl(kc, 'create', '--validate=false', '-f', await manifest('state-a', { x: b64('2') }));
    assert.notEqual(again.code, 0);
    assert.match(again.stderr, /AlreadyExists|already exists/);

    // A replace carrying a resourceVersion another writer has moved past is a 409.
    const got = JSON.parse((await kubectl(kc, 'get', 'secret', 'state-a', '-o', 'json')).stdout) as { metadata: Record<string, unknown>; data: Record<string, string> };
    standin.touchSecret('state-a', { annotations: { other: 'writer' } });
    const file = join(standin.dir, 'stale.json');
    await writeFile(file, JSON.stringify({ ...got, data: { x: b64('stale') } }));
    const stale = await kubectl(kc, 'replace', '--validate=false', '-f', file);
    assert.notEqual(stale.code, 0);
    assert.match(stale.stderr, /the object has been modified/);
    assert.equal(standin.secretData('state-a').x, '1', 'the stale replace changed nothing');

    // DELETE with DeleteOptions.preconditions: kubectl has no flag for them (`delete --raw` sends no
    // body), so the real client-node sends them, as the state store does.
    const rv = String((standin.secret('state-a')?.metadata as Record<string, unknown>).resourceVersion);
    const client = new KubernetesClient({ kubeconfig: kc, apiServer: 'https://unused', serviceAccountDir: '/unused', requestTimeoutSeconds: 10 }, standin.dir);
    await assert.rejects(client.deleteSecret('state-a', '1'), (e: Error & { code?: string }) => e.code === 'ERR_KUBERNETES_CONFLICT' && /Precondition failed/.test(e.message));
    assert.ok(standin.secret('state-a'), 'a failed precondition deletes nothing');
    await client.deleteSecret('state-a', rv);
    assert.equal(standin.secret('state-a'), undefined);
    assert.equal((await kubectl(kc, 'get', 'secret', 'state-a', '-o', 'name')).code, 1, 'kubectl sees it gone');

    const tooLong = await kubectl(kc, 'create', '--validate=false', '-f', await manifest('big', { big: Buffer.alloc(1024 * 1024 + 1, 1).toString('base64') }));
    assert.notEqual(tooLong.code, 0);
    assert.match(tooLong.stderr, /Too long: must have at most 1048576 bytes/);
    assert.equal(standin.secret('big'), undefined);
    assert.equal((await kubectl(kc, 'create', '--validate=false', '-f', await manifest('big', { big: Buffer.alloc(1024 * 1024, 1).toString('base64') }))).code, 0, 'exactly 1 MiB is allowed');
  } finally {
    await standin.stop();
  }
});
