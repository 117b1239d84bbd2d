// The webhook notifier's TLS is strict: a receiver whose certificate the system does not trust is
// refused (nothing is sent), and `caFile` is the one way to trust a private CA. The receiver is an
// HTTPS server of the test's own, with the test PKI's localhost certificate.
import assert from 'node:assert/strict';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { silentLogger } from '../../src/logger.js';
import { eventFromResult } from '../../src/notify/lifecycle-event.js';
import { WebhookNotifier } from '../../src/notify/webhook/webhook-notifier.js';
import { FakeClock } from '../../src/testing/fake-clock.js';
import { readTestPki } from '../harness/paths.js';

test('webhook over https: an untrusted receiver is refused, caFile trusts a private CA', { timeout: 30_000 }, async (t) => {
  const pki = readTestPki();
  const bodies: string[] = [];
  const server = createServer({ cert: pki.certPem, key: pki.keyPem }, (req, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (c: string) => (body += c));
    req.on('end', () => {
      bodies.push(body);
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => server.close());
  const url = `https://localhost:${(server.address() as AddressInfo).port}/hook`;
  const event = eventFromResult({ name: 'site', outcome: 'failed', message: 'x' }, { domains: ['site.example'], timing: { startedAt: new Date(0), finishedAt: new Date(1) } });
  assert.ok(event);
  const make = (caFile?: string): WebhookNotifier =>
    new WebhookNotifier({ name: 'hooks', url, ...(caFile ? { caFile } : {}), timeoutMs: 5000, retries: 1, retryDelayMs: 10, clock: new FakeClock(), logger: silentLogger });

  await assert.rejects(make().notify(event), (err: Error & { code?: string }) => err.code === 'ERR_NOTIFY_FAILED' && /certificate|self.signed|issuer/i.test(err.message));
  assert.equal(bodies.length, 0, 'nothing sent to an untrusted receiver');
  await make(pki.caFile).notify(event);
  assert.equal(bodies.length, 1);
});
