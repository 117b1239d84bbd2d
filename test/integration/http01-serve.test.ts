// `certpilot serve` (the built bundle) over a real redis-server: hits, misses that never reach Redis,
// 503 and a failing /healthz while Redis is down, recovery, the Host allow-list, stateless mode,
// structured logs, graceful SIGTERM; and the `certpilot/responder` package export.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { RedisTokenStore } from '../../src/challenges/http01/token-stores/redis/redis-token-store.js';
import { rawGet } from '../../src/testing/raw-http.js';
import { cliPath, repoRoot } from '../harness/certpilot.js';
import { freePort } from '../harness/ports.js';
import { startRedis, type RedisServer } from '../harness/redis.js';
import { startServe } from '../harness/serve.js';
import { requireServer } from '../harness/servers.js';

const TOKEN = 'LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0';
const THUMBPRINT = '9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI';
const KEY_AUTHORIZATION = `${TOKEN}.${THUMBPRINT}`;
const PATH = `/.well-known/acme-challenge/${TOKEN}`;

describe('certpilot serve', { timeout: 120_000 }, () => {
  let redis: RedisServer | undefined;
  before(async () => {
    if (existsSync('/usr/bin/redis-server') || existsSync('/usr/local/bin/redis-server')) redis = await startRedis({ persistent: true });
  });
  after(() => redis?.stop());

  test('answers from Redis; misses never reach Redis; Redis down → 503 and failing /healthz; back → 200; SIGTERM → exit 0', async (t) => {
    if (!requireServer(t, 'redis-server') || !redis) return;
    assert.ok(existsSync(cliPath), 'build the bundle first (npm run build)');
    const port = await freePort();
    // Hit cache off here: this test needs every hit to reach Redis (the next test covers the cache).
    const serve = await startServe(['--listen', `127.0.0.1:${port}`, '--redis-url', redis.url, '--cache-hits-ms', '0', '--allow-host', 'www.example.com', '--allow-host', '*.example.org']);
    t.after(() => serve.stop());
    const store = new RedisTokenStore({ url: redis.url });
    t.after(() => store.close());
    await store.put(TOKEN, KEY_AUTHORIZATION, 600);

    const hit = await rawGet({ port }, PATH, { host: 'www.example.com' });
    assert.equal(hit.status, 200);
    assert.equal(hit.body, KEY_AUTHORIZATION);
    assert.equal(hit.headers['content-type'], 'text/plain');
    assert.equal(hit.headers['cache-control'], 'no-store');
    assert.equal((await rawGet({ port }, PATH, { host: 'a.example.org:80' })).status, 200);
    assert.equal((await rawGet({ port }, PATH, { host: 'evil.example.net' })).status, 404, 'host not on the allow-list');
    assert.equal((await rawGet({ port }, '/healthz')).status, 200);

    await redis.resetStats();
    const misses = ['/', '/index.php', `/.well-known/acme-challenge/${TOKEN}/`, `/.well-known/acme-challenge/..%2f${TOKEN}`, '/.well-known/acme-challenge/short',
      `/.well-known/acme-challenge/${'A'.repeat(300)}`, `//.well-known/acme-challenge/${TOKEN}`, `/.well-known/acme-challenge/${TOKEN}?a=b`];
    for (const path of misses) assert.equal((await rawGet({ port }, path, { host: 'www.example.com' })).status, 404, path);
    assert.equal((await rawGet({ port }, PATH, { method: 'DELETE' })).status, 405);
    const stats = await redis.commandStats();
    assert.deepEqual(Object.keys(stats).filter((c) => c !== 'info' && c !== 'config|resetstat'), [], `misses sent Redis commands: ${JSON.stringify(stats)}`);

    await redis.stopServer();
    const down = await rawGet({ port }, PATH, { host: 'www.example.com' });
    assert.equal(down.status, 503);
    assert.ok(!down.body.includes(THUMBPRINT));
    assert.equal((await rawGet({ port }, '/healthz')).status, 503);
    await redis.start();
    let back = 0;
    for (let i = 0; i < 50 && back !== 200; i++) {
      back = (await rawGet({ port }, PATH, { host: 'www.example.com' })).status;
      if (back !== 200) await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(back, 200, 'answers again once Redis is back (the AOF kept the token)');
    assert.equal((await rawGet({ port }, '/healthz')).status, 200);

    assert.equal(await serve.stop(), 0);
    const lines = serve.logs().trim().split('\n').map((l) => JSON.parse(l) as { msg: string; status?: number });
    assert.ok(lines.some((l) => l.msg === 'http-01 responder: answered' && l.status === 200));
    assert.ok(lines.some((l) => l.msg === 'http-01 responder: unavailable' && l.status === 503));
    assert.equal(lines.at(-1)?.msg, 'http-01 responder: stopped');
    assert.ok(!serve.logs().includes(THUMBPRINT), 'the key authorization is never logged');
    await store.delete(TOKEN);
  });

  test('the default hit cache: a burst of validations costs one Redis GET; a token written later is answered at once', async (t) => {
    if (!requireServer(t, 'redis-server') || !redis) return;
    const port = await freePort();
    const serve = await startServe(['--listen', `127.0.0.1:${port}`, '--redis-url', redis.url]);
    t.after(() => serve.stop());
    const store = new RedisTokenStore({ url: redis.url });
    t.after(() => store.close());
    const later = `${TOKEN.slice(0, -5)}later`;
    await redis.resetStats();
    assert.equal((await rawGet({ port }, `/.well-known/acme-challenge/${later}`)).status, 404, 'not there yet');
    await store.put(later, `${later}.${THUMBPRINT}`, 600);
    await redis.resetStats();
    for (let i = 0; i < 5; i++) assert.equal((await rawGet({ port }, `/.well-known/acme-challenge/${later}`)).body, `${later}.${THUMBPRINT}`, 'a miss is never cached');
    const gets = (await redis.commandStats()).get ?? 0;
    assert.equal(gets, 1, 'five validations of one token, one GET');
    await store.delete(later);
  });

  test('--solver NAME: a malformed stored value answers 404 and one warning naming the token and what is wrong, never the value', async (t) => {
    if (!requireServer(t, 'redis-server') || !redis) return;
    const dir = mkdtempSync(join(tmpdir(), 'certpilot-serve-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, 'certpilot.yaml'), `stateDir: ${dir}/state\nsolvers:\n  pods: { type: redis, url: "${redis.url}" }\n`);
    const port = await freePort();
    const serve = await startServe(['--listen', `127.0.0.1:${port}`, '--config', join(dir, 'certpilot.yaml'), '--solver', 'pods'], { cwd: dir });
    t.after(() => serve.stop());
    const store = new RedisTokenStore({ url: redis.url });
    t.after(() => store.close());
    const broken = 'broken-value-of-a-writer-never-to-be-logged';
    await store.put(TOKEN, broken, 600);
    for (let i = 0; i < 10; i++) assert.equal((await rawGet({ port }, PATH)).status, 404);
    assert.equal(await serve.stop(), 0);
    const lines = serve.logs().trim().split('\n').map((l) => JSON.parse(l) as { level: number; msg: string; challengeToken?: string; problem?: string });
    const warnings = lines.filter((l) => l.msg.includes('not its key authorization'));
    assert.equal(warnings.length, 1, 'once per token, not per request');
    assert.equal(warnings[0]?.challengeToken, TOKEN);
    assert.match(warnings[0]?.problem ?? '', /does not start with this token/);
    assert.ok(!serve.logs().includes(broken), 'the stored value is never logged');
    await store.delete(TOKEN);
  });

  test('a key of another Redis type at a token (HSET: WRONGTYPE) answers 404 with one warning per token, not 503 blaming Redis', async (t) => {
    if (!requireServer(t, 'redis-server') || !redis) return;
    const port = await freePort();
    const serve = await startServe(['--listen', `127.0.0.1:${port}`, '--redis-url', redis.url]);
    t.after(() => serve.stop());
    const other = `${TOKEN.slice(0, -4)}hash`;
    await redis.command('HSET', `.well-known/acme-challenge/${other}`, 'field', 'value-of-another-app');
    t.after(() => redis?.command('DEL', `.well-known/acme-challenge/${other}`));
    for (let i = 0; i < 5; i++) assert.equal((await rawGet({ port }, `/.well-known/acme-challenge/${other}`)).status, 404);
    assert.equal((await rawGet({ port }, '/healthz')).status, 200, 'Redis is fine');
    assert.equal(await serve.stop(), 0);
    const lines = serve.logs().trim().split('\n').map((l) => JSON.parse(l) as { msg: string; challengeToken?: string; problem?: string; status?: number });
    const warnings = lines.filter((l) => l.msg.includes('not its key authorization'));
    assert.equal(warnings.length, 1, 'once per token, not per request');
    assert.equal(warnings[0]?.challengeToken, other);
    assert.match(warnings[0]?.problem ?? '', /another type than a string value \(WRONGTYPE\)/);
    assert.ok(!lines.some((l) => l.status === 503 || l.msg.includes('token store failed')), serve.logs());
    assert.ok(!serve.logs().includes('value-of-another-app'));
  });

  test('stateless mode: --thumbprint answers <token>.<thumbprint> with no store at all', async (t) => {
    assert.ok(existsSync(cliPath), 'build the bundle first (npm run build)');
    const port = await freePort();
    const serve = await startServe(['--listen', `127.0.0.1:${port}`, '--thumbprint', THUMBPRINT]);
    t.after(() => serve.stop());
    const other = 'Zz09_-'.repeat(7);
    assert.equal((await rawGet({ port }, `/.well-known/acme-challenge/${other}`)).body, `${other}.${THUMBPRINT}`);
    assert.equal((await rawGet({ port }, '/.well-known/acme-challenge/..%2fx')).status, 404);
    assert.equal((await rawGet({ port }, '/healthz')).status, 200);
    assert.equal(await serve.stop(), 0);
  });

  test('bad usage exits 2 with a clear error', async () => {
    const { runCli } = await import('../harness/certpilot.js');
    const none = await runCli(['serve']);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /ERR_CLI_USAGE: cli: serve needs exactly one of --solver NAME, --redis-url URL or --thumbprint T/);
    const secret = await runCli(['serve', '--redis-url', 'redis://:s3cret-pw@127.0.0.1:6399']);
    assert.equal(secret.code, 2);
    assert.match(secret.stderr, /--redis-url carries a password/);
    assert.match(secret.stderr, /CERTPILOT_REDIS_PASSWORD_FILE/, 'the hint names what serve really reads');
    assert.ok(!secret.stderr.includes('s3cret-pw'), 'the password is never echoed');
    const dir = mkdtempSync(join(tmpdir(), 'certpilot-serve-'));
    writeFileSync(join(dir, 'certpilot.yaml'), `stateDir: ${dir}/state\nsolvers:\n  pods: { type: stateless }\n`);
    const stateless = await runCli(['serve', '--solver', 'pods', '--config', join(dir, 'certpilot.yaml')]);
    rmSync(dir, { recursive: true, force: true });
    assert.equal(stateless.code, 2);
    assert.match(stateless.stderr, /serve --solver pods: that solver is stateless/);
    assert.match(stateless.stderr, /certpilot serve --thumbprint T/);
    const bad = await runCli(['serve', '--thumbprint', THUMBPRINT, '--listen', 'nowhere']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--listen must be host:port/);
  });
});

test('the package exports certpilot/responder with its typed API', async () => {
  const spec = 'certpilot/responder';
  const api = (await import(spec)) as Record<string, unknown>;
  for (const name of ['createChallengeResponder', 'RedisTokenStore', 'MemoryTokenStore', 'challengeRequestListener', 'expressChallengeResponder', 'fastifyChallengeResponder', 'startResponderServer', 'CHALLENGE_PATH_PREFIX']) {
    assert.ok(name in api, `certpilot/responder exports ${name}`);
  }
  assert.ok(existsSync(join(repoRoot, 'dist/bundle/lib/responder.mjs')), 'the library bundle is built');
});
