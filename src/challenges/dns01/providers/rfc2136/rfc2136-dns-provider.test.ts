// Unit tests of the hand-written DNS UPDATE + TSIG code against exchanges recorded from BIND 9.18
// (fixtures/bind-9.18-exchanges.json): our request bytes are exactly what BIND accepted, answers
// verify (and a changed byte or key does not), error answers map to the cause; and a replayed
// NOERROR answer from a fake server is refused because its MAC belongs to another request.
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { CertpilotError } from '../../../../errors.js';
import { systemClock } from '../../../../clock.js';
import { parseSecretFile, Rfc2136DnsProvider } from './rfc2136-dns-provider.js';
import { encodeUpdate, parseUpdateAnswer, signMessage, verifyAnswer, type TsigKey } from './tsig.js';

interface Recorded {
  timeSigned: number;
  request: string;
  requestMac: string;
  answer: string;
}
const fixture = JSON.parse(readFileSync(new URL('../../../../../../src/challenges/dns01/providers/rfc2136/fixtures/bind-9.18-exchanges.json', import.meta.url), 'utf8')) as {
  key: { name: string; algorithm: 'hmac-sha256'; secret: string };
  exchanges: Record<'add' | 'delete' | 'refused' | 'badsig' | 'badkey', Recorded>;
};
const key: TsigKey = { name: fixture.key.name, algorithm: fixture.key.algorithm, secret: Buffer.from(fixture.key.secret, 'base64') };
const hex = (s: string): Buffer => Buffer.from(s, 'hex');

void test('the UPDATE we sign is byte for byte the one BIND accepted (add one RR, delete one RR by value)', () => {
  const add = fixture.exchanges.add;
  const signedAdd = signMessage(encodeUpdate(0x1234, 'fixture.test.', { action: 'add', name: '_acme-challenge.fixture.test.', value: 'fixture-value', ttl: 60 }), key, add.timeSigned);
  assert.equal(signedAdd.message.toString('hex'), add.request);
  const del = fixture.exchanges.delete;
  const signedDel = signMessage(encodeUpdate(0x1234, 'fixture.test.', { action: 'delete', name: '_acme-challenge.fixture.test.', value: 'fixture-value', ttl: 0 }), key, del.timeSigned);
  assert.equal(signedDel.message.toString('hex'), del.request);
  // RFC 2136 §2.5.4: the delete carries CLASS NONE (254) and TTL 0.
  assert.ok(signedDel.message.includes(Buffer.from([0x00, 0x10, 0x00, 0xfe, 0, 0, 0, 0])));
});

void test("BIND's signed answers verify; a changed byte, another request MAC or another key do not", () => {
  for (const label of ['add', 'delete'] as const) {
    const ex = fixture.exchanges[label];
    const answer = hex(ex.answer);
    const parsed = parseUpdateAnswer(answer);
    assert.equal(parsed.rcode, 0);
    assert.equal(parsed.tsig?.error, 0);
    assert.equal(verifyAnswer(answer, parsed, key, hex(ex.requestMac)), true, label);
    const tampered = Buffer.from(answer);
    tampered[3] = (tampered[3] as number) ^ 0x01; // a header flag
    assert.equal(verifyAnswer(tampered, parseUpdateAnswer(tampered), key, hex(ex.requestMac)), false);
    assert.equal(verifyAnswer(answer, parsed, key, hex(fixture.exchanges.delete === ex ? fixture.exchanges.add.requestMac : fixture.exchanges.delete.requestMac)), false);
    assert.equal(verifyAnswer(answer, parsed, { ...key, secret: Buffer.alloc(32, 7) }, hex(ex.requestMac)), false);
  }
});

void test('error answers: REFUSED in the RCODE; BADSIG and BADKEY in the TSIG error with NOTAUTH', () => {
  assert.equal(parseUpdateAnswer(hex(fixture.exchanges.refused.answer)).rcode, 5);
  const badsig = parseUpdateAnswer(hex(fixture.exchanges.badsig.answer));
  assert.deepEqual([badsig.rcode, badsig.tsig?.error, badsig.tsig?.mac.length], [9, 16, 0]);
  const badkey = parseUpdateAnswer(hex(fixture.exchanges.badkey.answer));
  assert.deepEqual([badkey.rcode, badkey.tsig?.error], [9, 17]);
});

void test('a secret file may hold the bare secret or a BIND key statement', () => {
  assert.equal(parseSecretFile('c2VjcmV0\n'), 'c2VjcmV0');
  assert.equal(parseSecretFile('key "k" {\n\talgorithm hmac-sha256;\n\tsecret "c2VjcmV0";\n};\n'), 'c2VjcmV0');
});

/** A UDP server that answers every request with `answer` under the request's ID. */
async function replayServer(answer: Buffer): Promise<{ port: number; close: () => void }> {
  const socket = createSocket('udp4');
  socket.on('message', (msg, remote) => {
    const out = Buffer.from(answer);
    out.writeUInt16BE(msg.readUInt16BE(0), 0);
    socket.send(out, remote.port, remote.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return { port: socket.address().port, close: () => socket.close() };
}

void test('the provider names the cause of BADSIG, BADKEY and REFUSED, and refuses a replayed NOERROR', async () => {
  const cases = [
    ['badsig', 'ERR_DNS_TSIG_REJECTED', /BADSIG: the signature made with key fixture-key\. does not verify/],
    ['badkey', 'ERR_DNS_TSIG_REJECTED', /BADKEY: the server does not know key fixture-key\. with algorithm hmac-sha256/],
    ['refused', 'ERR_DNS_UPDATE_REFUSED', /REFUSED: key fixture-key\. may not change TXT _acme-challenge\.fixture\.test\./],
    ['add', 'ERR_DNS_TSIG_REJECTED', /the answer is not signed with key fixture-key\./],
  ] as const;
  for (const [label, code, message] of cases) {
    const server = await replayServer(hex(fixture.exchanges[label].answer));
    try {
      const provider = new Rfc2136DnsProvider({ server: { host: '127.0.0.1', port: server.port }, key, zone: 'fixture.test', clock: systemClock, timeoutMs: 1000 });
      await assert.rejects(provider.addTxtRecord({ fqdn: '_acme-challenge.fixture.test.', value: 'v', ttl: 60 }, {}), (err: unknown) => {
        assert.ok(err instanceof CertpilotError, label);
        assert.equal(err.code, code, label);
        assert.match(err.message, message);
        assert.ok(!err.message.includes(fixture.key.secret));
        return true;
      });
    } finally {
      server.close();
    }
  }
});

void test('REFUSED with a configured zone: the hint looks at the zone first; a name outside the configured zone is never sent', async () => {
  const server = await replayServer(hex(fixture.exchanges.refused.answer));
  try {
    const provider = new Rfc2136DnsProvider({ server: { host: '127.0.0.1', port: server.port }, key, zone: 'fixture.test', clock: systemClock, timeoutMs: 1000 });
    await assert.rejects(provider.addTxtRecord({ fqdn: '_acme-challenge.fixture.test.', value: 'v', ttl: 60 }, {}), (err: unknown) => {
      assert.ok(err instanceof CertpilotError);
      assert.match(err.message, /or the configured zone fixture\.test\. is not one this server takes updates to/);
      assert.match(err.hint ?? '', /^Check first that `zone` \(fixture\.test\.\) is a zone this server is the primary of and the one that holds _acme-challenge\.fixture\.test\./);
      return true;
    });
  } finally {
    server.close();
  }
  // Nothing listens here: a request sent would time out as ERR_DNS_NETWORK instead.
  const outside = new Rfc2136DnsProvider({ server: { host: '127.0.0.1', port: 9 }, key, zone: 'other.test', clock: systemClock, timeoutMs: 200 });
  await assert.rejects(outside.addTxtRecord({ fqdn: '_acme-challenge.fixture.test.', value: 'v', ttl: 60 }, {}), (err: unknown) => {
    assert.ok(err instanceof CertpilotError);
    assert.equal(err.code, 'ERR_DNS_ZONE_NOT_FOUND');
    assert.match(err.message, /adding TXT _acme-challenge\.fixture\.test\.: the name is outside the configured zone other\.test\./);
    assert.match(err.hint ?? '', /Set `zone` of the solver to the zone that holds/);
    return true;
  });
});

test('a TSIG secret that is empty or not base64 is a config error naming the field, never a BADSIG later', async () => {
  const { createRfc2136DnsProvider } = await import('./rfc2136-dns-provider.js');
  const { rfc2136Schema } = await import('./schema.js');
  const { silentLogger } = await import('../../../../logger.js');
  const { systemClock } = await import('../../../../clock.js');
  const deps = { name: 'dns', logger: silentLogger, clock: systemClock, baseDir: '/', stateDir: '/tmp' };
  for (const secret of ['not base64!', '====']) {
    const options = rfc2136Schema().parse({ server: '127.0.0.1', keyName: 'acme', secret });
    await assert.rejects(createRfc2136DnsProvider(options, deps), (err: Error & { issues?: { path: string }[] }) => err.issues?.[0]?.path === 'solvers.dns.secret' && !err.message.includes(secret));
  }
});

void test('a server port where nothing listens: fails at once naming the configured address and port, and cleanUp sends nothing', async () => {
  const { Dns01Solver } = await import('../../dns01-solver.js');
  // A UDP port nothing listens on: bound once, then closed.
  const probe = createSocket('udp4');
  await new Promise<void>((resolve) => probe.bind(0, '127.0.0.1', resolve));
  const port = probe.address().port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  const calls: string[] = [];
  for (const zone of [undefined, 'fixture.test']) {
    const inner = new Rfc2136DnsProvider({ server: { host: '127.0.0.1', port }, key, ...(zone ? { zone } : {}), clock: systemClock, timeoutMs: 5000 });
    const provider = {
      addTxtRecord: (r: Parameters<typeof inner.addTxtRecord>[0], o: Parameters<typeof inner.addTxtRecord>[1]) => (calls.push(`add ${r.fqdn}`), inner.addTxtRecord(r, o)),
      removeTxtRecord: (r: Parameters<typeof inner.removeTxtRecord>[0], o: Parameters<typeof inner.removeTxtRecord>[1]) => (calls.push(`remove ${r.fqdn}`), inner.removeTxtRecord(r, o)),
    };
    const solver = new Dns01Solver({ provider, ttlSeconds: 30, followCname: false, checkPropagation: false });
    const challenges = [false, true].map((wildcard) => ({
      type: 'dns-01' as const, identifier: { type: 'dns' as const, value: 'fixture.test' }, wildcard, url: `https://ca.test/chall/${String(wildcard)}`,
      token: 'tok', keyAuthorization: 'tok.thumb', dnsRecordName: '_acme-challenge.fixture.test.', dnsValue: `v-${String(wildcard)}`,
    }));
    const started = Date.now();
    for (const ch of challenges) {
      await assert.rejects(solver.present(ch, {}), (err: unknown) => {
        assert.ok(err instanceof CertpilotError);
        assert.equal(err.code, 'ERR_DNS_NETWORK');
        assert.match(err.message, new RegExp(`no answer from 127\\.0\\.0\\.1:${port}: connection refused`));
        assert.match(err.hint, new RegExp(`at 127\\.0\\.0\\.1 port ${port} \\(the configured address and port\\) and that UDP and TCP to port ${port}`));
        assert.doesNotMatch(err.hint, /port 53\b/);
        return true;
      });
    }
    assert.ok(Date.now() - started < 2000, `zone ${zone ?? '(looked up)'}: refused at once, not after the 5 s timeouts (${Date.now() - started} ms)`);
    for (const ch of challenges) await solver.cleanUp(ch, {});
  }
  assert.deepEqual(calls, ['add _acme-challenge.fixture.test.', 'add _acme-challenge.fixture.test.', 'add _acme-challenge.fixture.test.', 'add _acme-challenge.fixture.test.'], 'cleanUp removes nothing that was never written');
});
