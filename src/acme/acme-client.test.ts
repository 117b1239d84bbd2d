import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash, createPublicKey, verify } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { AcmeClient, alternateLinks } from './acme-client.js';
import { newPrivateKeySync } from './private-key-sync.js';
import type { OrderResource } from './acme-client.js';
import { FakeClock } from '../testing/fake-clock.js';
import { problem, startFakeAcmeServer } from './protocol/testdata/fake-acme-server.js';
import type { FakeAcmeServer, FakeReply, SeenRequest } from './protocol/testdata/fake-acme-server.js';
import { exportJwk, jwkThumbprint } from './protocol/jws.js';
import { ARI_EXAMPLE_CERT_ID, ARI_EXAMPLE_CERT_PEM } from './protocol/testdata/ari-example.js';

const newKey = (): KeyObject => newPrivateKeySync({ type: 'ec', namedCurve: 'P-256' });

async function withClient(
  fn: (ctx: { server: FakeAcmeServer; client: AcmeClient; clock: FakeClock; key: KeyObject }) => Promise<void>,
  options: { directory?: Record<string, unknown>; noAccount?: boolean; pollTimeoutMs?: number } = {},
): Promise<void> {
  const server = await startFakeAcmeServer(options.directory ?? {});
  const clock = new FakeClock('2026-01-01T00:00:00Z');
  const key = newKey();
  const client = new AcmeClient({
    directoryUrl: server.directoryUrl,
    accountKey: key,
    clock,
    ...(options.noAccount ? {} : { accountUrl: `${server.base}/acct/1` }),
    ...(options.pollTimeoutMs ? { pollTimeoutMs: options.pollTimeoutMs } : {}),
  });
  try {
    await fn({ server, client, clock, key });
  } finally {
    client.close();
    await server.close();
  }
}

const posts = (server: FakeAcmeServer): SeenRequest[] => server.seen.filter((r) => r.method === 'POST');

function verifiesWith(key: KeyObject, req: SeenRequest): boolean {
  const jws = req.jws!;
  return verify('sha256', Buffer.from(`${jws.protected}.${jws.payload}`), { key: createPublicKey(key), dsaEncoding: 'ieee-p1363' }, Buffer.from(jws.signature, 'base64url'));
}

test('createAccount signs with jwk, sets accountUrl from Location; later requests use kid', async () => {
  await withClient(
    async ({ server, client, key }) => {
      server.handler = (req, base) =>
        req.path === '/new-account'
          ? { status: 201, headers: { Location: `${base}/acct/42` }, body: { status: 'valid', contact: ['mailto:a@example.com'] } }
          : { headers: { Location: `${base}/order/1` }, status: 201, body: { status: 'pending', identifiers: [], authorizations: [], finalize: `${base}/fin` } };
      assert.equal(client.accountUrl, undefined);
      const account = await client.createAccount({ termsOfServiceAgreed: true, contact: ['mailto:a@example.com'] });
      assert.equal(account.url, `${server.base}/acct/42`);
      assert.equal(account.status, 'valid');
      assert.equal(client.accountUrl, `${server.base}/acct/42`);
      const [create] = posts(server);
      assert.deepEqual(create!.protected!.jwk, exportJwk(key));
      assert.deepEqual(create!.payload, { termsOfServiceAgreed: true, contact: ['mailto:a@example.com'] });
      assert.equal(verifiesWith(key, create!), true);
      await client.newOrder({ identifiers: [{ type: 'dns', value: 'a.example' }] });
      assert.equal(posts(server)[1]!.protected!.kid, `${server.base}/acct/42`);
    },
    { noAccount: true },
  );
});

test('createAccount with EAB embeds an HS256 JWS bound to newAccount', async () => {
  await withClient(
    async ({ server, client, key }) => {
      server.handler = (_req, base) => ({ status: 201, headers: { Location: `${base}/acct/1` }, body: { status: 'valid' } });
      await client.createAccount({ termsOfServiceAgreed: true, externalAccountBinding: { kid: 'eab-kid', hmacKey: Buffer.from('k'.repeat(32)) } });
      const eab = (posts(server)[0]!.payload as { externalAccountBinding: { protected: string; payload: string } }).externalAccountBinding;
      assert.deepEqual(JSON.parse(Buffer.from(eab.protected, 'base64url').toString()), { alg: 'HS256', kid: 'eab-kid', url: `${server.base}/new-account` });
      assert.deepEqual(JSON.parse(Buffer.from(eab.payload, 'base64url').toString()), exportJwk(key));
    },
    { noAccount: true },
  );
});

test('findAccount: undefined for accountDoesNotExist, sends onlyReturnExisting', async () => {
  await withClient(
    async ({ server, client }) => {
      server.handler = () => problem('accountDoesNotExist', 400, 'No account exists with the provided key');
      assert.equal(await client.findAccount(), undefined);
      assert.deepEqual(posts(server)[0]!.payload, { onlyReturnExisting: true });
      server.handler = () => problem('externalAccountRequired', 403);
      await assert.rejects(client.createAccount({ termsOfServiceAgreed: true }), { code: 'ERR_ACME_EAB_REQUIRED' });
    },
    { noAccount: true },
  );
});

test('newOrder checks the profile against the directory before sending anything', async () => {
  await withClient(
    async ({ server, client }) => {
      await assert.rejects(client.newOrder({ identifiers: [{ type: 'dns', value: 'a.example' }], profile: 'tlsclient' }), (err: Error & { code?: string }) => {
        assert.equal(err.code, 'ERR_ACME_PROFILE_UNKNOWN');
        assert.match(err.message, /it offers: classic, shortlived$/);
        return true;
      });
      assert.equal(posts(server).length, 0);
      server.handler = (_req, base) => ({ status: 201, headers: { Location: `${base}/order/7` }, body: { status: 'pending', identifiers: [], authorizations: [], finalize: '', profile: 'shortlived' } });
      const order = await client.newOrder({
        identifiers: [{ type: 'dns', value: 'a.example' }],
        profile: 'shortlived',
        replaces: ARI_EXAMPLE_CERT_ID,
        notAfter: new Date('2026-01-08T00:00:00Z'),
      });
      assert.equal(order.url, `${server.base}/order/7`);
      assert.deepEqual(posts(server)[0]!.payload, {
        identifiers: [{ type: 'dns', value: 'a.example' }],
        profile: 'shortlived',
        replaces: ARI_EXAMPLE_CERT_ID,
        notAfter: '2026-01-08T00:00:00.000Z',
      });
    },
    { directory: { meta: { profiles: { classic: 'c', shortlived: 's' } } } },
  );
});

test('pollAuthorization starts fast, doubles, and honours Retry-After', async () => {
  await withClient(async ({ server, client, clock }) => {
    const answers = [
      { body: { status: 'pending' } },
      { body: { status: 'pending' } },
      { headers: { 'Retry-After': '3' }, body: { status: 'pending' } },
      { body: { status: 'valid', identifier: { type: 'dns', value: 'a.example' }, challenges: [] } },
    ];
    server.handler = () => answers.shift()!;
    const authz = await client.pollAuthorization(`${server.base}/authz/1`);
    assert.equal(authz.status, 'valid');
    assert.equal(authz.url, `${server.base}/authz/1`);
    assert.deepEqual(clock.sleeps, [50, 50, 100, 3000], 'a first wait before any fetch, then 50 ms doubling, then Retry-After');
    assert.ok(posts(server).every((p) => p.rawPayload === ''), 'polls are POST-as-GET');
  });
});

test('pollAuthorization returns an invalid authorization and times out on a stuck one', async () => {
  await withClient(
    async ({ server, client, clock }) => {
      server.handler = () => ({ body: { status: 'invalid', challenges: [{ type: 'http-01', status: 'invalid', error: { type: 'x' } }] } });
      assert.equal((await client.pollAuthorization(`${server.base}/authz/1`)).status, 'invalid');
      server.handler = () => ({ body: { status: 'pending' } });
      clock.sleeps.length = 0;
      await assert.rejects(client.pollAuthorization(`${server.base}/authz/2`), { code: 'ERR_ACME_TIMEOUT' });
      assert.ok(clock.sleeps.reduce((a, b) => a + b, 0) <= 10_000);
      assert.ok(clock.sleeps.every((s) => s <= 5000));
    },
    { pollTimeoutMs: 10_000 },
  );
});

function orderFixture(base: string, status: OrderResource['status']): OrderResource {
  return { url: `${base}/order/1`, status, identifiers: [{ type: 'dns', value: 'a.example' }], authorizations: [], finalize: `${base}/order/1/finalize` };
}

test('finalizeOrder posts the CSR, follows processing with Retry-After, returns the valid order', async () => {
  await withClient(async ({ server, client, clock }) => {
    server.handler = (req, base) => {
      if (req.path.endsWith('/finalize')) return { headers: { 'Retry-After': '1' }, body: { ...orderFixture(base, 'processing'), url: undefined } };
      return { body: { ...orderFixture(base, 'valid'), url: undefined, certificate: `${base}/cert/1` } };
    };
    const done = await client.finalizeOrder(orderFixture(server.base, 'ready'), Buffer.from([1, 2, 3]));
    assert.equal(done.status, 'valid');
    assert.equal(done.certificate, `${server.base}/cert/1`);
    assert.equal(done.url, `${server.base}/order/1`);
    assert.deepEqual(posts(server)[0]!.payload, { csr: 'AQID' });
    assert.deepEqual(clock.sleeps, [1000]);
  });
});

test('finalizeOrder throws ERR_ACME_ORDER_FAILED with the order error when it becomes invalid', async () => {
  await withClient(async ({ server, client }) => {
    server.handler = (_req, base) => ({ body: { ...orderFixture(base, 'invalid'), error: { type: 'urn:ietf:params:acme:error:badCSR', detail: 'CSR has a bad key' } } });
    await assert.rejects(client.finalizeOrder(orderFixture(server.base, 'ready'), Buffer.from([1])), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'ERR_ACME_ORDER_FAILED');
      assert.match(err.message, /became invalid: CSR has a bad key$/);
      return true;
    });
  });
});

/** A self-signed certificate with the given CN, made by openssl. */
function selfSigned(cn: string): string {
  const run = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', '/dev/null', '-subj', `/CN=${cn}`, '-days', '1']);
  assert.equal(run.status, 0, run.stderr.toString());
  return run.stdout.toString();
}

test('downloadCertificate: default chain in one request; preferredChain picks an alternate or lists issuers', async () => {
  const rootA = selfSigned('Root A');
  const rootB = selfSigned('Root B');
  await withClient(async ({ server, client }) => {
    server.handler = (req, base): FakeReply => {
      assert.equal(req.headers.accept, 'application/pem-certificate-chain');
      const links = [`<${base}/cert/1/alt>;rel="alternate"`, `<${base}/directory>;rel="index"`];
      if (req.path === '/cert/1') return { headers: { Link: links, 'Content-Type': 'application/pem-certificate-chain' }, body: ARI_EXAMPLE_CERT_PEM + rootA };
      return { headers: { Link: [`<${base}/cert/1>;rel="alternate"`] }, body: ARI_EXAMPLE_CERT_PEM + rootB };
    };
    const url = `${server.base}/cert/1`;
    const plain = await client.downloadCertificate(url);
    assert.equal(plain.pem, ARI_EXAMPLE_CERT_PEM + rootA);
    assert.deepEqual(plain.chains, [{ url, pem: ARI_EXAMPLE_CERT_PEM + rootA, issuer: 'Root A' }]);
    assert.equal(posts(server).length, 1);

    const b = await client.downloadCertificate(url, { preferredChain: 'Root B' });
    assert.equal(b.pem, ARI_EXAMPLE_CERT_PEM + rootB);
    assert.deepEqual(b.chains.map((c) => c.issuer), ['Root A', 'Root B']);

    // Not a top issuer, but an issuer within the default chain.
    const inner = await client.downloadCertificate(url, { preferredChain: 'ARI Example CA' });
    assert.equal(inner.pem, ARI_EXAMPLE_CERT_PEM + rootA);

    await assert.rejects(client.downloadCertificate(url, { preferredChain: 'Root C' }), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'ERR_ACME_NO_CHAIN');
      assert.match(err.message, /offers chains from: Root A, Root B$/);
      return true;
    });
  });
});

test('alternateLinks parses several Link values and resolves relative URLs', () => {
  const links = alternateLinks({
    url: 'https://ca.example/cert/1',
    headers: { link: '<https://ca.example/cert/1/1>;rel="alternate", </cert/1/2>; rel=alternate, <https://ca.example/dir>;rel="index"' },
  });
  assert.deepEqual(links, ['https://ca.example/cert/1/1', 'https://ca.example/cert/1/2']);
});

test('getRenewalInfo fetches <renewalInfo>/<certId> with GET; absent endpoint is ERR_ACME_ARI_UNSUPPORTED', async () => {
  // The directory must name the ARI server's base, so the ARI endpoint lives on a second server.
  const server = await startFakeAcmeServer();
  const withAri = await startFakeAcmeServer({ renewalInfo: `${server.base}/ari/` });
  const clock = new FakeClock('2026-01-01T00:00:00Z');
  server.handler = () => ({ headers: { 'Retry-After': '21600' }, body: { suggestedWindow: { start: '2026-03-01T00:00:00Z', end: '2026-03-02T00:00:00Z' } } });
  const client = new AcmeClient({ directoryUrl: withAri.directoryUrl, accountKey: newKey(), clock });
  const noAri = new AcmeClient({ directoryUrl: server.directoryUrl, accountKey: newKey(), clock });
  try {
    const info = await client.getRenewalInfo(ARI_EXAMPLE_CERT_PEM);
    assert.equal(info.certId, ARI_EXAMPLE_CERT_ID);
    assert.equal(info.suggestedWindow.start.toISOString(), '2026-03-01T00:00:00.000Z');
    assert.equal(info.retryAfter.toISOString(), '2026-01-01T06:00:00.000Z');
    const get = server.seen.find((r) => r.path.startsWith('/ari/'))!;
    assert.equal(get.method, 'GET');
    assert.equal(get.path, `/ari/${ARI_EXAMPLE_CERT_ID}`);
    await assert.rejects(noAri.getRenewalInfo(ARI_EXAMPLE_CERT_PEM), { code: 'ERR_ACME_ARI_UNSUPPORTED' });
  } finally {
    client.close();
    noAri.close();
    await server.close();
    await withAri.close();
  }
});

test('rolloverKey: outer signed by the old key (kid), inner by the new (jwk); then the new key signs', async () => {
  await withClient(async ({ server, client, key }) => {
    server.handler = () => ({ body: { status: 'valid' } });
    const next = newKey();
    await client.rolloverKey(next);
    const [outer] = posts(server);
    assert.equal(outer!.path, '/key-change');
    assert.equal(outer!.protected!.kid, `${server.base}/acct/1`);
    assert.equal(verifiesWith(key, outer!), true);
    const inner = outer!.payload as { protected: string; payload: string; signature: string };
    const innerHeader = JSON.parse(Buffer.from(inner.protected, 'base64url').toString()) as Record<string, unknown>;
    assert.deepEqual(innerHeader.jwk, exportJwk(next));
    assert.equal(innerHeader.url, `${server.base}/key-change`);
    assert.deepEqual(JSON.parse(Buffer.from(inner.payload, 'base64url').toString()), { account: `${server.base}/acct/1`, oldKey: exportJwk(key) });
    await client.getOrder(`${server.base}/order/1`);
    assert.equal(verifiesWith(next, posts(server)[1]!), true);
    assert.equal(client.keyAuthorization('tok'), `tok.${jwkThumbprint(next)}`);
  });
});

test('revokeCertificate: by account (kid) or by the certificate key (jwk), with reason', async () => {
  await withClient(async ({ server, client }) => {
    server.handler = () => ({ status: 200 });
    await client.revokeCertificate(ARI_EXAMPLE_CERT_PEM, { reason: 4 });
    const certKey = newKey();
    await client.revokeCertificate(ARI_EXAMPLE_CERT_PEM, { certificateKey: certKey });
    const [byAccount, byKey] = posts(server);
    assert.equal(byAccount!.protected!.kid, `${server.base}/acct/1`);
    const der = Buffer.from(ARI_EXAMPLE_CERT_PEM.replace(/-----[A-Z ]+-----|\s/g, ''), 'base64');
    assert.deepEqual(byAccount!.payload, { certificate: der.toString('base64url'), reason: 4 });
    assert.deepEqual(byKey!.protected!.jwk, exportJwk(certKey));
    assert.equal(verifiesWith(certKey, byKey!), true);
  });
});

test('challenge answers: key authorization, dns-01 TXT value, tls-alpn-01 digest', async () => {
  await withClient(async ({ client, key }) => {
    const ka = `token123.${jwkThumbprint(key)}`;
    assert.equal(client.keyAuthorization('token123'), ka);
    assert.equal(client.dns01TxtValue('token123'), createHash('sha256').update(ka).digest('base64url'));
    assert.deepEqual(client.tlsAlpn01Digest('token123'), createHash('sha256').update(ka).digest());
  });
});

test('the directory is fetched once; a deactivated account maps to its code', async () => {
  await withClient(async ({ server, client }) => {
    server.handler = () => problem('unauthorized', 403, 'Account has been deactivated');
    await assert.rejects(client.newOrder({ identifiers: [{ type: 'dns', value: 'a.example' }] }), { code: 'ERR_ACME_ACCOUNT_DEACTIVATED' });
    await assert.rejects(client.newOrder({ identifiers: [{ type: 'dns', value: 'a.example' }] }), { code: 'ERR_ACME_ACCOUNT_DEACTIVATED' });
    assert.equal(server.seen.filter((r) => r.path === '/dir').length, 1);
    assert.equal(client.stats.byEndpoint.directory, 1);
  });
});
