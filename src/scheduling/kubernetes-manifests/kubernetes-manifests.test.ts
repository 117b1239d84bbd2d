import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';
import * as apps from 'kubernetes-models/apps/v1';
import * as batch from 'kubernetes-models/batch/v1';
import * as core from 'kubernetes-models/v1';
import * as networking from 'kubernetes-models/networking.k8s.io/v1';
import * as policy from 'kubernetes-models/policy/v1';
import * as rbac from 'kubernetes-models/rbac.authorization.k8s.io/v1';
import { main } from '../../cli/main.js';
import type { Output } from '../../cli/output.js';
import { loadConfig } from '../../config/load-config.js';
import { kubernetesNeeds, permissionsOf } from '../../plugins/platform-needs.js';
import { tempDir } from '../../testing/temp-dir.js';
import { deployedConfig } from './deployed-config.js';
import { scheduleFor } from './kubernetes-manifests.js';

const FIXTURES = new URL('../../../../src/scheduling/kubernetes-manifests/fixtures/', import.meta.url);
const fixture = (name: string): string => new URL(name, FIXTURES).pathname;
const SECRET_VALUES = [readFileSync(fixture('eab-hmac.key'), 'utf8').trim(), 'FIXTURE-REDIS-PASSWORD-must-never-appear'];

type Obj = { apiVersion: string; kind: string; metadata: { name: string; namespace: string }; [k: string]: unknown };

/** The OpenAPI model of each kind emitted (kubernetes-models: the Kubernetes OpenAPI schemas, validated with ajv). */
const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  'v1/ServiceAccount': core.ServiceAccount,
  'v1/ConfigMap': core.ConfigMap,
  'v1/PersistentVolumeClaim': core.PersistentVolumeClaim,
  'v1/Service': core.Service,
  'rbac.authorization.k8s.io/v1/Role': rbac.Role,
  'rbac.authorization.k8s.io/v1/RoleBinding': rbac.RoleBinding,
  'batch/v1/CronJob': batch.CronJob,
  'apps/v1/Deployment': apps.Deployment,
  'policy/v1/PodDisruptionBudget': policy.PodDisruptionBudget,
  'networking.k8s.io/v1/Ingress': networking.Ingress,
  'networking.k8s.io/v1/NetworkPolicy': networking.NetworkPolicy,
};

async function generate(args: string[], env: Record<string, string> = {}): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const output: Output = { out: (l) => out.push(l), err: (l) => err.push(l) };
  const code = await main(['kubernetes', 'manifests', '--config', fixture('certpilot.yaml'), '--image', 'registry.example.com/certpilot:1.0.0', ...args], env, output);
  return { code, out: out.join('\n'), err: err.join('\n') };
}

const parse = (text: string): Obj[] => parseAllDocuments(text).map((d) => d.toJS() as Obj).filter((o) => o !== null);

const MODES: Record<string, string[]> = {
  cronjob: ['--namespace', 'web'],
  'cronjob-pvc-serve': ['--namespace', 'web', '--state', 'pvc', '--serve'],
  daemon: ['--namespace', 'web', '--mode', 'daemon'],
};

for (const [mode, args] of Object.entries(MODES)) {
  void test(`manifests (${mode}) match the snapshot, and every object validates against the Kubernetes OpenAPI schema`, async () => {
    const { code, out, err } = await generate(args);
    assert.equal(code, 0, err);
    const snapshot = fixture(`${mode}.snapshot.yaml`);
    if (process.env.UPDATE_SNAPSHOTS === '1') writeFileSync(snapshot, `${out}\n`);
    assert.equal(`${out}\n`, readFileSync(snapshot, 'utf8'), `snapshot ${mode} changed: rerun with UPDATE_SNAPSHOTS=1 and review the diff`);
    const objects = parse(out);
    assert.ok(objects.length >= 6);
    for (const o of objects) {
      const Model = MODELS[`${o.apiVersion}/${o.kind}`];
      assert.ok(Model, `no schema for ${o.apiVersion} ${o.kind}`);
      assert.doesNotThrow(() => new Model(o as never).validate(), `${o.kind} ${o.metadata.name}`);
      assert.equal(o.metadata.namespace, 'web');
    }
  });
}

void test('the OpenAPI check fails on a wrong field (the validation is not hollow)', async () => {
  const { out } = await generate(MODES.cronjob ?? []);
  const cron = parse(out).find((o) => o.kind === 'CronJob') as Obj & { spec: { concurrencyPolicy: unknown } };
  cron.spec.concurrencyPolicy = 'Never';
  assert.throws(() => new batch.CronJob(cron as never).validate(), /concurrencyPolicy/);
});

void test('no secret value in any manifest, only references to Secrets the user creates; the notes say how to create them', async () => {
  for (const args of Object.values(MODES)) {
    const { out, err } = await generate(args);
    for (const value of SECRET_VALUES) {
      assert.ok(!out.includes(value), 'a secret value is in the manifests');
      assert.ok(!err.includes(value), 'a secret value is in the notes');
    }
    const objects = parse(out);
    assert.ok(!objects.some((o) => o.kind === 'Secret'), 'the generator writes no Secret');
    const config = String((objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'certpilot') as unknown as { data: Record<string, string> }).data['certpilot.yaml']);
    assert.match(config, /passwordFile: \/var\/run\/secrets\/certpilot\/certpilot-redis\/password/);
    assert.match(config, /hmacKeyFile: \/var\/run\/secrets\/certpilot\/certpilot-eab\/hmac-key/);
    assert.doesNotMatch(config, /^\s*(password|secret|hmacKey): *\S/m);
    assert.match(err, /kubectl -n web create secret generic certpilot-redis --from-file=password=FILE/);
  }
});

void test('the Role is exactly the rules the configured plug-ins declare (and kubernetes check asks about), each with a comment', async () => {
  const { out } = await generate(MODES.cronjob ?? []);
  const role = parse(out).find((o) => o.kind === 'Role') as Obj & { rules: { apiGroups: string[]; resources: string[]; verbs: string[]; resourceNames?: string[] }[] };
  const deployed = deployedConfig(readFileSync(fixture('certpilot.yaml'), 'utf8'), { name: 'certpilot', state: 'secret' });
  const config = await loadConfig({ file: fixture('certpilot.yaml'), text: deployed.platformText, env: {}, cwd: process.cwd() });
  const declared = permissionsOf(kubernetesNeeds(config).flatMap((n) => n.rules));
  const key = (p: object): string => JSON.stringify(p);
  assert.deepEqual(permissionsOf(role.rules).map(key).sort(), declared.map(key).sort());
  // Secrets and the Lease by name; pods/exec get and create; create never by name.
  assert.ok(role.rules.filter((r) => r.resources.includes('secrets')).every((r) => r.resourceNames !== undefined || r.verbs.every((v) => v === 'create' || v === 'list')));
  assert.deepEqual(role.rules.find((r) => r.resources.includes('pods/exec'))?.verbs, ['get', 'create']);
  assert.deepEqual(role.rules.find((r) => r.resources.includes('leases') && r.resourceNames)?.resourceNames, ['certpilot-www']);
  assert.ok(role.rules.every((r) => !r.resourceNames || !r.verbs.some((v) => v === 'create' || v === 'list')));
  const comments = out.slice(out.indexOf('kind: Role')).split('kind: RoleBinding')[0]?.match(/^ {2}# .+$/gm) ?? [];
  assert.equal(comments.length, role.rules.length);
  assert.ok(comments.some((c) => /deployer reload \(kubernetes-reload\).*WebSocket exec/.test(c)));
});

void test('the CronJob: hashed schedule, Forbid, deadlines, restricted pod (non-root, read-only root, no capabilities, RuntimeDefault), requests and limits', async () => {
  const { out } = await generate(MODES.cronjob ?? []);
  const cron = parse(out).find((o) => o.kind === 'CronJob') as unknown as batch.ICronJob;
  assert.equal(cron.spec.schedule, scheduleFor('web', 'certpilot'));
  assert.notEqual(scheduleFor('web', 'certpilot'), scheduleFor('staging', 'certpilot'));
  assert.match(cron.spec.schedule, /^\d{1,2} \d{1,2},\d{1,2} \* \* \*$/);
  assert.equal(cron.spec.concurrencyPolicy, 'Forbid');
  assert.ok((cron.spec.startingDeadlineSeconds ?? 0) > 0);
  const job = cron.spec.jobTemplate.spec;
  assert.ok(job && (job.activeDeadlineSeconds ?? 0) > 0 && job.backoffLimit !== undefined && (job.ttlSecondsAfterFinished ?? 0) > 0);
  const pod = job?.template.spec;
  assert.equal(pod?.securityContext?.runAsNonRoot, true);
  assert.equal(pod?.securityContext?.runAsUser, 65532);
  const c = pod?.containers[0];
  assert.deepEqual(c?.args, ['renew']);
  assert.equal(c?.securityContext?.readOnlyRootFilesystem, true);
  assert.deepEqual(c?.securityContext?.capabilities?.drop, ['ALL']);
  assert.equal(c?.securityContext?.seccompProfile?.type, 'RuntimeDefault');
  assert.ok(c?.resources?.requests?.memory && c.resources.limits?.memory);
  assert.deepEqual(c?.envFrom, [{ configMapRef: { name: 'certpilot-env' } }]);
  // --state secret: no volume for the state.
  assert.ok(!pod?.volumes?.some((v) => v.persistentVolumeClaim));
});

void test('--state pvc mounts a claim at the state directory; --serve adds the responder (2 replicas), Service, PDB, Ingress path and the apache line', async () => {
  const { out, err } = await generate(MODES['cronjob-pvc-serve'] ?? []);
  const objects = parse(out);
  assert.ok(objects.some((o) => o.kind === 'PersistentVolumeClaim' && o.metadata.name === 'certpilot-state'));
  const cron = objects.find((o) => o.kind === 'CronJob') as unknown as batch.ICronJob;
  assert.ok(cron.spec.jobTemplate.spec?.template.spec?.containers[0]?.volumeMounts?.some((m) => m.mountPath === '/var/lib/certpilot'));
  const serve = objects.find((o) => o.kind === 'Deployment' && o.metadata.name === 'certpilot-serve') as unknown as apps.IDeployment;
  assert.equal(serve.spec?.replicas, 2);
  assert.deepEqual(serve.spec?.template.spec?.containers[0]?.args, ['serve', '--listen', '0.0.0.0:8080', '--solver', 'redis']);
  assert.equal(serve.spec?.template.spec?.automountServiceAccountToken, false);
  const ingress = objects.find((o) => o.kind === 'Ingress') as unknown as networking.IIngress;
  assert.deepEqual(ingress.spec?.rules?.map((r) => r.host), ['www.example.com', 'example.com']);
  assert.ok(ingress.spec?.rules?.every((r) => r.http?.paths[0]?.path === '/.well-known/acme-challenge/'));
  assert.ok(objects.some((o) => o.kind === 'PodDisruptionBudget') && objects.some((o) => o.kind === 'Service'));
  const np = objects.find((o) => o.kind === 'NetworkPolicy') as unknown as networking.INetworkPolicy;
  assert.deepEqual(np.spec?.podSelector?.matchLabels, { app: 'apache' });
  assert.equal(np.spec?.ingress?.[0]?.ports?.[0]?.port, 443);
  assert.match(err, /ProxyPass \/\.well-known\/acme-challenge\/ http:\/\/certpilot-serve\.web\.svc\.cluster\.local\/\.well-known\/acme-challenge\//);
});

void test('--mode daemon: a Deployment running `certpilot daemon --listen` with probes on /healthz, two replicas with the Lease, never zero pods, the restricted pod', async () => {
  const { out, err } = await generate(MODES.daemon ?? []);
  const objects = parse(out);
  assert.ok(!objects.some((o) => o.kind === 'CronJob'));
  const d = objects.find((o) => o.kind === 'Deployment') as unknown as apps.IDeployment;
  const pod = d.spec?.template.spec;
  const c = pod?.containers[0];
  assert.deepEqual(c?.args, ['daemon', '--listen', '0.0.0.0:9464']);
  assert.deepEqual(c?.ports, [{ name: 'metrics', containerPort: 9464 }]);
  for (const probe of [c?.readinessProbe, c?.livenessProbe]) assert.deepEqual(probe?.httpGet, { path: '/healthz', port: 'metrics' });
  assert.equal(d.spec?.replicas, 2, 'two replicas: the config locker is the Lease, the state in Secrets');
  assert.deepEqual(d.spec?.strategy, { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } });
  assert.equal(d.metadata?.annotations, undefined, 'no prometheus.io annotations');
  assert.ok((pod?.terminationGracePeriodSeconds ?? 0) > 0);
  assert.deepEqual(c?.securityContext, { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, runAsNonRoot: true, capabilities: { drop: ['ALL'] }, seccompProfile: { type: 'RuntimeDefault' } });
  assert.ok(c?.resources?.requests && c.resources.limits);
  assert.match(String((d.spec?.template.metadata?.labels ?? {})['app.kubernetes.io/component']), /renewer/);
  assert.doesNotMatch(err, /does not have yet/, 'the daemon exists now');
  // --state pvc: the ReadWriteOnce claim is not shared across nodes, so one replica.
  const pvc = parse((await generate([...(MODES.daemon ?? []), '--state', 'pvc'])).out).find((o) => o.kind === 'Deployment') as unknown as apps.IDeployment;
  assert.equal(pvc.spec?.replicas, 1);
});

void test('-o DIR writes a kustomize directory that `kubectl kustomize` builds into the same objects', async () => {
  const dir = await tempDir();
  const { code, out: stream } = await generate(MODES['cronjob-pvc-serve'] ?? []);
  assert.equal(code, 0);
  const { code: code2, err } = await generate([...(MODES['cronjob-pvc-serve'] ?? []), '-o', join(dir, 'base')]);
  assert.equal(code2, 0, err);
  const files = await readdir(join(dir, 'base'));
  assert.ok(files.includes('kustomization.yaml'));
  for (const f of files) {
    const text = await readFile(join(dir, 'base', f), 'utf8');
    for (const value of SECRET_VALUES) assert.ok(!text.includes(value), `a secret value is in ${f}`);
  }
  const { stdout } = await promisify(execFile)('kubectl', ['kustomize', join(dir, 'base')]);
  const key = (o: Obj): string => `${o.kind}/${o.metadata.namespace}/${o.metadata.name}`;
  const built = parse(stdout);
  assert.deepEqual(built.map(key).sort(), parse(stream).map(key).sort());
  const role = (objs: Obj[]) => objs.find((o) => o.kind === 'Role');
  assert.deepEqual(role(built), role(parse(stream)));
});

void test('a configuration the cluster setup cannot honour fails naming the field and the fix', async () => {
  const dir = await tempDir();
  const text = await readFile(fixture('certpilot.yaml'), 'utf8');
  // [the section to add an instance to (or none: top-level keys), the text, what the error names]
  for (const [section, extra, field] of [
    [null, 'locker:\n  type: file\n', /locker: is type file/],
    [null, 'stateStore:\n  type: filesystem\n', /stateStore: is type filesystem, but --state secret/],
    ['deployers', '  hooked:\n    type: hook\n    command: [/bin/true]\n    env: { API_TOKEN: s3cr3t-value }\n', /deployers\.hooked\.env: its values may be secrets/],
    // A password inside a URL, in a field of any name and in a list: never copied into the ConfigMap.
    ['solvers', '  inline:\n    type: redis\n    url: "redis://:INLINE-PW-must-never-appear@redis:6379"\n', /solvers\.inline\.url: holds a credential/],
    ['deployers', '  curl:\n    type: hook\n    command: [curl, "https://ops:INLINE-PW-must-never-appear@reload.example.com/"]\n', /deployers\.curl\.command\[1\]: holds a credential/],
    ['deployers', '  db:\n    type: hook\n    command: [sh, -c, "PGPASSWORD=INLINE-PW-must-never-appear psql -c reload"]\n', /deployers\.db\.command\[2\]: holds a credential/],
    ['deployers', '  my:\n    type: hook\n    command: [mysql, "--password=INLINE-PW-must-never-appear"]\n', /deployers\.my\.command\[1\]: holds a credential/],
  ] as const) {
    const base = text.replace(/caBundle: private-ca.pem/, `caBundle: ${fixture('private-ca.pem')}`).replace('hmacKeyFile: eab-hmac.key', `hmacKeyFile: ${fixture('eab-hmac.key')}`);
    await writeFile(join(dir, 'c.yaml'), section !== null ? base.replace(`${section}:\n`, `${section}:\n${extra}`) : `${base}${extra}`);
    const errs: string[] = [];
    const code = await main(['kubernetes', 'manifests', '--config', join(dir, 'c.yaml')], {}, { out: () => {}, err: (l) => errs.push(l) });
    assert.equal(code, 2, 'a configuration error');
    assert.match(errs.join('\n'), field);
    assert.match(errs.join('\n'), /ERR_MANIFESTS_CONFIG|hint/i);
    assert.doesNotMatch(errs.join('\n'), /INLINE-PW/, 'the password is not printed');
  }
});

void test('a reload reading a Secret no deployer writes is refused as config check refuses it, not copied into the Role', async () => {
  const dir = await tempDir();
  const text = (await readFile(fixture('certpilot.yaml'), 'utf8'))
    .replace(/caBundle: private-ca.pem/, `caBundle: ${fixture('private-ca.pem')}`)
    .replace('hmacKeyFile: eab-hmac.key', `hmacKeyFile: ${fixture('eab-hmac.key')}`);
  const typo = text.replace('    secretName: www-tls\n    groups:', '    secretName: ww-tls\n    groups:');
  assert.notEqual(typo, text, 'the fixture has the reload this test misspells');
  await writeFile(join(dir, 'c.yaml'), typo);
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(['kubernetes', 'manifests', '--config', join(dir, 'c.yaml')], {}, { out: (l) => out.push(l), err: (l) => err.push(l) });
  assert.equal(code, 2, 'a configuration error');
  assert.match(err.join('\n'), /certificates\[0\]\.deploy\[\d\]: kubernetes-reload "reload" reads Secret "ww-tls", which no kubernetes-secret deployer before it in this chain writes/);
  assert.equal(out.join(''), '', 'no manifests printed');
});

void test('a configuration reading ${VARIABLES} keeps them, and the notes say each must reach the pods', async () => {
  const dir = await tempDir();
  await writeFile(join(dir, 'c.yaml'), 'acme: { email: ops@example.com }\ncertificates:\n  - name: www\n    domains: ["${WWW_SERVER_NAME}", "${WWW_SERVER_ALIASES[]}"]\n');
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(['kubernetes', 'manifests', '--config', join(dir, 'c.yaml')], { WWW_SERVER_NAME: 'www.example.com' }, { out: (l) => out.push(l), err: (l) => err.push(l) });
  assert.equal(code, 0, err.join('\n'));
  assert.match(out.join('\n'), /\$\{WWW_SERVER_NAME\}/, 'the reference stays in the ConfigMap, not its value');
  assert.doesNotMatch(out.join('\n'), /www\.example\.com/);
  assert.match(err.join('\n'), /reads \$\{WWW_SERVER_NAME\}, \$\{WWW_SERVER_ALIASES\}: add each to ConfigMap certpilot-env/);
});

void test('notifiers (a row of the table of kinds): the webhook URL and key and the SMTP password become Secret files, the CA is copied, no value anywhere', async () => {
  const dir = await tempDir();
  const text = (await readFile(fixture('certpilot.yaml'), 'utf8'))
    .replace(/caBundle: private-ca.pem/, `caBundle: ${fixture('private-ca.pem')}`)
    .replace('hmacKeyFile: eab-hmac.key', `hmacKeyFile: ${fixture('eab-hmac.key')}`);
  const notifiers = [
    'notifiers:',
    // A Slack-style URL: its path is the credential.
    '  chat: { type: webhook, url: "https://hooks.example.com/services/T0/B0/URL-PATH-must-never-appear", secretFile: ./webhook.key, caFile: ' + fixture('private-ca.pem') + ' }',
    '  mail: { type: email, host: smtp.example.com, username: certpilot, passwordFile: ./smtp.password, from: certpilot@example.com, to: [ops@example.com] }',
    '',
  ].join('\n');
  await writeFile(join(dir, 'c.yaml'), text.replace('defaults:\n', `${notifiers}defaults:\n  notify: [chat, mail]\n`));
  await writeFile(join(dir, 'webhook.key'), 'WEBHOOK-HMAC-KEY-must-never-appear\n');
  await writeFile(join(dir, 'smtp.password'), 'SMTP-PASSWORD-must-never-appear\n');
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(['kubernetes', 'manifests', '--config', join(dir, 'c.yaml'), '--namespace', 'web'], {}, { out: (l) => out.push(l), err: (l) => err.push(l) });
  assert.equal(code, 0, err.join('\n'));
  const all = `${out.join('\n')}\n${err.join('\n')}`;
  assert.doesNotMatch(all, /must-never-appear/);
  const objects = parse(out.join('\n'));
  const cm = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'certpilot') as unknown as { data: Record<string, string> };
  const config = String(cm.data['certpilot.yaml']);
  assert.match(config, /secretFile: \/var\/run\/secrets\/certpilot\/certpilot-chat\/secret/);
  assert.match(config, /urlFile: \/var\/run\/secrets\/certpilot\/certpilot-chat\/url/);
  assert.match(config, /passwordFile: \/var\/run\/secrets\/certpilot\/certpilot-mail\/password/);
  assert.match(config, /caFile: \/etc\/certpilot\/notifiers-chat-cafile\.pem/);
  assert.ok(cm.data['notifiers-chat-cafile.pem']?.includes('BEGIN CERTIFICATE'), 'the receiver\'s CA is copied into the ConfigMap');
  const job = JSON.stringify(objects.find((o) => o.kind === 'CronJob'));
  assert.match(job, /"secretName":"certpilot-chat"/);
  assert.match(job, /"secretName":"certpilot-mail"/);
  assert.match(err.join('\n'), /create secret generic certpilot-chat (--from-file=\S+ )*--from-file=secret=FILE/);
  assert.match(err.join('\n'), /create secret generic certpilot-chat (--from-file=\S+ )*--from-file=url=FILE/);
  assert.match(err.join('\n'), /create secret generic certpilot-mail --from-file=password=FILE/);
});

void test('state in Secrets of the namespace that holds the deployer\'s Secret: a warning on stderr names the risk and the fix; a namespace of its own, none', async () => {
  const { code, out, err } = await generate(MODES.cronjob ?? []);
  assert.equal(code, 0, err);
  assert.match(err, /^kubernetes manifests: warning: state store may list Secrets in namespace web, and a list returns every Secret's data, including "www-tls" \(deployer secret, deployer reload\).*set `stateStore\.namespace`/m);
  assert.match(out, /WARNING: state store may list Secrets in namespace web/, 'the Role\'s comment says so too');
  const dir = await tempDir();
  const text = (await readFile(fixture('certpilot.yaml'), 'utf8'))
    .replace(/caBundle: private-ca.pem/, `caBundle: ${fixture('private-ca.pem')}`)
    .replace('hmacKeyFile: eab-hmac.key', `hmacKeyFile: ${fixture('eab-hmac.key')}`);
  await writeFile(join(dir, 'c.yaml'), `${text}stateStore:\n  type: kubernetes-secret\n  namespace: certpilot\n`);
  const out2: string[] = [];
  const err2: string[] = [];
  assert.equal(await main(['kubernetes', 'manifests', '--config', join(dir, 'c.yaml'), '--namespace', 'web'], {}, { out: (l) => out2.push(l), err: (l) => err2.push(l) }), 0, err2.join('\n'));
  assert.doesNotMatch(err2.join('\n'), /warning/);
  const roles = parse(out2.join('\n')).filter((o) => o.kind === 'Role') as (Obj & { rules: { resources: string[]; verbs: string[]; resourceNames?: string[] }[] })[];
  assert.deepEqual(roles.map((r) => r.metadata.namespace).sort(), ['certpilot', 'web']);
  // In web, only the deployers' rules: no list of Secrets; the deployer's create stays (its first deploy).
  const web = roles.find((r) => r.metadata.namespace === 'web');
  assert.ok(web?.rules.every((r) => !r.resources.includes('secrets') || !r.verbs.includes('list')));
  assert.ok(web?.rules.some((r) => r.resources.includes('secrets') && r.verbs.includes('create') && !r.resourceNames));
});

void test('an unset ${VARIABLE} does not stop the generation; a derived object that would need its value is left without it, with a warning', async () => {
  const dir = await tempDir();
  await writeFile(
    join(dir, 'c.yaml'),
    'acme: { email: ops@example.com }\nsolvers:\n  pods: { type: redis, url: "redis://redis:6379" }\ncertificates:\n  - name: www\n    domains: ["${WWW_SERVER_NAME}", static.example.com]\n    solver: pods\n',
  );
  for (const env of [{}, { WWW_SERVER_NAME: 'local.example.org' }]) {
    const out: string[] = [];
    const err: string[] = [];
    const code = await main(['kubernetes', 'manifests', '--config', join(dir, 'c.yaml'), '--namespace', 'web', '--serve'], env, { out: (l) => out.push(l), err: (l) => err.push(l) });
    assert.equal(code, 0, err.join('\n'));
    const objects = parse(out.join('\n'));
    const ingress = objects.find((o) => o.kind === 'Ingress') as unknown as networking.IIngress;
    assert.deepEqual(ingress.spec?.rules?.map((r) => r.host), ['static.example.com'], 'no local value, no placeholder in the Ingress');
    assert.doesNotMatch(out.join('\n'), /local\.example\.org|pod-env\.invalid/);
    assert.match(out.join('\n'), /\$\{WWW_SERVER_NAME\}/, 'the ConfigMap keeps the reference');
    assert.match(err.join('\n'), /warning: certificate www: a name of it is \$\{WWW_SERVER_NAME\}, known only in the pods: the Ingress certpilot-serve has no rule for it/);
  }
});

void test('a solver that answers from the certpilot pod itself (standalone, tls-alpn, webroot) is named in a warning with the fix', async () => {
  const dir = await tempDir();
  await writeFile(join(dir, 'c.yaml'), 'acme: { email: ops@example.com }\nsolvers:\n  web: { type: standalone, port: 80 }\n  files: { type: webroot, path: /var/www/html }\n  unused: { type: tls-alpn }\ncertificates:\n  - { name: a, domains: [a.example.com], solver: web }\n  - { name: b, domains: [b.example.com], solver: files }\n');
  const err: string[] = [];
  const code = await main(['kubernetes', 'manifests', '--config', join(dir, 'c.yaml')], {}, { out: () => {}, err: (l) => err.push(l) });
  assert.equal(code, 0, err.join('\n'));
  const text = err.join('\n');
  assert.match(text, /warning: solvers\.web: type standalone answers from a listener in the certpilot pod, which the CA's connections to port 80 of the names never reach .*use a redis solver with --serve/);
  assert.match(text, /warning: solvers\.files: type webroot writes token files under \/var\/www\/html in the certpilot pod, whose root is read-only/);
  assert.doesNotMatch(text, /solvers\.unused/, 'a solver no certificate uses is not named');
});

void test('${POD_NAME} (the Lease identity of docs/kubernetes.md) comes from the downward API on every container, and the notes do not send it to a ConfigMap', async () => {
  const dir = await tempDir();
  await writeFile(join(dir, 'c.yaml'), 'acme: { email: ops@example.com }\nsolvers: { pods: { type: redis, url: "redis://redis:6379" } }\nlocker: { type: lease, identity: "${POD_NAME}" }\ncertificates: [{ name: www, domains: [www.example.com], solver: pods }]\n');
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(['kubernetes', 'manifests', '--config', join(dir, 'c.yaml')], {}, { out: (l) => out.push(l), err: (l) => err.push(l) });
  assert.equal(code, 0, err.join('\n'));
  const objects = parseAllDocuments(out.join('\n')).map((d) => d.toJS() as Obj).filter(Boolean);
  const job = objects.find((o) => o.kind === 'CronJob') as unknown as { spec: { jobTemplate: { spec: { template: { spec: { containers: { env?: unknown[] }[] } } } } } };
  assert.deepEqual(job.spec.jobTemplate.spec.template.spec.containers[0]?.env, [
    { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
    { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
  ]);
  assert.doesNotMatch(err.join('\n'), /POD_NAME/, 'no note to add it to a ConfigMap');
});

void test('a secret field written as ${VARIABLE} and unset here does not stop the generator: it becomes a Secret file, and no note sends it to a ConfigMap', async () => {
  const dir = await tempDir();
  await writeFile(join(dir, 'c.yaml'), 'acme: { email: ops@example.com }\nsolvers: { pods: { type: redis, url: "redis://redis:6379", password: "${REDIS_PASSWORD}" } }\ncertificates: [{ name: www, domains: [www.example.com], solver: pods }]\n');
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(['kubernetes', 'manifests', '--config', join(dir, 'c.yaml')], {}, { out: (l) => out.push(l), err: (l) => err.push(l) });
  assert.equal(code, 0, err.join('\n'));
  assert.match(out.join('\n'), /passwordFile: \/var\/run\/secrets\/certpilot\/certpilot-pods\/password/);
  assert.doesNotMatch(out.join('\n') + err.join('\n'), /REDIS_PASSWORD|pod-env\.invalid/);
});
