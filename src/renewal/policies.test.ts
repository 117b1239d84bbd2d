import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RenewalState } from '../storage/certificate-store.js';
import {
  DEFAULT_POLICY_CHAIN,
  evaluatePolicies,
  lifetimeRenewalTime,
  renewalTime,
} from './policies.js';
import type { CertificateSpec, PolicyInput } from './policies.js';

import { DAY, T0, storedCert } from './fixtures/stored-certificate.js';

const spec: CertificateSpec = { name: 'site', domains: ['site.example', 'www.site.example'], keyType: 'ec-p256' };
const empty: RenewalState = { failureCount: 0 };

function ariState(selected: number, certId = 'aki.01'): RenewalState {
  return {
    failureCount: 0,
    ari: {
      certId,
      windowStart: new Date(selected - DAY).toISOString(),
      windowEnd: new Date(selected + DAY).toISOString(),
      fetchedAt: new Date(T0).toISOString(),
      nextFetchAt: new Date(T0 + DAY).toISOString(),
      selectedTime: new Date(selected).toISOString(),
    },
  };
}

function verdict(input: Partial<PolicyInput> & { now: Date }) {
  return evaluatePolicies({ spec, stored: storedCert(), state: empty, ...input });
}

describe('renewal policies', () => {
  it('wants a certificate that is missing', () => {
    const v = verdict({ stored: undefined, now: new Date(T0) });
    assert.equal(v?.reason, 'missing');
    assert.match(v?.message ?? '', /site/);
  });

  it('compares names as case-insensitive sets', () => {
    const now = new Date(T0 + DAY);
    assert.equal(verdict({ spec: { ...spec, domains: ['WWW.site.example', 'site.example.'] }, now }), undefined);
    const added = verdict({ spec: { ...spec, domains: [...spec.domains, 'api.site.example'] }, now });
    assert.equal(added?.reason, 'domains-changed');
    assert.match(added?.message ?? '', /added api\.site\.example/);
    const removed = verdict({ spec: { ...spec, domains: ['site.example'] }, now });
    assert.equal(removed?.reason, 'domains-changed');
    assert.match(removed?.message ?? '', /removed www\.site\.example/);
  });

  it('wants a new certificate while the live version is the one `revoke` recorded, not once a new one is live', () => {
    const now = new Date(T0 + DAY);
    const stored = storedCert();
    const revoked = { version: stored.version, fingerprint: 'ab', at: new Date(T0).toISOString(), reason: 'keyCompromise' };
    const v = verdict({ state: { ...empty, revoked }, now });
    assert.equal(v?.reason, 'revoked');
    assert.match(v?.message ?? '', /^version \d+ was revoked on \S+ \(reason keyCompromise\): replacing it$/);
    assert.equal(verdict({ state: { ...empty, revoked: { ...revoked, version: stored.version - 1 } }, now }), undefined);
  });

  it('wants a new certificate when the key type changed', () => {
    const v = verdict({ spec: { ...spec, keyType: 'rsa-2048' }, now: new Date(T0 + DAY) });
    assert.equal(v?.reason, 'key-type-changed');
    assert.match(v?.message ?? '', /ec-p256 to rsa-2048/);
  });

  it('wants a new certificate when the profile changed either way', () => {
    const now = new Date(T0 + DAY);
    assert.equal(verdict({ spec: { ...spec, profile: 'shortlived' }, now })?.reason, 'profile-changed');
    assert.equal(verdict({ stored: storedCert({ profile: 'shortlived' }), now })?.reason, 'profile-changed');
    assert.equal(verdict({ spec: { ...spec, profile: 'shortlived' }, stored: storedCert({ profile: 'shortlived' }), now }), undefined);
  });

  it('wants a new certificate once expired, even inside a future ARI selection', () => {
    const stored = storedCert();
    const notAfter = Date.parse(stored.metadata.notAfter);
    assert.equal(verdict({ stored, now: new Date(notAfter) })?.reason, 'expired');
    assert.equal(verdict({ stored, state: ariState(notAfter - 1), now: new Date(notAfter + 1000) })?.reason, 'expired');
  });

  it('renews a 90-day certificate when 1/3 of its lifetime is left (day 60)', () => {
    const stored = storedCert({ lifetimeDays: 90 });
    assert.equal(lifetimeRenewalTime(stored).toISOString(), new Date(T0 + 60 * DAY).toISOString());
    assert.equal(verdict({ stored, now: new Date(T0 + 60 * DAY - 1) }), undefined);
    const v = verdict({ stored, now: new Date(T0 + 60 * DAY) });
    assert.equal(v?.reason, 'lifetime');
    assert.equal(v?.dueAt?.toISOString(), new Date(T0 + 60 * DAY).toISOString());
  });

  it('renews a certificate under 10 days when half of its lifetime is left', () => {
    const six = storedCert({ lifetimeDays: 6 });
    assert.equal(renewalTime(six, empty).toISOString(), new Date(T0 + 3 * DAY).toISOString());
    assert.equal(verdict({ stored: six, now: new Date(T0 + 3 * DAY - 1) }), undefined);
    assert.equal(verdict({ stored: six, now: new Date(T0 + 3 * DAY) })?.reason, 'lifetime');
    // Exactly 10 days is not short-lived.
    assert.equal(lifetimeRenewalTime(storedCert({ lifetimeDays: 10 })).getTime(), T0 + (10 * DAY * 2) / 3);
  });

  it('follows the ARI selected time instead of the lifetime rule', () => {
    const stored = storedCert({ lifetimeDays: 90 });
    const late = T0 + 70 * DAY;
    assert.equal(renewalTime(stored, ariState(late)).getTime(), late);
    // Day 65 is past the lifetime rule's day 60, but the CA's window says later.
    assert.equal(verdict({ stored, state: ariState(late), now: new Date(T0 + 65 * DAY) }), undefined);
    const v = verdict({ stored, state: ariState(late), now: new Date(late) });
    assert.equal(v?.reason, 'ari-window');
    // An early window (e.g. revocation ahead) makes it due before the lifetime rule would.
    assert.equal(verdict({ stored, state: ariState(T0 + 10 * DAY), now: new Date(T0 + 11 * DAY) })?.reason, 'ari-window');
  });

  it('ignores an ARI answer for another certificate or one selecting a time past expiry', () => {
    const stored = storedCert({ lifetimeDays: 90 });
    const now = new Date(T0 + 61 * DAY);
    assert.equal(verdict({ stored, state: ariState(T0 + 70 * DAY, 'aki.other'), now })?.reason, 'lifetime');
    assert.equal(renewalTime(stored, ariState(T0 + 95 * DAY)).getTime(), T0 + 60 * DAY);
    assert.equal(verdict({ stored, state: ariState(T0 + 95 * DAY), now })?.reason, 'lifetime');
  });

  it('checks the fundamental reasons first', () => {
    assert.equal(DEFAULT_POLICY_CHAIN.length, 8);
    const stored = storedCert({ lifetimeDays: 90 });
    const v = verdict({ spec: { ...spec, keyType: 'rsa-4096', domains: ['other.example'] }, stored, now: new Date(T0 + 100 * DAY) });
    assert.equal(v?.reason, 'domains-changed');
  });
});
