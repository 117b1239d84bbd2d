// ARI (RFC 9773) and ACME profiles against Pebble 2.10: the renewal window is fetched and
// persisted with a chosen time inside it, renewals send `replaces` (read from the newOrder body at
// the proxy, checked against the certID computed with openssl) and the CA accepts it, and the
// `shortlived` profile gives a ~6-day certificate whose profile is kept on renewal.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { FilesystemCertificateStore } from '../../src/storage/backends/filesystem/filesystem-certificate-store.js';
import { runCli, startCliScenario, tempDir, writeConfig } from '../harness/certpilot.js';
import { pebbleFindsReplaced } from '../harness/pebble.js';
import { requirePebble } from '../harness/servers.js';

const DAY = 86_400_000;

/** The ARI certID of a certificate file (RFC 9773 §4.1): base64url(AKI keyIdentifier) "." base64url(serial DER content), read with openssl. */
function ariCertId(certFile: string): string {
  const aki = execFileSync('openssl', ['x509', '-in', certFile, '-noout', '-ext', 'authorityKeyIdentifier'], { encoding: 'utf8' });
  const keyId = /([0-9A-F]{2}(?::[0-9A-F]{2})+)/i.exec(aki.replace(/keyid:/i, ''))?.[1];
  assert.ok(keyId, aki);
  let serial = new X509Certificate(readFileSync(certFile)).serialNumber;
  if (serial.length % 2 === 1) serial = `0${serial}`;
  if (parseInt(serial.slice(0, 2), 16) >= 0x80) serial = `00${serial}`; // DER INTEGER: positive
  return `${Buffer.from(keyId.replace(/:/g, ''), 'hex').toString('base64url')}.${Buffer.from(serial, 'hex').toString('base64url')}`;
}

test('ARI window persisted, replaces accepted, shortlived profile kept on renewal', { timeout: 120_000 }, async (t) => {
  if (!requirePebble(t, '2.10')) return;
  const { pebble, proxy, dir, config, stateDir } = await startCliScenario(t, {
    pebble: {
      version: '2.10',
      strict: true,
      noSleep: true,
      profiles: {
        default: { description: 'The default profile', validityPeriod: 90 * 86_400 },
        shortlived: { description: 'Six-day certificates', validityPeriod: 518_400 },
      },
    },
    certificates: [
      // Pebble 2.10 picks a profile at random for orders without one: name it.
      { name: 'normal', domains: ['normal.ari.test'], profile: 'default' },
      { name: 'short', domains: ['short.ari.test'], profile: 'shortlived' },
    ],
  });
  const store = new FilesystemCertificateStore({ stateDir });

  const issued = await runCli(['issue', '--config', config]);
  assert.equal(issued.code, 0, issued.stdout + issued.stderr + (await pebble.logs()));

  // shortlived: a 6-day certificate; default: 90 days.
  const lifetime = (name: string): number => {
    const cert = new X509Certificate(readFileSync(join(dir, 'state', 'live', name, 'cert.pem')));
    return Date.parse(cert.validTo) - Date.parse(cert.validFrom);
  };
  assert.ok(Math.abs(lifetime('short') - 6 * DAY) < DAY / 24, `short lives ~6 days, not ${lifetime('short') / DAY}`);
  assert.ok(Math.abs(lifetime('normal') - 90 * DAY) < DAY, `normal lives ~90 days, not ${lifetime('normal') / DAY}`);

  // The next run fetches ARI (nothing due yet) and persists the window and a time inside it.
  const renew = await runCli(['renew', '--config', config]);
  assert.equal(renew.code, 0, renew.stdout + renew.stderr);
  assert.match(renew.stdout, /^not-due +normal/m);
  for (const name of ['normal', 'short']) {
    const state = await store.loadState(name);
    const stored = await store.load(name);
    assert.ok(state.ari, `${name}: ARI answer persisted`);
    assert.equal(state.ari.certId, stored?.metadata.ariCertId);
    const start = Date.parse(state.ari.windowStart);
    const end = Date.parse(state.ari.windowEnd);
    const selected = Date.parse(state.ari.selectedTime);
    assert.ok(start < end && selected >= start && selected <= end, `${name}: selected time inside the window`);
    assert.ok(end < Date.parse(stored?.metadata.notAfter ?? ''), `${name}: window ends before expiry`);
  }

  // A second run does not fetch ARI again before its Retry-After.
  const countBefore = proxy.requests.total;
  assert.equal((await runCli(['renew', '--config', config])).code, 0);
  assert.equal(proxy.requests.total, countBefore, 'nothing-due renew sends no request before ARI Retry-After');

  // The first orders replaced nothing.
  const newOrders = (from: number): { status: number; problem?: string; payload: { replaces?: string; profile?: string } }[] =>
    proxy.requests.log
      .slice(from)
      .filter((e) => e.kind === 'POST /order-plz')
      .map((e) => ({ status: e.status, ...(e.problem ? { problem: e.problem } : {}), payload: (e.jws?.payload ?? {}) as { replaces?: string; profile?: string } }));
  assert.deepEqual(newOrders(0).filter((o) => o.status === 201).map((o) => o.payload.replaces), [undefined, undefined], 'the first orders carry no replaces');

  // Forced renewal: the newOrder the CA received carries `replaces` = the old certificate's ARI
  // certID (RFC 9773 §4.1, computed here from the certificate file with openssl), Pebble accepts
  // it, and the profile is kept.
  const oldCertFile = join(dir, 'state', 'live', 'short', 'cert.pem');
  const expectedCertId = ariCertId(oldCertFile);
  const mark = proxy.requests.log.length;
  const forced = await runCli(['renew', '--force', '--name', 'short', '--config', config]);
  assert.equal(forced.code, 0, forced.stdout + forced.stderr);
  const sent = newOrders(mark);
  const [order, ...more] = sent.filter((o) => o.status === 201);
  assert.equal(more.length, 0, 'one new order');
  assert.equal(sent[0]?.payload.replaces, expectedCertId, 'the first order sent replaces the old certificate');
  if (!pebbleFindsReplaced(expectedCertId)) {
    t.diagnostic(`Pebble cannot find serial ${expectedCertId.split('.')[1]} (DER content starting with 00): ordered again without replaces`);
    assert.equal(order?.payload.replaces, undefined, 'the order placed after the refusal carries no replaces');
    assert.match(forced.stdout + forced.stderr, /CA refused replaces; ordering without it/);
  } else {
    assert.equal(order?.payload.replaces, expectedCertId, 'the order the CA accepted replaces the old certificate');
    assert.ok(sent.filter((o) => o.status !== 201).every((o) => o.problem === 'urn:ietf:params:acme:error:badNonce'), 'the CA refused nothing but nonces');
  }
  assert.equal(order?.payload.profile, 'shortlived', 'the order the CA received asks for the same profile');
  const renewed = await store.load('short');
  assert.equal(renewed?.version, 2);
  assert.equal(renewed?.metadata.profile, 'shortlived');
  assert.ok(Math.abs(lifetime('short') - 6 * DAY) < DAY / 24, 'still a 6-day certificate');

  // A profile the CA does not offer: a clear error listing the offered ones.
  const badConfig = await writeConfig(await tempDir(), {
    directoryUrl: pebble.directoryUrl,
    httpPort: pebble.httpPort,
    certificates: [{ name: 'bad', domains: ['bad.ari.test'], profile: 'nonesuch' }],
  });
  const bad = await runCli(['issue', '--config', badConfig]);
  assert.equal(bad.code, 1);
  assert.match(bad.stdout, /ERR_ACME_PROFILE_UNKNOWN/);
  assert.match(bad.stdout, /shortlived/);
});
