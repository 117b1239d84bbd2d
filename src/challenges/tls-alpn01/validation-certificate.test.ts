import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { test } from 'node:test';
import { createValidationCertificate, validationKey } from './validation-certificate.js';

test('every validation certificate parses: its random serial is a minimal positive INTEGER (2000 made)', () => {
  // Before the fix, a serial starting 0x00 followed by a byte < 0x80 (1 in 256) made OpenSSL refuse
  // the certificate (ERR_OSSL_ASN1_ILLEGAL_PADDING) and the CA's validation fail.
  const key = validationKey();
  const digest = new Uint8Array(32).fill(7);
  const now = new Date('2026-12-03T12:00:00Z');
  for (let i = 0; i < 2000; i++) {
    const { certPem } = createValidationCertificate({ identifier: { type: 'dns', value: 'serial.test' }, digest, key, now });
    const serial = new X509Certificate(certPem).serialNumber;
    assert.equal(serial.length, 32, 'sixteen bytes, none of them a padding zero');
    assert.ok(/^[4-7]/.test(serial), `positive, first byte 0x40..0x7f: ${serial}`);
  }
});
