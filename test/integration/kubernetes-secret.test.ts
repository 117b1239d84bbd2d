// kubernetes-secret against the stand-in: server-side apply under `certpilot`, keys and labels of
// other managers kept, type kubernetes.io/tls on creation, idempotence, the deck's get+patch Role,
// 403s that name the missing verb, in-cluster auth with a rotated token.
import assert from 'node:assert/strict';
import { rename, symlink, writeFile, mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { CertpilotError } from '../../src/errors.js';
import { KubernetesClient } from '../../src/kubernetes/kubernetes-client.js';
import { makeDeployer } from '../harness/kube-deployers.js';
import { storedCertificate } from '../harness/kube-fixtures.js';
import { startKubeStandin } from '../harness/kube-standin.js';

const DECK_ROLE = [{ verbs: ['get', 'patch'], resources: ['secrets'], resourceNames: ['www-certificate'] }];

void test('kubernetes-secret creates a kubernetes.io/tls Secret with the six default keys and annotations, under field manager certpilot', { timeout: 30_000 }, async () => {
  const standin = await startKubeStandin();
  try {
    const cert = storedCertificate(1);
    const deployer = await makeDeployer('kubernetes-secret', standin, { secretName: 'www-certificate' });
    const result = await deployer.deploy(cert, {});
    assert.match(result.message, /^created Secret default\/www-certificate with version 1/);
    const secret = standin.secret('www-certificate') as { type: string; metadata: { annotations: Record<string, string>; managedFields: { manager: string; operation: string }[] } };
    assert.equal(secret.type, 'kubernetes.io/tls');
    assert.deepEqual(standin.secretData('www-certificate'), {
      'tls.crt': cert.fullchainPem,
      'tls.key': cert.privateKeyPem,
      'cert.pem': cert.certPem,
      'fullchain.pem': cert.fullchainPem,
      'privkey.pem': cert.privateKeyPem,
      'fullbundle.pem': cert.fullchainPem + cert.privateKeyPem,
    });
    assert.equal(secret.metadata.annotations['certpilot.io/serial'], cert.metadata.serialNumber);
    assert.equal(secret.metadata.annotations['certpilot.io/version'], '1');
    assert.deepEqual(secret.metadata.managedFields.map((m) => [m.manager, m.operation]), [['certpilot', 'Apply']]);
    const patch = standin.requests.find((r) => r.method === 'PATCH');
    assert.equal(patch?.contentType, 'application/apply-patch+yaml');
    assert.equal(patch?.fieldManager, 'certpilot');
  } finally {
    await standin.stop();
  }
});

void test('kubernetes-secret with bundle: key-cert-chain writes the key first in a fullbundle key (HAProxy, tls-combined.pem)', { timeout: 30_000 }, async () => {
  const standin = await startKubeStandin();
  try {
    const cert = storedCertificate(1);
    const deployer = await makeDeployer('kubernetes-secret', standin, { secretName: 'haproxy-tls', bundle: 'key-cert-chain', keys: { 'tls-combined.pem': 'fullbundle' } });
    await deployer.deploy(cert, {});
    assert.deepEqual(standin.secretData('haproxy-tls'), { 'tls-combined.pem': cert.privateKeyPem + cert.fullchainPem });
  } finally {
    await standin.stop();
  }
});

void test('kubernetes-secret updates with only get+patch on the one Secret, keeps keys and labels others own, and is idempotent', { timeout: 30_000 }, async () => {
  const standin = await startKubeStandin({ rules: DECK_ROLE });
  try {
    // The deck's Secret: made by kubectl, Opaque, with a key and a label certpilot does not manage.
    standin.putSecret('www-certificate', { 'cert.pem': 'old', 'ca-bundle.pem': 'theirs' }, { labels: { team: 'web' } });
    const deployer = await makeDeployer('kubernetes-secret', standin, { secretName: 'www-certificate', keys: { 'cert.pem': 'cert', 'privkey.pem': 'key' }, labels: { 'app.kubernetes.io/managed-by': 'certpilot' } });
    const v1 = storedCertificate(1);
    await deployer.deploy(v1, {});
    const data = standin.secretData('www-certificate');
    assert.deepEqual(data, { 'cert.pem': v1.certPem, 'privkey.pem': v1.privateKeyPem, 'ca-bundle.pem': 'theirs' });
    const md = (standin.secret('www-certificate') as { type: string; metadata: { labels: Record<string, string> } });
    assert.equal(md.type, 'Opaque', 'the type of an existing Secret is kept');
    assert.deepEqual(md.metadata.labels, { team: 'web', 'app.kubernetes.io/managed-by': 'certpilot' });

    const patches = (): number => standin.requests.filter((r) => r.method === 'PATCH').length;
    assert.equal(patches(), 1);
    const again = await deployer.deploy(v1, {});
    assert.equal(again.details?.changed, false);
    assert.equal(patches(), 1, 'the same version is not written twice');

    const v2 = storedCertificate(2);
    await deployer.deploy(v2, {});
    assert.equal(standin.secretData('www-certificate')['cert.pem'], v2.certPem);
    assert.equal(standin.secretData('www-certificate')['ca-bundle.pem'], 'theirs');
  } finally {
    await standin.stop();
  }
});

void test('kubernetes-secret: a forbidden patch or create is a CertpilotError naming the verb and resource, without key material', { timeout: 30_000 }, async () => {
  const standin = await startKubeStandin({ rules: DECK_ROLE });
  try {
    const cert = storedCertificate(1);
    const deployer = await makeDeployer('kubernetes-secret', standin, { secretName: 'www-certificate' });
    // Absent, and the deck's Role has no create: the apply that would create it is refused.
    await assert.rejects(deployer.deploy(cert, {}), (e: unknown) => {
      assert.ok(e instanceof CertpilotError);
      assert.equal(e.code, 'ERR_KUBERNETES_FORBIDDEN');
      assert.match(e.message, /^kubernetes: patch secrets\/www-certificate in namespace default: forbidden/);
      assert.match(e.message, /may not create secrets "www-certificate"/);
      assert.match(e.hint, /resources: \["secrets"\], verbs: \["create"\] \}/);
      return true;
    });
    standin.putSecret('www-certificate', { a: 'b' });
    standin.rules = [{ verbs: ['get'], resources: ['secrets'], resourceNames: ['www-certificate'] }];
    await assert.rejects(deployer.deploy(cert, {}), (e: unknown) => {
      assert.ok(e instanceof CertpilotError);
      assert.equal(e.code, 'ERR_KUBERNETES_FORBIDDEN');
      assert.match(e.message, /may not patch secrets "www-certificate"/);
      assert.match(e.hint, /resources: \["secrets"\], verbs: \["patch"\], resourceNames: \["www-certificate"\]/);
      const all = `${e.message} ${e.hint} ${String((e.cause as Error)?.message)}`;
      assert.ok(!all.includes('PRIVATE KEY') && !all.includes(Buffer.from(cert.privateKeyPem).toString('base64').slice(40, 80)));
      return true;
    });
    assert.deepEqual(standin.secretData('www-certificate'), { a: 'b' });
  } finally {
    await standin.stop();
  }
});

void test('in the cluster: the service account token is read from its file and read again after the kubelet rotates it', { timeout: 30_000 }, async () => {
  const standin = await startKubeStandin({ namespace: 'certs' });
  try {
    const sa = await standin.writeServiceAccountDir('token-1');
    standin.tokens = new Set(['token-1']);
    // The kubelet's layout: token -> ..data/token, switched by one rename.
    const swap = async (value: string, n: number): Promise<void> => {
      const d = join(sa, `..v${n}`);
      await mkdir(d);
      await writeFile(join(d, 'token'), value);
      await symlink(`..v${n}`, join(sa, '..tmp'));
      await rename(join(sa, '..tmp'), join(sa, '..data'));
    };
    await rm(join(sa, 'token'));
    await swap('token-1', 1);
    await symlink('..data/token', join(sa, 'token'));
    const client = new KubernetesClient({ apiServer: standin.url, serviceAccountDir: sa, requestTimeoutSeconds: 10 }, standin.dir);
    assert.equal(client.namespace, 'certs');
    assert.equal(await client.getSecret('missing'), undefined);
    standin.tokens = new Set(['token-2']);
    await swap('token-2', 2);
    assert.equal(await client.getSecret('missing'), undefined, 'the rotated token is used');
    standin.tokens = new Set(['token-3']);
    await assert.rejects(client.getSecret('missing'), (e: CertpilotError) => e.code === 'ERR_KUBERNETES_UNAUTHORIZED');
  } finally {
    await standin.stop();
  }
});
