// The Roles printed in docs/kubernetes.md are exactly enough: every Kubernetes plug-in (the Secret,
// a command reload, a rollout-restart reload, the lease locker) runs on the stand-in with the rules
// parsed from the page's Role blocks, as Kubernetes 1.35 authorizes exec and as 1.30–1.34 did; and
// `certpilot kubernetes check` says so. With the deck's Role (`create` only on pods/exec) the check
// names the missing `get` before any order, and the reload's own error names it too.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseAllDocuments } from 'yaml';
import type { LeaseLock } from '../../src/coordination/lease/lease-locker.js';
import { CertpilotError } from '../../src/errors.js';
import { silentLogger } from '../../src/logger.js';
import { loadConfig } from '../../src/config/load-config.js';
import { kubernetesNeeds } from '../../src/plugins/platform-needs.js';
import { findPlugin } from '../../src/plugins/registry.js';
import { repoRoot, runCli, tempDir } from '../harness/certpilot.js';
import { standinFor } from '../harness/kube-standin.js';
import { makeDeployer, reloadOptions } from '../harness/kube-deployers.js';
import { requireApache, startStandinWithPods, storedCertificate } from '../harness/kube-fixtures.js';
import type { KubeStandin, StandinRule } from '../harness/kube-standin.js';

interface Role {
  kind: string;
  metadata: { name: string };
  rules: { apiGroups: string[]; resources: string[]; verbs: string[]; resourceNames?: string[] }[];
}

function documentedRoles(): Map<string, StandinRule[]> {
  const page = readFileSync(join(repoRoot, 'docs', 'kubernetes.md'), 'utf8');
  const roles = new Map<string, StandinRule[]>();
  for (const block of page.matchAll(/```yaml\n([\s\S]*?)```/g)) {
    for (const doc of parseAllDocuments(block[1] ?? '')) {
      const role = doc.toJS() as Role | null;
      if (role?.kind !== 'Role') continue;
      roles.set(role.metadata.name, role.rules.map((r) => ({ apiGroups: r.apiGroups, verbs: r.verbs, resources: r.resources, ...(r.resourceNames ? { resourceNames: r.resourceNames } : {}) })));
    }
  }
  return roles;
}

/** The deck's single Role: pods get/list, pods/exec create (kubectl's SPDY POST), the Secret get/patch. */
const DECK_ROLE: StandinRule[] = [
  { apiGroups: [''], verbs: ['get', 'list'], resources: ['pods'] },
  { apiGroups: [''], verbs: ['create'], resources: ['pods/exec'] },
  { apiGroups: [''], verbs: ['get', 'patch'], resources: ['secrets'], resourceNames: ['www-certificate'] },
];

/** A configuration like the docs' example (both deployers, the lease locker), aimed at the stand-in. */
async function exampleConfig(standin: KubeStandin): Promise<string> {
  const dir = await tempDir();
  const kubeconfig = await standin.writeKubeconfig();
  const file = join(dir, 'certpilot.yaml');
  const config = {
    stateDir: join(dir, 'state'),
    deployers: {
      secret: { type: 'kubernetes-secret', kubeconfig, secretName: 'www-certificate' },
      reload: {
        type: 'kubernetes-reload',
        kubeconfig,
        secretName: 'www-certificate',
        groups: [
          { name: 'www', selector: 'app=www', container: 'apache', command: ['apachectl', 'graceful'] },
          { name: 'xmpp', selector: 'app=mongooseim', rolloutRestart: { kind: 'Deployment', name: 'mongooseim' } },
        ],
      },
    },
    locker: { type: 'lease', kubeconfig },
    certificates: [{ name: 'www', domains: ['www.example.test'], deploy: ['secret', 'reload'] }],
  };
  await writeFile(file, JSON.stringify(config)); // JSON is YAML
  return file;
}

async function leaseLock(standin: KubeStandin): Promise<LeaseLock | undefined> {
  const plugin = findPlugin('lease');
  assert.ok(plugin);
  const locker = (await plugin.create(plugin.schema.parse({ kubeconfig: await standin.writeKubeconfig() }), { name: 'locker', logger: silentLogger, clock: { now: () => new Date(), sleep: async () => undefined }, baseDir: standin.dir, stateDir: standin.dir })) as {
    acquire(n: string, o: { ttlSeconds: number }): Promise<LeaseLock | undefined>;
  };
  return locker.acquire('www', { ttlSeconds: 60 });
}

for (const execRequiresCreate of [true, false]) {
  const version = execRequiresCreate ? 'Kubernetes 1.35+ (exec needs get and create)' : 'Kubernetes 1.30–1.34 (exec needs get)';
  void test(`the Roles in docs/kubernetes.md let every Kubernetes plug-in run, and kubernetes check agrees: ${version}`, { timeout: 120_000 }, async (t) => {
    if (!requireApache(t)) return;
    const roles = documentedRoles();
    const wanted = ['certpilot-secret', 'certpilot-reload', 'certpilot-lease'];
    assert.deepEqual(wanted.filter((r) => !roles.has(r)), [], `Roles found: ${[...roles.keys()].join(', ')}`);
    const rules = wanted.flatMap((r) => roles.get(r) ?? []);
    const standin = await startStandinWithPods({ pods: 1, initial: storedCertificate(1), projectionDelayMs: () => 100, rules, execRequiresCreate });
    try {
      standin.putWorkload('Deployment', 'mongooseim', { app: 'mongooseim' });
      await standin.addPod({ name: 'mongooseim-5d4f8c9b7-aaaaa', labels: { app: 'mongooseim' }, secretName: 'www-certificate', owner: { kind: 'Deployment', name: 'mongooseim' } });

      const check = await runCli(['kubernetes', 'check', '--config', await exampleConfig(standin)]);
      assert.equal(check.code, 0, `${check.stdout}\n${check.stderr}`);
      assert.doesNotMatch(check.stdout, /MISSING/);
      assert.match(check.stdout, /ok +get pods\/exec +deployer reload/);
      assert.match(check.stdout, /ok +update leases\.coordination\.k8s\.io "certpilot-www" +locker/);

      const lock = await leaseLock(standin);
      assert.ok(lock, 'the lease locker takes its Lease');
      await lock.refresh();
      assert.equal(lock.lost.aborted, false);
      const v2 = storedCertificate(2);
      await (await makeDeployer('kubernetes-secret', standin, { secretName: 'www-certificate' })).deploy(v2, {});
      const reload = await makeDeployer('kubernetes-reload', standin, reloadOptions(standin));
      assert.match((await reload.deploy(v2, {})).message, /^1 pod\(s\) serve version 2/);
      const restart = await makeDeployer('kubernetes-reload', standin, reloadOptions(standin, {}, { name: 'xmpp', selector: 'app=mongooseim', command: undefined, rolloutRestart: { kind: 'Deployment', name: 'mongooseim' } }));
      const restarted = await restart.deploy(v2, {});
      assert.ok((restarted.details?.pods as { outcome: string }[]).every((p) => p.outcome === 'restarted'));
      await lock.release();
      assert.equal(standin.requests.filter((r) => r.status === 403).length, 0, 'not one request refused');

      // The same runs with only what the plug-ins declare (what `kubernetes check` asks about):
      // a call a plug-in forgot to declare would be refused here.
      const declared = kubernetesNeeds(await loadConfig({ file: await exampleConfig(standin), cwd: standin.dir, env: {} })).flatMap((n) => n.rules);
      standin.rules = declared.map((r) => ({ apiGroups: r.apiGroups, verbs: r.verbs, resources: r.resources, ...(r.resourceNames ? { resourceNames: r.resourceNames } : {}) }));
      const v3 = storedCertificate(3);
      const again = await leaseLock(standin);
      assert.ok(again);
      await (await makeDeployer('kubernetes-secret', standin, { secretName: 'www-certificate' })).deploy(v3, {});
      assert.match((await reload.deploy(v3, {})).message, /^1 pod\(s\) serve version 3/);
      await restart.deploy(v3, {});
      await again.release();
      assert.equal(standin.requests.filter((r) => r.status === 403).length, 0, 'the declared rules are enough for every call');
    } finally {
      await standin.stop();
    }
  });
}

void test('with the deck\'s Role (`create` only on pods/exec), kubernetes check names the missing `get` before any order, and the reload\'s error names it too', { timeout: 90_000 }, async (t) => {
  if (!requireApache(t)) return;
  const standin = await startStandinWithPods({ pods: 2, initial: storedCertificate(1), projectionDelayMs: () => 100, rules: DECK_ROLE });
  try {
    const config = await exampleConfig(standin);
    const check = await runCli(['kubernetes', 'check', '--config', config, 'secret', 'reload']);
    assert.equal(check.code, 1, `${check.stdout}\n${check.stderr}`);
    assert.match(check.stdout, /MISSING +get pods\/exec +deployer reload/);
    assert.match(check.stdout, /ok +create pods\/exec +deployer reload/);
    assert.match(check.stdout, /ok +patch secrets "www-certificate" +deployer secret/);
    assert.match(check.stdout, /- apiGroups: \[""\]\n {4}resources: \["pods\/exec"\]\n {4}verbs: \["get"\]/);
    assert.match(check.stderr, /ERR_KUBERNETES_RBAC_MISSING/);
    // It asks, and reads the Secret to tell whether `create` (not granted) would be called: it writes nothing.
    assert.deepEqual(standin.requests.filter((r) => r.resource !== 'selfsubjectaccessreviews').map((r) => `${r.method} ${r.resource}`), ['GET secrets'], 'the check only asks and reads');
    assert.match(check.stdout, /- +create secrets +deployer secret: not called while Secret "www-certificate" exists/);

    const v2 = storedCertificate(2);
    await (await makeDeployer('kubernetes-secret', standin, { secretName: 'www-certificate' })).deploy(v2, {});
    const reload = await makeDeployer('kubernetes-reload', standin, reloadOptions(standin));
    await assert.rejects(reload.deploy(v2, {}), (e: unknown) => {
      assert.ok(e instanceof CertpilotError);
      assert.equal(e.code, 'ERR_KUBERNETES_FORBIDDEN');
      assert.match(e.message, /may not get pods\/exec/);
      assert.doesNotMatch(e.message, /may not create/);
      assert.match(e.hint, /resources: \["pods\/exec"\], verbs: \["get"\]/);
      return true;
    });
    assert.equal(standin.execs.length, 0, 'no command ran in any pod');
    const refused = standin.requests.find((r) => r.resource === 'pods/exec' && r.status === 403);
    assert.equal(refused?.method, 'GET');
    assert.equal(refused?.verb, 'get', 'the server refused the WebSocket upgrade as `get`');

    // On 1.35+, a Role with only `get` is refused too, and the error names `create`.
    standin.rules = [...DECK_ROLE.filter((r) => !r.resources.includes('pods/exec')), { apiGroups: [''], verbs: ['get'], resources: ['pods/exec'] }];
    await assert.rejects(reload.deploy(v2, {}), (e: CertpilotError) => /may not create pods\/exec/.test(e.message) && /verbs: \["create"\]/.test(e.hint));
  } finally {
    await standin.stop();
  }
});

void test('--state pvc: the generated Role lets the deployer create its Secret on the first deploy, and kubernetes check says what the code will call', { timeout: 60_000 }, async (t) => {
  const { standin, kubeconfig } = await standinFor(t);
  const dir = await tempDir();
  const config = (extra: Record<string, unknown>) => ({
    stateDir: join(dir, 'state'),
    deployers: { secret: { type: 'kubernetes-secret', secretName: 'www-certificate', ...extra } },
    certificates: [{ name: 'www', domains: ['www.example.test'], deploy: ['secret'] }],
  });
  // The file the ConfigMap holds (the pod's service account), and the same one from here (a kubeconfig).
  const incluster = join(dir, 'incluster-pvc.yaml');
  const local = join(dir, 'local-pvc.yaml');
  await writeFile(incluster, JSON.stringify(config({})));
  await writeFile(local, JSON.stringify(config({ kubeconfig })));
  const gen = await runCli(['kubernetes', 'manifests', '--config', incluster, '--namespace', standin.namespace, '--state', 'pvc']);
  assert.equal(gen.code, 0, gen.stderr);
  const role = parseAllDocuments(gen.stdout).map((d) => d.toJS() as Role).find((o) => o?.kind === 'Role');
  assert.ok(role);
  // No state store in Secrets: the `create` is the deployer's own, said so above the rule.
  assert.ok(role.rules.some((r) => r.resources.includes('secrets') && r.verbs.includes('create') && !r.resourceNames), JSON.stringify(role.rules));
  assert.match(gen.stdout, /# deployer secret \(kubernetes-secret\): create Secrets: create makes Secret www-certificate on the first deploy/);
  standin.rules = role.rules;
  assert.equal(standin.secret('www-certificate'), undefined, 'the Secret does not exist yet');

  const check = await runCli(['kubernetes', 'check', '--config', local]);
  assert.equal(check.code, 0, `${check.stdout}\n${check.stderr}`);
  assert.match(check.stdout, /ok +create secrets +deployer secret/);
  const deployer = await makeDeployer('kubernetes-secret', standin, { secretName: 'www-certificate' });
  assert.match((await deployer.deploy(storedCertificate(1), {})).message, /^created Secret .*www-certificate with version 1/);
  assert.equal(standin.secret('www-certificate')?.type, 'kubernetes.io/tls');
  assert.equal(standin.requests.filter((r) => r.status === 403).length, 0, 'not one request refused');

  // A Role without `create` (the Secret made by hand instead): fine while the Secret exists, and the
  // check says create is not called; once it is gone, the check names the missing create, as the deploy does.
  standin.rules = role.rules.filter((r) => !(r.resources.includes('secrets') && r.verbs.includes('create')));
  const without = await runCli(['kubernetes', 'check', '--config', local]);
  assert.equal(without.code, 0, `${without.stdout}\n${without.stderr}`);
  assert.match(without.stdout, /- +create secrets +deployer secret: not called while Secret "www-certificate" exists/);
  assert.match((await deployer.deploy(storedCertificate(2), {})).message, /^updated Secret/);
  (standin as unknown as { secrets: Map<string, unknown> }).secrets.delete('www-certificate');
  const absent = await runCli(['kubernetes', 'check', '--config', local]);
  assert.equal(absent.code, 1, `${absent.stdout}\n${absent.stderr}`);
  assert.match(absent.stdout, /MISSING +create secrets +deployer secret: Secret "www-certificate" does not exist yet/);
  assert.match(absent.stdout, /- apiGroups: \[""\]\n {4}resources: \["secrets"\]\n {4}verbs: \["create"\]/);
  await assert.rejects(deployer.deploy(storedCertificate(3), {}), /may not create secrets "www-certificate"/);
});

void test('the deployer declares its own `create` on Secrets: with --state secret the Role does not lean on the state store\'s rule', async () => {
  const dir = await tempDir();
  const file = join(dir, 'c.yaml');
  await writeFile(file, JSON.stringify({ stateDir: join(dir, 'state'), stateStore: { type: 'kubernetes-secret' }, deployers: { secret: { type: 'kubernetes-secret', secretName: 'www-certificate' } }, certificates: [{ name: 'www', domains: ['www.example.test'], deploy: ['secret'] }] }));
  const needs = kubernetesNeeds(await loadConfig({ file, cwd: dir, env: {} }));
  const creates = (instance: string) => needs.filter((n) => n.instance === instance).flatMap((n) => n.rules).some((r) => r.resources.includes('secrets') && r.verbs.includes('create'));
  assert.ok(creates('deployer secret'), 'the deployer declares create');
  assert.ok(creates('state store'), 'the state store declares create');
});
