import assert from 'node:assert/strict';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { pendingHttp01Challenge } from '../../../../testing/pending-challenge.js';
import { isClosableSolver } from '../../../challenge-solver.js';
import { CertpilotError } from '../../../../errors.js';
import { StandaloneHttp01Solver } from './standalone-solver.js';

const challenge = pendingHttp01Challenge;

function fetchPath(port: number, path: string, keepAlive = false): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers: { host: 'www.example.com', connection: keepAlive ? 'keep-alive' : 'close' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end();
  });
}

void test('StandaloneHttp01Solver listens on first present, serves, cleans up and closes', async () => {
  const solver = new StandaloneHttp01Solver({ port: 0, host: '127.0.0.1' });
  assert.equal(solver.type, 'http-01');
  assert.ok(isClosableSolver(solver));
  assert.equal(await solver.address(), undefined, 'nothing listens before present');
  const a = challenge('tokenAAAAAAAAAAAAAAAAAAAA');
  const b = challenge('tokenBBBBBBBBBBBBBBBBBBBB');
  try {
    await Promise.all([solver.present(a, {}), solver.present(b, {})]);
    const address = await solver.address();
    assert.ok(address !== undefined && address.port > 0);
    assert.equal(address.host, '127.0.0.1');
    const port = address.port;

    assert.deepEqual(await fetchPath(port, `/.well-known/acme-challenge/${a.token}`), { status: 200, body: a.keyAuthorization });
    assert.deepEqual(await fetchPath(port, `/.well-known/acme-challenge/${b.token}`), { status: 200, body: b.keyAuthorization });

    await solver.cleanUp(a, {});
    await solver.cleanUp(a, {});
    assert.equal((await fetchPath(port, `/.well-known/acme-challenge/${a.token}`)).status, 404);
    assert.equal((await fetchPath(port, `/.well-known/acme-challenge/${b.token}`)).status, 200, 'cleanUp removed only its own token');
    assert.equal((await fetchPath(port, '/')).status, 404);

    // A keep-alive connection must not keep close() waiting.
    await fetchPath(port, `/.well-known/acme-challenge/${b.token}`, true);
  } finally {
    await solver.close();
    await solver.close();
  }
  assert.equal(await solver.address(), undefined);
});

void test('StandaloneHttp01Solver frees its port once the last presented challenge is cleaned up (before any deploy)', async () => {
  const solver = new StandaloneHttp01Solver({ port: 0, host: '127.0.0.1' });
  const a = challenge('tokenDDDDDDDDDDDDDDDDDDDD');
  const b = challenge('tokenEEEEEEEEEEEEEEEEEEEE');
  try {
    await Promise.all([solver.present(a, {}), solver.present(b, {})]);
    const port = (await solver.address())?.port ?? 0;
    await solver.cleanUp(a, {});
    assert.equal((await fetchPath(port, `/.well-known/acme-challenge/${b.token}`)).status, 200, 'b is still presented: the listener stays');
    await solver.cleanUp(b, {});
    assert.equal(await solver.address(), undefined, 'no listener after the last cleanUp');
    // What a web server started by a deploy hook does: bind the port the challenge used.
    const web = createServer();
    await new Promise<void>((resolve, reject) => web.once('error', reject).listen(port, '127.0.0.1', resolve));
    await new Promise<void>((resolve) => web.close(() => resolve()));
    // And the next order listens again.
    await solver.present(a, {});
    assert.ok((await solver.address()) !== undefined);
  } finally {
    await solver.close();
  }
});

void test('StandaloneHttp01Solver listens again when presenting after close', async () => {
  const solver = new StandaloneHttp01Solver({ port: 0, host: '127.0.0.1' });
  const ch = challenge('tokenCCCCCCCCCCCCCCCCCCCC');
  try {
    await solver.present(ch, {});
    await solver.close();
    await solver.present(ch, {});
    const address = await solver.address();
    assert.ok(address !== undefined);
    assert.equal((await fetchPath(address.port, `/.well-known/acme-challenge/${ch.token}`)).status, 200);
  } finally {
    await solver.close();
  }
});

void test('StandaloneHttp01Solver by default binds all interfaces', async () => {
  const solver = new StandaloneHttp01Solver({ port: 0 });
  try {
    const address = await solver.listen();
    assert.ok(address.host === '::' || address.host === '0.0.0.0', address.host);
    await solver.present(challenge('tokenDDDDDDDDDDDDDDDDDDDD'), {});
    assert.equal((await fetchPath(address.port, '/.well-known/acme-challenge/tokenDDDDDDDDDDDDDDDDDDDD')).status, 200);
  } finally {
    await solver.close();
  }
});

void test('StandaloneHttp01Solver reports a busy port as ERR_CHALLENGE_LISTEN', async () => {
  const blocker = createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  const { port } = blocker.address() as AddressInfo;
  const solver = new StandaloneHttp01Solver({ port, host: '127.0.0.1' });
  try {
    await assert.rejects(solver.present(challenge('tokenEEEEEEEEEEEEEEEEEEEE'), {}), (err: unknown) => {
      assert.ok(err instanceof CertpilotError);
      assert.equal(err.code, 'ERR_CHALLENGE_LISTEN');
      assert.equal(err.message, `http-01 standalone: cannot listen on 127.0.0.1:${port}: EADDRINUSE`);
      assert.equal(err.retryable, true);
      return true;
    });
    await solver.cleanUp(challenge('tokenEEEEEEEEEEEEEEEEEEEE'), {});
    await solver.close();
  } finally {
    await new Promise<void>((resolve) => blocker.close(() => resolve()));
  }
});

void test('StandaloneHttp01Solver.present rejects with the abort reason without listening', async () => {
  const solver = new StandaloneHttp01Solver({ port: 0, host: '127.0.0.1' });
  const controller = new AbortController();
  controller.abort(new Error('cancelled'));
  await assert.rejects(solver.present(challenge('tokenFFFFFFFFFFFFFFFFFFFF'), { signal: controller.signal }), /cancelled/);
  assert.equal(await solver.address(), undefined);
  await solver.close();
});

test('prepare (before the order): a port in use is ERR_CHALLENGE_LISTEN; a free port is bound, then free again for the web server', async () => {
  const blocker = createServer();
  await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
  const busy = (blocker.address() as AddressInfo).port;
  try {
    const solver = new StandaloneHttp01Solver({ port: busy, host: '127.0.0.1' });
    await assert.rejects(solver.prepare({}), (err: unknown) => err instanceof CertpilotError && err.code === 'ERR_CHALLENGE_LISTEN' && err.message.includes(`127.0.0.1:${busy}`));
  } finally {
    await new Promise<void>((r) => blocker.close(() => r()));
  }
  // The port just freed: prepare binds it and lets it go, so another server can take it at once.
  const solver = new StandaloneHttp01Solver({ port: busy, host: '127.0.0.1' });
  await solver.prepare({});
  assert.equal(await solver.address(), undefined, 'not listening after prepare');
  const other = createServer();
  await new Promise<void>((resolve, reject) => {
    other.once('error', reject);
    other.listen(busy, '127.0.0.1', resolve);
  });
  await new Promise<void>((r) => other.close(() => r()));
});
