// `certpilot cron install | show | remove` against Debian's real `crontab` (package cron), on the
// crontab of a throw-away system user the test creates and removes (never root's own crontab).
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { requireServer, serversRequired } from '../harness/servers.js';
import { cliPath, runCli, tempDir } from '../harness/certpilot.js';

const OTHERS = '# the user\'s own lines\nMAILTO=""\n0 3 * * * /bin/true --backup  # nightly\n*/5 * * * * echo "100%" > /dev/null\n';

function crontab(user: string, args: string[], input?: string): { status: number | null; stdout: string; stderr: string } {
  const res = spawnSync('crontab', ['-u', user, ...args], { input: input ?? '', encoding: 'utf8', timeout: 30_000 });
  return { status: res.status, stdout: res.stdout, stderr: res.stderr };
}

/**
 * A system user made for this test (removed with its crontab after it), or undefined when the
 * test was skipped: it needs cron, root and useradd (`why` says what for).
 */
function throwawayUser(t: TestContext, why: string): string | undefined {
  if (!requireServer(t, 'crontab', 'Debian package `cron`; run `bash scripts/setup.sh`')) return undefined;
  if (process.getuid?.() !== 0 || !existsSync('/usr/sbin/useradd')) {
    if (serversRequired()) throw new Error(`${why}; CERTPILOT_REQUIRE_SERVERS is set`);
    t.skip(why);
    return undefined;
  }
  if (!existsSync(cliPath)) throw new Error(`build the bundle first: ${cliPath} is missing (npm run build)`);
  const user = `cpcron${randomBytes(4).toString('hex')}`;
  execFileSync('useradd', ['--system', '--no-create-home', '--home-dir', '/nonexistent', '--shell', '/usr/sbin/nologin', user]);
  t.after(() => {
    crontab(user, ['-r']);
    spawnSync('userdel', [user]);
  });
  return user;
}

/** Runs a crontab line's command as `user` in cron's environment (sh -c, cron's PATH), as cron would. */
function runLineAs(user: string, line: string): { status: number | null; stdout: string; stderr: string } {
  const command = line.split(' ').slice(5).join(' ');
  const res = spawnSync('runuser', ['-u', user, '--', 'env', '-i', 'PATH=/usr/bin:/bin', 'HOME=/nonexistent', 'SHELL=/bin/sh', `LOGNAME=${user}`, '/bin/sh', '-c', command], { encoding: 'utf8', timeout: 60_000 });
  return { status: res.status, stdout: res.stdout, stderr: res.stderr };
}

test('cron install twice, show, remove on a real crontab', { timeout: 120_000 }, async (t) => {
  const user = throwawayUser(t, 'needs root and useradd to make a throw-away user');
  if (!user) return;

  const dir = await tempDir('certpilot-cron-');
  const config = join(dir, 'certpilot.yaml');
  const stateDir = join(dir, 'state');
  // A CA address on loopback where nothing listens: the renew the line runs fails fast, into the log.
  writeFileSync(config, `stateDir: ${JSON.stringify(stateDir)}\nacme: { directoryUrl: "http://127.0.0.1:9/dir" }\ncertificates: [{ domains: [cron.test] }]\n`);
  assert.equal(crontab(user, ['-'], OTHERS).status, 0, 'seeding the user\'s crontab');
  // The folder is mkdtemp's (0700, root): the user could not read the configuration, and install says so.
  const closed = await runCli(['cron', 'install', '-u', user, '--config', config]);
  assert.equal(closed.code, 2, closed.stdout + closed.stderr);
  assert.match(closed.stderr, new RegExp(`error ERR_CRON_USER_ACCESS: cron: the line would run as ${user} \\(uid \\d+\\), who cannot use what each run needs: the configuration file ${config.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: ${dir.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: the user may not enter this folder \\(mode 0700, owner uid 0 gid 0\\)`));
  assert.match(closed.stderr, new RegExp(`hint: Run \`chmod o\\+x ${dir.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}\``));
  assert.equal(crontab(user, ['-l']).stdout, OTHERS, 'nothing installed');
  chmodSync(dir, 0o755);

  // show before install: the line install would add, and nothing written to find its time.
  const preview = await runCli(['cron', 'show', '-u', user, '--config', config]);
  assert.equal(preview.code, 0, preview.stderr);
  const previewed = /would add:\n {2}(\d+) (\d+),(\d+) \* \* \* /.exec(preview.stdout);
  assert.ok(previewed, preview.stdout);
  assert.equal(existsSync(stateDir), false, 'show created no state directory');

  // install, twice: one line, the user's lines untouched.
  const first = await runCli(['cron', 'install', '-u', user, '--config', config]);
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stdout, new RegExp(`^Installed in the crontab of ${user}:`));
  const second = await runCli(['cron', 'install', '-u', user, '--config', config]);
  assert.equal(second.code, 0, second.stderr);
  assert.match(second.stdout, /^Already installed in/);
  const listed = crontab(user, ['-l']);
  assert.equal(listed.status, 0, listed.stderr);
  const lines = listed.stdout.split('\n').filter(Boolean);
  const ours = lines.filter((l) => /# certpilot-managed:[0-9a-f]{12}$/.test(l));
  assert.equal(ours.length, 1, `one certpilot line: ${listed.stdout}`);
  assert.ok(listed.stdout.startsWith(OTHERS), `the other lines are untouched:\n${listed.stdout}`);
  assert.equal(listed.stdout, `${OTHERS}${ours[0]}\n`);

  // The line: the minute and hour show printed, twice a day, renew quietly into a log.
  const kept = { minute: Number(previewed[1]), hour: Number(previewed[2]) };
  const line = ours[0] as string;
  assert.ok(line.startsWith(`${kept.minute} ${kept.hour},${kept.hour + 12} * * * ${process.execPath} ${cliPath} renew --config ${config} >> ${join(stateDir, 'renew.log')} 2>&1`), line);
  assert.ok(second.stdout.includes(line), 'install prints the line');

  // install made the state directory (the log's folder) for the user.
  assert.equal(statSync(stateDir).uid, Number(execFileSync('id', ['-u', user], { encoding: 'utf8' })), 'the state directory install made is the user\'s');
  // The command cron will run is certpilot renew with this config: run it as cron would (as the
  // user, sh -c, cron's PATH); everything it says lands in the log, nothing on stdout/stderr for cron to mail.
  const ran = runLineAs(user, line);
  assert.equal(ran.status, 1, `renew ran and failed to reach the (absent) CA: ${ran.stderr}`);
  assert.deepEqual([ran.stdout, ran.stderr], ['', ''], 'nothing for cron to mail');
  assert.match(readFileSync(join(stateDir, 'renew.log'), 'utf8'), /ERR_ACME_NETWORK/);

  // show: the line and the next three run times.
  const shown = await runCli(['cron', 'show', '-u', user, '--config', config]);
  assert.equal(shown.code, 0, shown.stderr);
  assert.ok(shown.stdout.includes(`Installed in the crontab of ${user}:\n  ${line}\n`), shown.stdout);
  const next = /Next runs: (.*)/.exec(shown.stdout)?.[1]?.split(', ') ?? [];
  assert.equal(next.length, 3, shown.stdout);
  const times = next.map((s) => Date.parse(s.replace(' ', 'T')));
  assert.ok(times.every((v, i) => Number.isFinite(v) && (i === 0 || v > (times[i - 1] as number))), `ascending times: ${next.join(', ')}`);
  const at = new Date(times[0] as number);
  assert.equal(at.getMinutes(), kept.minute);
  assert.ok([kept.hour, kept.hour + 12].includes(at.getHours()));

  // A configuration that reads a variable of this shell: cron will not pass it, and show says so,
  // naming it and where to put it; once the crontab sets it, no warning.
  const withVar = join(dir, 'with-var.yaml');
  writeFileSync(withVar, `stateDir: ${JSON.stringify(stateDir)}\nacme: { directoryUrl: "http://127.0.0.1:9/dir" }\ncertificates: [{ domains: ["\${CRON_TEST_HOST}"] }]\n`);
  const warned = await runCli(['cron', 'show', '-u', user, '--config', withVar], { env: { CRON_TEST_HOST: 'cron.test' } });
  assert.equal(warned.code, 0, warned.stderr);
  assert.match(warned.stderr, /warning: the configuration reads CRON_TEST_HOST from this shell's environment, which cron does not pass/);
  assert.match(warned.stderr, /hint: Put CRON_TEST_HOST=… in the crontab above the certpilot line/);
  assert.equal(crontab(user, ['-'], `CRON_TEST_HOST=cron.test\n${crontab(user, ['-l']).stdout}`).status, 0);
  const quiet = await runCli(['cron', 'show', '-u', user, '--config', withVar], { env: { CRON_TEST_HOST: 'cron.test' } });
  assert.equal(quiet.code, 0, quiet.stderr);
  assert.doesNotMatch(quiet.stderr, /warning/, 'the crontab sets it');
  assert.equal(crontab(user, ['-'], OTHERS + ours[0] + '\n').status, 0);

  // No certificates configured: the line's renew would exit 2 on every run, so install refuses and
  // leaves the crontab as it was.
  const empty = join(dir, 'empty.yaml');
  writeFileSync(empty, `stateDir: ${JSON.stringify(stateDir)}\n`);
  const refused = await runCli(['cron', 'install', '-u', user, '--config', empty]);
  assert.equal(refused.code, 2, refused.stderr);
  assert.match(refused.stderr, /error ERR_CLI_USAGE: cli: cron: the configuration lists no certificates and the state holds no one-off certificate/);
  assert.match(refused.stderr, /or issue one with `certpilot issue -d NAME …` into the same state directory/);
  assert.equal(crontab(user, ['-l']).stdout, `${OTHERS}${ours[0]}\n`, 'the crontab is unchanged');

  // The same configuration with a one-off `issue -d` remembered in its state: the line's renew
  // renews it, so install accepts it.
  mkdirSync(join(stateDir, 'renewal-state'), { recursive: true });
  const record = { domains: ['oneoff.cron.test'], keyType: 'ec-p256', reuseKey: false, challenge: { type: 'standalone', port: 80 }, directoryUrl: 'http://127.0.0.1:9/dir', recordedAt: new Date().toISOString() };
  writeFileSync(join(stateDir, 'renewal-state', 'oneoff.cron.test.json'), JSON.stringify({ failureCount: 0, oneOff: record }));
  const accepted = await runCli(['cron', 'install', '-u', user, '--config', empty]);
  assert.equal(accepted.code, 0, accepted.stderr);
  assert.match(crontab(user, ['-l']).stdout, new RegExp(`renew --config ${empty.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} `));
  rmSync(join(stateDir, 'renewal-state', 'oneoff.cron.test.json'));

  // remove: only our line goes.
  const removed = await runCli(['cron', 'remove', '-u', user, '--config', config]);
  assert.equal(removed.code, 0, removed.stderr);
  assert.match(removed.stdout, /Removed the certpilot line/);
  assert.equal(crontab(user, ['-l']).stdout, OTHERS);
  const again = await runCli(['cron', 'remove', '-u', user, '--config', config]);
  assert.match(again.stdout, /nothing to remove/);
  const notInstalled = await runCli(['cron', 'show', '-u', user, '--config', config]);
  assert.match(notInstalled.stdout, /Not installed in the crontab of .*; `certpilot cron install` would add:\n {2}\d+ \d+,\d+ \* \* \* /);

  // A crontab failure is ERR_CRON_CRONTAB with crontab's own words.
  const bad = await runCli(['cron', 'show', '-u', `nosuchuser${randomBytes(3).toString('hex')}`, '--config', config]);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /error ERR_CRON_CRONTAB: cron: reading the crontab of nosuchuser\w+ with crontab failed: /);
});

test('cron install --metrics-file puts it on the managed line, a reinstall keeps it, and one without it warns', { timeout: 120_000 }, async (t) => {
  const user = throwawayUser(t, 'needs root and useradd to make a throw-away user');
  if (!user) return;
  const dir = await tempDir('certpilot-cron-');
  chmodSync(dir, 0o755);
  const config = join(dir, 'certpilot.yaml');
  const stateDir = join(dir, 'state');
  const textfiles = join(dir, 'textfile');
  mkdirSync(textfiles);
  writeFileSync(config, `stateDir: ${JSON.stringify(stateDir)}\nacme: { directoryUrl: "http://127.0.0.1:9/dir" }\ncertificates: [{ domains: [cron.test] }]\n`);
  const prom = join(textfiles, 'certpilot.prom');
  // The textfile folder is root's: the line, run as the user, could not write the metrics there.
  const closed = await runCli(['cron', 'install', '-u', user, '--config', config, '--metrics-file', prom]);
  assert.equal(closed.code, 2, closed.stderr);
  assert.match(closed.stderr, /the metrics file \S+: \S+textfile: the user may not write files in this folder/);
  assert.match(closed.stderr, new RegExp(`hint: Run \`chown ${user} \\S+textfile\``));
  execFileSync('chown', [user, textfiles]);
  const first = await runCli(['cron', 'install', '-u', user, '--config', config, '--metrics-file', prom]);
  assert.equal(first.code, 0, first.stderr);
  const line = (crontab(user, ['-l']).stdout.split('\n').find((l) => /# certpilot-managed:[0-9a-f]{12}$/.test(l)) ?? '');
  assert.match(line, new RegExp(` renew --config \\S+ --metrics-file ${prom.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} >> `), line);
  // The line cron runs (as the user) writes the textfile (renew fails at the absent CA; the metrics say so).
  const ran = runLineAs(user, line);
  assert.equal(ran.status, 1, ran.stderr);
  assert.match(readFileSync(prom, 'utf8'), /^certpilot_certificate_last_failure_timestamp_seconds\{name="cron\.test"\} /m);
  // Installing again with the flag keeps the line as it is.
  const again = await runCli(['cron', 'install', '-u', user, '--config', config, '--metrics-file', prom]);
  assert.match(again.stdout, /^Already installed in/);
  assert.doesNotMatch(again.stderr, /warning/);
  // Without it, the line loses it, and install says so.
  const without = await runCli(['cron', 'install', '-u', user, '--config', config]);
  assert.equal(without.code, 0, without.stderr);
  assert.match(without.stderr, /warning: the certpilot line installed had --metrics-file, which this line has not/);
  assert.match(without.stderr, /hint: Run `certpilot cron install --metrics-file FILE` with the same FILE/);
  assert.doesNotMatch(crontab(user, ['-l']).stdout, /--metrics-file/);
});

test('cron show writes nothing (a state directory byte for byte, a read-only one) and install then uses the time show printed; an earlier cron.json is kept', { timeout: 120_000 }, async (t) => {
  const user = throwawayUser(t, 'needs root and useradd to make a throw-away user, and mount for a read-only state directory');
  if (!user) return;
  const dir = await tempDir('certpilot-cron-show-');
  chmodSync(dir, 0o755);
  const stateDir = join(dir, 'state');
  const config = join(dir, 'certpilot.yaml');
  writeFileSync(config, `stateDir: ${JSON.stringify(stateDir)}\nacme: { directoryUrl: "http://127.0.0.1:9/dir" }\ncertificates: [{ domains: [show.test] }]\n`);
  // A state directory with something in it (what a failed issue leaves: renewal state, locks).
  const issued = await runCli(['issue', '--config', config]);
  assert.equal(issued.code, 1, issued.stdout + issued.stderr);
  const before = snapshot(stateDir);
  assert.ok(Object.keys(before).length > 1, JSON.stringify(before));

  const scheduleOf = (stdout: string): string => /^ {2}(\d+ \d+,\d+) \* \* \* /m.exec(stdout)?.[1] ?? assert.fail(stdout);
  // On a read-only state directory (a bind mount onto itself, remounted read-only), first.
  execFileSync('mount', ['--bind', stateDir, stateDir]);
  let mounted = true;
  const unmount = (): void => {
    if (mounted) spawnSync('umount', ['-l', stateDir]);
    mounted = false;
  };
  t.after(unmount);
  execFileSync('mount', ['-o', 'remount,bind,ro', stateDir]);
  assert.throws(() => writeFileSync(join(stateDir, 'probe'), 'x'), /EROFS/, 'the state directory is read-only');
  const readOnly = await runCli(['cron', 'show', '-u', user, '--config', config]);
  unmount();
  assert.equal(readOnly.code, 0, readOnly.stderr);
  assert.deepEqual(snapshot(stateDir), before);

  // Then writable: byte for byte unchanged, and the same time.
  const shown = await runCli(['cron', 'show', '-u', user, '--config', config]);
  assert.equal(shown.code, 0, shown.stderr);
  assert.deepEqual(snapshot(stateDir), before, 'show changed nothing in the state directory');
  assert.equal(scheduleOf(readOnly.stdout), scheduleOf(shown.stdout), 'read-only, the same time');
  // install puts the line show printed, at the time show printed (once the state, made by root's
  // issue above, is the user's: until then install refuses, naming it and the fix).
  const refused = await runCli(['cron', 'install', '-u', user, '--config', config]);
  assert.equal(refused.code, 2, refused.stderr);
  assert.match(refused.stderr, new RegExp(`the state directory ${stateDir.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: the user may not read and write and search this folder`));
  assert.match(refused.stderr, new RegExp(`hint: Run \`chown -R ${user} ${stateDir.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}\``));
  assert.equal(crontab(user, ['-l']).stdout, '', 'nothing installed');
  const forced = await runCli(['cron', 'install', '-u', user, '--config', config, '--force']);
  assert.equal(forced.code, 0, forced.stderr);
  assert.match(forced.stderr, /^warning: cron: the line would run as \S+ \(uid \d+\), who cannot use what each run needs: .* \(installed anyway: --force\)\./m);
  assert.equal(runLineAs(user, crontab(user, ['-l']).stdout.trim()).status, 2, 'forced, the line fails as the check said');
  crontab(user, ['-r']);
  execFileSync('chown', ['-R', user, stateDir]);
  const installed = await runCli(['cron', 'install', '-u', user, '--config', config]);
  assert.equal(installed.code, 0, installed.stderr);
  const line = crontab(user, ['-l']).stdout.trim();
  assert.equal(line, /would add:\n {2}(.*)\n/.exec(shown.stdout)?.[1], 'install added exactly the line show printed');
  assert.equal(scheduleOf(`  ${line}`), scheduleOf(shown.stdout));

  // A cron.json an earlier version wrote is the time of both, and stays as it was.
  const keptAt = join(dir, 'kept');
  mkdirSync(keptAt);
  execFileSync('chown', [user, keptAt]);
  const kept = `{\n  "minute": 7,\n  "hour": 3,\n  "chosenAt": "2026-01-01T00:00:00.000Z"\n}\n`;
  writeFileSync(join(keptAt, 'cron.json'), kept);
  const other = join(dir, 'kept.yaml');
  writeFileSync(other, `stateDir: ${JSON.stringify(keptAt)}\nacme: { directoryUrl: "http://127.0.0.1:9/dir" }\ncertificates: [{ domains: [show.test] }]\n`);
  crontab(user, ['-r']);
  const keptShow = await runCli(['cron', 'show', '-u', user, '--config', other]);
  assert.equal(scheduleOf(keptShow.stdout), '7 3,15', keptShow.stdout);
  assert.equal((await runCli(['cron', 'install', '-u', user, '--config', other])).code, 0);
  assert.match(crontab(user, ['-l']).stdout, /^7 3,15 \* \* \* /);
  assert.equal(readFileSync(join(keptAt, 'cron.json'), 'utf8'), kept);
});

/** Every entry under `dir`: its mode, and its bytes (files) or target (links). */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    const path = join(entry.parentPath, entry.name);
    const st = lstatSync(path);
    const content = entry.isSymbolicLink() ? `-> ${readlinkSync(path)}` : entry.isFile() ? readFileSync(path).toString('base64') : 'dir';
    out[path] = `${st.mode.toString(8)} ${st.mtimeMs} ${content}`;
  }
  return out;
}

test('two configurations (two state directories) on one crontab: each install adds its own line, show and remove act on their own, an earlier version\'s line naming the configuration is taken over', { timeout: 120_000 }, async (t) => {
  const user = throwawayUser(t, 'needs root and useradd to make a throw-away user');
  if (!user) return;
  const dir = await tempDir('certpilot-cron-');
  chmodSync(dir, 0o755);
  const make = (n: string): string => {
    const config = join(dir, `${n}.yaml`);
    writeFileSync(config, `stateDir: ${JSON.stringify(join(dir, `state-${n}`))}\nacme: { directoryUrl: "http://127.0.0.1:9/dir" }\ncertificates: [{ domains: [${n}.cron.test] }]\n`);
    return config;
  };
  const [a, b] = [make('a'), make('b')];
  // A line an earlier version installed for a (no owner id on its marker).
  const legacy = `17 5,17 * * * /usr/bin/node /x/certpilot.js renew --config ${a} >> ${join(dir, 'state-a', 'renew.log')} 2>&1 # certpilot-managed`;
  assert.equal(crontab(user, ['-'], `${OTHERS}${legacy}\n`).status, 0);
  const ours = (): string[] => crontab(user, ['-l']).stdout.split('\n').filter((l) => /# certpilot-managed(:[0-9a-f]+)?$/.test(l));

  const installB = await runCli(['cron', 'install', '-u', user, '--config', b]);
  assert.equal(installB.code, 0, installB.stderr);
  assert.match(installB.stdout, /^Installed in/);
  assert.match(installB.stdout, /^1 certpilot line of other state directories stays as it is\.$/m);
  assert.deepEqual(ours().map((l) => l.includes(`--config ${b} `)), [false, true], 'a\'s line stays, b\'s is added');
  const installA = await runCli(['cron', 'install', '-u', user, '--config', a]);
  assert.match(installA.stdout, /^Updated in/, 'the earlier version\'s line of a is a\'s');
  assert.equal(ours().length, 2);
  assert.ok(ours().every((l) => /:[0-9a-f]{12}$/.test(l)), ours().join('\n'));

  const showA = await runCli(['cron', 'show', '-u', user, '--config', a]);
  assert.match(showA.stdout, new RegExp(`^Installed in .*:\\n {2}.* renew --config ${a.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} >> `, 'm'));
  assert.match(showA.stdout, new RegExp(`^Output goes to ${join(dir, 'state-a', 'renew.log').replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}\\.$`, 'm'));

  const removeA = await runCli(['cron', 'remove', '-u', user, '--config', a]);
  assert.equal(removeA.code, 0, removeA.stderr);
  assert.deepEqual(ours().map((l) => l.includes(`--config ${b} `)), [true], 'only b\'s line is left');
  assert.ok(crontab(user, ['-l']).stdout.startsWith(OTHERS), 'the user\'s lines untouched');
  const again = await runCli(['cron', 'remove', '-u', user, '--config', a]);
  assert.match(again.stdout, /No certpilot line for the state directory .* nothing to remove\. \(1 certpilot line of other state directories left alone/);
});
