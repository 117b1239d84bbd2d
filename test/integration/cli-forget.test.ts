// Watching what certpilot no longer renews, and telling when a notifier fails. `certpilot forget` on a certificate removed from the configuration: its expiry would otherwise be
// exported forever and CertpilotCertificateExpiringNoRenewal fire for a name nobody renews. After
// forget, status, --json, the metrics file and the status page leave it out; `status --name` still
// shows it; its files stay; a configured certificate is refused; listing it again brings it back.
import assert from 'node:assert/strict';
import { appendFile, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { runCli, tempDir, writeConfig } from '../harness/certpilot.js';
import { silentLogger } from '../../src/logger.js';
import { FilesystemCertificateStore } from '../../src/storage/filesystem/filesystem-certificate-store.js';
import { makeTestBundle } from '../../src/testing/certificate-fixtures.js';

test('forget retires a certificate removed from the configuration: no row, no metric, no page entry; files stay; it comes back when listed again', { timeout: 60_000 }, async () => {
  const dir = await tempDir();
  const stateDir = join(dir, 'state');
  const base = { directoryUrl: 'https://127.0.0.1:1/dir', httpPort: 80 };
  const config = await writeConfig(dir, { ...base, certificates: [{ name: 'kept', domains: ['kept.example.test'] }] });
  const store = new FilesystemCertificateStore({ stateDir, logger: silentLogger });
  await store.save('kept', makeTestBundle({ domains: ['kept.example.test'], days: 90 }));
  // Removed from the configuration a while ago; three days left.
  await store.save('gone', makeTestBundle({ domains: ['gone.example.test'], days: 3 }));
  const cli = (...args: string[]): ReturnType<typeof runCli> => runCli([...args, '--config', config]);
  const names = async (): Promise<string[]> => (JSON.parse((await cli('status', '--json')).stdout) as { name: string }[]).map((c) => c.name).sort();

  assert.deepEqual(await names(), ['gone', 'kept']);
  const before = await cli('status');
  assert.match(before.stdout, /^gone \(not configured\)/m);
  assert.match(before.stdout, /^not configured: gone \(still watched.*`certpilot forget NAME` stops that/m, 'status says how to stop watching it');

  const refused = await cli('forget', 'kept');
  assert.equal(refused.code, 2, refused.stdout + refused.stderr);
  assert.match(refused.stderr, /ERR_CERT_UNKNOWN: forget: kept is listed in the configuration/);
  assert.match(refused.stderr, /remove it from `certificates:`/);
  const unknown = await cli('forget', 'never');
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /forget: no certificate never in /);

  const forgotten = await cli('forget', 'gone');
  assert.equal(forgotten.code, 0, forgotten.stdout + forgotten.stderr);
  assert.match(forgotten.stdout, /^forgotten gone: not in the configuration/m);
  assert.match(forgotten.stdout, /its files stay \(version 1 live in .*live\/gone\/\)/);
  assert.ok((await readFile(join(stateDir, 'live', 'gone', 'cert.pem'), 'utf8')).includes('BEGIN CERTIFICATE'), 'the files stay');

  assert.deepEqual(await names(), ['kept'], 'status --json leaves it out');
  const metricsFile = join(dir, 'certpilot.prom');
  const page = join(dir, 'status.html');
  const after = await cli('status', '--metrics-file', metricsFile, '--html', page);
  assert.equal(after.code, 0, after.stderr);
  assert.doesNotMatch(after.stdout, /gone/);
  const metrics = await readFile(metricsFile, 'utf8');
  assert.match(metrics, /certpilot_certificate_expiration_timestamp_seconds\{name="kept"\}/);
  assert.doesNotMatch(metrics, /name="gone"/, 'no series: the expiry alert cannot fire for it');
  assert.doesNotMatch(await readFile(page, 'utf8'), /gone\.example\.test|data-name="gone"/);
  const named = JSON.parse((await cli('status', '--json', '--name', 'gone')).stdout) as { name: string; retired?: string; decision: string }[];
  assert.equal(named[0]?.name, 'gone');
  assert.match(String(named[0]?.retired), /^\d{4}-\d\d-\d\dT/);
  assert.match(named[0]?.decision ?? '', /forgotten on .*not renewed, not watched/);

  const typo = await cli('status', '--name', 'gnoe');
  assert.equal(typo.code, 2, typo.stdout + typo.stderr);
  assert.match(typo.stderr, /ERR_CERT_UNKNOWN: status: no certificate named "gnoe", configured or stored/);
  assert.match(typo.stderr, /hint: Certificates: kept\./, 'a retired one is not listed');

  const again = await cli('forget', 'gone');
  assert.equal(again.code, 2);
  assert.match(again.stderr, /forget: gone was already forgotten on /);

  // With only forgotten ones left, status says so instead of "nothing stored".
  const onlyForgotten = await writeConfig(dir, { ...base, certificates: [] });
  assert.equal((await runCli(['forget', 'kept', '--config', onlyForgotten])).code, 0);
  const empty = await runCli(['status', '--config', onlyForgotten]);
  assert.match(empty.stdout, /^No certificates configured or watched \(2 forgotten with `certpilot forget`/m, empty.stdout + empty.stderr);

  // Listed again: a configured certificate, whatever its state says.
  const back = await writeConfig(dir, { ...base, certificates: [{ name: 'kept', domains: ['kept.example.test'] }, { name: 'gone', domains: ['gone.example.test'] }] });
  const rows = JSON.parse((await runCli(['status', '--json', '--config', back])).stdout) as { name: string; configured: boolean; retired?: string }[];
  const gone = rows.find((r) => r.name === 'gone');
  assert.equal(gone?.configured, true);
  assert.equal(gone?.retired, undefined);
});

test('status warns on stderr, and the page says at its top, when a notifier\'s last attempt failed', { timeout: 60_000 }, async () => {
  const dir = await tempDir();
  const config = await writeConfig(dir, { directoryUrl: 'https://127.0.0.1:1/dir', httpPort: 80, certificates: [{ name: 'site', domains: ['site.example.test'] }] });
  await writeFile(join(dir, 'hook.url'), 'https://hooks.example.test/T0/B0/x\n', { mode: 0o600 });
  await appendFile(config, `\nnotifiers:\n  chat:\n    type: webhook\n    urlFile: ${JSON.stringify(join(dir, 'hook.url'))}\n`);
  const store = new FilesystemCertificateStore({ stateDir: join(dir, 'state'), logger: silentLogger });
  await store.save('site', makeTestBundle({ domains: ['site.example.test'], days: 90 }));
  await store.saveState('site', { failureCount: 0, notifications: { chat: { at: new Date().toISOString(), result: 'failed', code: 'ERR_NOTIFY_FAILED' } } });
  const page = join(dir, 'status.html');
  const res = await runCli(['status', '--config', config, '--html', page]);
  assert.equal(res.code, 0, res.stdout + res.stderr);
  assert.match(res.stderr, /^warning: notifier chat is failing: its last attempt \(.*, site's event\) failed with ERR_NOTIFY_FAILED/m);
  assert.match(await readFile(page, 'utf8'), /<p class="notifier-failing" data-notifier="chat">/);
  // Sent since: no warning.
  await store.saveState('site', { failureCount: 0, notifications: { chat: { at: new Date().toISOString(), result: 'sent' } } });
  assert.doesNotMatch((await runCli(['status', '--config', config])).stderr, /notifier chat/);
});
