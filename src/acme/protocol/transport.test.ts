import { test } from 'node:test';
import type { Socket } from 'node:net';
import assert from 'node:assert/strict';
import { AcmeTransport } from './transport.js';
import { newPrivateKeySync } from '../private-key-sync.js';
import { VERSION } from '../../version.js';
import { RateLimitedError } from './problem.js';
import { FakeClock } from '../../testing/fake-clock.js';
import { problem, startFakeAcmeServer } from './testdata/fake-acme-server.js';

const key = newPrivateKeySync({ type: 'ec', namedCurve: 'P-256' });

async function setup(): Promise<{ server: Awaited<ReturnType<typeof startFakeAcmeServer>>; transport: AcmeTransport; clock: FakeClock }> {
  const server = await startFakeAcmeServer();
  const clock = new FakeClock('2026-01-01T00:00:00Z');
  const transport = new AcmeTransport({ newNonceUrl: () => Promise.resolve(`${server.base}/nonce`), clock });
  return { server, transport, clock };
}

test('badNonce is retried once with the nonce from the error response, then succeeds', async () => {
  const { server, transport } = await setup();
  let calls = 0;
  server.handler = () => (++calls === 1 ? problem('badNonce', 400, 'JWS has an invalid anti-replay nonce') : { status: 201, body: { ok: true } });
  try {
    const res = await transport.post(`${server.base}/new-order`, { a: 1 }, { key, kid: 'k' }, { label: 'newOrder' });
    assert.equal(res.status, 201);
    const posts = server.seen.filter((r) => r.method === 'POST');
    assert.equal(posts.length, 2);
    // The first used the HEAD nonce (nonce1); the error carried nonce2, which the retry used.
    assert.equal(posts[0]!.protected!.nonce, 'nonce1');
    assert.equal(posts[1]!.protected!.nonce, 'nonce2');
    assert.equal(server.seen.filter((r) => r.method === 'HEAD').length, 1);
    assert.deepEqual(transport.stats, { requests: 3, byEndpoint: { newNonce: 1, newOrder: 2 } });
  } finally {
    transport.close();
    await server.close();
  }
});

test('nonces from responses are reused: HEAD newNonce only when the pool is empty', async () => {
  const { server, transport } = await setup();
  server.handler = () => ({ body: {} });
  try {
    for (let i = 0; i < 3; i++) await transport.post(`${server.base}/x`, undefined, { key, kid: 'k' }, { label: 'x' });
    assert.deepEqual(server.seen.map((r) => r.method), ['HEAD', 'POST', 'POST', 'POST']);
    assert.deepEqual(server.seen.filter((r) => r.method === 'POST').map((r) => r.protected!.nonce), ['nonce1', 'nonce2', 'nonce3']);
  } finally {
    transport.close();
    await server.close();
  }
});

test('POST-as-GET sends an empty-string payload and the JOSE content type (RFC 8555 §6.3)', async () => {
  const { server, transport } = await setup();
  server.handler = () => ({ body: { status: 'pending' } });
  try {
    await transport.post(`${server.base}/order/1`, undefined, { key, kid: 'https://acct' }, { label: 'order' });
    const post = server.seen.find((r) => r.method === 'POST')!;
    assert.equal(post.rawPayload, '');
    assert.equal(post.headers['content-type'], 'application/jose+json');
    assert.equal(post.protected!.url, `${server.base}/order/1`);
    assert.equal(post.protected!.kid, 'https://acct');
    assert.equal(post.headers['user-agent'], `certpilot/${VERSION}`);
  } finally {
    transport.close();
    await server.close();
  }
});

test('rateLimited is thrown with retryAfter, not slept through or retried', async () => {
  const { server, transport, clock } = await setup();
  server.handler = () => problem('rateLimited', 429, 'too many new orders', { 'Retry-After': '3600' });
  try {
    await assert.rejects(transport.post(`${server.base}/new-order`, {}, { key, kid: 'k' }, { label: 'newOrder' }), (err: unknown) => {
      assert.ok(err instanceof RateLimitedError);
      assert.equal(err.code, 'ERR_ACME_RATE_LIMITED');
      assert.equal(err.retryAfter.toISOString(), '2026-01-01T01:00:00.000Z');
      assert.equal(err.message, 'acme: newOrder: too many new orders');
      return true;
    });
    assert.deepEqual(clock.sleeps, []);
    assert.equal(server.seen.filter((r) => r.method === 'POST').length, 1);
  } finally {
    transport.close();
    await server.close();
  }
});

test('503 with an HTTP-date Retry-After is a RateLimitedError', async () => {
  const { server, transport } = await setup();
  server.handler = () => ({ status: 503, headers: { 'Retry-After': 'Thu, 01 Jan 2026 02:00:00 GMT' }, body: 'down for maintenance' });
  try {
    await assert.rejects(transport.get(`${server.base}/renewal-info/x`, { label: 'renewalInfo' }), (err: unknown) => {
      assert.ok(err instanceof RateLimitedError);
      assert.equal(err.retryAfter.toISOString(), '2026-01-01T02:00:00.000Z');
      return true;
    });
  } finally {
    transport.close();
    await server.close();
  }
});

test('a server that always says badNonce gives ERR_ACME_BAD_NONCE after a bounded number of tries', async () => {
  const { server, transport } = await setup();
  server.handler = () => problem('badNonce', 400);
  try {
    await assert.rejects(transport.post(`${server.base}/x`, {}, { key, kid: 'k' }, { label: 'x' }), { code: 'ERR_ACME_BAD_NONCE' });
    assert.equal(server.seen.filter((r) => r.method === 'POST').length, 10);
  } finally {
    transport.close();
    await server.close();
  }
});

test('an unreachable server is a retryable ERR_ACME_NETWORK', async () => {
  const { server, transport } = await setup();
  const base = server.base;
  await server.close();
  try {
    await assert.rejects(transport.get(`${base}/dir`, { label: 'directory' }), (err: Error & { code?: string; retryable?: boolean }) => {
      assert.equal(err.code, 'ERR_ACME_NETWORK');
      assert.equal(err.retryable, true);
      assert.match(err.message, /^acme: directory: GET http:\/\/127\.0\.0\.1:\d+\/dir failed: /);
      return true;
    });
  } finally {
    transport.close();
  }
});

test('an aborted signal rejects with its reason', async () => {
  const { server, transport } = await setup();
  server.handler = () => new Promise(() => undefined);
  const controller = new AbortController();
  try {
    const pending = transport.post(`${server.base}/x`, {}, { key, kid: 'k' }, { label: 'x', signal: controller.signal });
    setImmediate(() => controller.abort(new Error('stop')));
    await assert.rejects(pending, { message: 'stop' });
  } finally {
    transport.close();
    await server.close();
  }
});

test('a read that dies on the network (a reset keep-alive connection) is sent once more; a write never is', async () => {
  const { createServer } = await import('node:http');
  const seen: string[] = [];
  let nonce = 0;
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      seen.push(`${req.method} ${req.url}`);
      const resetThis = (req.url === '/order/1' && seen.filter((s) => s.endsWith('/order/1')).length === 1) || req.url === '/new-order';
      if (resetThis) {
        req.socket.destroy();
        return;
      }
      res.writeHead(200, { 'Replay-Nonce': `n${++nonce}`, 'Content-Type': 'application/json' });
      res.end(req.method === 'HEAD' ? undefined : '{"status":"pending"}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  const transport = new AcmeTransport({ newNonceUrl: () => Promise.resolve(`${base}/nonce`), clock: new FakeClock() });
  try {
    const read = await transport.post(`${base}/order/1`, undefined, { key, kid: 'k' }, { label: 'order' });
    assert.equal(read.status, 200);
    assert.equal(seen.filter((s) => s === 'POST /order/1').length, 2, 'the POST-as-GET was retried once');

    await assert.rejects(transport.post(`${base}/new-order`, { identifiers: [] }, { key, kid: 'k' }, { label: 'newOrder' }), { code: 'ERR_ACME_NETWORK' });
    assert.equal(seen.filter((s) => s === 'POST /new-order').length, 1, 'a write is never sent twice');
  } finally {
    transport.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});

/** A TCP listener that accepts connections and never sends a byte (a CA that hangs); counts them. */
async function silentListener(): Promise<{ base: string; connections: () => number; close: () => Promise<void> }> {
  const { createServer } = await import('node:net');
  const held: Socket[] = [];
  const server = createServer((socket) => void held.push(socket));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    base: `https://127.0.0.1:${(server.address() as { port: number }).port}`,
    connections: () => held.length,
    close: async () => {
      for (const s of held) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

test('a CA that accepts connections and never answers: one connection, ERR_ACME_NO_ANSWER, then every client of the run fails at once without connecting', async () => {
  const { CaReachability, NO_ANSWER_HOLD_MS } = await import('./ca-reachability.js');
  const silent = await silentListener();
  const clock = new FakeClock('2026-01-01T00:00:00Z');
  const reachability = new CaReachability({ clock });
  const make = (): AcmeTransport => new AcmeTransport({ newNonceUrl: () => Promise.resolve(`${silent.base}/nonce`), clock, timeoutMs: 150, reachability });
  const [first, second] = [make(), make()];
  try {
    await assert.rejects(first.get(`${silent.base}/dir`, { label: 'directory' }), (err: Error & { code?: string; retryable?: boolean }) => {
      assert.equal(err.code, 'ERR_ACME_NO_ANSWER');
      assert.equal(err.retryable, true);
      assert.match(err.message, /^acme: directory: GET https:\/\/127\.0\.0\.1:\d+\/dir: no answer within 150 ms$/);
      return true;
    });
    assert.equal(silent.connections(), 1, 'a read with no answer on a fresh connection is not sent again');

    // Another client of the run, other endpoints (a read, a signed POST, the nonce HEAD): none connects.
    await assert.rejects(second.get(`${silent.base}/renewal-info/x`, { label: 'renewalInfo' }), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'ERR_ACME_NO_ANSWER');
      assert.match(err.message, /renewalInfo: GET \S+ not sent: https:\/\/127\.0\.0\.1:\d+ accepted a connection and did not answer an earlier request of this run \(directory: GET \S+: no answer within 150 ms, at 2026-01-01T00:00:00\.000Z\)/);
      return true;
    });
    await assert.rejects(second.post(`${silent.base}/new-order`, { identifiers: [] }, { key, kid: 'k' }, { label: 'newOrder' }), { code: 'ERR_ACME_NO_ANSWER' });
    assert.equal(silent.connections(), 1, 'nothing more was sent to the silent CA');
    assert.equal(second.stats.requests, 0, 'the requests not sent are not counted as sent');

    // The hold ends: the CA is asked again (and its silence is found again).
    clock.advance(NO_ANSWER_HOLD_MS);
    await assert.rejects(second.get(`${silent.base}/dir`, { label: 'directory' }), { code: 'ERR_ACME_NO_ANSWER' });
    assert.equal(silent.connections(), 2);
  } finally {
    first.close();
    second.close();
    await silent.close();
  }
});

test('a read whose reused keep-alive connection goes silent is sent once more on a fresh one; an answer clears the hold', async () => {
  const { createServer } = await import('node:http');
  const { CaReachability } = await import('./ca-reachability.js');
  let answering = true;
  let connections = 0;
  const server = createServer((req, res) => {
    req.resume();
    if (!answering) return; // accepted, never answered
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end('{}');
  });
  server.on('connection', () => connections++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  const reachability = new CaReachability({ clock: new FakeClock() });
  const transport = new AcmeTransport({ newNonceUrl: () => Promise.resolve(`${base}/nonce`), clock: new FakeClock(), timeoutMs: 150, reachability });
  try {
    await transport.get(`${base}/dir`, { label: 'directory' });
    assert.equal(connections, 1);
    answering = false;
    await assert.rejects(transport.get(`${base}/dir`, { label: 'directory' }), { code: 'ERR_ACME_NO_ANSWER' });
    assert.equal(connections, 2, 'the silent keep-alive connection was not taken for the CA\'s answer: the read was sent again on a fresh one');
    assert.equal(reachability.isHeld(`${base}/dir`), true);
    reachability.answered(`${base}/order/1`);
    assert.equal(reachability.isHeld(`${base}/dir`), false, 'an answer from the same origin clears the hold');
  } finally {
    transport.close();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});
