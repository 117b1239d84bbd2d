// The error of a failed authorization stage: several failures name their identifiers, and the
// same text (a name and its wildcard share one `_acme-challenge` record) appears once.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CertpilotError } from '../errors.js';
import { authorizationFailure } from './issuer.js';

void test('a name and its wildcard failing with the same text: the text once, after both identifiers', () => {
  const text = 'rfc2136: adding TXT _acme-challenge.dev.example.test. in zone example.test. on 127.0.0.1:5999: REFUSED';
  const err = authorizationFailure([new CertpilotError('ERR_DNS_UPDATE_REFUSED', text), new CertpilotError('ERR_DNS_UPDATE_REFUSED', text)], 2, ['dev.example.test', '*.dev.example.test']);
  assert.equal(err.code, 'ERR_DNS_UPDATE_REFUSED');
  assert.equal(err.message, `issuer: 2 of 2 authorization(s) failed: dev.example.test, *.dev.example.test: ${text}`);
});

void test('different texts: each after its own identifier, in order', () => {
  const err = authorizationFailure([new CertpilotError('ERR_DNS_NETWORK', 'a went wrong'), new Error('b went wrong')], 3, ['a.test', 'b.test']);
  assert.equal(err.code, 'ERR_ACME_AUTHORIZATION_FAILED');
  assert.equal(err.message, 'issuer: 2 of 3 authorization(s) failed: a.test: a went wrong; b.test: b went wrong');
});
