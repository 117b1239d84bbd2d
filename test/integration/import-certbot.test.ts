// `certpilot import` against state made by the REAL certbot (Debian's package) with Pebble 2.10
// (ARI) behind the counting proxy: two lineages, one renewed once (two versions). Imported with no
// CA request, shown by `status`, idempotent, `--dry-run` writes nothing; the first `renew --force`
// registers no account and sends `replaces` with certbot's certificate's ARI id (read from the
// order body Pebble received). Bad input (a broken live/ link, a key that does not match its
// certificate in an older version, an account for a CA not configured) is reported by name and
// the rest imported, with nothing of the broken lineages written. The deck's dev volume (only the
// PEM files) is imported, then renewed and deployed with the `files` deployer.
//
// certbot takes seconds per certificate: the file makes three certbot issuances, once, in before().
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { X509Certificate, createHash, createPrivateKey } from 'node:crypto';
import { cpSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { after, before, describe, test, type TestContext } from 'node:test';
import { promisify } from 'node:util';
import { parse, stringify } from 'yaml';
import { startFaultProxy, type FaultProxy } from '../harness/fault-proxy.js';
import { runCli, tempDir, testCaFile } from '../harness/certpilot.js';
import { pebbleBinaries, resolveBinary } from '../harness/paths.js';
import { pebbleFindsReplaced, startPebble, type PebbleInstance } from '../harness/pebble.js';
import { requirePebble, requireServer, serversRequired, smallTmpfs } from '../harness/servers.js';
import { serveDirectory, type StaticServer } from '../harness/static-server.js';

const run = promisify(execFile);

/** The ARI certID of a certificate file (RFC 9773 §4.1), read with openssl, independent of certpilot's DER code. */
function ariCertId(certFile: string): string {
  const aki = execFileSync('openssl', ['x509', '-in', certFile, '-noout', '-ext', 'authorityKeyIdentifier'], { encoding: 'utf8' });
  const keyId = /([0-9A-F]{2}(?::[0-9A-F]{2})+)/i.exec(aki.replace(/keyid:/i, ''))?.[1];
  assert.ok(keyId, aki);
  let serial = new X509Certificate(readFileSync(certFile)).serialNumber;
  if (serial.length % 2 === 1) serial = `0${serial}`;
  if (parseInt(serial.slice(0, 2), 16) >= 0x80) serial = `00${serial}`;
  return `${Buffer.from(keyId.replace(/:/g, ''), 'hex').toString('base64url')}.${Buffer.from(serial, 'hex').toString('base64url')}`;
}

/** Every file and link under `dir` with its content (or target) and mtime: equal snapshots mean nothing changed. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  if (!existsSync(dir)) return out;
  const walk = (d: string): void => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const path = join(d, entry.name);
      const st = lstatSync(path);
      const key = relative(dir, path);
      if (entry.isSymbolicLink()) out[key] = `-> ${readlinkSync(path)} @${st.mtimeMs}`;
      else if (entry.isDirectory()) {
        out[`${key}/`] = `dir @${st.mtimeMs}`;
        walk(path);
      } else out[key] = `${createHash('sha256').update(readFileSync(path)).digest('hex')} @${st.mtimeMs}`;
    }
  };
  walk(dir);
  return out;
}

const fingerprint = (pem: string | Buffer): string => createHash('sha256').update(new X509Certificate(pem).raw).digest('hex');

describe('import certbot state made by the real certbot against Pebble 2.10', { timeout: 240_000 }, () => {
  const ready = resolveBinary(pebbleBinaries('2.10').pebble) !== undefined && resolveBinary('certbot') !== undefined;
  let pebble: PebbleInstance | undefined;
  let proxy: FaultProxy | undefined;
  let web: StaticServer | undefined;
  let dir = '';
  /** certbot's --config-dir after the three issuances; tests copy it before changing anything. */
  let certbotDir = '';
  let webroot = '';
  let hookLog = '';
  let accountUrl = '';

  const usable = (t: TestContext): boolean => requirePebble(t, '2.10') && requireServer(t, 'certbot', 'Debian package `certbot`; run `bash scripts/setup.sh`');
  const caFlags = (): string[] => ['--directory', proxy?.directoryUrl ?? '', '--ca-bundle', testCaFile];

  before(async () => {
    if (!ready) {
      if (serversRequired()) throw new Error('certbot or Pebble 2.10 missing; CERTPILOT_REQUIRE_SERVERS is set, so this is a failure');
      return;
    }
    // Pebble's defaults except the validation sleep and nonce rejection: this Pebble makes the
    // fixture with the real certbot, and certbot 2.1 gives up on a registration whose nonce
    // Pebble rejected (CI saw it: "JWS has an invalid anti-replay nonce"). certpilot's handling of
    // rejected nonces is proven by the suites that keep them (acme-pebble, cli-pebble-defaults).
    pebble = await startPebble({ version: '2.10', noSleep: true, nonceRejectPercent: 0 });
    proxy = await startFaultProxy(pebble);
    dir = await tempDir('certpilot-import-');
    webroot = join(dir, 'www');
    mkdirSync(webroot);
    // The user's web server: certbot's webroot plug-in and then certpilot's webroot solver write here.
    web = await serveDirectory(webroot, pebble.httpPort);
    certbotDir = join(dir, 'letsencrypt');
    hookLog = join(dir, 'hook.log');
    // How bench/ drives certbot: its own dirs, non-interactive, trusting the test CA through python-requests.
    const common = ['--config-dir', certbotDir, '--work-dir', join(dir, 'work'), '--logs-dir', join(dir, 'logs'), '--non-interactive', '--server', proxy.directoryUrl];
    const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir, LANG: 'C.UTF-8', REQUESTS_CA_BUNDLE: testCaFile };
    const certbot = async (args: string[]): Promise<void> => {
      try {
        await run('certbot', [...args, ...common], { env });
      } catch (err) {
        throw new Error(`certbot ${args[0]} failed: ${(err as { stderr?: string }).stderr ?? String(err)}\n${await pebble?.logs()}`);
      }
    };
    const hook = `echo "$RENEWED_LINEAGE" >> ${hookLog}`;
    await certbot(['certonly', '--webroot', '-w', webroot, '--agree-tos', '-m', 'ops@example.com', '--no-eff-email', '--cert-name', 'alpha', '-d', 'alpha.test', '-d', 'www.alpha.test', '--deploy-hook', hook]);
    await certbot(['certonly', '--webroot', '-w', webroot, '--cert-name', 'beta', '-d', 'beta.test', '--key-type', 'rsa', '--rsa-key-size', '2048']);
    await certbot(['renew', '--cert-name', 'alpha', '--force-renewal', '--no-random-sleep-on-renew']);
    const accountDir = readdirSync(join(certbotDir, 'accounts'), { recursive: true, encoding: 'utf8' }).find((p) => p.endsWith('regr.json'));
    assert.ok(accountDir, 'certbot made an account');
    accountUrl = (JSON.parse(readFileSync(join(certbotDir, 'accounts', accountDir), 'utf8')) as { uri: string }).uri;
    assert.equal(readlinkSync(join(certbotDir, 'live', 'alpha', 'cert.pem')), '../../archive/alpha/cert2.pem', 'alpha was renewed once by certbot');
  });
  after(async () => {
    await web?.close();
    await proxy?.stop();
    await pebble?.stop();
  });

  const stateDir = (): string => join(dir, 'state');
  const configFile = (): string => join(dir, 'certpilot.yaml');

  test('--dry-run writes nothing; import sends no request; status shows every lineage with its versions; a second import changes nothing', async (t) => {
    if (!usable(t) || !proxy) return;
    const certbotBefore = snapshot(certbotDir);
    const requestsBefore = proxy.requests.total;

    const dry = await runCli(['import', 'certbot', '--config-dir', certbotDir, '--state-dir', stateDir(), ...caFlags(), '--dry-run']);
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stderr, /^would import +certificate alpha: 2 versions/m);
    assert.match(dry.stderr, /^would import +certificate beta: 1 version/m);
    assert.deepEqual(snapshot(stateDir()), {}, '--dry-run wrote nothing');

    const imported = await runCli(['import', 'certbot', '--config-dir', certbotDir, '--state-dir', stateDir(), ...caFlags()]);
    assert.equal(imported.code, 0, imported.stderr);
    assert.match(imported.stderr, /^imported +account accounts\/127\.0\.0\.1:\d+\/dir\/[0-9a-f]+: /m);
    assert.match(imported.stderr, /^imported +certificate alpha: 2 versions from live\/alpha/m);
    assert.match(imported.stderr, /^imported +certificate beta: 1 version from live\/beta/m);
    assert.equal(proxy.requests.total, requestsBefore, 'the import sent no request to the CA');
    assert.deepEqual(snapshot(certbotDir), certbotBefore, "certbot's directory is only read");

    // Every certbot version is in certpilot's archive, byte for byte, and the live one is live.
    for (const [name, versions] of [['alpha', 2], ['beta', 1]] as const) {
      for (let n = 1; n <= versions; n++) {
        for (const file of ['cert', 'chain', 'fullchain', 'privkey']) {
          assert.equal(readFileSync(join(stateDir(), 'archive', name, `${file}${n}.pem`), 'utf8'), readFileSync(join(certbotDir, 'archive', name, `${file}${n}.pem`), 'utf8'), `${name} ${file}${n}`);
        }
      }
      assert.equal(fingerprint(readFileSync(join(stateDir(), 'live', name, 'cert.pem'))), fingerprint(readFileSync(join(certbotDir, 'live', name, 'cert.pem'))));
    }

    // The printed configuration is valid as printed and renews the way certbot did.
    writeFileSync(configFile(), imported.stdout);
    const check = await runCli(['config', 'check', '--config', configFile()]);
    assert.equal(check.code, 0, check.stdout + check.stderr + imported.stdout);
    const printed = parse(imported.stdout) as {
      acme: { directoryUrl: string; termsOfServiceAgreed: boolean };
      solvers: Record<string, { type: string; path?: string }>;
      deployers: Record<string, { type: string; command: string }>;
      certificates: { name: string; domains: string[]; keyType: string; solver: string; deploy?: string[] }[];
    };
    assert.equal(printed.acme.directoryUrl, proxy.directoryUrl);
    const alpha = printed.certificates.find((c) => c.name === 'alpha');
    const beta = printed.certificates.find((c) => c.name === 'beta');
    assert.deepEqual(alpha?.domains, ['alpha.test', 'www.alpha.test']);
    assert.equal(alpha?.keyType, 'ec-p256');
    assert.equal(beta?.keyType, 'rsa-2048');
    assert.deepEqual(printed.solvers[alpha?.solver ?? ''], { type: 'webroot', path: webroot });
    assert.equal(beta?.solver, alpha?.solver, 'one webroot solver for both');
    assert.equal(printed.deployers[alpha?.deploy?.[0] ?? '']?.command, `echo "$RENEWED_LINEAGE" >> ${hookLog}`);
    assert.equal(beta?.deploy, undefined, 'beta had no hook');

    const status = await runCli(['status', '--json', '--config', configFile()]);
    assert.equal(status.code, 0, status.stderr);
    const rows = JSON.parse(status.stdout) as { name: string; version: number; versions: number[]; domains: string[]; deployers: { deployer: string; current: boolean }[] }[];
    assert.deepEqual(rows.map((r) => [r.name, r.version, r.versions]), [['alpha', 2, [1, 2]], ['beta', 1, [1]]]);
    assert.ok(rows[0]?.deployers.every((d) => d.current), "certbot's hook already ran for the live version: nothing to deploy");
    const table = await runCli(['status', '--config', configFile()]);
    assert.match(table.stdout, /^alpha +v2 \(2 kept\) +alpha\.test,www\.alpha\.test/m);
    assert.match(table.stdout, /^beta +v1 +beta\.test/m);

    // Idempotent: nothing imported, nothing written (contents and mtimes).
    const stateBefore = snapshot(stateDir());
    const again = await runCli(['import', 'certbot', '--config-dir', certbotDir, '--state-dir', stateDir(), ...caFlags()]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, /0 imported, 3 unchanged, 0 skipped/);
    assert.deepEqual(snapshot(stateDir()), stateBefore, 'a second import changed nothing');
    assert.equal(again.stdout, imported.stdout, 'the same configuration again');
  });

  test('the first renew --force uses the imported account and replaces the imported certificates', async (t) => {
    if (!usable(t) || !proxy) return;
    assert.ok(existsSync(configFile()), 'the previous test imported');
    const oldIds = { alpha: ariCertId(join(certbotDir, 'live', 'alpha', 'cert.pem')), beta: ariCertId(join(certbotDir, 'live', 'beta', 'cert.pem')) };
    const mark = proxy.requests.log.length;
    const renewed = await runCli(['renew', '--force', '--config', configFile()]);
    assert.equal(renewed.code, 0, renewed.stdout + renewed.stderr + (await pebble?.logs()));
    assert.match(renewed.stdout, /^renewed +alpha: renewed version 3/m);
    assert.match(renewed.stdout, /^renewed +beta: renewed version 2/m);
    const log = proxy.requests.log.slice(mark);
    assert.equal(log.filter((e) => e.kind === 'POST /sign-me-up').length, 0, 'no newAccount: the imported account was used');
    // Distinct accepted orders (a nonce rejection retries the same POST): one per certificate, each
    // signed by certbot's account and carrying `replaces` = the ARI id of certbot's live certificate.
    const orders = log.filter((e) => e.kind === 'POST /order-plz' && e.status === 201);
    assert.equal(orders.length, 2, JSON.stringify(log.map((e) => [e.kind, e.status, e.problem])));
    for (const order of orders) assert.equal(order.jws?.protected.kid, accountUrl, 'signed by the imported account');
    const replaces = orders.map((o) => (o.jws?.payload as { replaces?: string; identifiers: { value: string }[] }) ?? {});
    const byName = Object.fromEntries(replaces.map((p) => [p.identifiers.map((i) => i.value).sort()[0], p.replaces]));
    // Unless Pebble cannot find the old serial (pebbleFindsReplaced): then the order placed again carries none.
    const accepted = (id: string): string | undefined => (pebbleFindsReplaced(id) ? id : undefined);
    assert.deepEqual(byName, { 'alpha.test': accepted(oldIds.alpha), 'beta.test': accepted(oldIds.beta) });
    const sent = log.filter((e) => e.kind === 'POST /order-plz').map((e) => (e.jws?.payload as { replaces?: string }).replaces);
    for (const id of Object.values(oldIds)) assert.ok(sent.includes(id), `an order was sent with replaces ${id}`);
    // The hook certbot ran is certpilot's now, for the new version, with certpilot's live directory.
    assert.equal(readFileSync(hookLog, 'utf8').trim().split('\n').at(-1), join(stateDir(), 'live', 'alpha'));
  });

  test("certbot's hooks into a separate state dir: a `cp …/live/NAME/…` hook deploys certpilot's renewal, renewal-hooks/deploy/ runs for it, a missing hook script is an action and a config check error", async (t) => {
    if (!usable(t) || !proxy) return;
    const base = await tempDir('certpilot-import-hooks-');
    const copy = join(base, 'letsencrypt');
    cpSync(certbotDir, copy, { recursive: true, verbatimSymlinks: true });
    const srv = join(base, 'srv');
    mkdirSync(srv);
    const setHook = (name: string, hook: string): void => {
      const conf = join(copy, 'renewal', `${name}.conf`);
      const text = readFileSync(conf, 'utf8').replace(/^renew_hook = .*\n/m, '');
      writeFileSync(conf, text.replace('[renewalparams]\n', `[renewalparams]\nrenew_hook = ${hook}\n`));
    };
    // beta: the tryout's hook, copying certbot's live files to where the service reads them.
    setHook('beta', `cp ${copy}/live/beta/fullchain.pem ${copy}/live/beta/privkey.pem ${srv}/`);
    writeFileSync(join(srv, 'fullchain.pem'), readFileSync(join(copy, 'live', 'beta', 'fullchain.pem')));
    // alpha: a hook script that is gone.
    const missing = join(base, 'hooks', 'deploy-alpha.sh');
    setHook('alpha', `${missing} --reload`);
    // certbot's directory hook (the nginx reload): here it logs what certbot would give it.
    const dirHookLog = join(base, 'dir-hook.log');
    mkdirSync(join(copy, 'renewal-hooks', 'deploy'), { recursive: true });
    writeFileSync(join(copy, 'renewal-hooks', 'deploy', '10-reload'), `#!/bin/sh\necho "$RENEWED_LINEAGE $RENEWED_DOMAINS" >> ${dirHookLog}\n`, { mode: 0o755 });

    const state = join(base, 'state');
    const config = join(base, 'certpilot.yaml');
    const imported = await runCli(['import', 'certbot', '--config-dir', copy, '--state-dir', state, ...caFlags()]);
    assert.equal(imported.code, 1, `an action is needed: exit 1\n${imported.stderr}`);
    assert.match(imported.stderr, new RegExp(`^changed +beta: renew_hook = .*written with certpilot's ${state}/live/beta/ instead`, 'm'));
    assert.match(imported.stderr, new RegExp(`^ACTION NEEDED +alpha: renew_hook = .*${missing} does not exist: certbot's hook for alpha cannot have run`, 'm'));
    assert.match(imported.stderr, /^changed +\*: renewal-hooks\/deploy\/10-reload: certbot ran it after each renewal of every certificate/m);
    writeFileSync(config, imported.stdout);
    const check = await runCli(['config', 'check', '--config', config]);
    assert.equal(check.code, 2, check.stdout + check.stderr);
    assert.match(check.stdout + check.stderr, new RegExp(`alpha-deploy-hook\\.command.*${missing} does not exist`));

    const certbotFullchain = readFileSync(join(copy, 'live', 'beta', 'fullchain.pem'), 'utf8');
    const renewed = await runCli(['renew', '--force', '--name', 'beta', '--config', config]);
    assert.equal(renewed.code, 0, renewed.stdout + renewed.stderr);
    const certpilotFullchain = readFileSync(join(state, 'live', 'beta', 'fullchain.pem'), 'utf8');
    assert.notEqual(certpilotFullchain, certbotFullchain, 'certpilot renewed beta');
    assert.equal(readFileSync(join(srv, 'fullchain.pem'), 'utf8'), certpilotFullchain, "the service got certpilot's new certificate, not certbot's old one");
    assert.equal(readFileSync(dirHookLog, 'utf8'), `${join(state, 'live', 'beta')} beta.test\n`, 'the directory hook ran for the renewal, with certbot\'s variables');
  });

  test('bad input: a broken live/ link, a key that does not match its certificate, an account for another CA', async (t) => {
    if (!usable(t) || !proxy) return;
    const broken = join(await tempDir('certpilot-import-bad-'), 'letsencrypt');
    cpSync(certbotDir, broken, { recursive: true, verbatimSymlinks: true });
    // beta: its live link points at a version that does not exist.
    unlinkSync(join(broken, 'live', 'beta', 'cert.pem'));
    symlinkSync('../../archive/beta/cert7.pem', join(broken, 'live', 'beta', 'cert.pem'));
    // gamma: a copy of alpha whose OLDER version's key is beta's (the live version is fine).
    cpSync(join(broken, 'archive', 'alpha'), join(broken, 'archive', 'gamma'), { recursive: true });
    mkdirSync(join(broken, 'live', 'gamma'));
    for (const f of ['cert', 'chain', 'fullchain', 'privkey']) symlinkSync(`../../archive/gamma/${f}2.pem`, join(broken, 'live', 'gamma', `${f}.pem`));
    cpSync(join(broken, 'archive', 'beta', 'privkey1.pem'), join(broken, 'archive', 'gamma', 'privkey1.pem'));
    writeFileSync(join(broken, 'renewal', 'gamma.conf'), readFileSync(join(broken, 'renewal', 'alpha.conf'), 'utf8').replaceAll('/alpha', '/gamma'));
    // An account certbot made for another CA (a real account folder, moved under another server).
    const accountsRoot = join(broken, 'accounts');
    const [server] = readdirSync(accountsRoot);
    const [id] = readdirSync(join(accountsRoot, server as string, 'dir'));
    mkdirSync(join(accountsRoot, 'other-ca.test', 'directory'), { recursive: true });
    cpSync(join(accountsRoot, server as string, 'dir', id as string), join(accountsRoot, 'other-ca.test', 'directory', 'b0b'), { recursive: true });
    const regr = join(accountsRoot, 'other-ca.test', 'directory', 'b0b', 'regr.json');
    writeFileSync(regr, JSON.stringify({ body: {}, uri: 'https://other-ca.test/acme/acct/1' }));

    const state = join(await tempDir('certpilot-import-bad-state-'), 'state');
    const result = await runCli(['import', 'certbot', '--config-dir', broken, '--state-dir', state, ...caFlags()]);
    assert.equal(result.code, 1, 'something was skipped: exit 1');
    assert.match(result.stderr, /^imported +certificate alpha: 2 versions/m);
    assert.match(result.stderr, /^imported +account accounts\/127\.0\.0\.1:\d+\/dir\//m);
    assert.match(result.stderr, /^skipped +certificate beta: live\/beta\/cert\.pem is a broken symbolic link .*cert7\.pem.*\(ERR_IMPORT_INVALID\)/m);
    assert.match(result.stderr, /^skipped +certificate gamma: archive\/gamma\/cert1\.pem: the private key does not match the certificate.*\(ERR_IMPORT_INVALID\)/m);
    assert.match(result.stderr, /^skipped +account accounts\/other-ca\.test\/directory\/b0b: it is for https:\/\/other-ca\.test\/directory, which certpilot is not configured for.*\(ERR_IMPORT_ACCOUNT_SKIPPED\)/m);
    // Nothing of the broken lineages was written, not even their first version.
    const written = Object.keys(snapshot(state));
    assert.deepEqual(written.filter((p) => /beta|gamma/.test(p)), [], written.join('\n'));
    assert.ok(written.includes('archive/alpha/cert2.pem'));
    assert.deepEqual(readdirSync(join(state, 'accounts')), [readdirSync(join(state, 'accounts'))[0]], 'one account: the configured CA only');
  });

  test("without --directory the CA is the lineages' own (`server =`), with certbot's account; certbot 2.x keeps no contact: a note, or --email; lineages of two CAs are refused", async (t) => {
    if (!usable(t) || !proxy) return;
    // No --directory: certpilot's default would be Let's Encrypt; certbot renewed these from the proxy's CA.
    const state = join(await tempDir('certpilot-import-ca-'), 'state');
    const plain = await runCli(['import', 'certbot', '--config-dir', certbotDir, '--state-dir', state, '--ca-bundle', testCaFile, '--dry-run']);
    assert.equal(plain.code, 0, plain.stderr);
    const printed = parse(plain.stdout) as { acme: { directoryUrl: string; email?: string; termsOfServiceAgreed?: boolean } };
    assert.equal(printed.acme.directoryUrl, proxy.directoryUrl);
    assert.equal(printed.acme.termsOfServiceAgreed, true);
    assert.match(plain.stderr, /^would import +account accounts\/127\.0\.0\.1:\d+\/dir\/[0-9a-f]+: /m);
    assert.doesNotMatch(plain.stderr, /^not mapped +\w+: server = /m, 'every lineage renews from its own CA');
    // The real certbot 2.x wrote `"body": {}` into regr.json: its -m address is only at the CA.
    assert.equal(printed.acme.email, undefined);
    assert.match(plain.stderr, /^not mapped +\*: account contact: certbot 2\.x keeps no contact e-mail in its files .*--email ADDRESS/m);
    const withEmail = await runCli(['import', 'certbot', '--config-dir', certbotDir, '--state-dir', state, '--ca-bundle', testCaFile, '--email', 'ops@example.com', '--dry-run']);
    assert.equal(withEmail.code, 0, withEmail.stderr);
    assert.equal((parse(withEmail.stdout) as { acme: { email?: string } }).acme.email, 'ops@example.com');
    assert.doesNotMatch(withEmail.stderr, /account contact/);

    // beta renewed from another CA: which one renews both is the user's call, and nothing is written.
    const mixed = join(await tempDir('certpilot-import-mixed-'), 'letsencrypt');
    cpSync(certbotDir, mixed, { recursive: true, verbatimSymlinks: true });
    const betaConf = join(mixed, 'renewal', 'beta.conf');
    const staging = 'https://acme-staging-v02.api.letsencrypt.org/directory';
    writeFileSync(betaConf, readFileSync(betaConf, 'utf8').replace(/^server = .*$/m, `server = ${staging}`));
    const refused = await runCli(['import', 'certbot', '--config-dir', mixed, '--state-dir', state, '--ca-bundle', testCaFile]);
    assert.equal(refused.code, 2, refused.stdout + refused.stderr);
    assert.match(refused.stderr, new RegExp(`error ERR_IMPORT_SEVERAL_CAS: import: certbot's lineages were issued by 2 CAs \\(${proxy.directoryUrl.replace(/[.]/g, '\\.')}: alpha; ${staging.replace(/[.]/g, '\\.')}: beta\\)`));
    assert.match(refused.stderr, /hint: Name the CA to renew every lineage with: import again with --directory \S+ or --directory \S+\./);
    assert.equal(refused.stdout, '', 'no configuration printed');
    assert.ok(!existsSync(state), 'nothing written');
    // --directory chooses: both imported, beta's other CA named.
    const chosen = await runCli(['import', 'certbot', '--config-dir', mixed, '--state-dir', state, ...caFlags(), '--dry-run']);
    assert.equal(chosen.code, 0, chosen.stderr);
    assert.match(chosen.stderr, new RegExp(`^not mapped +beta: server = ${staging.replace(/[.]/g, '\\.')}: certpilot renews with `, 'm'));
  });

  test('a full state volume: the lineage that does not fit is skipped with ERR_STORAGE_FULL, left out of the printed configuration and named in the summary', async (t) => {
    if (!usable(t) || !proxy) return;
    const parent = await tempDir('certpilot-import-full-');
    // A trial import on an empty tmpfs says how many blocks the import takes; the real one gets one block less, so its last lineage (beta) cannot be written.
    const trial = await smallTmpfs(t, parent, 512);
    if (trial === undefined) return;
    /** Blocks in use on the file system of `dir`, and its block size in bytes. */
    const usage = (dir: string): { used: number; size: number } => {
      const [total = 0, free = 0, size = 4096] = execFileSync('stat', ['-f', '-c', '%b %f %S', dir], { encoding: 'utf8' }).trim().split(' ').map(Number);
      return { used: total - free, size };
    };
    const empty = usage(trial).used;
    const first = await runCli(['import', 'certbot', '--config-dir', certbotDir, '--state-dir', join(trial, 'state'), ...caFlags()]);
    assert.equal(first.code, 0, first.stderr);
    const { used, size } = usage(trial);
    const needed = used - empty;
    const full = join(parent, 'full');
    mkdirSync(full);
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${((needed - 1) * size) / 1024}k,mode=0700`, 'tmpfs', full]);
    t.after(() => void execFileSync('umount', ['-l', full]));
    const result = await runCli(['import', 'certbot', '--config-dir', certbotDir, '--state-dir', join(full, 'state'), ...caFlags()]);
    assert.equal(result.code, 1, result.stdout + result.stderr);
    assert.match(result.stderr, /^imported +certificate alpha: 2 versions/m);
    assert.match(result.stderr, /^skipped +certificate beta: writing it failed: .*ENOSPC \(the volume is full\) \(ERR_STORAGE_FULL\)/m);
    assert.match(result.stderr, /1 certificate\(s\) skipped, not in the printed configuration: beta\./);
    const printed = parse(result.stdout) as { certificates: { name: string }[] };
    assert.deepEqual(printed.certificates.map((c) => c.name), ['alpha']);
    assert.match(result.stdout, /^# Not in it, skipped by the import \(see its report\): beta$/m);
  });

  test("the deck's dev volume (only the PEM files) is imported, then renewed and deployed with `files`", async (t) => {
    if (!usable(t) || !proxy) return;
    // What the deck's hook leaves at the volume root: `cp -aL live/$NAME/* .` and fullbundle.pem.
    const volume = join(await tempDir('certpilot-import-volume-'), 'certificate');
    mkdirSync(volume);
    for (const f of ['cert', 'chain', 'fullchain', 'privkey']) cpSync(join(certbotDir, 'live', 'beta', `${f}.pem`), join(volume, `${f}.pem`), { dereference: true });
    const read = (f: string): string => readFileSync(join(volume, f), 'utf8');
    writeFileSync(join(volume, 'fullbundle.pem'), read('cert.pem') + read('chain.pem') + read('privkey.pem'));
    const original = read('cert.pem');
    const state = join(dir, 'dev-state');

    const dry = await runCli(['import', 'files', volume, '--name', 'dev', '--state-dir', state, ...caFlags(), '--dry-run']);
    assert.equal(dry.code, 0, dry.stderr);
    assert.deepEqual(snapshot(state), {}, '--dry-run wrote nothing');
    const imported = await runCli(['import', 'files', volume, '--name', 'dev', '--state-dir', state, ...caFlags(), '--agree-tos']);
    assert.equal(imported.code, 0, imported.stderr);
    assert.match(imported.stderr, /^imported +certificate dev: 1 version from /m);
    const printed = parse(imported.stdout) as { solvers?: Record<string, unknown>; deployers: Record<string, { type: string; dir: string; bundle: string }>; certificates: { name: string; domains: string[]; solver?: string; deploy: string[] }[] };
    const [cert] = printed.certificates;
    assert.deepEqual(cert?.domains, ['beta.test']);
    assert.deepEqual(printed.deployers[cert?.deploy[0] ?? ''], { type: 'files', dir: volume, bundle: 'cert-chain-key' });
    // The files do not say how names were proven: the user adds the solver (the report says so).
    assert.match(imported.stderr, /^not mapped +dev: solver: /m);
    printed.solvers = { web: { type: 'webroot', path: webroot } };
    if (cert) cert.solver = 'web';
    const config = join(dir, 'dev.yaml');
    writeFileSync(config, stringify(printed));

    // Nothing due, and the volume already holds the imported version: a renew writes nothing there.
    const volumeBefore = snapshot(volume);
    const idle = await runCli(['renew', '--config', config]);
    assert.equal(idle.code, 0, idle.stdout + idle.stderr);
    assert.deepEqual(snapshot(volume), volumeBefore, 'the imported version counts as deployed');

    const renewed = await runCli(['renew', '--force', '--config', config]);
    assert.equal(renewed.code, 0, renewed.stdout + renewed.stderr);
    assert.match(renewed.stdout, /^renewed +dev: renewed version 2.*deployed version 2 to volume/m);
    const live = readFileSync(join(state, 'live', 'dev', 'cert.pem'), 'utf8');
    assert.notEqual(fingerprint(live), fingerprint(original));
    assert.equal(read('cert.pem'), live, 'the volume holds the new certificate');
    assert.equal(read('fullbundle.pem'), read('cert.pem') + read('chain.pem') + read('privkey.pem'), 'fullbundle.pem in the deck order');
    assert.ok(new X509Certificate(read('cert.pem')).checkPrivateKey(createPrivateKey(read('privkey.pem'))), 'key and certificate match');
  });
});
