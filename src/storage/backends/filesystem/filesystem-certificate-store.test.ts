import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { chmodSync, lstatSync, mkdirSync, renameSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CertpilotError } from '../../../errors.js';
import type { CertificateBundle } from '../../certificate-store.js';
import { stateStoreContract } from '../../../testing/state-store-contract.js';
import { FilesystemStateBackend } from './filesystem-state-backend.js';
import { makeTestBundle } from '../../../testing/certificate-fixtures.js';
import { parseCertificate } from '../../../acme/certificate.js';
import { FilesystemCertificateStore } from './filesystem-certificate-store.js';

const dirs: string[] = [];
function freshDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'certpilot-store-'));
  dirs.push(dir);
  return join(dir, 'state');
}
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function mode(path: string): number {
  return statSync(path).mode & 0o777;
}

function isCode(code: string): (err: unknown) => true {
  return (err) => {
    assert.ok(err instanceof CertpilotError, `expected a CertpilotError, got ${String(err)}`);
    assert.equal(err.code, code);
    return true;
  };
}

stateStoreContract('filesystem', async () => ({
  backend: new FilesystemStateBackend({ stateDir: freshDir() }),
  readAside: async (file) => readFileSync(file, 'utf8'),
}));

describe('FilesystemCertificateStore layout', () => {
  let b1: CertificateBundle;
  let b2: CertificateBundle;
  before(() => {
    b1 = makeTestBundle({ domains: ['example.org', 'www.example.org'] });
    b2 = makeTestBundle({ domains: ['example.org'] });
  });

  it('writes the certbot archive and live files with private modes', async () => {
    const stateDir = freshDir();
    const store = new FilesystemCertificateStore({ stateDir });
    const saved = await store.save('example.org', b1);
    const live = join(stateDir, 'live', 'example.org');
    assert.deepEqual(saved.paths, {
      dir: live,
      cert: join(live, 'cert.pem'),
      chain: join(live, 'chain.pem'),
      fullchain: join(live, 'fullchain.pem'),
      privkey: join(live, 'privkey.pem'),
    });
    // Users' servers read these paths.
    assert.equal(readFileSync(saved.paths.fullchain, 'utf8'), b1.fullchainPem);
    assert.equal(readFileSync(saved.paths.privkey, 'utf8'), b1.privateKeyPem);
    assert.equal(readFileSync(saved.paths.cert, 'utf8'), b1.certPem);
    assert.equal(readFileSync(saved.paths.chain, 'utf8'), b1.chainPem);
    assert.match(readFileSync(join(live, 'README'), 'utf8'), /fullchain\.pem/);

    const archive = join(stateDir, 'archive', 'example.org');
    assert.deepEqual(readdirSync(archive).sort(), ['cert1.pem', 'chain1.pem', 'fullchain1.pem', 'meta1.json', 'privkey1.pem']);
    assert.deepEqual(JSON.parse(readFileSync(join(archive, 'meta1.json'), 'utf8')), b1.metadata);
    assert.equal(mode(join(archive, 'privkey1.pem')), 0o600);
    assert.equal(mode(saved.paths.privkey), 0o600);
    assert.equal(mode(join(archive, 'cert1.pem')), 0o644);
    for (const dir of [stateDir, join(stateDir, 'archive'), archive, join(stateDir, 'live'), live]) assert.equal(mode(dir), 0o700, dir);

    // live/<name> is one symlink to a version directory of relative links into archive/.
    assert.ok(lstatSync(live).isSymbolicLink());
    assert.equal(readlinkSync(live), '.example.org.v1');
    assert.equal(readlinkSync(join(live, 'fullchain.pem')), '../../archive/example.org/fullchain1.pem');
  });

  it('switches live to the new version and removes the old version directory, keeping the archive', async () => {
    const stateDir = freshDir();
    const store = new FilesystemCertificateStore({ stateDir });
    await store.save('example.org', b1);
    const second = await store.save('example.org', b2);
    assert.equal(second.version, 2);
    assert.equal(readFileSync(store.pathsFor('example.org').fullchain, 'utf8'), b2.fullchainPem);
    assert.deepEqual(readdirSync(join(stateDir, 'live')).sort(), ['.example.org.v2', 'example.org']);
    assert.equal(readFileSync(join(stateDir, 'archive', 'example.org', 'fullchain1.pem'), 'utf8'), b1.fullchainPem);
  });

  it('ignores leftovers of an interrupted save and numbers past them', async () => {
    const stateDir = freshDir();
    const store = new FilesystemCertificateStore({ stateDir });
    await store.save('example.org', b1);
    const archive = join(stateDir, 'archive', 'example.org');
    // A save of version 2 died after part of the archive and a half-built version directory.
    writeFileSync(join(archive, 'cert2.pem'), b2.certPem);
    writeFileSync(join(archive, 'privkey2.pem'), 'torn');
    writeFileSync(join(archive, '.chain2.pem.4242.deadbeef.tmp'), 'torn');
    mkdirSync(join(stateDir, 'live', '.example.org.v2'));
    symlinkSync('../../archive/example.org/cert2.pem', join(stateDir, 'live', '.example.org.v2', 'cert.pem'));
    symlinkSync('.example.org.v2', join(stateDir, 'live', '.example.org.link.tmp'));

    const loaded = await store.load('example.org');
    assert.equal(loaded?.version, 1);
    assert.equal(loaded?.privateKeyPem, b1.privateKeyPem);

    const next = await store.save('example.org', b2);
    assert.equal(next.version, 3);
    assert.equal((await store.load('example.org'))?.certPem, b2.certPem);
    assert.deepEqual(readdirSync(join(stateDir, 'live')).sort(), ['.example.org.v3', 'example.org']);
    assert.ok(!readdirSync(archive).some((e) => e.endsWith('.tmp')), 'temp files removed');
  });

  it('leaves the old set live when a step fails, and reports ERR_STORAGE_IO', async () => {
    const stateDir = freshDir();
    await new FilesystemCertificateStore({ stateDir }).save('example.org', b1);
    // Each failed attempt uses up a version number, so match steps by pattern.
    for (const failAt of [/^write archive\/example\.org\/privkey\d+\.pem$/, /^symlink live\/\.example\.org\.v\d+\/chain\.pem$/, /^rename live\/example\.org$/]) {
      let hit = false;
      const store = new FilesystemCertificateStore({
        stateDir,
        faults: (step) => {
          if (failAt.test(step)) {
            hit = true;
            throw new Error('injected');
          }
        },
      });
      await assert.rejects(store.save('example.org', b2), isCode('ERR_STORAGE_IO'), String(failAt));
      assert.ok(hit, `step ${String(failAt)} was reached`);
      const loaded = await store.load('example.org');
      assert.equal(loaded?.certPem, b1.certPem, String(failAt));
      assert.equal(loaded?.privateKeyPem, b1.privateKeyPem, String(failAt));
      assert.equal(readFileSync(join(stateDir, 'live', 'example.org', 'privkey.pem'), 'utf8'), b1.privateKeyPem, String(failAt));
    }
    const after = await new FilesystemCertificateStore({ stateDir }).save('example.org', b2);
    assert.equal((await new FilesystemCertificateStore({ stateDir }).load('example.org'))?.version, after.version);
  });

  it('refuses a key that does not match the certificate, writing nothing', async () => {
    const stateDir = freshDir();
    const store = new FilesystemCertificateStore({ stateDir });
    await assert.rejects(store.save('example.org', { ...b1, privateKeyPem: b2.privateKeyPem }), isCode('ERR_KEY_INVALID'));
    assert.equal(await store.load('example.org'), undefined);
    assert.deepEqual(await store.list(), []);
  });

  it('loads a certbot live directory, deriving metadata, then migrates it on save', async () => {
    const stateDir = freshDir();
    const archive = join(stateDir, 'archive', 'example.org');
    const live = join(stateDir, 'live', 'example.org');
    mkdirSync(archive, { recursive: true });
    mkdirSync(live, { recursive: true });
    const files = { cert: b1.certPem, chain: b1.chainPem, fullchain: b1.fullchainPem, privkey: b1.privateKeyPem };
    for (const [file, pem] of Object.entries(files)) {
      writeFileSync(join(archive, `${file}1.pem`), 'old');
      writeFileSync(join(archive, `${file}2.pem`), pem);
      symlinkSync(`../../archive/example.org/${file}2.pem`, join(live, `${file}.pem`));
    }
    const store = new FilesystemCertificateStore({ stateDir });
    assert.deepEqual(await store.list(), ['example.org']);
    const loaded = await store.load('example.org');
    assert.equal(loaded?.version, 2);
    assert.equal(loaded?.fullchainPem, b1.fullchainPem);
    const x509 = new X509Certificate(b1.certPem);
    assert.deepEqual(loaded?.metadata.domains, ['example.org', 'www.example.org']);
    assert.equal(loaded?.metadata.keyType, 'ec-p256');
    assert.equal(loaded?.metadata.notAfter, new Date(x509.validTo).toISOString());
    assert.equal(loaded?.metadata.serialNumber, x509.serialNumber.toLowerCase());
    // The ARI id is read from the certificate, so the first renewal of a certbot set sends `replaces`.
    assert.ok(loaded?.metadata.ariCertId, 'ARI id derived');
    assert.equal(loaded?.metadata.ariCertId, parseCertificate(b1.certPem).ariCertId);

    assert.deepEqual(await store.listVersions('example.org'), [1, 2], "certbot's versions");
    assert.deepEqual(await store.listVersions('unknown.example'), []);
    const saved = await store.save('example.org', b2);
    assert.equal(saved.version, 3, 'continues certbot numbering');
    assert.deepEqual(await store.listVersions('example.org'), [1, 2, 3]);
    // A leftover of an interrupted save above the live version is not a version.
    for (const f of ['cert', 'chain', 'fullchain', 'privkey']) writeFileSync(join(archive, `${f}4.pem`), 'partial');
    assert.deepEqual(await store.listVersions('example.org'), [1, 2, 3]);
    assert.ok(lstatSync(live).isSymbolicLink());
    assert.equal(readFileSync(join(live, 'fullchain.pem'), 'utf8'), b2.fullchainPem);
    assert.ok(!existsSync(join(stateDir, 'live', '.example.org.legacy')), 'set-aside certbot directory removed');
    assert.equal(readFileSync(join(archive, 'fullchain2.pem'), 'utf8'), b1.fullchainPem, 'certbot archive kept');
  });

  it('puts back a certbot directory that an interrupted migration set aside', async () => {
    const stateDir = freshDir();
    const archive = join(stateDir, 'archive', 'example.org');
    const aside = join(stateDir, 'live', '.example.org.legacy');
    mkdirSync(archive, { recursive: true });
    mkdirSync(aside, { recursive: true });
    const files = { cert: b1.certPem, chain: b1.chainPem, fullchain: b1.fullchainPem, privkey: b1.privateKeyPem };
    for (const [file, pem] of Object.entries(files)) {
      writeFileSync(join(archive, `${file}1.pem`), pem);
      symlinkSync(`../../archive/example.org/${file}1.pem`, join(aside, `${file}.pem`));
    }
    const store = new FilesystemCertificateStore({ stateDir });
    assert.deepEqual(await store.list(), ['example.org']);
    assert.equal((await store.load('example.org'))?.certPem, b1.certPem);
    assert.equal(readFileSync(join(stateDir, 'live', 'example.org', 'fullchain.pem'), 'utf8'), b1.fullchainPem);
  });

  it('lists only certificate names, not version directories or temp links', async () => {
    const stateDir = freshDir();
    const store = new FilesystemCertificateStore({ stateDir });
    await store.save('b.example', b1);
    await store.save('a.example', b1);
    await store.save('a.example', b2);
    writeFileSync(join(stateDir, 'live', '.junk.tmp'), '');
    writeFileSync(join(stateDir, 'live', 'README'), 'certbot puts one here');
    assert.deepEqual(await store.list(), ['a.example', 'b.example']);
  });

  it('sets a corrupt state file aside (renamed, never deleted) and starts from an empty state', async () => {
    const stateDir = freshDir();
    const store = new FilesystemCertificateStore({ stateDir });
    await store.saveState('example.org', { failureCount: 2 });
    const file = join(stateDir, 'renewal-state', 'example.org.json');
    assert.equal(mode(file), 0o600);
    writeFileSync(file, '{"failureCount": 2');
    assert.deepEqual(await store.loadState('example.org'), { failureCount: 0 });
    writeFileSync(file, '[]');
    assert.deepEqual(await store.loadState('example.org'), { failureCount: 0 });
    const aside = readdirSync(join(stateDir, 'renewal-state')).filter((f) => f.startsWith('example.org.json.corrupt-'));
    assert.equal(aside.length, 2, `both bad files kept: ${aside.join(', ')}`);
    assert.deepEqual(aside.map((f) => readFileSync(join(stateDir, 'renewal-state', f), 'utf8')).sort(), ['[]', '{"failureCount": 2']);
  });

  it('reports a truncated live file as ERR_STORAGE_CORRUPT instead of loading it', async () => {
    const stateDir = freshDir();
    const store = new FilesystemCertificateStore({ stateDir });
    const saved = await store.save('example.org', makeTestBundle({ domains: ['example.org'] }));
    writeFileSync(join(stateDir, 'archive', 'example.org', 'privkey1.pem'), '-----BEGIN PRIVATE KEY-----\nMIGH');
    await assert.rejects(store.load('example.org'), (err: Error & { code?: string }) => err.code === 'ERR_STORAGE_CORRUPT' && err.message.includes(store.pathsFor(saved.name).privkey));
  });

  it('a save that fails on a full disk leaves nothing of the new version behind', async () => {
    const stateDir = freshDir();
    let armed = false;
    const store = new FilesystemCertificateStore({
      stateDir,
      faults: (step) => {
        if (armed && step.startsWith('write archive/example.org/chain2')) throw Object.assign(new Error('no space'), { code: 'ENOSPC' });
      },
    });
    await store.save('example.org', makeTestBundle({ domains: ['example.org'] }));
    armed = true;
    await assert.rejects(store.save('example.org', makeTestBundle({ domains: ['example.org'] })));
    assert.deepEqual(readdirSync(join(stateDir, 'archive', 'example.org')).sort(), ['cert1.pem', 'chain1.pem', 'fullchain1.pem', 'meta1.json', 'privkey1.pem']);
    assert.equal((await store.load('example.org'))?.version, 1, 'the old set stays live');
  });

  it('keeps a pending order and its key (0600) until cleared', async () => {
    const stateDir = freshDir();
    const store = new FilesystemCertificateStore({ stateDir });
    assert.equal(await store.loadPendingOrder('example.org'), undefined);
    const key = makeTestBundle({ domains: ['example.org'] }).privateKeyPem;
    const order = { orderUrl: 'https://ca.test/order/9', directoryUrl: 'https://ca.test/dir', accountUrl: 'https://ca.test/acct/1', domains: ['example.org'], keyType: 'ec-p256' as const, privateKeyPem: key, createdAt: '2026-01-01T00:00:00.000Z' };
    await store.savePendingOrder('example.org', order);
    assert.equal(mode(join(stateDir, 'pending', 'example.org', 'privkey.pem')), 0o600);
    assert.ok(!readFileSync(join(stateDir, 'pending', 'example.org', 'order.json'), 'utf8').includes('PRIVATE KEY'), 'the key is not in the record');
    assert.deepEqual(await store.loadPendingOrder('example.org'), order);
    await store.savePendingOrder('example.org', { ...order, certificateUrl: 'https://ca.test/cert/9' });
    assert.equal((await store.loadPendingOrder('example.org'))?.certificateUrl, 'https://ca.test/cert/9');
    await store.clearPendingOrder('example.org');
    await store.clearPendingOrder('example.org');
    assert.equal(await store.loadPendingOrder('example.org'), undefined);
  });

  it('the record decides presence: a pending key alone is no pending order; a record alone is read without its key', async () => {
    const stateDir = freshDir();
    const backend = new FilesystemStateBackend({ stateDir });
    const dir = join(stateDir, 'pending', 'example.org');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'privkey.pem'), 'key');
    assert.equal(await backend.get('certificates/example.org/pending-order'), undefined);
    rmSync(join(dir, 'privkey.pem'));
    writeFileSync(join(dir, 'order.json'), '{}');
    assert.deepEqual((await backend.get('certificates/example.org/pending-order'))?.value, { 'order.json': '{}' });
    writeFileSync(join(dir, 'privkey.pem'), 'key');
    assert.deepEqual((await backend.get('certificates/example.org/pending-order'))?.value, { 'order.json': '{}', 'privkey.pem': 'key' });
    // Looked for with a stat first (usually absent): a record that cannot be read is still an error, never "no order".
    rmSync(join(dir, 'order.json'));
    mkdirSync(join(dir, 'order.json'));
    await assert.rejects(backend.get('certificates/example.org/pending-order'), (err: CertpilotError) => err.code === 'ERR_STORAGE_IO' && /EISDIR/.test(err.message));
  });

  it('a listing, of one name or of all, has a renewal state and a pending order only while their files are there', async () => {
    const stateDir = freshDir();
    const backend = new FilesystemStateBackend({ stateDir });
    await backend.put('certificates/example.org/renewal-state', { 'state.json': '{"failureCount":0}' });
    await backend.put('certificates/example.org/pending-order', { 'order.json': '{}', 'privkey.pem': 'key' });
    const keys = ['certificates/example.org/pending-order', 'certificates/example.org/renewal-state'];
    assert.deepEqual(await backend.list('certificates/example.org/'), keys);
    assert.deepEqual(await backend.list('certificates/'), keys);
    rmSync(join(stateDir, 'renewal-state', 'example.org.json'));
    rmSync(join(stateDir, 'pending', 'example.org', 'order.json'));
    assert.deepEqual(await backend.list('certificates/example.org/'), [], 'a key left alone is no pending order; no file, no state');
    assert.deepEqual(await backend.list('certificates/'), []);
    // A state that is there but cannot be read is listed: reading it reports the problem, for that certificate alone.
    mkdirSync(join(stateDir, 'renewal-state', 'example.org.json'));
    assert.deepEqual(await backend.list('certificates/example.org/'), ['certificates/example.org/renewal-state']);
    await assert.rejects(backend.get('certificates/example.org/renewal-state'), (err: CertpilotError) => err.code === 'ERR_STORAGE_IO' && /EISDIR/.test(err.message));
  });

  it('reads the live version from the link\'s target by exact name (a `.` in a name matches only itself)', async () => {
    const stateDir = freshDir();
    const store = new FilesystemCertificateStore({ stateDir });
    for (const name of ['example.org', 'exampleXorg', 'www.example.org']) {
      await store.save(name, b1);
      await store.save(name, b2);
    }
    const backend = new FilesystemStateBackend({ stateDir });
    assert.deepEqual((await backend.get('certificates/www.example.org/live'))?.value, { version: '2' });
    assert.equal((await store.load('www.example.org'))?.certPem, b2.certPem);
    // example.org's link pointed at `.exampleXorg.v7` (a `.` read as any character would take 7
    // from it): not its own version directory, so the version is what its cert.pem link names.
    renameSync(join(stateDir, 'live', '.exampleXorg.v2'), join(stateDir, 'live', '.exampleXorg.v7'));
    rmSync(join(stateDir, 'live', 'example.org'));
    symlinkSync('.exampleXorg.v7', join(stateDir, 'live', 'example.org'));
    assert.deepEqual((await backend.get('certificates/example.org/live'))?.value, { version: '2' });
    rmSync(join(stateDir, 'live', 'example.org'));
    symlinkSync('.example.org.v2', join(stateDir, 'live', 'example.org'));
    assert.deepEqual((await backend.get('certificates/example.org/live'))?.value, { version: '2' });
  });

  it('writes a pending order\'s key once, but again when it differs or is no longer 0600', async () => {
    const stateDir = freshDir();
    const store = new FilesystemCertificateStore({ stateDir });
    const keyFile = join(stateDir, 'pending', 'example.org', 'privkey.pem');
    const key = makeTestBundle({ domains: ['example.org'] }).privateKeyPem;
    const order = { orderUrl: 'https://ca.test/order/9', directoryUrl: 'https://ca.test/dir', accountUrl: 'https://ca.test/acct/1', domains: ['example.org'], keyType: 'ec-p256' as const, privateKeyPem: key, createdAt: '2026-01-01T00:00:00.000Z' };
    await store.savePendingOrder('example.org', order);
    const inode = statSync(keyFile).ino;
    // The checkpoint after finalize: same key, a certificate URL.
    await store.savePendingOrder('example.org', { ...order, certificateUrl: 'https://ca.test/cert/9' });
    assert.equal(statSync(keyFile).ino, inode, 'the same key is not written again');
    assert.equal((await store.loadPendingOrder('example.org'))?.certificateUrl, 'https://ca.test/cert/9');
    // Someone widened its mode: written again, 0600.
    chmodSync(keyFile, 0o644);
    await store.savePendingOrder('example.org', order);
    assert.equal(mode(keyFile), 0o600);
    // A new order with a new key: the new key is what loads.
    const other = makeTestBundle({ domains: ['example.org'] }).privateKeyPem;
    await store.savePendingOrder('example.org', { ...order, orderUrl: 'https://ca.test/order/10', privateKeyPem: other });
    assert.deepEqual(await store.loadPendingOrder('example.org'), { ...order, orderUrl: 'https://ca.test/order/10', privateKeyPem: other });
    assert.equal(mode(keyFile), 0o600);
  });

  it('a save removes the version directories it replaces without listing live/, and finds one a failed save left above', async () => {
    const stateDir = freshDir();
    const store = new FilesystemCertificateStore({ stateDir });
    const live = join(stateDir, 'live');
    await store.save('example.org', makeTestBundle({ domains: ['example.org'] }));
    await store.save('example.org', makeTestBundle({ domains: ['example.org'] }));
    assert.deepEqual(readdirSync(live).filter((e) => e.includes('example.org')).sort(), ['.example.org.v2', 'example.org']);
    // A save of version 3 that died after building its directory and before writing its archive
    // files (or whose archive files a cleanup removed): the next save must not reuse number 3's
    // directory blindly, and no stale directory may stay once a later version is live.
    mkdirSync(join(live, '.example.org.v3'));
    symlinkSync('../../archive/example.org/cert3.pem', join(live, '.example.org.v3', 'cert.pem'));
    mkdirSync(join(live, '.example.org.legacy'));
    const saved = await store.save('example.org', makeTestBundle({ domains: ['example.org'] }));
    assert.equal(saved.version, 4, 'the leftover directory\'s number is skipped');
    assert.deepEqual(readdirSync(live).filter((e) => e.includes('example.org')).sort(), ['.example.org.v4', 'example.org']);
    assert.equal(readlinkSync(join(live, 'example.org')), '.example.org.v4');
  });
});

describe('FilesystemCertificateStore accounts', () => {
  const keyPem = '-----BEGIN PRIVATE KEY-----\nnot-a-real-key\n-----END PRIVATE KEY-----\n';

  it('loads undefined before an account is saved', async () => {
    const store = new FilesystemCertificateStore({ stateDir: freshDir() });
    assert.equal(await store.loadAccount('https://localhost:14000/dir'), undefined);
  });

  it('round-trips an account per directory URL, key 0600', async () => {
    const stateDir = freshDir();
    const store = new FilesystemCertificateStore({ stateDir });
    const account = {
      directoryUrl: 'https://localhost:14000/dir',
      privateKeyPem: keyPem,
      url: 'https://localhost:14000/my-account/7',
      contact: ['mailto:ops@example.org'],
      createdAt: '2026-01-01T00:00:00.000Z',
    };
    await store.saveAccount(account);
    await store.saveAccount({ directoryUrl: 'https://acme-v02.api.letsencrypt.org/directory', privateKeyPem: 'other', createdAt: '2026-01-02T00:00:00.000Z' });
    assert.deepEqual(await store.loadAccount(account.directoryUrl), account);
    const other = await store.loadAccount('https://acme-v02.api.letsencrypt.org/directory');
    assert.deepEqual(other, { directoryUrl: 'https://acme-v02.api.letsencrypt.org/directory', privateKeyPem: 'other', createdAt: '2026-01-02T00:00:00.000Z' });

    const dir = join(stateDir, 'accounts', 'localhost_14000_dir');
    assert.equal(mode(join(dir, 'private_key.pem')), 0o600);
    assert.equal(mode(dir), 0o700);
    const record = JSON.parse(readFileSync(join(dir, 'account.json'), 'utf8')) as Record<string, unknown>;
    assert.equal(record.privateKeyPem, undefined, 'the key is not in account.json');
    assert.equal(record.url, account.url);
    assert.ok(existsSync(join(stateDir, 'accounts', 'acme-v02.api.letsencrypt.org_directory', 'account.json')));
  });

  it('creates an account once, in a 0700 directory with the key 0600; a second create is refused and changes nothing', async () => {
    const stateDir = freshDir();
    const store = new FilesystemCertificateStore({ stateDir });
    const account = { directoryUrl: 'https://localhost:14000/dir', privateKeyPem: keyPem, createdAt: '2026-01-01T00:00:00.000Z' };
    const results = await Promise.all([store.createAccount(account), store.createAccount({ ...account, privateKeyPem: 'second' })]);
    assert.deepEqual([...results].sort(), [false, true], 'exactly one of two creates at once wins');
    const dir = join(stateDir, 'accounts', 'localhost_14000_dir');
    assert.equal(mode(dir), 0o700);
    assert.equal(mode(join(dir, 'private_key.pem')), 0o600);
    const kept = (await store.loadAccount(account.directoryUrl))?.privateKeyPem;
    assert.equal(kept, results[0] ? keyPem : 'second', 'the winner\'s key is stored');
    assert.deepEqual(readdirSync(join(stateDir, 'accounts')), ['localhost_14000_dir'], 'no staging directory left behind');
  });

  it('a save removes temporary copies left by dead writers, never one a live process is writing', async () => {
    const stateDir = freshDir();
    const store = new FilesystemCertificateStore({ stateDir });
    const account = { directoryUrl: 'https://localhost:14000/dir', privateKeyPem: keyPem, createdAt: '2026-01-01T00:00:00.000Z' };
    await store.saveAccount(account);
    const dir = join(stateDir, 'accounts', 'localhost_14000_dir');
    const live = `.private_key.pem.${process.ppid}.0123abcd.tmp`;
    const dead = `.private_key.pem.${2 ** 22 + 7}.0123abcd.tmp`;
    writeFileSync(join(dir, live), 'in flight', { mode: 0o600 });
    writeFileSync(join(dir, dead), 'crashed', { mode: 0o600 });
    await store.saveAccount({ ...account, url: 'https://localhost:14000/my-account/1' });
    assert.ok(existsSync(join(dir, live)), 'the live writer\'s file stays');
    assert.ok(!existsSync(join(dir, dead)), 'the dead writer\'s copy of the key is gone');
  });

  it('treats an account record without its key as corrupt', async () => {
    const stateDir = freshDir();
    const store = new FilesystemCertificateStore({ stateDir });
    await store.saveAccount({ directoryUrl: 'https://localhost:14000/dir', privateKeyPem: keyPem, createdAt: '2026-01-01T00:00:00.000Z' });
    rmSync(join(stateDir, 'accounts', 'localhost_14000_dir', 'private_key.pem'));
    await assert.rejects(store.loadAccount('https://localhost:14000/dir'), isCode('ERR_STORAGE_CORRUPT'));
  });
});
