// What a user meets on the terminal and a program meets with --json, through the built CLI
// (issue 18): human text (no JSON log lines) at the default level, JSON for every result and error
// with --json, a first failed issue that promises no previous certificate, `status` that shows it and
// refuses a missing state directory, errors that name their cause (the DNS server's REFUSED for every
// name with every missing grant, the API server's URL, a full volume while taking the lock), the
// standalone listener closed before the deployers run, each log line naming its deployer once, and
// no MaxListenersExceededWarning with more than ten orders at once, and a closed output pipe
// (`certpilot … | head`) that ends the output, not the run.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { access, readFile, statfs, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { formatDnsServer } from '../../src/challenges/dns01/dns-client.js';
import { namedBinary, rfc2136Solver, startBind, writeTsigSecret } from '../harness/bind.js';
import { cliPath, runCli, startCliScenario, tempDir, testCaFile, writeConfig } from '../harness/certpilot.js';
import { startPebble } from '../harness/pebble.js';
import { silentLogger } from '../../src/logger.js';
import { FilesystemCertificateStore } from '../../src/storage/filesystem/filesystem-certificate-store.js';
import { makeTestBundle } from '../../src/testing/certificate-fixtures.js';
import { freePort } from '../harness/ports.js';
import { requirePebble, requireServer, smallTmpfs } from '../harness/servers.js';

/** Lines of `text` that are JSON log lines (what a person should not get at the default level). */
const jsonLines = (text: string): string[] => text.split('\n').filter((l) => l.trimStart().startsWith('{'));

test('a first issue that fails: human text, no JSON log line, no "previous certificate"; --json parses; status shows it', { timeout: 60_000 }, async () => {
  const dir = await tempDir();
  const stateDir = join(dir, 'state');
  // Nothing listens there: the CA cannot be reached, before any order.
  const directory = `https://127.0.0.1:${await freePort()}/dir`;
  const args = ['issue', '-d', 'first.output.test', '--state-dir', stateDir, '--directory', directory, '--agree-tos', '--email', 'ops@example.com'];

  const human = await runCli(args, { cwd: dir });
  assert.equal(human.code, 1, `${human.stdout}\n${human.stderr}`);
  assert.deepEqual(jsonLines(human.stderr), [], `no JSON log line on stderr at the default level:\n${human.stderr}`);
  assert.match(human.stdout, /^failed +first\.output\.test: ERR_ACME_NETWORK: .*ECONNREFUSED.*\n +hint: Check acme\.directoryUrl/m);
  // The error shows once: the result line (certificate, code, message, hint), not again as a log line.
  const seen = (human.stdout + human.stderr).match(/ECONNREFUSED/g) ?? [];
  assert.equal(seen.length, 1, `the error once, not twice:\n${human.stdout}\n${human.stderr}`);
  assert.doesNotMatch(human.stderr, /^error: issuance failed/m, 'no log line restating the result');
  // Log lines for programs keep it, with its certificate, code and outcome.
  const logged = await runCli([...args, '--force', '--log-format', 'json'], { cwd: dir });
  assert.equal(logged.code, 1);
  const failure = jsonLines(logged.stderr).map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.outcome === 'failed');
  assert.deepEqual([failure?.certificate, failure?.code, failure?.msg], ['first.output.test', 'ERR_ACME_NETWORK', 'issuance failed; no certificate is live yet'], logged.stderr);
  assert.match(logged.stdout, /^failed +first\.output\.test: ERR_ACME_NETWORK: /m);
  assert.doesNotMatch(human.stdout + human.stderr, /previous certificates? stays? live/, 'there is no previous certificate to stay live');
  assert.match(human.stderr, /1 of 1 certificate\(s\) failed; no certificate was issued yet, so none is live\./);

  // --force: the failure holds the next run back (backoff), which is not what this test is about.
  const json = await runCli([...args, '--json', '--force'], { cwd: dir });
  assert.equal(json.code, 1);
  const results = JSON.parse(json.stdout) as { name: string; outcome: string; previousLive: number | null; error: { code: string; message: string; hint: string } }[];
  assert.equal(results[0]?.outcome, 'failed');
  assert.equal(results[0]?.error.code, 'ERR_ACME_NETWORK');
  assert.equal(results[0]?.previousLive, null);
  // stderr is no terminal and the user asked for JSON: the log lines are JSON too.
  assert.ok(jsonLines(json.stderr).length > 0 && jsonLines(json.stderr).every((l) => typeof JSON.parse(l) === 'object'), json.stderr);
  // A usage error with --json is JSON as well.
  const usage = await runCli(['issue', '--json', '--domian', 'x.test'], { cwd: dir });
  assert.equal(usage.code, 2);
  assert.equal((JSON.parse(usage.stdout) as { error: { code: string } }).error.code, 'ERR_CLI_USAGE');
  assert.match(usage.stderr, /unknown flag --domian for issue \(did you mean --domain\?\)/);
  // --log-format human keeps text even with --json.
  const text = await runCli([...args, '--json', '--force', '--log-format', 'human'], { cwd: dir });
  assert.deepEqual(jsonLines(text.stderr), []);

  // status lists the one-off that never got a certificate, with its failure.
  const status = await runCli(['status', '--state-dir', stateDir], { cwd: dir });
  assert.equal(status.code, 0, status.stderr);
  assert.doesNotMatch(status.stdout, /No certificates configured or stored/);
  assert.match(status.stdout, /^first\.output\.test \(not issued\) .*failure .*ERR_ACME_NETWORK/m);
  const rows = JSON.parse((await runCli(['status', '--json', '--state-dir', stateDir], { cwd: dir })).stdout) as { name: string; lastResult?: { result: string; code?: string } }[];
  assert.deepEqual(rows.map((r) => [r.name, r.lastResult?.result, r.lastResult?.code]), [['first.output.test', 'failure', 'ERR_ACME_NETWORK']]);

  // A state directory that does not exist is said so, and is no success.
  for (const extra of [[], ['--json']]) {
    const missing = await runCli(['status', '--state-dir', join(dir, 'typo'), ...extra], { cwd: dir });
    assert.equal(missing.code, 1, missing.stdout);
    assert.match(missing.stderr, /error ERR_STORAGE_MISSING: status: the state directory \S+typo does not exist/);
    assert.notEqual(missing.stdout.trim(), '[]');
  }

  // --metrics-file and --html into a folder that does not exist: each said once, naming the folder,
  // without the storage layer's own "storage: writing … failed" inside.
  const absent = join(dir, 'no-such-dir');
  const unwritable = await runCli(['status', '--state-dir', stateDir, '--metrics-file', join(absent, 'certpilot.prom'), '--html', join(absent, 'status.html')], { cwd: dir });
  assert.equal(unwritable.code, 1, unwritable.stderr);
  const esc = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  assert.match(unwritable.stderr, new RegExp(`^error ERR_METRICS_WRITE: metrics: writing ${esc(join(absent, 'certpilot.prom'))} failed: the directory ${esc(absent)} does not exist \\(ENOENT\\)$`, 'm'));
  assert.match(unwritable.stderr, new RegExp(`^error ERR_STATUS_PAGE_WRITE: status: writing the page ${esc(join(absent, 'status.html'))} failed: the directory ${esc(absent)} does not exist \\(ENOENT\\)$`, 'm'));
  assert.doesNotMatch(unwritable.stderr, /storage:/, unwritable.stderr);
});

test('issue + deploy: the standalone port is free for the hook, each line names its deployer once, a failed deploy line carries its code and the API server URL', { timeout: 120_000 }, async (t) => {
  if (!requirePebble(t, '2.4')) return;
  const pebble = await startPebble({ version: '2.4', noSleep: true });
  t.after(() => pebble.stop());
  const dir = await tempDir();
  const apiPort = await freePort();
  await writeFile(
    join(dir, 'kubeconfig'),
    `apiVersion: v1\nkind: Config\nclusters: [{ name: c, cluster: { server: "https://127.0.0.1:${apiPort}", certificate-authority: ${JSON.stringify(testCaFile)} } }]\nusers: [{ name: u, user: { token: t } }]\ncontexts: [{ name: x, context: { cluster: c, user: u, namespace: default } }]\ncurrent-context: x\n`,
  );
  // What a web server started by a deploy hook does: bind the port the http-01 listener used.
  const bindPort = `require("net").createServer().once("error", (e) => { console.error("cannot bind: " + e.code); process.exit(1); }).listen(${pebble.httpPort}, "127.0.0.1", function () { this.close(); console.log("bound"); })`;
  const config = await writeConfig(dir, {
    directoryUrl: pebble.directoryUrl,
    httpPort: pebble.httpPort,
    deployers: {
      volume: { type: 'files', dir: './volume' },
      web: { type: 'hook', command: [process.execPath, '-e', bindPort] },
      secret: { type: 'kubernetes-secret', kubeconfig: 'kubeconfig', secretName: 'www-tls' },
    },
    certificates: [{ name: 'www', domains: ['www.output.test'], deploy: ['volume', 'web', 'secret'] }],
  });
  const run = await runCli(['issue', '--config', config, '--log-format', 'json', '--log-level', 'info']);
  assert.equal(run.code, 1, `${run.stdout}\n${run.stderr}`);
  const lines = jsonLines(run.stderr);
  assert.ok(lines.some((l) => /"msg":"hook: output"/.test(l) && /bound/.test(l)), `the hook bound port ${pebble.httpPort}:\n${run.stderr}`);
  for (const line of lines) assert.ok((line.match(/"deployer":/g) ?? []).length <= 1, `the key deployer once: ${line}`);
  assert.ok(lines.some((l) => /"deployer":"volume"/.test(l)) && lines.some((l) => /"deployer":"web"/.test(l)), 'lines still name their deployer');
  // The stdout line of the failed deploy leads with its code, and the error names the API server.
  assert.match(run.stdout, new RegExp(`^issued +www: .*; ERR_KUBERNETES_UNREACHABLE: deploy failed at secret: kubernetes: \\S+ secrets/www-tls in namespace default: ECONNREFUSED \\(API server at https://127\\.0\\.0\\.1:${apiPort}\\)`, 'm'));
  assert.match(run.stdout, new RegExp(`hint: Check that the API server at https://127\\.0\\.0\\.1:${apiPort} is reachable`));
  // A certificate was saved: the closing line says it stays, and that the next run retries.
  assert.match(run.stderr, /1 of 1 certificate\(s\) failed \(1 in the deploy stage: saved, not fully deployed; the next run retries\)\./);
});

test('more than ten orders at once print no MaxListenersExceededWarning', { timeout: 180_000 }, async (t) => {
  if (!requirePebble(t, '2.4')) return;
  const certificates = Array.from({ length: 12 }, (_, i) => ({ name: `c${i}`, domains: [`c${i}.many.test`] }));
  const s = await startCliScenario(t, { pebble: { version: '2.4', noSleep: true }, certificates });
  const run = await runCli(['issue', '--config', s.config, '--concurrency', '12']);
  assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}`);
  assert.equal((run.stdout.match(/^issued /gm) ?? []).length, 12);
  assert.doesNotMatch(run.stderr, /MaxListenersExceededWarning|Warning:/);
});

test('two names both REFUSED by the DNS server: ERR_DNS_UPDATE_REFUSED with both grant lines, no cleanup warning', { timeout: 120_000 }, async (t) => {
  if (!requireServer(t, namedBinary, 'Debian package bind9') || !requirePebble(t, '2.4')) return;
  // The key may change one other name only: both of the certificate's names are refused.
  const bind = await startBind({ zones: [{ name: 'refused.test', records: ['@ A 127.0.0.1', '* A 127.0.0.1'], updateNames: ['_acme-challenge.other.refused.test'] }] });
  t.after(() => bind.stop());
  const pebble = await startPebble({ version: '2.4', noSleep: true, authzReuse: 0, dnsServer: formatDnsServer(bind.server) });
  t.after(() => pebble.stop());
  const dir = await tempDir();
  await writeTsigSecret(dir, bind);
  const config = await writeConfig(dir, {
    directoryUrl: pebble.directoryUrl,
    httpPort: pebble.httpPort,
    solvers: {
      // The default propagation timeout: nothing is written, so nothing waits for it.
      dns: rfc2136Solver(bind, { propagationTimeoutSeconds: undefined }),
    },
    certificates: [{ name: 'two', domains: ['a.refused.test', 'b.refused.test'], solver: 'dns' }],
  });
  const run = await runCli(['issue', '--config', config]);
  assert.equal(run.code, 1, `${run.stdout}\n${run.stderr}`);
  assert.match(run.stdout, /^failed +two: ERR_DNS_UPDATE_REFUSED: issuer: 2 of 2 authorization\(s\) failed: /m, 'the inner code, as docs/dns01.md documents it');
  const hint = /hint: (.*)/.exec(run.stdout)?.[1] ?? '';
  for (const name of ['a', 'b']) assert.match(hint, new RegExp(`grant ${bind.key.name.replace(/\.$/, '')}\\.? name _acme-challenge\\.${name}\\.refused\\.test\\. TXT;`), `the hint grants ${name}`);
  assert.match(hint, /update-policy \{ grant .* TXT; grant .* TXT; \};/, 'one update-policy with both grants');
  assert.doesNotMatch(run.stderr, /cleanup/i, 'nothing was written, so nothing is cleaned up or warned about');
  const json = JSON.parse((await runCli(['issue', '--config', config, '--json', '--force'])).stdout) as { error: { code: string } }[];
  assert.equal(json[0]?.error.code, 'ERR_DNS_UPDATE_REFUSED');
});

test('a 100 % full state volume while taking the lock is ERR_STORAGE_FULL, not a permissions problem', { timeout: 120_000 }, async (t) => {
  if (!requirePebble(t, '2.4')) return;
  const mountPoint = await smallTmpfs(t, await tempDir());
  if (mountPoint === undefined) return;
  const s = await startCliScenario(t, { pebble: { version: '2.4', noSleep: true }, certificates: [{ name: 'full', domains: ['full.output.test'] }] });
  const state = join(mountPoint, 'state');
  await writeFile(s.config, (await readFile(s.config, 'utf8')).replace(JSON.stringify(s.stateDir), JSON.stringify(state)));
  assert.equal((await runCli(['issue', '--config', s.config])).code, 0);
  // Every last block taken: not even a lock file fits.
  const info = await statfs(mountPoint);
  await writeFile(join(mountPoint, 'filler'), Buffer.alloc(info.bavail * info.bsize)).catch(() => undefined);
  const run = await runCli(['renew', '--force', '--config', s.config]);
  assert.equal(run.code, 1, `${run.stdout}\n${run.stderr}`);
  assert.match(run.stdout, /^failed +full: ERR_STORAGE_FULL: file-locker: creating \S+ failed: ENOSPC \(the volume is full\)/m);
  assert.doesNotMatch(run.stdout + run.stderr, /ERR_STORAGE_IO|may write it/);
});

/** Runs the CLI with its standard output's reader gone before it writes a byte (`certpilot … | head`). */
async function runWithStdoutClosed(args: readonly string[]): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [cliPath, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root' } });
  child.stdout.destroy();
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
  return { code, stderr };
}

/** The run went on to its own exit code though nobody read its output: no EPIPE crash. */
function ranThrough(run: { code: number | null; stderr: string }, code: number): void {
  assert.doesNotMatch(run.stderr, /EPIPE|Unhandled 'error' event/, run.stderr);
  assert.equal(run.code, code, run.stderr);
}

test('status --json: a damaged certificate exits 1 with its problem in the row, a healthy state 0; with the output\'s reader gone (certpilot … | head) issue and status run through to the same exit codes', { timeout: 120_000 }, async (t) => {
  if (!requirePebble(t, '2.4')) return;
  const s = await startCliScenario(t, {
    pebble: { version: '2.4', noSleep: true },
    certificates: [
      { name: 'fine', domains: ['fine.output.test'] },
      { name: 'broken', domains: ['broken.output.test'] },
    ],
  });
  // Issued though nobody reads a line of it.
  ranThrough(await runWithStdoutClosed(['issue', '--config', s.config]), 0);
  for (const name of ['fine', 'broken']) await access(join(s.stateDir, 'live', name, 'fullchain.pem'));
  const healthy = await runCli(['status', '--json', '--config', s.config]);
  assert.equal(healthy.code, 0, healthy.stderr);
  ranThrough(await runWithStdoutClosed(['status', '--config', s.config]), 0);
  await writeFile(join(s.stateDir, 'archive', 'broken', 'privkey1.pem'), '');
  const damaged = await runCli(['status', '--json', '--config', s.config]);
  assert.equal(damaged.code, 1, 'a damaged certificate is no success');
  const rows = JSON.parse(damaged.stdout) as { name: string; problem?: { code: string } }[];
  assert.equal(rows.find((r) => r.name === 'broken')?.problem?.code, 'ERR_STORAGE_CORRUPT');
  assert.equal(rows.find((r) => r.name === 'fine')?.problem, undefined);
  ranThrough(await runWithStdoutClosed(['status', '--json', '--config', s.config]), 1);
});

test('config check names a reload key no Secret deployer writes and a missing secretFile, before any order', { timeout: 30_000 }, async () => {
  const dir = await tempDir();
  await writeFile(join(dir, 'kubeconfig'), 'apiVersion: v1\nkind: Config\n');
  const config = await writeConfig(dir, {
    directoryUrl: `https://127.0.0.1:${await freePort()}/dir`,
    httpPort: 5002,
    solvers: { dns: { type: 'rfc2136', server: '127.0.0.1', keyName: 'k', secretFile: 'missing.key' } },
    deployers: {
      secret: { type: 'kubernetes-secret', kubeconfig: 'kubeconfig', secretName: 'www-tls', keys: { 'tls.crt': 'fullchain', 'tls.key': 'key' } },
      reload: { type: 'kubernetes-reload', kubeconfig: 'kubeconfig', secretName: 'www-tls', key: 'cert.pem', groups: [{ selector: 'app=www', command: ['apachectl', 'graceful'] }] },
    },
    certificates: [{ name: 'www', domains: ['www.output.test'], solver: 'dns', deploy: ['secret', 'reload'] }],
  });
  const check = await runCli(['config', 'check', '--config', config]);
  assert.equal(check.code, 2, check.stdout);
  assert.match(check.stderr, /deployers\.reload\.key: "cert\.pem" is not a key that "secret" writes into Secret "www-tls" \(it writes tls\.crt, tls\.key\)/);
  assert.match(check.stderr, /solvers\.dns\.secretFile: cannot read \S+missing\.key \(ENOENT\)/);
  // issue refuses the certificate the same way before asking the CA anything (nothing listens there).
  const issue = await runCli(['issue', '--config', config]);
  assert.equal(issue.code, 2, `a configuration error: ${issue.stdout}`);
  assert.match(issue.stdout, /^failed +www: ERR_CONFIG_INVALID: [\s\S]*deployers\.reload\.key/m);
  assert.doesNotMatch(issue.stdout, /ERR_ACME_NETWORK/, 'the checks ran before the CA was asked');
});

test('status shows a failure backoff wherever one holds: a certificate not due yet whose renewal time comes before the backoff ends, and one whose backoff ends first', { timeout: 60_000 }, async () => {
  const dir = await tempDir();
  const H = 3_600_000;
  const config = await writeConfig(dir, {
    directoryUrl: 'https://127.0.0.1:1/dir',
    httpPort: 80,
    certificates: [
      { name: 'soon', domains: ['soon.example.test'] },
      { name: 'later', domains: ['later.example.test'] },
    ],
  });
  const store = new FilesystemCertificateStore({ stateDir: join(dir, 'state'), logger: silentLogger });
  const now = Date.now();
  const soon = await store.save('soon', makeTestBundle({ domains: ['soon.example.test'], days: 6 }));
  await store.save('later', makeTestBundle({ domains: ['later.example.test'], days: 90 }));
  const failure = { at: new Date(now - H).toISOString(), result: 'failure' as const, code: 'ERR_ACME_PROBLEM', message: 'the CA said no' };
  // soon: the CA's window has its chosen time in 1 h, and a failed forced renewal holds it 5 h.
  await store.saveState('soon', {
    failureCount: 1,
    backoffUntil: new Date(now + 5 * H).toISOString(),
    lastAttempt: failure,
    ari: {
      certId: soon.metadata.ariCertId,
      windowStart: new Date(now - H).toISOString(),
      windowEnd: new Date(now + 3 * H).toISOString(),
      selectedTime: new Date(now + H).toISOString(),
      fetchedAt: new Date(now).toISOString(),
      nextFetchAt: new Date(now + 6 * H).toISOString(),
    },
  });
  // later: due in two months, its backoff ends in 2 h.
  await store.saveState('later', { failureCount: 1, backoffUntil: new Date(now + 2 * H).toISOString(), lastAttempt: failure });

  const rows = JSON.parse((await runCli(['status', '--config', config, '--json'])).stdout) as Record<string, unknown>[];
  const byName = new Map(rows.map((r) => [r.name, r]));
  const soonRow = byName.get('soon');
  assert.equal(soonRow?.due, false);
  assert.equal(soonRow?.backoffUntil, new Date(now + 5 * H).toISOString(), JSON.stringify(soonRow));
  assert.deepEqual([soonRow?.heldBy, soonRow?.heldUntil, soonRow?.nextRenewal, soonRow?.nextRenewalReason], ['backoff', soonRow?.backoffUntil, soonRow?.backoffUntil, 'backoff'], 'the backoff, not the ARI time, is when it renews next');
  const laterRow = byName.get('later');
  assert.equal(laterRow?.backoffUntil, new Date(now + 2 * H).toISOString(), JSON.stringify(laterRow));
  assert.equal(laterRow?.heldBy, undefined, 'its renewal time comes after the backoff');
  assert.ok(Date.parse(String(laterRow?.nextRenewal)) > now + 30 * 24 * H);

  const table = await runCli(['status', '--config', config]);
  assert.equal(table.code, 0, table.stderr);
  const line = (name: string): string => table.stdout.split('\n').find((l) => l.startsWith(`${name} `)) ?? assert.fail(table.stdout);
  const minute = (ms: number): string => `${new Date(ms).toISOString().slice(0, 16).replace('T', ' ')}Z`;
  assert.match(line('soon'), new RegExp(`held until ${minute(now + 5 * H)} \\(backoff\\)`), table.stdout);
  assert.match(line('later'), new RegExp(`\\(backoff until ${minute(now + 2 * H)}\\)`), table.stdout);
});

test('a files deployer whose volume is full: ERR_DEPLOY_FILES with a hint that says the volume is full, not a permissions problem', { timeout: 60_000 }, async (t) => {
  const mountPoint = await smallTmpfs(t, await tempDir());
  if (mountPoint === undefined) return;
  const dir = await tempDir();
  const config = await writeConfig(dir, {
    directoryUrl: 'https://127.0.0.1:1/dir',
    httpPort: 80,
    deployers: { volume: { type: 'files', dir: join(mountPoint, 'tls') } },
    certificates: [{ name: 'www', domains: ['www.example.test'], deploy: ['volume'] }],
  });
  const store = new FilesystemCertificateStore({ stateDir: join(dir, 'state'), logger: silentLogger });
  await store.save('www', makeTestBundle({ domains: ['www.example.test'], days: 90 }));
  const info = await statfs(mountPoint);
  await writeFile(join(mountPoint, 'filler'), Buffer.alloc(info.bavail * info.bsize)).catch(() => undefined);
  const run = await runCli(['deploy', 'www', '--force', '--config', config]);
  assert.equal(run.code, 1, `${run.stdout}\n${run.stderr}`);
  assert.match(run.stdout + run.stderr, /ERR_DEPLOY_FILES: .*ENOSPC/);
  assert.match(run.stdout + run.stderr, /hint: The volume of the deployer's `dir` is full \(ENOSPC\)/);
  assert.doesNotMatch(run.stdout + run.stderr, /may write it/);
});

test('`certpilot … > certpilot.yaml` in the working directory: the file the shell made for the output is not read as the default configuration; an empty one that is not the output still is', { timeout: 30_000 }, async () => {
  const dir = await tempDir();
  const shell = (line: string): Promise<number> =>
    new Promise((resolve) => spawn('/bin/sh', ['-c', line], { cwd: dir, env: { PATH: '/usr/bin:/bin', NODE: process.execPath, CLI: cliPath, HOME: dir }, stdio: 'ignore' }).on('close', (code) => resolve(code ?? -1)));
  // What import's help and migrating.md show, with a command that needs no certbot tree.
  assert.equal(await shell('"$NODE" "$CLI" config check --state-dir "$HOME/state" > certpilot.yaml 2> err.txt'), 0, await readFile(join(dir, 'err.txt'), 'utf8'));
  assert.match(await readFile(join(dir, 'certpilot.yaml'), 'utf8'), /^config +\(none: defaults, environment and flags\) is valid$/m);
  // The same empty file read by a command whose output goes elsewhere: still named.
  await writeFile(join(dir, 'certpilot.yaml'), '');
  assert.equal(await shell('"$NODE" "$CLI" config check > out.txt 2> err.txt'), 2);
  assert.match(await readFile(join(dir, 'err.txt'), 'utf8'), /certpilot\.yaml is empty/);
});
