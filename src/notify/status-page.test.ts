import assert from 'node:assert/strict';
import { test } from 'node:test';
import { withLocks, type StatusSnapshot } from '../renewal/status.js';
import { renderStatusPage } from './status-page.js';

const snapshot = (lastResult: NonNullable<StatusSnapshot['certificates'][number]['lastResult']>): StatusSnapshot => ({
  generatedAt: '2026-01-10T00:00:00.000Z',
  certificates: [{ name: 'site', configured: true, domains: ['site.example'], version: 2, lastResult, deployers: [] }],
});

test('the last result says when it is a deployer\'s failure since the renewal (stage and deployer, escaped), never a bare failure of the renewal', () => {
  const html = renderStatusPage(
    snapshot({ at: '2026-01-09T00:00:00.000Z', result: 'failure', stage: 'deploy', deployer: 'reload<b>', code: 'ERR_DEPLOY_HOOK_FAILED', message: 'exit 1' }),
  );
  assert.match(html, /<span class="result failed">deploy <span class="stage-deployer">reload&#60;b&#62;<\/span> failure<\/span>/);
  assert.match(html, /ERR_DEPLOY_HOOK_FAILED/);
  const renewal = renderStatusPage(snapshot({ at: '2026-01-09T00:00:00.000Z', result: 'failure', stage: 'renewal', code: 'ERR_ACME_PROBLEM', message: 'unauthorized' }));
  assert.match(renewal, /<span class="result failed">failure<\/span>/);
  assert.doesNotMatch(renewal, /stage-deployer/);
});

test('a notifier whose last attempt failed is named at the top of the page (escaped); one that sent is not', () => {
  const base = snapshot({ at: '2026-01-09T00:00:00.000Z', result: 'success', stage: 'renewal' });
  const html = renderStatusPage({
    ...base,
    notifiers: [
      { notifier: 'chat<i>', at: '2026-01-09T01:00:00.000Z', result: 'failed', certificate: 'site', code: 'ERR_NOTIFY_WEBHOOK' },
      { notifier: 'mail', at: '2026-01-09T01:00:00.000Z', result: 'sent', certificate: 'site' },
    ],
  });
  assert.match(html, /<p class="notifier-failing" data-notifier="chat&#60;i&#62;"><strong>Notifier chat&#60;i&#62; is failing:<\/strong> its last attempt \(2026-01-09 01:00:00Z, site's event\) failed with <code>ERR_NOTIFY_WEBHOOK<\/code>/);
  assert.doesNotMatch(html, /data-notifier="mail"/);
  assert.doesNotMatch(renderStatusPage(base), /notifier-failing"/);
});

test('a page served while the state store cannot be read says it is the last one read, and why (escaped, redacted); a fresh page does not', () => {
  const base = snapshot({ at: '2026-01-09T00:00:00.000Z', result: 'success', stage: 'renewal' });
  const html = renderStatusPage(base, { unreadable: 'kubernetes: list secrets <web>: ECONNREFUSED (API server at https://admin:Pw0rd@10.0.0.1:6443)' });
  assert.match(html, /<p class="stale"><strong>The state store cannot be read now<\/strong> \(kubernetes: list secrets &#60;web&#62;: ECONNREFUSED .*\): this page is the status as last read, at 2026-01-10 00:00:00Z\./);
  assert.doesNotMatch(html, /Pw0rd/);
  assert.doesNotMatch(renderStatusPage(base), /class="stale"/);
});

test('a password in a URL quoted by the last error is redacted on the page', () => {
  const html = renderStatusPage(
    snapshot({ at: '2026-01-09T00:00:00.000Z', result: 'failure', stage: 'deploy', deployer: 'reload', code: 'ERR_DEPLOY_HOOK_FAILED', message: 'last stderr: could not reach redis://:SuperSecretRedis@10.0.0.1:6379/0' }),
  );
  assert.doesNotMatch(html, /SuperSecretRedis/);
  assert.match(html, /redis:\/\/:\[redacted\]@10\.0\.0\.1/);
});

test('a certificate whose renewal fails with 3 days left is marked at risk, with the last error\'s code and hint (escaped); one with time left or no failure is not', () => {
  const failing = { at: '2026-01-09T00:00:00.000Z', result: 'failure' as const, stage: 'renewal' as const, code: 'ERR_ACME_AUTHORIZATION_FAILED', message: 'refused', hint: 'Open port 80 <to> the CA.' };
  const cert = (remainingDays: number, lastResult?: typeof failing): StatusSnapshot['certificates'][number] => ({
    name: 'shop',
    configured: true,
    domains: ['shop.example'],
    version: 1,
    notBefore: new Date(Date.parse('2026-01-10T00:00:00.000Z') - (90 - remainingDays) * 86_400_000).toISOString(),
    notAfter: new Date(Date.parse('2026-01-10T00:00:00.000Z') + remainingDays * 86_400_000).toISOString(),
    remainingMs: remainingDays * 86_400_000,
    ...(lastResult ? { lastResult } : {}),
    deployers: [],
  });
  const page = (c: StatusSnapshot['certificates'][number]): string => renderStatusPage({ generatedAt: '2026-01-10T00:00:00.000Z', certificates: [c] });
  const risky = page(cert(3, failing));
  assert.match(risky, /<tr class="cert at-risk"/);
  assert.match(risky, /<div class="bar at-risk"/);
  assert.match(risky, /At risk: renewal failing, expires in 3d 0h\.<\/strong> <code>ERR_ACME_AUTHORIZATION_FAILED<\/code> Open port 80 &#60;to&#62; the CA\./);
  for (const calm of [page(cert(60, failing)), page(cert(3))]) assert.doesNotMatch(calm, /class="[^"]*at-risk|At risk/);
});

test('a held lock shows on the page through withLocks: its holder and expiry (escaped), a stale one marked with the command that breaks it', () => {
  const base = snapshot({ at: '2026-01-09T00:00:00.000Z', result: 'success', stage: 'renewal' });
  const lock = { name: 'site', where: 'Lease certpilot/certpilot-site', holder: 'pod<x>_1', renewedAt: '2026-01-09T23:40:00.000Z', expiresAt: '2026-01-10T00:10:00.000Z', ttlSeconds: 1800, why: 'its holder has not renewed it for 1200 s' };
  const stale = renderStatusPage(withLocks(base, new Map([['site', { ...lock, state: 'stale' as const }]]), (n) => `certpilot unlock ${n}`));
  assert.match(stale, /<p class="warning lock lock-stale">locked by pod&#60;x&#62;_1 until 2026-01-10 00:10:00Z \(stale\): its holder has not renewed it for 1200 s; <code>certpilot unlock site<\/code> breaks it<\/p>/);
  const live = renderStatusPage(withLocks(base, new Map([['site', { ...lock, state: 'live' as const, why: 'its holder is renewing it' }]]), (n) => `certpilot unlock ${n}`));
  assert.match(live, /<p class="lock lock-live">locked by pod&#60;x&#62;_1 until 2026-01-10 00:10:00Z \(live\): its holder is renewing it<\/p>/);
  assert.doesNotMatch(live, /certpilot unlock/, 'no command to break a live lock');
  assert.doesNotMatch(renderStatusPage(withLocks(base, new Map(), (n) => n)), /class="[^"]*lock/, 'no lock: no line');
});
