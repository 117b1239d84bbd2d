// The shipped monitoring, with Debian's Prometheus: `promtool test rules` passes for every alert;
// `certpilot status --metrics-file` writes a textfile `promtool check metrics` accepts, with a
// cadence warning for a 6-day certificate under a 12-hour run; and a real Prometheus on loopback
// scrapes `certpilot serve`'s /metrics (hits and misses counted) and the textfile served as a
// target, then answers queries on both.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { repoRoot, runCli, tempDir } from '../harness/certpilot.js';
import { fetchBuffered } from '../harness/http.js';
import { freePort } from '../harness/ports.js';
import { startPrometheus } from '../harness/prometheus.js';
import { startServe } from '../harness/serve.js';
import { requireServer } from '../harness/servers.js';
import { serveDirectory } from '../harness/static-server.js';
import { makeStatusFixture } from '../harness/status-fixture.js';

test('promtool test rules: every shipped alert fires when it should and not otherwise', { timeout: 60_000 }, (t) => {
  if (!requireServer(t, 'promtool', 'Debian package `prometheus`')) return;
  const dir = join(repoRoot, 'monitoring');
  const checked = spawnSync('promtool', ['check', 'rules', 'certpilot-rules.yml'], { cwd: dir, encoding: 'utf8' });
  assert.equal(checked.status, 0, checked.stdout + checked.stderr);
  const tested = spawnSync('promtool', ['test', 'rules', 'certpilot-rules.test.yml'], { cwd: dir, encoding: 'utf8' });
  assert.equal(tested.status, 0, tested.stdout + tested.stderr);
  assert.match(tested.stdout, /SUCCESS/);
  // Every alert of the rules file has a test case.
  const rules = spawnSync('sh', ['-c', 'cat certpilot-rules.yml'], { cwd: dir, encoding: 'utf8' }).stdout;
  const tests = spawnSync('sh', ['-c', 'cat certpilot-rules.test.yml'], { cwd: dir, encoding: 'utf8' }).stdout;
  for (const [, alert] of rules.matchAll(/- alert: (\S+)/g)) assert.match(tests, new RegExp(`alertname: ${alert}\\n\\s+exp_alerts:\\n\\s+- exp_labels`), `${alert} has a firing test`);
});

test('status --metrics-file parses with promtool, and a real Prometheus scrapes it and serve /metrics', { timeout: 120_000 }, async (t) => {
  if (!requireServer(t, 'promtool', 'Debian package `prometheus`') || !requireServer(t, 'prometheus', 'Debian package `prometheus`')) return;
  const dir = await tempDir();
  const fixture = await makeStatusFixture(dir);
  const targetDir = join(dir, 'target');
  await mkdir(targetDir);
  const textfile = join(targetDir, 'metrics');
  const status = await runCli(['status', '--config', fixture.config, '--metrics-file', textfile]);
  assert.equal(status.code, 0, status.stdout + status.stderr);
  assert.match(status.stderr, /warning: short: renew runs every 12h 0m but the CA's ARI window is 3h 12m wide/);
  const text = await readFile(textfile, 'utf8');
  const check = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  assert.equal(check.status, 0, `promtool check metrics:\n${check.stdout}${check.stderr}`);
  assert.match(text, /^certpilot_certificate_cadence_misfit\{name="short"\} 1$/m);
  assert.match(text, /^certpilot_deployer_up_to_date\{name="site",deployer="reload"\} 0$/m);

  const filePort = await freePort();
  const files = await serveDirectory(targetDir, filePort);
  t.after(() => files.close());
  const servePort = await freePort();
  const serve = await startServe(['--listen', `127.0.0.1:${servePort}`, '--thumbprint', 'xK3mHq0aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789']);
  t.after(() => serve.stop());
  // One hit (stateless mode answers any well-formed token) and one miss.
  assert.equal((await fetchBuffered(`http://127.0.0.1:${servePort}/.well-known/acme-challenge/abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG`)).status, 200);
  assert.equal((await fetchBuffered(`http://127.0.0.1:${servePort}/.well-known/acme-challenge/bad!token`)).status, 404);
  // serve has no status snapshot: none of its series (a `certpilot_status_generated_timestamp_seconds 0`
  // made the shipped CertpilotMetricsStale fire forever and CertpilotMetricsAbsent never).
  const served = (await fetchBuffered(`http://127.0.0.1:${servePort}/metrics`)).text;
  assert.match(served, /^certpilot_http01_responder_requests_total\{result="hit"\} 1$/m);
  assert.doesNotMatch(served, /certpilot_status_generated|certpilot_certificate_|certpilot_deployer_/);
  // A served /metrics (the process's own series too, as the daemon's) passes promtool's lint as the textfile does.
  assert.match(served, /^certpilot_process_cpu_seconds_total /m);
  const lint = spawnSync('promtool', ['check', 'metrics'], { input: served, encoding: 'utf8' });
  assert.equal(lint.status, 0, `promtool check metrics of /metrics:\n${lint.stdout}${lint.stderr}`);

  const prometheus = await startPrometheus({ serve: [`127.0.0.1:${servePort}`], textfile: [`127.0.0.1:${filePort}`] });
  t.after(() => prometheus.stop());
  const up = await prometheus.waitFor('up == 1', (s) => s.length === 2);
  assert.deepEqual(up.map((s) => s.metric.job).sort(), ['serve', 'textfile']);
  const answers = await prometheus.waitFor('certpilot_http01_responder_requests_total', (s) => s.length === 2);
  assert.deepEqual(Object.fromEntries(answers.map((s) => [s.metric.result, s.value[1]])), { hit: '1', miss: '1' });
  const expiry = await prometheus.waitFor('certpilot_certificate_expiration_timestamp_seconds', (s) => s.length === 2);
  assert.deepEqual(expiry.map((s) => s.metric.name).sort(), ['short', 'site']);
  assert.deepEqual((await prometheus.query('certpilot_certificate_ready_status{condition="True"} == 1')).map((s) => s.metric.name), ['short']);
  // The shipped rules' expressions evaluate on the scraped data: the failing deploy is found.
  const behind = await prometheus.query('certpilot_deployer_up_to_date == 0');
  assert.deepEqual(behind.map((s) => `${s.metric.name}/${s.metric.deployer}`), ['site/reload']);
  assert.equal((await prometheus.query('certpilot_build_info')).length, 2, 'both targets expose build info');
  assert.deepEqual((await prometheus.query('certpilot_status_generated_timestamp_seconds')).map((s) => s.metric.job), ['textfile'], 'only the textfile has a snapshot');
});
