// The main job, end to end, through the built CLI against Pebble 2.4 in strict mode with its
// defaults ON (random validation delays, authorization reuse) and nonces rejected at 20% instead of
// Pebble's 5%, so that over the first run's ~60 signed requests some certainly are (P(none) < 1e-5;
// at 5% it would be 4%): the proxy counts them and checks each was retried. Every issuance must succeed.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { runCli, startCliScenario } from '../harness/certpilot.js';
import { nonceRejections } from '../harness/fault-proxy.js';
import { requirePebble } from '../harness/servers.js';

const CERTS = [
  { name: 'www', domains: ['www.shop.test', 'shop.test', 'api.shop.test'] },
  { name: 'chat', domains: ['chat.shop.test'], keyType: 'ec-p384' },
  { name: 'legacy', domains: ['legacy.shop.test'], keyType: 'rsa-2048' },
];

test('renew issues several certificates in one run on Pebble with defaults on, then keeps them live through a failed renewal', { timeout: 240_000 }, async (t) => {
  if (!requirePebble(t, '2.4')) return;
  // Through a proxy that can later play the CA's outage (stopping Pebble would free its port for
  // another suite's Pebble running in parallel).
  const { pebble, proxy, config, stateDir: state } = await startCliScenario(t, { pebble: { version: '2.4', strict: true, nonceRejectPercent: 20 }, certificates: CERTS });

  const first = await runCli(['renew', '--config', config]);
  assert.equal(first.code, 0, `renew failed:\n${first.stdout}\n${first.stderr}\n${await pebble.logs()}`);

  const [root] = await pebble.rootCertificates();
  const [intermediate] = await pebble.intermediateCertificates();
  assert.ok(root && intermediate);
  const issuerCert = new X509Certificate(intermediate);
  const serials = new Map<string, string>();
  for (const spec of CERTS) {
    const live = join(state, 'live', spec.name);
    const cert = new X509Certificate(readFileSync(join(live, 'cert.pem')));
    const names = (cert.subjectAltName ?? '').split(', ').map((s) => s.replace(/^DNS:/, ''));
    assert.deepEqual(names.sort(), [...spec.domains].sort(), `${spec.name}: SANs are the configured names`);
    assert.ok(cert.verify(issuerCert.publicKey), `${spec.name}: signed by Pebble's intermediate`);
    const fullchain = readFileSync(join(live, 'fullchain.pem'), 'utf8');
    assert.equal(fullchain, readFileSync(join(live, 'cert.pem'), 'utf8') + readFileSync(join(live, 'chain.pem'), 'utf8'));
    const key = readFileSync(join(live, 'privkey.pem'), 'utf8');
    assert.ok(cert.checkPrivateKey((await import('node:crypto')).createPrivateKey(key)), `${spec.name}: privkey matches cert`);
    assert.equal(statSync(join(live, 'privkey.pem')).mode & 0o777, 0o600, `${spec.name}: private key is 0600`);
    const expectedAlg = spec.keyType === 'rsa-2048' ? 'rsa' : 'ec';
    assert.equal(cert.publicKey.asymmetricKeyType, expectedAlg);
    serials.set(spec.name, cert.serialNumber);
  }

  const status = await runCli(['status', '--json', '--config', config]);
  assert.equal(status.code, 0, status.stderr);
  const rows = JSON.parse(status.stdout) as { name: string; due: boolean; notAfter: string; lastResult?: { result: string } }[];
  assert.deepEqual(rows.map((r) => r.name).sort(), CERTS.map((c) => c.name).sort());
  for (const row of rows) {
    assert.equal(row.due, false, `${row.name} is not due right after issuance`);
    assert.equal(row.lastResult?.result, 'success');
  }

  // Nonce rejections really happened, at the CA, and each was retried with the fresh nonce.
  const nonces = nonceRejections(proxy.requests.log);
  assert.ok(nonces.rejected.length > 0, `Pebble rejected none of ${nonces.signed} nonces`);
  assert.deepEqual(
    nonces.rejected.filter((e) => !nonces.retried.includes(e)).map((e) => e.jws?.protected.url),
    [],
    'each badNonce was retried at the same URL with the nonce the rejection carried (RFC 8555 §6.5)',
  );
  const again = await runCli(['renew', '--config', config]);
  assert.equal(again.code, 0, again.stderr);
  assert.equal(again.stdout.match(/^not-due /gm)?.length, CERTS.length, again.stdout);

  // The CA goes away: a forced renewal fails, and the old certificates stay live.
  proxy.failNext({ match: () => true, status: 0, resetConnection: true, count: 1_000 });
  const failed = await runCli(['renew', '--force', '--name', 'www', '--config', config]);
  assert.equal(failed.code, 1, failed.stdout + failed.stderr);
  assert.match(failed.stdout, /ERR_ACME_NETWORK/);
  const after = new X509Certificate(readFileSync(join(state, 'live', 'www', 'cert.pem')));
  assert.equal(after.serialNumber, serials.get('www'), 'the previous certificate is still live');
  const failedStatus = JSON.parse((await runCli(['status', '--json', '--config', config])).stdout) as { name: string; lastResult?: { result: string; code?: string } }[];
  assert.deepEqual(failedStatus.find((r) => r.name === 'www')?.lastResult?.result, 'failure');
});
