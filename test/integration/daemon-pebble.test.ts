// `certpilot daemon` (the built bundle) against Pebble 2.10 with the `shortlived` profile, behind
// the counting fault proxy: it issues and deploys with `files`, fetches ARI and sleeps until the
// time it chose; SIGHUP with a changed file renews at once, SIGHUP with a broken file keeps it
// running and says why; SIGTERM in the middle of an order exits 0, and the next start resumes that
// order (no new order at the CA, counted by distinct order URLs). Against Pebble 2.4 (no ARI) an
// idle daemon sleeps until the next day's look, instead of running every certificate every 10-70 s.
// With no configuration file and only a one-off (`issue -d`, 20-second certificates) it renews it
// from the one-off's own CA and names its next wake; `forget` then SIGHUP leaves it renewing nothing.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { cliPath, repoRoot, runCli, startCliScenario, tempDir, testCaFile, writeConfig, type TestCertificate } from '../harness/certpilot.js';
import { orderUrls } from '../harness/fault-proxy.js';
import { freePort } from '../harness/ports.js';
import { MAX_JITTER_MS, RERUN_FLOOR_MS } from '../../src/renewal/scheduler.js';
import { startPrometheus } from '../harness/prometheus.js';
import { startPebble } from '../harness/pebble.js';
import { requirePebble, requireServer } from '../harness/servers.js';

const DAY = 86_400_000;

interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

/** A running daemon: its JSON log lines, and its exit. */
interface Daemon {
  child: ChildProcess;
  lines: LogLine[];
  text: () => string;
  exited: Promise<number | null>;
  /** Resolves with the first log line (from `from` on) that `match` accepts; bounded. */
  waitFor: (match: (l: LogLine) => boolean, what: string, from?: number, limitMs?: number) => Promise<LogLine>;
}

/** Starts `certpilot daemon --config CONFIG` (or, with `config` undefined, with `extra` alone: no configuration file). */
function startDaemon(t: TestContext, config: string | undefined, extra: string[] = []): Daemon {
  const args = [cliPath, 'daemon', ...(config ? ['--config', config] : []), '--log-format', 'json', ...extra];
  // Only PATH and HOME: no CERTPILOT_CONFIG or CERTPILOT_DIRECTORY_URL of the test's environment.
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root' };
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env, cwd: repoRoot });
  const lines: LogLine[] = [];
  let raw = '';
  let buffer = '';
  child.stderr?.on('data', (d: Buffer) => {
    raw += d.toString();
    buffer += d.toString();
    let nl: number;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      try {
        lines.push(JSON.parse(line) as LogLine);
      } catch {
        // not a log line
      }
    }
  });
  child.stdout?.on('data', (d: Buffer) => (raw += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  t.after(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  const waitFor = async (match: (l: LogLine) => boolean, what: string, from = 0, limitMs = 60_000): Promise<LogLine> => {
    for (let waited = 0; ; waited += 50) {
      const found = lines.slice(from).find(match);
      if (found) return found;
      if (waited > limitMs || child.exitCode !== null || child.signalCode !== null) throw new Error(`gave up waiting for ${what}; daemon output:\n${raw}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  return { child, lines, text: () => raw, exited, waitFor };
}

const ran = (what: RegExp) => (l: LogLine): boolean => typeof l.ran === 'string' && what.test(l.ran);

test('daemon on Pebble 2.10 shortlived: issues and deploys, sleeps to its ARI time, SIGHUP reloads (a broken file is refused), SIGTERM mid-order then restart resumes the same order', { timeout: 240_000 }, async (t) => {
  if (!requirePebble(t, '2.10') || !requireServer(t, 'prometheus', 'Debian package `prometheus`')) return;
  const short = (domains: string[]): TestCertificate => ({ name: 'short', domains, profile: 'shortlived', deploy: ['volume'] });
  const s = await startCliScenario(t, {
    pebble: {
      version: '2.10',
      strict: true,
      noSleep: true,
      profiles: { default: { description: 'default', validityPeriod: 90 * 86_400 }, shortlived: { description: 'Six-day certificates', validityPeriod: 518_400 } },
    },
    certificates: [short(['short.daemon.test'])],
  });
  const write = (certificates: TestCertificate[]): Promise<string> =>
    writeConfig(s.dir, { directoryUrl: s.proxy.directoryUrl, httpPort: s.pebble.httpPort, deployers: { volume: { type: 'files', dir: './volume' } }, certificates });
  await write([short(['short.daemon.test'])]);
  const deployed = (): X509Certificate => new X509Certificate(readFileSync(join(s.dir, 'volume', 'cert.pem')));

  // 1. Start: the certificate is missing, so it is issued at once and deployed with files.
  const port = await freePort();
  const d = startDaemon(t, s.config, ['--listen', `127.0.0.1:${port}`]);
  await d.waitFor(ran(/short:issued/), 'the first issuance');
  const v1 = deployed();
  const lifetime = Date.parse(v1.validTo) - Date.parse(v1.validFrom);
  assert.ok(Math.abs(lifetime - 6 * DAY) < DAY / 24, `a 6-day certificate, not ${lifetime / DAY} days`);
  assert.equal(v1.serialNumber, new X509Certificate(readFileSync(join(s.stateDir, 'live', 'short', 'cert.pem'))).serialNumber, 'the live version is the deployed one');

  // 2. Then it fetches ARI for the new certificate and sleeps until the CA's Retry-After or the time it chose in the window.
  // The run after an issuance waits for its floor (10 s) plus the daemon's jitter (up to 60 s, so
  // that many daemons do not ask the CA at once): up to 70 s, which a 60 s wait missed in CI.
  const asleep = await d.waitFor(ran(/short:not-due/), 'the ARI fetch for the new certificate', 0, (RERUN_FLOOR_MS + MAX_JITTER_MS) * 1.25);
  const state = JSON.parse(readFileSync(join(s.stateDir, 'renewal-state', 'short.json'), 'utf8')) as { ari?: { windowStart: string; windowEnd: string; selectedTime: string; nextFetchAt: string } };
  assert.ok(state.ari, 'the ARI answer is persisted');
  // Its next wake is the check of the files target (every 10 minutes); the line names the renewal's too.
  const check = asleep.next as { at: string; why: string };
  assert.equal(check.why, 'deploy-check', JSON.stringify(asleep));
  const next = asleep.nextRenewal as { at: string; why: string };
  const wake = Date.parse(next.at);
  if (next.why === 'renewal-time') {
    assert.ok(wake >= Date.parse(state.ari.windowStart) && wake <= Date.parse(state.ari.windowEnd), `wakes at ${next.at}, inside the ARI window ${state.ari.windowStart}…${state.ari.windowEnd}`);
  } else {
    assert.equal(next.why, 'ari-refetch');
    assert.equal(next.at, state.ari.nextFetchAt, "wakes when the CA's Retry-After says to ask again");
    assert.ok(wake < Date.parse(state.ari.selectedTime));
  }
  assert.ok((asleep.sleepSeconds as number) * 1000 >= Math.min(wake, Date.parse(check.at)) - Date.now() - 5000, 'it sleeps until then');
  // The daemon serves /metrics (scraped by a real Prometheus) and the status page, read-only.
  const prometheus = await startPrometheus({ daemon: [`127.0.0.1:${port}`] });
  t.after(() => prometheus.stop());
  const expiry = await prometheus.waitFor('certpilot_certificate_expiration_timestamp_seconds{name="short"}', (x) => x.length === 1);
  assert.equal(Number(expiry[0]?.value[1]), Date.parse(v1.validTo) / 1000, 'the expiry Prometheus scraped is the deployed certificate\'s');
  const issuedCount = await prometheus.waitFor('certpilot_renewals_total{name="short",outcome="issued"}', (x) => x.length === 1);
  assert.equal(issuedCount[0]?.value[1], '1', 'the issuance reached the metrics through the event sink');
  assert.ok((await prometheus.query('sum(certpilot_acme_requests_total)')).some((x) => Number(x.value[1]) > 0), 'ACME requests are counted');
  const page = await fetch(`http://127.0.0.1:${port}/`);
  assert.equal(page.status, 200);
  assert.match(await page.text(), /short\.daemon\.test/);
  assert.equal((await fetch(`http://127.0.0.1:${port}/`, { method: 'POST' })).status, 405, 'read-only');
  const ordersAfterIssue = orderUrls(s.proxy.requests.log).length;
  assert.equal(ordersAfterIssue, 1);
  const requestsWhileAsleep = s.proxy.requests.log.length;
  await new Promise((r) => setTimeout(r, 1500));
  assert.equal(s.proxy.requests.log.length, requestsWhileAsleep, 'asleep: no request to the CA');

  // 3. SIGHUP with a broken file: it says which field and keeps running on the old configuration.
  await writeFile(s.config, readFileSync(s.config, 'utf8').replace('profile: shortlived', 'profile: 42\n    keyType: rsa-1024'));
  let mark = d.lines.length;
  d.child.kill('SIGHUP');
  const refused = await d.waitFor((l) => /configuration NOT reloaded/.test(l.msg), 'the reload to be refused', mark);
  assert.match(JSON.stringify(refused), /certificates\[0\]\.keyType|certificates\.0\.keyType/, 'the field is named');
  assert.equal(typeof refused.hint, 'string');
  await new Promise((r) => setTimeout(r, 500));
  assert.deepEqual([d.child.exitCode, d.child.signalCode], [null, null], 'still running');
  // /metrics says the file sent is not in use (what CertpilotConfigReloadFailed fires on).
  const metricsText = async (): Promise<string> => (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  assert.match(await metricsText(), /^certpilot_config_last_reload_successful 0$/m);

  // 4. SIGHUP with a good file that adds a name: renewed at once (the names changed), deployed.
  await write([short(['short.daemon.test', 'www.short.daemon.test'])]);
  mark = d.lines.length;
  d.child.kill('SIGHUP');
  await d.waitFor((l) => /configuration reloaded/.test(l.msg), 'the reload', mark);
  assert.match(await metricsText(), /^certpilot_config_last_reload_successful 1$/m);
  assert.match(await metricsText(), /^certpilot_config_last_reload_success_timestamp_seconds \d+(\.\d+)?(e\+\d+)?$/m);
  await d.waitFor(ran(/short:renewed/), 'the renewal after the reload', mark);
  const v2 = deployed();
  assert.notEqual(v2.serialNumber, v1.serialNumber);
  assert.match(v2.subjectAltName ?? '', /www\.short\.daemon\.test/);
  assert.equal(orderUrls(s.proxy.requests.log).length, 2);

  // 5. Another name, and SIGTERM once the order is finalized (the CA has paid for it): exit 0.
  let finalized = false;
  s.proxy.failNext({
    match: (r) => {
      if (r.kind === 'POST /finalize-order') {
        finalized = true;
        return false;
      }
      return finalized;
    },
    status: 0,
    hang: true,
  });
  await write([short(['short.daemon.test', 'www.short.daemon.test', 'api.short.daemon.test'])]);
  d.child.kill('SIGHUP');
  for (let waited = 0; s.proxy.pendingFaults() > 0; waited += 50) {
    if (waited > 60_000) throw new Error(`the order never reached finalize:\n${d.text()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  d.child.kill('SIGTERM');
  assert.equal(await d.exited, 0, d.text());
  assert.match(d.text(), /daemon stopped/);
  const pending = JSON.parse(readFileSync(join(s.stateDir, 'pending', 'short', 'order.json'), 'utf8')) as { orderUrl: string };
  const ordersBefore = orderUrls(s.proxy.requests.log);
  assert.equal(ordersBefore.length, 3);
  assert.equal(deployed().serialNumber, v2.serialNumber, 'v2 stays live and deployed meanwhile');

  // 6. Restart: the pending order is resumed, not placed again.
  const again = startDaemon(t, s.config);
  await again.waitFor(ran(/short:renewed/), 'the resumed order');
  const ordersAfter = orderUrls(s.proxy.requests.log);
  assert.deepEqual(ordersAfter, ordersBefore, 'no new order: the same order URL was completed');
  assert.ok(s.proxy.requests.log.some((r) => r.path.startsWith(new URL(pending.orderUrl).pathname)), 'the pending order was asked for');
  assert.ok(!existsSync(join(s.stateDir, 'pending', 'short')), 'the pending order is gone after the save');
  const v3 = deployed();
  assert.match(v3.subjectAltName ?? '', /api\.short\.daemon\.test/);
  again.child.kill('SIGTERM');
  assert.equal(await again.exited, 0);
});

test('daemon on Pebble 2.4 (no ARI, acme.ari on by default): over certificates not due it sleeps about a day, and does not run them again after the 10 s floor', { timeout: 120_000 }, async (t) => {
  if (!requirePebble(t, '2.4')) return;
  const s = await startCliScenario(t, { pebble: { version: '2.4', strict: true, noSleep: true }, certificates: [{ name: 'alpha', domains: ['alpha.idle.test'] }, { name: 'beta', domains: ['beta.idle.test'] }] });
  const issued = await runCli(['renew', '--config', s.config]);
  assert.equal(issued.code, 0, `${issued.stdout}\n${issued.stderr}`);

  const d = startDaemon(t, s.config);
  const first = await d.waitFor((l) => l.cycle === 1, 'the first cycle');
  assert.equal(first.ran, 'alpha:not-due beta:not-due');
  const next = first.next as { certificate: string; at: string; why: string };
  assert.notEqual(next.why, 'floor', `the next wake is the certificates' own, not the re-run floor: ${JSON.stringify(first)}`);
  assert.ok((first.sleepSeconds as number) >= 23 * 3600, `it sleeps about a day, not seconds: ${JSON.stringify(first)}`);
  // Past the floor after its own run: no second cycle (the bug ran one 10-70 s later, for ever).
  await new Promise((r) => setTimeout(r, RERUN_FLOOR_MS + 1500));
  assert.deepEqual(d.lines.filter((l) => typeof l.cycle === 'number').map((l) => l.cycle), [1], d.text());
  d.child.kill('SIGTERM');
  assert.equal(await d.exited, 0, d.text());
});

test('daemon with no configuration file renews a due one-off (issue -d) from its own CA and schedules its next renewal; forget then SIGHUP stops the renewals', { timeout: 90_000 }, async (t) => {
  if (!requirePebble(t, '2.4')) return;
  // 20-second certificates: due 10 s after issuance (half the lifetime left, the short-lifetime rule).
  const pebble = await startPebble({ version: '2.4', noSleep: true, certificateValidityPeriod: 20 });
  t.after(() => pebble.stop());
  const stateDir = join(await tempDir(), 'state');
  const issued = await runCli(['issue', '-d', 'one.daemon.test', '--name', 'one', '--agree-tos', '--directory', pebble.directoryUrl, '--ca-bundle', testCaFile, '--http-01-port', String(pebble.httpPort), '--http-01-address', '127.0.0.1', '--state-dir', stateDir]);
  assert.equal(issued.code, 0, issued.stdout + issued.stderr);
  const live = (): X509Certificate => new X509Certificate(readFileSync(join(stateDir, 'live', 'one', 'cert.pem')));
  const dueAt = (c: X509Certificate): number => Date.parse(c.validFrom) + (Date.parse(c.validTo) - Date.parse(c.validFrom)) / 2;
  const v1 = live();
  await new Promise((r) => setTimeout(r, Math.max(0, dueAt(v1) + 1500 - Date.now())));

  // No --config, no --directory: the one-off's own CA, http-01 port and names. It is due: renewed at once.
  const d = startDaemon(t, undefined, ['--state-dir', stateDir]);
  const started = await d.waitFor((l) => /daemon started/.test(l.msg), 'the start');
  assert.deepEqual(started.certificates, ['one']);
  const renewed = await d.waitFor((l) => l.cycle === 1, 'the first cycle');
  assert.equal(renewed.ran, 'one:renewed', d.text());
  const v2 = live();
  assert.notEqual(v2.serialNumber, v1.serialNumber, 'a new live version');
  assert.match(v2.subjectAltName ?? '', /DNS:one\.daemon\.test/);
  // The cycle's line names the one-off's next renewal, when it falls due.
  const next = renewed.next as { certificate: string; at: string };
  assert.equal(next.certificate, 'one');
  assert.ok(Math.abs(Date.parse(next.at) - dueAt(v2)) < 3000, `next wake ${next.at}, due at ${new Date(dueAt(v2)).toISOString()}`);

  // forget, then SIGHUP: the reload leaves nothing to renew, and the daemon stays up renewing nothing.
  const forgotten = await runCli(['forget', 'one', '--state-dir', stateDir]);
  assert.equal(forgotten.code, 0, forgotten.stdout + forgotten.stderr);
  const mark = d.lines.length;
  d.child.kill('SIGHUP');
  const reloaded = await d.waitFor((l) => /configuration (NOT )?reloaded/.test(l.msg), 'the reload', mark);
  assert.deepEqual(reloaded.certificates, [], `reloaded with no certificate: ${JSON.stringify(reloaded)}`);
  const idle = await d.waitFor((l) => typeof l.cycle === 'number', 'the cycle after the reload', mark, 15_000);
  assert.equal(idle.ran, undefined, d.text());
  assert.equal(idle.next, undefined, 'nothing scheduled');
  // Past v2's due time (and the 10 s floor): still not renewed, its files as they were.
  await new Promise((r) => setTimeout(r, Math.max(0, dueAt(v2) + 3000 - Date.now())));
  assert.deepEqual(d.lines.slice(mark).filter((l) => typeof l.ran === 'string'), [], d.text());
  assert.equal(live().serialNumber, v2.serialNumber);
  assert.deepEqual([d.child.exitCode, d.child.signalCode], [null, null], 'still running');
  d.child.kill('SIGTERM');
  assert.equal(await d.exited, 0, d.text());
});

test('daemon: a files target emptied (rm -rf) while nothing is due is deployed again once a /metrics scrape sees it lost, without a CA request; the cycle line names the deploy check', { timeout: 120_000 }, async (t) => {
  if (!requirePebble(t, '2.4')) return;
  const s = await startCliScenario(t, { pebble: { version: '2.4', strict: true, noSleep: true }, certificates: [{ name: 'site', domains: ['site.lost.test'], deploy: ['volume'] }] });
  await writeConfig(s.dir, { directoryUrl: s.proxy.directoryUrl, httpPort: s.pebble.httpPort, deployers: { volume: { type: 'files', dir: './volume' } }, certificates: [{ name: 'site', domains: ['site.lost.test'], deploy: ['volume'] }] });
  const issued = await runCli(['renew', '--config', s.config]);
  assert.equal(issued.code, 0, `${issued.stdout}\n${issued.stderr}`);
  const port = await freePort();
  const d = startDaemon(t, s.config, ['--listen', `127.0.0.1:${port}`]);
  // Its first look (the ARI fetch Pebble 2.4 cannot answer) checks the target too; then nothing is
  // due for years (5-year certificates), and the next deploy check is 10 minutes away.
  const first = await d.waitFor((l) => l.cycle === 1, 'the first cycle');
  assert.equal(first.ran, 'site:not-due', JSON.stringify(first));
  const next = first.next as { why: string; at: string };
  assert.equal(next.why, 'deploy-check', JSON.stringify(first));
  assert.ok(Date.parse(next.at) - Date.now() > 9 * 60_000, `the next check is 10 minutes away: ${JSON.stringify(first)}`);
  assert.equal((first.nextRenewal as { why: string }).why, 'ari-refetch', 'the next look for the renewal is said besides');
  const volume = join(s.dir, 'volume');
  const serial = new X509Certificate(readFileSync(join(volume, 'cert.pem'))).serialNumber;
  const metrics = async (): Promise<string> => (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const upToDate = (value: 0 | 1) => new RegExp(`certpilot_deployer_up_to_date\\{name="site",deployer="volume"\\} ${value}`);
  assert.match(await metrics(), upToDate(1));
  const requests = s.proxy.requests.log.length;

  await rm(volume, { recursive: true, force: true });
  const mark = d.lines.length;
  // A scrape sees it lost (the metric says 0) once the last check's answer is a minute old (scraped
  // every few seconds here, as Prometheus does), and the daemon deploys it again then, not at the next renewal.
  for (let waited = 0; !upToDate(0).test(await metrics()); waited += 2_000) {
    if (waited > 90_000) assert.fail(`the metric never said the target was lost:\n${await metrics()}`);
    await new Promise((r) => setTimeout(r, 2_000));
  }
  const cycle = await d.waitFor((l) => Array.isArray(l.lost), 'the cycle of the deploy check', mark, 30_000);
  assert.equal(cycle.ran, 'site:deployed', JSON.stringify(cycle));
  assert.equal(cycle.woke, 'site:deploy-check');
  assert.match(JSON.stringify(cycle.lost), /"certificate":"site","deployer":"volume"/);
  assert.match(cycle.msg, /a deploy target lost the live version/);
  assert.equal(new X509Certificate(readFileSync(join(volume, 'cert.pem'))).serialNumber, serial, 'the same version, deployed again');
  assert.equal(s.proxy.requests.log.length, requests, 'no CA request');
  for (let waited = 0; !upToDate(1).test(await metrics()); waited += 200) {
    if (waited > 10_000) assert.fail(`the metric stays 0:\n${await metrics()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  d.child.kill('SIGTERM');
  assert.equal(await d.exited, 0, d.text());
});

test('daemon: after the CA forgot the account, `account create` (and later `account deactivate` then `account create`) is used by its next renewal, without SIGHUP', { timeout: 300_000 }, async (t) => {
  if (!requirePebble(t, '2.4')) return;
  // 30-second certificates: due 15 s after issuance (half the lifetime left), plus the daemon's jitter.
  const s = await startCliScenario(t, { pebble: { version: '2.4', strict: true, noSleep: true, nonceRejectPercent: 0, certificateValidityPeriod: 30 }, certificates: [{ name: 'site', domains: ['site.account.test'] }] });
  const cli = (...args: string[]): ReturnType<typeof runCli> => runCli([...args, '--config', s.config]);
  const d = startDaemon(t, s.config);
  await d.waitFor(ran(/site:issued/), 'the first issuance');

  // The CA forgets its accounts, and the hint's way out is taken before the certificate is due.
  await s.pebble.restart();
  const created = await cli('account', 'create');
  assert.equal(created.code, 0, created.stdout + created.stderr);
  assert.match(created.stdout, /registered the same key again/);
  let mark = d.lines.length;
  // (A run in between may only look for ARI: not-due.)
  const renewed = await d.waitFor(ran(/site:(renewed|failed)/), 'the renewal after account create', mark, 120_000);
  assert.equal(renewed.ran, 'site:renewed', `the daemon signs with the account in the store, not the one it read at start:\n${d.text()}`);

  // Deactivated for good, then replaced with a new key: the next renewal uses the new account.
  assert.equal((await cli('account', 'deactivate')).code, 0);
  const replaced = await cli('account', 'create');
  assert.equal(replaced.code, 0, replaced.stdout + replaced.stderr);
  assert.match(replaced.stdout, /registered a new account with a new key/);
  mark = d.lines.length;
  const again = await d.waitFor(ran(/site:(renewed|failed)/), 'the renewal after deactivate and create', mark, 120_000);
  assert.equal(again.ran, 'site:renewed', d.text());
  assert.ok(!/ERR_ACME_ACCOUNT/.test(d.text()), d.text());
  d.child.kill('SIGTERM');
  assert.equal(await d.exited, 0, d.text());
});
