import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { rawGet } from '../../../testing/raw-http.js';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { FakeClock } from '../../../testing/fake-clock.js';
import { MemoryTokenStore } from '../memory-token-store.js';
import { CHALLENGE_PATH_PREFIX, NOT_FOUND_BODY, createChallengeResponder } from '../responder.js';
import type { NodeRequestListener } from './node.js';
import { challengeRequestListener } from './node.js';

const TOKEN = 'LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0';
const KEY_AUTHORIZATION = `${TOKEN}.9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI`;

interface Reply {
  status: number;
  headers: IncomingMessage['headers'];
  body: string;
}

async function withServer(listener: NodeRequestListener, fn: (port: number) => Promise<void>): Promise<void> {
  const server = createServer(listener);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    await fn((server.address() as AddressInfo).port);
  } finally {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

function get(port: number, path: string, method = 'GET', host = 'www.example.com'): Promise<Reply> {
  return rawGet({ port }, path, { method, host });
}

async function responder(allowedHosts?: string[]): Promise<ReturnType<typeof createChallengeResponder>> {
  const store = new MemoryTokenStore({ clock: new FakeClock() });
  await store.put(TOKEN, KEY_AUTHORIZATION, 600);
  return createChallengeResponder({ store, allowedHosts });
}

void test('challengeRequestListener serves a stored token over node:http', async () => {
  await withServer(challengeRequestListener(await responder()), async (port) => {
    const res = await get(port, `${CHALLENGE_PATH_PREFIX}${TOKEN}`);
    assert.equal(res.status, 200);
    assert.equal(res.body, KEY_AUTHORIZATION);
    assert.equal(res.headers['content-type'], 'text/plain');
    assert.equal(res.headers['cache-control'], 'no-store');
    assert.equal(res.headers['x-content-type-options'], 'nosniff');
    assert.equal(res.headers['content-length'], String(KEY_AUTHORIZATION.length));

    const head = await get(port, `${CHALLENGE_PATH_PREFIX}${TOKEN}`, 'HEAD');
    assert.equal(head.status, 200);
    assert.equal(head.body, '');

    const post = await get(port, `${CHALLENGE_PATH_PREFIX}${TOKEN}`, 'POST');
    assert.equal(post.status, 405);
    assert.equal(post.headers.allow, 'GET, HEAD');
  });
});

void test('without next, every other path is a constant 404', async () => {
  await withServer(challengeRequestListener(await responder()), async (port) => {
    for (const path of ['/', '/index.html', `${CHALLENGE_PATH_PREFIX}${'Z'.repeat(43)}`, `${CHALLENGE_PATH_PREFIX}..%2f${TOKEN}`, `/${TOKEN}`]) {
      const res = await get(port, path);
      assert.equal(res.status, 404, path);
      assert.equal(res.body, NOT_FOUND_BODY, path);
      assert.equal(res.headers['cache-control'], 'no-store', path);
    }
  });
});

void test('with next, paths outside the prefix go to the application and paths inside never do', async () => {
  const seen: string[] = [];
  const app = (req: IncomingMessage, res: ServerResponse): void => {
    seen.push(req.url ?? '');
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('app');
  };
  await withServer(challengeRequestListener(await responder(), app), async (port) => {
    assert.equal((await get(port, '/index.html')).body, 'app');
    assert.equal((await get(port, '/.well-known/other')).body, 'app');
    assert.equal((await get(port, `${CHALLENGE_PATH_PREFIX}${TOKEN}`)).body, KEY_AUTHORIZATION);
    const unknown = await get(port, `${CHALLENGE_PATH_PREFIX}${'Z'.repeat(43)}`);
    assert.equal(unknown.status, 404);
    assert.equal((await get(port, `${CHALLENGE_PATH_PREFIX}..%2f..%2findex.html`)).status, 404);
    assert.equal((await get(port, '/.well-known/acme-challenge')).status, 404);
    assert.deepEqual(seen, ['/index.html', '/.well-known/other']);
  });
});

void test('the Host header reaches the responder host check', async () => {
  await withServer(challengeRequestListener(await responder(['www.example.com'])), async (port) => {
    assert.equal((await get(port, `${CHALLENGE_PATH_PREFIX}${TOKEN}`, 'GET', 'www.example.com:80')).status, 200);
    assert.equal((await get(port, `${CHALLENGE_PATH_PREFIX}${TOKEN}`, 'GET', 'other.example.com')).status, 404);
  });
});
