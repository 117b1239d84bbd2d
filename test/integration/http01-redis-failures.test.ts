// The redis solver when things go wrong, through the built CLI against real Pebble 2.4 and a real
// redis-server: Redis down at the start (a clear error before any order), Redis stopped in the
// middle of an order (a clear error; the token it kept on disk is removed by the next run), and a
// self-check URL that does not serve the token (the CA is never told).
import assert from 'node:assert/strict';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test, type TestContext } from 'node:test';
import { runCli, tempDir, writeConfig } from '../harness/certpilot.js';
import { orderUrls, startProxiedPebble, type FaultProxy } from '../harness/fault-proxy.js';
import { freePort } from '../harness/ports.js';
import type { PebbleInstance } from '../harness/pebble.js';
import { startRedis } from '../harness/redis.js';
import { startServe } from '../harness/serve.js';
import { requirePebble, requireServer } from '../harness/servers.js';

const ca = (t: TestContext): Promise<{ pebble: PebbleInstance; proxy: FaultProxy }> => startProxiedPebble(t, { noSleep: true, authzReuse: 0 });

const orders = (proxy: FaultProxy): number => orderUrls(proxy.requests.log).length;
const challengePosts = (proxy: FaultProxy): number => proxy.requests.log.filter((r) => r.method === 'POST' && r.path.includes('/chalZ/')).length;

/** A server in front of a pod: passes each answer through, running `beforeAnswer` before it sends it. */
async function hookServer(target: { host: string; port: number }, beforeAnswer: () => Promise<void>): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    const up = request({ host: target.host, port: target.port, path: req.url, headers: { host: req.headers.host }, agent: false }, (r) => {
      const chunks: Buffer[] = [];
      r.on('data', (d: Buffer) => chunks.push(d));
      r.on('end', () => {
        void beforeAnswer().then(() => res.writeHead(r.statusCode ?? 502, { 'content-type': 'text/plain' }).end(Buffer.concat(chunks)));
      });
    });
    up.on('error', () => res.writeHead(502).end());
    up.end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

test('Redis down at the start: a clear ERR_TOKEN_STORE_UNAVAILABLE before any order', { timeout: 120_000 }, async (t) => {
  if (!requirePebble(t)) return;
  const { pebble, proxy } = await ca(t);
  const port = await freePort();
  const dir = await tempDir();
  const config = await writeConfig(dir, {
    directoryUrl: proxy.directoryUrl,
    httpPort: pebble.httpPort,
    solvers: { pods: { type: 'redis', url: `redis://127.0.0.1:${port}`, connectTimeoutMs: 1000 } },
    certificates: [{ name: 'down', domains: ['down.pods.test'], solver: 'pods' }],
  });
  const run = await runCli(['issue', '--config', config]);
  assert.equal(run.code, 1, run.stdout + run.stderr);
  const text = run.stdout + run.stderr;
  assert.match(text, /ERR_TOKEN_STORE_UNAVAILABLE/);
  assert.match(text, new RegExp(`redis token store: cannot reach Redis: redis://127\\.0\\.0\\.1:${port}/0 is unreachable or failing: .*ECONNREFUSED`));
  assert.equal(orders(proxy), 0, 'no order was placed');
});

test('Redis stopped in the middle of an order: a clear error; the next run leaves no token in Redis', { timeout: 150_000 }, async (t) => {
  if (!requirePebble(t) || !requireServer(t, 'redis-server')) return;
  const { pebble, proxy } = await ca(t);
  const redis = await startRedis({ persistent: true });
  t.after(() => redis.stop());
  const podHost = '127.0.0.7';
  await pebble.setA('mid.pods.test', podHost);
  const dir = await tempDir();
  let stopOnce = true;
  // The self-check is the last step before the CA is told: stop Redis right there, after the pod
  // answered the self-check and before the CA validates.
  const hook = await hookServer({ host: podHost, port: pebble.httpPort }, async () => {
    if (!stopOnce) return;
    stopOnce = false;
    await redis.stopServer();
  });
  t.after(() => new Promise((r) => hook.server.close(r)));
  const config = await writeConfig(dir, {
    directoryUrl: proxy.directoryUrl,
    httpPort: pebble.httpPort,
    solvers: { pods: { type: 'redis', url: redis.url, connectTimeoutMs: 1000, selfCheck: { urls: [hook.url] } } },
    certificates: [{ name: 'mid', domains: ['mid.pods.test'], solver: 'pods' }],
  });
  // Hit cache off: with it, the pod would answer the CA from what the self-check just read, and
  // the order would (rightly) succeed; this test is about the failure path.
  const pod = await startServe(['--config', config, '--listen', `${podHost}:${pebble.httpPort}`, '--solver', 'pods', '--cache-hits-ms', '0']);
  t.after(() => pod.stop());

  const first = await runCli(['issue', '--config', config]);
  assert.equal(first.code, 1, first.stdout + first.stderr);
  assert.match(first.stdout + first.stderr, /ERR_ACME_AUTHORIZATION_FAILED/);
  assert.match(first.stdout + first.stderr, /503/, 'the CA\'s validation error shows the pod\'s 503');
  assert.match(first.stderr, /challenge cleanup failed/, 'the cleanup could not reach Redis, and said so');
  assert.match(pod.logs(), /"status":503/, 'the pod answered the CA 503 while Redis was down');

  await redis.start();
  const left = await redis.command('KEYS', '.well-known/acme-challenge/*');
  assert.notEqual(left, '', 'the append-only file kept the token the failed run could not delete');

  // The CA failed a validation (the pod answered 503): a failure the CA counts, so the next run is
  // held; --force is the documented way after fixing the cause.
  const second = await runCli(['issue', '--config', config, '--force']);
  assert.equal(second.code, 0, second.stdout + second.stderr);
  assert.equal(await redis.command('KEYS', '*'), '', 'no token left in Redis after the next run');
  assert.ok(orders(proxy) >= 2);
});

test('a self-check URL that does not serve the token fails with ERR_CHALLENGE_SELF_CHECK; the CA is never told', { timeout: 120_000 }, async (t) => {
  if (!requirePebble(t) || !requireServer(t, 'redis-server')) return;
  const { pebble, proxy } = await ca(t);
  const redis = await startRedis();
  t.after(() => redis.stop());
  const wrong = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<h1>default site</h1>'));
  await new Promise<void>((r) => wrong.listen(0, '127.0.0.1', r));
  t.after(() => new Promise((r) => wrong.close(r)));
  const wrongUrl = `http://127.0.0.1:${(wrong.address() as AddressInfo).port}`;
  const dir = await tempDir();
  const config = await writeConfig(dir, {
    directoryUrl: proxy.directoryUrl,
    httpPort: pebble.httpPort,
    solvers: { pods: { type: 'redis', url: redis.url, selfCheck: { urls: [wrongUrl], timeoutSeconds: 2 } } },
    certificates: [{ name: 'sc', domains: ['sc.pods.test'], solver: 'pods' }],
  });
  const run = await runCli(['issue', '--config', config]);
  assert.equal(run.code, 1, run.stdout + run.stderr);
  assert.match(run.stdout + run.stderr, new RegExp(`ERR_CHALLENGE_SELF_CHECK.*${wrongUrl.replace(/[.]/g, '\\.')}/\\.well-known/acme-challenge/\\S+ does not serve the token for sc\\.pods\\.test: it answered HTTP 200 \\\\?"<h1>default site</h1>`));
  assert.equal(challengePosts(proxy), 0, 'the challenge was never answered to the CA');
  assert.equal(await redis.command('KEYS', '*'), '', 'the token was cleaned up');
});
