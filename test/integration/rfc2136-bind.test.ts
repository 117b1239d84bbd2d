// The rfc2136 provider against a real BIND 9 with a TSIG key: the DNS provider contract (other
// values kept, idempotent, cancellable) with hmac-sha256 and hmac-sha512, zone found through SOA,
// and the errors a user meets: a wrong secret, an unknown key, a name outside the update policy.
import assert from 'node:assert/strict';
import { test, after } from 'node:test';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Rfc2136DnsProvider } from '../../src/challenges/dns01/providers/rfc2136/rfc2136-dns-provider.js';
import { findPlugin } from '../../src/plugins/registry.js';
import { CertpilotError } from '../../src/errors.js';
import { systemClock } from '../../src/clock.js';
import { silentLogger } from '../../src/logger.js';
import { dnsProviderContract } from '../../src/testing/dns-provider-contract.js';
import { tempDir } from '../../src/testing/temp-dir.js';
import { makeBindKey, startBind, tsigKey, type BindInstance, type BindKey, namedBinary } from '../harness/bind.js';
import { resolveBinary } from '../harness/paths.js';
import { requireServer } from '../harness/servers.js';

const ZONE = 'rfc2136.test';
const NAMES = ['_acme-challenge.a.rfc2136.test', '_acme-challenge.b.rfc2136.test', '_acme-challenge.rfc2136.test'];
const haveNamed = resolveBinary(namedBinary) !== undefined;
const servers = new Map<string, Promise<BindInstance>>();

function bindWith(key: BindKey): Promise<BindInstance> {
  let started = servers.get(key.algorithm);
  if (!started) {
    started = startBind({ key, zones: [{ name: ZONE, updateNames: NAMES, records: ['other TXT "not ours"'] }] });
    servers.set(key.algorithm, started);
  }
  return started;
}
after(async () => {
  for (const s of servers.values()) await (await s).stop();
});

function provider(bind: BindInstance, key: BindKey = bind.key): Rfc2136DnsProvider {
  return new Rfc2136DnsProvider({
    server: bind.server,
    key: tsigKey(key),
    clock: systemClock,
    timeoutMs: 2000,
  });
}

for (const algorithm of ['hmac-sha256', 'hmac-sha512'] as const) {
  if (!haveNamed) {
    void test(`rfc2136 ${algorithm} contract`, (t) => {
      requireServer(t, namedBinary, 'Debian package bind9; run `bash scripts/setup.sh`');
    });
    continue;
  }
  const key = makeBindKey(`certpilot-${algorithm}`, algorithm);
  dnsProviderContract(`rfc2136 (BIND 9, ${algorithm})`, async () => {
    const bind = await bindWith(key);
    return { provider: provider(bind), names: NAMES.map((n) => `${n}.`), readTxt: (fqdn) => bind.txt(fqdn) };
  });
}

void test('rfc2136: the zone is found through SOA, and the plug-in reads the secret from a file', { timeout: 30_000 }, async (t) => {
  if (!requireServer(t, namedBinary, 'Debian package bind9')) return;
  const bind = await bindWith(makeBindKey('certpilot-hmac-sha256', 'hmac-sha256'));
  assert.equal(await provider(bind).findZone('_acme-challenge.deep.a.rfc2136.test.'), 'rfc2136.test.');
  const dir = await tempDir();
  const secretFile = join(dir, 'tsig.key');
  await writeFile(secretFile, `key "${bind.key.name}" {\n  algorithm ${bind.key.algorithm};\n  secret "${bind.key.secret}";\n};\n`, { mode: 0o600 });
  const plugin = findPlugin('rfc2136');
  assert.ok(plugin);
  const options = plugin.schema.parse({ server: bind.server.host, port: bind.server.port, keyName: bind.key.name, secretFile: 'tsig.key' });
  const made = (await plugin.create(options, { name: 'dns', logger: silentLogger, clock: systemClock, baseDir: dir, stateDir: dir })) as Rfc2136DnsProvider;
  await made.addTxtRecord({ fqdn: `${NAMES[0]}.`, value: 'from-secret-file', ttl: 60 }, {});
  assert.deepEqual(await bind.txt(`${NAMES[0]}.`), ['from-secret-file']);
  await made.removeTxtRecord({ fqdn: `${NAMES[0]}.`, value: 'from-secret-file' }, {});
  assert.deepEqual(await bind.txt('other.rfc2136.test.'), ['not ours'], 'records of other names are untouched');
});

void test('rfc2136: a wrong secret is BADSIG, an unknown key BADKEY, a name outside the policy REFUSED', { timeout: 30_000 }, async (t) => {
  if (!requireServer(t, namedBinary, 'Debian package bind9')) return;
  const bind = await bindWith(makeBindKey('certpilot-hmac-sha256', 'hmac-sha256'));
  const record = { fqdn: `${NAMES[0]}.`, value: 'x'.repeat(43), ttl: 60 };

  const wrongSecret = provider(bind, { ...bind.key, secret: makeBindKey().secret });
  await assert.rejects(wrongSecret.addTxtRecord(record, {}), (err: unknown) => {
    assert.ok(err instanceof CertpilotError);
    assert.equal(err.code, 'ERR_DNS_TSIG_REJECTED');
    assert.match(err.message, /BADSIG: the signature made with key certpilot-hmac-sha256\. does not verify/);
    assert.ok(!err.message.includes(bind.key.secret), 'the secret is never in a message');
    return true;
  });

  const unknownKey = provider(bind, { ...bind.key, name: 'nobody' });
  await assert.rejects(unknownKey.addTxtRecord(record, {}), (err: unknown) => {
    assert.ok(err instanceof CertpilotError);
    assert.equal(err.code, 'ERR_DNS_TSIG_REJECTED');
    assert.match(err.message, /BADKEY: the server does not know key nobody\. with algorithm hmac-sha256/);
    return true;
  });

  await assert.rejects(provider(bind).addTxtRecord({ ...record, fqdn: '_acme-challenge.not-granted.rfc2136.test.' }, {}), (err: unknown) => {
    assert.ok(err instanceof CertpilotError);
    assert.equal(err.code, 'ERR_DNS_UPDATE_REFUSED');
    assert.match(err.message, /REFUSED: key certpilot-hmac-sha256\. may not change TXT _acme-challenge\.not-granted\.rfc2136\.test\./);
    assert.match(err.hint, /grant certpilot-hmac-sha256\. name _acme-challenge\.not-granted\.rfc2136\.test\. TXT/);
    return true;
  });
  assert.deepEqual(await bind.txt(`${NAMES[0]}.`), [], 'nothing was written by the refused updates');
});
