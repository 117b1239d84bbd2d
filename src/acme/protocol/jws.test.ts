import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, createPublicKey, verify } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { exportJwk, jwkThumbprint, jwsAlgorithmFor, signExternalAccountBinding, signJws, signKeyChange } from './jws.js';
import type { FlattenedJws } from './jws.js';
import { lazy } from '../../lazy.js';
import { newPrivateKeySync } from '../private-key-sync.js';

// RFC 7638 §3.1's example RSA key.
const RFC7638_N =
  '0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw';
const RFC7638_THUMBPRINT = 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs';

const decode = (b64: string): Record<string, unknown> => JSON.parse(Buffer.from(b64, 'base64url').toString('utf8')) as Record<string, unknown>;

function verifies(key: KeyObject, jws: FlattenedJws): boolean {
  const alg = decode(jws.protected).alg;
  const data = Buffer.from(`${jws.protected}.${jws.payload}`);
  const sig = Buffer.from(jws.signature, 'base64url');
  const pub = createPublicKey(key);
  if (alg === 'RS256') return verify('sha256', data, pub, sig);
  return verify(alg === 'ES256' ? 'sha256' : 'sha384', data, { key: pub, dsaEncoding: 'ieee-p1363' }, sig);
}

test('RFC 7638 §3.1 example key has the RFC thumbprint', () => {
  const key = createPublicKey({ key: { kty: 'RSA', n: RFC7638_N, e: 'AQAB' }, format: 'jwk' });
  assert.equal(jwkThumbprint(key), RFC7638_THUMBPRINT);
  assert.equal(jwkThumbprint({ kty: 'RSA', n: RFC7638_N, e: 'AQAB' }), RFC7638_THUMBPRINT);
});

test('exportJwk keeps only the required public members', () => {
  const privateKey = newPrivateKeySync({ type: 'ec', namedCurve: 'P-256' });
  const jwk = exportJwk(privateKey);
  assert.deepEqual(Object.keys(jwk).sort(), ['crv', 'kty', 'x', 'y']);
  assert.equal(jwk.kty, 'EC');
  assert.equal('d' in jwk, false);
});

// Each key is made by the first test that uses it, not when the file loads: an RSA key takes a
// while, and the runner reports whatever happens before the first test against the whole file.
const keys = {
  ES256: lazy(() => newPrivateKeySync({ type: 'ec', namedCurve: 'P-256' })),
  ES384: lazy(() => newPrivateKeySync({ type: 'ec', namedCurve: 'P-384' })),
  RS256: lazy(() => newPrivateKeySync({ type: 'rsa', modulusLength: 2048 })),
};
const ALGORITHMS = Object.keys(keys) as (keyof typeof keys)[];
const keyFor = (alg: keyof typeof keys): KeyObject => keys[alg]();

for (const alg of ALGORITHMS) {
  test(`${alg}: jwk-signed request has RFC 8555 §6.2 header and a signature node:crypto verifies`, () => {
    const key = keyFor(alg);
    const jws = signJws({ key, jwk: true }, { url: 'https://ca.example/acme/new-account', nonce: 'bm9uY2U', payload: { termsOfServiceAgreed: true } });
    const header = decode(jws.protected);
    assert.deepEqual(Object.keys(header).sort(), ['alg', 'jwk', 'nonce', 'url']);
    assert.equal(header.alg, alg);
    assert.equal(header.nonce, 'bm9uY2U');
    assert.equal(header.url, 'https://ca.example/acme/new-account');
    assert.deepEqual(header.jwk, exportJwk(key));
    assert.deepEqual(decode(jws.payload), { termsOfServiceAgreed: true });
    assert.equal(verifies(key, jws), true);
    if (alg === 'ES256') assert.equal(Buffer.from(jws.signature, 'base64url').length, 64, 'r||s, not DER');
    if (alg === 'ES384') assert.equal(Buffer.from(jws.signature, 'base64url').length, 96, 'r||s, not DER');
  });
}

test('kid-signed POST-as-GET: kid instead of jwk, empty payload (RFC 8555 §6.3)', () => {
  const key = keyFor('ES256');
  const jws = signJws({ key, kid: 'https://ca.example/acct/1' }, { url: 'https://ca.example/order/1', nonce: 'abc', payload: undefined });
  const header = decode(jws.protected);
  assert.equal(header.kid, 'https://ca.example/acct/1');
  assert.equal('jwk' in header, false);
  assert.equal(jws.payload, '');
  assert.equal(verifies(key, jws), true);
});

test('EAB inner JWS is HS256 over the account JWK with the CA kid and newAccount url (§7.3.4)', () => {
  const accountKey = keyFor('ES256');
  const hmacKey = Buffer.from('a secret hmac key of some length', 'utf8');
  const eab = signExternalAccountBinding({ accountKey, kid: 'kid-1', hmacKey, url: 'https://ca.example/new-acct' });
  assert.deepEqual(decode(eab.protected), { alg: 'HS256', kid: 'kid-1', url: 'https://ca.example/new-acct' });
  assert.deepEqual(decode(eab.payload), exportJwk(accountKey));
  const expected = createHmac('sha256', hmacKey).update(`${eab.protected}.${eab.payload}`).digest('base64url');
  assert.equal(eab.signature, expected);
});

test('key-change inner JWS: new key signs {account, oldKey} with jwk and url, no nonce (§7.3.5)', () => {
  const oldKey = keyFor('ES256');
  const newKey = keyFor('ES384');
  const inner = signKeyChange({ newKey, oldKey, accountUrl: 'https://ca.example/acct/1', url: 'https://ca.example/key-change' });
  const header = decode(inner.protected);
  assert.deepEqual(Object.keys(header).sort(), ['alg', 'jwk', 'url']);
  assert.equal(header.alg, 'ES384');
  assert.deepEqual(header.jwk, exportJwk(newKey));
  assert.deepEqual(decode(inner.payload), { account: 'https://ca.example/acct/1', oldKey: exportJwk(oldKey) });
  assert.equal(verifies(newKey, inner), true);
});

test('unsupported keys are refused with ERR_KEY_INVALID', () => {
  assert.throws(() => jwsAlgorithmFor(newPrivateKeySync({ type: 'ed25519' })), { code: 'ERR_KEY_INVALID' });
  assert.throws(() => jwsAlgorithmFor(newPrivateKeySync({ type: 'ec', namedCurve: 'P-521' })), { code: 'ERR_KEY_INVALID' });
  assert.throws(() => jwsAlgorithmFor(newPrivateKeySync({ type: 'rsa', modulusLength: 1024 })), { code: 'ERR_KEY_INVALID' });
});
