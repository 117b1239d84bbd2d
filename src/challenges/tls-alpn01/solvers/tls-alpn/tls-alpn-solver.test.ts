// The tls-alpn solver as the CA sees it (RFC 8737 §3): an `acme-tls/1` handshake for the name
// gets a certificate with exactly that name and the critical acmeIdentifier extension holding
// SHA-256(keyAuthorization); other protocols, other names and a cleaned-up challenge get nothing;
// a port in use is a clear error naming the port.
import assert from 'node:assert/strict';
import { createHash, X509Certificate } from 'node:crypto';
import { createServer } from 'node:net';
import { connect, type PeerCertificate } from 'node:tls';
import { test } from 'node:test';
import { derChildren, derOidToString, derRead } from '../../../../acme/protocol/der.js';
import { CertpilotError } from '../../../../errors.js';
import { systemClock } from '../../../../clock.js';
import type { PendingChallenge } from '../../../challenge-solver.js';
import { ID_PE_ACME_IDENTIFIER } from '../../validation-certificate.js';
import { TlsAlpnSolver } from './tls-alpn-solver.js';

const challenge = (name: string, token: string, type: 'dns' | 'ip' = 'dns'): PendingChallenge => ({
  type: 'tls-alpn-01',
  identifier: { type, value: name },
  wildcard: false,
  url: `https://ca.test/chall/${token}`,
  token,
  keyAuthorization: `${token}.thumbprint_0123456789`,
});

function handshake(port: number, servername: string, alpn: string[]): Promise<{ alpn: string | false; cert: PeerCertificate } | Error> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port, servername, ALPNProtocols: alpn, rejectUnauthorized: false }, () => {
      resolve({ alpn: socket.alpnProtocol ?? false, cert: socket.getPeerCertificate(true) });
      socket.destroy();
    });
    socket.once('error', (err) => resolve(err));
  });
}

/** The extensions of a DER certificate: OID → { critical, value }. */
function extensions(der: Buffer): Map<string, { critical: boolean; value: Buffer }> {
  const [tbs] = derChildren(derRead(der).content);
  const ext = derChildren((tbs as { content: Buffer }).content).find((n) => n.tag === 0xa3);
  const out = new Map<string, { critical: boolean; value: Buffer }>();
  for (const e of derChildren(derRead((ext as { content: Buffer }).content).content)) {
    const parts = derChildren(e.content);
    const critical = parts.length === 3 && parts[1]?.content[0] === 0xff;
    out.set(derOidToString((parts[0] as { content: Buffer }).content), { critical, value: (parts[parts.length - 1] as { content: Buffer }).content });
  }
  return out;
}

test('acme-tls/1 for a presented name: its validation certificate; anything else: nothing', async (t) => {
  const solver = new TlsAlpnSolver({ port: 0, host: '127.0.0.1', clock: systemClock });
  t.after(() => solver.close());
  const ch = challenge('alpn.example.com', 'tok-1');
  await solver.present(ch, {});
  const port = await solver.listen();

  const ok = await handshake(port, 'alpn.example.com', ['acme-tls/1']);
  assert.ok(!(ok instanceof Error), String(ok));
  assert.equal(ok.alpn, 'acme-tls/1');
  const x509 = new X509Certificate(ok.cert.raw);
  assert.equal(x509.subjectAltName, 'DNS:alpn.example.com', 'exactly the one name');
  const ext = extensions(ok.cert.raw).get(ID_PE_ACME_IDENTIFIER);
  assert.ok(ext?.critical, 'id-pe-acmeIdentifier is present and critical');
  const digest = createHash('sha256').update(ch.keyAuthorization).digest();
  assert.deepEqual(derRead(ext.value).content, digest, 'its value is the OCTET STRING of SHA-256(keyAuthorization)');
  assert.ok(x509.checkIssued(x509) && x509.verify(x509.publicKey), 'self-signed, and the signature verifies');

  assert.ok((await handshake(port, 'alpn.example.com', ['h2', 'http/1.1'])) instanceof Error, 'a handshake without acme-tls/1 is refused');
  assert.ok((await handshake(port, 'other.example.com', ['acme-tls/1'])) instanceof Error, 'a name with no challenge is refused');

  await solver.cleanUp(ch);
  assert.ok((await handshake(port, 'alpn.example.com', ['acme-tls/1'])) instanceof Error, 'after cleanUp the name is no longer answered');
});

test('an IP identifier is answered on its reverse name with an iPAddress SAN (RFC 8738 §6)', async (t) => {
  const solver = new TlsAlpnSolver({ port: 0, host: '127.0.0.1', clock: systemClock });
  t.after(() => solver.close());
  await solver.present(challenge('192.0.2.7', 'tok-ip', 'ip'), {});
  const got = await handshake(await solver.listen(), '7.2.0.192.in-addr.arpa', ['acme-tls/1']);
  assert.ok(!(got instanceof Error), String(got));
  assert.equal(new X509Certificate(got.cert.raw).subjectAltName, 'IP Address:192.0.2.7');
});

test('a port in use: ERR_CHALLENGE_LISTEN naming address and port, with a fix', async (t) => {
  const blocker = createServer();
  await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
  t.after(() => blocker.close());
  const port = (blocker.address() as { port: number }).port;
  const solver = new TlsAlpnSolver({ port, host: '127.0.0.1', clock: systemClock });
  t.after(() => solver.close());
  await assert.rejects(solver.present(challenge('alpn.example.com', 'tok-2'), {}), (err: unknown) => {
    assert.ok(err instanceof CertpilotError);
    assert.equal(err.code, 'ERR_CHALLENGE_LISTEN');
    assert.match(err.message, new RegExp(`tls-alpn-01: cannot listen on 127\\.0\\.0\\.1:${port}: the port is already in use`));
    assert.match(err.hint ?? '', new RegExp(`port ${port}`));
    return true;
  });
});

test('the port is held only while a challenge is presented: free after prepare and after the last cleanUp, taken again by the next present', async (t) => {
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const port = (probe.address() as { port: number }).port;
  await new Promise<void>((r) => probe.close(() => r()));
  const solver = new TlsAlpnSolver({ port, host: '127.0.0.1', clock: systemClock });
  t.after(() => solver.close());
  const free = async (): Promise<boolean> => {
    const other = createServer();
    return new Promise((resolve) => {
      other.once('error', () => resolve(false));
      other.listen(port, '127.0.0.1', () => other.close(() => resolve(true)));
    });
  };
  await solver.prepare({});
  assert.equal(await free(), true, 'prepare checked the port and freed it (no challenge presented)');
  const a = challenge('a.example.com', 'tok-a');
  const b = challenge('b.example.com', 'tok-b');
  await solver.present(a, {});
  await solver.present(b, {});
  assert.equal(await free(), false, 'held while challenges are presented');
  await solver.cleanUp(a);
  assert.ok(!((await handshake(port, 'b.example.com', ['acme-tls/1'])) instanceof Error), 'the other name is still answered');
  await solver.cleanUp(b);
  assert.equal(await free(), true, 'free after the last cleanUp');
  await solver.present(a, {});
  assert.ok(!((await handshake(port, 'a.example.com', ['acme-tls/1'])) instanceof Error), 'a later present listens again');
});
