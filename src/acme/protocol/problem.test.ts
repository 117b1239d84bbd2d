import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AcmeProblemError, RateLimitedError, parseRetryAfter, problemToError } from './problem.js';

const now = new Date('2026-01-01T00:00:00Z');
const urn = (t: string): string => `urn:ietf:params:acme:error:${t}`;

test('rateLimited with Retry-After seconds → RateLimitedError at now + seconds', () => {
  const err = problemToError({ type: urn('rateLimited'), detail: 'too many certificates' }, { what: 'newOrder', status: 429, retryAfterHeader: '120', now });
  assert.ok(err instanceof RateLimitedError);
  assert.equal(err.code, 'ERR_ACME_RATE_LIMITED');
  assert.equal(err.retryable, true);
  assert.equal(err.retryAfter.toISOString(), '2026-01-01T00:02:00.000Z');
  assert.equal(err.message, 'acme: newOrder: too many certificates');
  assert.equal(err.status, 429);
});

test('rateLimited with an HTTP-date Retry-After', () => {
  const err = problemToError({ type: urn('rateLimited') }, { what: 'newOrder', status: 429, retryAfterHeader: 'Thu, 01 Jan 2026 05:00:00 GMT', now });
  assert.ok(err instanceof RateLimitedError);
  assert.equal(err.retryAfter.toISOString(), '2026-01-01T05:00:00.000Z');
});

test('rateLimited without Retry-After defaults to one hour', () => {
  const err = problemToError({ type: urn('rateLimited') }, { what: 'newOrder', status: 429, now });
  assert.ok(err instanceof RateLimitedError);
  assert.equal(err.retryAfter.toISOString(), '2026-01-01T01:00:00.000Z');
});

test('maps account and EAB problems to their codes', () => {
  const cases: [string, string][] = [
    ['accountDoesNotExist', 'ERR_ACME_ACCOUNT_NOT_FOUND'],
    ['externalAccountRequired', 'ERR_ACME_EAB_REQUIRED'],
    ['badNonce', 'ERR_ACME_BAD_NONCE'],
    ['unauthorized', 'ERR_ACME_PROBLEM'],
    ['rejectedIdentifier', 'ERR_ACME_PROBLEM'],
  ];
  for (const [type, code] of cases) {
    const err = problemToError({ type: urn(type), detail: 'd' }, { what: 'newAccount', status: 400, now });
    assert.ok(err instanceof AcmeProblemError);
    assert.equal(err.code, code, type);
    assert.equal(err.acmeType, type);
    assert.equal(err.problem.type, urn(type));
  }
  const deactivated = problemToError({ type: urn('unauthorized'), detail: 'Account has been deactivated' }, { what: 'newOrder', status: 403, now });
  assert.equal(deactivated.code, 'ERR_ACME_ACCOUNT_DEACTIVATED');
});

test('message lists subproblems with their identifiers (RFC 8555 §6.7.1)', () => {
  const err = problemToError(
    {
      type: urn('malformed'),
      detail: 'Some of the identifiers requested were rejected',
      subproblems: [{ type: urn('rejectedIdentifier'), detail: 'not allowed', identifier: { type: 'dns', value: 'bad.example' } }],
    },
    { what: 'newOrder', status: 400, now },
  );
  assert.equal(err.message, 'acme: newOrder: Some of the identifiers requested were rejected; bad.example: not allowed');
  assert.equal(err.problem.subproblems?.length, 1);
});

test('parseRetryAfter: seconds, HTTP-date, junk and absent', () => {
  assert.equal(parseRetryAfter('0', now)?.toISOString(), now.toISOString());
  assert.equal(parseRetryAfter(' 30 ', now)?.toISOString(), '2026-01-01T00:00:30.000Z');
  assert.equal(parseRetryAfter('Wed, 21 Oct 2026 07:28:00 GMT', now)?.toISOString(), '2026-10-21T07:28:00.000Z');
  assert.equal(parseRetryAfter('soon', now), undefined);
  assert.equal(parseRetryAfter(undefined, now), undefined);
});
