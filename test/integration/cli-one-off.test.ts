// One-off certificates (`certpilot issue -d`) are remembered in the state and renewed by a plain
// `certpilot renew`, against Pebble 2.4 issuing 20-second certificates (due 10 s after issuance,
// by the short-lifetime rule: no --force needed): the recorded parameters are used, a bad record
// fails its certificate alone, another CA's one-off is named with the command that renews it, a
// second `issue -d` updates the record, a configured certificate of the same name wins (said once),
// and `certpilot forget` stops the renewals while the files stay.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { cp, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import { runCli, tempDir, testCaFile, writeConfig } from '../harness/certpilot.js';
import { startPebble } from '../harness/pebble.js';
import { requirePebble } from '../harness/servers.js';

const LIFETIME_S = 20;

test('a one-off issued with -d is remembered and renewed by renew; forget stops it', { timeout: 240_000 }, async (t) => {
  if (!requirePebble(t, '2.4')) return;
  const pebble = await startPebble({ version: '2.4', noSleep: true, certificateValidityPeriod: LIFETIME_S });
  t.after(() => pebble.stop());
  const dir = await tempDir();
  const stateDir = join(dir, 'state');
  const ca = ['--directory', pebble.directoryUrl, '--ca-bundle', testCaFile];
  const http = ['--http-01-port', String(pebble.httpPort), '--http-01-address', '127.0.0.1'];
  const cli = (...args: string[]): ReturnType<typeof runCli> => runCli([...args, '--state-dir', stateDir]);
  const live = async (name: string): Promise<X509Certificate> => new X509Certificate(await readFile(join(stateDir, 'live', name, 'cert.pem')));
  const recordOf = async (name: string): Promise<Record<string, unknown> | undefined> =>
    (JSON.parse(await readFile(join(stateDir, 'renewal-state', `${name}.json`), 'utf8')) as { oneOff?: Record<string, unknown> }).oneOff;
  /** Waits until the live certificate of `name` is due (half its lifetime left). */
  const untilDue = async (name: string): Promise<void> => {
    const cert = await live(name);
    const due = Date.parse(cert.validFrom) + (Date.parse(cert.validTo) - Date.parse(cert.validFrom)) / 2 + 1500;
    await sleep(Math.max(0, due - Date.now()));
  };

  await t.test('issue -d records how it was issued, and nothing secret', async () => {
    const one = await cli('issue', '-d', 'one.test', '-d', 'www.one.test', '--name', 'one', '--email', 'ops@example.com', '--agree-tos', ...ca, ...http);
    assert.equal(one.code, 0, one.stdout + one.stderr);
    const bad = await cli('issue', '-d', 'bad.test', '--name', 'bad', '--agree-tos', ...ca, ...http);
    assert.equal(bad.code, 0, bad.stdout + bad.stderr);
    const record = await recordOf('one');
    assert.deepEqual({ ...record, recordedAt: undefined }, {
      domains: ['one.test', 'www.one.test'],
      keyType: 'ec-p256',
      reuseKey: false,
      challenge: { type: 'standalone', port: pebble.httpPort, host: '127.0.0.1' },
      directoryUrl: pebble.directoryUrl,
      caBundle: testCaFile,
      email: 'ops@example.com',
      recordedAt: undefined,
    });
    const text = await readFile(join(stateDir, 'renewal-state', 'one.json'), 'utf8');
    assert.doesNotMatch(text, /PRIVATE KEY|BEGIN/);
    const status = await cli('status');
    assert.match(status.stdout, /^one \(one-off\) /m);
  });

  await t.test('renew with no -d renews a due one-off with its recorded parameters; a bad record fails alone', async () => {
    // A hand-edited record with a value certpilot cannot use.
    const file = join(stateDir, 'renewal-state', 'bad.json');
    const state = JSON.parse(await readFile(file, 'utf8')) as { oneOff: Record<string, unknown> };
    state.oneOff.keyType = 'rsa-1024';
    await writeFile(file, JSON.stringify(state));
    const before = (await live('one')).serialNumber;
    await untilDue('one');
    // The run's own default solver is standalone on port 80: only the record's port answers Pebble.
    // No configuration and no --directory: the run's CA is the one the one-offs were issued from.
    const renewed = await cli('renew');
    assert.equal(renewed.code, 1, renewed.stdout + renewed.stderr);
    assert.match(renewed.stdout, /^renewed +one: renewed version 2/m);
    assert.match(renewed.stdout, /^failed +bad: ERR_ONE_OFF_INVALID: renew bad: the one-off record in .*renewal-state\/bad\.json \("oneOff"\) cannot be used: oneOff\.keyType: "rsa-1024" is not one of/m);
    assert.match(renewed.stdout, /hint: .*certpilot forget bad/);
    const status = await cli('status');
    assert.match(status.stdout, /^bad \(one-off, record damaged\) /m, status.stdout);
    assert.doesNotMatch(status.stdout, /not configured: .*bad/, 'a one-off, not a certificate removed from a configuration');
    assert.match(status.stderr, /^bad: error ERR_ONE_OFF_INVALID: /m);
    const after = await live('one');
    assert.notEqual(after.serialNumber, before);
    assert.match(after.subjectAltName ?? '', /DNS:www\.one\.test/);
  });

  await t.test('a run of another CA names the command that renews the one-off, and that command does', async () => {
    const other = await cli('renew', '--name', 'one', '--directory', 'letsencrypt-staging');
    assert.equal(other.code, 2, other.stdout + other.stderr);
    const command = /renew it with: (certpilot renew .*?)(?: \(certificate=one\))?$/m.exec(other.stderr)?.[1];
    assert.ok(command, other.stderr);
    assert.match(command, new RegExp(`--directory ${pebble.directoryUrl.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} --ca-bundle `));
    const argv = command.split(' ').slice(1);
    const again = await runCli(argv);
    assert.equal(again.code, 0, again.stdout + again.stderr);
    assert.match(again.stdout, /^(renewed|not-due) +one/m);
  });

  await t.test('deploy knows a one-off; a CA its records name that cannot be used is named, not blamed on the command line', async () => {
    const deployed = await cli('deploy', 'one');
    assert.equal(deployed.code, 0, deployed.stdout + deployed.stderr);
    assert.match(deployed.stdout, /^not-due +one: no deployers configured/m);
    const copy = join(dir, 'state-copy');
    await cp(stateDir, copy, { recursive: true });
    for (const name of ['one', 'bad']) {
      const file = join(copy, 'renewal-state', `${name}.json`);
      const state = JSON.parse(await readFile(file, 'utf8')) as { oneOff: Record<string, unknown> };
      state.oneOff.caBundle = join(dir, 'gone-ca.pem');
      await writeFile(file, JSON.stringify(state));
    }
    const res = await runCli(['renew', '--state-dir', copy]);
    assert.equal(res.code, 1, res.stdout + res.stderr);
    assert.match(res.stderr, /ERR_ONE_OFF_INVALID: renew: the CA the one-offs were issued from cannot be used: acme\.caBundle: cannot read .*gone-ca\.pem/);
    assert.match(res.stderr, /hint: The records in .*state-copy\/renewal-state\/(one|bad)\.json/);
    assert.doesNotMatch(res.stderr, /given on the command line/);
  });

  await t.test('issue -d again with other names updates the record', async () => {
    const res = await cli('issue', '-d', 'one.test', '--name', 'one', '--agree-tos', ...ca, ...http);
    assert.equal(res.code, 0, res.stdout + res.stderr);
    assert.deepEqual((await recordOf('one'))?.domains, ['one.test']);
    await untilDue('one');
    const renewed = await cli('renew', '--name', 'one', ...ca);
    assert.equal(renewed.code, 0, renewed.stdout + renewed.stderr);
    assert.match(renewed.stdout, /^renewed +one/m);
    assert.doesNotMatch((await live('one')).subjectAltName ?? '', /www\.one\.test/);
  });

  await t.test('a configured certificate of the same name wins, said once', async () => {
    const config = await writeConfig(dir, { directoryUrl: pebble.directoryUrl, httpPort: pebble.httpPort, certificates: [{ name: 'one', domains: ['configured.one.test'] }] });
    const res = await runCli(['renew', '--config', config, '--force', '--name', 'one']);
    assert.equal(res.code, 0, res.stdout + res.stderr);
    assert.match(res.stdout, /^renewed +one/m);
    assert.equal(res.stderr.match(/the configured certificate one wins/g)?.length, 1, res.stderr);
    assert.match((await live('one')).subjectAltName ?? '', /DNS:configured\.one\.test/);
    assert.deepEqual((await recordOf('one'))?.domains, ['one.test'], 'the record stays');
  });

  await t.test('forget stops the renewals and keeps the files', async () => {
    const forgotten = await cli('forget', 'one');
    assert.equal(forgotten.code, 0, forgotten.stdout + forgotten.stderr);
    assert.match(forgotten.stdout, /^forgotten one: `renew` no longer renews it .*status and the metrics no longer show it/m);
    assert.equal(await recordOf('one'), undefined);
    assert.equal((await cli('forget', 'bad')).code, 0);
    const serial = (await live('one')).serialNumber;
    const renewed = await cli('renew', '--force', ...ca);
    assert.equal(renewed.code, 2, renewed.stdout + renewed.stderr);
    assert.match(renewed.stderr, /no certificates to act on/);
    assert.equal((await live('one')).serialNumber, serial, 'the live files stay, not renewed');
    const again = await cli('forget', 'one');
    assert.equal(again.code, 2, again.stdout + again.stderr);
    assert.match(again.stderr, /ERR_CERT_UNKNOWN: forget: one was already forgotten on /);
    const status = JSON.parse((await cli('status', '--json')).stdout) as { name: string }[];
    assert.equal(status.some((c) => c.name === 'one'), false, 'a forgotten one-off is no longer watched');
  });

  await t.test('a one-off whose first issue failed is shown as not issued, with its error and the fix, and nothing renews it', async () => {
    // A webroot no web server serves: Pebble's validation finds nothing on the http-01 port.
    const failed = await cli('issue', '-d', 'never.test', '--name', 'never', '--webroot', join(dir, 'unserved'), '--agree-tos', ...ca);
    assert.equal(failed.code, 1, failed.stdout + failed.stderr);
    const status = await cli('status');
    assert.match(status.stdout, /^never \(not issued\) /m, status.stdout);
    assert.match(status.stdout, /^not issued: never: never issued: its first `issue` failed \(ERR_[A-Z_]+\) and nothing renews it; run that `issue -d` line again once fixed, or `certpilot forget never` to clear it$/m);
    assert.doesNotMatch(status.stdout, /still watched/, 'nothing live to watch');
    const renewed = await cli('renew', '--force', ...ca);
    assert.equal(renewed.code, 2, renewed.stdout + renewed.stderr);
    assert.match(renewed.stderr, /no certificates to act on/);
  });
});
