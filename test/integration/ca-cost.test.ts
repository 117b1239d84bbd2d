// Issue 18, through the built CLI against Pebble 2.4: a hold follows the CA's cost. Redis stopped,
// a failed self-check, a wrong directory URL and an RFC 2136 BADSIG each fail without a hold, and
// the fixed run proceeds at once (exit 0, no --force); a validation Pebble failed still holds. A
// SIGKILL right after the live switch (before the pending order is cleared) costs no new version
// and no second deploy; 60 forced renewals leave at most the retained versions.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { appendFile, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { formatDnsServer } from '../../src/challenges/dns01/dns-client.js';
import { namedBinary, rfc2136Solver, startBind } from '../harness/bind.js';
import { cliPath, runCli, startCliScenario, tempDir, writeConfig } from '../harness/certpilot.js';
import { orderUrls, startProxiedPebble, type FaultProxy } from '../harness/fault-proxy.js';
import { freePort } from '../harness/ports.js';
import { startPebble, type PebbleInstance } from '../harness/pebble.js';
import { startRedis } from '../harness/redis.js';
import { startServe } from '../harness/serve.js';
import { requirePebble, requireServer } from '../harness/servers.js';

const ca = (t: TestContext): Promise<{ pebble: PebbleInstance; proxy: FaultProxy }> => startProxiedPebble(t, { version: '2.4', noSleep: true, authzReuse: 0 });

const orders = (proxy: FaultProxy): number => orderUrls(proxy.requests.log).length;

/** Polls `url` until it answers 200 (at most 30 s). */
async function waitHealthy(url: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const status = await fetch(url).then((r) => r.status, () => 0);
    if (status === 200) return;
    if (Date.now() > deadline) throw new Error(`${url} did not turn healthy within 30 s (last status ${status})`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function backoffOf(stateDir: string, name: string): Promise<string | undefined> {
  const state = JSON.parse(await readFile(join(stateDir, 'renewal-state', `${name}.json`), 'utf8')) as { backoffUntil?: string };
  return state.backoffUntil;
}

const versions = (stateDir: string, name: string): number[] =>
  readdirSync(join(stateDir, 'archive', name))
    .map((f) => /^cert(\d+)\.pem$/.exec(f)?.[1])
    .filter((n): n is string => n !== undefined)
    .map(Number)
    .sort((a, b) => a - b);

test('Redis stopped, a failed self-check, a wrong directory URL: no hold, the fixed run proceeds at once; a validation Pebble failed holds', { timeout: 240_000 }, async (t) => {
  if (!requirePebble(t) || !requireServer(t, 'redis-server')) return;
  const { pebble, proxy } = await ca(t);
  const redis = await startRedis();
  t.after(() => redis.stop());
  const podHost = '127.0.0.7';
  const lateHost = '127.0.0.8';
  const nobody = '127.0.0.9';
  await pebble.setA('redis.cost.test', podHost);
  await pebble.setA('late.cost.test', lateHost);
  await pebble.setA('nobody.cost.test', nobody);
  const dir = await tempDir();
  const stateDir = join(dir, 'state');
  const config = await writeConfig(dir, {
    directoryUrl: proxy.directoryUrl,
    httpPort: pebble.httpPort,
    solvers: {
      pods: { type: 'redis', url: redis.url, connectTimeoutMs: 1000, selfCheck: { urls: [`http://${podHost}:${pebble.httpPort}`], timeoutSeconds: 2 } },
      late: { type: 'redis', url: redis.url, connectTimeoutMs: 1000, selfCheck: { urls: [`http://${lateHost}:${pebble.httpPort}`], timeoutSeconds: 2 } },
      // No self-check, and nothing answers at the name's address: Pebble fails the validation.
      blind: { type: 'redis', url: redis.url, connectTimeoutMs: 1000 },
    },
    certificates: [
      { name: 'redis', domains: ['redis.cost.test'], solver: 'pods' },
      { name: 'late', domains: ['late.cost.test'], solver: 'late' },
      { name: 'nobody', domains: ['nobody.cost.test'], solver: 'blind' },
    ],
  });
  const issue = (name: string): ReturnType<typeof runCli> => runCli(['issue', '--name', name, '--config', config]);
  const pod = await startServe(['--config', config, '--listen', `${podHost}:${pebble.httpPort}`, '--solver', 'pods']);
  t.after(() => pod.stop());

  // Redis stopped: the token store is unreachable before the CA is asked anything.
  await redis.stopServer();
  const down = await issue('redis');
  assert.equal(down.code, 1, down.stdout + down.stderr);
  assert.match(down.stdout, /ERR_TOKEN_STORE_UNAVAILABLE/);
  assert.match(down.stdout, /not held: it failed before the CA was asked to validate/);
  assert.equal(await backoffOf(stateDir, 'redis'), undefined, 'no backoff recorded');
  await redis.start();
  // The pod's Redis client reconnects on its own schedule; a user fixing Redis would see /healthz
  // turn 200 before running again, and so does the test (a bounded wait, not a sleep).
  await waitHealthy(`http://${podHost}:${pebble.httpPort}/healthz`);
  const fixedRedis = await issue('redis');
  assert.equal(fixedRedis.code, 0, `Redis back: proceeds at once, no --force: ${fixedRedis.stdout}${fixedRedis.stderr}`);

  // A self-check that fails (the pod is not up yet): the CA is never asked to validate.
  const early = await issue('late');
  assert.equal(early.code, 1, early.stdout + early.stderr);
  assert.match(early.stdout, /ERR_CHALLENGE_SELF_CHECK/);
  assert.match(early.stdout, /not held:/);
  const latePod = await startServe(['--config', config, '--listen', `${lateHost}:${pebble.httpPort}`, '--solver', 'late']);
  t.after(() => latePod.stop());
  const fixedLate = await issue('late');
  assert.equal(fixedLate.code, 0, `the pod is up: proceeds at once, no --force: ${fixedLate.stdout}${fixedLate.stderr}`);

  // A validation the CA failed is what the CA counts: the next run is held.
  const invalid = await issue('nobody');
  assert.equal(invalid.code, 1, invalid.stdout);
  assert.match(invalid.stdout, /ERR_ACME_AUTHORIZATION_FAILED/);
  assert.match(invalid.stdout, /next attempt after .*\(the CA tried to validate and marked the authorization invalid/);
  assert.ok(await backoffOf(stateDir, 'nobody'));
  const ordersBefore = orders(proxy);
  const held = await issue('nobody');
  assert.equal(held.code, 75, held.stdout);
  assert.match(held.stdout, /held until .*consecutive failure\(s\) at the CA, last ERR_ACME_AUTHORIZATION_FAILED/);
  assert.equal(orders(proxy), ordersBefore, 'no order while held');

  // A typo in the directory URL (a port nothing listens on): nothing charged, nothing stored.
  const typoDir = await tempDir();
  const closed = await freePort();
  const typo = await writeConfig(typoDir, { directoryUrl: `https://127.0.0.1:${closed}/dir`, httpPort: pebble.httpPort, certificates: [{ name: 'typo', domains: ['typo.cost.test'] }] });
  const wrong = await runCli(['issue', '--config', typo]);
  assert.equal(wrong.code, 1, wrong.stdout + wrong.stderr);
  assert.match(wrong.stdout, /ERR_ACME_NETWORK/);
  assert.match(wrong.stdout, /not held:/);
  const accounts = join(typoDir, 'state', 'accounts');
  assert.deepEqual(existsSync(accounts) ? readdirSync(accounts) : [], [], 'an unreachable CA leaves no account key nor account.json');
  await writeFile(typo, (await readFile(typo, 'utf8')).replace(`https://127.0.0.1:${closed}/dir`, proxy.directoryUrl));
  const fixedUrl = await runCli(['issue', '--config', typo]);
  assert.equal(fixedUrl.code, 0, `the URL fixed: proceeds at once, no --force: ${fixedUrl.stdout}${fixedUrl.stderr}`);
});

test('an account whose registration got no answer keeps its key (pending) and registers it on the next run', { timeout: 120_000 }, async (t) => {
  if (!requirePebble(t)) return;
  const s = await startCliScenario(t, { pebble: { version: '2.4', noSleep: true }, certificates: [{ name: 'acct', domains: ['acct.cost.test'] }] });
  s.proxy.failNext({ match: (r) => r.kind === 'POST /sign-me-up', status: 0, resetConnection: true });
  const lost = await runCli(['issue', '--config', s.config]);
  assert.equal(lost.code, 1, lost.stdout + lost.stderr);
  const [folder] = readdirSync(join(s.stateDir, 'accounts'));
  assert.ok(folder, 'the key the CA may know is kept');
  const pendingRecord = JSON.parse(await readFile(join(s.stateDir, 'accounts', folder, 'account.json'), 'utf8')) as { url?: string };
  assert.equal(pendingRecord.url, undefined, 'kept as a pending account: no URL yet');
  const key = await readFile(join(s.stateDir, 'accounts', folder, 'private_key.pem'), 'utf8');
  const again = await runCli(['issue', '--config', s.config]);
  assert.equal(again.code, 0, again.stdout + again.stderr);
  const registered = JSON.parse(await readFile(join(s.stateDir, 'accounts', folder, 'account.json'), 'utf8')) as { url?: string };
  assert.match(registered.url ?? '', /\/my-account\//);
  assert.equal(await readFile(join(s.stateDir, 'accounts', folder, 'private_key.pem'), 'utf8'), key, 'the same key was registered');
});

test('rfc2136 BADSIG (a wrong TSIG secret): no hold; the corrected secret file proceeds at once', { timeout: 150_000 }, async (t) => {
  if (!requireServer(t, namedBinary, 'Debian package bind9') || !requirePebble(t, '2.4')) return;
  const bind = await startBind({ zones: [{ name: 'sig.test', records: ['@ A 127.0.0.1'], updateNames: ['_acme-challenge.sig.test'] }] });
  t.after(() => bind.stop());
  const resolver = await startBind({ zones: [], forward: { zones: ['sig.test'], to: bind.server } });
  t.after(() => resolver.stop());
  const pebble = await startPebble({ version: '2.4', noSleep: true, authzReuse: 0, dnsServer: formatDnsServer(resolver.server) });
  t.after(() => pebble.stop());
  const dir = await tempDir();
  const secretFile = join(dir, 'tsig.secret');
  await writeFile(secretFile, `${Buffer.from('not the key on the server, 32 b').toString('base64')}\n`, { mode: 0o600 });
  const config = await writeConfig(dir, {
    directoryUrl: pebble.directoryUrl,
    httpPort: pebble.httpPort,
    solvers: {
      dns: rfc2136Solver(bind),
    },
    certificates: [{ name: 'sig', domains: ['sig.test'], solver: 'dns' }],
  });
  const bad = await runCli(['issue', '--config', config]);
  assert.equal(bad.code, 1, bad.stdout + bad.stderr);
  assert.match(bad.stdout, /ERR_DNS_TSIG_REJECTED: .*BADSIG/);
  assert.match(bad.stdout, /not held:/);
  await writeFile(secretFile, `${bind.key.secret}\n`, { mode: 0o600 });
  const fixed = await runCli(['issue', '--config', config]);
  assert.equal(fixed.code, 0, `the right secret: proceeds at once, no --force: ${fixed.stdout}${fixed.stderr}`);
});

test('SIGKILL right after the live switch, before the pending order is cleared: the next run saves no new version and deploys once', { timeout: 150_000 }, async (t) => {
  if (!requirePebble(t) || !requireServer(t, 'strace', 'Debian package strace')) return;
  const dir0 = await tempDir();
  const deployLog = join(dir0, 'deploys.log');
  const s = await startCliScenario(t, { pebble: { version: '2.4', noSleep: true }, certificates: [{ name: 'kill', domains: ['kill.cost.test'], deploy: ['note'] }] });
  // writeConfig has no hook option: add the deployer (JSON is YAML).
  await writeFile(s.config, (await readFile(s.config, 'utf8')).replace('certificates:', `deployers: ${JSON.stringify({ note: { type: 'hook', shell: true, command: `echo "$CERTPILOT_VERSION $CERTPILOT_SERIAL" >> ${deployLog}` } })}\ncertificates:`));
  const first = await runCli(['issue', '--config', s.config]);
  assert.equal(first.code, 0, first.stdout + first.stderr);
  const deploys = async (): Promise<string[]> => (existsSync(deployLog) ? (await readFile(deployLog, 'utf8')).trim().split('\n') : []);
  assert.equal((await deploys()).length, 1);

  // strace delivers SIGKILL as the run enters the unlink of pending/kill/order.json: the new
  // version is live (the switch came first), the order still pending, no deployer ran.
  const order = join(s.stateDir, 'pending', 'kill', 'order.json');
  const child = spawn('strace', ['-f', '-qq', '-o', '/dev/null', '-P', order, '-e', 'trace=unlink,unlinkat', '-e', 'inject=unlink,unlinkat:signal=SIGKILL', process.execPath, cliPath, 'renew', '--force', '--config', s.config], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  // strace dies of the signal its tracee died of.
  const ended = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
  assert.ok(ended.signal === 'SIGKILL' || ended.code === 137, `killed: ${JSON.stringify(ended)} ${output}`);
  assert.ok(existsSync(order), 'the order is still pending');
  assert.deepEqual(versions(s.stateDir, 'kill'), [1, 2]);
  const liveSerial = new X509Certificate(await readFile(join(s.stateDir, 'live', 'kill', 'cert.pem'))).serialNumber.toLowerCase();
  const v2Serial = new X509Certificate(await readFile(join(s.stateDir, 'archive', 'kill', 'cert2.pem'))).serialNumber.toLowerCase();
  assert.equal(liveSerial, v2Serial, 'version 2 went live before the kill');
  assert.equal((await deploys()).length, 1, 'the killed run deployed nothing');

  const ordersBefore = orders(s.proxy);
  const next = await runCli(['renew', '--config', s.config]);
  assert.equal(next.code, 0, next.stdout + next.stderr);
  assert.match(next.stdout, /version 2 already holds the certificate of order .*nothing saved again/);
  assert.equal(orders(s.proxy), ordersBefore, 'no new order');
  assert.deepEqual(versions(s.stateDir, 'kill'), [1, 2], 'no new version');
  assert.ok(!existsSync(order), 'the pending order is cleared');
  const afterNext = await deploys();
  assert.deepEqual(afterNext.map((l) => l.split(' ')[0]), ['1', '2'], 'version 2 deployed once (it never was), version 1 not again');
  assert.equal(afterNext[1]?.split(' ')[1]?.replace(/^0+/, ''), v2Serial.replace(/^0+/, ''));
  const third = await runCli(['renew', '--config', s.config]);
  assert.equal(third.code, 0, third.stdout + third.stderr);
  assert.deepEqual(await deploys(), afterNext, 'no deployer runs again');
});

test('60 forced renewals leave at most the retained versions', { timeout: 600_000 }, async (t) => {
  if (!requirePebble(t)) return;
  const s = await startCliScenario(t, { pebble: { version: '2.4', noSleep: true }, certificates: [{ name: 'many', domains: ['many.cost.test'] }] });
  await appendFile(s.config, 'renewal: { retention: { keepVersions: 5, keepDays: 0 } }\n');
  for (let i = 0; i < 60; i++) {
    const run = await runCli([i === 0 ? 'issue' : 'renew', ...(i === 0 ? [] : ['--force']), '--config', s.config]);
    assert.equal(run.code, 0, `run ${i}: ${run.stdout}${run.stderr}`);
  }
  const left = versions(s.stateDir, 'many');
  assert.deepEqual(left, [56, 57, 58, 59, 60], 'the last five: every older version pruned');
  const files = readdirSync(join(s.stateDir, 'archive', 'many'));
  assert.ok(files.every((f) => /(5[6-9]|60)\.(pem|json)$/.test(f)), `no file of a pruned version stays: ${files.join(' ')}`);
});

test('status does not show LAST RESULT "success" while a deployer failed', { timeout: 120_000 }, async (t) => {
  if (!requirePebble(t)) return;
  const s = await startCliScenario(t, { pebble: { version: '2.4', noSleep: true }, certificates: [{ name: 'dep', domains: ['dep.cost.test'], deploy: ['broken'] }] });
  await writeFile(s.config, (await readFile(s.config, 'utf8')).replace('certificates:', `deployers: ${JSON.stringify({ broken: { type: 'hook', shell: true, command: 'exit 3' } })}\ncertificates:`));
  const run = await runCli(['issue', '--config', s.config]);
  assert.equal(run.code, 1, run.stdout + run.stderr);
  const status = await runCli(['status', '--config', s.config]);
  const row = status.stdout.split('\n').find((l) => l.startsWith('dep '));
  assert.ok(row, status.stdout);
  assert.doesNotMatch(row, / success /, row);
  assert.match(row, /deploy failure \d{4}-\d\d-\d\d \d\d:\d\dZ ERR_DEPLOY_HOOK_FAILED/);
  const json = JSON.parse((await runCli(['status', '--json', '--config', s.config])).stdout) as { name: string; lastResult?: { result: string; stage: string; deployer?: string } }[];
  assert.deepEqual(json.map((r) => [r.name, r.lastResult?.result, r.lastResult?.stage, r.lastResult?.deployer]), [['dep', 'failure', 'deploy', 'broken']]);
  // Once the deploy succeeds, the last result is the success again.
  await writeFile(s.config, (await readFile(s.config, 'utf8')).replace('"exit 3"', '"true"'));
  assert.equal((await runCli(['deploy', 'dep', '--config', s.config])).code, 0);
  assert.match((await runCli(['status', '--config', s.config])).stdout, /^dep .* success /m);
});
