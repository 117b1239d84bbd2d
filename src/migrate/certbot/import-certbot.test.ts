import assert from 'node:assert/strict';
import { chmodSync, chownSync, cpSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
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
import { ioError } from '../../fs/atomic-write.js';
import { HookDeployer } from '../../deploy/hook/hook-deployer.js';
import { silentLogger } from '../../logger.js';

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

describe("importCertbot: the lineages' CA, the contact, lineages skipped on writing", () => {
  const STAGING = 'https://acme-staging-v02.api.letsencrypt.org/directory';
  const PRODUCTION = 'https://acme-v02.api.letsencrypt.org/directory';
  const bundle = (name: string): CertificateBundle => makeTestBundle({ domains: [`${name}.test`] });
  /** Options as the CLI gives them with no --directory, no configuration file: Let's Encrypt. */
  const defaults = async (root: string, stateDir = join(root, '..', 'state')): Promise<CertbotImportOptions> => ({
    ...(await options(root, stateDir)),
    directoryUrl: PRODUCTION,
    stagingDirectoryUrl: STAGING,
  });

  it("renews from the CA the renewal confs name (Let's Encrypt staging), with its account, unless the run names one", async () => {
    const root = join(await tempDir(), 'le');
    writeCertbotLineage(root, 'a', [bundle('a')], [], STAGING);
    writeCertbotLineage(root, 'b', [bundle('b')], [], STAGING);
    writeCertbotAccount(root, { server: STAGING });
    const opts = await defaults(root);
    const report = await importCertbot(opts);
    const config = parse(report.config) as { acme: { directoryUrl: string; termsOfServiceAgreed?: boolean } };
    assert.equal(config.acme.directoryUrl, STAGING);
    assert.equal(config.acme.termsOfServiceAgreed, true, "certbot's staging account is imported");
    assert.deepEqual(report.items.map((i) => `${i.kind} ${i.status}`), ['account imported', 'certificate imported', 'certificate imported']);
    assert.equal((await new FilesystemCertificateStore({ stateDir: opts.stateDir }).loadAccount(STAGING))?.url, 'https://acme-staging-v02.api.letsencrypt.org/my-account/1');
    assert.ok(!report.notes.some((n) => n.setting.startsWith('server =')), report.notes.map((n) => n.setting).join('\n'));

    // --directory (or a configuration file naming the CA) overrides it: every lineage is renewed from there.
    const named = await importCertbot({ ...(await defaults(root, join(await tempDir(), 'state'))), caNamed: true });
    assert.equal((parse(named.config) as { acme: { directoryUrl: string } }).acme.directoryUrl, PRODUCTION);
    assert.deepEqual(named.notes.filter((n) => n.setting === `server = ${STAGING}`).map((n) => n.name), ['a', 'b']);
  });

  it('lineages of several CAs are refused with each CA, its lineages and the --directory that chooses it; nothing is written', async () => {
    const root = join(await tempDir(), 'le');
    writeCertbotLineage(root, 'a', [bundle('a')], [], PRODUCTION);
    writeCertbotLineage(root, 'b', [bundle('b')], [], STAGING);
    writeCertbotLineage(root, 'c', [bundle('c')], [], PRODUCTION);
    const opts = await defaults(root);
    await assert.rejects(importCertbot(opts), (err: Error & { code?: string; hint?: string }) => {
      assert.equal(err.code, 'ERR_IMPORT_SEVERAL_CAS');
      assert.equal(err.message, `import: certbot's lineages were issued by 2 CAs (${PRODUCTION}: a, c; ${STAGING}: b), and a certpilot configuration renews with one CA; nothing was imported`);
      assert.match(err.hint ?? '', new RegExp(`--directory ${PRODUCTION} or --directory ${STAGING}\\.`));
      return true;
    });
    assert.ok(!existsSync(opts.stateDir), 'nothing written');
    // Named, the CA is the run's: all three are imported.
    const named = await importCertbot({ ...opts, caNamed: true });
    assert.deepEqual(named.items.map((i) => `${i.name} ${i.status}`), ['a imported', 'b imported', 'c imported']);
  });

  it("the contact: the run's --email, else the account's (regr.json, meta.json), else a note saying certbot 2.x keeps none", async () => {
    const emailOf = (report: { config: string }): string | undefined => (parse(report.config) as { acme: { email?: string } }).acme.email;
    const tree = async (account: Parameters<typeof writeCertbotAccount>[1]): Promise<string> => {
      const root = join(await tempDir(), 'le');
      writeCertbotLineage(root, 'a', [bundle('a')]);
      writeCertbotAccount(root, account);
      return root;
    };
    const certbot2 = await tree({ contact: null });
    const none = await importCertbot({ ...(await options(certbot2, join(certbot2, '..', 's1'), true)) });
    assert.equal(emailOf(none), undefined);
    const note = none.notes.find((n) => n.setting === 'account contact');
    assert.match(note?.reason ?? '', /certbot 2\.x keeps no contact e-mail in its files .* import again with --email ADDRESS/);
    const given = await importCertbot({ ...(await options(certbot2, join(certbot2, '..', 's2'), true)), email: 'given@example.com' });
    assert.equal(emailOf(given), 'given@example.com');
    assert.ok(!given.notes.some((n) => n.setting === 'account contact'));

    const eff = await tree({ contact: null, registerToEff: 'eff@example.com' });
    assert.equal(emailOf(await importCertbot(await options(eff, join(eff, '..', 's'), true))), 'eff@example.com');
    const old = await tree({ contact: ['mailto:old@example.com'] });
    assert.equal(emailOf(await importCertbot(await options(old, join(old, '..', 's'), true))), 'old@example.com');
  });

  it('a lineage whose writing fails (the volume is full) is skipped and left out of the printed configuration, with what only it used', async () => {
    const root = join(await tempDir(), 'le');
    writeCertbotLineage(root, 'a', [bundle('a')], ['renew_hook = systemctl reload nginx']);
    writeCertbotLineage(root, 'b', [bundle('b')], ['renew_hook = systemctl reload apache2', 'authenticator = standalone', 'must_staple = True']);
    class FullForB extends StateStore {
      override async save(name: string, set: CertificateBundle): ReturnType<StateStore['save']> {
        if (name === 'b') throw ioError(`writing archive/${name}/cert1.pem`, Object.assign(new Error('no space left on device'), { code: 'ENOSPC' }));
        return super.save(name, set);
      }
    }
    const store = new FullForB(new MemoryStateBackend());
    const report = await importCertbot({ ...(await options(root, '/nonexistent')), stores: { certificates: store, accounts: store } });
    const b = report.items.find((i) => i.name === 'b');
    assert.deepEqual([b?.status, b?.code], ['skipped', 'ERR_STORAGE_FULL']);
    assert.match(b?.detail ?? '', /writing it failed: .*ENOSPC \(the volume is full\)/);
    const config = parse(report.config) as { solvers: Record<string, { type: string }>; deployers: Record<string, { command: string }>; certificates: { name: string }[] };
    assert.deepEqual(config.certificates.map((c) => c.name), ['a']);
    assert.deepEqual(Object.values(config.solvers).map((s) => s.type), ['webroot'], "b's standalone solver went with it");
    assert.deepEqual(Object.values(config.deployers).map((d) => d.command), ['systemctl reload nginx'], "b's hook went with it");
    assert.match(report.config, /^# Not in it, skipped by the import \(see its report\): b$/m);
    assert.ok(!report.notes.some((n) => n.name === 'b'), "b's settings are not listed as not mapped");
    assert.equal((await store.load('a'))?.version, 1, 'a was imported');
  });
});

describe("importCertbot: certbot's hooks", () => {
  const bundle = (name: string): CertificateBundle => makeTestBundle({ domains: [`${name}.test`] });
  type Printed = { deployers?: Record<string, { type: string; command: string | string[]; shell?: boolean }>; certificates: { name: string; deploy?: string[] }[] };

  it("a hook copying certbot's live/NAME files reads certpilot's live/NAME instead (a separate state dir): after a renewal the service gets the new version", async () => {
    const root = join(await tempDir(), 'le');
    const srv = await tempDir('certpilot-srv-');
    const [v1, v2] = [bundle('a'), bundle('a')];
    writeCertbotLineage(root, 'a', [v1], [`renew_hook = cp ${root}/live/a/fullchain.pem ${root}/live/a/privkey.pem ${srv}/`]);
    const stateDir = join(await tempDir(), 'state');
    const report = await importCertbot(await options(root, stateDir));
    const config = parse(report.config) as Printed;
    const hook = config.deployers?.['a-deploy-hook'];
    assert.equal(hook?.command, `cp ${stateDir}/live/a/fullchain.pem ${stateDir}/live/a/privkey.pem ${srv}/`);
    assert.deepEqual(config.certificates[0]?.deploy, ['a-deploy-hook']);
    const note = report.notes.find((n) => n.setting.startsWith('renew_hook'));
    assert.equal(note?.level, 'changed');
    assert.match(note?.reason ?? '', new RegExp(`written with certpilot's ${stateDir}/live/a/ instead`));
    // certpilot renews (v2 saved in its state), then runs the printed hook: the service gets v2.
    const store = new FilesystemCertificateStore({ stateDir });
    const saved = await store.save('a', v2);
    await new HookDeployer({ id: 'a-deploy-hook', command: hook?.command as string, shell: true, logger: silentLogger }).deploy(saved);
    assert.equal(readFileSync(join(srv, 'fullchain.pem'), 'utf8'), v2.fullchainPem);
  });

  it("a script that reads certbot's files, or a state store with no files: the hook is NOT written, printed commented out, an action; in place it is kept as is", async () => {
    const root = join(await tempDir(), 'le');
    const script = join(await tempDir('certpilot-hookscript-'), 'copy-certs.sh');
    writeFileSync(script, `#!/bin/sh\ncp ${root}/live/a/fullchain.pem /srv/\n`, { mode: 0o755 });
    writeCertbotLineage(root, 'a', [bundle('a')], [`renew_hook = ${script} --now`]);
    writeCertbotLineage(root, 'b', [bundle('b')], [`renew_hook = cp ${root}/live/b/fullchain.pem /srv/b.pem`]);
    const stateDir = join(await tempDir(), 'state');
    const report = await importCertbot(await options(root, stateDir));
    const config = parse(report.config) as Printed;
    assert.equal(config.deployers?.['a-deploy-hook'], undefined, 'no deployer that would report deployed while /srv keeps v1');
    assert.equal(config.certificates.find((c) => c.name === 'a')?.deploy, undefined);
    const a = report.notes.find((n) => n.name === 'a' && n.setting.startsWith('renew_hook'));
    assert.equal(a?.level, 'action');
    assert.match(a?.reason ?? '', new RegExp(`NOT written: ${script.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}, which it runs, reads certbot's own files`));
    assert.match(report.config, new RegExp(`^# a-deploy-hook \\(certificate a\\): .*\\n#   a-deploy-hook:\\n#     type: hook\\n#     command: ${script.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} --now$`, 'm'));
    assert.equal((await new FilesystemCertificateStore({ stateDir }).loadState('a')).deployments, undefined, 'nothing recorded for it');
    // b's path is rewritten into a state directory, but Secrets keep no files to read.
    assert.equal(config.deployers?.['b-deploy-hook']?.command, `cp ${stateDir}/live/b/fullchain.pem /srv/b.pem`);
    const secrets = await importCertbot({ ...(await options(root, stateDir, true)), stateStore: { type: 'kubernetes-secret' } });
    assert.equal((parse(secrets.config) as Printed).deployers, undefined);
    assert.equal(secrets.notes.find((n) => n.name === 'b' && n.setting.startsWith('renew_hook'))?.level, 'action');

    // In place, certbot's live/ files are certpilot's: kept as they are, with no warning.
    const inPlace = await importCertbot(await options(root, root, true));
    const kept = parse(inPlace.config) as Printed;
    assert.equal(kept.deployers?.['a-deploy-hook']?.command, `${script} --now`);
    assert.equal(kept.deployers?.['b-deploy-hook']?.command, `cp ${root}/live/b/fullchain.pem /srv/b.pem`);
    assert.deepEqual(inPlace.notes.filter((n) => n.setting.startsWith('renew_hook')), []);
  });

  it("renewal-hooks/deploy/ scripts become hook deployers of every certificate, in certbot's order, before its own hook, holding the live version", async () => {
    const root = join(await tempDir(), 'le');
    writeCertbotLineage(root, 'a', [bundle('a')], ['renew_hook = systemctl reload nginx']);
    writeCertbotLineage(root, 'b', [bundle('b')]);
    const dir = join(root, 'renewal-hooks', 'deploy');
    mkdirSync(dir, { recursive: true });
    for (const [name, mode] of [['50-reload-nginx', 0o755], ['10-Copy', 0o700], ['2-notify', 0o755], ['README', 0o644], ['20-old~', 0o755]] as const) {
      writeFileSync(join(dir, name), '#!/bin/sh\necho "$RENEWED_LINEAGE $RENEWED_DOMAINS"\n', { mode });
    }
    const stateDir = join(await tempDir(), 'state');
    const report = await importCertbot(await options(root, stateDir));
    const config = parse(report.config) as Printed;
    const order = ['certbot-deploy-10-Copy', 'certbot-deploy-2-notify', 'certbot-deploy-50-reload-nginx'];
    assert.deepEqual(config.certificates.map((c) => [c.name, c.deploy]), [['a', [...order, 'a-deploy-hook']], ['b', order]]);
    assert.deepEqual(config.deployers?.['certbot-deploy-2-notify'], { type: 'hook', command: [join(dir, '2-notify')], timeoutSeconds: 300 });
    assert.match(report.notes.find((n) => n.setting === 'renewal-hooks/deploy/README')?.reason ?? '', /not an executable file/);
    const state = await new FilesystemCertificateStore({ stateDir }).loadState('b');
    assert.deepEqual(Object.keys(state.deployments ?? {}).sort(), order, 'certbot ran them for the live version');
  });

  it('a deploy hook whose program does not exist: an action naming the file and the lineage; written, but not recorded as holding the live version', async () => {
    const root = join(await tempDir(), 'le');
    const missing = join(await tempDir(), 'no-such-hook.sh');
    writeCertbotLineage(root, 'a', [bundle('a')], [`renew_hook = ${missing} reload`]);
    const stateDir = join(await tempDir(), 'state');
    const report = await importCertbot(await options(root, stateDir));
    const note = report.notes.find((n) => n.setting.startsWith('renew_hook'));
    assert.deepEqual([note?.name, note?.level], ['a', 'action']);
    assert.match(note?.reason ?? '', new RegExp(`${missing.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} does not exist: certbot's hook for a cannot have run`));
    assert.deepEqual((parse(report.config) as Printed).certificates[0]?.deploy, ['a-deploy-hook']);
    assert.equal((await new FilesystemCertificateStore({ stateDir }).loadState('a')).deployments?.['a-deploy-hook'], undefined, 'the first run tries it');
  });

  it('pre/post hooks with standalone point to a webroot or dns-01 solver, not a hook deployer', async () => {
    const root = join(await tempDir(), 'le');
    writeCertbotLineage(root, 'a', [bundle('a')], ['authenticator = standalone', 'pre_hook = systemctl stop nginx', 'post_hook = systemctl start nginx']);
    const report = await importCertbot(await options(root, join(await tempDir(), 'state'), true));
    const pre = report.notes.find((n) => n.setting.startsWith('pre_hook'));
    assert.match(pre?.reason ?? '', /to free port 80 for standalone, use a webroot solver .* or a dns-01 solver/);
    assert.doesNotMatch(pre?.reason ?? '', /add it as a `hook` deployer/);
  });

  it('a truncated chainN.pem is named; REQUESTS_CA_BUNDLE without --ca-bundle is a note', async () => {
    const root = join(await tempDir(), 'le');
    writeCertbotLineage(root, 'a', [bundle('a')]);
    writeFileSync(join(root, 'archive', 'a', 'chain1.pem'), '-----BEGIN CERTIFICATE-----\nMIIB\n');
    const report = await importCertbot({ ...(await options(root, join(await tempDir(), 'state'), true)), requestsCaBundle: '/etc/ssl/private-ca.pem' });
    assert.match(report.items.find((i) => i.name === 'a')?.detail ?? '', /^archive\/a\/chain1\.pem: the chain holds no PEM certificate/);
    assert.match(report.notes.find((n) => n.setting === 'REQUESTS_CA_BUNDLE=/etc/ssl/private-ca.pem')?.reason ?? '', /import again with --ca-bundle \/etc\/ssl\/private-ca\.pem/);
  });

  it('imported again after only certpilot renewed (no ARI `replaces`): unchanged, not a conflict', async () => {
    const root = join(await tempDir(), 'le');
    writeCertbotLineage(root, 'multi', [bundle('multi'), bundle('multi')], ['renew_hook = systemctl reload nginx']);
    const stateDir = join(await tempDir(), 'state');
    await importCertbot(await options(root, stateDir));
    await new FilesystemCertificateStore({ stateDir }).save('multi', bundle('multi')); // certpilot renews; certbot does not
    const report = await importCertbot(await options(root, stateDir));
    const item = report.items.find((i) => i.name === 'multi');
    assert.deepEqual([item?.status, item?.code], ['unchanged', undefined], item?.detail);
    assert.match(item?.detail ?? '', /certpilot renewed it since the import \(version 3\)/);
  });

  it('imported again after both certbot and certpilot renewed: skipped with what happened, and kept in the printed configuration', async () => {
    const root = join(await tempDir(), 'le');
    const versions = [bundle('multi'), bundle('multi')];
    writeCertbotLineage(root, 'multi', versions, ['renew_hook = systemctl reload nginx']);
    const stateDir = join(await tempDir(), 'state');
    await importCertbot(await options(root, stateDir));
    await new FilesystemCertificateStore({ stateDir }).save('multi', bundle('multi')); // certpilot renews
    const again = join(await tempDir(), 'le');
    writeCertbotLineage(again, 'multi', [...versions, bundle('multi')], ['renew_hook = systemctl reload nginx']); // and so does certbot
    const report = await importCertbot(await options(again, stateDir));
    const item = report.items.find((i) => i.name === 'multi');
    assert.deepEqual([item?.status, item?.code], ['skipped', 'ERR_IMPORT_CONFLICT']);
    assert.match(item?.detail ?? '', /both certbot and certpilot renewed multi since it was imported .* Stop certbot's renewals first/);
    assert.doesNotMatch(item?.detail ?? '', /another name/);
    assert.deepEqual((parse(report.config) as Printed).certificates.map((c) => c.name), ['multi']);
    assert.doesNotMatch(report.config, /# Not in it/);
  });
});
