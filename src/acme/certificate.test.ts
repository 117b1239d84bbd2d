import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { parseCertificate, splitPemChain } from './certificate.js';
import { ARI_EXAMPLE_CERT_ID, ARI_EXAMPLE_CERT_PEM } from './protocol/testdata/ari-example.js';

test('parses validity, serial, names and ARI id of the fixture', () => {
  const parsed = parseCertificate(ARI_EXAMPLE_CERT_PEM);
  assert.equal(parsed.notBefore.toISOString(), '2026-11-28T03:31:42.000Z');
  assert.equal(parsed.notAfter.toISOString(), '2036-11-25T03:31:42.000Z');
  assert.equal(parsed.serialNumber, '87654321');
  assert.equal(parsed.issuer, 'CN=ARI Example CA, O=certpilot tests');
  assert.equal(parsed.issuerCommonName, 'ARI Example CA');
  assert.equal(parsed.subject, 'CN=ari.example');
  assert.deepEqual(parsed.dnsNames, ['ari.example', 'www.ari.example']);
  assert.deepEqual(parsed.ipAddresses, ['192.0.2.1', '2001:db8::1']);
  assert.equal(parsed.ariCertId, ARI_EXAMPLE_CERT_ID);
});

test('agrees with node:crypto X509Certificate', () => {
  const node = new X509Certificate(ARI_EXAMPLE_CERT_PEM);
  const parsed = parseCertificate(ARI_EXAMPLE_CERT_PEM);
  assert.equal(parsed.notBefore.getTime(), new Date(node.validFrom).getTime());
  assert.equal(parsed.notAfter.getTime(), new Date(node.validTo).getTime());
  assert.equal(parsed.serialNumber, node.serialNumber.toLowerCase().replace(/^0+(?=.)/, ''));
});

test('splitPemChain returns each certificate block in order', () => {
  const chain = `${ARI_EXAMPLE_CERT_PEM}\n\n${ARI_EXAMPLE_CERT_PEM.trim()}`;
  const parts = splitPemChain(chain);
  assert.equal(parts.length, 2);
  for (const part of parts) {
    assert.match(part, /^-----BEGIN CERTIFICATE-----\n[\s\S]+-----END CERTIFICATE-----\n$/);
    assert.equal(parseCertificate(part).serialNumber, '87654321');
  }
  assert.deepEqual(splitPemChain('no certificates here'), []);
});

test('a non-certificate is ERR_ACME_BAD_RESPONSE', () => {
  assert.throws(() => parseCertificate('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n'), { code: 'ERR_ACME_BAD_RESPONSE' });
});
