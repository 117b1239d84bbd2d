// The kubernetes-secret state store against the stand-in, driven by the real client-node: the
// state store contract; a 409 on the first write of every Secret (another writer got there first)
// loses nothing and the CLI run against Pebble succeeds; 60 renewals keep the Secret small with its
// live version readable; `state copy` dir → Secrets → dir is byte for byte and `status` reads the
// same rows from both; `state copy` from a certbot directory carries certbot's account (to a
// directory and to Secrets), usable by `account show`, and says `unchanged` the second time; a
// one-off (`issue -d`) with state in Secrets is recorded in its certificate's Secret, renewed by
// `renew` with the same configuration, and `forget` removes the record and keeps the certificate.
import assert from 'node:assert/strict';
import { createHash, createPrivateKey, createPublicKey, X509Certificate, type JsonWebKey } from 'node:crypto';
import { lstat, mkdir, readdir, readFile, readlink, symlink, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { after, describe, it, test } from 'node:test';
import { dnsAccountRecordName } from '../../src/challenges/dns01/account-label.js';
import { KubernetesClient } from '../../src/kubernetes/kubernetes-client.js';
import { KubernetesSecretStateBackend, secretDataBytes, STATE_LABEL } from '../../src/storage/backends/kubernetes-secret/kubernetes-secret-state-backend.js';
import { StateStore } from '../../src/storage/state-store.js';
import { CERTBOT_TEST_SERVER, writeCertbotAccount, writeCertbotLineage } from '../../src/testing/certbot-tree.js';
import { makeTestBundle } from '../../src/testing/certificate-fixtures.js';
import { stateStoreContract } from '../../src/testing/state-store-contract.js';
import { runCli, tempDir, testCaFile, writeConfig } from '../harness/certpilot.js';
import { startPebble } from '../harness/pebble.js';
import { startProxiedPebble } from '../harness/fault-proxy.js';
import type { KubeStandin} from '../harness/kube-standin.js';
import { standinFor, startKubeStandin } from '../harness/kube-standin.js';
import { requirePebble } from '../harness/servers.js';

let shared: Promise<{ standin: KubeStandin; client: KubernetesClient }> | undefined;
async function standinClient(): Promise<{ standin: KubeStandin; client: KubernetesClient }> {
  shared ??= (async () => {
    const standin = await startKubeStandin();
    const kubeconfig = await standin.writeKubeconfig();
    return { standin, client: new KubernetesClient({ kubeconfig, apiServer: 'https://unused', serviceAccountDir: '/unused', requestTimeoutSeconds: 10 }, standin.dir) };
  })();
  return shared;
}
after(async () => {
  if (shared) await (await shared).standin.stop();
});

let stores = 0;
// Each fixture is its own store in the shared namespace (its own secretPrefix).
stateStoreContract('kubernetes-secret', async () => ({ backend: new KubernetesSecretStateBackend({ client: (await standinClient()).client, secretPrefix: `t${++stores}` }) }));

describe('kubernetes-secret state Secrets', () => {
  it('reads over one kept-alive connection (client-node alone opens a TLS connection per request)', async () => {
    const { standin, client } = await standinClient();
    await client.getSecret('warm-up');
    const before = standin.tlsConnections;
    for (let i = 0; i < 20; i++) await client.getSecret(`absent-${i}`);
    assert.equal(standin.tlsConnections - before, 0, 'twenty reads opened no new connection');
  });

  it('clients with the same TLS options share that connection: twenty clients (a kubernetes-secret deployer per certificate, each checking its Secret) open none', async () => {
    const { standin, client } = await standinClient();
    await client.getSecret('warm-up');
    const kubeconfig = await standin.writeKubeconfig();
    const before = standin.tlsConnections;
    for (let i = 0; i < 20; i++) {
      const own = new KubernetesClient({ kubeconfig, apiServer: 'https://unused', serviceAccountDir: '/unused', requestTimeoutSeconds: 10 }, standin.dir);
      assert.equal(await own.getSecret(`absent-${i}`), undefined);
    }
    assert.equal(standin.tlsConnections - before, 0, 'twenty clients opened no new connection');
  });

  it('stateNames lists once, and planning reads right after take the listed Secrets instead of a GET each; a write drops its entry', async () => {
    const { standin, client } = await standinClient();
    const store = new StateStore(new KubernetesSecretStateBackend({ client, secretPrefix: 'listed' }));
    for (const name of ['a', 'b', 'c']) {
      await store.save(name, makeTestBundle({ domains: [`${name}.listed.test`] }));
      await store.saveState(name, { failureCount: 0 });
    }
    const secretReads = (): number => standin.requests.filter((r) => r.resource === 'secrets' && (r.verb === 'get' || r.verb === 'list')).length;
    const before = secretReads();
    assert.deepEqual(await store.listStates(), ['a', 'b', 'c']);
    assert.equal(secretReads() - before, 1, 'one LIST');
    for (const name of ['a', 'b', 'c']) {
      const plan = store.forPlanning();
      assert.equal((await plan.load(name))?.metadata.domains[0], `${name}.listed.test`);
      assert.equal((await plan.loadState(name)).failureCount, 0);
    }
    assert.equal(secretReads() - before, 1, 'the plans read the listing: no GET');
    // A write drops the listed Secret: the next plan reads what was written.
    await store.saveState('b', { failureCount: 2 });
    const after = secretReads();
    assert.equal((await store.forPlanning().loadState('b')).failureCount, 2);
    assert.ok(secretReads() > after, 'read again after the write');
  });

  it('holds a certificate in one labelled Secret; 60 renewals keep it far under 1 MiB with the live version readable', async () => {
    const { standin, client } = await standinClient();
    const backend = new KubernetesSecretStateBackend({ client, secretPrefix: 'renew60', keepVersions: 3 });
    const store = new StateStore(backend);
    // The largest key certpilot issues with, kept across renewals (reuseKey): new keys would only cost time.
    let last = makeTestBundle({ domains: ['big.example.test'], keyType: 'rsa-4096' });
    const privateKeyPem = last.privateKeyPem;
    for (let i = 1; i <= 60; i++) {
      last = makeTestBundle({ domains: ['big.example.test', `n${i}.big.example.test`], keyType: 'rsa-4096', privateKeyPem });
      await store.save('big', last);
      await store.saveState('big', { failureCount: 0, lastAttempt: { at: new Date().toISOString(), result: 'success', reason: 'lifetime' }, deployments: { files: { version: i, serialNumber: last.metadata.serialNumber, at: new Date().toISOString(), result: 'success', message: 'wrote 4 files' } } });
    }
    const secret = standin.secret('renew60-cert-big');
    assert.ok(secret, 'one Secret per certificate');
    const md = secret.metadata as { labels: Record<string, string> };
    assert.equal(md.labels['app.kubernetes.io/managed-by'], 'certpilot');
    assert.equal(md.labels[STATE_LABEL], 'certificate');
    const bytes = secretDataBytes(secret.data as Record<string, string>);
    assert.ok(bytes < 128 * 1024, `the Secret holds ${bytes} bytes after 60 renewals`);
    const loaded = await store.load('big');
    assert.equal(loaded?.version, 60);
    assert.equal(loaded?.certPem, last.certPem);
    assert.equal(loaded?.privateKeyPem, last.privateKeyPem);
    assert.deepEqual(await backend.list('certificates/big/versions/'), [57, 58, 59, 60].map((n) => `certificates/big/versions/${n}`), 'the live version and keepVersions earlier ones');
    assert.equal((await store.loadState('big')).deployments?.files?.version, 60);
  });

  it('refuses a write over 1 MiB with ERR_STORAGE_FULL and keeps the live version', async () => {
    const { client } = await standinClient();
    const backend = new KubernetesSecretStateBackend({ client, secretPrefix: 'full' });
    const store = new StateStore(backend);
    const bundle = makeTestBundle({ domains: ['full.example.test'] });
    await store.save('full', bundle);
    await assert.rejects(backend.put('certificates/full/pending-order', { 'order.json': 'x'.repeat(1024 * 1024), 'privkey.pem': 'k' }), (e: Error & { code?: string }) => e.code === 'ERR_STORAGE_FULL');
    assert.equal((await store.load('full'))?.certPem, bundle.certPem);
  });
});

describe('kubernetes-secret state store: room for a new version', () => {
  it('checkWritable refuses, before an order, a version that would take the Secret near 1 MiB', async () => {
    const { client } = await standinClient();
    const backend = new KubernetesSecretStateBackend({ client, secretPrefix: 'room' });
    const store = new StateStore(backend);
    await store.save('near', makeTestBundle({ domains: ['near.example.test'] }));
    await store.checkWritable('near');
    await backend.put('certificates/near/corrupt/filler', { 'blob.bin': 'x'.repeat(1000 * 1024) });
    await assert.rejects(store.checkWritable('near'), (e: Error & { code?: string }) => e.code === 'ERR_STORAGE_FULL' && /room-cert-near/.test(e.message));
  });
});

/** Every file under `dir` (links as `-> target`), for a byte-for-byte comparison of two state trees. */
async function tree(dir: string, only: (path: string) => boolean): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d)) {
      const p = join(d, e);
      const rel = relative(dir, p);
      const st = await lstat(p);
      if (st.isDirectory()) await walk(p);
      else if (only(rel)) out[rel] = st.isSymbolicLink() ? `-> ${await readlink(p)}` : createHash('sha256').update(await readFile(p)).digest('hex');
    }
  };
  await walk(dir);
  return out;
}

test('state in Secrets with a 409 on the first write of every Secret: the renew run succeeds and nothing is lost; state copy dir → Secrets → dir is byte for byte and status shows the same rows', { timeout: 180_000 }, async (t) => {
  if (!requirePebble(t, '2.4')) return;
  const { pebble, proxy } = await startProxiedPebble(t, { version: '2.4', noSleep: true, authzReuse: 0 });
  const { standin, kubeconfig } = await standinFor(t);

  // Another writer touches every Secret just before certpilot's first write to it: an update then
  // carries a stale resourceVersion (409 Conflict), a create meets an existing Secret (409 AlreadyExists).
  const touched = new Set<string>();
  standin.beforeSecretWrite = (verb, name, body) => {
    if (touched.has(name) || !name.startsWith('certpilot-')) return;
    touched.add(name);
    if (verb === 'create') {
      const md = (JSON.parse(body) as { metadata: { labels: Record<string, string>; annotations: Record<string, string> } }).metadata;
      standin.touchSecret(name, { labels: md.labels, annotations: { 'certpilot.io/state-key': md.annotations['certpilot.io/state-key'] ?? '', 'certpilot.io/state-index': '{}', 'other/writer': 'was here' }, data: { 'other.txt': 'keep me' } });
    } else standin.touchSecret(name, { annotations: { 'other/writer': 'was here' }, data: { 'other.txt': 'keep me' } });
  };

  const dir = await tempDir();
  const certificates = [
    { name: 'alpha', domains: ['alpha.state.test'] },
    { name: 'beta', domains: ['beta.state.test'] },
  ];
  const config = await writeConfig(dir, {
    directoryUrl: proxy.directoryUrl,
    httpPort: pebble.httpPort,
    certificates,
    stateStore: { type: 'kubernetes-secret', kubeconfig, secretPrefix: 'certpilot' },
  });
  const renew = await runCli(['renew', '--config', config]);
  assert.equal(renew.code, 0, `renew: ${renew.stdout}\n${renew.stderr}`);
  const conflicts = standin.requests.filter((r) => r.resource === 'secrets' && r.status === 409);
  assert.ok(touched.size >= 3, `an account Secret and one per certificate were written: ${[...touched].join(', ')}`);
  assert.ok(conflicts.length >= touched.size, `every Secret's first write met a 409 (${conflicts.length} for ${touched.size})`);
  for (const name of touched) {
    assert.equal(standin.secretData(name)['other.txt'], 'keep me', `${name}: the other writer's data is kept`);
    assert.equal((standin.secret(name)?.metadata as { annotations: Record<string, string> }).annotations['other/writer'], 'was here', `${name}: its annotation is kept`);
  }
  const status = await runCli(['status', '--json', '--config', config]);
  assert.equal(status.code, 0, status.stderr);
  const rows = JSON.parse(status.stdout) as { name: string; version?: number }[];
  assert.deepEqual(rows.map((r) => [r.name, r.version]), [['alpha', 1], ['beta', 1]], 'both certificates are live in their Secrets');

  // route53 policy for a dns-account-01 solver reads the account from the Secrets, as renew does.
  const r53Config = await writeConfig(await tempDir(), {
    directoryUrl: proxy.directoryUrl,
    httpPort: pebble.httpPort,
    certificates: [{ name: 'r53', domains: ['r53.state.test'], solver: 'r53' }],
    solvers: { r53: { type: 'route53', hostedZoneId: 'Z123', challenge: 'dns-account-01', followCname: false } },
    stateStore: { type: 'kubernetes-secret', kubeconfig, secretPrefix: 'certpilot' },
  });
  const show = await runCli(['account', 'show', '--json', '--config', config]);
  assert.equal(show.code, 0, show.stderr);
  const policy = await runCli(['route53', 'policy', '--config', r53Config]);
  assert.equal(policy.code, 0, `route53 policy finds the account in the Secrets: ${policy.stderr}`);
  const statements = (JSON.parse(policy.stdout) as { Statement: { Condition?: Record<string, Record<string, string[]>> }[] }).Statement;
  const recordNames = statements.flatMap((s) => s.Condition?.['ForAllValues:StringEquals']?.['route53:ChangeResourceRecordSetsNormalizedRecordNames'] ?? []);
  assert.deepEqual(recordNames, [dnsAccountRecordName((JSON.parse(show.stdout) as { url: string }).url, 'r53.state.test').replace(/\.$/, '')]);

  // state copy: Secrets → dir → Secrets (other prefix) → dir: the same bytes both times.
  const spec = (prefix: string): string => `kubernetes-secret:${standin.namespace}?kubeconfig=${kubeconfig}&secretPrefix=${prefix}`;
  const dirA = join(dir, 'copy-a');
  const dirB = join(dir, 'copy-b');
  const toDir = await runCli(['state', 'copy', '--from', spec('certpilot'), '--to', `dir:${dirA}`]);
  assert.equal(toDir.code, 0, toDir.stderr);
  assert.match(toDir.stdout, /cert +alpha: live version 1; versions 1; renewal state/);
  assert.match(toDir.stdout, /account +/);
  const toSecrets = await runCli(['state', 'copy', '--from', `dir:${dirA}`, '--to', spec('copied')]);
  assert.equal(toSecrets.code, 0, toSecrets.stderr);
  const back = await runCli(['state', 'copy', '--from', spec('copied'), '--to', `dir:${dirB}`]);
  assert.equal(back.code, 0, back.stderr);
  const kept = (p: string): boolean => /^(accounts|archive|renewal-state|live)\//.test(p) && !p.endsWith('README');
  const [a, b] = [await tree(dirA, kept), await tree(dirB, kept)];
  assert.ok(Object.keys(a).some((p) => p.endsWith('private_key.pem')), 'the account key was copied');
  assert.ok(Object.keys(a).some((p) => p === join('archive', 'alpha', 'privkey1.pem')));
  assert.ok(Object.keys(a).some((p) => p === join('renewal-state', 'beta.json')));
  assert.deepEqual(b, a, 'dir → Secrets → dir gives the same account key, versions and renewal state, byte for byte');

  // status reads the same rows from the directory copy as from the Secrets.
  const dirConfig = await writeConfig(await tempDir(), { directoryUrl: proxy.directoryUrl, httpPort: pebble.httpPort, certificates });
  const fromDir = await runCli(['status', '--json', '--config', dirConfig, '--state-dir', dirB]);
  assert.equal(fromDir.code, 0, fromDir.stderr);
  // Paths exist only for the directory; the time left moves between the two runs.
  const strip = (text: string): unknown => (JSON.parse(text) as Record<string, unknown>[]).map(({ files: _files, remainingMs: _left, ...row }) => row);
  assert.deepEqual(strip(fromDir.stdout), strip(status.stdout));
});

test('a filesystem run never loads the Kubernetes client; a run with state in Secrets loads it on first use', { timeout: 60_000 }, async () => {
  const dir = await tempDir();
  // A module hook that names every file the CLI loads (the bundle's chunks are named after their entry).
  await writeFile(join(dir, 'hooks.mjs'), "export async function load(url, context, next) { if (url.startsWith('file:')) process.stderr.write(`LOADED ${url}\\n`); return next(url, context); }\n");
  await writeFile(join(dir, 'register.mjs'), "import { register } from 'node:module';\nregister('./hooks.mjs', import.meta.url);\n");
  const loaded = async (stateStore?: Record<string, unknown>): Promise<string[]> => {
    const config = await writeConfig(await tempDir(), { directoryUrl: 'https://127.0.0.1:1/dir', httpPort: 1, certificates: [{ name: 'a', domains: ['a.lazy.test'] }], ...(stateStore ? { stateStore } : {}) });
    const out = await runCli(['status', '--config', config], { env: { NODE_OPTIONS: `--import ${join(dir, 'register.mjs')}` } });
    return out.stderr.split('\n').filter((l) => l.startsWith('LOADED ')).map((l) => l.slice(l.lastIndexOf('/') + 1));
  };
  const filesystem = await loaded();
  assert.ok(filesystem.some((f) => f.startsWith('status-')), `the hook saw the CLI load its chunks: ${filesystem.join(' ')}`);
  assert.deepEqual(filesystem.filter((f) => /kubernetes/.test(f)), [], 'no Kubernetes code in a filesystem run');
  const secrets = await loaded({ type: 'kubernetes-secret', kubeconfig: join(dir, 'missing-kubeconfig') });
  assert.ok(secrets.some((f) => f.startsWith('kubernetes-client-')), `state in Secrets loads the client: ${secrets.join(' ')}`);
});

test('import certbot into Secrets: through the domain stores, the live version with its ARI id, keepVersions earlier ones; again: unchanged', { timeout: 60_000 }, async (t) => {
  const standin = await startKubeStandin();
  t.after(() => standin.stop());
  const kubeconfig = await standin.writeKubeconfig();
  // A certbot directory with a five-version lineage (certbot's layout: live/ links into archive/).
  const le = join(await tempDir(), 'le');
  const bundles = Array.from({ length: 5 }, () => makeTestBundle({ domains: ['imp.state.test'] }));
  await mkdir(join(le, 'archive', 'imp'), { recursive: true });
  await mkdir(join(le, 'live', 'imp'), { recursive: true });
  for (const [i, b] of bundles.entries()) {
    for (const [f, pem] of Object.entries({ cert: b.certPem, chain: b.chainPem, fullchain: b.fullchainPem, privkey: b.privateKeyPem })) await writeFile(join(le, 'archive', 'imp', `${f}${i + 1}.pem`), pem);
  }
  for (const f of ['cert', 'chain', 'fullchain', 'privkey']) await symlink(`../../archive/imp/${f}5.pem`, join(le, 'live', 'imp', `${f}.pem`));
  const stateStore = { type: 'kubernetes-secret', kubeconfig, secretPrefix: 'imported' };
  const config = await writeConfig(await tempDir(), { directoryUrl: 'https://127.0.0.1:1/dir', httpPort: 1, certificates: [{ name: 'imp', domains: ['imp.state.test'] }], stateStore });
  const run = await runCli(['import', 'certbot', '--config-dir', le, '--config', config]);
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stderr, /^imported +certificate imp: 5 versions from live\/imp/m);
  assert.match(run.stderr, /into the state Secrets/);
  assert.match(run.stdout, /stateStore:\n {2}type: kubernetes-secret/, 'the printed configuration names the same store');
  const client = new KubernetesClient({ kubeconfig, apiServer: 'https://unused', serviceAccountDir: '/unused', requestTimeoutSeconds: 10 }, standin.dir);
  const store = new StateStore(new KubernetesSecretStateBackend({ client, secretPrefix: 'imported' }));
  const live = await store.load('imp');
  assert.equal(live?.certPem, bundles[4]?.certPem);
  assert.ok(live?.metadata.ariCertId, 'the first renewal sends replaces');
  assert.deepEqual(await store.listVersions('imp'), [2, 3, 4, 5], 'the live version and keepVersions (3) earlier ones');
  const status = await runCli(['status', '--json', '--config', config]);
  const rows = JSON.parse(status.stdout) as { name: string; version?: number; versions?: number[] }[];
  assert.deepEqual(rows.map((r) => [r.name, r.version, r.versions]), [['imp', 5, [2, 3, 4, 5]]]);
  const again = await runCli(['import', 'certbot', '--config-dir', le, '--config', config]);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stderr, /^unchanged +certificate imp/m);
});

test('state copy from a certbot directory carries certbot\'s account into a directory and into Secrets: listed, usable by account show; again: unchanged', { timeout: 60_000 }, async (t) => {
  const { standin, kubeconfig } = await standinFor(t);
  // certbot's layout (the fixtures of the import tests): an account under accounts/<server>/<path>/<id>/, two lineages.
  const le = join(await tempDir(), 'letsencrypt');
  const accountDir = writeCertbotAccount(le, { url: 'https://acme.test:14000/my-account/7' });
  writeCertbotLineage(le, 'alpha', [makeTestBundle({ domains: ['alpha.copy.test'] })]);
  writeCertbotLineage(le, 'beta', [makeTestBundle({ domains: ['beta.copy.test'] })]);
  const jwk = JSON.parse(await readFile(join(accountDir, 'private_key.json'), 'utf8')) as JsonWebKey;
  const keySha256 = `sha256:${createHash('sha256').update(createPublicKey(createPrivateKey({ key: jwk, format: 'jwk' })).export({ type: 'spki', format: 'der' })).digest('hex')}`;
  /** `account show --json` of the CA the certbot account is for, against the state `stateStore` (or `--state-dir`) names. */
  const show = async (stateArgs: string[], stateStore?: Record<string, unknown>): Promise<{ url: string; publicKeySha256: string }> => {
    const config = await writeConfig(await tempDir(), { directoryUrl: CERTBOT_TEST_SERVER, httpPort: 1, certificates: [{ name: 'alpha', domains: ['alpha.copy.test'] }], ...(stateStore ? { stateStore } : {}) });
    const out = await runCli(['account', 'show', '--json', '--config', config, ...stateArgs]);
    assert.equal(out.code, 0, out.stderr);
    return JSON.parse(out.stdout) as { url: string; publicKeySha256: string };
  };

  // → a directory.
  const dir = join(await tempDir(), 'copy');
  const toDir = await runCli(['state', 'copy', '--from', `dir:${le}`, '--to', `dir:${dir}`]);
  assert.equal(toDir.code, 0, `${toDir.stdout}\n${toDir.stderr}`);
  assert.match(toDir.stdout, /^account +acme\.test:14000\/dir\/abc \(certbot's\): copied: https:\/\/acme\.test:14000\/my-account\/7 on https:\/\/acme\.test:14000\/dir$/m);
  assert.match(toDir.stdout, /^cert +alpha: live version 1; versions 1$/m);
  assert.doesNotMatch(toDir.stdout + toDir.stderr, /PRIVATE KEY|"d":/, 'no key is printed');
  const fromDir = await show(['--state-dir', dir]);
  assert.equal(fromDir.url, 'https://acme.test:14000/my-account/7');
  assert.equal(fromDir.publicKeySha256, keySha256, 'the same account key');

  // → Secrets.
  const spec = `kubernetes-secret:${standin.namespace}?kubeconfig=${kubeconfig}&secretPrefix=copied`;
  const toSecrets = await runCli(['state', 'copy', '--from', `dir:${le}`, '--to', spec]);
  assert.equal(toSecrets.code, 0, `${toSecrets.stdout}\n${toSecrets.stderr}`);
  assert.match(toSecrets.stdout, /^account +acme\.test:14000\/dir\/abc \(certbot's\): copied/m);
  const fromSecrets = await show([], { type: 'kubernetes-secret', kubeconfig, secretPrefix: 'copied' });
  assert.equal(fromSecrets.url, 'https://acme.test:14000/my-account/7');
  assert.equal(fromSecrets.publicKeySha256, keySha256);

  // The same copy again writes nothing and says so.
  const again = await runCli(['state', 'copy', '--from', `dir:${le}`, '--to', spec]);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /^unchanged: /);
  assert.match(again.stdout, /^account +acme\.test:14000\/dir\/abc \(certbot's\): unchanged/m);
  assert.match(again.stdout, /^cert +beta: unchanged \(live version 1; versions 1\)$/m);

  // An account folder of no known layout is named and fails the run; the rest is still copied.
  await mkdir(join(le, 'accounts', 'other-tool', 'x'), { recursive: true });
  await writeFile(join(le, 'accounts', 'other-tool', 'x', 'key.pem'), 'not ours');
  const odd = await runCli(['state', 'copy', '--from', `dir:${le}`, '--to', `dir:${join(await tempDir(), 'odd')}`]);
  assert.equal(odd.code, 1, odd.stdout);
  assert.match(odd.stdout, /^account +other-tool: FAILED: accounts\/other-tool holds no account certpilot can read/m);
  assert.match(odd.stdout, /^account +acme\.test:14000\/dir\/abc \(certbot's\): copied/m);
});

test('a one-off (issue -d) with state in Secrets: recorded in its certificate\'s Secret, renewed by renew with the same configuration; forget removes the record and keeps the certificate', { timeout: 90_000 }, async (t) => {
  if (!requirePebble(t, '2.4')) return;
  // 20-second certificates: due 10 s after issuance (the short-lifetime rule), so renew renews without --force.
  const pebble = await startPebble({ version: '2.4', noSleep: true, certificateValidityPeriod: 20 });
  t.after(() => pebble.stop());
  const { standin, kubeconfig } = await standinFor(t);
  const dir = await tempDir();
  // No certificate of its own: the state (and so the one-off) is in Secrets.
  const config = await writeConfig(dir, { directoryUrl: pebble.directoryUrl, httpPort: pebble.httpPort, certificates: [], stateStore: { type: 'kubernetes-secret', kubeconfig, secretPrefix: 'certpilot' } });
  const secretName = 'certpilot-cert-one';
  const data = (): Record<string, string> => standin.secretData(secretName);
  const stateOf = (): { oneOff?: Record<string, unknown> } => {
    const key = Object.keys(data()).find((k) => k.startsWith('renewal-state.'));
    assert.ok(key, `the renewal state is in ${secretName}: ${Object.keys(data()).join(', ')}`);
    return JSON.parse(data()[key] as string) as { oneOff?: Record<string, unknown> };
  };
  const liveCert = (): X509Certificate => {
    const version = data()['live.version'];
    const pem = data()[`versions.${version}.cert.pem`];
    assert.ok(pem, `the live version ${version} is in ${secretName}: ${Object.keys(data()).join(', ')}`);
    return new X509Certificate(pem);
  };

  const issued = await runCli(['issue', '-d', 'one.secret.test', '--name', 'one', '--config', config]);
  assert.equal(issued.code, 0, issued.stdout + issued.stderr);
  assert.doesNotMatch(issued.stderr, /not remembered/, issued.stderr);
  const record = stateOf().oneOff;
  assert.deepEqual({ ...record, recordedAt: undefined }, {
    domains: ['one.secret.test'],
    keyType: 'ec-p256',
    reuseKey: false,
    challenge: { type: 'standalone', port: pebble.httpPort, host: '127.0.0.1' },
    directoryUrl: pebble.directoryUrl,
    caBundle: testCaFile,
    email: 'test@example.com',
    recordedAt: undefined,
  });
  const status = await runCli(['status', '--config', config]);
  assert.equal(status.code, 0, status.stdout + status.stderr);
  assert.match(status.stdout, /^one \(one-off\) /m);
  const v1 = liveCert();

  // Once it is due, renew with the same configuration renews it (no -d, no --force).
  await new Promise((r) => setTimeout(r, Math.max(0, Date.parse(v1.validFrom) + (Date.parse(v1.validTo) - Date.parse(v1.validFrom)) / 2 + 1500 - Date.now())));
  const renewed = await runCli(['renew', '--config', config]);
  assert.equal(renewed.code, 0, renewed.stdout + renewed.stderr);
  assert.match(renewed.stdout, /^renewed +one: renewed version 2/m);
  const v2 = liveCert();
  assert.notEqual(v2.serialNumber, v1.serialNumber);
  assert.deepEqual(stateOf().oneOff?.domains, ['one.secret.test'], 'the record stays through the renewal');

  // A record edited into something certpilot cannot use fails with the Secret and data entry to fix.
  const stateKey = 'renewal-state.state.json';
  const good = data()[stateKey] as string;
  const where = new RegExp(`Secret ${secretName}, data entry ${stateKey.replaceAll('.', '\\.')} \\(Secrets in namespace ${standin.namespace}; "oneOff"\\)`);
  standin.touchSecret(secretName, { data: { [stateKey]: JSON.stringify({ ...JSON.parse(good), oneOff: { ...record, keyType: 'rsa-1024' } }) } });
  const bad = await runCli(['renew', '--config', config]);
  assert.equal(bad.code, 1, bad.stdout + bad.stderr);
  assert.match(bad.stdout, /^failed +one: ERR_ONE_OFF_INVALID: renew one: the one-off record in (.*) cannot be used: oneOff\.keyType: "rsa-1024"/m);
  assert.match(bad.stdout, where, 'the Secret and its data entry are named, not the store\'s internal key');
  standin.touchSecret(secretName, { data: { [stateKey]: good } });

  // forget: the record goes, the certificate's Secret and its versions stay, and renew no longer renews it.
  const forgotten = await runCli(['forget', 'one', '--config', config]);
  assert.equal(forgotten.code, 0, forgotten.stdout + forgotten.stderr);
  assert.match(forgotten.stdout, /^forgotten one: `renew` no longer renews it \(one\.secret\.test\), and status and the metrics no longer show it; removed from /m);
  assert.match(forgotten.stdout, where);
  assert.match(forgotten.stdout, /its files stay \(version 2 live/);
  assert.equal(stateOf().oneOff, undefined, 'the record is removed');
  assert.match(String((stateOf() as { retired?: { at: string } }).retired?.at), /^\d{4}-/, 'retired in the Secret: status and the metrics leave it out');
  assert.equal(liveCert().serialNumber, v2.serialNumber, 'the live version stays in the Secret');
  assert.ok(data()[`versions.1.cert.pem`], 'the earlier version stays too');
  const after = await runCli(['renew', '--force', '--config', config]);
  assert.equal(after.code, 2, after.stdout + after.stderr);
  assert.match(after.stderr, /no certificates to act on/);
  assert.equal(liveCert().serialNumber, v2.serialNumber);
});
