import assert from 'node:assert/strict';
import { chmod, chown, mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../testing/temp-dir.js';
import { crossPluginIssues } from './cross-checks.js';
import { loadConfig } from './load-config.js';

async function load(yaml: string): Promise<{ dir: string; config: Awaited<ReturnType<typeof loadConfig>> }> {
  const dir = await tempDir('certpilot-cross-');
  const file = join(dir, 'certpilot.yaml');
  await writeFile(file, yaml);
  return { dir, config: await loadConfig({ file, env: {}, cwd: dir }) };
}

const kube = 'kubeconfig: kubeconfig';

void test('a kubernetes-reload key that the Secret deployer before it does not write is named, with the keys it does write', async () => {
  const { dir, config } = await load(`
deployers:
  secret: { type: kubernetes-secret, ${kube}, secretName: www-tls, keys: { tls.crt: fullchain, tls.key: key } }
  reload: { type: kubernetes-reload, ${kube}, secretName: www-tls, key: fullchain.pem, groups: [{ selector: app=www, command: [apachectl, graceful] }] }
certificates:
  - { domains: [www.example.com], deploy: [secret, reload] }
`);
  await writeFile(join(dir, 'kubeconfig'), 'apiVersion: v1\n');
  const issues = await crossPluginIssues(config);
  assert.deepEqual(issues.map((i) => i.path), ['deployers.reload.key']);
  assert.match(issues[0]?.message ?? '', /"fullchain\.pem" is not a key that "secret" writes into Secret "www-tls" \(it writes tls\.crt, tls\.key\)/);
  // The same for the one certificate renew checks before its order.
  assert.equal((await crossPluginIssues(config, config.certificates[0])).length, 1);
});

void test('a reload with no Secret deployer before it for its Secret is named; a matching pair passes', async () => {
  const { dir, config } = await load(`
deployers:
  secret: { type: kubernetes-secret, ${kube}, secretName: other }
  reload: { type: kubernetes-reload, ${kube}, secretName: www-tls, groups: [{ selector: app=www, command: [apachectl, graceful] }] }
  good: { type: kubernetes-secret, ${kube}, secretName: www-tls }
certificates:
  - { name: wrong, domains: [www.example.com], deploy: [secret, reload] }
  - { name: late, domains: [late.example.com], deploy: [reload, good] }
  - { name: right, domains: [ok.example.com], deploy: [good, reload] }
`);
  await writeFile(join(dir, 'kubeconfig'), 'apiVersion: v1\n');
  const issues = await crossPluginIssues(config);
  assert.deepEqual(issues.map((i) => i.path), ['certificates[0].deploy[1]', 'certificates[1].deploy[0]']);
  assert.match(issues[0]?.message ?? '', /reads Secret "www-tls", which no kubernetes-secret deployer before it in this chain writes \("secret" writes "other"\)/);
  assert.deepEqual(await crossPluginIssues(config, config.certificates[2]), [], 'only the certificate\'s own plug-ins count');
});

void test('a missing secretFile, passwordFile, caFile or kubeconfig is named before any order', async () => {
  const { config } = await load(`
solvers:
  dns: { type: rfc2136, server: 127.0.0.1, keyName: k, secretFile: tsig.key }
  pods: { type: redis, url: "rediss://127.0.0.1:6380", passwordFile: redis.pass, tls: { caFile: redis-ca.pem } }
deployers:
  secret: { type: kubernetes-secret, kubeconfig: nowhere/kubeconfig, secretName: www-tls }
certificates:
  - { name: a, domains: [a.example.com], solver: dns }
  - { name: b, domains: [b.example.com], solver: pods, deploy: [secret] }
`);
  const issues = await crossPluginIssues(config);
  assert.deepEqual(issues.map((i) => i.path).sort(), ['deployers.secret.kubeconfig', 'solvers.dns.secretFile', 'solvers.pods.passwordFile', 'solvers.pods.tls.caFile']);
  assert.ok(issues.every((i) => /cannot read \/.+ \(ENOENT\); check the path/.test(i.message)), JSON.stringify(issues));
  assert.deepEqual((await crossPluginIssues(config, config.certificates[0])).map((i) => i.path), ['solvers.dns.secretFile']);
});

void test("config check names a notifier's missing urlFile, secretFile or passwordFile; a certificate's own check before its order does not", async () => {
  const { config } = await load(`
notifiers:
  chat: { type: webhook, urlFile: slack.url, secretFile: webhook.key }
  mail: { type: email, host: smtp.example.com, username: u, passwordFile: smtp.pass, from: a@example.com, to: [b@example.com] }
defaults: { notify: [chat, mail] }
certificates:
  - { name: a, domains: [a.example.com] }
`);
  const issues = await crossPluginIssues(config);
  assert.deepEqual(issues.map((i) => i.path).sort(), ['notifiers.chat.secretFile', 'notifiers.chat.urlFile', 'notifiers.mail.passwordFile']);
  assert.ok(issues.every((i) => /cannot read \/.+ \(ENOENT\); check the path/.test(i.message)), JSON.stringify(issues));
  assert.deepEqual(await crossPluginIssues(config, config.certificates[0]), [], 'a notifier never stops a renewal');
});

void test("config check names a webhook urlFile that does not hold an http(s) URL, without quoting it; a good one passes", async () => {
  const { dir, config } = await load(`
notifiers:
  chat: { type: webhook, urlFile: slack.url }
  ops: { type: webhook, urlFile: ops.url }
defaults: { notify: [chat, ops] }
certificates:
  - { name: a, domains: [a.example.com] }
`);
  await writeFile(join(dir, 'slack.url'), 'hooks.slack.com/services/T000/B000/XXXXsecretXXXX\n');
  await writeFile(join(dir, 'ops.url'), 'https://hooks.example.com/certpilot\n');
  const issues = await crossPluginIssues(config);
  assert.deepEqual(issues.map((i) => i.path), ['notifiers.chat.urlFile']);
  assert.match(issues[0]?.message ?? '', /does not hold an http\(s\) URL on one line/);
  assert.doesNotMatch(JSON.stringify(issues), /secret|slack\.com/, 'the file content is never quoted');
  assert.deepEqual(await crossPluginIssues(config, config.certificates[0]), [], 'a notifier never stops a renewal');
});

void test("a files deployer's owner or group that does not exist here is named before any order; existing names and numeric ids pass", async () => {
  const { config } = await load(`
deployers:
  vol: { type: files, dir: /srv/v, owner: nosuchuser-cp, group: root }
  ok: { type: files, dir: /srv/w, owner: root, group: 0 }
  grp: { type: files, dir: /srv/x, group: nosuchgroup-cp }
certificates:
  - { name: a, domains: [a.example.com], deploy: [vol] }
  - { name: b, domains: [b.example.com], deploy: [ok, grp] }
`);
  const issues = await crossPluginIssues(config);
  assert.deepEqual(issues.map((i) => i.path).sort(), ['deployers.grp.group', 'deployers.vol.owner']);
  assert.match(issues.find((i) => i.path === 'deployers.vol.owner')?.message ?? '', /no user named "nosuchuser-cp" on this machine/);
  assert.deepEqual((await crossPluginIssues(config, config.certificates[1])).map((i) => i.path), ['deployers.grp.group'], 'a certificate checks its own deployers');
});

void test("a files deployer's dir under a directory another user can write is named before any order, by the deployer's own rule; a dir the deploy would create safely passes and nothing is created", async () => {
  const root = await tempDir('certpilot-cross-dirs-');
  await mkdir(join(root, 'shared'), { mode: 0o755 });
  await chmod(join(root, 'shared'), 0o777);
  await mkdir(join(root, 'theirs'), { mode: 0o755 });
  await chown(join(root, 'theirs'), 4321, 4321).catch(() => undefined);
  await mkdir(join(root, 'private'), { mode: 0o755 });
  const { config } = await load(`
deployers:
  vol: { type: files, dir: "${root}/shared/certs/{name}" }
  other: { type: files, dir: ${root}/theirs/certs }
  fine: { type: files, dir: ${root}/private/new/deeper }
  allowed: { type: files, dir: ${root}/shared/x, allowSharedDir: true }
  loose: { type: files, dir: ${root}/private/loose, dirMode: "0777" }
certificates:
  - { name: a, domains: [a.example.com], deploy: [vol, fine, allowed] }
  - { name: b, domains: [b.example.com], deploy: [vol, loose, other] }
`);
  const issues = await crossPluginIssues(config);
  const ownedByOther = process.geteuid?.() === 0;
  assert.deepEqual(issues.map((i) => i.path).sort(), ['deployers.loose.dir', ...(ownedByOther ? ['deployers.other.dir'] : []), 'deployers.vol.dir']);
  const vol = issues.find((i) => i.path === 'deployers.vol.dir')?.message ?? '';
  assert.match(vol, new RegExp(`refusing to work in ${root}/shared: it is writable by every user \\(mode 0777\\)`));
  assert.match(vol, /set deployers\.vol\.allowSharedDir: true/);
  assert.equal(issues.filter((i) => i.path === 'deployers.vol.dir').length, 1, 'one issue for the shared parent, not one per certificate');
  if (ownedByOther) assert.match(issues.find((i) => i.path === 'deployers.other.dir')?.message ?? '', /it is owned by uid 4321/);
  assert.match(issues.find((i) => i.path === 'deployers.loose.dir')?.message ?? '', /refusing to create .*\/private\/loose: it would be writable by every user \(mode 0777\).*set deployers\.loose\.dirMode/);
  assert.deepEqual((await readdir(join(root, 'private'))).sort(), [], 'the check creates nothing');
  assert.deepEqual((await crossPluginIssues(config, config.certificates[0])).map((i) => i.path), ['deployers.vol.dir'], 'a certificate checks its own deployers');
});

void test('an rfc2136 secretFile that holds no TSIG secret (empty, mangled) is named without quoting it; a bare secret and a BIND key file pass', async () => {
  const { dir, config } = await load(`
solvers:
  empty: { type: rfc2136, server: 127.0.0.1, keyName: k, secretFile: empty.key }
  mangled: { type: rfc2136, server: 127.0.0.1, keyName: k, secretFile: mangled.key }
  bare: { type: rfc2136, server: 127.0.0.1, keyName: k, secretFile: bare.key }
  bind: { type: rfc2136, server: 127.0.0.1, keyName: k, secretFile: bind.key }
certificates:
  - { name: a, domains: [a.example.com], solver: empty }
  - { name: b, domains: [b.example.com], solver: mangled }
  - { name: c, domains: [c.example.com], solver: bare }
  - { name: d, domains: [d.example.com], solver: bind }
`);
  await writeFile(join(dir, 'empty.key'), '\n');
  await writeFile(join(dir, 'mangled.key'), 'NOT-A-SECRET!value\n');
  await writeFile(join(dir, 'bare.key'), 'c2VjcmV0\n');
  await writeFile(join(dir, 'bind.key'), 'key "k" {\n\talgorithm hmac-sha256;\n\tsecret "c2VjcmV0";\n};\n');
  const issues = await crossPluginIssues(config);
  assert.deepEqual(issues.map((i) => i.path).sort(), ['solvers.empty.secretFile', 'solvers.mangled.secretFile']);
  assert.match(issues.find((i) => i.path === 'solvers.empty.secretFile')?.message ?? '', /empty\.key holds no base64 TSIG secret \(it is empty\); write the `secret` of the key exactly as tsig-keygen printed it/);
  assert.ok(issues.every((i) => !i.message.includes('NOT-A-SECRET')), 'the file is never quoted');
  assert.deepEqual((await crossPluginIssues(config, config.certificates[1])).map((i) => i.path), ['solvers.mangled.secretFile'], 'the per-certificate check before the order too');
  assert.deepEqual(await crossPluginIssues(config, config.certificates[3]), []);
});

void test("a hook's program written as a path must be an executable file (a typo, a script without its execute bit, a directory); a bare name and a shell hook are not looked at", async () => {
  const { dir, config } = await load(`
deployers:
  typo: { type: hook, command: [./relaod.sh] }
  noexec: { type: hook, command: [./plain.sh, --now] }
  folder: { type: hook, command: [./scripts/] }
  good: { type: hook, command: [./reload.sh] }
  incwd: { type: hook, command: [./reload.sh], cwd: scripts }
  bare: { type: hook, command: [no-such-program-on-any-path] }
  shell: { type: hook, shell: true, command: "./relaod.sh && exit 0" }
certificates:
  - { name: a, domains: [a.example.com], deploy: [typo, noexec] }
  - { name: b, domains: [b.example.com], deploy: [folder, good, incwd, bare, shell] }
`);
  await writeFile(join(dir, 'reload.sh'), '#!/bin/sh\nexit 0\n', { mode: 0o755 });
  await writeFile(join(dir, 'plain.sh'), '#!/bin/sh\nexit 0\n', { mode: 0o644 });
  await mkdir(join(dir, 'scripts'));
  await writeFile(join(dir, 'scripts', 'reload.sh'), '#!/bin/sh\nexit 0\n', { mode: 0o755 });
  const issues = await crossPluginIssues(config);
  assert.deepEqual(issues.map((i) => i.path).sort(), ['deployers.folder.command[0]', 'deployers.noexec.command[0]', 'deployers.typo.command[0]']);
  const message = (p: string): string => issues.find((i) => i.path === p)?.message ?? '';
  assert.match(message('deployers.typo.command[0]'), /relaod\.sh does not exist; check the path/);
  assert.match(message('deployers.noexec.command[0]'), /plain\.sh is not executable: `chmod \+x .*plain\.sh`/);
  assert.match(message('deployers.folder.command[0]'), /is not a file/);
  assert.deepEqual((await crossPluginIssues(config, config.certificates[0])).map((i) => i.path).sort(), ['deployers.noexec.command[0]', 'deployers.typo.command[0]'], 'before the order of the certificate that uses them');
});

void test("a shell hook starting with an absolute path (a certbot --deploy-hook script) must name an executable file; other shell commands are left to the run", async () => {
  const dir0 = await tempDir('certpilot-shellhook-');
  const { config } = await load(`
deployers:
  gone: { type: hook, shell: true, command: "${dir0}/deploy-hook.sh" }
  noexec: { type: hook, shell: true, command: "${dir0}/plain.sh --now && systemctl reload nginx" }
  good: { type: hook, shell: true, command: "${dir0}/reload.sh; echo done" }
  quoted: { type: hook, shell: true, command: "'${dir0}/deploy-hook.sh'" }
  words: { type: hook, shell: true, command: "systemctl reload nginx" }
certificates:
  - { name: a, domains: [a.example.com], deploy: [gone, noexec, good, quoted, words] }
`);
  await writeFile(join(dir0, 'reload.sh'), '#!/bin/sh\nexit 0\n', { mode: 0o755 });
  await writeFile(join(dir0, 'plain.sh'), '#!/bin/sh\nexit 0\n', { mode: 0o644 });
  const issues = await crossPluginIssues(config);
  assert.deepEqual(issues.map((i) => i.path).sort(), ['deployers.gone.command', 'deployers.noexec.command']);
  assert.match(issues.find((i) => i.path === 'deployers.gone.command')?.message ?? '', /deploy-hook\.sh does not exist; check the path/);
  assert.match(issues.find((i) => i.path === 'deployers.noexec.command')?.message ?? '', /plain\.sh is not executable \(the shell would fail with exit 126\): `chmod \+x /);
  assert.deepEqual((await crossPluginIssues(config, config.certificates[0])).map((i) => i.path).sort(), ['deployers.gone.command', 'deployers.noexec.command'], 'before the order too');
});

void test('an rfc2136 zone that does not hold a name it proves is named (followCname off: no lookup); a parent zone passes', async () => {
  const { dir, config } = await load(`
solvers:
  dns: { type: rfc2136, server: 127.0.0.1, keyName: k, secretFile: tsig.key, zone: other.test, followCname: false }
  good: { type: rfc2136, server: 127.0.0.1, keyName: k, secretFile: tsig.key, zone: Example.TEST., followCname: false }
certificates:
  - { name: a, domains: [dev.example.test, "*.dev.example.test"], solver: dns }
  - { name: b, domains: [www.example.test, example.test], solver: good }
`);
  await writeFile(join(dir, 'tsig.key'), 'c2VjcmV0\n');
  const issues = await crossPluginIssues(config);
  assert.deepEqual(issues.map((i) => i.path), ['solvers.dns.zone'], 'one issue for the name and its wildcard');
  assert.match(issues[0]?.message ?? '', /zone "other\.test" does not hold dev\.example\.test \(certificate a\): its TXT record _acme-challenge\.dev\.example\.test is outside that zone; set zone to the zone that holds the name/);
  assert.deepEqual((await crossPluginIssues(config, config.certificates[0])).map((i) => i.path), ['solvers.dns.zone'], 'the per-certificate check before the order too');
  assert.deepEqual(await crossPluginIssues(config, config.certificates[1]), []);
});

void test('two certificates whose files deployers resolve to one directory are named with the fix; {name} or separate dirs pass', async () => {
  const { dir, config } = await load(`
deployers:
  volume: { type: files, dir: shared/ }
  same: { type: files, dir: ./x/../shared }
  each: { type: files, dir: "certs/{name}" }
  fixed: { type: files, dir: certs/api }
certificates:
  - { name: dev, domains: [dev.example.com], deploy: [volume] }
  - { name: api, domains: [api.example.com], deploy: [same] }
  - { name: web, domains: [web.example.com], deploy: [each] }
  - { name: api2, domains: [api2.example.com], deploy: [each] }
`);
  const issues = await crossPluginIssues(config);
  assert.deepEqual(issues.map((i) => i.path), ['certificates[1].deploy[0]']);
  assert.match(issues[0]?.message ?? '', new RegExp(`certificates "dev" and "api" both deploy into ${join(dir, 'shared')} \\(files deployers "volume" and "same"\\).*put \\{name\\} in dir \\(e\\.g\\. ${join(dir, '{name}')}\\).*or give each certificate its own files deployer with its own dir`));
  // Each certificate's own check before its order names the clash it is in, and only that.
  assert.equal((await crossPluginIssues(config, config.certificates[0])).length, 1);
  assert.deepEqual(await crossPluginIssues(config, config.certificates[2]), []);

  // {name} filled in can meet a fixed dir: certs/{name} for "api" is certs/api.
  const { config: c2 } = await load(`
deployers:
  each: { type: files, dir: "certs/{name}" }
  fixed: { type: files, dir: certs/api }
certificates:
  - { name: api, domains: [api.example.com], deploy: [each] }
  - { name: other, domains: [other.example.com], deploy: [fixed] }
  - { name: web, domains: [web.example.com], deploy: [each] }
`);
  const i2 = await crossPluginIssues(c2);
  assert.deepEqual(i2.map((i) => i.path), ['certificates[1].deploy[0]']);
  assert.match(i2[0]?.message ?? '', /certificates "api" and "other" both deploy into .*certs\/api/);

  // One deployer without {name} for two certificates: the deployer's dir is the field to fix.
  const { config: c3 } = await load(`
deployers:
  volume: { type: files, dir: shared }
certificates:
  - { name: dev, domains: [dev.example.com], deploy: [volume] }
  - { name: api, domains: [api.example.com], deploy: [volume] }
`);
  assert.deepEqual((await crossPluginIssues(c3)).map((i) => [i.path, /"dev" and "api".*\(files deployer "volume"\)/.test(i.message)]), [['deployers.volume.dir', true]]);
});
