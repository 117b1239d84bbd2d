// End to end against real Pebble 2.4 and one real Redis: a three-name certificate whose names
// resolve (challtestsrv /add-a) to 127.0.0.2, .3 and .4, each answered on Pebble's http-01 port by a
// different "pod". First three `certpilot serve` processes of the built CLI, ordered by
// `certpilot issue` through a `redis` solver; then a mixed fleet: the responder in an Express app,
// in a Fastify app, and `certpilot serve` behind real apache2 as reverse proxy. Whichever pod Pebble
// asks answers, and no token is left in Redis afterwards.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import express from 'express';
import Fastify from 'fastify';
import { expressChallengeResponder, fastifyChallengeResponder, createChallengeResponder, RedisTokenStore } from '../../src/challenges/http01/index.js';
import { startApacheProxy } from '../harness/apache.js';
import { runCli, tempDir, writeConfig } from '../harness/certpilot.js';
import { freePort } from '../harness/ports.js';
import { startPebble, type PebbleInstance } from '../harness/pebble.js';
import { startRedis, type RedisServer } from '../harness/redis.js';
import { startServe } from '../harness/serve.js';
import { requirePebble, requireServer } from '../harness/servers.js';

const NAMES = ['www.pods.test', 'a.pods.test', 'b.pods.test'];
const ADDRESSES = ['127.0.0.2', '127.0.0.3', '127.0.0.4'];

/** Points `host` at `address` in challtestsrv (Pebble's DNS). */
async function setup(t: TestContext): Promise<{ pebble: PebbleInstance; redis: RedisServer; dir: string; config: string } | undefined> {
  if (!requirePebble(t) || !requireServer(t, 'redis-server')) return undefined;
  const pebble = await startPebble({ noSleep: true, authzReuse: 0 });
  t.after(() => pebble.stop());
  const redis = await startRedis();
  t.after(() => redis.stop());
  for (const [i, name] of NAMES.entries()) await pebble.setA(name, ADDRESSES[i] as string);
  const dir = await tempDir();
  const config = await writeConfig(dir, {
    directoryUrl: pebble.directoryUrl,
    httpPort: pebble.httpPort,
    // Self-check through every pod before the CA is told.
    solvers: { pods: { type: 'redis', url: redis.url, selfCheck: { urls: ADDRESSES.map((a) => `http://${a}:${pebble.httpPort}`) } } },
    certificates: [{ name: 'www', domains: NAMES, solver: 'pods' }],
  });
  return { pebble, redis, dir, config };
}

async function assertIssued(dir: string, redis: RedisServer): Promise<void> {
  const pem = await readFile(join(dir, 'state', 'live', 'www', 'cert.pem'), 'utf8');
  const san = new X509Certificate(pem).subjectAltName ?? '';
  for (const name of NAMES) assert.ok(san.includes(`DNS:${name}`), `${name} in ${san}`);
  assert.equal(await redis.command('KEYS', '.well-known/acme-challenge/*'), '', 'no token left in Redis');
}

describe('http-01 across many pods, Pebble 2.4 + one Redis', { timeout: 180_000 }, () => {
  test('three `certpilot serve` pods on three addresses, ordered by `certpilot issue` through a redis solver', async (t) => {
    const s = await setup(t);
    if (!s) return;
    const pods = await Promise.all(
      ADDRESSES.map((address) => startServe(['--config', s.config, '--listen', `${address}:${s.pebble.httpPort}`, '--solver', 'pods', '--allow-host', '*.pods.test'])),
    );
    t.after(() => Promise.all(pods.map((p) => p.stop())));
    const run = await runCli(['issue', '--config', s.config]);
    assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}\n${await s.pebble.logs()}`);
    await assertIssued(s.dir, s.redis);
    for (const [i, pod] of pods.entries()) {
      // Each name resolves to one pod only: every pod must have answered its own name.
      assert.match(pod.logs(), /"http-01 responder: answered"/, `pod ${ADDRESSES[i]} answered Pebble`);
    }
    for (const pod of pods) assert.equal(await pod.stop(), 0);
  });

  test('a mixed fleet: Express app, Fastify app, and `certpilot serve` behind real apache2', async (t) => {
    const s = await setup(t);
    if (!s || !requireServer(t, 'apache2', 'Debian package apache2')) return;
    const store = new RedisTokenStore({ url: s.redis.url });
    t.after(() => store.close());
    const responder = createChallengeResponder({ store });
    const hits: string[] = [];

    const app = express();
    app.use((req, _res, next) => {
      if (req.originalUrl.startsWith('/.well-known/')) hits.push('express');
      next();
    });
    app.use(expressChallengeResponder(responder));
    app.get('/', (_req, res) => res.send('app'));
    const expressServer: Server = app.listen(s.pebble.httpPort, ADDRESSES[0] as string);
    await new Promise((r) => expressServer.once('listening', r));
    t.after(() => new Promise((r) => expressServer.close(r)));

    const fastify = Fastify();
    fastify.addHook('onRequest', async (req) => {
      if (req.url.startsWith('/.well-known/')) hits.push('fastify');
    });
    await fastify.register(fastifyChallengeResponder(responder));
    await fastify.listen({ host: ADDRESSES[1] as string, port: s.pebble.httpPort });
    t.after(() => fastify.close());

    const backendPort = await freePort();
    const serve = await startServe(['--config', s.config, '--listen', `127.0.0.5:${backendPort}`, '--solver', 'pods']);
    t.after(() => serve.stop());
    const apache = await startApacheProxy({ host: ADDRESSES[2] as string, port: s.pebble.httpPort, backend: `http://127.0.0.5:${backendPort}` });
    t.after(() => apache.stop());

    const run = await runCli(['issue', '--config', s.config]);
    assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}\n${await s.pebble.logs()}\n${await apache.logs()}`);
    await assertIssued(s.dir, s.redis);
    assert.ok(hits.includes('express') && hits.includes('fastify'), `both apps answered: ${hits.join(',')}`);
    assert.match(serve.logs(), /"http-01 responder: answered"/, 'serve behind apache answered');
    assert.match(serve.logs(), /"path":"\/\.well-known\/acme-challenge\//);
  });
});
