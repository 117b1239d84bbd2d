// Propagation with a primary and a late secondary: real BIND 9 primary on 127.0.0.1 and secondary
// on ::1 (same port, so one NS set over IPv4 and IPv6), NOTIFY off and a 3 s refresh, so the
// secondary serves the update seconds after the primary. Pebble 2.4 resolves through a resolver
// that asks the secondary only: telling the CA before the secondary has the value would fail the
// order. The check waits for both, and the CA is told only after (the order of events).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { parseCertificate } from '../../src/acme/certificate.js';
import { Issuer } from '../../src/acme/issuer.js';
import { formatDnsServer, query } from '../../src/challenges/dns01/dns-client.js';
import { createDns01Solver, dns01OptionsShape } from '../../src/challenges/dns01/dns01-options.js';
import { Rfc2136DnsProvider } from '../../src/challenges/dns01/providers/rfc2136/rfc2136-dns-provider.js';
import { systemClock } from '../../src/clock.js';
import { CertpilotError } from '../../src/errors.js';
import { PropagationChecker } from '../../src/challenges/dns01/propagation.js';
import { silentLogger } from '../../src/logger.js';
import * as z from 'zod/mini';
import { makeBindKey, startBind, tsigKey, type BindInstance, namedBinary } from '../harness/bind.js';
import { resolveBinary } from '../harness/paths.js';
import { accountClientRecordingChallenges, startPebble, type PebbleInstance } from '../harness/pebble.js';
import { requirePebble, requireServer } from '../harness/servers.js';

const ZONE = 'late.test';

describe('propagation: a primary and a secondary that gets the update late', { timeout: 120_000 }, () => {
  let primary: BindInstance | undefined;
  let secondary: BindInstance | undefined;
  let resolver: BindInstance | undefined;
  let pebble: PebbleInstance | undefined;

  before(async () => {
    // Without the servers each test skips loudly (or fails under CERTPILOT_REQUIRE_SERVERS).
    if (resolveBinary(namedBinary) === undefined || resolveBinary('pebble') === undefined) return;
    const key = makeBindKey();
    const nameservers = [{ name: 'ns1', address: '127.0.0.1' }, { name: 'ns2', address: '::1' }];
    primary = await startBind({
      key,
      notify: false,
      zones: [{ name: ZONE, nameservers, refreshSeconds: 3, records: ['@ A 127.0.0.1'], updateNames: [`_acme-challenge.${ZONE}`] }],
    });
    secondary = await startBind({ key, address: '::1', port: primary.server.port, zones: [{ name: ZONE, refreshSeconds: 3, secondaryOf: primary.server }] });
    // The secondary has the zone once it answers its SOA.
    for (let i = 0; i < 100; i++) {
      const soa = await query(secondary.server, ZONE, 'SOA', { recursive: false }).catch(() => undefined);
      if (soa?.rcode === 'NOERROR' && (soa.answers ?? []).length > 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    resolver = await startBind({ zones: [], forward: { zones: [ZONE], to: secondary.server } });
    pebble = await startPebble({ version: '2.4', noSleep: true, authzReuse: 0, dnsServer: formatDnsServer(resolver.server) });
  });
  after(async () => {
    await pebble?.stop();
    await resolver?.stop();
    await secondary?.stop();
    await primary?.stop();
  });

  test('the check waits for both nameservers, then the CA is told', async (t) => {
    if (!requireServer(t, namedBinary, 'Debian package bind9') || !requirePebble(t, '2.4') || !primary || !secondary || !pebble) return;
    const events: string[] = [];
    const client = await accountClientRecordingChallenges(pebble, events);
    t.after(() => client.close());
    const provider = new Rfc2136DnsProvider({
      server: primary.server,
      key: tsigKey(primary.key),
      clock: systemClock,
    });
    const options = z.object(dns01OptionsShape()).parse({ resolvers: [formatDnsServer(primary.server)], nameserverPort: primary.server.port, propagationTimeoutSeconds: 60 });
    const solver = await createDns01Solver(provider, options, {
      logger: silentLogger,
      clock: systemClock,
      onProgress: (p) =>
        events.push(`check: ready ${p.ready.map((s) => s.server.host).sort().join(',') || '-'}; waiting ${p.waiting.map((w) => w.server.server.host).sort().join(',') || '-'}`),
    });
    const issued = await new Issuer({ client }).issue({ identifiers: [{ type: 'dns', value: ZONE }], keyType: 'ec-p256', solvers: new Map([[ZONE, solver]]) });
    assert.deepEqual(parseCertificate(issued.certPem).dnsNames, [ZONE]);

    t.diagnostic(`events: ${events.join(' | ')}`);
    assert.equal(events[0], 'check: ready 127.0.0.1; waiting ::1', 'first round: the primary has it, the secondary not yet');
    const allReady = events.indexOf('check: ready 127.0.0.1,::1; waiting -');
    assert.ok(allReady > 0, 'a later round sees both');
    assert.deepEqual(events.slice(allReady), ['check: ready 127.0.0.1,::1; waiting -', 'CA told'], 'the CA is told only after both serve it');
    assert.ok(events.slice(1, allReady).every((e) => e === 'check: ready 127.0.0.1; waiting ::1'));
  });
});

void test('a secondary that never gets the update: the timeout names it', { timeout: 60_000 }, async (t) => {
  if (!requireServer(t, namedBinary, 'Debian package bind9')) return;
  const key = makeBindKey();
  const zone = 'stale.test';
  const primary = await startBind({
    key,
    notify: false,
    zones: [{ name: zone, nameservers: [{ name: 'ns1', address: '127.0.0.1' }, { name: 'ns2', address: '::1' }], updateNames: [`_acme-challenge.${zone}`] }],
  });
  t.after(() => primary.stop());
  const secondary = await startBind({ key, address: '::1', port: primary.server.port, zones: [{ name: zone, secondaryOf: primary.server }] });
  t.after(() => secondary.stop());
  for (let i = 0; i < 100; i++) {
    const soa = await query(secondary.server, zone, 'SOA', { recursive: false }).catch(() => undefined);
    if (soa?.rcode === 'NOERROR' && (soa.answers ?? []).length > 0) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const provider = new Rfc2136DnsProvider({
    server: primary.server,
    key: tsigKey(key),
    clock: systemClock,
  });
  // The default level (warn) of the CLI: what a user sees during the wait.
  const logged: string[] = [];
  const logger = pino({ level: 'warn', base: undefined }, new Writable({ write: (chunk: Buffer, _e, cb) => void (logged.push(chunk.toString('utf8')), cb()) }));
  const checker = new PropagationChecker({ resolvers: [primary.server], nameserverPort: primary.server.port, timeoutMs: 1500, pollMs: 500, clock: systemClock, logger });
  const fqdn = `_acme-challenge.${zone}.`;
  await provider.addTxtRecord({ fqdn, value: 'never-transferred', ttl: 60 }, {});
  await assert.rejects(checker.waitFor(fqdn, 'never-transferred'), (err: unknown) => {
    assert.ok(err instanceof CertpilotError);
    assert.equal(err.code, 'ERR_DNS_PROPAGATION_TIMEOUT');
    assert.match(err.message, new RegExp(`not served by 1 of 2 nameserver\\(s\\) of stale\\.test\\. after 2 s: ns2\\.stale\\.test\\. \\[::1\\]:${primary.server.port} \\((NXDOMAIN|no TXT yet)\\)`));
    return true;
  });
  const said = logged.filter((l) => l.includes('still waiting'));
  assert.equal(said.length, 1, `one "still waiting" line at the default level:\n${logged.join('')}`);
  assert.match(said[0] ?? '', /still waiting after \d+ s for 1 of 2 nameserver\(s\) of stale\.test\. to serve TXT _acme-challenge\.stale\.test\.: ns2\.stale\.test\. .*; giving up at \d{4}-/);
  await provider.removeTxtRecord({ fqdn, value: 'never-transferred' }, {});
});
