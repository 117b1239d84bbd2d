import assert from 'node:assert/strict';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { FakeClock } from '../../testing/fake-clock.js';
import { pendingHttp01Challenge } from '../../testing/pending-challenge.js';
import { Http01SelfCheck } from './self-check.js';
import { Http01Solver } from './http01-solver.js';
import { MemoryTokenStore } from './memory-token-store.js';
import { isChallengeWaiter } from '../challenge-solver.js';

const challenge = pendingHttp01Challenge('tokenSELFCHECKAAAAAAAAAAAAAAAAAAA');

async function server(answer: (req: IncomingMessage) => [number, string]): Promise<{ url: string; seen: IncomingMessage[]; close(): Promise<void> }> {
  const seen: IncomingMessage[] = [];
  const s = createServer((req, res) => {
    seen.push(req);
    const [status, body] = answer(req);
    res.writeHead(status, { 'content-type': 'text/plain' });
    res.end(body);
  });
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(s.address() as AddressInfo).port}`,
    seen,
    close: () => new Promise((r) => s.close(() => r())),
  };
}

void test('passes when every URL answers the key authorization; sends the path and Host the CA would', async () => {
  const a = await server(() => [200, challenge.keyAuthorization]);
  const b = await server(() => [200, challenge.keyAuthorization]);
  try {
    await new Http01SelfCheck({ urls: [a.url, `${b.url}/`], clock: new FakeClock() }).wait(challenge);
    for (const s of [a, b]) {
      assert.equal(s.seen[0]?.url, `/.well-known/acme-challenge/${challenge.token}`);
      assert.equal(s.seen[0]?.headers.host, 'www.example.com');
    }
  } finally {
    await a.close();
    await b.close();
  }
});

void test('waits for a URL that answers late, then passes', async () => {
  let calls = 0;
  const late = await server(() => (++calls < 3 ? [404, 'Not Found\n'] : [200, challenge.keyAuthorization]));
  const clock = new FakeClock();
  try {
    await new Http01SelfCheck({ urls: [late.url], clock }).wait(challenge);
    assert.equal(calls, 3);
    assert.deepEqual(clock.sleeps, [1000, 1000]);
  } finally {
    await late.close();
  }
});

void test('a mismatch after the timeout is ERR_CHALLENGE_SELF_CHECK naming the URL and what it returned', async () => {
  const good = await server(() => [200, challenge.keyAuthorization]);
  const wrong = await server(() => [200, '<html>default vhost</html>']);
  try {
    const err = await new Http01SelfCheck({ urls: [good.url, wrong.url], timeoutSeconds: 3, clock: new FakeClock() })
      .wait(challenge)
      .then(() => undefined, (e: unknown) => e as { code: string; message: string });
    assert.equal(err?.code, 'ERR_CHALLENGE_SELF_CHECK');
    assert.match(err?.message ?? '', new RegExp(`${wrong.url}/\\.well-known/acme-challenge/${challenge.token} does not serve the token for www\\.example\\.com: it answered HTTP 200 "<html>default vhost</html>"`));
    assert.equal(good.seen.length, 1, 'a URL that passed is not asked again');
  } finally {
    await good.close();
    await wrong.close();
  }
});

void test('an unreachable URL names the network error; {name} is replaced by the identifier', async () => {
  const err = await new Http01SelfCheck({ urls: ['http://127.0.0.1:9/{name}'], timeoutSeconds: 1, clock: new FakeClock() })
    .wait(challenge)
    .then(() => undefined, (e: unknown) => e as { message: string });
  assert.match(err?.message ?? '', /http:\/\/127\.0\.0\.1:9\/www\.example\.com\/\.well-known\/acme-challenge\/\S+ does not serve the token for www\.example\.com: nothing answered \(ECONNREFUSED\); the CA was not asked to validate/);
});

void test('Http01Solver is a waiter only when a self-check is given', () => {
  const store = new MemoryTokenStore();
  assert.equal(isChallengeWaiter(new Http01Solver({ store })), false);
  assert.equal(isChallengeWaiter(new Http01Solver({ store, waiter: new Http01SelfCheck({ urls: ['http://x'] }) })), true);
});
