// The dns-persist-01 record: the -02 draft's own test vector (§10.2), the -01 plain form Pebble
// 2.10 validates, parsing as a CA parses, and the verdicts the solver turns into errors.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatPersistValue, hashedAccountUri, judgePersistRecords, parsePersistValue, persistAccountUri, persistRecordName, shellName } from './record.js';

const thumbprint = 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs';
const accountUrl = 'https://ca.example/acct/123';
const accountHashPrefix = 'https://ca.example/account-hash/';

test('draft-ietf-acme-dns-persist-02 §10.2: the hashed accounturi of https://ca.example/acct/123 for example.com', () => {
  assert.equal(
    hashedAccountUri({ accountHashPrefix, domain: 'example.com', thumbprint, accountUrl }),
    'https://ca.example/account-hash/sha-256/5SQm7n6tPh2-PlLbCKGnViTXX5z19SCN4cPGQHSk-kw',
  );
  // The same domain written as a wildcard, with a trailing dot or in capitals is the same record.
  assert.equal(hashedAccountUri({ accountHashPrefix, domain: '*.Example.COM.', thumbprint, accountUrl }), hashedAccountUri({ accountHashPrefix, domain: 'example.com', thumbprint, accountUrl }));
});

test('-01 (no accountHashPrefix in the directory): the accounturi is the account URL itself', () => {
  assert.equal(persistAccountUri({ accountUrl, thumbprint, domain: 'example.com' }), accountUrl);
  assert.match(persistAccountUri({ accountUrl, thumbprint, domain: 'example.com', accountHashPrefix }), /^https:\/\/ca\.example\/account-hash\/sha-256\//);
});

test('the record: its name, its value, and the value parsed back', () => {
  assert.equal(persistRecordName('*.example.com'), '_validation-persist.example.com.');
  const value = formatPersistValue({ issuer: 'authority.example', accountUri: accountUrl, policy: 'wildcard', persistUntil: new Date('2030-01-01T00:00:00Z') });
  assert.equal(value, 'authority.example; accounturi=https://ca.example/acct/123; policy=wildcard; persistUntil=1893456000');
  assert.deepEqual(parsePersistValue('  authority.example ; ACCOUNTURI = https://ca.example/acct/123 ;Policy=WILDCARD; persistuntil=1893456000 '), {
    issuer: 'authority.example',
    accountUri: accountUrl,
    policy: 'wildcard',
    persistUntil: new Date('2030-01-01T00:00:00Z'),
  });
  assert.match(parsePersistValue('authority.example; accounturi=x;').error ?? '', /trailing/);
  assert.match(parsePersistValue('authority.example; accounturi=x; accounturi=y').error ?? '', /twice/);
  assert.match(parsePersistValue('authority.example; accounturi=x; persistUntil=soon').error ?? '', /UNIX time/);
});

test('verdicts: proves, missing, another issuer, another account, stale -01 form, no wildcard policy, expired', () => {
  const now = new Date('2027-01-01T00:00:00Z');
  const expect = { issuerDomainNames: ['authority.example'], accountUri: accountUrl, accountUrl, wildcard: false, now };
  const good = `authority.example; accounturi=${accountUrl}`;
  assert.deepEqual(judgePersistRecords([good], expect), { ok: true, value: good });
  assert.equal(judgePersistRecords(['v=spf1 -all', good], expect).ok, true, 'other TXT values at the name are ignored');
  const verdict = (values: string[], over: Partial<typeof expect> = {}): string => {
    const v = judgePersistRecords(values, { ...expect, ...over });
    return v.ok ? 'ok' : v.kind;
  };
  assert.equal(verdict([]), 'missing');
  assert.equal(verdict([`other-ca.example; accounturi=${accountUrl}`]), 'issuer');
  assert.equal(verdict(['authority.example; accounturi=https://ca.example/acct/999']), 'account');
  const hashed = persistAccountUri({ accountUrl, thumbprint, domain: 'example.com', accountHashPrefix });
  assert.equal(verdict([good], { accountUri: hashed }), 'stale');
  assert.equal(verdict([`authority.example; accounturi=${hashed}`], { accountUri: hashed }), 'ok');
  assert.equal(verdict([good], { wildcard: true }), 'policy');
  assert.equal(verdict([`${good}; policy=wildcard`], { wildcard: true }), 'ok');
  assert.equal(verdict([`${good}; persistUntil=${Date.parse('2026-12-31T23:59:59Z') / 1000}`]), 'expired');
  assert.equal(verdict([`${good}; persistUntil=${Date.parse('2027-01-02T00:00:00Z') / 1000}`]), 'ok');
  const expired = judgePersistRecords([`${good}; persistUntil=1`, 'authority.example; accounturi=https://ca.example/acct/999'], expect);
  assert.ok(!expired.ok && expired.kind === 'expired' && expired.why.includes('1970-01-01'), 'the most specific reason is reported');
});

test('several records prove the name: the one with the latest persistUntil counts, in any answer order (none = no end)', () => {
  const now = new Date('2027-01-01T00:00:00Z');
  const expect = { issuerDomainNames: ['authority.example'], accountUri: accountUrl, accountUrl, wildcard: false, now };
  const until = (iso: string): string => `authority.example; accounturi=${accountUrl}; persistUntil=${Date.parse(iso) / 1000}`;
  const early = until('2027-03-01T00:00:00Z');
  const late = until('2028-03-01T00:00:00Z');
  for (const values of [[early, late], [late, early], ['v=spf1 -all', late, early]]) {
    const v = judgePersistRecords(values, expect);
    assert.ok(v.ok && v.value === late && v.persistUntil?.toISOString() === '2028-03-01T00:00:00.000Z', values.join(' | '));
  }
  const endless = `authority.example; accounturi=${accountUrl}`;
  for (const values of [[late, endless], [endless, late]]) {
    const v = judgePersistRecords(values, expect);
    assert.ok(v.ok && v.value === endless && v.persistUntil === undefined, 'a record without persistUntil outlasts every other');
  }
});

test('shellName: a wildcard is quoted for the shell', () => {
  assert.equal(shellName('nope.example.test'), 'nope.example.test');
  assert.equal(shellName('*.nope.example.test'), "'*.nope.example.test'");
});
