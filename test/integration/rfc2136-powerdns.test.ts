// The rfc2136 provider against a real PowerDNS Authoritative Server (Debian pdns-server, SQLite
// backend) with a TSIG key: the DNS provider contract, and a key PowerDNS does not know refused
// with a clear error.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { Rfc2136DnsProvider } from '../../src/challenges/dns01/providers/rfc2136/rfc2136-dns-provider.js';
import { systemClock } from '../../src/clock.js';
import { CertpilotError } from '../../src/errors.js';
import { dnsProviderContract } from '../../src/testing/dns-provider-contract.js';
import { makeBindKey, tsigKey } from '../harness/bind.js';
import { havePowerDns, pdnsBinary, startPowerDns, type PowerDnsInstance } from '../harness/powerdns.js';
import { requireServer } from '../harness/servers.js';

let pdns: Promise<PowerDnsInstance> | undefined;
const started = (): Promise<PowerDnsInstance> => (pdns ??= startPowerDns({ zone: 'pdns.test', key: makeBindKey('certpilot-pdns', 'hmac-sha256') }));
after(async () => {
  if (pdns) await (await pdns).stop();
});

function provider(p: PowerDnsInstance, name = p.key.name): Rfc2136DnsProvider {
  return new Rfc2136DnsProvider({ server: p.server, key: tsigKey(p.key, name), clock: systemClock, timeoutMs: 2000 });
}

if (havePowerDns()) {
  dnsProviderContract('rfc2136 (PowerDNS)', async () => {
    const p = await started();
    return { provider: provider(p), names: ['_acme-challenge.a.pdns.test.', '_acme-challenge.b.pdns.test.'], readTxt: (fqdn) => p.txt(fqdn) };
  });
}

void test('rfc2136 (PowerDNS): an unknown key is refused with a clear error', { timeout: 30_000 }, async (t) => {
  if (!requireServer(t, pdnsBinary, 'Debian packages pdns-server, pdns-backend-sqlite3, sqlite3; run `bash scripts/setup.sh`')) return;
  const p = await started();
  await assert.rejects(provider(p, 'nobody').addTxtRecord({ fqdn: '_acme-challenge.a.pdns.test.', value: 'x', ttl: 60 }, {}), (err: unknown) => {
    assert.ok(err instanceof CertpilotError);
    assert.ok(['ERR_DNS_TSIG_REJECTED', 'ERR_DNS_UPDATE_REFUSED'].includes(err.code), err.code);
    assert.match(err.message, /adding TXT _acme-challenge\.a\.pdns\.test\. in zone pdns\.test\. on 127\.0\.0\.1:\d+: (BADKEY|REFUSED|NOTAUTH)/);
    return true;
  });
});
