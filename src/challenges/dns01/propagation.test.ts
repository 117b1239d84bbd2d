// The lookups before a dns-01 record is written: a resolver that answers REFUSED (it holds no zone
// of the name and does not recurse for us: a tryout's rfc2136 server asked for a zone it lacks) is
// named with that meaning and a hint about `resolvers`, not the network hint of a dead server.
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { systemClock } from '../../clock.js';
import { CertpilotError } from '../../errors.js';
import { PropagationChecker } from './propagation.js';

void test('a resolver answering REFUSED: ERR_DNS_NETWORK saying it holds no zone of the name, with a hint to point resolvers elsewhere', async () => {
  const udp = createSocket('udp4');
  let asked = 0;
  udp.on('message', (msg, remote) => {
    asked++;
    const answer = Buffer.from(msg);
    answer.writeUInt16BE(0x8005, 2); // QR, RCODE 5 (REFUSED); the question is kept
    udp.send(answer, remote.port, remote.address);
  });
  await new Promise<void>((r) => udp.bind(0, '127.0.0.1', r));
  const port = (udp.address() as AddressInfo).port;
  try {
    const checker = new PropagationChecker({ resolvers: [{ host: '127.0.0.1', port }], timeoutMs: 1000, queryTimeoutMs: 1000, clock: systemClock });
    const err = await checker.findZone('_acme-challenge.api.example.net').then(
      () => assert.fail('a zone was found'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof CertpilotError);
    assert.equal(err.code, 'ERR_DNS_NETWORK');
    assert.match(err.message, new RegExp(`127\\.0\\.0\\.1:${port} answered REFUSED for _acme-challenge\\.api\\.example\\.net\\. SOA: it holds no zone of that name and does not look it up for us`));
    assert.match(err.hint, /Point `resolvers` at a resolver that answers for _acme-challenge\.api\.example\.net/);
    assert.ok(asked >= 1);
  } finally {
    udp.close();
  }
});
