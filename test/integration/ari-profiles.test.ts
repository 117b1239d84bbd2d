// ARI (RFC 9773) and ACME profiles against Pebble 2.10: the renewal window is fetched and
// persisted with a chosen time inside it, renewals send `replaces` and the CA accepts it, and the
// `shortlived` profile gives a ~6-day certificate whose profile is kept on renewal.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { FilesystemCertificateStore } from '../../src/storage/filesystem/filesystem-certificate-store.js';
import { runCli, startCliScenario, tempDir, writeConfig } from '../harness/certpilot.js';
import { requirePebble } from '../harness/servers.js';

const DAY = 86_400_000;

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

  // Forced renewal: the order carries `replaces` (Pebble accepts it) and the profile is kept.
  const old = await store.load('short');
  const forced = await runCli(['renew', '--force', '--name', 'short', '--config', config]);
  assert.equal(forced.code, 0, forced.stdout + forced.stderr);
  const renewed = await store.load('short');
  assert.equal(renewed?.version, 2);
  assert.equal(renewed?.metadata.replaces, old?.metadata.ariCertId, 'the new order replaced the old certificate');
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
