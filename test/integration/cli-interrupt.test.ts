// SIGTERM in the middle of an issuance (what Kubernetes sends a Job's pod): the challenge is cleaned
// up, the lock released, nothing counts as a CA failure, the exit code is 130, and the next run works.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { appendFile, mkdir, readFile, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { FilesystemCertificateStore } from '../../src/storage/backends/filesystem/filesystem-certificate-store.js';
import { cliPath, runCli, tempDir, testCaFile, writeConfig } from '../harness/certpilot.js';
import { startFaultProxy, type FaultProxy } from '../harness/fault-proxy.js';
import { startPebble, type PebbleInstance } from '../harness/pebble.js';
import { requirePebble } from '../harness/servers.js';
import { freePort } from '../harness/ports.js';
import { serveDirectory } from '../harness/static-server.js';

/** Resolves once `condition` holds; bounded, so a broken client fails the test instead of hanging it. */
async function until(condition: () => boolean, what: string, limitMs = 30_000): Promise<void> {
  for (let waited = 0; !condition(); waited += 20) {
    if (waited > limitMs) throw new Error(`gave up waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * A certificate `site` whose one deployer, `slow`, is quick the first time and hangs (touching
 * `hanging` first) every time after: a forced second deploy waits until it is interrupted.
 */
async function slowSecondDeploy(pebble: PebbleInstance, domain: string): Promise<{ dir: string; config: string; interruptedDeploy: () => Promise<string> }> {
  const dir = await tempDir();
  const marker = join(dir, 'deployed-once');
  const hanging = join(dir, 'hook-hanging');
  const config = await writeConfig(dir, {
    directoryUrl: pebble.directoryUrl,
    httpPort: pebble.httpPort,
    deployers: { slow: { type: 'hook', shell: true, command: `if [ -e ${marker} ]; then touch ${hanging}; sleep 60; fi; touch ${marker}` } },
    certificates: [{ name: 'site', domains: [domain], deploy: ['slow'] }],
  });
  /** `deploy --force`, interrupted by SIGINT once its hook hangs: asserts exit 130, returns the output. */
  const interruptedDeploy = async (): Promise<string> => {
    await rm(hanging, { force: true });
    const child = spawn(process.execPath, [cliPath, 'deploy', '--force', '--config', config], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    // Interrupted while the hook runs (certpilot's signal handlers are set long before).
    await until(() => existsSync(hanging), 'the forced deploy\'s hook to start', 60_000);
    child.kill('SIGINT');
    assert.equal(await exited, 130, output);
    return output;
  };
  return { dir, config, interruptedDeploy };
}

/**
 * Pebble 2.4 (strict) behind a fault proxy, a webroot and a state directory in a temp dir, and the
 * `issue -d NAME -w …` arguments against them; undefined when Pebble is not installed (skipped).
 */
async function webrootIssue(t: TestContext, name: string): Promise<{ pebble: PebbleInstance; proxy: FaultProxy; webroot: string; stateDir: string; args: string[] } | undefined> {
  if (!requirePebble(t, '2.4')) return undefined;
  const pebble = await startPebble({ version: '2.4', strict: true, noSleep: true });
  t.after(() => pebble.stop());
  const proxy = await startFaultProxy(pebble);
  t.after(() => proxy.stop());
  const dir = await tempDir();
  const webroot = join(dir, 'www');
  await mkdir(webroot);
  const stateDir = join(dir, 'state');
  return { pebble, proxy, webroot, stateDir, args: ['issue', '-d', name, '-w', webroot, '--directory', proxy.directoryUrl, '--ca-bundle', testCaFile, '--agree-tos', '--state-dir', stateDir] };
}

test('SIGTERM mid-issuance cleans up, releases the lock, records no failure and exits 130', { timeout: 90_000 }, async (t) => {
  const setup = await webrootIssue(t, 'interrupted.test');
  if (!setup) return;
  const { pebble, proxy, webroot, stateDir, args } = setup;

  // The CA never answers the challenge response: the client is stuck right after presenting.
  proxy.failNext({ match: (r) => r.kind === 'POST /chalZ', status: 0, hang: true });
  const child = spawn(process.execPath, [cliPath, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));

  await until(() => (proxy.requests.byPath['POST /chalZ'] ?? 0) >= 1, 'the challenge response to reach the CA');
  const tokens = join(webroot, '.well-known', 'acme-challenge');
  assert.equal(readdirSync(tokens).length, 1, 'the token was presented');
  assert.equal(readdirSync(join(stateDir, 'locks')).filter((f) => f.endsWith('.lock')).length, 1, 'the lock is held');

  child.kill('SIGTERM');
  assert.equal(await exited, 130, output);
  assert.match(output, /interrupted/);
  assert.deepEqual(readdirSync(tokens), [], 'the token file was removed');
  assert.deepEqual(existsSync(join(stateDir, 'locks')) ? readdirSync(join(stateDir, 'locks')).filter((f) => f.endsWith('.lock')) : [], [], 'the lock was released');
  const store = new FilesystemCertificateStore({ stateDir });
  const state = await store.loadState('interrupted.test');
  assert.equal(state.failureCount, 0, 'an interruption is not a CA failure');
  assert.equal(state.backoffUntil, undefined);
  assert.equal(await store.load('interrupted.test'), undefined);

  // Nothing is stuck: the next run issues (http-01 through the same webroot, served for Pebble).
  const web = await serveDirectory(webroot, pebble.httpPort);
  t.after(() => web.close());
  const again = await runCli(args);
  assert.equal(again.code, 0, again.stdout + again.stderr);
  assert.equal((await store.load('interrupted.test'))?.version, 1);
});

test('SIGKILL mid-issuance leaves the webroot token file; the next run removes it before it goes on', { timeout: 90_000 }, async (t) => {
  const setup = await webrootIssue(t, 'killed.test');
  if (!setup) return;
  const { pebble, proxy, webroot, args } = setup;
  proxy.failNext({ match: (r) => r.kind === 'POST /chalZ', status: 0, hang: true });
  const child = spawn(process.execPath, [cliPath, ...args], { stdio: ['ignore', 'ignore', 'ignore'] });
  const exited = new Promise<void>((resolve) => child.on('close', () => resolve()));
  await until(() => (proxy.requests.byPath['POST /chalZ'] ?? 0) >= 1, 'the challenge response to reach the CA');
  const tokens = join(webroot, '.well-known', 'acme-challenge');
  const left = readdirSync(tokens);
  assert.equal(left.length, 1, 'the token was presented');
  child.kill('SIGKILL');
  await exited;
  assert.deepEqual(readdirSync(tokens), left, 'no cleanup ran: the token file is left');

  const web = await serveDirectory(webroot, pebble.httpPort);
  t.after(() => web.close());
  const again = await runCli(args);
  assert.equal(again.code, 0, again.stdout + again.stderr);
  assert.deepEqual(readdirSync(tokens), [], 'the killed run\'s token file is gone, and so is the new run\'s');
});

test('SIGINT during a deploy exits 130 and counts nothing as a failure: the deployer still holds its version', { timeout: 90_000 }, async (t) => {
  if (!requirePebble(t, '2.4')) return;
  const pebble = await startPebble({ version: '2.4', noSleep: true });
  t.after(() => pebble.stop());
  // The first deploy is quick; a forced second one hangs until it is interrupted.
  const { dir, config, interruptedDeploy } = await slowSecondDeploy(pebble, 'deploy-interrupted.test');
  const first = await runCli(['issue', '--config', config]);
  assert.equal(first.code, 0, first.stdout + first.stderr);

  const output = await interruptedDeploy();
  assert.doesNotMatch(output, /error: deploy failed/, 'an interruption is not logged as a failed deploy');

  const state = await new FilesystemCertificateStore({ stateDir: join(dir, 'state') }).loadState('site');
  assert.equal(state.deployments?.['slow']?.result, 'success', `the deployer still holds version 1: ${JSON.stringify(state.deployments)}`);
  assert.equal(state.deployments?.['slow']?.version, 1);
  const status = await runCli(['status', '--config', config]);
  assert.doesNotMatch(status.stdout, /slow:v1\(failed\)|deploy failure/, status.stdout);
});

test('SIGINT during a deploy: the interrupted event still reaches a webhook that is up, and a hung one is not marked failing', { timeout: 120_000 }, async (t) => {
  if (!requirePebble(t, '2.4')) return;
  const pebble = await startPebble({ version: '2.4', noSleep: true });
  t.after(() => pebble.stop());
  const { dir, config, interruptedDeploy } = await slowSecondDeploy(pebble, 'deploy-notified.test');
  // The receiver answers at once, or (hang) never: each request is kept.
  const port = await freePort();
  let hang = false;
  const received: { event: string; text: string }[] = [];
  const held: ServerResponse[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      received.push({ event: String(req.headers['x-certpilot-event']), text: (JSON.parse(body) as { text: string }).text });
      if (hang) held.push(res);
      else res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  t.after(() => {
    for (const res of held) res.destroy();
    server.close();
  });
  // `repeatHours: 0`: the second stop is sent too (by default the same notice waits a day), to a receiver that hangs.
  await appendFile(config, `notifiers: { chat: { type: webhook, url: "http://127.0.0.1:${port}/hook", on: [failure], retries: 1, retryDelaySeconds: 1, repeatHours: 0 } }\ndefaults: { notify: [chat] }\n`);
  const first = await runCli(['issue', '--config', config]);
  assert.equal(first.code, 0, first.stdout + first.stderr);
  const store = new FilesystemCertificateStore({ stateDir: join(dir, 'state') });

  // The receiver is up: the interrupted event is delivered (said as such, not as a failed deploy).
  const output = await interruptedDeploy();
  assert.doesNotMatch(output, /ABORT_ERR|notification not delivered/, output);
  assert.deepEqual(received.map((r) => r.event), ['interrupted']);
  assert.match(received[0]?.text ?? '', /^certpilot: site INTERRUPTED v1/);
  assert.doesNotMatch(received[0]?.text ?? '', /FAILED/);
  assert.equal((await store.loadState('site')).notifications?.['chat']?.result, 'sent');

  // The receiver takes the request and never answers: the stopped run does not wait past its bound,
  // and an undelivered notice of a stop is not the notifier's failure (the last record stays).
  hang = true;
  const again = await interruptedDeploy();
  assert.equal(received.length, 2, 'the second interrupted event was sent');
  assert.doesNotMatch(again, /notification not delivered/, again);
  assert.equal((await store.loadState('site')).notifications?.['chat']?.result, 'sent', 'not recorded as failed');
  const status = await runCli(['status', '--config', config, '--metrics-file', join(dir, 'certpilot.prom')]);
  assert.doesNotMatch(status.stderr, /notifier chat is failing/, status.stderr);
  assert.match(await readFile(join(dir, 'certpilot.prom'), 'utf8'), /^certpilot_notifier_last_attempt_success\{notifier="chat"\} 1$/m);
});
