import assert from 'node:assert/strict';
import { request, Agent } from 'node:https';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { makeTestBundle } from './testing/certificate-fixtures.js';
import { insecureTlsEnvironment, strictAgentOptions, strictTls } from './strict-tls.js';

void test('insecureTlsEnvironment names NODE_TLS_REJECT_UNAUTHORIZED when it tries to turn verification off', () => {
  assert.equal(insecureTlsEnvironment({}), undefined);
  assert.equal(insecureTlsEnvironment({ NODE_TLS_REJECT_UNAUTHORIZED: '1' }), undefined);
  const w = insecureTlsEnvironment({ NODE_TLS_REJECT_UNAUTHORIZED: '0' });
  assert.deepEqual(w?.variables, ['NODE_TLS_REJECT_UNAUTHORIZED']);
  assert.match(w?.message ?? '', /^NODE_TLS_REJECT_UNAUTHORIZED=0 is set to turn TLS certificate verification off; certpilot ignores it/);
  assert.deepEqual(strictTls({ servername: 'x' }), { servername: 'x', rejectUnauthorized: true });
  assert.equal(strictTls({ rejectUnauthorized: false } as { rejectUnauthorized?: boolean }).rejectUnauthorized, true, 'a caller cannot turn it off either');
});

void test('an agent from strictAgentOptions refuses an untrusted server even with NODE_TLS_REJECT_UNAUTHORIZED=0 in this process', async () => {
  const bundle = makeTestBundle({ domains: ['localhost'] });
  const server = createServer({ cert: bundle.certPem, key: bundle.privateKeyPem }, (_req, res) => res.end('ok'));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const before = process.env.NODE_TLS_REJECT_UNAUTHORIZED;
  process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0';
  const get = (agent: Agent): Promise<string> =>
    new Promise((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: (server.address() as AddressInfo).port, servername: 'localhost', agent }, (res) => {
        res.resume();
        res.on('end', () => resolve('answered'));
      });
      req.on('error', reject);
      req.end();
    });
  try {
    // The control: a plain agent obeys the variable and talks to the untrusted server.
    assert.equal(await get(new Agent()), 'answered');
    await assert.rejects(get(new Agent(strictAgentOptions())), /unable to verify|self[- ]signed|local issuer/i);
  } finally {
    if (before === undefined) delete process.env.NODE_TLS_REJECT_UNAUTHORIZED;
    else process.env.NODE_TLS_REJECT_UNAUTHORIZED = before;
    server.close();
  }
});

/** An HTTPS server with a certificate nobody trusts, counting requests and TLS sessions that completed. */
async function untrustedServer(): Promise<{ port: number; requests: () => number; sessions: () => number; close: () => void }> {
  const bundle = makeTestBundle({ domains: ['localhost'] });
  let requests = 0;
  let sessions = 0;
  const server = createServer({ cert: bundle.certPem, key: bundle.privateKeyPem }, (_req, res) => {
    requests++;
    res.end('{}');
  });
  server.on('secureConnection', () => sessions++);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { port: (server.address() as AddressInfo).port, requests: () => requests, sessions: () => sessions, close: () => server.close() };
}

async function withInsecureEnv(fn: () => Promise<void>): Promise<void> {
  const before = process.env.NODE_TLS_REJECT_UNAUTHORIZED;
  process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0';
  try {
    await fn();
  } finally {
    if (before === undefined) delete process.env.NODE_TLS_REJECT_UNAUTHORIZED;
    else process.env.NODE_TLS_REJECT_UNAUTHORIZED = before;
  }
}

void test('Redis (rediss://) and Route 53 (endpoint override) refuse an untrusted server with NODE_TLS_REJECT_UNAUTHORIZED=0', async () => {
  const server = await untrustedServer();
  try {
    await withInsecureEnv(async () => {
      const { RedisTokenStore } = await import('./challenges/http01/token-stores/redis/redis-token-store.js');
      const store = new RedisTokenStore({ url: `rediss://127.0.0.1:${server.port}`, tls: { servername: 'localhost' }, connectTimeoutMs: 2000 });
      try {
        await assert.rejects(store.get('tokenAAAAAAAAAAAAAAAAAAAA'));
      } finally {
        await store.close();
      }
      const { createRoute53DnsProvider } = await import('./challenges/dns01/providers/route53/route53-dns-provider.js');
      const { route53Schema } = await import('./challenges/dns01/providers/route53/schema.js');
      const { silentLogger } = await import('./logger.js');
      const { systemClock } = await import('./clock.js');
      const options = route53Schema().parse({ region: 'us-east-1', endpoint: `https://localhost:${server.port}`, hostedZoneId: 'Z0000000000' });
      process.env.AWS_ACCESS_KEY_ID ??= 'AKIATEST';
      process.env.AWS_SECRET_ACCESS_KEY ??= 'test-secret';
      const provider = createRoute53DnsProvider(options, { name: 'r53', logger: silentLogger, clock: systemClock, baseDir: '/', stateDir: '/' });
      await assert.rejects(provider.addTxtRecord({ fqdn: '_acme-challenge.www.example.test', value: 'v', ttl: 60 }, {}));
    });
    assert.equal(server.sessions(), 0, 'no TLS session with the untrusted server completed');
    assert.equal(server.requests(), 0, 'no request reached it');
  } finally {
    server.close();
  }
});
