// The route53 provider against the Route 53 emulator (python3-moto, DESIGN.md §5): the DNS provider
// contract (other values kept, idempotent, cancellable), the zone found by longest suffix among
// nested zones, and the plug-in built from its config with credentials from the SDK's chain.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ChangeResourceRecordSetsCommand, CreateHostedZoneCommand, ListResourceRecordSetsCommand, Route53Client } from '@aws-sdk/client-route-53';
import { Route53DnsProvider } from '../../src/challenges/dns01/providers/route53/route53-dns-provider.js';
import { systemClock } from '../../src/clock.js';
import { silentLogger } from '../../src/logger.js';
import { findPlugin } from '../../src/plugins/registry.js';
import { dnsProviderContract } from '../../src/testing/dns-provider-contract.js';
import { requireMoto, startMoto, type MotoInstance } from '../harness/moto.js';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { motoPythonPath } from '../harness/moto.js';

// The SDK's default chain takes these from the environment, as in the deck's dev flow.
process.env.AWS_ACCESS_KEY_ID = 'testing';
process.env.AWS_SECRET_ACCESS_KEY = 'testing';
delete process.env.AWS_PROFILE;

const haveMoto = existsSync(join(motoPythonPath, 'moto', 'server.py'));
let moto: MotoInstance | undefined;
let client: Route53Client | undefined;
const zoneIds = new Map<string, string>();

before(async () => {
  if (!haveMoto) return;
  moto = await startMoto();
  client = new Route53Client({ region: 'us-east-1', endpoint: moto.endpoint });
  for (const name of ['moto.test', 'sub.moto.test']) {
    const out = await client.send(new CreateHostedZoneCommand({ Name: name, CallerReference: `${name}-${Date.now()}` }));
    zoneIds.set(name, (out.HostedZone?.Id ?? '').replace('/hostedzone/', ''));
  }
});
after(async () => {
  client?.destroy();
  await moto?.stop();
});

async function readTxt(fqdn: string): Promise<string[]> {
  assert.ok(client);
  const out = await client.send(new ListResourceRecordSetsCommand({ HostedZoneId: zoneIds.get('moto.test'), StartRecordName: fqdn, StartRecordType: 'TXT', MaxItems: 1 }));
  const set = (out.ResourceRecordSets ?? []).find((s) => s.Name === fqdn && s.Type === 'TXT');
  return (set?.ResourceRecords ?? []).map((r) => (r.Value ?? '').replace(/^"|"$/g, ''));
}

function provider(hostedZoneId?: string): Route53DnsProvider {
  assert.ok(moto);
  return new Route53DnsProvider({
    client: new Route53Client({ region: 'us-east-1', endpoint: moto.endpoint, maxAttempts: 1 }),
    ...(hostedZoneId ? { hostedZoneId } : {}),
    clock: systemClock,
    pollMs: 100,
  });
}

if (haveMoto) {
  dnsProviderContract('route53 (moto emulator)', async () => ({
    provider: provider(zoneIds.get('moto.test')),
    names: ['_acme-challenge.a.moto.test.', '_acme-challenge.b.moto.test.'],
    readTxt,
    seed: async (fqdn, value) => {
      assert.ok(client);
      await client.send(new ChangeResourceRecordSetsCommand({
        HostedZoneId: zoneIds.get('moto.test'),
        ChangeBatch: { Changes: [{ Action: 'UPSERT', ResourceRecordSet: { Name: fqdn, Type: 'TXT', TTL: 60, ResourceRecords: [{ Value: `"${value}"` }] } }] },
      }));
    },
  }));
} else {
  void test('route53 (moto emulator) contract', (t) => {
    requireMoto(t);
  });
}

void test('route53: the zone is the longest suffix; the plug-in takes credentials from the SDK chain', { timeout: 60_000 }, async (t) => {
  if (!requireMoto(t) || !moto) return;
  const p = provider();
  assert.equal(await p.zoneFor('_acme-challenge.www.sub.moto.test.'), zoneIds.get('sub.moto.test'));
  assert.equal(await p.zoneFor('_acme-challenge.moto.test.'), zoneIds.get('moto.test'));
  const plugin = findPlugin('route53');
  assert.ok(plugin);
  const made = (await plugin.create(plugin.schema.parse({ endpoint: moto.endpoint }), { name: 'aws', logger: silentLogger, clock: systemClock, baseDir: '/', stateDir: '/' })) as Route53DnsProvider;
  await made.addTxtRecord({ fqdn: '_acme-challenge.moto.test.', value: 'through-the-plugin', ttl: 60 }, {});
  assert.deepEqual(await readTxt('_acme-challenge.moto.test.'), ['through-the-plugin']);
  await made.removeTxtRecord({ fqdn: '_acme-challenge.moto.test.', value: 'through-the-plugin' }, {});
  assert.deepEqual(await readTxt('_acme-challenge.moto.test.'), []);
});

test('dns-account-01 through route53: the value at the account label name, another value there kept; a TXT value over 255 characters reads back whole', async (t) => {
  if (!requireMoto(t)) return;
  const { Dns01Solver } = await import('../../src/challenges/dns01/dns01-solver.js');
  const { dnsAccountRecordName } = await import('../../src/challenges/dns01/account-label.js');
  const r53 = provider(zoneIds.get('moto.test'));
  const fqdn = dnsAccountRecordName('https://ca.test/acct/42', 'acct.moto.test');
  await r53.addTxtRecord({ fqdn, value: 'another-accounts-clusters-value', ttl: 60 }, {});
  const solver = new Dns01Solver({ provider: r53, type: 'dns-account-01' });
  const challenge = {
    type: 'dns-account-01' as const,
    identifier: { type: 'dns' as const, value: 'acct.moto.test' },
    wildcard: true,
    url: 'https://ca.test/chall/a1',
    token: 'tok',
    keyAuthorization: 'tok.thumb',
    dnsRecordName: fqdn,
    dnsValue: 'v'.repeat(43),
  };
  await solver.present(challenge, {});
  assert.deepEqual((await r53.listTxtValues(fqdn, {})).sort(), ['another-accounts-clusters-value', 'v'.repeat(43)]);
  await solver.cleanUp(challenge, {});
  assert.deepEqual(await r53.listTxtValues(fqdn, {}), ['another-accounts-clusters-value'], 'cleanup removed only its own value');

  const long = `ca.test; accounturi=https://ca.test/account-hash/sha-256/${'x'.repeat(260)}; policy=wildcard`;
  await r53.addTxtRecord({ fqdn: '_validation-persist.moto.test.', value: long, ttl: 60 }, {});
  assert.deepEqual(await r53.listTxtValues('_validation-persist.moto.test.', {}), [long]);
  await r53.removeTxtRecord({ fqdn: '_validation-persist.moto.test.', value: long }, {});
});
