import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import express from 'express';
import { FakeClock } from '../../../testing/fake-clock.js';
import { rawGet } from '../../../testing/raw-http.js';
import { MemoryTokenStore } from '../memory-token-store.js';
import { CHALLENGE_PATH_PREFIX, NOT_FOUND_BODY, createChallengeResponder } from '../responder.js';
import { expressChallengeResponder } from './express.js';

const TOKEN = 'LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0';
const KEY_AUTHORIZATION = `${TOKEN}.9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI`;

void test('Express: one app.use line answers the challenge; the app keeps every other path; nothing of Express is added', async () => {
  const store = new MemoryTokenStore({ clock: new FakeClock() });
  await store.put(TOKEN, KEY_AUTHORIZATION, 600);
  const app = express();
  app.disable('x-powered-by');
  app.use(expressChallengeResponder(createChallengeResponder({ store })));
  const seen: string[] = [];
  app.use((req, res) => {
    seen.push(req.originalUrl);
    res.type('text/html').send('<p>app</p>');
  });
  const server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const port = (server.address() as AddressInfo).port;
  try {
    const hit = await rawGet({ port }, `${CHALLENGE_PATH_PREFIX}${TOKEN}`);
    assert.equal(hit.status, 200);
    assert.equal(hit.body, KEY_AUTHORIZATION);
    assert.equal(hit.headers['content-type'], 'text/plain');
    assert.equal(hit.headers['cache-control'], 'no-store');
    assert.equal(hit.headers.etag, undefined, 'Express added no ETag');
    const head = await rawGet({ port }, `${CHALLENGE_PATH_PREFIX}${TOKEN}`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.body, '');
    for (const path of [`${CHALLENGE_PATH_PREFIX}${'Q'.repeat(43)}`, `${CHALLENGE_PATH_PREFIX}..%2f..%2fapp`, `${CHALLENGE_PATH_PREFIX}${TOKEN}/`, '/.well-known/acme-challenge']) {
      const miss = await rawGet({ port }, path);
      assert.equal(miss.status, 404, path);
      assert.equal(miss.body, NOT_FOUND_BODY, path);
    }
    assert.equal((await rawGet({ port }, `${CHALLENGE_PATH_PREFIX}${TOKEN}`, { method: 'POST' })).status, 405);
    assert.equal((await rawGet({ port }, '/index.html')).body, '<p>app</p>');
    assert.deepEqual(seen, ['/index.html'], 'no challenge path reached the app');
  } finally {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
});

void test('Express: mounted under a path it still sees the original URL, so it never widens', async () => {
  const store = new MemoryTokenStore({ clock: new FakeClock() });
  await store.put(TOKEN, KEY_AUTHORIZATION, 600);
  const app = express();
  app.use('/.well-known', expressChallengeResponder(createChallengeResponder({ store })));
  app.use((_req, res) => res.status(418).send('app'));
  const server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const port = (server.address() as AddressInfo).port;
  try {
    assert.equal((await rawGet({ port }, `${CHALLENGE_PATH_PREFIX}${TOKEN}`)).body, KEY_AUTHORIZATION);
    assert.equal((await rawGet({ port }, `/.well-known/other/${TOKEN}`)).status, 418);
  } finally {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
});

void test('Express: an absolute-form request target under the challenge path is answered by the adapter, never passed to the app', async () => {
  const store = new MemoryTokenStore({ clock: new FakeClock() });
  await store.put(TOKEN, KEY_AUTHORIZATION, 600);
  const app = express();
  const seen: string[] = [];
  app.use(expressChallengeResponder(createChallengeResponder({ store })));
  app.use((req, res) => {
    seen.push(req.path);
    res.type('text/plain').send(`app saw ${req.path}`);
  });
  const server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const port = (server.address() as AddressInfo).port;
  try {
    for (const target of [`http://www.example.test${CHALLENGE_PATH_PREFIX}${TOKEN}`, `HTTP://evil.test${CHALLENGE_PATH_PREFIX}x`, `http://a.test/.well-known/acme-challenge%2f${TOKEN}`, 'http://a.test/%E0%A4%A']) {
      const r = await rawGet({ port }, target);
      assert.equal(r.status, 400, target);
      assert.match(r.body, /origin-form/, target);
    }
    assert.deepEqual(seen, [], 'no absolute-form challenge target reached the app');
    // Other absolute-form targets are the app's business, as before.
    assert.equal((await rawGet({ port }, 'http://a.test/index.html')).body, 'app saw /index.html');
  } finally {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
});
