// Self-test of test/harness: the servers every integration test relies on really start, answer,
// resolve, count and fail on demand. If this file fails, fix the harness before anything else.
import assert from 'node:assert/strict';
import { createPublicKey, sign } from 'node:crypto';
import { newPrivateKeySync } from '../../src/acme/private-key-sync.js';
import { Resolver } from 'node:dns/promises';
import { existsSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { nonceRejections, startFaultProxy, requestKind } from '../harness/fault-proxy.js';
import { fetchBuffered } from '../harness/http.js';
import type { PebbleVersion } from '../harness/paths.js';
import { resolveBinary } from '../harness/paths.js';
import { startPebble } from '../harness/pebble.js';
import { freePort } from '../harness/ports.js';
import { requirePebble, requireServer } from '../harness/servers.js';

interface Directory {
  newNonce: string;
  newAccount: string;
  newOrder: string;
  renewalInfo?: string;
  meta?: { profiles?: Record<string, string> };
}

const b64u = (data: Buffer | string): string => Buffer.from(data).toString('base64url');

void test('freePort hands out distinct free loopback ports, below the range the kernel assigns on its own', async () => {
  const ports = new Set<number>();
  for (let i = 0; i < 20; i++) ports.add(await freePort({ udp: i % 2 === 0 }));
  assert.equal(ports.size, 20);
  for (const port of ports) assert.ok(port > 0 && port < 65536);
  // An outgoing connection or another test's listen(0) could take a port of that range before the
  // server binds it (certpilot's http-01 listener cannot move to another port).
  const range = existsSync('/proc/sys/net/ipv4/ip_local_port_range') ? readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number) : [];
  const start = range[0];
  if (start !== undefined && start - 20_000 >= 4096) {
    for (const port of ports) assert.ok(port >= 20_000 && port < start, `port ${port} is outside [20000, ${start})`);
  }
});

void test('requireServer fails the test when servers are required and the binary is missing', (t) => {
  assert.equal(resolveBinary('/nonexistent/certpilot-no-such-server'), undefined);
  assert.ok(resolveBinary('sh')?.endsWith('/sh'));
  const saved = process.env.CERTPILOT_REQUIRE_SERVERS;
  process.env.CERTPILOT_REQUIRE_SERVERS = '1';
  try {
    assert.throws(() => requireServer(t, '/nonexistent/certpilot-no-such-server'), /CERTPILOT_REQUIRE_SERVERS/);
    assert.equal(requireServer(t, 'sh'), true);
  } finally {
    if (saved === undefined) delete process.env.CERTPILOT_REQUIRE_SERVERS;
    else process.env.CERTPILOT_REQUIRE_SERVERS = saved;
  }
});

void test('requestKind keys requests by method and first path segment', () => {
  assert.equal(requestKind('POST', '/finalize-order/abc?x=1'), 'POST /finalize-order');
  assert.equal(requestKind('HEAD', '/nonce-plz'), 'HEAD /nonce-plz');
  assert.equal(requestKind('GET', '/'), 'GET /');
});

for (const version of ['2.4', '2.10'] as const satisfies readonly PebbleVersion[]) {
  void test(`Pebble ${version} serves its directory over HTTPS trusted by the test CA only`, { timeout: 60_000 }, async (t) => {
    if (!requirePebble(t, version)) return;
    const pebble = await startPebble({ version, alternateRoots: 1 });
    try {
      assert.equal(pebble.version, version);
      const res = await fetchBuffered(pebble.directoryUrl, { ca: pebble.caCertificates });
      assert.equal(res.status, 200);
      const dir = JSON.parse(res.text) as Directory;
      for (const url of [dir.newNonce, dir.newAccount, dir.newOrder]) {
        assert.ok(url.startsWith(new URL(pebble.directoryUrl).origin), url);
      }
      // Without the test CA the listener is not trusted: the CA list is what makes it work.
      await assert.rejects(fetchBuffered(pebble.directoryUrl), /self[- ]signed|unable to (get|verify)/i);

      const roots = await pebble.rootCertificates();
      const intermediates = await pebble.intermediateCertificates();
      assert.equal(roots.length, 2);
      assert.equal(intermediates.length, 2);
      for (const pem of [...roots, ...intermediates]) assert.match(pem, /^-----BEGIN CERTIFICATE-----/);
      assert.notEqual(roots[0], roots[1]);
    } finally {
      await pebble.stop();
    }
    // stop() really stops it.
    await assert.rejects(fetchBuffered(pebble.directoryUrl, { ca: pebble.caCertificates, timeoutMs: 2000 }), /ECONNREFUSED/);
  });

  void test(`Pebble ${version}'s challtestsrv answers DNS for TXT records set through its API`, { timeout: 60_000 }, async (t) => {
    if (!requirePebble(t, version)) return;
    const pebble = await startPebble({ version, noSleep: true });
    try {
      const resolver = new Resolver({ timeout: 2000, tries: 2 });
      resolver.setServers([`127.0.0.1:${pebble.dnsPort}`]);
      const name = '_acme-challenge.harness.example.test';
      await pebble.setTxt(name, 'first-value');
      assert.deepEqual(await resolver.resolveTxt(name), [['first-value']]);
      await pebble.clearTxt(name);
      await assert.rejects(resolver.resolveTxt(name), (error: NodeJS.ErrnoException) =>
        ['ENODATA', 'ENOTFOUND'].includes(error.code ?? ''));
      // Every name resolves to loopback, which is how Pebble reaches the tests' http-01 responders.
      assert.deepEqual(await resolver.resolve4('anything.example.test'), ['127.0.0.1']);
    } finally {
      await pebble.stop();
    }
  });
}

void test('Pebble 2.10 advertises ARI and the configured profiles', { timeout: 60_000 }, async (t) => {
  if (!requirePebble(t, '2.10')) return;
  const profiles = {
    default: { description: 'harness default', validityPeriod: 7_776_000 },
    shortlived: { description: 'harness six days', validityPeriod: 518_400 },
  };
  const pebble = await startPebble({ version: '2.10', profiles, retryAfter: { authz: 1, order: 2 } });
  try {
    const res = await fetchBuffered(pebble.directoryUrl, { ca: pebble.caCertificates });
    assert.equal(res.status, 200);
    const dir = JSON.parse(res.text) as Directory;
    assert.ok(dir.renewalInfo?.startsWith(new URL(pebble.directoryUrl).origin), `renewalInfo: ${dir.renewalInfo}`);
    assert.deepEqual(dir.meta?.profiles, { default: 'harness default', shortlived: 'harness six days' });
  } finally {
    await pebble.stop();
  }
});

for (const version of ['2.4', '2.10'] as const satisfies readonly PebbleVersion[]) {
  void test(`the fault proxy in front of Pebble ${version} forwards, rewrites URLs, counts and injects faults`, { timeout: 60_000 }, async (t) => {
    if (!requirePebble(t, version)) return;
    const pebble = await startPebble({ version, nonceRejectPercent: 0 });
    const proxy = await startFaultProxy(pebble);
    try {
      const ca = proxy.caCertificates;
      const dirRes = await fetchBuffered(proxy.directoryUrl, { ca });
      assert.equal(dirRes.status, 200);
      const dir = JSON.parse(dirRes.text) as Directory;
      assert.ok(dir.newNonce.startsWith(proxy.origin), dir.newNonce);
      assert.ok(!dirRes.text.includes(new URL(pebble.directoryUrl).origin));

      proxy.failNext({ match: (r) => r.kind === 'HEAD /nonce-plz', status: 503, retryAfter: '7' });
      const failed = await fetchBuffered(dir.newNonce, { method: 'HEAD', ca });
      assert.equal(failed.status, 503);
      assert.equal(failed.headers['retry-after'], '7');
      assert.equal(proxy.pendingFaults(), 0);
      proxy.failNext({ match: (r) => r.method === 'GET', status: 0, resetConnection: true });
      await assert.rejects(fetchBuffered(proxy.directoryUrl, { ca }), /socket hang up|ECONNRESET/);
      const nonceRes = await fetchBuffered(dir.newNonce, { method: 'HEAD', ca });
      assert.equal(nonceRes.status, 200);
      const nonce = nonceRes.headers['replay-nonce'];
      assert.equal(typeof nonce, 'string');

      // A real signed newAccount through the proxy: Pebble checks the JWS url against the proxy's
      // origin (Host passes through) and the Location it returns must point at the proxy.
      const privateKey = newPrivateKeySync({ type: 'ec', namedCurve: 'P-256' });
      const publicKey = createPublicKey(privateKey);
      const jwk = publicKey.export({ format: 'jwk' });
      const protectedHeader = b64u(JSON.stringify({ alg: 'ES256', jwk: { crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y }, nonce, url: dir.newAccount }));
      const payload = b64u(JSON.stringify({ termsOfServiceAgreed: true }));
      const signature = b64u(sign('sha256', Buffer.from(`${protectedHeader}.${payload}`), { key: privateKey, dsaEncoding: 'ieee-p1363' }));
      const account = await fetchBuffered(dir.newAccount, {
        method: 'POST',
        ca,
        headers: { 'Content-Type': 'application/jose+json' },
        body: JSON.stringify({ protected: protectedHeader, payload, signature }),
      });
      assert.equal(account.status, 201, account.text);
      assert.ok(String(account.headers.location).startsWith(`${proxy.origin}/`), String(account.headers.location));

      assert.equal(proxy.requests.total, 5);
      assert.equal(proxy.requests.injected, 2);
      assert.deepEqual(proxy.requests.byPath, { 'GET /dir': 2, 'HEAD /nonce-plz': 2, 'POST /sign-me-up': 1 });
      assert.deepEqual(proxy.requests.log.map((e) => [e.kind, e.status, e.injected]), [
        ['GET /dir', 200, false],
        ['HEAD /nonce-plz', 503, true],
        ['GET /dir', 0, true],
        ['HEAD /nonce-plz', 200, false],
        ['POST /sign-me-up', 201, false],
      ]);
      // The log holds what the CA received and answered: the decoded JWS, the problem type, the nonce handed out.
      const [, injected503, , nonceEntry, post] = proxy.requests.log;
      assert.equal(injected503?.problem, 'urn:ietf:params:acme:error:serverInternal');
      assert.equal(nonceEntry?.replayNonce, nonce);
      assert.equal(post?.jws?.protected.nonce, nonce);
      assert.equal(post?.jws?.protected.url, dir.newAccount);
      assert.deepEqual(post?.jws?.payload, { termsOfServiceAgreed: true });
      assert.equal(typeof post?.replayNonce, 'string');
      // A reused nonce: Pebble's badNonce problem is recorded, and it hands out a fresh nonce with it.
      const replay = await fetchBuffered(dir.newAccount, {
        method: 'POST',
        ca,
        headers: { 'Content-Type': 'application/jose+json' },
        body: JSON.stringify({ protected: protectedHeader, payload, signature }),
      });
      assert.equal(replay.status, 400, replay.text);
      const rejected = proxy.requests.log.at(-1);
      assert.equal(rejected?.problem, 'urn:ietf:params:acme:error:badNonce');
      assert.deepEqual(nonceRejections(proxy.requests.log), { rejected: [rejected], retried: [], signed: 2 });

      proxy.resetCounts();
      assert.equal(proxy.requests.total, 0);
      assert.deepEqual(proxy.requests.byPath, {});
    } finally {
      await proxy.stop();
      await pebble.stop();
    }
  });
}
