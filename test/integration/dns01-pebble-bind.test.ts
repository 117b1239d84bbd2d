// dns-01 end to end through the Issuer: real Pebble 2.4 resolving through a real BIND 9 (its
// `-dnsserver`), the rfc2136 provider writing with a TSIG key, the propagation check asking the
// zone's nameserver directly. A wildcard plus apex certificate; the same through a CNAME delegated
// into a second zone (the TXT records land in the validation zone only); the names of one order
// presented at once; the CA told only after the nameservers serve the values; nothing left after.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { parseCertificate } from '../../src/acme/certificate.js';
import { Issuer } from '../../src/acme/issuer.js';
import { createDns01Solver, dns01OptionsShape } from '../../src/challenges/dns01/dns01-options.js';
import type { DnsCallOptions, DnsProvider, TxtRecord } from '../../src/challenges/dns01/dns-provider.js';
import { formatDnsServer } from '../../src/challenges/dns01/dns-client.js';
import { Rfc2136DnsProvider } from '../../src/challenges/dns01/providers/rfc2136/rfc2136-dns-provider.js';
import { systemClock } from '../../src/clock.js';
import * as z from 'zod/mini';
import { startBind, tsigKey, type BindInstance, namedBinary } from '../harness/bind.js';
import { resolveBinary } from '../harness/paths.js';
import { accountClientRecordingChallenges, startPebble, type PebbleInstance } from '../harness/pebble.js';
import { requirePebble, requireServer } from '../harness/servers.js';

/** Records every call and waits until `expected` adds are in flight at once (or 10 s), then goes on. */
class RecordingProvider implements DnsProvider {
  readonly events: string[];
  inFlight = 0;
  maxInFlight = 0;
  private waiters: (() => void)[] = [];
  constructor(private readonly inner: DnsProvider, events: string[], private readonly expected: number) {
    this.events = events;
  }
  async addTxtRecord(record: TxtRecord, options: DnsCallOptions): Promise<void> {
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    this.events.push(`add ${record.fqdn}`);
    if (this.inFlight >= this.expected) for (const w of this.waiters.splice(0)) w();
    else await new Promise<void>((resolve) => {
      this.waiters.push(resolve);
      setTimeout(resolve, 10_000).unref();
    });
    try {
      await this.inner.addTxtRecord(record, options);
    } finally {
      this.inFlight--;
    }
  }
  async removeTxtRecord(record: Omit<TxtRecord, 'ttl'>, options: DnsCallOptions): Promise<void> {
    this.events.push(`remove ${record.fqdn}`);
    await this.inner.removeTxtRecord(record, options);
  }
}

describe('dns-01 through rfc2136 against Pebble 2.4 and BIND 9', { timeout: 120_000 }, () => {
  let bind: BindInstance | undefined;
  let pebble: PebbleInstance | undefined;
  let resolver: BindInstance | undefined;

  before(async () => {
    // Without the servers each test skips loudly (or fails under CERTPILOT_REQUIRE_SERVERS).
    if (resolveBinary(namedBinary) === undefined || resolveBinary('pebble') === undefined) return;
    bind = await startBind({
      zones: [
        { name: 'dns01.test', records: ['@ A 127.0.0.1', '* A 127.0.0.1'], updateNames: ['_acme-challenge.dns01.test'] },
        // _acme-challenge of this zone is delegated into validation.test; the key may not write here at all.
        { name: 'delegated.test', records: ['@ A 127.0.0.1', '_acme-challenge CNAME _acme-challenge.delegated.validation.test.'] },
        { name: 'validation.test', updateNames: ['_acme-challenge.delegated.validation.test'] },
      ],
    });
    // The CA resolves through its own recursive resolver (which follows the CNAME across zones), as a
    // real CA does; certpilot's lookups (split horizon: `resolvers`) go to the authoritative server.
    // Sharing one caching resolver would let certpilot's look-up of the CNAME target before the
    // TXT record exists put an NXDOMAIN into the CA's negative cache (RFC 2308 §5).
    resolver = await startBind({ zones: [], forward: { zones: ['dns01.test', 'delegated.test', 'validation.test'], to: bind.server } });
    pebble = await startPebble({ version: '2.4', noSleep: true, authzReuse: 0, dnsServer: formatDnsServer(resolver.server) });
  });
  after(async () => {
    await pebble?.stop();
    await resolver?.stop();
    await bind?.stop();
  });

  async function issue(base: string): Promise<{ names: string[]; events: string[]; provider: RecordingProvider }> {
    assert.ok(bind && pebble);
    const events: string[] = [];
    const client = await accountClientRecordingChallenges(pebble, events);
    const inner = new Rfc2136DnsProvider({
      server: bind.server,
      key: tsigKey(bind.key),
      clock: systemClock,
    });
    const provider = new RecordingProvider(inner, events, 2);
    const options = z.object(dns01OptionsShape()).parse({ resolvers: [formatDnsServer(bind.server)], nameserverPort: bind.server.port, propagationTimeoutSeconds: 20 });
    const solver = await createDns01Solver(provider, options, {
      logger: (await import('../../src/logger.js')).silentLogger,
      clock: systemClock,
      onProgress: (p) => events.push(`propagated ${p.fqdn} ${p.waiting.length === 0 ? 'all' : `${p.ready.length}/${p.ready.length + p.waiting.length}`}`),
    });
    try {
      const issued = await new Issuer({ client }).issue({
        identifiers: [{ type: 'dns', value: `*.${base}` }, { type: 'dns', value: base }],
        keyType: 'ec-p256',
        solvers: new Map([[`*.${base}`, solver], [base, solver]]),
      });
      return { names: parseCertificate(issued.certPem).dnsNames.sort(), events, provider };
    } finally {
      client.close();
    }
  }

  function assertOrder(events: string[], fqdn: string): void {
    const adds = events.map((e, i) => (e === `add ${fqdn}` ? i : -1)).filter((i) => i >= 0);
    const propagated = events.map((e, i) => (e === `propagated ${fqdn} all` ? i : -1)).filter((i) => i >= 0);
    const told = events.map((e, i) => (e === 'CA told' ? i : -1)).filter((i) => i >= 0);
    assert.equal(adds.length, 2, `two values written at ${fqdn}: ${events.join(' | ')}`);
    assert.equal(told.length, 2, 'the CA is told once per authorization');
    assert.equal(propagated.length, 2, 'each value is checked at the nameservers');
    // Each "CA told" comes after a completed propagation check; the first check only after both adds started.
    assert.ok(Math.min(...propagated) > Math.min(...adds));
    for (const [i, t] of told.sort((a, b) => a - b).entries()) assert.ok(t > (propagated.sort((a, b) => a - b)[i] as number), events.join(' | '));
  }

  test('a wildcard plus apex certificate; both names presented at once; nothing left afterwards', async (t) => {
    if (!requireServer(t, namedBinary, 'Debian package bind9') || !requirePebble(t, '2.4') || !bind) return;
    const { names, events, provider } = await issue('dns01.test');
    assert.deepEqual(names, ['*.dns01.test', 'dns01.test']);
    assert.equal(provider.maxInFlight, 2, 'the wildcard and the apex were presented in parallel');
    assertOrder(events, '_acme-challenge.dns01.test.');
    assert.deepEqual(await bind.txt('_acme-challenge.dns01.test.'), [], 'every TXT value removed');
  });

  test('the same through a CNAME delegated into a second zone: written at the target only', async (t) => {
    if (!requireServer(t, namedBinary, 'Debian package bind9') || !requirePebble(t, '2.4') || !bind) return;
    const { names, events } = await issue('delegated.test');
    assert.deepEqual(names, ['*.delegated.test', 'delegated.test']);
    assertOrder(events, '_acme-challenge.delegated.validation.test.');
    assert.ok(!events.some((e) => e.includes('add _acme-challenge.delegated.test.')), 'nothing written at the CNAME owner');
    assert.deepEqual(await bind.txt('_acme-challenge.delegated.validation.test.'), []);
  });
});
