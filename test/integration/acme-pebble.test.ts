// The ACME client and issuer against real Pebble 2.4, strict, with Pebble's defaults ON (20% of
// nonces rejected, random validation delays, authorization reuse): wildcard and multi-name orders,
// IP identifiers, revocation both ways, key rollover (also interrupted), and alternate chains; then
// external account binding on a second Pebble.
import assert from 'node:assert/strict';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { Resolver } from 'node:dns/promises';
import { after, before, describe, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { openAccount, rolloverAccountKey, type AccountOptions } from '../../src/acme/account.js';
import { AcmeClient } from '../../src/acme/acme-client.js';
import { parseCertificate } from '../../src/acme/certificate.js';
import { generatePrivateKey, importPrivateKey } from '../../src/acme/csr.js';
import { Issuer, type IssuedCertificate, type IssueRequest } from '../../src/acme/issuer.js';
import type { ChallengeSolver } from '../../src/challenges/challenge-solver.js';
import type { DnsProvider } from '../../src/challenges/dns01/dns-provider.js';
import { Dns01Solver } from '../../src/challenges/dns01/dns01-solver.js';
import { StandaloneHttp01Solver } from '../../src/challenges/http01/solvers/standalone/standalone-solver.js';
import { FilesystemCertificateStore } from '../../src/storage/backends/filesystem/filesystem-certificate-store.js';
import { tempDir } from '../harness/certpilot.js';
import { ChalltestsrvDnsProvider } from '../harness/challtestsrv-dns-provider.js';
import { nonceRejections, startFaultProxy, type FaultProxy } from '../harness/fault-proxy.js';
import { fetchBuffered } from '../harness/http.js';
import { startPebble, type PebbleInstance } from '../harness/pebble.js';
import { requirePebble } from '../harness/servers.js';

/** An issuer whose every name is proven by one solver. */
function issuerWith(client: AcmeClient, solver: ChallengeSolver): { issue(request: Omit<IssueRequest, 'solvers'>): Promise<IssuedCertificate> } {
  const issuer = new Issuer({ client });
  return { issue: (request) => issuer.issue({ ...request, solvers: new Map(request.identifiers.map((i) => [i.value, solver])) }) };
}

async function newClient(pebble: { directoryUrl: string; caCertificates: string[] }): Promise<AcmeClient> {
  const { key } = await generatePrivateKey('ec-p256');
  const client = new AcmeClient({ directoryUrl: pebble.directoryUrl, accountKey: key, caCertificates: pebble.caCertificates });
  await client.createAccount({ termsOfServiceAgreed: true, contact: ['mailto:test@example.com'] });
  return client;
}

async function certStatus(pebble: PebbleInstance, serialHex: string): Promise<{ Status: string; Reason?: number }> {
  const res = await fetchBuffered(`${pebble.managementUrl}/cert-status-by-serial/${serialHex}`, { ca: pebble.caCertificates });
  assert.equal(res.status, 200, res.text);
  return JSON.parse(res.text) as { Status: string; Reason?: number };
}

describe('ACME against Pebble 2.4', { timeout: 180_000 }, () => {
  let pebble: PebbleInstance | undefined;
  // The clients talk to Pebble through a proxy that records what the CA received and answered.
  let ca: FaultProxy | undefined;
  let http01: StandaloneHttp01Solver | undefined;

  before(async () => {
    // Pebble's defaults, except nonces: 20% rejected instead of 5%, so that over this suite's ~100
    // signed requests some certainly are (the last test counts them at the proxy).
    pebble = await startPebble({ version: '2.4', strict: true, alternateRoots: 1, nonceRejectPercent: 20 });
    ca = await startFaultProxy(pebble);
    http01 = new StandaloneHttp01Solver({ port: pebble.httpPort, host: '127.0.0.1' });
  });
  after(async () => {
    await http01?.close();
    await ca?.stop();
    await pebble?.stop();
  });

  test('a wildcard plus its base name via dns-01, and every TXT value is removed afterwards', async (t) => {
    if (!requirePebble(t, '2.4') || !pebble || !ca) return;
    const client = await newClient(ca);
    const dns = new ChalltestsrvDnsProvider(pebble.challtestsrvUrl);
    const issuer = issuerWith(client, new Dns01Solver({ provider: dns }));
    const issued = await issuer.issue({ identifiers: [{ type: 'dns', value: '*.wild.test' }, { type: 'dns', value: 'wild.test' }], keyType: 'ec-p256' });
    assert.deepEqual(parseCertificate(issued.certPem).dnsNames.sort(), ['*.wild.test', 'wild.test']);
    // Both authorizations put a value on the same name: two values, one record set.
    assert.equal(dns.added.filter((r) => r.fqdn === '_acme-challenge.wild.test.').length, 2);
    const resolver = new Resolver();
    resolver.setServers([`127.0.0.1:${pebble.dnsPort}`]);
    const left = await resolver.resolveTxt('_acme-challenge.wild.test').catch(() => []);
    assert.deepEqual(left, [], 'cleanup removed the challenge values');
    client.close();
  });

  test('every challenge of an order is presented before any is answered: a CA behind a caching resolver sees the whole TXT set', async (t) => {
    if (!requirePebble(t, '2.4') || !pebble || !ca) return;
    const proxy = ca;
    const client = await newClient(proxy);
    const inner = new ChalltestsrvDnsProvider(pebble.challtestsrvUrl);
    // The second value of the shared `_acme-challenge` set lands late (a slow DNS API): no challenge
    // may be answered before it is there, or a resolver that cached the set after the first answer
    // keeps it without this value (seen as "Correct value not found" behind a forwarding BIND).
    const landed: number[] = [];
    let calls = 0;
    const slow: DnsProvider = {
      addTxtRecord: async (record, options) => {
        if (calls++ === 1) await delay(1500);
        await inner.addTxtRecord(record, options);
        landed.push(proxy.requests.log.length);
      },
      removeTxtRecord: (record, options) => inner.removeTxtRecord(record, options),
    };
    const from = proxy.requests.log.length;
    const issued = await issuerWith(client, new Dns01Solver({ provider: slow })).issue({ identifiers: [{ type: 'dns', value: '*.gate.test' }, { type: 'dns', value: 'gate.test' }], keyType: 'ec-p256' });
    assert.deepEqual(parseCertificate(issued.certPem).dnsNames.sort(), ['*.gate.test', 'gate.test']);
    // An answer is a challenge POST with a payload (`{}`); a poll is a POST-as-GET.
    const answers = proxy.requests.log.flatMap((e, i) => (i >= from && e.kind === 'POST /chalZ' && e.jws?.payload !== undefined ? [i] : []));
    assert.equal(landed.length, 2, 'both values added');
    assert.ok(answers.length >= 2, `both challenges answered (${answers.length})`);
    assert.ok(Math.min(...answers) >= Math.max(...landed), `first answer at request ${Math.min(...answers)}, last value landed after request ${Math.max(...landed)}`);
    client.close();
  });

  test('a multi-name order with an IP address via http-01', async (t) => {
    if (!requirePebble(t, '2.4') || !pebble || !ca || !http01) return;
    const client = await newClient(ca);
    const issuer = issuerWith(client, http01);
    const issued = await issuer.issue({
      identifiers: [{ type: 'dns', value: 'multi.test' }, { type: 'dns', value: 'www.multi.test' }, { type: 'ip', value: '127.0.0.1' }],
      keyType: 'rsa-2048',
    });
    const parsed = parseCertificate(issued.certPem);
    assert.deepEqual(parsed.dnsNames.sort(), ['multi.test', 'www.multi.test']);
    assert.deepEqual(parsed.ipAddresses, ['127.0.0.1']);
    assert.ok(new X509Certificate(issued.certPem).checkPrivateKey(createPrivateKey(issued.privateKeyPem)));
    client.close();
  });

  test('revocation signed by the account key, and by the certificate key, with a reason', async (t) => {
    if (!requirePebble(t, '2.4') || !pebble || !ca || !http01) return;
    const client = await newClient(ca);
    const issuer = issuerWith(client, http01);
    const byAccount = await issuer.issue({ identifiers: [{ type: 'dns', value: 'revoke-a.test' }], keyType: 'ec-p256' });
    const byKey = await issuer.issue({ identifiers: [{ type: 'dns', value: 'revoke-k.test' }], keyType: 'ec-p256' });
    assert.equal((await certStatus(pebble, byAccount.serialNumber)).Status, 'Valid');

    await client.revokeCertificate(byAccount.certPem, { reason: 4 });
    // A stranger's account cannot revoke it, but the certificate's own key can.
    const stranger = await newClient(ca);
    await assert.rejects(stranger.revokeCertificate(byKey.certPem, { reason: 1 }), { code: 'ERR_ACME_PROBLEM' });
    await stranger.revokeCertificate(byKey.certPem, { reason: 1, certificateKey: createPrivateKey(byKey.privateKeyPem) });

    const a = await certStatus(pebble, byAccount.serialNumber);
    const k = await certStatus(pebble, byKey.serialNumber);
    assert.equal(a.Status, 'Revoked');
    assert.equal(k.Status, 'Revoked');
    assert.equal(a.Reason, 4);
    assert.equal(k.Reason, 1);
    client.close();
    stranger.close();
  });

  test('key rollover: the new key orders, the old key no longer finds the account', async (t) => {
    if (!requirePebble(t, '2.4') || !pebble || !ca || !http01) return;
    const { key: oldKey } = await generatePrivateKey('ec-p256');
    const client = new AcmeClient({ directoryUrl: ca.directoryUrl, accountKey: oldKey, caCertificates: ca.caCertificates });
    const account = await client.createAccount({ termsOfServiceAgreed: true });
    const { key: newKey } = await generatePrivateKey('ec-p384');
    await client.rolloverKey(newKey);

    const issued = await issuerWith(client, http01).issue({ identifiers: [{ type: 'dns', value: 'rolled.test' }], keyType: 'ec-p256' });
    assert.ok(issued.certPem.includes('BEGIN CERTIFICATE'));

    const withNew = new AcmeClient({ directoryUrl: ca.directoryUrl, accountKey: newKey, caCertificates: ca.caCertificates });
    assert.equal((await withNew.findAccount())?.url, account.url);
    const withOld = new AcmeClient({ directoryUrl: ca.directoryUrl, accountKey: oldKey, caCertificates: ca.caCertificates });
    assert.equal(await withOld.findAccount(), undefined);
    for (const c of [client, withNew, withOld]) c.close();
  });

  test('two runs registering at once share one account: the second uses the key the first stored', async (t) => {
    if (!requirePebble(t, '2.4') || !pebble || !ca) return;
    const store = new FilesystemCertificateStore({ stateDir: await tempDir() });
    // Both runs read "no account" before either stores one (a barrier on the second load).
    let loads = 0;
    let release: () => void = () => undefined;
    const bothLoaded = new Promise<void>((resolve) => (release = resolve));
    const racing = Object.assign(Object.create(store) as FilesystemCertificateStore, {
      loadAccount: async (url: string) => {
        const found = await store.loadAccount(url);
        if (++loads === 2) release();
        if (loads <= 2) await bothLoaded;
        return found;
      },
    });
    const options: AccountOptions = { store: racing, directoryUrl: ca.directoryUrl, caCertificates: ca.caCertificates, termsOfServiceAgreed: true, accountKeyType: 'ec-p256' };
    const [a, b] = await Promise.all([openAccount(options), openAccount(options)]);
    a.client.close();
    b.client.close();
    assert.equal(a.account.url, b.account.url, 'one account at the CA');
    assert.equal(a.account.privateKeyPem, b.account.privateKeyPem, 'one key');
    assert.equal((await store.loadAccount(ca.directoryUrl))?.privateKeyPem, a.account.privateKeyPem, 'the stored key is the one both use');
  });

  test('an account key rollover interrupted at either side of the CA call keeps a working key', async (t) => {
    if (!requirePebble(t, '2.4') || !pebble || !ca) return;
    const store = new FilesystemCertificateStore({ stateDir: await tempDir() });
    const options: AccountOptions = { store, directoryUrl: ca.directoryUrl, caCertificates: ca.caCertificates, termsOfServiceAgreed: true, accountKeyType: 'ec-p256' };
    const { account, client } = await openAccount(options);
    client.close();

    // Crash after saving the pending key, before asking the CA: the old key stays.
    const unused = await generatePrivateKey('ec-p256');
    await store.saveAccount({ ...account, nextPrivateKeyPem: unused.pem });
    const kept = await openAccount(options);
    assert.equal(kept.account.privateKeyPem, account.privateKeyPem);
    assert.equal((await store.loadAccount(ca.directoryUrl))?.nextPrivateKeyPem, undefined, 'pending key dropped');
    kept.client.close();

    // Crash after the CA switched keys, before promoting: the new key is promoted.
    const next = await generatePrivateKey('ec-p256');
    await store.saveAccount({ ...account, nextPrivateKeyPem: next.pem });
    const direct = new AcmeClient({ directoryUrl: ca.directoryUrl, accountKey: importPrivateKey(account.privateKeyPem), accountUrl: account.url, caCertificates: ca.caCertificates });
    await direct.rolloverKey(next.key);
    direct.close();
    const recovered = await openAccount(options);
    assert.equal(recovered.account.privateKeyPem, next.pem);
    assert.equal((await recovered.client.findAccount())?.url, account.url);
    recovered.client.close();

    // And the ordinary rollover.
    const rolled = await rolloverAccountKey(options);
    assert.notEqual(rolled.privateKeyPem, next.pem);
    const after = await openAccount(options);
    assert.equal((await after.client.findAccount())?.url, account.url);
    after.client.close();
  });

  test('alternate chains: the preferred issuer is chosen, an unknown one is a clear error', async (t) => {
    if (!requirePebble(t, '2.4') || !pebble || !ca || !http01) return;
    const roots = await pebble.rootCertificates();
    assert.equal(roots.length, 2, 'Pebble offers one alternate root');
    const alternateRoot = new X509Certificate(roots[1] as string);
    const cn = /CN=([^\n,]+)/.exec(alternateRoot.subject)?.[1] as string;
    const client = await newClient(ca);
    const issued = await issuerWith(client, http01).issue({
      identifiers: [{ type: 'dns', value: 'chains.test' }],
      keyType: 'ec-p256',
      preferredChain: cn,
    });
    const chain = issued.chainPem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
    const top = new X509Certificate(chain[chain.length - 1] as string);
    assert.ok(top.verify(alternateRoot.publicKey), 'the chain leads to the preferred root');

    await assert.rejects(
      issuerWith(client, http01).issue({ identifiers: [{ type: 'dns', value: 'chains2.test' }], keyType: 'ec-p256', preferredChain: 'No Such Root' }),
      (err: Error & { code?: string }) => err.code === 'ERR_ACME_NO_CHAIN' && /Pebble/.test(err.message),
    );
    client.close();
  });

  test('the CA rejected nonces (badNonce) and every rejected request was sent again with the fresh nonce', (t) => {
    if (!requirePebble(t, '2.4') || !ca) return;
    const nonces = nonceRejections(ca.requests.log);
    assert.ok(nonces.signed > 50, `signed requests seen: ${nonces.signed}`);
    assert.ok(nonces.rejected.length > 0, `Pebble rejected none of ${nonces.signed} nonces`);
    assert.deepEqual(
      nonces.rejected.filter((e) => !nonces.retried.includes(e)).map((e) => e.jws?.protected.url),
      [],
      'each badNonce was retried at the same URL with the nonce the rejection carried (RFC 8555 §6.5)',
    );
  });
});

test('external account binding: required by the CA, accepted with the right HMAC key', { timeout: 60_000 }, async (t) => {
  if (!requirePebble(t, '2.4')) return;
  const hmacKey = Buffer.from('certpilot-test-eab-hmac-key-0123456789').toString('base64url');
  const pebble = await startPebble({ version: '2.4', strict: true, noSleep: true, eab: { 'kid-1': hmacKey } });
  t.after(() => pebble.stop());
  const { key } = await generatePrivateKey('ec-p256');
  const client = new AcmeClient({ directoryUrl: pebble.directoryUrl, accountKey: key, caCertificates: pebble.caCertificates });
  assert.equal((await client.getDirectory()).meta?.externalAccountRequired, true);
  await assert.rejects(client.createAccount({ termsOfServiceAgreed: true }), { code: 'ERR_ACME_EAB_REQUIRED' });
  await assert.rejects(
    client.createAccount({ termsOfServiceAgreed: true, externalAccountBinding: { kid: 'kid-1', hmacKey: Buffer.from('wrong-key-wrong-key-wrong-key') } }),
    { code: 'ERR_ACME_PROBLEM' },
  );
  const account = await client.createAccount({ termsOfServiceAgreed: true, externalAccountBinding: { kid: 'kid-1', hmacKey: Buffer.from(hmacKey, 'base64url') } });
  assert.equal(account.status, 'valid');
  client.close();
});
