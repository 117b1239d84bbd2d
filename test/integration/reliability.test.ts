// Faults a new user meets, through the built CLI against Pebble 2.4 behind the counting proxy:
// one broken certificate among three, a SIGKILL after finalize (no issuance lost), a full disk
// (no order placed), and which failures back off.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { cliPath, runCli, startCliScenario, tempDir, testCaFile, writeConfig } from '../harness/certpilot.js';
import type { FaultProxy } from '../harness/fault-proxy.js';
import { fetchBuffered } from '../harness/http.js';
import { requirePebble, smallTmpfs } from '../harness/servers.js';

async function until(condition: () => boolean, what: string, limitMs = 30_000): Promise<void> {
  for (let waited = 0; !condition(); waited += 20) {
    if (waited > limitMs) throw new Error(`gave up waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function serialOf(stateDir: string, name: string): Promise<string> {
  return new X509Certificate(await readFile(join(stateDir, 'live', name, 'cert.pem'))).serialNumber.toLowerCase();
}

const newOrders = (proxy: FaultProxy): number => proxy.requests.byPath['POST /order-plz'] ?? 0;

test('one certificate with a truncated state file and one with a damaged archive file: the third renews, status shows all three', { timeout: 120_000 }, async (t) => {
  if (!requirePebble(t, '2.4')) return;
  const s = await startCliScenario(t, {
    pebble: { version: '2.4', noSleep: true },
    certificates: [
      { name: 'healthy', domains: ['healthy.iso.test'] },
      { name: 'stateless', domains: ['stateless.iso.test'] },
      { name: 'damaged', domains: ['damaged.iso.test'] },
    ],
  });
  const first = await runCli(['renew', '--config', s.config]);
  assert.equal(first.code, 0, first.stderr);
  await writeFile(join(s.stateDir, 'renewal-state', 'stateless.json'), '{"failureCount": 0, "lastAtt');
  await writeFile(join(s.stateDir, 'archive', 'damaged', 'privkey1.pem'), '');
  const damagedKeyBefore = await readFile(join(s.stateDir, 'archive', 'damaged', 'privkey1.pem'), 'utf8');

  const renew = await runCli(['renew', '--force', '--config', s.config]);
  assert.equal(renew.code, 1, `${renew.stdout}\n${renew.stderr}`);
  assert.match(renew.stdout, /renewed +healthy:/);
  assert.match(renew.stdout, /renewed +stateless:/, 'derived state is rebuilt, not a reason to stop');
  assert.match(renew.stdout, /failed +damaged: ERR_STORAGE_CORRUPT: .*privkey\.pem/);
  assert.match(renew.stderr, /renewal-state\/stateless\.json was unreadable.*set aside/, 'the warning names the file');
  assert.ok(readdirSync(join(s.stateDir, 'renewal-state')).some((f) => f.startsWith('stateless.json.corrupt-')), 'set aside, never deleted');
  assert.equal(await readFile(join(s.stateDir, 'archive', 'damaged', 'privkey1.pem'), 'utf8'), damagedKeyBefore, 'a damaged archive is never overwritten silently');
  assert.ok(!existsSync(join(s.stateDir, 'archive', 'damaged', 'cert2.pem')), 'no new version over a damaged set');

  const status = await runCli(['status', '--config', s.config]);
  assert.equal(status.code, 1, status.stderr);
  for (const name of ['healthy', 'stateless', 'damaged']) assert.match(status.stdout, new RegExp(`^${name} `, 'm'));
  assert.match(status.stdout, /^damaged .*PROBLEM ERR_STORAGE_CORRUPT/m);
  assert.match(status.stderr, /damaged: error ERR_STORAGE_CORRUPT: .*\n {2}hint: /);
  // The rebuilt state is a real state again.
  const rebuilt = JSON.parse(await readFile(join(s.stateDir, 'renewal-state', 'stateless.json'), 'utf8')) as { lastAttempt?: { result: string } };
  assert.equal(rebuilt.lastAttempt?.result, 'success');

  // The hint is a way out that works: move the live link out of the state directory, run what it
  // says; a new version is issued and the damaged one stays in the archive.
  const hint = /hint: Restore (\S+) from a backup; or, to issue a new version \(archive\/ keeps the older ones\), move (\S+) out of the state directory and run `certpilot (renew --force -n damaged)`\./.exec(renew.stdout + renew.stderr);
  assert.ok(hint, `the hint says how to issue a new version: ${renew.stdout}\n${renew.stderr}`);
  assert.equal(hint[2], join(s.stateDir, 'live', 'damaged'));
  await rename(hint[2] as string, join(s.dir, 'damaged.live-aside'));
  const recovered = await runCli([...(hint[3] as string).split(' '), '--config', s.config]);
  assert.equal(recovered.code, 0, `${recovered.stdout}\n${recovered.stderr}`);
  assert.match(recovered.stdout, /(issued|renewed) +damaged: .*version 2/);
  assert.equal(await readFile(join(s.stateDir, 'archive', 'damaged', 'privkey1.pem'), 'utf8'), damagedKeyBefore, 'the damaged version is kept');
});

/**
 * Runs `renew` (forced, or as the recovery run) and SIGKILLs it once a request hangs at the proxy:
 * by default the first request after finalize reached the CA (the issuance is paid for).
 */
async function killAfterFinalize(s: { proxy: FaultProxy; config: string }, options: { recovery?: boolean } = {}): Promise<string> {
  let finalized = false;
  s.proxy.failNext({
    match: (r) => {
      if (options.recovery) return r.kind === 'POST /my-order'; // the recovery run asks for the pending order
      if (r.kind === 'POST /finalize-order') {
        finalized = true;
        return false;
      }
      return finalized;
    },
    status: 0,
    hang: true,
  });
  const args = options.recovery ? ['renew', '--config', s.config] : ['renew', '--force', '--config', s.config];
  const child = spawn(process.execPath, [cliPath, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<void>((resolve) => child.on('close', () => resolve()));
  await until(() => s.proxy.pendingFaults() === 0, 'the request to hang').catch((err: Error) => {
    throw new Error(`${err.message}; requests: ${s.proxy.requests.log.map((r) => r.kind).join(', ')}; output: ${output}`);
  });
  child.kill('SIGKILL');
  await exited;
  return output;
}

test('SIGKILL right after finalize: the next run completes the same order, with zero new orders', { timeout: 120_000 }, async (t) => {
  if (!requirePebble(t, '2.4')) return;
  const s = await startCliScenario(t, { pebble: { version: '2.4', noSleep: true }, certificates: [{ name: 'paid', domains: ['paid.resume.test'] }] });
  assert.equal((await runCli(['issue', '--config', s.config])).code, 0);
  const before = await serialOf(s.stateDir, 'paid');

  await killAfterFinalize(s);
  const pending = JSON.parse(await readFile(join(s.stateDir, 'pending', 'paid', 'order.json'), 'utf8')) as { orderUrl: string; certificateUrl?: string };
  assert.match(pending.orderUrl, /\/my-order\//);
  assert.equal(await serialOf(s.stateDir, 'paid'), before, 'the old set stays live meanwhile');

  // A second kill, during the recovery run, changes nothing either.
  await killAfterFinalize(s, { recovery: true });
  assert.ok(existsSync(join(s.stateDir, 'pending', 'paid', 'order.json')), 'still pending after the second kill');

  const ordersBefore = newOrders(s.proxy);
  const finalizesBefore = s.proxy.requests.byPath['POST /finalize-order'] ?? 0;
  const resumed = await runCli(['renew', '--config', s.config]); // not forced: a pending order is finished anyway
  assert.equal(resumed.code, 0, `${resumed.stdout}\n${resumed.stderr}`);
  assert.match(resumed.stdout, /renewed +paid: .*\(an interrupted order, completed\)/);
  assert.equal(newOrders(s.proxy) - ordersBefore, 0, 'zero new orders');
  assert.ok((s.proxy.requests.byPath['POST /finalize-order'] ?? 0) - finalizesBefore <= 1, 'at most a finalize of the same order');
  const after = await serialOf(s.stateDir, 'paid');
  assert.notEqual(after, before);
  // The certificate stored is the one the CA issued for that order.
  const status = await fetchBuffered(`${s.pebble.managementUrl}/cert-status-by-serial/${after}`, { ca: s.pebble.caCertificates });
  assert.equal((JSON.parse(status.text) as { Status: string }).Status, 'Valid');
  assert.ok(s.proxy.requests.log.some((r) => r.path.startsWith(new URL(pending.orderUrl).pathname)), 'the pending order was asked for');
  assert.ok(!existsSync(join(s.stateDir, 'pending', 'paid')), 'the pending order is gone after the save');
});

test('a full state directory: no order is placed, the error names the directory, the old set stays live', { timeout: 120_000 }, async (t) => {
  if (!requirePebble(t, '2.4')) return;
  const mountPoint = await smallTmpfs(t, await tempDir());
  if (mountPoint === undefined) return;
  const s = await startCliScenario(t, { pebble: { version: '2.4', noSleep: true }, certificates: [{ name: 'tight', domains: ['tight.full.test'] }] });
  const config = await writeConfig(join(mountPoint, '..'), { directoryUrl: s.proxy.directoryUrl, httpPort: s.pebble.httpPort, certificates: [{ name: 'tight', domains: ['tight.full.test'] }] });
  const stateDir = join(mountPoint, '..', 'state');
  // writeConfig puts the state beside the config; point it into the tmpfs instead.
  await writeFile(config, (await readFile(config, 'utf8')).replace(JSON.stringify(stateDir), JSON.stringify(join(mountPoint, 'state'))));
  const state = join(mountPoint, 'state');
  assert.equal((await runCli(['issue', '--config', config])).code, 0);
  const before = await serialOf(state, 'tight');
  const listing = (): string[] => readdirSync(join(state, 'archive', 'tight')).sort();
  const archiveBefore = listing();

  // Fill the volume to its last 24 KiB: room for a lock and a state file, not for a new version.
  const { statfs } = await import('node:fs/promises');
  const fsInfo = await statfs(mountPoint);
  const fill = Math.max(0, fsInfo.bavail * fsInfo.bsize - 24 * 1024);
  await writeFile(join(mountPoint, 'filler'), Buffer.alloc(fill));
  const ordersBefore = newOrders(s.proxy);
  const full = await runCli(['renew', '--force', '--config', config]);
  assert.equal(full.code, 1, full.stdout);
  assert.match(full.stdout, new RegExp(`ERR_STORAGE_FULL: storage: ${state.replace(/[/.]/g, '\\$&')} has no room`));
  assert.equal(newOrders(s.proxy) - ordersBefore, 0, 'no order placed');
  assert.deepEqual(listing(), archiveBefore, 'nothing half-written stays');
  assert.equal(await serialOf(state, 'tight'), before, 'the old set stays live');

  // Room again: the next run proceeds at once (a full disk is a local failure: no backoff).
  spawnSync('rm', ['-f', join(mountPoint, 'filler')]);
  const again = await runCli(['renew', '--force', '--config', config]);
  assert.equal(again.code, 0, `${again.stdout}\n${again.stderr}`);
  assert.notEqual(await serialOf(state, 'tight'), before);
});

async function occupy(port: number): Promise<() => Promise<void>> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return () => new Promise<void>((resolve) => server.close(() => resolve()));
}

test('local failures (trust, port in use) do not hold the fix; a CA failure backs off; a config change clears it', { timeout: 120_000 }, async (t: TestContext) => {
  if (!requirePebble(t, '2.4')) return;
  const s = await startCliScenario(t, {
    pebble: { version: '2.4', noSleep: true },
    certificates: [
      { name: 'trust', domains: ['trust.off.test'] },
      { name: 'port', domains: ['port.off.test'] },
      { name: 'ca', domains: ['ca.off.test'] },
    ],
  });
  const config = await readFile(s.config, 'utf8');
  const issue = (name: string, ...extra: string[]): ReturnType<typeof runCli> => runCli(['issue', '--name', name, '--config', s.config, ...extra]);

  // The CA's TLS is not trusted yet (no caBundle): our side. Adding it works on the very next run.
  await writeFile(s.config, config.replace(/ {2}caBundle: .*\n/, ''));
  const untrusted = await issue('trust');
  assert.equal(untrusted.code, 1, untrusted.stdout);
  assert.match(untrusted.stdout, /ERR_ACME_NETWORK/);
  const trusted = await issue('trust', '--ca-bundle', testCaFile);
  assert.equal(trusted.code, 0, `not held after adding the trust: ${trusted.stdout}`);
  await writeFile(s.config, config);

  // Something else holds the http-01 port: our side. Freed, the next run proceeds.
  const release = await occupy(s.pebble.httpPort);
  const busy = await issue('port');
  await release();
  assert.match(busy.stdout, /ERR_CHALLENGE_LISTEN/);
  const freed = await issue('port');
  assert.equal(freed.code, 0, `port freed: proceeds at once: ${freed.stdout}`);

  // The CA failing is the CA's side: the next run is held, and says until when and how to try now.
  s.proxy.failNext({ match: (r) => r.kind === 'POST /order-plz', status: 500 });
  assert.equal((await issue('ca')).code, 1);
  const held = await issue('ca');
  assert.equal(held.code, 75, held.stdout);
  assert.match(held.stdout, /held until \d{4}-\d\d-\d\dT[^ ]+ \(\d+m\): 1 consecutive failure\(s\) at the CA, last ERR_ACME_PROBLEM; run with --force to try now/);
  // A configuration change is a fix worth trying at once.
  await writeFile(s.config, config.replace('domains: ["ca.off.test"]', 'domains: ["ca.off.test", "www.ca.off.test"]'));
  const changed = await issue('ca');
  assert.equal(changed.code, 0, `a config change clears the backoff: ${changed.stdout}`);
});
