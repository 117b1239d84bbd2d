// What `kubernetes check` asks about is what the configured plug-ins declare, per instance: only
// instances a certificate uses, the Lease names of the certificates, a rollout restart named or
// found from the pods, and a token store's self-check through pods (declared by its wrapper).
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadConfig } from '../config/load-config.js';
import { tempDir } from '../testing/temp-dir.js';
import { kubernetesNeeds, permissionsOf } from './platform-needs.js';

async function config(yaml: string): Promise<Awaited<ReturnType<typeof loadConfig>>> {
  const dir = await tempDir();
  const file = join(dir, 'certpilot.yaml');
  await writeFile(file, yaml);
  return loadConfig({ file, cwd: dir, env: {} });
}

test('each configured Kubernetes plug-in declares its rules; unused instances ask nothing', async () => {
  const c = await config(`
solvers:
  pods: { type: redis, url: "redis://r:6379", selfCheck: { pods: { selector: app=www, namespace: web } } }
deployers:
  secret: { type: kubernetes-secret, secretName: www-tls }
  reload:
    type: kubernetes-reload
    secretName: www-tls
    groups:
      - { selector: app=www, command: [apachectl, graceful] }
      - { selector: app=xmpp, rolloutRestart: { kind: StatefulSet, name: xmpp } }
  unused: { type: kubernetes-secret, secretName: other }
locker: { type: lease, namespace: locks }
certificates:
  - { name: www, domains: [www.example.com], solver: pods, deploy: [secret, reload] }
  - { name: Api_1, domains: [api.example.com], solver: pods }
`);
  const needs = kubernetesNeeds(c);
  assert.deepEqual(needs.map((n) => n.instance), ['solver pods', 'deployer secret', 'deployer reload', 'locker']);
  const perms = (instance: string): string[] =>
    permissionsOf(needs.find((n) => n.instance === instance)?.rules ?? []).map((p) => `${p.verb} ${p.group}/${p.resource}${p.name ? `/${p.name}` : ''}`);
  assert.deepEqual(perms('solver pods'), ['list /pods']);
  assert.equal(needs.find((n) => n.instance === 'solver pods')?.connection.namespace, 'web');
  assert.deepEqual(perms('deployer secret'), ['get /secrets/www-tls', 'patch /secrets/www-tls', 'create /secrets']);
  // The apply that creates the Secret is `create` (no name can limit it): needed only while the Secret is absent.
  assert.deepEqual(permissionsOf(needs.find((n) => n.instance === 'deployer secret')?.rules ?? []).find((p) => p.verb === 'create')?.untilSecretsExist, ['www-tls']);
  assert.deepEqual(perms('deployer reload'), ['get /secrets/www-tls', 'list /pods', 'get /pods/exec', 'create /pods/exec', 'patch apps/statefulsets/xmpp']);
  const lease = perms('locker');
  assert.ok(lease.includes('create coordination.k8s.io/leases'), 'create, never limited by name');
  assert.ok(lease.includes('update coordination.k8s.io/leases/certpilot-www'));
  assert.ok(lease.some((p) => /^get coordination\.k8s\.io\/leases\/certpilot-api-1-[0-9a-f]{10}$/.test(p)), `a name that is no DNS-1123 subdomain gets a hash: ${lease.join(', ')}`);
  assert.equal(needs.find((n) => n.instance === 'locker')?.connection.namespace, 'locks');
  assert.deepEqual(kubernetesNeeds(c, { only: ['unused'] }), [], 'an instance no certificate uses is not asked about');
  assert.equal(kubernetesNeeds(c, { only: ['unused'], all: true }).length, 1);
});

test('a file locker and no Kubernetes plug-in: nothing to ask', async () => {
  const c = await config('certificates: [{ domains: [a.example.com] }]\n');
  assert.deepEqual(kubernetesNeeds(c), []);
});

test('the kubernetes-secret state store asks for what its backend calls: create and list unnamed; get, update, delete on each certificate\'s and account\'s Secret', async () => {
  const c = await config(`
acme: { directoryUrl: "https://ca.example/dir", stagingDirectoryUrl: "https://ca.example/staging" }
stateStore: { type: kubernetes-secret, namespace: certs, secretPrefix: st }
certificates:
  - { name: www, domains: [www.example.com] }
  - { name: Api_1, domains: [api.example.com] }
`);
  const { accountSecretName, certificateSecretName } = await import('../storage/backends/kubernetes-secret/secret-name.js');
  const needs = kubernetesNeeds(c).filter((n) => n.instance === 'state store');
  assert.equal(needs.length, 1, 'the state store is asked about');
  assert.equal(needs[0]?.connection.namespace, 'certs');
  const perms = permissionsOf(needs[0]?.rules ?? []).map((p) => `${p.verb} ${p.resource}${p.name ? `/${p.name}` : ''}`);
  const named = [certificateSecretName('st', 'www'), certificateSecretName('st', 'Api_1'), accountSecretName('st', 'https://ca.example/dir'), accountSecretName('st', 'https://ca.example/staging')];
  assert.equal(certificateSecretName('st', 'www'), 'st-cert-www');
  assert.deepEqual(
    perms.sort(),
    ['create secrets', 'list secrets', ...named.flatMap((n) => ['get', 'update', 'delete'].map((v) => `${v} secrets/${n}`))].sort(),
  );
  // The filesystem store (the default) needs nothing from Kubernetes.
  assert.deepEqual(kubernetesNeeds(await config('certificates: [{ name: www, domains: [www.example.com] }]\n')).map((n) => n.instance), []);
});
