import assert from 'node:assert/strict';
import { existsSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { makeTestBundle } from '../../testing/certificate-fixtures.js';
import { FakeClock } from '../../testing/fake-clock.js';
import { tempDir } from '../../testing/temp-dir.js';
import { FilesystemCertificateStore } from '../../storage/backends/filesystem/filesystem-certificate-store.js';
import type { CertificateBundle } from '../../storage/certificate-store.js';
import { importFiles, type FilesImportOptions } from './import-files.js';

function writeVolume(dir: string, b: CertificateBundle, bundle?: string): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'cert.pem'), b.certPem);
  writeFileSync(join(dir, 'chain.pem'), b.chainPem);
  writeFileSync(join(dir, 'fullchain.pem'), b.fullchainPem);
  writeFileSync(join(dir, 'privkey.pem'), b.privateKeyPem);
  if (bundle !== undefined) writeFileSync(join(dir, 'fullbundle.pem'), bundle);
}

function options(dir: string, stateDir: string, dryRun = false): FilesImportOptions {
  const store = new FilesystemCertificateStore({ stateDir });
  return { dir, name: 'dev', stores: { certificates: store, accounts: store }, directoryUrl: 'https://acme.test/dir', stateDir, termsOfServiceAgreed: false, dryRun, clock: new FakeClock() };
}

describe('importFiles', () => {
  const b = makeTestBundle({ domains: ['dev.project.test', 'www.dev.project.test'] });

  it("imports the deck's volume as one live version, with a files deployer that holds it; twice changes nothing", async () => {
    const volume = join(await tempDir(), 'volume');
    writeVolume(volume, b, b.certPem + b.chainPem + b.privateKeyPem);
    const stateDir = join(await tempDir(), 'state');
    const report = await importFiles(options(volume, stateDir));
    assert.deepEqual(report.items.map((i) => i.status), ['imported']);
    const config = parse(report.config) as { deployers: Record<string, unknown>; certificates: { domains: string[]; deploy: string[] }[]; acme: Record<string, unknown> };
    assert.deepEqual(config.deployers, { volume: { type: 'files', dir: volume, bundle: 'cert-chain-key' } });
    assert.deepEqual(config.certificates[0]?.domains, ['dev.project.test', 'www.dev.project.test']);
    assert.equal(config.acme.termsOfServiceAgreed, undefined, 'no account: terms not agreed on the user\'s behalf');
    const store = new FilesystemCertificateStore({ stateDir });
    assert.equal((await store.load('dev'))?.version, 1);
    assert.equal((await store.loadState('dev')).deployments?.volume?.version, 1);
    const again = await importFiles(options(volume, stateDir));
    assert.deepEqual(again.items.map((i) => i.status), ['unchanged']);
    assert.equal((await store.load('dev'))?.version, 1);
  });

  it('a key that does not match the certificate: refused, nothing written', async () => {
    const volume = join(await tempDir(), 'volume');
    writeVolume(volume, { ...b, privateKeyPem: makeTestBundle().privateKeyPem });
    const stateDir = join(await tempDir(), 'state');
    await assert.rejects(importFiles(options(volume, stateDir)), (err: { code?: string; message?: string }) => err.code === 'ERR_IMPORT_INVALID' && /does not match/.test(err.message ?? ''));
    assert.ok(!existsSync(stateDir));
  });

  it('without fullbundle.pem the deployer writes none; a dry run writes nothing', async () => {
    const volume = join(await tempDir(), 'volume');
    writeVolume(volume, b);
    const stateDir = join(await tempDir(), 'state');
    const report = await importFiles(options(volume, stateDir, true));
    const config = parse(report.config) as { deployers: Record<string, { files?: unknown }> };
    assert.deepEqual(config.deployers.volume?.files, { 'fullbundle.pem': false });
    assert.ok(!existsSync(stateDir));
  });

  it('follows no symbolic link in the directory: a privkey.pem linked elsewhere is refused, nothing written', async () => {
    const volume = join(await tempDir(), 'volume');
    writeVolume(volume, b);
    const outside = join(await tempDir(), 'key.pem');
    writeFileSync(outside, b.privateKeyPem);
    rmSync(join(volume, 'privkey.pem'));
    symlinkSync(outside, join(volume, 'privkey.pem'));
    const stateDir = join(await tempDir(), 'state');
    await assert.rejects(importFiles(options(volume, stateDir)), (err: { code?: string; message?: string }) => err.code === 'ERR_IMPORT_SOURCE' && /privkey\.pem is not a regular file \(a symbolic link is not followed\)/.test(err.message ?? ''));
    assert.ok(!existsSync(stateDir));
  });
});
