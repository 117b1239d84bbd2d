import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import type { CertpilotError } from '../errors.js';
import { tempDir } from '../testing/temp-dir.js';
import { KubernetesClient, kubernetesError, rbacHint } from './kubernetes-client.js';

const options = { apiServer: 'https://kubernetes.default.svc', serviceAccountDir: '/nonexistent', requestTimeoutSeconds: 5 };
const forbidden = (message: string): unknown => ({ code: 403, body: JSON.stringify({ kind: 'Status', status: 'Failure', reason: 'Forbidden', code: 403, message }) });

void test('a 403 names the verb the authorizer refused and hints the Role rule', () => {
  const e = kubernetesError(forbidden('secrets "www" is forbidden: User "system:serviceaccount:ns:sa" cannot create resource "secrets" in API group "" in the namespace "ns"'), { verb: 'patch', resource: 'secrets', name: 'www' }, 'ns');
  assert.equal(e.code, 'ERR_KUBERNETES_FORBIDDEN');
  assert.match(e.message, /^kubernetes: patch secrets\/www in namespace ns: forbidden: the service account may not create secrets "www" \(secrets "www" is forbidden/);
  assert.equal(e.hint, 'grant the service account { apiGroups: [""], resources: ["secrets"], verbs: ["create"] } in a Role (docs/kubernetes.md lists each plug-in\'s Role; `certpilot kubernetes check` lists every missing rule).');
  assert.equal(e.retryable, false);
});

void test('a refused WebSocket upgrade (status line only) maps like a response', () => {
  const e = kubernetesError(new Error('Unexpected server response: 403'), { verb: 'create', resource: 'pods/exec', name: 'www-0' }, 'ns');
  assert.equal(e.code, 'ERR_KUBERNETES_FORBIDDEN');
  // A refused connection is the same failure as no answer in time: unreachable (exit 75), not an API error.
  const n = kubernetesError(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }), { verb: 'get', resource: 'secrets', name: 'x' }, 'ns');
  assert.equal(n.code, 'ERR_KUBERNETES_UNREACHABLE');
  assert.equal(n.retryable, true);
  assert.match(n.message, /ECONNREFUSED/);
  assert.equal(kubernetesError({ code: 409, body: '{}' }, { verb: 'patch', resource: 'secrets' }, 'ns').code, 'ERR_KUBERNETES_CONFLICT');
  assert.equal(kubernetesError({ code: 503, body: undefined }, { verb: 'list', resource: 'pods' }, 'ns').retryable, true);
});

void test('an exec hint says a WebSocket exec needs get (and create on 1.35+), and names no pod', () => {
  const hint = rbacHint({ verb: 'get', resource: 'pods/exec', name: 'www-0' });
  assert.match(hint, /resources: \["pods\/exec"\], verbs: \["get"\] \}/);
  assert.doesNotMatch(hint, /resourceNames/);
  assert.match(hint, /authorize it as `get` on pods\/exec, and from Kubernetes 1.35 also as `create`; grant both/);
});

void test('rbacHint limits get/patch to the object and not list or create', () => {
  assert.match(rbacHint({ verb: 'patch', resource: 'deployments', name: 'web', group: 'apps' }), /apiGroups: \["apps"\], resources: \["deployments"\], verbs: \["patch"\], resourceNames: \["web"\]/);
  assert.doesNotMatch(rbacHint({ verb: 'list', resource: 'pods', name: 'x' }), /resourceNames/);
});

void test('configuration: namespace from the kubeconfig context, an override, or the service account; clear errors', async () => {
  const dir = await tempDir();
  const kc = join(dir, 'kubeconfig');
  await writeFile(kc, ['apiVersion: v1', 'kind: Config', 'clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]', 'users: [{name: u, user: {token: t}}]', 'contexts: [{name: a, context: {cluster: c, user: u, namespace: apps}}, {name: b, context: {cluster: c, user: u}}]', 'current-context: a', ''].join('\n'));
  assert.equal(new KubernetesClient({ ...options, kubeconfig: 'kubeconfig' }, dir).namespace, 'apps');
  assert.equal(new KubernetesClient({ ...options, kubeconfig: kc, context: 'b' }, dir).namespace, 'default');
  assert.equal(new KubernetesClient({ ...options, kubeconfig: kc, namespace: 'x' }, dir).namespace, 'x');
  assert.throws(() => new KubernetesClient({ ...options, kubeconfig: kc, context: 'nope' }, dir), (e: CertpilotError) => e.code === 'ERR_KUBERNETES_CONFIG' && /no context named nope/.test(e.message) && /a, b/.test(e.hint));
  assert.throws(() => new KubernetesClient({ ...options, kubeconfig: 'missing' }, dir), (e: CertpilotError) => e.code === 'ERR_KUBERNETES_CONFIG');
  assert.throws(() => new KubernetesClient(options, dir), (e: CertpilotError) => e.code === 'ERR_KUBERNETES_CONFIG' && /service account token \/nonexistent\/token: ENOENT/.test(e.message));
  const sa = join(dir, 'sa');
  await mkdir(sa);
  await writeFile(join(sa, 'token'), 'tok\n');
  await writeFile(join(sa, 'namespace'), 'certs');
  await writeFile(join(sa, 'ca.crt'), '');
  assert.equal(new KubernetesClient({ ...options, serviceAccountDir: sa }, dir).namespace, 'certs');

  // Like kubectl, $KUBECONFIG outside a cluster when the plug-in names no kubeconfig; in a pod
  // (KUBERNETES_SERVICE_HOST set) the service account, whatever KUBECONFIG says.
  assert.equal(new KubernetesClient(options, dir, { KUBECONFIG: `:${kc}:/other` }).namespace, 'apps');
  assert.equal(new KubernetesClient({ ...options, serviceAccountDir: sa }, dir, { KUBECONFIG: kc, KUBERNETES_SERVICE_HOST: '10.0.0.1', KUBERNETES_SERVICE_PORT: '443' }).namespace, 'certs');
  assert.throws(() => new KubernetesClient({ ...options, context: 'nope' }, dir, { KUBECONFIG: kc }), (e: CertpilotError) => /\$KUBECONFIG .*: no context named nope/.test(e.message));
  assert.throws(() => new KubernetesClient(options, dir, {}), (e: CertpilotError) => /set KUBECONFIG/.test(e.hint));
});

void test('TLS to the API server is always verified: a kubeconfig skipping it is refused, NODE_TLS_REJECT_UNAUTHORIZED=0 is ignored', async () => {
  const dir = await tempDir();
  const skip = join(dir, 'skip');
  await writeFile(skip, ['apiVersion: v1', 'kind: Config', 'clusters: [{name: c, cluster: {server: "https://127.0.0.1:1", insecure-skip-tls-verify: true}}]', 'users: [{name: u, user: {token: t}}]', 'contexts: [{name: a, context: {cluster: c, user: u}}]', 'current-context: a', ''].join('\n'));
  assert.throws(() => new KubernetesClient({ ...options, kubeconfig: skip }, dir), (e: CertpilotError) => e.code === 'ERR_KUBERNETES_CONFIG' && /insecure-skip-tls-verify/.test(e.message));

  // An API server whose certificate the kubeconfig does not trust.
  const { createServer } = await import('node:https');
  const { makeTestBundle } = await import('../testing/certificate-fixtures.js');
  const bundle = makeTestBundle({ domains: ['localhost'] });
  let answered = 0;
  const server = createServer({ cert: bundle.certPem, key: bundle.privateKeyPem }, (_req, res) => {
    answered++;
    res.writeHead(404, { 'content-type': 'application/json' }).end('{"kind":"Status","code":404}');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  const kc = join(dir, 'untrusted');
  await writeFile(kc, ['apiVersion: v1', 'kind: Config', `clusters: [{name: c, cluster: {server: "https://localhost:${port}"}}]`, 'users: [{name: u, user: {token: t}}]', 'contexts: [{name: a, context: {cluster: c, user: u, namespace: ns}}]', 'current-context: a', ''].join('\n'));
  const before = process.env.NODE_TLS_REJECT_UNAUTHORIZED;
  process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0';
  try {
    await assert.rejects(new KubernetesClient({ ...options, kubeconfig: kc }, dir).getSecret('www'), (e: CertpilotError) => e.code === 'ERR_KUBERNETES_API' && /UNABLE_TO_VERIFY_LEAF_SIGNATURE|certificate|self[- ]signed|local issuer/i.test(e.message));
    assert.equal(answered, 0, 'no request reached the untrusted server');
  } finally {
    if (before === undefined) delete process.env.NODE_TLS_REJECT_UNAUTHORIZED;
    else process.env.NODE_TLS_REJECT_UNAUTHORIZED = before;
    server.close();
  }
});

/** A kubeconfig file in `dir` naming the API server at 127.0.0.1:`port`. */
async function kubeconfigFor(dir: string, port: number, name = 'kubeconfig'): Promise<string> {
  const file = join(dir, name);
  await writeFile(file, ['apiVersion: v1', 'kind: Config', `clusters: [{name: c, cluster: {server: "https://127.0.0.1:${port}"}}]`, 'users: [{name: u, user: {token: t}}]', 'contexts: [{name: a, context: {cluster: c, user: u, namespace: ns}}]', 'current-context: a', ''].join('\n'));
  return file;
}

void test('a request with no answer is destroyed at its timeout: no connection to the silent server outlives it', async () => {
  const dir = await tempDir();
  const { createServer } = await import('node:net');
  const open = new Set<Socket>();
  let closed: () => void = () => undefined;
  const server = createServer((socket) => {
    // Read (and drop) what arrives, so the client's close is seen; never answer.
    socket.resume();
    open.add(socket);
    socket.on('close', () => {
      open.delete(socket);
      if (open.size === 0) closed();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  try {
    const client = new KubernetesClient({ ...options, requestTimeoutSeconds: 0.3, kubeconfig: await kubeconfigFor(dir, port) }, dir);
    await assert.rejects(client.getSecret('www'), (e: CertpilotError) => e.code === 'ERR_KUBERNETES_UNREACHABLE' && /no answer in 0\.3 s \(API server at https:\/\/127\.0\.0\.1:\d+\)/.test(e.message) && e.retryable);
    // The server never closes a connection: only the client can. Wait (bounded) for it to.
    if (open.size > 0) {
      await new Promise<void>((resolve) => {
        closed = resolve;
        setTimeout(resolve, 10_000).unref();
      });
    }
    assert.equal(open.size, 0, 'the timed-out request left its connection open');
  } finally {
    for (const s of open) s.destroy();
    server.close();
  }
});

void test('a refused connection is ERR_KUBERNETES_UNREACHABLE naming the API server', async () => {
  const dir = await tempDir();
  const { createServer } = await import('node:net');
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  await new Promise((r) => server.close(r));
  const client = new KubernetesClient({ ...options, kubeconfig: await kubeconfigFor(dir, port) }, dir);
  await assert.rejects(client.listSecrets('a=b'), (e: CertpilotError) => e.code === 'ERR_KUBERNETES_UNREACHABLE' && e.message.includes(`ECONNREFUSED (API server at https://127.0.0.1:${port})`));
});

void test('source names the kubeconfig really used: the field, $KUBECONFIG outside a pod, else the service account', async () => {
  const dir = await tempDir();
  const file = await kubeconfigFor(dir, 1);
  const sa = join(dir, 'sa');
  await mkdir(sa);
  await writeFile(join(sa, 'token'), 't');
  const inCluster = { ...options, serviceAccountDir: sa };
  assert.equal(new KubernetesClient(inCluster, dir, { KUBECONFIG: file }).source, `$KUBECONFIG ${file}`);
  assert.equal(new KubernetesClient({ ...inCluster, kubeconfig: file, context: 'a' }, dir).source, `kubeconfig ${file}, context a`);
  // In a pod (KUBERNETES_SERVICE_HOST set) $KUBECONFIG is not read, as kubectl's in-cluster rule.
  assert.equal(new KubernetesClient(inCluster, dir, { KUBECONFIG: file, KUBERNETES_SERVICE_HOST: '10.0.0.1', KUBERNETES_SERVICE_PORT: '443' }).source, `in-cluster service account ${sa}`);
});
