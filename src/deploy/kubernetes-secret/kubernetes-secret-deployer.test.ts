import assert from 'node:assert/strict';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { test } from 'node:test';
import type { V1Secret } from '@kubernetes/client-node';
import { CertpilotError } from '../../errors.js';
import type { KubernetesClient } from '../../kubernetes/kubernetes-client.js';
import { silentLogger } from '../../logger.js';
import { makeTestBundle } from '../../testing/certificate-fixtures.js';
import type { StoredCertificate } from '../../storage/certificate-store.js';
import { KubernetesSecretDeployer, secretContent } from './kubernetes-secret-deployer.js';
import { DEFAULT_SECRET_KEYS, kubernetesSecretSchema } from './schema.js';

const cert = (version: number): StoredCertificate => ({ ...makeTestBundle({ domains: ['a.test'] }), name: 'a', version, paths: { dir: '/x', cert: '/x/c', chain: '/x/ch', fullchain: '/x/f', privkey: '/x/k' } });

/** A client holding one Secret in memory; records applies. */
function fakeClient(initial?: V1Secret): { client: KubernetesClient; applied: V1Secret[] } {
  let secret = initial;
  const applied: V1Secret[] = [];
  const client = {
    namespace: 'ns',
    getSecret: async () => secret,
    applySecret: async (body: V1Secret) => {
      applied.push(body);
      secret = { ...secret, ...body, data: { ...secret?.data, ...body.data }, metadata: { ...body.metadata, resourceVersion: String(applied.length) } };
      return secret;
    },
  } as unknown as KubernetesClient;
  return { client, applied };
}

void test('schema: defaults to the six keys, field manager certpilot; rejects names Kubernetes would', () => {
  const o = kubernetesSecretSchema().parse({ secretName: 'www-certificate' });
  assert.deepEqual(Object.keys(o.keys), ['tls.crt', 'tls.key', 'cert.pem', 'fullchain.pem', 'privkey.pem', 'fullbundle.pem']);
  assert.equal(o.fieldManager, 'certpilot');
  assert.equal(kubernetesSecretSchema().safeParse({ secretName: 'Www_Cert' }).success, false);
  assert.equal(kubernetesSecretSchema().safeParse({ secretName: 'w', keys: { 'a/b': 'cert' } }).success, false);
  assert.equal(kubernetesSecretSchema().safeParse({ secretName: 'w', keys: { a: 'password' } }).success, false);
});

void test('contents: fullbundle is the full chain then the key', () => {
  const c = cert(1);
  assert.equal(secretContent(c, 'fullbundle'), c.fullchainPem + c.privateKeyPem);
  // `bundle`, like the files deployer's: the key first for HAProxy, ejabberd, tls-combined.pem.
  assert.equal(secretContent(c, 'fullbundle', 'key-cert-chain'), c.privateKeyPem + c.certPem + c.chainPem);
  assert.equal(secretContent(c, 'fullbundle', 'cert-chain-key'), c.certPem + c.chainPem + c.privateKeyPem);
  assert.equal(kubernetesSecretSchema().parse({ secretName: 'w' }).bundle, 'cert-chain-key');
  assert.equal(kubernetesSecretSchema().parse({ secretName: 'w', bundle: 'key-cert-chain' }).bundle, 'key-cert-chain');
  assert.equal(kubernetesSecretSchema().safeParse({ secretName: 'w', bundle: 'chain-key' }).success, false);
  assert.equal(secretContent(c, DEFAULT_SECRET_KEYS['tls.crt'] ?? 'cert'), c.fullchainPem);
  assert.equal(secretContent(c, 'chain'), c.chainPem);
});

void test('creates with type kubernetes.io/tls; updates without type; writes nothing for a version it holds', async () => {
  const { client, applied } = fakeClient();
  const d = new KubernetesSecretDeployer({ id: 's', client, secretName: 'w', keys: { ...DEFAULT_SECRET_KEYS }, labels: {}, fieldManager: 'certpilot', logger: silentLogger });
  const v1 = cert(1);
  await d.deploy(v1, {});
  assert.equal(applied[0]?.type, 'kubernetes.io/tls');
  assert.equal(applied[0]?.metadata?.annotations?.['certpilot.io/version'], '1');
  // The reload deployer reads the serial annotation to know the Secret holds the new certificate.
  assert.equal(applied[0]?.metadata?.annotations?.['certpilot.io/serial'], new X509Certificate(v1.certPem).serialNumber.toLowerCase());
  assert.equal(applied[0]?.metadata?.annotations?.['certpilot.io/certificate'], 'a');
  assert.equal(applied[0]?.metadata?.annotations?.['certpilot.io/not-after'], v1.metadata.notAfter);
  assert.equal(Buffer.from(applied[0]?.data?.['tls.key'] ?? '', 'base64').toString(), v1.privateKeyPem);
  const again = await d.deploy(v1, {});
  assert.equal(applied.length, 1);
  assert.equal(again.details?.changed, false);
  const v2 = cert(2);
  const r = await d.deploy(v2, {});
  assert.equal(applied.length, 2);
  assert.equal(applied[1]?.type, undefined, 'an existing Secret keeps its type');
  assert.match(r.message, /^updated Secret ns\/w with version 2/);
  assert.ok(!JSON.stringify(r).includes('PRIVATE KEY'));
});

void test('an Opaque Secret for keys without the tls pair', async () => {
  const { client, applied } = fakeClient();
  await new KubernetesSecretDeployer({ id: 's', client, secretName: 'w', keys: { 'privkey.pem': 'key' }, labels: { a: 'b' }, fieldManager: 'm', logger: silentLogger }).deploy(cert(1), {});
  assert.equal(applied[0]?.type, 'Opaque');
  assert.deepEqual(applied[0]?.metadata?.labels, { a: 'b' });
});

void test('an aborted deploy writes nothing', async () => {
  const { client, applied } = fakeClient();
  const d = new KubernetesSecretDeployer({ id: 's', client, secretName: 'w', keys: { ...DEFAULT_SECRET_KEYS }, labels: {}, fieldManager: 'certpilot', logger: silentLogger });
  await assert.rejects(d.deploy(cert(1), { signal: AbortSignal.abort(new Error('stop')) }), /stop/);
  assert.equal(applied.length, 0);
});

void test('verify: one read; undefined while the Secret holds the version (also a key written in another encoding), else why: deleted, a key gone, another certificate, chain or key', async () => {
  const { client } = fakeClient();
  let reads = 0;
  let stored: V1Secret | undefined;
  const getSecret = client.getSecret.bind(client);
  Object.assign(client, { getSecret: async (name: string) => (reads++, stored ?? (await getSecret(name))) });
  const d = new KubernetesSecretDeployer({ id: 's', client, secretName: 'w', keys: { ...DEFAULT_SECRET_KEYS, 'chain.pem': 'chain' }, labels: {}, fieldManager: 'certpilot', logger: silentLogger });
  const v1 = cert(1);
  await d.deploy(v1, {});
  const held = await getSecret('w');
  assert.ok(held);
  reads = 0;
  assert.equal(await d.verify(v1, {}), undefined);
  assert.equal(reads, 1, 'one GET');
  const withData = (data: Record<string, string>): V1Secret => ({ ...held, data: { ...held.data, ...Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString('base64')])) } });
  // The same key as SEC 1 (`openssl ec`): the certificate's key all the same.
  stored = withData({ 'tls.key': createPrivateKey(v1.privateKeyPem).export({ type: 'sec1', format: 'pem' }).toString() });
  assert.equal(await d.verify(v1, {}), undefined);

  const other = cert(1);
  const reasons: string[] = [];
  const expect = async (secret: V1Secret | undefined, pattern: RegExp): Promise<void> => {
    stored = secret;
    if (secret === undefined) Object.assign(client, { getSecret: async () => undefined });
    const why = await d.verify(v1, {});
    assert.match(why ?? '(held)', pattern);
    reasons.push(why ?? '');
  };
  // Another tool's certificate, its own annotations kept: compared by fingerprint, not annotation or serial.
  await expect(withData({ 'tls.crt': other.fullchainPem }), /^Secret ns\/w holds another certificate in tls\.crt, SHA-256 [0-9a-f]{16}…$/);
  await expect(withData({ 'tls.key': other.privateKeyPem }), /^Secret ns\/w holds another private key in tls\.key$/);
  await expect(withData({ 'fullbundle.pem': v1.fullchainPem + other.privateKeyPem }), /another private key in fullbundle\.pem/);
  await expect(withData({ 'chain.pem': other.chainPem }), /another chain in chain\.pem/);
  await expect(withData({ 'tls.crt': 'garbage' }), /holds no certificate in tls\.crt/);
  await expect({ ...held, data: Object.fromEntries(Object.entries(held.data ?? {}).filter(([k]) => k !== 'privkey.pem')) }, /^Secret ns\/w has no key privkey\.pem$/);
  await expect(undefined, /^Secret ns\/w not found$/);
  for (const r of reasons) assert.ok(!r.includes('PRIVATE KEY') && !r.includes(v1.privateKeyPem.split('\n')[1] ?? '?'), r);
});

void test('verify: a fullbundle in key-cert-chain order holds the version; an API server that cannot be asked rejects (not "lost")', async () => {
  const { client } = fakeClient();
  const d = new KubernetesSecretDeployer({ id: 's', client, secretName: 'w', keys: { 'haproxy.pem': 'fullbundle' }, bundle: 'key-cert-chain', labels: {}, fieldManager: 'certpilot', logger: silentLogger });
  const v1 = cert(1);
  await d.deploy(v1, {});
  assert.equal(await d.verify(v1, {}), undefined);
  assert.match((await d.verify(cert(2), {})) ?? '', /another certificate in haproxy\.pem/);
  const forbidden = new CertpilotError('ERR_KUBERNETES_FORBIDDEN', 'kubernetes: get secrets/w in namespace ns: forbidden');
  Object.assign(client, { getSecret: async () => Promise.reject(forbidden) });
  await assert.rejects(d.verify(v1, {}), (e) => e === forbidden);
  await assert.rejects(d.verify(v1, { signal: AbortSignal.abort(new Error('stop')) }), /stop/);
});
