import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createPublicKey, verify } from 'node:crypto';
import { newPrivateKeySync } from './private-key-sync.js';
import { createCsr, generatePrivateKey, importPrivateKey, ipToBytes, keyTypeOf } from './csr.js';
import { derChildren, derRead } from './protocol/der.js';
import type { KeyType } from '../storage/certificate-store.js';

/** openssl's view of a DER CSR: text dump plus its self-signature check. */
function opensslReq(der: Uint8Array): string {
  const run = spawnSync('openssl', ['req', '-inform', 'DER', '-noout', '-text', '-verify'], { input: der });
  assert.equal(run.error, undefined, 'openssl must be installed for this test');
  assert.equal(run.status, 0, run.stderr.toString());
  return `${run.stdout.toString()}\n${run.stderr.toString()}`;
}

/** Verifies the CSR signature with node:crypto, independently of openssl. */
function nodeVerifies(der: Uint8Array, hash: string): boolean {
  const [info, , signature] = derChildren(derRead(Buffer.from(der)).content);
  const spki = derChildren(info!.content)[2]!;
  const pub = createPublicKey({ key: spki.raw, format: 'der', type: 'spki' });
  return verify(hash, info!.raw, pub, signature!.content.subarray(1));
}

const cases: [KeyType, string, string][] = [
  ['ec-p256', 'ecdsa-with-SHA256', 'sha256'],
  ['ec-p384', 'ecdsa-with-SHA384', 'sha384'],
  ['rsa-2048', 'sha256WithRSAEncryption', 'sha256'],
];

for (const [keyType, sigAlg, hash] of cases) {
  test(`${keyType}: CSR with DNS and IP SANs, CN = first name, verified by openssl and node`, async () => {
    const { key, pem } = await generatePrivateKey(keyType);
    assert.match(pem, /^-----BEGIN PRIVATE KEY-----/);
    assert.equal(keyTypeOf(key), keyType);
    const der = await createCsr({
      key,
      identifiers: [
        { type: 'dns', value: 'example.com' },
        { type: 'dns', value: '*.example.com' },
        { type: 'ip', value: '192.0.2.7' },
        { type: 'ip', value: '2001:db8::1:0:0:1' },
      ],
    });
    const text = opensslReq(der);
    assert.match(text, /verify OK/);
    assert.match(text, /Subject: CN\s?=\s?example\.com/);
    assert.match(text, new RegExp(`Signature Algorithm: ${sigAlg}`));
    assert.match(text, /DNS:example\.com, DNS:\*\.example\.com, IP Address:192\.0\.2\.7, IP Address:2001:DB8:0:0:1:0:0:1/);
    assert.equal(nodeVerifies(der, hash), true);
    // The CSR carries the key's public half.
    const spki = derChildren(derChildren(derRead(Buffer.from(der)).content)[0]!.content)[2]!.raw;
    assert.deepEqual(spki, createPublicKey(key).export({ format: 'der', type: 'spki' }));
  });
}

test('a first DNS name longer than 64 characters: empty subject and a critical SAN', async () => {
  const { key } = await generatePrivateKey('ec-p256');
  const long = `${'a'.repeat(60)}.example.com`;
  const text = opensslReq(await createCsr({ key, identifiers: [{ type: 'dns', value: long }] }));
  assert.match(text, /Subject:\s*\n/);
  assert.match(text, /Subject Alternative Name: critical/);
  assert.match(text, new RegExp(`DNS:${long}`));
});

test('an IP-only CSR has an empty subject', async () => {
  const { key } = await generatePrivateKey('ec-p256');
  const text = opensslReq(await createCsr({ key, identifiers: [{ type: 'ip', value: '127.0.0.1' }] }));
  assert.match(text, /IP Address:127\.0\.0\.1/);
  assert.match(text, /Subject Alternative Name: critical/);
});

test('importPrivateKey round-trips generated keys and refuses junk and unsupported keys', async () => {
  const { pem } = await generatePrivateKey('ec-p384');
  assert.equal(keyTypeOf(importPrivateKey(pem)), 'ec-p384');
  const sec1 = newPrivateKeySync({ type: 'ec', namedCurve: 'P-256' }).export({ format: 'pem', type: 'sec1' }).toString();
  assert.equal(keyTypeOf(importPrivateKey(sec1)), 'ec-p256');
  assert.throws(() => importPrivateKey('-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n'), (err: Error & { code?: string }) => {
    assert.equal(err.code, 'ERR_KEY_INVALID');
    assert.doesNotMatch(err.message, /AAAA/);
    return true;
  });
  const ed = newPrivateKeySync({ type: 'ed25519' }).export({ format: 'pem', type: 'pkcs8' }).toString();
  assert.throws(() => importPrivateKey(ed), { code: 'ERR_KEY_INVALID' });
});

test('ipToBytes handles IPv4, compressed IPv6 and embedded IPv4', () => {
  assert.equal(ipToBytes('192.0.2.1').toString('hex'), 'c0000201');
  assert.equal(ipToBytes('::1').toString('hex'), '00000000000000000000000000000001');
  assert.equal(ipToBytes('2001:db8::').toString('hex'), '20010db8000000000000000000000000');
  assert.equal(ipToBytes('::ffff:192.0.2.1').toString('hex'), '00000000000000000000ffffc0000201');
  assert.equal(ipToBytes('1:2:3:4:5:6:7:8').toString('hex'), '00010002000300040005000600070008');
  assert.throws(() => ipToBytes('example.com'));
});
