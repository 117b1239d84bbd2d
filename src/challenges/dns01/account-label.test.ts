// dns-account-01's label: the draft's own example, plus the properties the record name relies on.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { base32Lower, dnsAccountLabel, dnsAccountRecordName } from './account-label.js';

test('draft-ietf-acme-dns-account-label-03 example: https://example.com/acme/acct/ExampleAccount → ujmmovf2vn55tgye', () => {
  assert.equal(dnsAccountLabel('https://example.com/acme/acct/ExampleAccount'), 'ujmmovf2vn55tgye');
  assert.equal(dnsAccountRecordName('https://example.com/acme/acct/ExampleAccount', 'example.org'), '_ujmmovf2vn55tgye._acme-challenge.example.org.');
});

test('base32 is RFC 4648 (lowercase, unpadded): its test vectors', () => {
  // RFC 4648 §10: BASE32("foobar") = "MZXW6YTBOI======".
  assert.equal(base32Lower(Buffer.from('foobar')), 'mzxw6ytboi');
  assert.equal(base32Lower(Buffer.from('f')), 'my');
  assert.equal(base32Lower(Buffer.from('fooba')), 'mzxw6ytb');
});

test('each account has its own label; a trailing dot on the name is not doubled', () => {
  assert.notEqual(dnsAccountLabel('https://ca.example/acct/1'), dnsAccountLabel('https://ca.example/acct/2'));
  assert.match(dnsAccountLabel('https://ca.example/acct/1'), /^[a-z2-7]{16}$/);
  assert.equal(dnsAccountRecordName('https://example.com/acme/acct/ExampleAccount', 'example.org.'), '_ujmmovf2vn55tgye._acme-challenge.example.org.');
});
