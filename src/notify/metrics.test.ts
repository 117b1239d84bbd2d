import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { StatusSnapshot } from '../renewal/status.js';
import { eventFromResult } from './lifecycle-event.js';
import { CertpilotMetrics, DAEMON_METRIC_NAMES, METRIC_NAMES, metricsWriteHint, writeMetricsFile } from './metrics.js';
import { tempDir } from '../testing/temp-dir.js';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

const snapshot: StatusSnapshot = {
  generatedAt: '2026-03-02T00:00:00.000Z',
  notifiers: [
    { notifier: 'hook', at: '2026-03-01T12:00:01.000Z', result: 'failed', certificate: 'never', code: 'ERR_NOTIFY_FAILED' },
    { notifier: 'mail', at: '2026-03-01T12:00:02.000Z', result: 'sent', certificate: 'never' },
  ],
  certificates: [
    {
      name: 'site',
      configured: true,
      domains: ['site.example'],
      version: 3,
      notBefore: '2026-03-01T00:00:00.000Z',
      notAfter: '2026-03-07T00:00:00.000Z',
      ariWindow: { start: '2026-03-04T00:00:00.000Z', end: '2026-03-04T03:00:00.000Z', selected: '2026-03-04T01:00:00.000Z' },
      nextRenewal: '2026-03-04T01:00:00.000Z',
      nextRenewalReason: 'ari-window',
      lastSuccessAt: '2026-03-01T00:00:00.000Z',
      failureCount: 0,
      deployers: [
        { deployer: 'files', version: 3, result: 'success', at: '2026-03-01T00:00:10.000Z', current: true },
        { deployer: 'reload', version: 2, result: 'failure', at: '2026-03-01T00:00:20.000Z', current: false, code: 'ERR_DEPLOY_VERIFY' },
      ],
    },
    { name: 'broken', configured: true, domains: [], problem: { code: 'ERR_STORAGE_CORRUPT', message: 'x', hint: 'y' } },
    { name: 'never', configured: true, domains: ['never.example'], lastFailureAt: '2026-03-01T12:00:00.000Z', failureCount: 2 },
    { name: 'kept', configured: false, oneOff: true, domains: ['kept.example'], lastFailureAt: '2026-03-01T12:00:00.000Z', failureCount: 1 },
    { name: 'removed', configured: false, domains: ['removed.example'], lastFailureAt: '2026-03-01T12:00:00.000Z', failureCount: 3 },
  ],
};

test('metrics observe the snapshot: expiry, not-before, ARI window, next renewal, ready, deployers', async () => {
  const m = new CertpilotMetrics();
  m.setSnapshot(snapshot);
  const text = await m.text();
  const has = (line: string): void => assert.ok(text.split('\n').includes(line), `${line}\n---\n${text}`);
  has(`certpilot_certificate_expiration_timestamp_seconds{name="site"} ${Date.parse('2026-03-07T00:00:00Z') / 1000}`);
  has(`certpilot_certificate_not_before_timestamp_seconds{name="site"} ${Date.parse('2026-03-01T00:00:00Z') / 1000}`);
  has(`certpilot_certificate_ari_window_end_timestamp_seconds{name="site"} ${Date.parse('2026-03-04T03:00:00Z') / 1000}`);
  has(`certpilot_certificate_renewal_timestamp_seconds{name="site",reason="ari-window"} ${Date.parse('2026-03-04T01:00:00Z') / 1000}`);
  // Not ready: a deployer lags behind. The unreadable one is Unknown.
  has('certpilot_certificate_ready_status{name="site",condition="False"} 1');
  has('certpilot_certificate_ready_status{name="site",condition="True"} 0');
  has('certpilot_certificate_ready_status{name="broken",condition="Unknown"} 1');
  has('certpilot_deployer_up_to_date{name="site",deployer="reload"} 0');
  has('certpilot_deployer_up_to_date{name="site",deployer="files"} 1');
  assert.doesNotMatch(text, /certpilot_certificate_expiration_timestamp_seconds\{name="broken"\}/);
  // A failing certificate removed from the configuration keeps its state, but exports no failure
  // (the failure alerts would fire for it forever); a failing one-off still does.
  has(`certpilot_certificate_last_failure_timestamp_seconds{name="never"} ${Date.parse('2026-03-01T12:00:00Z') / 1000}`);
  has(`certpilot_certificate_last_failure_timestamp_seconds{name="kept"} ${Date.parse('2026-03-01T12:00:00Z') / 1000}`);
  assert.doesNotMatch(text, /certpilot_certificate_(last_failure_timestamp_seconds|consecutive_failures)\{name="removed"\}/);
  has('certpilot_notifier_last_attempt_success{notifier="hook"} 0');
  has(`certpilot_notifier_last_attempt_timestamp_seconds{notifier="hook"} ${Date.parse('2026-03-01T12:00:01Z') / 1000}`);
  has('certpilot_notifier_last_attempt_success{notifier="mail"} 1');
  // A new snapshot replaces the old one: a certificate gone from it is gone from the metrics.
  m.setSnapshot({ ...snapshot, certificates: [] });
  assert.doesNotMatch(await m.text(), /name="site"/);
});

test('a run adds durations, outcomes, deploy results and ACME requests by endpoint and status', async () => {
  const m = new CertpilotMetrics();
  const event = eventFromResult(
    { name: 'site', outcome: 'renewed', message: 'ok', deploy: { ok: false, version: 3, steps: [{ deployer: 'files', status: 'deployed', message: 'ok' }, { deployer: 'reload', status: 'failed', message: 'no' }] } },
    { domains: [], timing: { startedAt: new Date(0), finishedAt: new Date(2500) } },
  );
  assert.ok(event);
  m.observeRun(event);
  m.acmeObserver.observe({ endpoint: 'newOrder', method: 'POST', status: 400, durationMs: 10 });
  m.acmeObserver.observe({ endpoint: 'newOrder', method: 'POST', status: 201, durationMs: 10 });
  m.acmeObserver.observe({ endpoint: 'directory', method: 'GET', status: undefined, durationMs: 10 });
  const text = await m.text();
  for (const line of [
    'certpilot_renewal_duration_seconds_sum{name="site",outcome="renewed"} 2.5',
    'certpilot_renewals_total{name="site",outcome="renewed"} 1',
    'certpilot_deploys_total{name="site",deployer="reload",result="failed"} 1',
    'certpilot_acme_requests_total{endpoint="newOrder",status="201"} 1',
    'certpilot_acme_requests_total{endpoint="newOrder",status="400"} 1',
    'certpilot_acme_requests_total{endpoint="directory",status="error"} 1',
  ]) {
    assert.ok(text.split('\n').includes(line), `${line}\n---\n${text}`);
  }
});

test('METRIC_NAMES is exactly what the registry exports', async () => {
  const m = new CertpilotMetrics();
  const exported = [...(await m.text()).matchAll(/^# TYPE (\S+) /gm)].map((x) => x[1]).sort();
  assert.deepEqual(exported, [...METRIC_NAMES].sort());
  const daemon = [...(await new CertpilotMetrics({ daemon: true }).text()).matchAll(/^# TYPE (\S+) /gm)].map((x) => x[1]).sort();
  assert.deepEqual(daemon, [...METRIC_NAMES, ...DAEMON_METRIC_NAMES].sort());
});

/** The metric names a PromQL expression reads (labels, strings, functions and keywords removed). */
function metricsIn(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, '')
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, '')
    .replace(/\[[^\]]*\]/g, '');
  // A word followed by "(" is a function; numbers with units (1h) were removed with the ranges.
  const words = [...stripped.matchAll(/([A-Za-z_:][A-Za-z0-9_:]*)(\s*\()?/g)].filter((x) => x[2] === undefined).map((x) => x[1] as string);
  const keywords = new Set(['and', 'or', 'unless', 'bool', 'offset', 'time', 'le']);
  return words.filter((w) => !keywords.has(w) && !/^\d/.test(w));
}

test('the Grafana dashboard and the alert rules query only certpilot metrics that exist', () => {
  const known = new Set<string>([...METRIC_NAMES, ...DAEMON_METRIC_NAMES].flatMap((n) => [n, `${n}_bucket`, `${n}_sum`, `${n}_count`]));
  const dashboard = JSON.parse(readFileSync(join(repo, 'monitoring', 'grafana-dashboard.json'), 'utf8')) as { panels: { title: string; targets: { expr: string }[] }[] };
  const exprs = dashboard.panels.flatMap((p) => p.targets.map((t) => [p.title, t.expr] as const));
  assert.ok(exprs.length >= 10);
  const rules = readFileSync(join(repo, 'monitoring', 'certpilot-rules.yml'), 'utf8');
  // Each rule's expr (inline or a `|` block) up to the next key.
  for (const m of rules.matchAll(/expr: (?:\|\n((?:\s{10}.*\n)+)|(.*)\n)/g)) exprs.push(['rules', (m[1] ?? m[2] ?? '').trim()]);
  assert.ok(exprs.filter(([w]) => w === 'rules').length >= 6);
  const used = new Set<string>();
  for (const [where, expr] of exprs) {
    const names = metricsIn(expr);
    assert.ok(names.length > 0, `${where}: ${expr} reads a metric`);
    for (const name of names) {
      assert.ok(known.has(name), `${where}: ${expr} reads ${name}, which certpilot does not export`);
      used.add(name.replace(/_(bucket|sum|count)$/, ''));
    }
  }
  // The dashboard is worth having: it shows the state metrics people alert on.
  for (const name of ['certpilot_certificate_expiration_timestamp_seconds', 'certpilot_certificate_renewal_timestamp_seconds', 'certpilot_acme_requests_total', 'certpilot_deployer_up_to_date']) assert.ok(used.has(name), name);
});

test('ERR_METRICS_WRITE hints at the fix for its cause: a missing folder, a full disk, permissions, a directory', async () => {
  const dir = await tempDir();
  const missing = join(dir, 'absent', 'certpilot.prom');
  await assert.rejects(writeMetricsFile(missing, 'x 1\n'), (err: Error & { code?: string; hint?: string }) => {
    assert.equal(err.code, 'ERR_METRICS_WRITE');
    assert.match(err.hint ?? '', new RegExp(`^Create ${join(dir, 'absent').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} `));
    return true;
  });
  await assert.rejects(writeMetricsFile(dir, 'x 1\n'), (err: Error & { hint?: string }) => /names a directory: give a file in it/.test(err.hint ?? ''));
  const errno = (code: string): NodeJS.ErrnoException => Object.assign(new Error(code), { code });
  assert.match(metricsWriteHint('/var/lib/node-exporter/c.prom', errno('ENOSPC')) ?? '', /^Free space on the volume of \/var\/lib\/node-exporter/);
  assert.match(metricsWriteHint('/var/lib/node-exporter/c.prom', errno('EACCES')) ?? '', /^Let the user certpilot runs as write \/var\/lib\/node-exporter/);
  assert.equal(metricsWriteHint('/x/c.prom', errno('EIO')), undefined, 'anything else: the catalog\'s hint');
});
