// `config check` and `kubernetes manifests` on the rough edges new users met: a ${VARIABLE} in a
// number or boolean field, the namespace of a kubernetes-secret state store with none configured,
// and a files deployer whose dir another user can write — each named before any order.
import assert from 'node:assert/strict';
import { chmod, mkdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { runCli, tempDir } from '../harness/certpilot.js';

void test('a ${VAR} in a number or boolean field: manifests leave it to the pods; config check reads its value, and names the variable (not its value) when it is not one', async () => {
  const dir = await tempDir();
  const config = join(dir, 'certpilot.yaml');
  await writeFile(
    config,
    `stateDir: ./state
acme: { directoryUrl: letsencrypt-staging, email: admin@example.com, termsOfServiceAgreed: true }
solvers:
  pods: { type: redis, url: "redis://redis:6379", db: "\${REDIS_DB}" }
deployers:
  reload: { type: hook, command: ["true"], timeoutSeconds: "\${HOOK_TIMEOUT}" }
certificates:
  - { name: www, domains: [www.example.com], solver: pods, deploy: [reload] }
`,
  );
  const manifests = await runCli(['kubernetes', 'manifests', '--config', config], { cwd: dir });
  assert.equal(manifests.code, 0, manifests.stderr);
  assert.match(manifests.stdout, /timeoutSeconds: "\$\{HOOK_TIMEOUT\}"/, 'the ConfigMap keeps the reference for the pods');
  assert.match(manifests.stderr, /deployers\.reload\.timeoutSeconds is \$\{HOOK_TIMEOUT\}, a value of the pods/);
  assert.match(manifests.stderr, /solvers\.pods\.db is \$\{REDIS_DB\}/);

  // What the pods' loader does with the ConfigMap's file: the variables' values, read as numbers.
  const good = await runCli(['config', 'check', '--config', config, '--json'], { cwd: dir, env: { HOOK_TIMEOUT: '45', REDIS_DB: '2' } });
  assert.equal(good.code, 0, good.stderr);
  const resolved = JSON.parse(good.stdout) as { deployers: { reload: { options: { timeoutSeconds: unknown } } }; solvers: { pods: { options: { db: unknown } } } };
  assert.equal(resolved.deployers.reload.options.timeoutSeconds, 45);
  assert.equal(resolved.solvers.pods.options.db, 2);

  // On this machine, as strict as before with a bad value: exit 2 naming the field and the variable.
  const bad = await runCli(['config', 'check', '--config', config], { cwd: dir, env: { HOOK_TIMEOUT: 'two-minutes', REDIS_DB: '2' } });
  assert.equal(bad.code, 2, bad.stderr);
  assert.match(bad.stderr, /deployers\.reload\.timeoutSeconds: must be a number, and the value of \$\{HOOK_TIMEOUT\} is not one/);
  assert.ok(!bad.stderr.includes('two-minutes'), 'the value itself is not echoed');
  const unset = await runCli(['config', 'check', '--config', config], { cwd: dir, env: { REDIS_DB: '2' } });
  assert.equal(unset.code, 2);
  assert.match(unset.stderr, /HOOK_TIMEOUT is not set/);
});

const KUBECONFIG = (namespace: string | undefined): string => `apiVersion: v1
kind: Config
current-context: dev
clusters: [{ name: dev, cluster: { server: "https://127.0.0.1:1" } }]
users: [{ name: dev, user: { token: not-a-real-token } }]
contexts:
  - { name: dev, context: { cluster: dev, user: dev${namespace ? `, namespace: ${namespace}` : ''} } }
  - { name: other, context: { cluster: dev, user: dev, namespace: other-ns } }
`;

void test('config check prints the namespace a kubernetes-secret state store with none configured will use, and where it comes from, as kubernetes check reads it', async () => {
  const dir = await tempDir();
  const config = join(dir, 'certpilot.yaml');
  await writeFile(join(dir, 'kubeconfig'), KUBECONFIG('web'));
  await writeFile(join(dir, 'kubeconfig-plain'), KUBECONFIG(undefined));
  await mkdir(join(dir, 'sa'));
  await writeFile(join(dir, 'sa', 'namespace'), 'apps\n');
  const write = (store: string): Promise<void> =>
    writeFile(config, `stateDir: ./state\nstateStore: { type: kubernetes-secret${store} }\nacme: { directoryUrl: letsencrypt-staging, email: admin@example.com, termsOfServiceAgreed: true }\n`);
  const stateLine = async (env: Record<string, string> = {}): Promise<string> => {
    const r = await runCli(['config', 'check', '--config', config], { cwd: dir, env });
    assert.equal(r.code, 0, r.stderr);
    return r.stdout.split('\n').find((l) => l.startsWith('state')) ?? '';
  };

  await write('');
  assert.match(await stateLine({ KUBECONFIG: join(dir, 'kubeconfig') }), /in namespace web \(context dev of \$KUBECONFIG .*kubeconfig\)/);
  assert.match(await stateLine({ KUBECONFIG: join(dir, 'kubeconfig-plain') }), /in namespace default \(context dev of \$KUBECONFIG .*kubeconfig-plain names none\)/);
  await write(', kubeconfig: ./kubeconfig, context: other');
  assert.match(await stateLine(), /in namespace other-ns \(context other of kubeconfig \.\/kubeconfig\)/);
  await write(', serviceAccountDir: ./sa');
  assert.match(await stateLine(), /in namespace apps \(the service account \(.*\/sa\/namespace\)\)/);
  await write(', serviceAccountDir: ./no-such-dir');
  assert.match(await stateLine(), /in the namespace of the pod's service account \(read in the pod from \.\/no-such-dir\/namespace; no kubeconfig or \$KUBECONFIG here/);
  await write(', namespace: fixed');
  assert.match(await stateLine({ KUBECONFIG: join(dir, 'kubeconfig') }), /in namespace fixed;/);
  assert.doesNotMatch(await stateLine({ KUBECONFIG: join(dir, 'kubeconfig') }), /\(default\)/);
});

void test('config check names a files deployer whose dir sits under a directory every user can write (exit 2), before any order; allowSharedDir or a safe parent passes', async () => {
  const dir = await tempDir();
  await mkdir(join(dir, 'shared'));
  await chmod(join(dir, 'shared'), 0o777);
  const config = join(dir, 'certpilot.yaml');
  const write = (options: string): Promise<void> =>
    writeFile(
      config,
      `stateDir: ./state
acme: { directoryUrl: letsencrypt-staging, email: admin@example.com, termsOfServiceAgreed: true }
deployers:
  volume: { type: files, ${options} }
certificates:
  - { name: www, domains: [www.example.com], deploy: [volume] }
`,
    );
  await write('dir: ./shared/volume');
  const shared = await runCli(['config', 'check', '--config', config], { cwd: dir });
  assert.equal(shared.code, 2, shared.stderr);
  assert.match(shared.stderr, /deployers\.volume\.dir: refusing to work in .*\/shared: it is writable by every user \(mode 0777\).*allowSharedDir: true/);
  await write('dir: ./shared/volume, allowSharedDir: true');
  assert.equal((await runCli(['config', 'check', '--config', config], { cwd: dir })).code, 0);
  await write('dir: ./private/volume');
  const fine = await runCli(['config', 'check', '--config', config], { cwd: dir });
  assert.equal(fine.code, 0, fine.stderr);
  await assert.rejects(stat(join(dir, 'private')), /ENOENT/, 'config check creates nothing');
});
