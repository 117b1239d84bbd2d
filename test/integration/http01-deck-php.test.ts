// The deck's own controller keeps working: a PHP script doing what its `WellKnown` controller does
// (prefix check, character check, GET of the request path from Redis), run with Debian's php-cli and
// php-redis under `php -S` on a loopback address, answers Pebble 2.4 for a certificate certpilot
// orders through the `redis` store with default settings (no prefix given).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { repoRoot, runCli, tempDir, writeConfig } from '../harness/certpilot.js';
import { fetchBuffered } from '../harness/http.js';
import { startPebble } from '../harness/pebble.js';
import { startRedis } from '../harness/redis.js';
import { requirePebble, requireServer } from '../harness/servers.js';
import { resolveBinary } from '../harness/paths.js';

const HOST = '127.0.0.6';
const NAMES = ['deck.test', 'www.deck.test'];

test('the deck\'s PHP WellKnown controller answers Pebble for a certificate ordered through the redis store with defaults', { timeout: 120_000 }, async (t) => {
  if (!requirePebble(t) || !requireServer(t, 'redis-server') || !requireServer(t, 'php', 'Debian packages php-cli and php-redis')) return;
  const modules = await new Promise<string>((resolve) => {
    const c = spawn(resolveBinary('php') as string, ['-m'], { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    c.stdout.on('data', (d: Buffer) => (out += d.toString()));
    c.on('close', () => resolve(out));
  });
  if (!/^redis$/m.test(modules)) {
    requireServer(t, '/nonexistent/php-redis', 'Debian package php-redis (the php redis extension is not loaded)');
    return;
  }
  const pebble = await startPebble({ noSleep: true, authzReuse: 0 });
  t.after(() => pebble.stop());
  const redis = await startRedis();
  t.after(() => redis.stop());
  for (const name of NAMES) {
    const res = await fetchBuffered(`${pebble.challtestsrvUrl}/add-a`, { method: 'POST', body: JSON.stringify({ host: `${name}.`, addresses: [HOST] }) });
    assert.equal(res.status, 200);
  }
  const router = join(repoRoot, 'test', 'fixtures', 'deck', 'wellknown.php');
  const php = spawn(resolveBinary('php') as string, ['-S', `${HOST}:${pebble.httpPort}`, router], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', DECK_REDIS_HOST: redis.host, DECK_REDIS_PORT: String(redis.port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let phpLog = '';
  php.stdout.on('data', (d: Buffer) => (phpLog += d.toString()));
  php.stderr.on('data', (d: Buffer) => (phpLog += d.toString()));
  t.after(() => {
    php.kill('SIGTERM');
  });
  for (let i = 0; ; i++) {
    const probe = await fetchBuffered(`http://${HOST}:${pebble.httpPort}/.well-known/acme-challenge/none`, { timeoutMs: 500 }).catch(() => undefined);
    if (probe?.status === 404) break;
    assert.ok(i < 100, `php -S did not answer: ${phpLog}`);
    await new Promise((r) => setTimeout(r, 100));
  }

  const dir = await tempDir();
  const config = await writeConfig(dir, {
    directoryUrl: pebble.directoryUrl,
    httpPort: pebble.httpPort,
    solvers: { pods: { type: 'redis', url: redis.url } },
    certificates: [{ name: 'deck', domains: NAMES, solver: 'pods' }],
  });
  const run = await runCli(['issue', '--config', config]);
  assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}\n${phpLog}\n${await pebble.logs()}`);
  const san = new X509Certificate(await readFile(join(dir, 'state', 'live', 'deck', 'cert.pem'), 'utf8')).subjectAltName ?? '';
  for (const name of NAMES) assert.ok(san.includes(`DNS:${name}`), san);
  assert.match(phpLog, /served \.well-known\/acme-challenge\/[A-Za-z0-9_-]{43}\n/, 'Pebble asked the PHP controller, which found the token under the default key');
  assert.equal(await redis.command('KEYS', '*'), '', 'no token left in Redis');
});
