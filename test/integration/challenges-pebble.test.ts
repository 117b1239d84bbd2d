// The three newer challenge types through the built CLI against Pebble 2.10, which validates
// dns-persist-01 (its `caaIdentities` are the issuer names), dns-account-01 and tls-alpn-01.
// Pebble resolves every name through one authoritative BIND 9 (TSIG-signed DNS UPDATE).
//
// - dns-persist-01: the record is published once (`dns-persist record --apply` through an rfc2136
//   solver), then a certificate (a name and its wildcard) is issued and renewed twice with a
//   configuration that holds no DNS credentials at all; the record is still there, untouched.
// - Bad dns-persist records (another account's, an old issuer's, one whose persistUntil passed)
//   and a tls-alpn-01 port already in use: each a clear error naming the record or the port and
//   the fix, and the CA is never told to validate (no challenge answered; authorizations
//   deactivated, so no order is left pending). The port in use fails before any order is placed,
//   so the certificate's http-01 and dns-account-01 names are not answered either.
// - dns-account-01: a wildcard and its base through rfc2136 at `_<label>._acme-challenge`, the
//   label from the account URL; another value at that name is kept.
// - tls-alpn-01 alone, and one certificate mixing http-01, dns-account-01 and tls-alpn-01 names.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, before, test, type TestContext } from 'node:test';
import { dnsAccountRecordName } from '../../src/challenges/dns01/account-label.js';
import { formatDnsServer } from '../../src/challenges/dns01/dns-client.js';
import { Rfc2136DnsProvider } from '../../src/challenges/dns01/providers/rfc2136/rfc2136-dns-provider.js';
import { systemClock } from '../../src/clock.js';
import { namedBinary, rfc2136Solver, startBind, tsigKey, writeTsigSecret, type BindInstance } from '../harness/bind.js';
import { runCli, tempDir, writeConfig, type TestCertificate } from '../harness/certpilot.js';
import { orderUrls, startFaultProxy, type FaultProxy } from '../harness/fault-proxy.js';
import { startPebble, type PebbleInstance } from '../harness/pebble.js';
import { requirePebble, requireServer } from '../harness/servers.js';

const ISSUER = 'ca.certpilot.test';
let bind: BindInstance | undefined;
let pebble: PebbleInstance | undefined;
let proxy: FaultProxy | undefined;

before(async () => {
  bind = await startBind({
    zones: [
      { name: 'persist.test', records: ['@ A 127.0.0.1', '* A 127.0.0.1'], updateNames: ['_validation-persist.persist.test', '_validation-persist.replace.persist.test'] },
      {
        name: 'bad.test',
        records: [
          '* A 127.0.0.1',
          `_validation-persist.foreign TXT "${ISSUER}; accounturi=https://elsewhere.test/acct/9"`,
          '_validation-persist.stale TXT "old-ca.example; accounturi=https://elsewhere.test/acct/9"',
        ],
        updateNames: ['_validation-persist.expired.bad.test', '_validation-persist.long.bad.test'],
      },
      { name: 'acct.test', records: ['@ A 127.0.0.1', '* A 127.0.0.1'], updateSubdomains: ['_acme-challenge.acct.test'] },
      { name: 'mix.test', records: ['web A 127.0.0.1', 'alpn A 127.0.0.1', 'acct A 127.0.0.1'], updateSubdomains: ['_acme-challenge.acct.mix.test'] },
      { name: 'alpn.test', records: ['@ A 127.0.0.1', '_acme-challenge.cn CNAME _acme-challenge.acct.test.'] },
    ],
  });
  pebble = await startPebble({ version: '2.10', noSleep: true, authzReuse: 0, caaIdentities: [ISSUER], dnsServer: formatDnsServer(bind.server) });
  proxy = await startFaultProxy(pebble);
});

after(async () => {
  await proxy?.stop();
  await pebble?.stop();
  await bind?.stop();
});

/** Each name's challenge type, from the run's `authorization valid` log lines. */
function validatedBy(log: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of log.split('\n')) {
    if (!line.includes('authorization valid')) continue;
    const entry = JSON.parse(line) as { identifier: string; type: string };
    out[entry.identifier] = entry.type;
  }
  return out;
}

function ready(t: TestContext): boolean {
  return requireServer(t, namedBinary, 'Debian package bind9') && requirePebble(t, '2.10') && bind !== undefined && pebble !== undefined && proxy !== undefined;
}

/** The DNS solver options every solver here shares: BIND is both resolver and nameserver. */
function dnsOptions(b: BindInstance): Record<string, unknown> {
  return { resolvers: [formatDnsServer(b.server)], nameserverPort: b.server.port, propagationTimeoutSeconds: 10 };
}

/** An rfc2136 solver entry (the secret in `tsig.secret` of `dir`). */
async function rfc2136(dir: string, b: BindInstance, extra: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
  await writeTsigSecret(dir, b);
  return rfc2136Solver(b, { ...dnsOptions(b), ...extra });
}

async function config(dir: string, solvers: Record<string, Record<string, unknown>>, certificates: TestCertificate[]): Promise<string> {
  return writeConfig(dir, { directoryUrl: proxy?.directoryUrl ?? '', httpPort: pebble?.httpPort ?? 0, solvers, certificates });
}

async function leaf(dir: string, name: string): Promise<X509Certificate> {
  return new X509Certificate(await readFile(join(dir, 'state', 'live', name, 'cert.pem')));
}

const sans = (cert: X509Certificate): string[] => (cert.subjectAltName ?? '').split(', ').map((s) => s.replace(/^DNS:/, '')).sort();

async function accountUrl(cfg: string): Promise<string> {
  const show = await runCli(['account', 'show', '--json', '--config', cfg]);
  assert.equal(show.code, 0, show.stderr);
  return (JSON.parse(show.stdout) as { url: string }).url;
}

/**
 * What the CA was asked from `from` on in the proxy log: the challenges answered, the
 * authorizations deactivated, and the authorizations fetched that no earlier run had (distinct
 * URLs). Pebble reuses a valid authorization 1 time in 100 per name even at PEBBLE_AUTHZREUSE=0
 * (its check is `rand.Intn(100) > percent`): that name's authorization is an earlier one, or, when
 * every name's is, the order is ready at once and none is fetched.
 */
function caSaw(from: number): { answered: string[]; deactivated: string[]; fresh: string[] } {
  const all = proxy?.requests.log ?? [];
  const log = all.slice(from);
  const earlier = new Set(all.slice(0, from).map((e) => e.path));
  const posts = log.filter((e) => e.method === 'POST' && e.jws?.payload !== undefined);
  // Distinct URLs, not POSTs: Pebble rejects 5% of good nonces and the client repeats the POST.
  const distinct = (entries: typeof posts): string[] => [...new Set(entries.map((e) => e.path))];
  return {
    answered: distinct(posts.filter((e) => e.path.includes('/chalZ/'))),
    deactivated: distinct(posts.filter((e) => (e.jws?.payload as { status?: string }).status === 'deactivated')),
    fresh: [...new Set(log.filter((e) => e.path.includes('/authZ/') && !earlier.has(e.path)).map((e) => e.path))],
  };
}

test('dns-persist-01: the record published once, then issued and renewed twice with no DNS credentials configured', { timeout: 120_000 }, async (t) => {
  if (!ready(t) || !bind) return;
  const dir = await tempDir();
  const domains = ['persist.test', '*.persist.test'];
  // Once, with credentials: the zone admin's run.
  const admin = await config(dir, { admin: await rfc2136(dir, bind), persist: { type: 'dns-persist', ...dnsOptions(bind) } }, [{ name: 'persist', domains, solver: 'persist' }]);
  // Good for ten more days: inside the solver's 30-day warning, so status warns ahead.
  const until = Math.floor(Date.now() / 1000) + 10 * 86_400;
  const record = await runCli(['dns-persist', 'record', '--persist-until', String(until), '--apply', '--solver', 'admin', '--config', admin]);
  assert.equal(record.code, 0, `${record.stdout}\n${record.stderr}`);
  const url = await accountUrl(admin);
  const expected = `${ISSUER}; accounturi=${url}; policy=wildcard; persistUntil=${until}`;
  assert.equal(record.stdout.trim(), `_validation-persist.persist.test. 3600 IN TXT ${JSON.stringify(expected)}`, 'one zone-file line, policy=wildcard for the wildcard');
  assert.match(record.stderr, /draft -01 form \(plain accounturi: the CA publishes no accountHashPrefix\)/);
  assert.deepEqual(await bind.txt('_validation-persist.persist.test.'), [expected]);

  // From now on: no DNS credentials anywhere in the configuration.
  await writeFile(join(dir, 'tsig.secret'), '');
  const cfg = await config(dir, { persist: { type: 'dns-persist', ...dnsOptions(bind) } }, [{ name: 'persist', domains, solver: 'persist' }]);
  assert.ok(!(await readFile(cfg, 'utf8')).includes('rfc2136'), 'the renewal configuration names no DNS provider');
  const serials: string[] = [];
  for (const args of [['issue'], ['renew', '--force'], ['renew', '--force']]) {
    const from = proxy?.requests.log.length ?? 0;
    const run = await runCli([...args, '--config', cfg]);
    assert.equal(run.code, 0, `${args.join(' ')}: ${run.stdout}\n${run.stderr}\n${await pebble?.logs()}`);
    const cert = await leaf(dir, 'persist');
    assert.deepEqual(sans(cert), ['*.persist.test', 'persist.test']);
    serials.push(cert.serialNumber);
    const saw = caSaw(from);
    if (args[0] === 'issue') assert.equal(saw.fresh.length, 2, 'the first order: two new authorizations');
    else if (saw.fresh.length < 2) t.diagnostic(`${args.join(' ')}: Pebble reused ${2 - saw.fresh.length} valid authorization(s) despite PEBBLE_AUTHZREUSE=0`);
    assert.equal(saw.answered.length, saw.fresh.length, `${args.join(' ')}: every new authorization was validated by dns-persist-01`);
  }
  assert.equal(new Set(serials).size, 3, 'three certificates: issued, then renewed twice');
  assert.deepEqual(await bind.txt('_validation-persist.persist.test.'), [expected], 'the record is never removed or changed');
  const status = await runCli(['status', '--json', '--config', cfg]);
  assert.equal(status.code, 0, status.stderr);
  const [row] = JSON.parse(status.stdout) as { dnsPersist: { name: string; record: string; persistUntil?: string; warning?: string }[] }[];
  assert.deepEqual(
    row?.dnsPersist.map((p) => [p.name, p.record, p.persistUntil]),
    domains.map((d) => [d, '_validation-persist.persist.test.', new Date(until * 1000).toISOString()]),
    'status shows each name\'s persistUntil',
  );
  const text = await runCli(['status', '--config', cfg]);
  assert.match(text.stdout, /persist: \*\.persist\.test by dns-persist-01: _validation-persist\.persist\.test\. persistUntil /);
  assert.match(text.stderr, /warning: persist: _validation-persist\.persist\.test\. persistUntil in (9|10)d \d+h: publish a new record \(certpilot dns-persist record persist\.test/);
});

test('dns-persist-01: another account\'s record, an old issuer\'s, a passed persistUntil: each named with the fix, the CA never asked', { timeout: 120_000 }, async (t) => {
  if (!ready(t) || !bind) return;
  const dir = await tempDir();
  const solvers = { admin: await rfc2136(dir, bind), persist: { type: 'dns-persist', ...dnsOptions(bind) } };
  const certs: TestCertificate[] = [
    { name: 'foreign', domains: ['foreign.bad.test'], solver: 'persist' },
    { name: 'stale', domains: ['stale.bad.test'], solver: 'persist' },
    { name: 'expired', domains: ['expired.bad.test'], solver: 'persist' },
  ];
  const cfg = await config(dir, solvers, certs);
  // `dns-persist record` refuses a past --persist-until: such a record is written by hand here.
  const printed = await runCli(['dns-persist', 'record', 'expired.bad.test', '--config', cfg]);
  assert.equal(printed.code, 0, printed.stderr);
  const provider = new Rfc2136DnsProvider({ server: bind.server, key: tsigKey(bind.key), clock: systemClock, timeoutMs: 2000 });
  await provider.addTxtRecord({ fqdn: '_validation-persist.expired.bad.test.', value: `${ISSUER}; accounturi=${await accountUrl(cfg)}; persistUntil=1577836800`, ttl: 60 }, {});

  const cases = [
    { name: 'foreign', why: /is for another account \(accounturi=https:\/\/elsewhere\.test\/acct\/9\); this account needs accounturi=https:/ },
    { name: 'stale', why: /names issuer "old-ca\.example", but this CA accepts only "ca\.certpilot\.test"/ },
    { name: 'expired', why: /has persistUntil 2020-01-01T00:00:00\.000Z, which has passed/ },
  ];
  for (const c of cases) {
    const from = proxy?.requests.log.length ?? 0;
    const run = await runCli(['issue', '--name', c.name, '--config', cfg]);
    const out = `${run.stdout}\n${run.stderr}`;
    assert.notEqual(run.code, 0, `${c.name}: the issue fails`);
    assert.match(out, new RegExp(`ERR_DNS_PERSIST_RECORD`), out);
    assert.match(out, new RegExp(`TXT _validation-persist\\.${c.name}\\.bad\\.test\\. does not prove ${c.name}\\.bad\\.test for this account`), out);
    assert.match(out, c.why, out);
    assert.match(out, new RegExp(`certpilot dns-persist record ${c.name}\\.bad\\.test`), `${c.name}: the fix is named`);
    const saw = caSaw(from);
    assert.deepEqual(saw.answered, [], `${c.name}: the CA was never told to validate`);
    assert.equal(saw.deactivated.length, 1, `${c.name}: the pending authorization was deactivated, so no order is left pending`);
  }
});

test('dns-persist record --apply replaces this account\'s earlier value (others stay); a past --persist-until is refused; status reads the latest', { timeout: 120_000 }, async (t) => {
  if (!ready(t) || !bind) return;
  const dir = await tempDir();
  const fqdn = '_validation-persist.replace.persist.test.';
  const cfg = await config(dir, { admin: await rfc2136(dir, bind), persist: { type: 'dns-persist', ...dnsOptions(bind) } }, [{ name: 'replace', domains: ['replace.persist.test'], solver: 'persist' }]);
  const past = await runCli(['dns-persist', 'record', '--persist-until', '2020-01-01', '--apply', '--solver', 'admin', '--config', cfg]);
  assert.equal(past.code, 2, `${past.stdout}\n${past.stderr}`);
  assert.match(past.stderr, /--persist-until "2020-01-01" \(2020-01-01T00:00:00\.000Z\) has passed/);
  assert.deepEqual(await bind.txt(fqdn), [], 'nothing written');
  const first = await runCli(['dns-persist', 'record', '--apply', '--solver', 'admin', '--config', cfg]);
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stderr, /registered a new ACME account at .* \(the record names it; issue and renew use it\): https:/, 'the new account is said');
  const url = await accountUrl(cfg);
  // Another account's value at the same name is not ours to remove.
  const foreign = `${ISSUER}; accounturi=https://elsewhere.test/acct/9`;
  const provider = new Rfc2136DnsProvider({ server: bind.server, key: tsigKey(bind.key), clock: systemClock, timeoutMs: 2000 });
  await provider.addTxtRecord({ fqdn, value: foreign, ttl: 60 }, {});
  const now = Math.floor(Date.now() / 1000);
  let expected = '';
  for (const days of [400, 100, 200]) {
    const until = now + days * 86_400;
    const run = await runCli(['dns-persist', 'record', '--persist-until', String(until), '--apply', '--solver', 'admin', '--config', cfg]);
    assert.equal(run.code, 0, run.stderr);
    assert.doesNotMatch(run.stderr, /registered a new ACME account/, 'the account exists now');
    assert.match(run.stderr, /removed this account's earlier value at _validation-persist\.replace\.persist\.test\./);
    expected = `${ISSUER}; accounturi=${url}; persistUntil=${until}`;
    assert.deepEqual((await bind.txt(fqdn)).sort(), [expected, foreign].sort(), `after --persist-until +${days}d: one value of this account, the other account's kept`);
  }
  // Two valid values of this account (one added by hand): the issue notes the latest, whatever the answer order.
  const later = `${ISSUER}; accounturi=${url}; persistUntil=${now + 300 * 86_400}`;
  await provider.addTxtRecord({ fqdn, value: later, ttl: 60 }, {});
  for (let i = 0; i < 2; i++) {
    const run = await runCli(['issue', '--force', '--config', cfg]);
    assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}`);
    const status = await runCli(['status', '--json', '--config', cfg]);
    const [row] = JSON.parse(status.stdout) as { dnsPersist: { persistUntil?: string }[] }[];
    assert.equal(row?.dnsPersist[0]?.persistUntil, new Date((now + 300 * 86_400) * 1000).toISOString(), 'the latest persistUntil of the valid records');
  }
});

test('dns-persist record at a CA that names no issuer: ERR_DNS_PERSIST_UNSUPPORTED with the fix, and no account registered or stored', { timeout: 60_000 }, async (t) => {
  if (!ready(t) || !requirePebble(t, '2.4') || !bind) return;
  // Pebble 2.4 with no caaIdentities: its directory names no issuer.
  const plain = await startPebble({ version: '2.4', noSleep: true, nonceRejectPercent: 0 });
  const plainProxy = await startFaultProxy(plain);
  t.after(async () => {
    await plainProxy.stop();
    await plain.stop();
  });
  const dir = await tempDir();
  const cfg = await writeConfig(dir, { directoryUrl: plainProxy.directoryUrl, httpPort: plain.httpPort, solvers: { persist: { type: 'dns-persist', ...dnsOptions(bind) } }, certificates: [{ name: 'plain', domains: ['plain.persist.test'], solver: 'persist' }] });
  const run = await runCli(['dns-persist', 'record', '--config', cfg]);
  assert.equal(run.code, 1, run.stderr);
  assert.match(run.stderr, /ERR_DNS_PERSIST_UNSUPPORTED: dns-persist: the CA at \S+ names no issuer domain names/);
  assert.match(run.stderr, /hint: Check that the CA offers dns-persist-01[^\n]*No account was registered\./);
  assert.doesNotMatch(run.stderr, /registered a new ACME account/);
  const posts = plainProxy.requests.log.filter((e) => e.method === 'POST');
  assert.deepEqual(posts.map((e) => e.path), [], 'nothing was sent to the CA but the directory');
  const show = await runCli(['account', 'show', '--config', cfg]);
  assert.match(show.stdout, /^No account for \S+ yet;/, 'no account key is stored');
});

test('config check: an rfc2136 zone that does not hold a name is named (a CNAME into the zone passes)', { timeout: 60_000 }, async (t) => {
  if (!ready(t) || !bind) return;
  const dir = await tempDir();
  const solvers = { admin: await rfc2136(dir, bind, { zone: 'acct.test' }) };
  const bad = await config(dir, solvers, [{ name: 'cn', domains: ['cn.alpn.test'], solver: 'admin' }, { name: 'wrong', domains: ['alpn.test'], solver: 'admin' }]);
  const check = await runCli(['config', 'check', '--config', bad]);
  assert.equal(check.code, 2, `${check.stdout}\n${check.stderr}`);
  assert.match(check.stderr, /solvers\.admin\.zone: zone "acct\.test" does not hold alpn\.test \(certificate wrong\): its TXT record _acme-challenge\.alpn\.test is outside that zone and is no CNAME into it/);
  assert.doesNotMatch(check.stderr, /cn\.alpn\.test/, 'a name whose _acme-challenge is a CNAME into the zone is fine');
  const good = await config(dir, solvers, [{ name: 'cn', domains: ['cn.alpn.test'], solver: 'admin' }]);
  const ok = await runCli(['config', 'check', '--config', good]);
  assert.equal(ok.code, 0, `${ok.stdout}\n${ok.stderr}`);
});

test('dns-account-01: a wildcard and its base through rfc2136 at the account label; another value there is kept', { timeout: 120_000 }, async (t) => {
  if (!ready(t) || !bind) return;
  const dir = await tempDir();
  const cfg = await config(dir, { acct: await rfc2136(dir, bind, { challenge: 'dns-account-01' }) }, [{ name: 'acct', domains: ['acct.test', '*.acct.test'], solver: 'acct' }]);
  assert.equal((await runCli(['account', 'create', '--config', cfg])).code, 0);
  const fqdn = dnsAccountRecordName(await accountUrl(cfg), 'acct.test');
  // Another tool's value at the same name (another certificate of this account, say).
  const other = new Rfc2136DnsProvider({ server: bind.server, key: tsigKey(bind.key), clock: systemClock, timeoutMs: 2000 });
  await other.addTxtRecord({ fqdn, value: 'someone-elses-value', ttl: 60 }, {});

  const from = proxy?.requests.log.length ?? 0;
  const run = await runCli(['issue', '--log-level', 'info', '--log-format', 'json', '--config', cfg]);
  assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}\n${await pebble?.logs()}`);
  assert.deepEqual(sans(await leaf(dir, 'acct')), ['*.acct.test', 'acct.test']);
  assert.equal(caSaw(from).answered.length, 2);
  assert.deepEqual(validatedBy(run.stderr), { 'acct.test': 'dns-account-01', '*.acct.test': 'dns-account-01' });
  assert.deepEqual(await bind.txt(fqdn), ['someone-elses-value'], 'cleanup removed only its own values');
  assert.deepEqual(await bind.txt('_acme-challenge.acct.test.'), [], 'nothing was written at the dns-01 name');
});

test('tls-alpn-01 alone, and one certificate mixing http-01, dns-account-01 and tls-alpn-01', { timeout: 120_000 }, async (t) => {
  if (!ready(t) || !bind || !pebble) return;
  const dir = await tempDir();
  const alpn = { type: 'tls-alpn', port: pebble.tlsPort, host: '127.0.0.1' };
  const cfg = await config(dir, { alpn, acct: await rfc2136(dir, bind, { challenge: 'dns-account-01' }) }, [
    { name: 'alpn', domains: ['alpn.test'], solver: 'alpn' },
    {
      name: 'mix',
      domains: ['web.mix.test', 'acct.mix.test', 'alpn.mix.test'],
      solver: 'default',
      solvers: [
        { names: ['acct.mix.test'], solver: 'acct' },
        { names: ['alpn.mix.test'], solver: 'alpn' },
      ],
    },
  ]);
  const run = await runCli(['issue', '--log-level', 'info', '--log-format', 'json', '--config', cfg]);
  assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}\n${await pebble.logs()}`);
  assert.deepEqual(sans(await leaf(dir, 'alpn')), ['alpn.test']);
  assert.deepEqual(sans(await leaf(dir, 'mix')), ['acct.mix.test', 'alpn.mix.test', 'web.mix.test']);
  assert.deepEqual(validatedBy(run.stderr), { 'alpn.test': 'tls-alpn-01', 'web.mix.test': 'http-01', 'acct.mix.test': 'dns-account-01', 'alpn.mix.test': 'tls-alpn-01' });
  const fqdn = dnsAccountRecordName(await accountUrl(cfg), 'acct.mix.test');
  assert.deepEqual(await bind.txt(fqdn), [], 'the dns-account-01 value is gone');
});

test('tls-alpn-01 on a port already in use: the port and the fix named, before any order (its http-01 and dns-account-01 names untouched)', { timeout: 60_000 }, async (t) => {
  if (!ready(t) || !bind) return;
  const blocker = createServer();
  await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => blocker.close(() => r())));
  const port = (blocker.address() as { port: number }).port;
  const dir = await tempDir();
  // The tryout's certificate: one tls-alpn-01 name, one http-01 (standalone), one dns-account-01.
  const cfg = await config(dir, { alpn: { type: 'tls-alpn', port, host: '127.0.0.1' }, acct: await rfc2136(dir, bind, { challenge: 'dns-account-01' }) }, [
    {
      name: 'busy',
      domains: ['alpn.mix.test', 'web.mix.test', 'acct.mix.test'],
      solver: 'alpn',
      solvers: [
        { names: ['web.mix.test'], solver: 'default' },
        { names: ['acct.mix.test'], solver: 'acct' },
      ],
    },
  ]);
  const from = proxy?.requests.log.length ?? 0;
  const run = await runCli(['issue', '--log-level', 'info', '--log-format', 'json', '--config', cfg]);
  const out = `${run.stdout}\n${run.stderr}`;
  assert.notEqual(run.code, 0);
  assert.match(out, /ERR_CHALLENGE_LISTEN/);
  assert.match(out, new RegExp(`tls-alpn-01: cannot listen on 127\\.0\\.0\\.1:${port}: the port is already in use`), out);
  assert.match(out, new RegExp(`Stop what listens on port ${port}`), out);
  assert.match(out, /not held: it failed before the CA was asked to validate/, out);
  const saw = caSaw(from);
  assert.deepEqual(orderUrls((proxy?.requests.log ?? []).slice(from)), [], 'no order was placed');
  assert.deepEqual(saw.answered, [], 'the CA was never told to validate');
  assert.deepEqual(saw.fresh, [], 'no authorization was created or read');
});

test('route53 policy for a dns-account-01 solver names the account label records (after the account exists)', { timeout: 60_000 }, async (t) => {
  if (!ready(t)) return;
  const dir = await tempDir();
  const cfg = await config(dir, { r53: { type: 'route53', hostedZoneId: 'Z123', challenge: 'dns-account-01', followCname: false } }, [{ name: 'r53', domains: ['r53.test', '*.r53.test'], solver: 'r53' }]);
  const early = await runCli(['route53', 'policy', '--config', cfg]);
  assert.equal(early.code, 2, 'no account yet: the label cannot be known');
  assert.match(early.stderr, /answer dns-account-01, whose record names come from the account URL/);
  assert.match(early.stderr, /certpilot account create/);
  assert.equal((await runCli(['account', 'create', '--config', cfg])).code, 0);
  const policy = await runCli(['route53', 'policy', '--config', cfg]);
  assert.equal(policy.code, 0, policy.stderr);
  const doc = JSON.parse(policy.stdout) as { Statement: { Condition?: Record<string, Record<string, string[]>> }[] };
  const names = doc.Statement.flatMap((s) => s.Condition?.['ForAllValues:StringEquals']?.['route53:ChangeResourceRecordSetsNormalizedRecordNames'] ?? []);
  assert.deepEqual(names, [dnsAccountRecordName(await accountUrl(cfg), 'r53.test').replace(/\.$/, '')]);
});

test('a TXT value over 255 octets (a long dns-persist-01 record) goes in as several strings and reads back whole', { timeout: 30_000 }, async (t) => {
  if (!ready(t) || !bind) return;
  const provider = new Rfc2136DnsProvider({ server: bind.server, key: tsigKey(bind.key), clock: systemClock, timeoutMs: 2000 });
  const value = `${ISSUER}; accounturi=https://ca.certpilot.test/account-hash/sha-256/${'x'.repeat(260)}; policy=wildcard`;
  await provider.addTxtRecord({ fqdn: '_validation-persist.long.bad.test.', value, ttl: 60 }, {});
  assert.deepEqual(await bind.txt('_validation-persist.long.bad.test.'), [value]);
  await provider.removeTxtRecord({ fqdn: '_validation-persist.long.bad.test.', value }, {});
  assert.deepEqual(await bind.txt('_validation-persist.long.bad.test.'), []);
});
