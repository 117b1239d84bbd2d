// `kubectl apply --server-side -k` of the generated kustomize directory on the Kubernetes stand-in
// (which validates each object against its OpenAPI schema and the API server's own rules, see
// kube-standin.ts "APPLIED OBJECTS"), for the three modes; the real kubectl reads the objects back.
// The stand-in refuses what a real API server refuses (a Deployment whose selector does not match
// its labels, a Role rule without apiGroups, a wrong type): checked here with
// kubectl too, so a lenient stand-in fails this test.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { runCli, tempDir } from '../harness/certpilot.js';
import { standinFor } from '../harness/kube-standin.js';

const FIXTURE = join(process.cwd(), 'src', 'scheduling', 'kubernetes-manifests', 'fixtures', 'certpilot.yaml');
const run = promisify(execFile);

async function kubectl(kubeconfig: string, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run('/usr/bin/kubectl', ['--kubeconfig', kubeconfig, ...args], { timeout: 60_000 });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof err.code === 'number' ? err.code : 1, stdout: err.stdout ?? '', stderr: err.stderr ?? '' };
  }
}

const MODES: Record<string, string[]> = { cronjob: [], 'cronjob-pvc-serve': ['--state', 'pvc', '--serve'], daemon: ['--mode', 'daemon'] };

void test('kubectl apply --server-side -k of the generated directory succeeds on the stand-in, for the three modes, and reads back', { timeout: 120_000 }, async (t) => {
  const { standin, kubeconfig: kc } = await standinFor(t);
  for (const [mode, args] of Object.entries(MODES)) {
    const dir = join(await tempDir(), mode);
    const gen = await runCli(['kubernetes', 'manifests', '--config', FIXTURE, '--namespace', standin.namespace, '--image', 'certpilot:test', '-o', dir, ...args]);
    assert.equal(gen.code, 0, gen.stderr);
    const applied = await kubectl(kc, 'apply', '--server-side', '--validate=false', '-k', dir);
    assert.equal(applied.code, 0, `${mode}: ${applied.stderr}`);
    const built = parseAllDocuments((await kubectl(kc, 'kustomize', dir)).stdout).map((d) => d.toJS() as { kind: string; metadata: { name: string } });
    for (const o of built) {
      const got = await kubectl(kc, 'get', `${o.kind.toLowerCase()}/${o.metadata.name}`, '--show-managed-fields', '-o', 'json');
      assert.equal(got.code, 0, `${mode}: ${o.kind} ${o.metadata.name}: ${got.stderr}`);
      const back = JSON.parse(got.stdout) as { metadata: { managedFields?: { manager: string; operation: string }[] } };
      assert.ok(back.metadata.managedFields?.some((f) => f.manager === 'kubectl' && f.operation === 'Apply'), `${o.kind} applied by kubectl`);
    }
    // Applying again changes nothing and fails nothing.
    assert.equal((await kubectl(kc, 'apply', '--server-side', '--validate=false', '-k', dir)).code, 0);
  }
  const cron = JSON.parse((await kubectl(kc, 'get', 'cronjob/certpilot', '-o', 'json')).stdout) as { spec: { concurrencyPolicy: string } };
  assert.equal(cron.spec.concurrencyPolicy, 'Forbid');
});

void test('the stand-in refuses applied objects a real API server refuses (422/400 naming the field)', { timeout: 60_000 }, async (t) => {
  const { standin, kubeconfig: kc } = await standinFor(t);
  const dir = await tempDir();
  const gen = await runCli(['kubernetes', 'manifests', '--config', FIXTURE, '--namespace', standin.namespace, '--image', 'certpilot:test', '--mode', 'daemon']);
  const objects = parseAllDocuments(gen.stdout).map((d) => d.toJS() as Record<string, unknown> & { kind: string; metadata: Record<string, unknown>; spec?: Record<string, unknown>; rules?: Record<string, unknown>[] });
  const apply = async (obj: unknown): Promise<{ code: number; stderr: string }> => {
    const file = join(dir, 'obj.json');
    await writeFile(file, JSON.stringify(obj));
    return kubectl(kc, 'apply', '--server-side', '--validate=false', '-f', file);
  };
  const deployment = structuredClone(objects.find((o) => o.kind === 'Deployment')) as unknown as { spec: { selector: { matchLabels: Record<string, string> } } };
  deployment.spec.selector.matchLabels = { app: 'other' };
  const bad1 = await apply(deployment);
  assert.notEqual(bad1.code, 0);
  assert.match(bad1.stderr, /selector.*does not match template.*labels/);
  const role = structuredClone(objects.find((o) => o.kind === 'Role')) as { rules: { apiGroups?: string[] }[] };
  delete role.rules[0]?.apiGroups;
  const bad2 = await apply(role);
  assert.notEqual(bad2.code, 0);
  assert.match(bad2.stderr, /rules\[0\]\.apiGroups/);
  const cron = structuredClone(objects.find((o) => o.kind === 'Deployment')) as unknown as { spec: { replicas: unknown } };
  cron.spec.replicas = 'two';
  const bad4 = await apply(cron);
  assert.notEqual(bad4.code, 0);
  assert.match(bad4.stderr, /replicas/);
});
