// The DNS transport: a truncated UDP answer is asked again over TCP with a freshly built message
// (so a TSIG signature is made anew); no answer is ERR_DNS_NETWORK after the tries; an abort
// rejects with the signal's reason; server strings in every form parse.
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { CertpilotError } from '../../errors.js';
import { exchange, parseDnsServer, soaOwner, zoneCandidates, type DnsAnswer } from './dns-client.js';

function message(id: number, marker: number): Buffer {
  const b = Buffer.alloc(13);
  b.writeUInt16BE(id, 0);
  b[12] = marker;
  return b;
}

void test('a truncated UDP answer is asked again over TCP, with the message built again', async () => {
  const tcp = createServer((socket) => {
    socket.once('data', (data: Buffer) => {
      const id = data.readUInt16BE(2);
      const answer = message(id, 0xaa);
      answer.writeUInt16BE(0x8000, 2); // QR, no TC
      const length = Buffer.alloc(2);
      length.writeUInt16BE(answer.length);
      socket.end(Buffer.concat([length, answer]));
    });
  });
  await new Promise<void>((r) => tcp.listen(0, '127.0.0.1', r));
  const port = (tcp.address() as AddressInfo).port;
  const udp = createSocket('udp4');
  udp.on('message', (msg, remote) => {
    const answer = Buffer.from(msg);
    answer.writeUInt16BE(0x8200, 2); // QR + TC
    udp.send(answer, remote.port, remote.address);
  });
  await new Promise<void>((r) => udp.bind(port, '127.0.0.1', r));
  try {
    let built = 0;
    const answer = await exchange({ host: '127.0.0.1', port }, () => message(0x4242 + built++, 1), { timeoutMs: 1000 });
    assert.equal(built, 2, 'built once for UDP, once again for TCP');
    assert.equal(answer[12], 0xaa, 'the TCP answer');
    assert.equal(answer.readUInt16BE(0), 0x4243);
  } finally {
    udp.close();
    tcp.close();
  }
});

void test('no answer is a retryable ERR_DNS_NETWORK; an abort rejects with its reason', async () => {
  const silent = createSocket('udp4');
  await new Promise<void>((r) => silent.bind(0, '127.0.0.1', r));
  const server = { host: '127.0.0.1', port: silent.address().port };
  try {
    await assert.rejects(exchange(server, () => message(1, 0), { timeoutMs: 50, tries: 2 }), (err: unknown) => {
      assert.ok(err instanceof CertpilotError);
      assert.equal(err.code, 'ERR_DNS_NETWORK');
      assert.equal(err.retryable, true);
      assert.match(err.message, /2 UDP attempt\(s\) of 50 ms timed out/);
      return true;
    });
    const controller = new AbortController();
    const reason = new Error('stop');
    const pending = exchange(server, () => message(2, 0), { timeoutMs: 10_000, signal: controller.signal });
    controller.abort(reason);
    await assert.rejects(pending, (err) => err === reason);
  } finally {
    silent.close();
  }
});

void test('server strings: address, address:port, [v6]:port, bare v6', () => {
  assert.deepEqual(parseDnsServer('10.0.0.53'), { host: '10.0.0.53', port: 53 });
  assert.deepEqual(parseDnsServer('127.0.0.1:5353'), { host: '127.0.0.1', port: 5353 });
  assert.deepEqual(parseDnsServer('[::1]:5353'), { host: '::1', port: 5353 });
  assert.deepEqual(parseDnsServer('2001:db8::53'), { host: '2001:db8::53', port: 53 });
});

void test('zone candidates run from the name to the root label, canonical; the SOA owner comes from answers or authorities', () => {
  assert.deepEqual(zoneCandidates('_acme-challenge.WWW.Example.com'), ['_acme-challenge.www.example.com.', 'www.example.com.', 'example.com.', 'com.']);
  assert.deepEqual(zoneCandidates('example.com.'), ['example.com.', 'com.']);
  const soa = { type: 'SOA', name: 'Example.COM', class: 'IN', ttl: 60, data: {} };
  assert.equal(soaOwner({ answers: [soa], authorities: [], rcode: 'NOERROR' } as unknown as DnsAnswer), 'example.com.');
  assert.equal(soaOwner({ answers: [], authorities: [soa], rcode: 'NXDOMAIN' } as unknown as DnsAnswer), 'example.com.');
  assert.equal(soaOwner({ answers: [{ ...soa, type: 'NS' }], authorities: [], rcode: 'NOERROR' } as unknown as DnsAnswer), undefined);
});
