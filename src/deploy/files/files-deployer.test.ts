import assert from 'node:assert/strict';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { chownSync, existsSync, lstatSync, readFileSync, readdirSync, readlinkSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { CertpilotError } from '../../errors.js';
import { silentLogger } from '../../logger.js';
import { findPlugin } from '../../plugins/registry.js';
import type { CertificateBundle, StoredCertificate } from '../../storage/certificate-store.js';
import { makeTestBundle } from '../../testing/certificate-fixtures.js';
import { systemClock } from '../../clock.js';
import { tempDir } from '../../testing/temp-dir.js';
import { FilesDeployer, MARKER, fileSet, parseMode, type FilesDeployerOptions } from './files-deployer.js';
import { filesSchema } from './schema.js';

const STANDARD = ['cert.pem', 'chain.pem', 'fullbundle.pem', 'fullchain.pem', 'privkey.pem'];
const isRoot = process.getuid?.() === 0;

function stored(bundle: CertificateBundle, version: number, name = 'site'): StoredCertificate {
  return { ...bundle, name, version, paths: { dir: `/state/live/${name}`, cert: '', chain: '', fullchain: '', privkey: '' } };
}

function deployer(dir: string, options: Partial<FilesDeployerOptions> & { bundle?: 'cert-chain-key' | 'key-cert-chain'; custom?: Record<string, ('cert' | 'chain' | 'fullchain' | 'key')[] | false> } = {}): FilesDeployer {
  const { bundle = 'cert-chain-key', custom, ...rest } = options;
  return new FilesDeployer({ id: 'volume', dir, files: fileSet({ bundle, files: custom }), logger: silentLogger, ...rest });
}

const mode = (path: string): number => statSync(path).mode & 0o7777;
const versionDirs = (dir: string): string[] => readdirSync(dir).filter((e) => e.startsWith('..') && e !== '..data' && e !== MARKER);

describe('FilesDeployer', () => {
  let v1: CertificateBundle;
  let v2: CertificateBundle;
  before(() => {
    v1 = makeTestBundle({ domains: ['site.test', 'www.site.test'] });
    v2 = makeTestBundle({ domains: ['site.test'], keyType: 'ec-p384' });
  });

  it('writes the five files in the kubelet layout: links through ..data into one version directory', async () => {
    const dir = join(await tempDir(), 'certs');
    const result = await deployer(dir).deploy(stored(v1, 3));
    assert.match(result.message, /wrote 5 files to .*certs \(version 3, atomic layout\)/);
    const [version] = versionDirs(dir);
    assert.match(version ?? '', /^\.\.\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d\.\d{3}Z-v3$/);
    assert.equal(readlinkSync(join(dir, '..data')), version);
    assert.deepEqual(readdirSync(join(dir, version as string)).sort(), STANDARD);
    for (const file of STANDARD) {
      assert.ok(lstatSync(join(dir, file)).isSymbolicLink(), `${file} is a link`);
      assert.equal(readlinkSync(join(dir, file)), `..data/${file}`);
    }
    assert.deepEqual(readdirSync(dir).sort(), ['..data', MARKER, version, ...STANDARD].sort(), 'nothing else in the directory');
    // Byte for byte: what `cat cert.pem chain.pem privkey.pem > fullbundle.pem` gives (the deck's MongooseIM bundle).
    assert.equal(readFileSync(join(dir, 'cert.pem'), 'utf8'), v1.certPem);
    assert.equal(readFileSync(join(dir, 'chain.pem'), 'utf8'), v1.chainPem);
    assert.equal(readFileSync(join(dir, 'fullchain.pem'), 'utf8'), v1.fullchainPem);
    assert.equal(readFileSync(join(dir, 'privkey.pem'), 'utf8'), v1.privateKeyPem);
    assert.equal(readFileSync(join(dir, 'fullbundle.pem'), 'utf8'), v1.certPem + v1.chainPem + v1.privateKeyPem);
    const cert = new X509Certificate(readFileSync(join(dir, 'fullbundle.pem')));
    assert.ok(cert.checkPrivateKey(createPrivateKey(readFileSync(join(dir, 'fullbundle.pem'), 'utf8'))), 'the bundle\'s key matches its certificate');
    // Default modes: the key files 0600, the certificates 0644, the version directory 0755.
    assert.equal(mode(join(dir, 'privkey.pem')), 0o600);
    assert.equal(mode(join(dir, 'fullbundle.pem')), 0o600);
    for (const f of ['cert.pem', 'chain.pem', 'fullchain.pem']) assert.equal(mode(join(dir, f)), 0o644, f);
    assert.equal(mode(join(dir, version as string)), 0o755);
    assert.equal(mode(dir), 0o755, 'a created target directory gets dirMode');
  });

  it('key-cert-chain order and custom files, byte for byte, with the key mode on every file holding the key', async () => {
    const dir = await tempDir();
    await deployer(dir, { bundle: 'key-cert-chain', custom: { 'combined.pem': ['key', 'fullchain'], 'chain.pem': false, 'tls.crt': ['fullchain'] } }).deploy(stored(v1, 1));
    assert.deepEqual(readdirSync(dir).filter((e) => !e.startsWith('..')).sort(), ['cert.pem', 'combined.pem', 'fullbundle.pem', 'fullchain.pem', 'privkey.pem', 'tls.crt']);
    assert.equal(readFileSync(join(dir, 'fullbundle.pem'), 'utf8'), v1.privateKeyPem + v1.certPem + v1.chainPem);
    assert.equal(readFileSync(join(dir, 'combined.pem'), 'utf8'), v1.privateKeyPem + v1.fullchainPem);
    assert.equal(readFileSync(join(dir, 'tls.crt'), 'utf8'), v1.fullchainPem);
    assert.equal(mode(join(dir, 'combined.pem')), 0o600);
    assert.equal(mode(join(dir, 'tls.crt')), 0o644);
  });

  it('adds a newline between parts only where a part lacks one', async () => {
    const dir = await tempDir();
    const bare = { ...v1, certPem: v1.certPem.trimEnd(), chainPem: v1.chainPem.trimEnd() };
    await deployer(dir).deploy(stored(bare, 1));
    assert.equal(readFileSync(join(dir, 'fullbundle.pem'), 'utf8'), `${bare.certPem}\n${bare.chainPem}\n${v1.privateKeyPem}`);
  });

  it('a deploy of the content already there is a no-op that says so', async () => {
    const dir = await tempDir();
    const d = deployer(dir);
    await d.deploy(stored(v1, 4));
    const [version] = versionDirs(dir);
    const before = statSync(join(dir, version as string, 'privkey.pem')).mtimeMs;
    const again = await deployer(dir).deploy(stored(v1, 4));
    assert.match(again.message, /version 4 is already in .* nothing to do/);
    assert.equal(again.details?.unchanged, true);
    assert.deepEqual(versionDirs(dir), [version]);
    assert.equal(statSync(join(dir, version as string, 'privkey.pem')).mtimeMs, before, 'nothing rewritten');
  });

  it('repairs a tampered set: a changed byte, a changed mode or a missing link makes it redeploy', async () => {
    const dir = await tempDir();
    await deployer(dir).deploy(stored(v1, 1));
    const [version] = versionDirs(dir);
    const { chmodSync, rmSync } = await import('node:fs');
    chmodSync(join(dir, version as string, 'privkey.pem'), 0o644);
    const r1 = await deployer(dir).deploy(stored(v1, 1));
    assert.equal(r1.details?.unchanged, false);
    assert.equal(mode(join(dir, 'privkey.pem')), 0o600);
    rmSync(join(dir, 'chain.pem'));
    const r2 = await deployer(dir).deploy(stored(v1, 1));
    assert.equal(r2.details?.unchanged, false);
    assert.equal(readFileSync(join(dir, 'chain.pem'), 'utf8'), v1.chainPem);
    assert.equal(versionDirs(dir).length, 1);
  });

  it('a new version switches ..data, prunes the old version and drops links to files no longer configured', async () => {
    const dir = await tempDir();
    await deployer(dir, { custom: { 'combined.pem': ['key', 'fullchain'] } }).deploy(stored(v1, 1));
    const [old] = versionDirs(dir);
    // Leftovers of a crashed deploy are cleaned up too.
    writeFileSync(join(dir, '.cert.pem.certpilot-tmp'), 'x');
    const result = await deployer(dir).deploy(stored(v2, 2));
    assert.equal(result.details?.unchanged, false);
    const dirs = versionDirs(dir);
    assert.equal(dirs.length, 1);
    assert.notEqual(dirs[0], old);
    assert.match(dirs[0] ?? '', /-v2$/);
    assert.equal(existsSync(join(dir, 'combined.pem')), false);
    assert.deepEqual(readdirSync(dir).sort(), ['..data', MARKER, dirs[0], ...STANDARD].sort());
    assert.equal(readFileSync(join(dir, 'privkey.pem'), 'utf8'), v2.privateKeyPem);
    assert.equal(readFileSync(join(dir, 'fullbundle.pem'), 'utf8'), v2.certPem + v2.chainPem + v2.privateKeyPem);
  });

  it('leaves files that are not its own alone', async () => {
    const dir = await tempDir();
    writeFileSync(join(dir, 'dhparam.pem'), 'mine');
    await deployer(dir).deploy(stored(v1, 1));
    await deployer(dir).deploy(stored(v2, 2));
    assert.equal(readFileSync(join(dir, 'dhparam.pem'), 'utf8'), 'mine');
  });

  it('plain layout: regular files, idempotent, and moving between layouts in both directions', async () => {
    const dir = await tempDir();
    await deployer(dir).deploy(stored(v1, 1));
    const plain = deployer(dir, { layout: 'plain' });
    const r = await plain.deploy(stored(v2, 2));
    assert.match(r.message, /plain layout/);
    assert.deepEqual(readdirSync(dir).sort(), [MARKER, ...STANDARD].sort(), 'the atomic layout\'s links and versions are gone');
    for (const f of STANDARD) assert.ok(lstatSync(join(dir, f)).isFile(), `${f} is a regular file`);
    assert.equal(readFileSync(join(dir, 'fullbundle.pem'), 'utf8'), v2.certPem + v2.chainPem + v2.privateKeyPem);
    assert.equal(mode(join(dir, 'privkey.pem')), 0o600);
    assert.equal(mode(join(dir, 'cert.pem')), 0o644);
    assert.equal((await plain.deploy(stored(v2, 2))).details?.unchanged, true);
    await deployer(dir).deploy(stored(v1, 3));
    for (const f of STANDARD) assert.equal(readlinkSync(join(dir, f)), `..data/${f}`);
    assert.equal(readFileSync(join(dir, 'privkey.pem'), 'utf8'), v1.privateKeyPem);
  });

  it('modes and ownership: a group-readable key for the web server group, by id and by name', async (t) => {
    if (!isRoot) {
      t.skip('chown needs root');
      return;
    }
    const dir = join(await tempDir(), 'certs');
    await deployer(dir, { owner: 4242, group: 4343, keyMode: 0o640, certMode: 0o644, dirMode: 0o750 }).deploy(stored(v1, 1));
    const [version] = versionDirs(dir);
    for (const f of STANDARD) {
      const s = statSync(join(dir, f));
      assert.equal(s.uid, 4242, `${f} uid`);
      assert.equal(s.gid, 4343, `${f} gid`);
      const l = lstatSync(join(dir, f));
      assert.deepEqual([l.uid, l.gid], [4242, 4343], `${f} link owner`);
    }
    assert.equal(mode(join(dir, 'privkey.pem')), 0o640);
    assert.equal(mode(join(dir, 'fullbundle.pem')), 0o640);
    assert.equal(mode(join(dir, 'cert.pem')), 0o644);
    const vs = statSync(join(dir, version as string));
    assert.deepEqual([vs.uid, vs.gid, vs.mode & 0o7777], [4242, 4343, 0o750]);
    assert.deepEqual([statSync(dir).uid, statSync(dir).gid], [4242, 4343], 'the created target directory too');

    // The old owner still owns the directory, so it could write it: refused until it is handed back.
    await assert.rejects(deployer(dir, { owner: 'nobody', group: 'nogroup', keyMode: 0o640, dirMode: 0o750 }).deploy(stored(v1, 1)), (err: unknown) => {
      assert.ok(err instanceof CertpilotError);
      assert.equal(err.code, 'ERR_FS_SHARED_DIR');
      assert.match(err.message, new RegExp(`refusing to work in ${dir}: it is owned by uid 4242`));
      assert.match(err.hint ?? '', /allowSharedDir: true/);
      return true;
    });
    chownSync(dir, 0, 0);
    // A changed owner is a change: the next deploy of the same version rewrites with the new owner.
    const r = await deployer(dir, { owner: 'nobody', group: 'nogroup', keyMode: 0o640, dirMode: 0o750 }).deploy(stored(v1, 1));
    assert.equal(r.details?.unchanged, false);
    const nobody = Number(readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith('nobody:'))?.split(':')[2]);
    const nogroup = Number(readFileSync('/etc/group', 'utf8').split('\n').find((l) => l.startsWith('nogroup:'))?.split(':')[2]);
    assert.deepEqual([statSync(join(dir, 'privkey.pem')).uid, statSync(join(dir, 'privkey.pem')).gid], [nobody, nogroup]);
  });

  it('an unknown owner or group is ERR_DEPLOY_OWNER_UNKNOWN, and nothing is written', async () => {
    const dir = await tempDir();
    await assert.rejects(deployer(dir, { owner: 'no-such-user-certpilot' }).deploy(stored(v1, 1)), (err: unknown) => {
      assert.ok(err instanceof CertpilotError);
      assert.equal(err.code, 'ERR_DEPLOY_OWNER_UNKNOWN');
      assert.match(err.message, /files deployer "volume": no user named "no-such-user-certpilot"/);
      return true;
    });
    await assert.rejects(deployer(dir, { group: 'no-such-group-certpilot' }).deploy(stored(v1, 1)), /no group named "no-such-group-certpilot"/);
    assert.deepEqual(readdirSync(dir), []);
  });

  it('a directory it cannot use is ERR_DEPLOY_FILES naming the path', async () => {
    const base = await tempDir();
    writeFileSync(join(base, 'file'), 'x');
    await assert.rejects(deployer(join(base, 'file')).deploy(stored(v1, 1)), (err: unknown) => {
      assert.ok(err instanceof CertpilotError);
      assert.equal(err.code, 'ERR_DEPLOY_FILES');
      assert.match(err.message, /files deployer "volume": cannot open directory .*file: (ENOTDIR|EEXIST)/);
      assert.doesNotMatch(err.message, /PRIVATE KEY/);
      return true;
    });
  });

  it('an aborted deploy rejects with the reason and leaves the old set live', async () => {
    const dir = await tempDir();
    await deployer(dir).deploy(stored(v1, 1));
    const controller = new AbortController();
    const reason = new Error('stop');
    const d = deployer(dir, { faults: (step) => { if (step.startsWith('fsync-dir ..')) controller.abort(reason); } });
    await assert.rejects(d.deploy(stored(v2, 2), { signal: controller.signal }), (err) => err === reason);
    assert.equal(readFileSync(join(dir, 'privkey.pem'), 'utf8'), v1.privateKeyPem);
    assert.equal(versionDirs(dir).length, 1);
  });
});

describe('files schema and registry entry', () => {
  it('parses the defaults and refuses unquoted modes and path-like file names', () => {
    const o = filesSchema().parse({ dir: '/certs' });
    assert.deepEqual(o, { dir: '/certs', layout: 'atomic', bundle: 'cert-chain-key', keyMode: '0600', certMode: '0644', dirMode: '0755', allowSharedDir: false });
    assert.equal(parseMode('0640'), 0o640);
    assert.equal(filesSchema().safeParse({ dir: '/c', keyMode: 640 }).success, false);
    assert.match(JSON.stringify(filesSchema().safeParse({ dir: '/c', keyMode: '640x' }).error?.issues), /octal mode in quotes/);
    assert.equal(filesSchema().safeParse({ dir: '/c', files: { '../x.pem': ['key'] } }).success, false);
    assert.equal(filesSchema().safeParse({ dir: '/c', files: { 'x.pem': ['password'] } }).success, false);
    assert.equal(filesSchema().safeParse({ dir: '/c', owner: 'www-data', group: 33 }).success, true);
  });

  it('the registry builds a FilesDeployer named after the instance, its dir relative to the config file', async () => {
    const plugin = findPlugin('files');
    assert.ok(plugin);
    assert.equal(plugin.kind, 'deployer');
    const base = await tempDir();
    const options = plugin.schema.parse({ dir: 'certs', bundle: 'key-cert-chain', keyMode: '0640' });
    const instance = (await plugin.create(options, { name: 'volume', logger: silentLogger, clock: systemClock, baseDir: base, stateDir: join(base, 'state') })) as FilesDeployer;
    assert.equal(instance.id, 'volume');
    const bundle = makeTestBundle();
    await instance.deploy(stored(bundle, 1));
    assert.equal(readFileSync(join(base, 'certs', 'fullbundle.pem'), 'utf8'), bundle.privateKeyPem + bundle.certPem + bundle.chainPem);
    assert.equal(mode(join(base, 'certs', 'privkey.pem')), 0o640);
  });
});

describe('FilesDeployer shared by several certificates', () => {
  it('{name} in dir gives each certificate its own directory; without it a second certificate is refused', async () => {
    const base = await tempDir();
    const a = makeTestBundle({ domains: ['a.test'] });
    const b = makeTestBundle({ domains: ['b.test'] });
    const shared = deployer(join(base, 'certs', '{name}'));
    await Promise.all([shared.deploy(stored(a, 1, 'alpha')), shared.deploy(stored(b, 1, 'beta'))]);
    assert.equal(readFileSync(join(base, 'certs', 'alpha', 'privkey.pem'), 'utf8'), a.privateKeyPem);
    assert.equal(readFileSync(join(base, 'certs', 'beta', 'privkey.pem'), 'utf8'), b.privateKeyPem);
    assert.equal((await shared.deploy(stored(a, 1, 'alpha'))).details?.unchanged, true);

    const single = deployer(join(base, 'one'));
    await single.deploy(stored(a, 1, 'alpha'));
    await assert.rejects(single.deploy(stored(b, 1, 'beta')), (err: unknown) => {
      assert.ok(err instanceof CertpilotError);
      assert.equal(err.code, 'ERR_DEPLOY_FILES');
      assert.match(err.message, /one already holds certificate "alpha", so it cannot hold "beta" too/);
      assert.match(err.hint, /\{name\}/);
      return true;
    });
    assert.equal(readFileSync(join(base, 'one', 'privkey.pem'), 'utf8'), a.privateKeyPem, 'the first certificate stays');
  });

  it('a directory another run wrote for another certificate is refused (its marker names it), whatever the layout', async () => {
    const base = await tempDir();
    const a = makeTestBundle({ domains: ['a.test'] });
    const b = makeTestBundle({ domains: ['b.test'] });
    for (const layout of ['atomic', 'plain'] as const) {
      const dir = join(base, layout);
      await deployer(dir, { layout }).deploy(stored(a, 1, 'alpha'));
      // A new instance: another run, another process, another configuration.
      await assert.rejects(deployer(dir, { layout }).deploy(stored(b, 1, 'beta')), (err: unknown) => {
        assert.ok(err instanceof CertpilotError);
        assert.equal(err.code, 'ERR_DEPLOY_FILES');
        assert.match(err.message, new RegExp(`${layout} already holds certificate "alpha", so it cannot hold "beta" too`));
        assert.match(err.hint, /\{name\}.*remove .*\.\.certpilot/);
        return true;
      });
      assert.equal(readFileSync(join(dir, 'cert.pem'), 'utf8'), a.certPem, `${layout}: the first certificate stays`);
      assert.equal(readFileSync(join(dir, 'privkey.pem'), 'utf8'), a.privateKeyPem);
      // The way out the hint gives: the marker removed, the directory is free again.
      const { rmSync } = await import('node:fs');
      rmSync(join(dir, MARKER));
      await deployer(dir, { layout }).deploy(stored(b, 1, 'beta'));
      assert.equal(readFileSync(join(dir, 'cert.pem'), 'utf8'), b.certPem);
    }
  });

  it('the marker is read without following a link: one planted in its place is replaced, not followed', async () => {
    const one = makeTestBundle({ domains: ['b.test'] });
    const base = await tempDir();
    const dir = join(base, 'certs');
    const { mkdirSync, symlinkSync } = await import('node:fs');
    mkdirSync(dir);
    writeFileSync(join(base, 'elsewhere'), JSON.stringify({ certificate: 'alpha' }));
    symlinkSync(join(base, 'elsewhere'), join(dir, MARKER));
    const d = deployer(dir);
    assert.match((await d.verify(stored(one, 1, 'beta'))) ?? '', /cannot read .*\.\.certpilot \(ELOOP\)/);
    await d.deploy(stored(one, 1, 'beta'));
    assert.ok(lstatSync(join(dir, MARKER)).isFile(), 'the link was replaced by our marker');
    assert.equal(readFileSync(join(base, 'elsewhere'), 'utf8'), JSON.stringify({ certificate: 'alpha' }), 'the link\'s target untouched');
    assert.equal(await d.verify(stored(one, 1, 'beta')), undefined);
  });
});

describe('FilesDeployer.verify: does the directory still hold the version?', () => {
  it('says why not: files missing, another version, another certificate, other options; undefined when it does', async () => {
    const a = makeTestBundle({ domains: ['a.test'] });
    const b = makeTestBundle({ domains: ['a.test'] });
    const base = await tempDir();
    const dir = join(base, 'certs');
    const d = deployer(join(base, '{name}'));
    assert.match((await d.verify(stored(a, 1, 'certs'))) ?? '', new RegExp(`^files missing in ${dir}$`));
    await d.deploy(stored(a, 1, 'certs'));
    assert.equal(await d.verify(stored(a, 1, 'certs')), undefined);
    // Compared by fingerprint: the same version number and serial do not make another certificate the same.
    assert.match((await d.verify({ ...stored(b, 1, 'certs'), metadata: a.metadata })) ?? '', new RegExp(`^${dir} holds another version$`));
    assert.match((await deployer(join(base, 'certs'), { keyMode: 0o640 }).verify(stored(a, 1, 'certs'))) ?? '', /the deployer's options changed since .*certs was written/);
    const { rmSync, renameSync } = await import('node:fs');
    renameSync(dir, join(base, 'other'));
    assert.match((await deployer(join(base, 'other')).verify(stored(a, 1, 'somebody'))) ?? '', /other holds certificate "certs"/);
    rmSync(join(base, 'other'), { recursive: true });
    assert.match((await d.verify(stored(a, 1, 'certs'))) ?? '', /^files missing in /);
  });

  it('with the marker intact, a published name removed or replaced (rm dir/*, one file edited into a copy) is not held', async () => {
    const a = makeTestBundle({ domains: ['a.test'] });
    const { readdirSync, rmSync, writeFileSync: write, readlinkSync } = await import('node:fs');
    for (const layout of ['atomic', 'plain'] as const) {
      const dir = join(await tempDir(), 'certs');
      const d = deployer(dir, { layout });
      await d.deploy(stored(a, 1));
      assert.equal(await d.verify(stored(a, 1)), undefined);
      // What `rm dir/*` removes: the visible names, not ..certpilot nor ..data.
      for (const name of readdirSync(dir).filter((n) => !n.startsWith('.'))) rmSync(join(dir, name));
      assert.match((await d.verify(stored(a, 1))) ?? '', new RegExp(`^cert\\.pem, .* were removed or replaced in ${dir}$`), layout);
      await d.deploy(stored(a, 1));
      assert.equal(await d.verify(stored(a, 1)), undefined, `${layout}: deployed again, held`);
      if (layout === 'atomic') {
        // A link replaced by a plain file (another tool writing cert.pem by name) is not ours either.
        const target = join(dir, readlinkSync(join(dir, 'cert.pem')));
        rmSync(join(dir, 'cert.pem'));
        write(join(dir, 'cert.pem'), a.certPem);
        assert.match((await d.verify(stored(a, 1))) ?? '', /^cert\.pem was removed or replaced in /, target);
        await d.deploy(stored(a, 1));
        // A file removed behind the link, in the version directory.
        rmSync(join(dir, '..data', 'privkey.pem'));
        assert.match((await d.verify(stored(a, 1))) ?? '', /^privkey\.pem was removed or replaced in /);
      }
    }
  });

  it('without a marker (an older certpilot, files copied in by hand) the certificate file consumers read decides', async () => {
    const a = makeTestBundle({ domains: ['a.test'] });
    const b = makeTestBundle({ domains: ['a.test'] });
    const { rmSync, mkdirSync } = await import('node:fs');
    for (const layout of ['atomic', 'plain'] as const) {
      const dir = join(await tempDir(), 'certs');
      await deployer(dir, { layout }).deploy(stored(a, 1));
      rmSync(join(dir, MARKER));
      assert.equal(await deployer(dir, { layout }).verify(stored(a, 1)), undefined, `${layout}: cert.pem holds it`);
      assert.match((await deployer(dir, { layout }).verify(stored(b, 2))) ?? '', /holds another version/);
      rmSync(join(dir, 'cert.pem'));
      assert.match((await deployer(dir, { layout }).verify(stored(a, 1))) ?? '', /^files missing in /);
    }
    const copied = join(await tempDir(), 'copied');
    mkdirSync(copied);
    writeFileSync(join(copied, 'cert.pem'), a.certPem);
    assert.equal(await deployer(copied).verify(stored(a, 1)), undefined);
  });
});

