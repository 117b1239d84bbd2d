import assert from 'node:assert/strict';
import { chmodSync, chownSync, cpSync, existsSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { makeTestBundle } from '../../testing/certificate-fixtures.js';
import { CERTBOT_TEST_SERVER, writeCertbotAccount, writeCertbotLineage } from '../../testing/certbot-tree.js';
import { FakeClock } from '../../testing/fake-clock.js';
import { tempDir } from '../../testing/temp-dir.js';
import { FilesystemCertificateStore } from '../../storage/backends/filesystem/filesystem-certificate-store.js';
import type { CertificateBundle } from '../../storage/certificate-store.js';
import { MemoryStateBackend } from '../../storage/backends/memory/memory-state-backend.js';
import { StateStore } from '../../storage/state-store.js';
import { importCertbot, type CertbotImportOptions } from './import-certbot.js';

const SERVER = CERTBOT_TEST_SERVER;

async function options(configDir: string, stateDir: string, dryRun = false): Promise<CertbotImportOptions> {
  const store = new FilesystemCertificateStore({ stateDir });
  return { configDir, stores: { certificates: store, accounts: store }, directoryUrl: SERVER, stagingDirectoryUrl: SERVER, stateDir, dryRun, clock: new FakeClock(new Date('2026-12-01T00:00:00Z')) };
}

describe('importCertbot', () => {
  const [v1, v2] = [makeTestBundle({ domains: ['a.test', 'www.a.test'] }), makeTestBundle({ domains: ['a.test', 'www.a.test'] })] as [CertificateBundle, CertificateBundle];

  it('continues an interrupted import after the version already live, and never overwrites another certificate', async () => {
    const root = join(await tempDir(), 'le');
    writeCertbotLineage(root, 'a', [v1, v2]);
    writeCertbotAccount(root);
    const stateDir = join(await tempDir(), 'state');
    const store = new FilesystemCertificateStore({ stateDir });
    // An import that died after saving version 1.
    await store.save('a', { ...v1, metadata: { ...v1.metadata } });
    const report = await importCertbot(await options(root, stateDir));
    const a = report.items.find((i) => i.name === 'a');
    assert.equal(a?.status, 'imported');
    assert.match(a?.detail ?? '', /1 version .*those after version 1, which an earlier import saved/);
    const live = await store.load('a');
    assert.equal(live?.version, 2);
    assert.equal(live?.certPem, v2.certPem);
    assert.ok(live?.metadata.ariCertId, 'metadata carries the ARI id');
    assert.equal(live?.metadata.accountUrl, 'https://acme.test:14000/my-account/1');
    const account = await store.loadAccount(SERVER);
    assert.equal(account?.url, 'https://acme.test:14000/my-account/1');
    assert.deepEqual(account?.contact, ['mailto:ops@example.com']);

    // Another certificate under the same name in certpilot's state: reported, not overwritten.
    const other = join(await tempDir(), 'le');
    writeCertbotLineage(other, 'a', [makeTestBundle({ domains: ['other.test'] })]);
    const conflict = await importCertbot(await options(other, stateDir));
    assert.equal(conflict.items.find((i) => i.name === 'a')?.code, 'ERR_IMPORT_CONFLICT');
    assert.equal((await store.load('a'))?.certPem, v2.certPem);
  });

  it("the deck's dev volume: copies at the root become a files deployer that already holds the live version", async () => {
    const root = join(await tempDir(), 'volume');
    writeCertbotLineage(root, 'dev', [v1], ['renew_hook = true && cd /etc/letsencrypt/ && cp -aL live/dev/* . && cat cert.pem chain.pem privkey.pem > fullbundle.pem']);
    for (const f of ['cert', 'chain', 'fullchain', 'privkey']) cpSync(join(root, 'live', 'dev', `${f}.pem`), join(root, `${f}.pem`), { dereference: true });
    writeFileSync(join(root, 'fullbundle.pem'), v1.certPem + v1.chainPem + v1.privateKeyPem);
    const stateDir = join(await tempDir(), 'state');
    const report = await importCertbot(await options(root, stateDir));
    const config = parse(report.config) as { deployers: Record<string, unknown>; certificates: { deploy: string[] }[] };
    assert.deepEqual(config.deployers, { volume: { type: 'files', dir: root, bundle: 'cert-chain-key' } });
    assert.deepEqual(config.certificates[0]?.deploy, ['volume']);
    assert.ok(report.notes.some((n) => n.setting.startsWith('renew_hook') && /files` deployer `volume`/.test(n.reason)));
    const state = await new FilesystemCertificateStore({ stateDir }).loadState('dev');
    assert.equal(state.deployments?.volume?.version, 1);
    assert.equal(report.items.filter((i) => i.status === 'skipped').length, 0, 'no account: nothing skipped');
  });

  it('imported in place (state dir = certbot dir): the lineage is recognised, nothing rewritten', async () => {
    const root = join(await tempDir(), 'le');
    writeCertbotLineage(root, 'a', [v1, v2]);
    const report = await importCertbot(await options(root, root));
    assert.equal(report.items.find((i) => i.name === 'a')?.status, 'unchanged');
    assert.ok(!existsSync(join(root, 'archive', 'a', 'cert3.pem')));
    assert.equal(readFileSync(join(root, 'live', 'a', 'cert.pem'), 'utf8'), v2.certPem);
  });

  it('a dry run writes nothing', async () => {
    const root = join(await tempDir(), 'le');
    writeCertbotLineage(root, 'a', [v1, v2]);
    writeCertbotAccount(root);
    const stateDir = join(await tempDir(), 'state');
    const report = await importCertbot(await options(root, stateDir, true));
    assert.deepEqual(report.items.map((i) => i.status), ['imported', 'imported']);
    assert.ok(!existsSync(stateDir));
  });

  it('refuses a directory that is not certbot\'s', async () => {
    await assert.rejects(importCertbot(await options(await tempDir(), join(await tempDir(), 's'))), { code: 'ERR_IMPORT_SOURCE' });
  });

  it('writes through the domain stores whatever the backend: into memory, every version, the ARI id, the account; twice changes nothing', async () => {
    const root = join(await tempDir(), 'le');
    writeCertbotLineage(root, 'a', [v1, v2]);
    writeCertbotAccount(root);
    const store = new StateStore(new MemoryStateBackend());
    const opts = { ...(await options(root, '/nonexistent')), stores: { certificates: store, accounts: store } };
    const report = await importCertbot(opts);
    assert.deepEqual(report.items.map((i) => `${i.kind}:${i.status}`).sort(), ['account:imported', 'certificate:imported']);
    assert.deepEqual(await store.listVersions('a'), [1, 2], "every certbot version kept");
    const live = await store.load('a');
    assert.equal(live?.certPem, v2.certPem);
    assert.ok(live?.metadata.ariCertId, 'the first renewal sends replaces');
    assert.equal((await store.loadAccount(SERVER))?.url, 'https://acme.test:14000/my-account/1');
    const again = await importCertbot(opts);
    assert.deepEqual(again.items.map((i) => i.status), ['unchanged', 'unchanged']);
    assert.deepEqual(await store.listVersions('a'), [1, 2]);
  });

  it('keeps private keys 0600 in a state directory', async () => {
    const root = join(await tempDir(), 'le');
    writeCertbotLineage(root, 'a', [v1, v2]);
    const stateDir = join(await tempDir(), 'state');
    await importCertbot(await options(root, stateDir));
    for (const n of [1, 2]) assert.equal(statSync(join(stateDir, 'archive', 'a', `privkey${n}.pem`)).mode & 0o777, 0o600);
  });

  it('follows no symbolic link but certbot\'s own live -> ../../archive/NAME/: a planted link or another lineage\'s file is refused by name, the others imported', async () => {
    const root = join(await tempDir(), 'le');
    writeCertbotLineage(root, 'good', [v1]);
    writeCertbotLineage(root, 'planted', [v2]);
    writeCertbotLineage(root, 'borrower', [makeTestBundle({ domains: ['b.test'] })]);
    // A key outside the directory, linked in place of the archived key: never read.
    const outside = join(await tempDir(), 'secret.pem');
    writeFileSync(outside, v2.privateKeyPem);
    rmSync(join(root, 'archive', 'planted', 'privkey1.pem'));
    symlinkSync(outside, join(root, 'archive', 'planted', 'privkey1.pem'));
    // A live link into another lineage's archive.
    rmSync(join(root, 'live', 'borrower', 'cert.pem'));
    symlinkSync('../../archive/good/cert1.pem', join(root, 'live', 'borrower', 'cert.pem'));
    const stateDir = join(await tempDir(), 'state');
    const report = await importCertbot(await options(root, stateDir));
    const by = (name: string) => report.items.find((i) => i.name === name);
    assert.equal(by('good')?.status, 'imported');
    assert.equal(by('planted')?.code, 'ERR_IMPORT_INVALID');
    assert.match(by('planted')?.detail ?? '', /archive\/planted\/privkey1\.pem is not a regular file \(a symbolic link is not followed\)/);
    assert.equal(by('borrower')?.code, 'ERR_IMPORT_INVALID');
    assert.match(by('borrower')?.detail ?? '', /live\/borrower\/cert\.pem points outside archive\/borrower\//);
    const store = new FilesystemCertificateStore({ stateDir });
    assert.deepEqual(await store.list(), ['good']);
  });

  it('as root, reads nothing another user could have planted: an archive directory owned by another uid, a shared certbot directory', { skip: process.geteuid?.() !== 0 ? 'needs root (chown)' : false }, async () => {
    const root = join(await tempDir(), 'le');
    writeCertbotLineage(root, 'good', [v1]);
    writeCertbotLineage(root, 'theirs', [v2]);
    chownSync(join(root, 'archive', 'theirs'), 4242, 4242);
    const stateDir = join(await tempDir(), 'state');
    const report = await importCertbot(await options(root, stateDir));
    assert.equal(report.items.find((i) => i.name === 'good')?.status, 'imported');
    const theirs = report.items.find((i) => i.name === 'theirs');
    assert.equal(theirs?.status, 'skipped');
    assert.match(theirs?.detail ?? '', /archive\/theirs is not read: it is owned by uid 4242/);

    chmodSync(root, 0o777);
    const other = join(await tempDir(), 'state2');
    await assert.rejects(importCertbot(await options(root, other)), { code: 'ERR_FS_SHARED_DIR' });
    assert.ok(!existsSync(other), 'nothing written');
  });
});
