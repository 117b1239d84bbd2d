// The `redis` token store against a real redis-server: the token-store contract suite (real expiry),
// the key layout the deck's PHP controller reads, own-keys-only deletes, credentials, databases,
// unreachable servers, restarts, and the sweep of tokens a stopped run left.
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { RedisTokenStore } from '../../src/challenges/http01/token-stores/redis/redis-token-store.js';
import { redisSchema } from '../../src/challenges/http01/token-stores/redis/schema.js';
import { CertpilotError } from '../../src/errors.js';
import { findPlugin } from '../../src/plugins/registry.js';
import { silentLogger } from '../../src/logger.js';
import { tokenStoreContract } from '../../src/testing/token-store-contract.js';
import { tempDir } from '../../src/testing/temp-dir.js';
import { freePort } from '../harness/ports.js';
import { startRedis, type RedisServer } from '../harness/redis.js';
import { requireServer, serversRequired } from '../harness/servers.js';
import { resolveBinary } from '../harness/paths.js';

const TOKEN = 'LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0';
const KEY_AUTHORIZATION = `${TOKEN}.9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI`;
const PASSWORD = 'pw-Redis-test-5ecret';
const HAVE_REDIS = resolveBinary('redis-server') !== undefined;

if (!HAVE_REDIS && serversRequired()) throw new Error('redis-server missing and CERTPILOT_REQUIRE_SERVERS is set');

let redis: RedisServer | undefined;
let secured: RedisServer | undefined;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

before(async () => {
  if (!HAVE_REDIS) return;
  redis = await startRedis();
  secured = await startRedis({ password: PASSWORD, persistent: true });
});
after(async () => {
  await redis?.stop();
  await secured?.stop();
});

const open: RedisTokenStore[] = [];
after(async () => {
  await Promise.all(open.map((s) => s.close()));
});
function store(options: ConstructorParameters<typeof RedisTokenStore>[0] = {}): RedisTokenStore {
  const s = new RedisTokenStore({ url: redis?.url, ...options });
  open.push(s);
  return s;
}

describe('redis token store contract', { timeout: 60_000 }, () => {
  if (!HAVE_REDIS) {
    test('redis-server is installed', (t) => {
      requireServer(t, 'redis-server', 'Debian package redis-server; run `bash scripts/setup.sh`');
    });
    return;
  }
  tokenStoreContract('redis', async () => {
    const s = new RedisTokenStore({ url: redis?.url, prefix: `contract-${process.pid}/` });
    return { store: s, advance: (ms) => sleep(ms), close: () => s.close() };
  });
});

describe('redis token store against a real redis-server', { timeout: 60_000 }, () => {
  test('default layout: key .well-known/acme-challenge/<token>, value the key authorization, TTL via SET EX', async (t) => {
    if (!requireServer(t, 'redis-server') || !redis) return;
    const s = store();
    await s.put(TOKEN, KEY_AUTHORIZATION, 3600);
    assert.equal(await redis.command('GET', `.well-known/acme-challenge/${TOKEN}`), KEY_AUTHORIZATION);
    const ttl = Number(await redis.command('TTL', `.well-known/acme-challenge/${TOKEN}`));
    assert.ok(ttl > 3590 && ttl <= 3600, `TTL ${ttl}`);
    await s.delete(TOKEN);
    assert.equal(await redis.command('EXISTS', `.well-known/acme-challenge/${TOKEN}`), '0');
  });

  test('the registry entry parses the deck\'s settings with defaults and builds a working store', async (t) => {
    if (!requireServer(t, 'redis-server') || !redis) return;
    const plugin = findPlugin('redis');
    assert.equal(plugin?.kind, 'token-store');
    const options = redisSchema().parse({ url: redis.url });
    assert.equal(options.prefix, '.well-known/acme-challenge/');
    const dir = await tempDir();
    const s = (await plugin.create(options as never, { name: 'pods', logger: silentLogger, clock: { now: () => new Date(), sleep: async () => undefined }, baseDir: dir, stateDir: dir })) as RedisTokenStore;
    open.push(s);
    await s.put(TOKEN, KEY_AUTHORIZATION, 60);
    assert.equal(await s.get(TOKEN), KEY_AUTHORIZATION);
    await s.delete(TOKEN);
    assert.equal(redisSchema().safeParse({ url: 'redis://user:secret@redis:6379' }).success, false, 'a password in the URL is refused');
    assert.equal(redisSchema().safeParse({ url: 'http://redis:6379' }).success, false);
    assert.equal(redisSchema().safeParse({ url: 'rediss://redis:6380/2', sentinel: { sentinels: ['s1:26379'], masterName: 'mymaster' } }).success, true);
  });

  test('a custom prefix and a database number (URL path or db) place the key there and nowhere else', async (t) => {
    if (!requireServer(t, 'redis-server') || !redis) return;
    const viaUrl = store({ url: `${redis.url}/3`, prefix: 'acme/' });
    const viaOption = store({ db: 4, prefix: 'acme/' });
    await viaUrl.put(TOKEN, KEY_AUTHORIZATION, 60);
    await viaOption.put(TOKEN, `${TOKEN}.other-thumbprint-value`, 60);
    const client = new Redis({ host: redis.host, port: redis.port, lazyConnect: true });
    await client.connect();
    try {
      await client.select(3);
      assert.equal(await client.get(`acme/${TOKEN}`), KEY_AUTHORIZATION);
      await client.select(4);
      assert.equal(await client.get(`acme/${TOKEN}`), `${TOKEN}.other-thumbprint-value`);
      await client.select(0);
      assert.equal(await client.get(`acme/${TOKEN}`), null);
    } finally {
      client.disconnect();
    }
    await viaUrl.delete(TOKEN);
    await viaOption.delete(TOKEN);
  });

  test('delete removes only keys this store wrote, and only while they hold its value', async (t) => {
    if (!requireServer(t, 'redis-server') || !redis) return;
    const mine = store({ prefix: 'own/' });
    const other = store({ prefix: 'own/' });
    const token2 = `${TOKEN.slice(0, -1)}Z`;
    await mine.put(TOKEN, KEY_AUTHORIZATION, 60);
    await redis.command('SET', `own/${token2}`, `${token2}.someone-elses-value`);
    await other.delete(token2);
    await other.delete(TOKEN);
    assert.equal(await redis.command('GET', `own/${token2}`), `${token2}.someone-elses-value`, 'a store never deletes what it did not write');
    assert.equal(await redis.command('GET', `own/${TOKEN}`), KEY_AUTHORIZATION);
    // Rewritten by someone else after our put: ours no more, so it stays.
    await redis.command('SET', `own/${TOKEN}`, `${TOKEN}.rewritten-by-another-writer`);
    await mine.delete(TOKEN);
    assert.equal(await redis.command('GET', `own/${TOKEN}`), `${TOKEN}.rewritten-by-another-writer`);
    await redis.command('DEL', `own/${TOKEN}`, `own/${token2}`);
  });

  test('username/password: passwordFile works; a wrong password is ERR_TOKEN_STORE_AUTH without the password', async (t) => {
    if (!requireServer(t, 'redis-server') || !secured) return;
    const dir = await tempDir();
    const file = join(dir, 'redis-password');
    await writeFile(file, `${PASSWORD}\n`, { mode: 0o600 });
    const good = store({ url: secured.url, passwordFile: file });
    await good.put(TOKEN, KEY_AUTHORIZATION, 60);
    assert.equal(await good.get(TOKEN), KEY_AUTHORIZATION);
    await good.delete(TOKEN);
    const acl = store({ url: `redis://default@${secured.host}:${secured.port}`, password: PASSWORD });
    await acl.check();

    const wrongFile = join(dir, 'wrong');
    await writeFile(wrongFile, 'not-the-password-xyz\n');
    const bad = store({ url: secured.url, passwordFile: wrongFile });
    const err = await bad.get(TOKEN).then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof CertpilotError, String(err));
    assert.equal(err.code, 'ERR_TOKEN_STORE_AUTH');
    assert.match(err.message, new RegExp(`redis://127\\.0\\.0\\.1:${secured.port}/0`));
    assert.ok(!err.message.includes('not-the-password-xyz') && !err.message.includes(PASSWORD), err.message);
    const none = store({ url: secured.url });
    await assert.rejects(none.get(TOKEN), { code: 'ERR_TOKEN_STORE_AUTH' });
    await assert.rejects(store({ url: secured.url, passwordFile: join(dir, 'missing') }).get(TOKEN), (e: CertpilotError) => {
      assert.equal(e.code, 'ERR_TOKEN_STORE_AUTH');
      assert.match(e.message, /cannot read passwordFile .*missing: ENOENT/);
      return true;
    });
  });

  test('an unreachable Redis is ERR_TOKEN_STORE_UNAVAILABLE (retryable), naming the server, fast, without secrets', async (t) => {
    if (!requireServer(t, 'redis-server')) return;
    const port = await freePort();
    const s = store({ url: `redis://127.0.0.1:${port}/2`, password: 'hunter2-secret', connectTimeoutMs: 500 });
    for (const op of [() => s.put(TOKEN, KEY_AUTHORIZATION, 60), () => s.get(TOKEN), () => s.check()]) {
      const err = await op().then(() => undefined, (e: unknown) => e);
      assert.ok(err instanceof CertpilotError, String(err));
      assert.equal(err.code, 'ERR_TOKEN_STORE_UNAVAILABLE');
      assert.equal(err.retryable, true);
      assert.match(err.message, new RegExp(`^redis token store: cannot [A-Za-z ]+: redis://127\\.0\\.0\\.1:${port}/2 is unreachable or failing: .*ECONNREFUSED`));
      assert.ok(!err.message.includes('hunter2-secret'));
    }
  });

  test('Redis restarted: commands fail with ERR_TOKEN_STORE_UNAVAILABLE while it is down, then work again', async (t) => {
    if (!requireServer(t, 'redis-server') || !secured) return;
    const s = store({ url: secured.url, password: PASSWORD });
    await s.put(TOKEN, KEY_AUTHORIZATION, 60);
    await secured.stopServer();
    await assert.rejects(s.get(TOKEN), { code: 'ERR_TOKEN_STORE_UNAVAILABLE' });
    await secured.start();
    let value: string | undefined;
    for (let i = 0; i < 50; i++) {
      value = await s.get(TOKEN).catch(() => 'unavailable');
      if (value !== 'unavailable') break;
      await sleep(100);
    }
    assert.equal(value, KEY_AUTHORIZATION, 'reconnected, and the append-only file kept the token');
    await s.delete(TOKEN);
    assert.equal(await secured.command('EXISTS', `.well-known/acme-challenge/${TOKEN}`), '0');
  });

  test('a later run deletes the tokens a stopped run of this host journalled, only while they hold its value', async (t) => {
    if (!requireServer(t, 'redis-server') || !redis) return;
    const journalDir = join(await tempDir(), 'http01-tokens', 'pods');
    await mkdir(journalDir, { recursive: true });
    const left = `${TOKEN.slice(0, -2)}L1`;
    const changed = `${TOKEN.slice(0, -2)}L2`;
    await redis.command('SET', `.well-known/acme-challenge/${left}`, `${left}.tp`, 'EX', '600');
    await redis.command('SET', `.well-known/acme-challenge/${changed}`, `${changed}.rewritten`, 'EX', '600');
    const far = Date.now() + 600_000;
    // pid 2^22+1 is above Linux's pid_max default: a process that cannot be alive.
    await writeFile(
      join(journalDir, `${hostname()}~4194305.json`),
      JSON.stringify([
        { key: `.well-known/acme-challenge/${left}`, value: `${left}.tp`, expiresAt: far },
        { key: `.well-known/acme-challenge/${changed}`, value: `${changed}.tp`, expiresAt: far },
      ]),
    );
    const s = store({ journalDir });
    await s.check();
    assert.equal(await redis.command('EXISTS', `.well-known/acme-challenge/${left}`), '0', 'the stopped run\'s token is gone');
    assert.equal(await redis.command('GET', `.well-known/acme-challenge/${changed}`), `${changed}.rewritten`, 'a rewritten key stays');
    await redis.command('DEL', `.well-known/acme-challenge/${changed}`);
  });
});

describe('redis token store through Sentinel and Cluster', { timeout: 60_000 }, () => {
  test('Sentinel: the store finds the master through a real redis-sentinel and writes there', async (t) => {
    if (!requireServer(t, 'redis-server') || !redis) return;
    const sentinel = await startRedis({ sentinelOf: { name: 'certpilot', host: redis.host, port: redis.port } });
    t.after(() => sentinel.stop());
    const s = store({ url: 'redis://ignored-host', prefix: 'sentinel/', sentinel: { sentinels: [`${sentinel.host}:${sentinel.port}`], masterName: 'certpilot' } });
    assert.match(s.where, new RegExp(`sentinel master certpilot via 127\\.0\\.0\\.1:${sentinel.port}`));
    await s.put(TOKEN, KEY_AUTHORIZATION, 60);
    assert.equal(await redis.command('GET', `sentinel/${TOKEN}`), KEY_AUTHORIZATION, 'written to the master');
    await s.delete(TOKEN);
    assert.equal(await redis.command('EXISTS', `sentinel/${TOKEN}`), '0');
  });

  test('Cluster: a one-node Redis Cluster holding every slot; db other than 0 is refused', async (t) => {
    if (!requireServer(t, 'redis-server')) return;
    // cluster-announce-ip: a lone node otherwise reports its address as '' in CLUSTER SLOTS.
    const node = await startRedis({ args: ['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-announce-ip', '127.0.0.1'] });
    t.after(() => node.stop());
    await node.command('CLUSTER', 'ADDSLOTSRANGE', '0', '16383');
    for (let i = 0; i < 100 && !(await node.command('CLUSTER', 'INFO')).includes('cluster_state:ok'); i++) await sleep(100);
    const s = store({ url: 'redis://unused', cluster: { nodes: [`${node.host}:${node.port}`] } });
    await s.put(TOKEN, KEY_AUTHORIZATION, 60);
    assert.equal(await s.get(TOKEN), KEY_AUTHORIZATION);
    assert.equal(await node.command('GET', `.well-known/acme-challenge/${TOKEN}`), KEY_AUTHORIZATION);
    await s.delete(TOKEN);
    assert.equal(await s.get(TOKEN), undefined);
    await assert.rejects(store({ cluster: { nodes: [`${node.host}:${node.port}`] }, db: 2 }).get(TOKEN), /Redis Cluster has only database 0/);
  });
});
