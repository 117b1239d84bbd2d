import assert from 'node:assert/strict';
import { test } from 'node:test';
import Fastify from 'fastify';
import { FakeClock } from '../../../testing/fake-clock.js';
import { rawGet } from '../../../testing/raw-http.js';
import { MemoryTokenStore } from '../memory-token-store.js';
import { CHALLENGE_PATH_PREFIX, NOT_FOUND_BODY, createChallengeResponder } from '../responder.js';
import { fastifyChallengeResponder } from './fastify.js';

const TOKEN = 'LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0';
const KEY_AUTHORIZATION = `${TOKEN}.9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI`;

void test('Fastify: one register line answers the challenge exactly; other routes stay the app\'s', async () => {
  const store = new MemoryTokenStore({ clock: new FakeClock() });
  await store.put(TOKEN, KEY_AUTHORIZATION, 600);
  const app = Fastify();
  await app.register(fastifyChallengeResponder(createChallengeResponder({ store })));
  app.get('/', async () => 'app');
  await app.listen({ host: '127.0.0.1', port: 0 });
  const port = (app.server.address() as { port: number }).port;
  try {
    const hit = await rawGet({ port }, `${CHALLENGE_PATH_PREFIX}${TOKEN}`);
    assert.equal(hit.status, 200);
    assert.equal(hit.body, KEY_AUTHORIZATION);
    assert.equal(hit.headers['content-type'], 'text/plain');
    assert.equal(hit.headers['cache-control'], 'no-store');
    assert.equal(hit.headers['content-length'], String(KEY_AUTHORIZATION.length));
    const head = await rawGet({ port }, `${CHALLENGE_PATH_PREFIX}${TOKEN}`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.body, '');
    assert.equal(head.headers['content-length'], String(KEY_AUTHORIZATION.length));
    for (const path of [`${CHALLENGE_PATH_PREFIX}${'Q'.repeat(43)}`, `${CHALLENGE_PATH_PREFIX}%2e%2e/${TOKEN}`, `${CHALLENGE_PATH_PREFIX}${TOKEN}?x=1`, `${CHALLENGE_PATH_PREFIX}${TOKEN}/x`]) {
      const miss = await rawGet({ port }, path);
      assert.equal(miss.status, 404, path);
      assert.equal(miss.body, NOT_FOUND_BODY, path);
    }
    const post = await rawGet({ port }, `${CHALLENGE_PATH_PREFIX}${TOKEN}`, { method: 'POST' });
    assert.equal(post.status, 405);
    assert.equal(post.headers.allow, 'GET, HEAD');
    assert.equal((await rawGet({ port }, '/')).body, 'app');
  } finally {
    await app.close();
  }
});
