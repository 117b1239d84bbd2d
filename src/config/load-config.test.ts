import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { ConfigError } from '../errors.js';
import { tempDir } from '../testing/temp-dir.js';
import { loadConfig } from './load-config.js';

async function withFile(yaml: string): Promise<string> {
  const dir = await tempDir('certpilot-config-');
  const file = join(dir, 'certpilot.yaml');
  await writeFile(file, yaml);
  return file;
}

async function configError(promise: Promise<unknown>): Promise<ConfigError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected a ConfigError');
}

test('one file serves every environment: ${NAME} and ${NAME[]} expand from the environment', async () => {
  const file = await withFile(`
stateDir: ./state
acme: { directoryUrl: letsencrypt-staging, email: admin@example.com, termsOfServiceAgreed: true }
certificates:
  - name: www-certificate
    domains: ["www.\${VHOST}", "\${VHOST}", "\${WWW_SERVER_ALIASES_TLS[]}"]
`);
  const prod = await loadConfig({ file, cwd: '/', env: { VHOST: 'Example.COM', WWW_SERVER_ALIASES_TLS: 'a.example.com, b.example.com' } });
  assert.deepEqual(prod.certificates[0]?.domains, ['www.example.com', 'example.com', 'a.example.com', 'b.example.com']);
  assert.equal(prod.acme.directoryUrl, 'https://acme-staging-v02.api.letsencrypt.org/directory');
  assert.equal(prod.stateDir, join(file, '..', 'state'));

  const dev = await loadConfig({ file, cwd: '/', env: { VHOST: 'dev.example.com' } });
  assert.deepEqual(dev.certificates[0]?.domains, ['www.dev.example.com', 'dev.example.com'], 'unset list variable gives no items');
  assert.ok(Object.isFrozen(dev.certificates[0]), 'resolved config is frozen');
});

test('a missing variable names the field and the fix', async () => {
  const file = await withFile('certificates:\n  - domains: ["${VHOST}"]\n');
  const err = await configError(loadConfig({ file, cwd: '/', env: {} }));
  assert.equal(err.code, 'ERR_CONFIG_INVALID');
  assert.deepEqual(
    err.issues.map((i) => i.path),
    ['certificates[0].domains[0]'],
    `one problem per unset variable, no follow-on noise: ${err.message}`,
  );
  assert.match(err.issues[0]?.message ?? '', /VHOST is not set/);
});

test('${NAME:-default} and $$ escapes', async () => {
  const file = await withFile('stateDir: "${STATE:-/srv/certs}"\ncertificates:\n  - domains: ["a.example.com"]\n    name: "x$$y"\n');
  const err = await configError(loadConfig({ file, cwd: '/', env: {} }));
  // "x$y" is not a safe name: proves the escape produced a literal "$".
  assert.ok(err.issues.some((i) => i.path === 'certificates[0].name'), err.message);
  const ok = await withFile('stateDir: "${STATE:-/srv/certs}"\n');
  assert.equal((await loadConfig({ file: ok, cwd: '/', env: {} })).stateDir, '/srv/certs');
});

test("a shell hook's command is the shell's: ${VAR} in it is left for /bin/sh, the hook's argv and env still expand", async () => {
  const file = await withFile(`
deployers:
  deck:
    type: hook
    shell: true
    command: 'cd "\${RENEWED_LINEAGE}" && exit \${FAIL:-0}'
    env: { FAIL: "\${CODE:-3}" }
  reload: { type: hook, command: [docker, compose, -p, "\${PROJECT}", exec, web, apache2ctl, graceful] }
certificates:
  - domains: [a.example.com]
    deploy: [deck, reload]
`);
  const config = await loadConfig({ file, cwd: '/', env: { PROJECT: 'dev', FAIL: '9', RENEWED_LINEAGE: '/from/certpilot' } });
  const deck = config.deployers['deck']?.options as { command: unknown; env: unknown };
  assert.equal(deck.command, 'cd "${RENEWED_LINEAGE}" && exit ${FAIL:-0}', 'neither refused (unset) nor filled from certpilot\'s environment');
  assert.deepEqual(deck.env, { FAIL: '3' }, 'the hook\'s env still expands');
  const reload = config.deployers['reload']?.options as { command: unknown };
  assert.deepEqual(reload.command, ['docker', 'compose', '-p', 'dev', 'exec', 'web', 'apache2ctl', 'graceful'], 'an argv list has no shell to expand it');
  // Without a variable set, the shell command is still valid (the shell sees it at run time).
  await loadConfig({ file, cwd: '/', env: { PROJECT: 'dev' } });
});

test('a bad value from a flag or a CERTPILOT_ variable says so, so nobody looks for it in a file that is fine', async () => {
  const file = await withFile('acme: { email: file@example.com }\ncertificates: [{ domains: [file.example.com] }]\n');
  const err = await configError(
    loadConfig({
      file,
      cwd: '/',
      env: { CERTPILOT_LOG_LEVEL: 'loud' },
      overrides: { set: { 'acme.email': 'not-an-address' }, certificate: { domains: ['one.example.com'], keyType: 'ec256' } },
    }),
  );
  const byPath = new Map(err.issues.map((i) => [i.path, i.message]));
  assert.match(byPath.get('certificates[0].keyType') ?? '', /\(given on the command line: -d and the flags with it\)$/);
  assert.match(byPath.get('acme.email') ?? '', /\(given on the command line\)$/);
  assert.match(byPath.get('logLevel') ?? '', /\(from CERTPILOT_LOG_LEVEL\)$/);
  const fromFile = await configError(loadConfig({ file: await withFile('logLevel: loud\n'), cwd: '/', env: {} }));
  assert.doesNotMatch(fromFile.issues[0]?.message ?? '', /command line|from CERTPILOT/, 'a value from the file is the file\'s');
});

test('every schema problem is reported at once, with paths', async () => {
  const file = await withFile(`
acme: { emial: x }
defaults: { keyType: dsa-1024 }
certificates:
  - domains: www.example.com
`);
  const err = await configError(loadConfig({ file, cwd: '/', env: {} }));
  const byPath = new Map(err.issues.map((i) => [i.path, i.message]));
  assert.match(byPath.get('acme') ?? '', /unknown field\(s\) "emial"; did you mean "email"\?/);
  assert.match(byPath.get('defaults.keyType') ?? '', /must be one of "ec-p256"/);
  assert.match(byPath.get('certificates[0].domains') ?? '', /must be a list/);
  assert.equal(err.issues.length, 3, err.message);
});

test('a misspelt field gets the field of that object it is closest to, a plug-in entry the fields of its type', async () => {
  const file = await withFile(`
statedir: /srv
solvers:
  web: { type: standalone, prot: 80 }
  near: { type: standalone, address: 127.0.0.1 }
deployers:
  vol: { type: files, dir: /srv/v, bundel: cert-chain-key, keymode: "0600", zzzz: 1 }
certificates:
  - domains: [a.example.com]
    domian: x
`);
  const err = await configError(loadConfig({ file, cwd: '/', env: {} }));
  const byPath = new Map(err.issues.map((i) => [i.path, i.message]));
  assert.match(byPath.get('') ?? byPath.get('(root)') ?? err.message, /"statedir"; did you mean "stateDir"\?/);
  assert.match(byPath.get('solvers.web') ?? '', /"prot"; did you mean "port"\?/, 'a standalone solver has a port');
  // Nothing close: a plug-in entry's few fields are listed instead.
  assert.match(byPath.get('solvers.near') ?? '', /unknown field\(s\) "address"; the fields here are "port", "host"\. Check the spelling/);
  const vol = byPath.get('deployers.vol') ?? '';
  assert.match(vol, /"bundel": did you mean "bundle"\?; "keymode": did you mean "keyMode"\?/);
  assert.doesNotMatch(vol, /"zzzz": did you mean/, 'no suggestion when nothing is close');
  assert.match(byPath.get('certificates[0]') ?? '', /"domian"; did you mean "domains"\?/);
});

test('cross-field rules: wildcard without dns-01, bad names, duplicates', async () => {
  const file = await withFile(`
acme: { directoryUrl: "ftp://nope" }
certificates:
  - domains: []
  - domains: ["*.example.com", "bad_label.example.com", "localhost", "192.0.2.1", "WWW.example.com.", "www.example.com"]
  - name: dup
    domains: [a.example.com]
  - name: dup
    domains: [b.example.com]
`);
  const err = await configError(loadConfig({ file, cwd: '/', env: {} }));
  const byPath = new Map(err.issues.map((i) => [i.path, i.message]));
  assert.match(byPath.get('acme.directoryUrl') ?? '', /neither an http\(s\) URL/);
  assert.match(byPath.get('certificates[0].domains') ?? '', /at least one/);
  assert.match(byPath.get('certificates[1].domains[0]') ?? '', /only dns-01/);
  assert.match(byPath.get('certificates[1].domains[1]') ?? '', /label "bad_label"/);
  assert.match(byPath.get('certificates[1].domains[2]') ?? '', /fully qualified/);
  assert.match(byPath.get('certificates[3].name') ?? '', /also the name of certificates\[2\]/);
  assert.equal(byPath.has('certificates[1].domains[3]'), false, 'an IP address is a valid identifier');
});

test('flags win over env, env over the file; a one-off certificate replaces the list', async () => {
  const file = await withFile('stateDir: /from/file\nacme: { email: file@example.com }\ncertificates: [{ domains: [file.example.com] }]\n');
  const c = await loadConfig({
    file,
    cwd: '/',
    env: { CERTPILOT_STATE_DIR: '/from/env', CERTPILOT_EMAIL: 'env@example.com' },
    overrides: { set: { 'acme.email': 'flag@example.com' }, certificate: { domains: ['one.example.com', '2001:DB8::1'] } },
  });
  assert.equal(c.stateDir, '/from/env');
  assert.equal(c.acme.email, 'flag@example.com');
  assert.equal(c.certificates.length, 1);
  assert.deepEqual(c.certificates[0]?.identifiers, [
    { type: 'dns', value: 'one.example.com' },
    { type: 'ip', value: '2001:db8::1' },
  ]);
  assert.equal(c.certificates[0]?.name, 'one.example.com');
});

test('EAB secret comes from a file and never appears in errors', async () => {
  const dir = await tempDir('certpilot-eab-');
  await writeFile(join(dir, 'hmac'), 'c2VjcmV0LWhtYWMta2V5LXZhbHVl\n', { mode: 0o600 });
  const file = join(dir, 'c.yaml');
  await writeFile(file, 'acme: { eab: { kid: kid-1, hmacKeyFile: hmac } }\n');
  const c = await loadConfig({ file, cwd: '/', env: {} });
  assert.deepEqual(c.acme.eab, { kid: 'kid-1', hmacKey: 'c2VjcmV0LWhtYWMta2V5LXZhbHVl' });

  await writeFile(file, 'acme: { eab: { kid: kid-1, hmacKey: "not base64 !!! s3cr3t" } }\n');
  const err = await configError(loadConfig({ file, cwd: '/', env: {} }));
  assert.doesNotMatch(err.message, /s3cr3t/);
  assert.ok(err.issues.some((i) => i.path === 'acme.eab.hmacKey'));
});

test('YAML syntax errors give line and column', async () => {
  const file = await withFile('acme:\n  email: [unclosed\n');
  const err = await configError(loadConfig({ file, cwd: '/', env: {} }));
  assert.equal(err.code, 'ERR_CONFIG_PARSE');
  assert.match(err.issues[0]?.path ?? '', /line \d+, column \d+/);
});

test('a missing file is ERR_CONFIG_NOT_FOUND', async () => {
  await assert.rejects(loadConfig({ file: '/nonexistent/certpilot.yaml', cwd: '/', env: {} }), { code: 'ERR_CONFIG_NOT_FOUND' });
});

test('IP identifiers: IPv4 and IPv6 (canonical form) are IPs, look-alikes are names or errors', async () => {
  const { ipVersion, normalizeDomain, identifierProblem } = await import('./rules.js');
  assert.equal(ipVersion('192.0.2.1'), 4);
  assert.equal(ipVersion('256.0.2.1'), 0);
  assert.equal(ipVersion('2001:db8::1'), 6);
  assert.equal(ipVersion('::ffff:192.0.2.1'), 6);
  assert.equal(ipVersion('1:2:3'), 0);
  assert.equal(ipVersion('fe80::1%eth0'), 0);
  assert.equal(normalizeDomain('[2001:DB8:0:0::1]'), '2001:db8::1');
  assert.match(identifierProblem('1.2.3') ?? '', /neither a valid IP address nor a domain name/);
});

test('named solvers: each name of a certificate gets its solver; the implicit default is standalone on port 80', async () => {
  const file = await withFile(`
solvers:
  web: { type: standalone, port: 8080, host: 127.0.0.1 }
  site: { type: webroot, path: ./www }
defaults: { solver: web }
certificates:
  - name: plain
    domains: [a.example.com]
  - name: mixed
    domains: [example.com, www.example.com, static.example.org, img.static.example.org]
    solver: web
    solvers:
      - { names: [www.example.com], solver: site }
      - { zones: [static.example.org], solver: site }
  - name: builtin
    domains: [b.example.com]
    solver: default
`);
  const config = await loadConfig({ file, cwd: '/', env: {} });
  assert.deepEqual(config.certificates[0]?.solvers, { 'a.example.com': 'web' });
  assert.deepEqual(config.certificates[1]?.solvers, {
    'example.com': 'web',
    'www.example.com': 'site',
    'static.example.org': 'site',
    'img.static.example.org': 'site',
  });
  assert.deepEqual(config.solvers.default, { type: 'standalone', kind: 'challenge-solver', options: { port: 80 } });
  const site = config.solvers.site;
  assert.equal(site?.type === 'webroot' ? site.options.path : undefined, './www', 'plug-in options are kept as written; the plug-in resolves them against baseDir');
  assert.deepEqual(config.locker, { type: 'file', kind: 'locker', options: {} }, 'the file locker unless the file says otherwise');
  assert.equal(config.baseDir, join(file, '..'));
  assert.deepEqual(config.certificates[2]?.deploy, []);
});

test('every bad solver and deployer reference is reported at once, each naming its field', async () => {
  const file = await withFile(`
solvers:
  web: { type: standalone }
  bad: { type: nosuch }
defaults: { deploy: [volume] }
certificates:
  - name: one
    domains: ["*.example.com", example.com]
    solver: missing
    solvers:
      - { names: [typo.example.com], solver: web }
      - { solver: web }
      - { names: [example.com], solver: gone }
    deploy: [reload]
  - name: two
    domains: ["*.example.net"]
    solver: web
`);
  // The schema problem and every cross-field problem, in one report.
  const err = await configError(loadConfig({ file, cwd: '/', env: {} }));
  const got = new Map(err.issues.map((i) => [i.path, i.message]));
  assert.match(got.get('solvers.bad.type') ?? '', /use one of standalone, webroot/);
  assert.match(got.get('certificates[0].solver') ?? '', /"missing" is not a solver defined under `solvers`; defined: default, web/);
  assert.match(got.get('certificates[0].solvers[0].names[0]') ?? '', /"typo.example.com" is not one of the certificate's domains/);
  assert.match(got.get('certificates[0].solvers[1]') ?? '', /needs `names` or `zones`/);
  assert.match(got.get('certificates[0].solvers[2].solver') ?? '', /"gone" is not a solver/);
  assert.match(got.get('certificates[0].deploy[0]') ?? '', /"reload" is not a deployer defined under `deployers`/);
  assert.match(got.get('defaults.deploy[0]') ?? '', /"volume" is not a deployer/, 'certificate two uses defaults.deploy');
  assert.match(got.get('certificates[1].domains[0]') ?? '', /wildcard, which only dns-01, dns-account-01 or dns-persist-01 can prove \(RFC 8555 §7\.1\.3\), but its solver "web" answers http-01/);
  assert.equal(err.issues.length, 8, err.message);
});

test('--webroot and --http-01-port reshape the default solver', async () => {
  const web = await loadConfig({ cwd: '/srv', env: {}, overrides: { webroot: '/var/www', certificate: { domains: ['a.example.com'] } } });
  assert.deepEqual(web.solvers.default, { type: 'webroot', kind: 'challenge-solver', options: { path: '/var/www', allowSharedDir: false, selfCheck: { enabled: true, timeoutSeconds: 60, urls: [] } } });
  const port = await loadConfig({ cwd: '/srv', env: {}, overrides: { http01Port: 8080, http01Host: '127.0.0.1', certificate: { domains: ['a.example.com'] } } });
  assert.deepEqual(port.solvers.default, { type: 'standalone', kind: 'challenge-solver', options: { port: 8080, host: '127.0.0.1' } });
});

test('schema problems and cross-field problems come in one report', async () => {
  const file = await withFile(`
acme: { directoryUrl: "ftp://nope", emial: x }
solvers:
  broken: { type: webroot }
certificates:
  - domains: [a.example.com]
    colour: blue
  - domains: ["bad_label.example.com", "*.example.com"]
    solver: broken
  - domains: [b.example.com]
    solver: missing
`);
  const err = await configError(loadConfig({ file, cwd: '/', env: {} }));
  const byPath = new Map(err.issues.map((i) => [i.path, i.message]));
  assert.match(byPath.get('acme') ?? '', /unknown field\(s\) "emial"/);
  assert.match(byPath.get('acme.directoryUrl') ?? '', /neither an http\(s\) URL/, 'the misspelt section\'s other fields are still checked');
  assert.match(byPath.get('solvers.broken.path') ?? '', /is required/);
  assert.match(byPath.get('certificates[0]') ?? '', /unknown field\(s\) "colour"/);
  assert.match(byPath.get('certificates[1].domains[0]') ?? '', /label "bad_label"/, 'a rule problem beside the schema problems');
  assert.match(byPath.get('certificates[2].solver') ?? '', /"missing" is not a solver/);
  assert.ok(!byPath.has('certificates[1].domains[1]'), 'no follow-on noise about the broken solver\'s type');
  assert.equal(err.issues.length, 6, err.message);
});

test('challenge types: wildcards through dns-01, dns-account-01 or dns-persist-01; tls-alpn-01 takes IP addresses but no wildcard; DNS types no IP address', async () => {
  const good = await withFile(`
solvers:
  dns: { type: rfc2136, server: 127.0.0.1, keyName: k, secretFile: ./k }
  acct: { type: rfc2136, server: 127.0.0.1, keyName: k, secretFile: ./k, challenge: dns-account-01 }
  persist: { type: dns-persist }
  alpn: { type: tls-alpn, port: 5001 }
certificates:
  - name: mix
    domains: ["*.a.example.com", "*.b.example.com", "*.c.example.com", alpn.example.com, 192.0.2.7]
    solver: alpn
    solvers:
      - { names: ["*.a.example.com"], solver: dns }
      - { names: ["*.b.example.com"], solver: acct }
      - { names: ["*.c.example.com"], solver: persist }
`);
  const config = await loadConfig({ file: good, cwd: '/', env: {} });
  assert.deepEqual(config.certificates[0]?.solvers, { '*.a.example.com': 'dns', '*.b.example.com': 'acct', '*.c.example.com': 'persist', 'alpn.example.com': 'alpn', '192.0.2.7': 'alpn' });
  const acct = config.solvers.acct;
  assert.equal(acct?.kind === 'dns-provider' ? acct.wrapper.challenge : undefined, 'dns-account-01');

  const bad = await withFile(`
solvers:
  acct: { type: rfc2136, server: 127.0.0.1, keyName: k, secretFile: ./k, challenge: dns-account-01 }
  persist: { type: dns-persist }
  alpn: { type: tls-alpn }
certificates:
  - name: one
    domains: ["*.example.com", 192.0.2.1, 192.0.2.2]
    solver: alpn
    solvers:
      - { names: [192.0.2.1], solver: acct }
      - { names: [192.0.2.2], solver: persist }
`);
  const err = await configError(loadConfig({ file: bad, cwd: '/', env: {} }));
  const got = new Map(err.issues.map((i) => [i.path, i.message]));
  assert.match(got.get('certificates[0].domains[0]') ?? '', /"\*\.example\.com" is a wildcard.*its solver "alpn" answers tls-alpn-01/);
  assert.match(got.get('certificates[0].domains[1]') ?? '', /"192\.0\.2\.1" is an IP address, which dns-account-01 cannot prove/);
  assert.match(got.get('certificates[0].domains[2]') ?? '', /"192\.0\.2\.2" is an IP address, which dns-persist-01 cannot prove/);
  assert.equal(err.issues.length, 3, err.issues.map((i) => `${i.path}: ${i.message}`).join('\n'));
});

test('each certificate carries a digest of the settings a fix could change: directory URL, its solvers\' and deployers\' options', async () => {
  const settingsOf = async (yaml: string): Promise<string | undefined> => (await loadConfig({ file: await withFile(yaml), cwd: '/', env: {} })).certificates[0]?.settings;
  const base = (o: { dir?: string; path?: string; mode?: string } = {}): string => `
acme: { directoryUrl: "${o.dir ?? 'https://ca.test/dir'}", email: admin@example.com, termsOfServiceAgreed: true }
solvers:
  web: { type: webroot, path: ${o.path ?? '/var/www'} }
deployers:
  out: { type: files, dir: /etc/out, layout: ${o.mode ?? 'atomic'} }
certificates:
  - name: www
    domains: [www.example.test]
    solver: web
    deploy: [out]
`;
  const first = await settingsOf(base());
  assert.match(first ?? '', /^[0-9a-f]{32}$/, 'a digest: options may hold secrets, so never the values');
  assert.equal(await settingsOf(base()), first, 'the same settings give the same digest');
  assert.notEqual(await settingsOf(base({ dir: 'https://ca.test/directory' })), first, 'the directory URL');
  assert.notEqual(await settingsOf(base({ path: '/srv/www' })), first, 'a solver option');
  assert.notEqual(await settingsOf(base({ mode: 'plain' })), first, 'a deployer option');
});

test('notifiers: defaults.notify applies unless a certificate names its own; unknown names and bad options are reported by path', async () => {
  const good = await loadConfig({
    file: await withFile(`
notifiers:
  chat: { type: webhook, url: "https://hooks.example.com/x", secretFile: key, on: [failure, expiring], expiringDays: 7 }
  mail: { type: email, host: smtp.example.com, from: a@example.com, to: [b@example.com] }
defaults: { notify: [chat] }
certificates:
  - domains: [a.example.com]
  - domains: [b.example.com]
    notify: [mail, mail]
  - domains: [c.example.com]
    notify: []
`),
    cwd: '/',
    env: {},
  });
  assert.deepEqual(good.certificates.map((c) => c.notify), [['chat'], ['mail'], []]);
  const chat = good.notifiers.chat;
  const mail = good.notifiers.mail;
  assert.equal(chat?.type, 'webhook');
  assert.equal(chat?.kind, 'notifier');
  assert.deepEqual(chat?.wrapper, { on: ['failure', 'expiring'], expiringDays: 7, repeatHours: 24 }, 'the event filter\'s options apart from the plug-in\'s');
  assert.equal(chat?.type === 'webhook' ? chat.options.retries : undefined, 3, 'defaults applied');
  assert.equal(chat?.type === 'webhook' ? 'on' in chat.options : undefined, false, 'the plug-in never sees the filter\'s options');
  assert.equal(mail?.type === 'email' ? mail.options.port : undefined, 587);
  assert.equal(mail?.type === 'email' ? mail.options.tls : undefined, 'starttls');
  assert.deepEqual(mail?.wrapper.on, ['failure'], 'on failure by default');

  const err = await configError(
    loadConfig({
      file: await withFile(`
notifiers:
  chat: { type: webhook, url: "ftp://nope", on: [sometimes] }
  pager: { type: pagerduty }
  mail: { type: email, host: "smtp://ops:hunter2@smtp.example.com:25", from: a@example.com, to: [b@example.com] }
defaults: { notify: [chat] }
certificates:
  - domains: [a.example.com]
    notify: [gone]
`),
      cwd: '/',
      env: {},
    }),
  );
  const got = new Map(err.issues.map((i) => [i.path, i.message]));
  assert.match(got.get('notifiers.chat.url') ?? '', /must be an http\(s\) URL/);
  assert.match(got.get('notifiers.chat.on[0]') ?? '', /must be one of "failure", "success", "expiring"/);
  assert.match(got.get('notifiers.pager.type') ?? '', /use one of webhook, email/);
  assert.match(got.get('notifiers.mail.host') ?? '', /must be a host name like smtp\.example\.com, not a URL/);
  assert.doesNotMatch(err.message, /hunter2/, 'a password in a URL is never echoed');
  assert.match(got.get('certificates[0].notify[0]') ?? '', /"gone" is not a notifier defined under `notifiers`; defined: chat, pager/);

  // A webhook's URL: in the file, or (a Slack URL is a credential) from a file; exactly one.
  const both = await configError(
    loadConfig({
      file: await withFile(`
notifiers:
  both: { type: webhook, url: "https://hooks.example.com/x", urlFile: url.txt }
  neither: { type: webhook, secretFile: key }
certificates:
  - domains: [a.example.com]
`),
      cwd: '/',
      env: {},
    }),
  );
  const why = new Map(both.issues.map((i) => [i.path, i.message]));
  assert.match(why.get('notifiers.both') ?? '', /set exactly one of url and urlFile/);
  assert.match(why.get('notifiers.neither') ?? '', /set exactly one of url and urlFile/);
});

test('a whole ${NAME} in a number or boolean field is read as one; a bad value names the variable, never its value; a pod placeholder is left to the pods', async () => {
  const file = await withFile(`
stateDir: ./state
acme: { directoryUrl: letsencrypt-staging, email: admin@example.com, termsOfServiceAgreed: true }
deployers:
  reload: { type: hook, command: ["true"], timeoutSeconds: "\${HOOK_TIMEOUT}" }
  volume: { type: files, dir: ./out, allowSharedDir: "\${SHARED}", keyMode: "\${KEY_MODE}" }
`);
  const config = await loadConfig({ file, env: { HOOK_TIMEOUT: '30', SHARED: 'true', KEY_MODE: '0640' }, cwd: '/' });
  assert.equal((config.deployers.reload?.options as { timeoutSeconds?: number }).timeoutSeconds, 30);
  assert.equal((config.deployers.volume?.options as { allowSharedDir?: boolean }).allowSharedDir, true);
  // A string field stays the text it was given (an octal mode is not a number).
  assert.equal((config.deployers.volume?.options as { keyMode?: string }).keyMode, '0640');

  const bad = await configError(loadConfig({ file, env: { HOOK_TIMEOUT: 'thirty-s3cret', SHARED: 'maybe', KEY_MODE: '0640' }, cwd: '/' }));
  assert.deepEqual(
    bad.issues.map((i) => [i.path, i.message]),
    [
      ['deployers.reload.timeoutSeconds', 'must be a number, and the value of ${HOOK_TIMEOUT} is not one; fix the variable'],
      ['deployers.volume.allowSharedDir', 'must be a boolean, and the value of ${SHARED} is not one; fix the variable (true or false)'],
    ],
  );
  assert.ok(!JSON.stringify(bad.issues).includes('thirty-s3cret'));
  const range = await configError(loadConfig({ file, env: { HOOK_TIMEOUT: '0', SHARED: 'false', KEY_MODE: '0640' }, cwd: '/' }));
  assert.deepEqual(range.issues.map((i) => i.path), ['deployers.reload.timeoutSeconds'], 'the schema\'s own rules still apply');

  const deferred: string[] = [];
  const placeholders = new Map([['HOOK_TIMEOUT', 'hook-timeout.pod-env.invalid'], ['SHARED', 'shared.pod-env.invalid'], ['KEY_MODE', 'key-mode.pod-env.invalid']]);
  const pods = await loadConfig({ file, env: Object.fromEntries(placeholders), cwd: '/', podVariables: { placeholders, deferred: (path, variable) => deferred.push(`${path}=${variable}`) } });
  assert.equal((pods.deployers.reload?.options as { timeoutSeconds?: number }).timeoutSeconds, 120, 'the default stands in');
  assert.deepEqual(deferred.sort(), ['deployers.reload.timeoutSeconds=HOOK_TIMEOUT', 'deployers.volume.allowSharedDir=SHARED', 'deployers.volume.keyMode=KEY_MODE']);
});

test('tls-alpn and standalone port 0 are refused, naming the field (the CA connects to 443 or 80: a random port can never be validated)', async () => {
  for (const [type, name] of [['tls-alpn', 'alpn'], ['standalone', 'plain']] as const) {
    const file = await withFile(`
solvers:
  ${name}: { type: ${type}, port: 0 }
certificates:
  - { name: one, domains: [${name}.example.com], solver: ${name} }
`);
    const error = await configError(loadConfig({ file, cwd: '/', env: {} }));
    const issue = error.issues.find((i) => i.path === `solvers.${name}.port`);
    assert.ok(issue, JSON.stringify(error.issues));
    assert.match(issue.message, /at least 1|>= ?1|too small/i);
  }
});

test('an empty configuration file (or one of comments only) is an error naming the file, never the built-in defaults', async () => {
  for (const text of ['', '\n  \n', '# all commented out\n# stateDir: /srv/state\n']) {
    const file = await withFile(text);
    await assert.rejects(loadConfig({ file, cwd: '/', env: {} }), (err: Error & { code?: string; hint?: string }) => {
      assert.equal(err.code, 'ERR_CONFIG_INVALID');
      assert.match(err.message, new RegExp(`config: ${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} is empty`));
      assert.match(err.hint ?? '', /emptied by the shell/);
      return true;
    });
  }
});
