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
