import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ariCertId, ariCertIdFromParts, parseRenewalInfo, renewalInfoUrl } from './renewal-info.js';
import { pemToDer } from './der.js';
import { ARI_EXAMPLE_CERT_ID, ARI_EXAMPLE_CERT_PEM } from './testdata/ari-example.js';

const now = new Date('2026-01-01T00:00:00Z');
const window = { suggestedWindow: { start: '2026-02-01T00:00:00Z', end: '2026-02-03T00:00:00Z' } };

test('RFC 9773 §4.1 example parts give the RFC id', () => {
  const aki = Buffer.from('69885B6B87464041E1B37B847BA0AE2CDE01C8D4', 'hex');
  const serial = Buffer.from('0087654321', 'hex');
  assert.equal(ariCertIdFromParts(aki, serial), 'aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE');
});

test('ariCertId of a certificate with the RFC example AKI and serial, PEM or DER', () => {
  assert.equal(ariCertId(ARI_EXAMPLE_CERT_PEM), ARI_EXAMPLE_CERT_ID);
  assert.equal(ariCertId(pemToDer(ARI_EXAMPLE_CERT_PEM)), ARI_EXAMPLE_CERT_ID);
});

test('ariCertId refuses a non-certificate', () => {
  assert.throws(() => ariCertId('not a pem'), { code: 'ERR_ACME_BAD_RESPONSE' });
});

test('renewalInfo URL joins base and id with one slash', () => {
  assert.equal(renewalInfoUrl('https://ca.example/renewal-info', 'a.b'), 'https://ca.example/renewal-info/a.b');
  assert.equal(renewalInfoUrl('https://ca.example/renewal-info/', 'a.b'), 'https://ca.example/renewal-info/a.b');
});

test('parses the window and explanationURL; Retry-After seconds honoured', () => {
  const info = parseRenewalInfo({ ...window, explanationURL: 'https://ca.example/why' }, '3600', now);
  assert.equal(info.suggestedWindow.start.toISOString(), '2026-02-01T00:00:00.000Z');
  assert.equal(info.suggestedWindow.end.toISOString(), '2026-02-03T00:00:00.000Z');
  assert.equal(info.explanationURL, 'https://ca.example/why');
  assert.equal(info.retryAfter.toISOString(), '2026-01-01T01:00:00.000Z');
});

test('Retry-After absent → 6 hours; too small or too large → clamped to [1 min, 1 day]', () => {
  assert.equal(parseRenewalInfo(window, undefined, now).retryAfter.toISOString(), '2026-01-01T06:00:00.000Z');
  assert.equal(parseRenewalInfo(window, '1', now).retryAfter.toISOString(), '2026-01-01T00:01:00.000Z');
  assert.equal(parseRenewalInfo(window, String(30 * 86400), now).retryAfter.toISOString(), '2026-01-02T00:00:00.000Z');
});

test('a missing or inverted window is a bad response', () => {
  assert.throws(() => parseRenewalInfo({}, undefined, now), { code: 'ERR_ACME_BAD_RESPONSE' });
  assert.throws(
    () => parseRenewalInfo({ suggestedWindow: { start: '2026-02-03T00:00:00Z', end: '2026-02-01T00:00:00Z' } }, undefined, now),
    { code: 'ERR_ACME_BAD_RESPONSE' },
  );
});
