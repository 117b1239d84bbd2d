// The rfc2136 provider against a real Knot DNS (Debian knot) with a TSIG key: the DNS provider
// contract, and a name outside the key's ACL refused with a clear error. BIND has its own file.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { Rfc2136DnsProvider } from '../../src/challenges/dns01/providers/rfc2136/rfc2136-dns-provider.js';
import { systemClock } from '../../src/clock.js';
import { CertpilotError } from '../../src/errors.js';
import { dnsProviderContract } from '../../src/testing/dns-provider-contract.js';
import { makeBindKey, tsigKey } from '../harness/bind.js';
import { knotdBinary, startKnot, type KnotInstance } from '../harness/knot.js';
import { resolveBinary } from '../harness/paths.js';
import { requireServer } from '../harness/servers.js';

const ZONE = 'knot.test';
const NAMES = ['_acme-challenge.a.knot.test', '_acme-challenge.b.knot.test'];
let knot: Promise<KnotInstance> | undefined;
const started = (): Promise<KnotInstance> => (knot ??= startKnot({ zone: ZONE, updateNames: NAMES, key: makeBindKey('certpilot-knot', 'hmac-sha512') }));
after(async () => {
  if (knot) await (await knot).stop();
});

function provider(k: KnotInstance): Rfc2136DnsProvider {
  return new Rfc2136DnsProvider({ server: k.server, key: tsigKey(k.key), clock: systemClock, timeoutMs: 2000 });
}

if (resolveBinary(knotdBinary) !== undefined) {
  dnsProviderContract('rfc2136 (Knot DNS, hmac-sha512)', async () => {
    const k = await started();
    return { provider: provider(k), names: NAMES.map((n) => `${n}.`), readTxt: (fqdn) => k.txt(fqdn) };
  });
}

void test('rfc2136 (Knot DNS): a name outside the ACL is refused (Knot says NOTAUTH with BADKEY) with a clear error; the zone is found through SOA', { timeout: 30_000 }, async (t) => {
  if (!requireServer(t, knotdBinary, 'Debian package knot; run `bash scripts/setup.sh`')) return;
  const k = await started();
  assert.equal(await provider(k).findZone('_acme-challenge.a.knot.test.'), 'knot.test.');
  await assert.rejects(provider(k).addTxtRecord({ fqdn: '_acme-challenge.other.knot.test.', value: 'x', ttl: 60 }, {}), (err: unknown) => {
    assert.ok(err instanceof CertpilotError);
    assert.equal(err.code, 'ERR_DNS_TSIG_REJECTED');
    assert.match(err.message, /adding TXT _acme-challenge\.other\.knot\.test\. .*: BADKEY: .*or its ACL does not let that key update this name/);
    return true;
  });
  assert.deepEqual(await k.txt('_acme-challenge.other.knot.test.'), []);
});
