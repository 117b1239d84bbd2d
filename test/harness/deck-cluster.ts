/**
 * The deck's production flow as a cluster runs it, set up once for the tests that run generated
 * pod specs (kubernetes-cronjob.test.ts, kubernetes-daemon.test.ts): the pod runtime (certpilot's
 * image, test/harness/pod-runner.ts), Pebble 2.4 behind the fault proxy (orders counted by distinct
 * URL), a Redis with a password (the Secret the user creates), the Kubernetes stand-in with three
 * apache pods (label app=www), three `certpilot serve` responders on the names' addresses, the
 * user's configuration as in the docs (Redis http-01, the Secret, kubernetes-reload), and the
 * manifests `certpilot kubernetes manifests` generates from it with `manifestArgs`. The stand-in
 * holds exactly the generated Role. Everything is stopped by the test context's `after`.
 */
import assert from 'node:assert/strict';
import { chmod, chown, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { runCli, tempDir, writeConfig } from './certpilot.js';
import { orderUrls, startFaultProxy, type FaultProxy } from './fault-proxy.js';
import { fetchBuffered } from './http.js';
import { startStandinWithPods, storedCertificate } from './kube-fixtures.js';
import type { KubeStandin, StandinRule } from './kube-standin.js';
import { startPebble, type PebbleInstance } from './pebble.js';
import { startPodRuntime, type ManifestObject, type PodCluster, type PodRuntime } from './pod-runner.js';
import { startRedis, type RedisServer } from './redis.js';
import { startServe } from './serve.js';

/** The certificate's names (the first is the one the apache pods are asked for). */
export const DECK_NAMES = ['www.cron.test', 'a.cron.test', 'b.cron.test'];
const ADDRESSES = ['127.0.0.2', '127.0.0.3', '127.0.0.4'];
/** The Redis password: in the user's file, never in a manifest. */
export const DECK_REDIS_PASSWORD = 'redis-password-from-a-secret';

/** A Role rule as generated. */
export type Rule = { apiGroups: string[]; resources: string[]; verbs: string[]; resourceNames?: string[] };

/** The running set-up. */
export interface DeckCluster {
  runtime: PodRuntime;
  pebble: PebbleInstance;
  proxy: FaultProxy;
  redis: RedisServer;
  standin: KubeStandin;
  /** The generated objects, the CLI's notes (stderr), the Role's rules. */
  objects: ManifestObject[];
  notes: string;
  rules: Rule[];
  /** What the pods get (the Redis password Secret, the claim `certpilot-state`, the stand-in, the service account). */
  cluster: PodCluster;
  /** The claim's host directory (`--state pvc`). */
  claim: string;
  /** Orders made so far, by distinct URL (a badNonce retry is a POST, not an order). */
  orders(): number;
  /** The stand-in's rules from generated ones. */
  asRules(rules: Rule[]): StandinRule[];
}

async function addA(pebble: PebbleInstance, host: string, address: string): Promise<void> {
  const res = await fetchBuffered(`${pebble.challtestsrvUrl}/add-a`, { method: 'POST', body: JSON.stringify({ host: `${host}.`, addresses: [address] }) });
  assert.equal(res.status, 200, res.text);
}

/** Starts everything and generates the manifests with `manifestArgs` (e.g. `--state pvc`, `--mode daemon`). */
export async function startDeckCluster(t: TestContext, manifestArgs: readonly string[]): Promise<DeckCluster> {
  // The image (one build per test run, shared with image.test.ts; a cold build is minutes) and the container pods run in.
  const runtime = await startPodRuntime();
  t.after(() => runtime.stop());
  const pebble = await startPebble({ version: '2.4', noSleep: true, authzReuse: 0 });
  t.after(() => pebble.stop());
  const proxy = await startFaultProxy(pebble);
  t.after(() => proxy.stop());
  const redis = await startRedis({ password: DECK_REDIS_PASSWORD });
  t.after(() => redis.stop());
  for (const [i, name] of DECK_NAMES.entries()) await addA(pebble, name, ADDRESSES[i] as string);
  const standin = await startStandinWithPods({ pods: 3, initial: storedCertificate(1, [DECK_NAMES[0] as string]), labels: { app: 'www' } });
  t.after(() => standin.stop());

  // The three responder pods (the generated serve Deployment's `certpilot serve`), on the names' addresses.
  const dir = await tempDir();
  const passwordFile = join(dir, 'redis-password');
  await writeFile(passwordFile, DECK_REDIS_PASSWORD);
  const pods = await Promise.all(ADDRESSES.map((a) => startServe(['--redis-url', redis.url, '--listen', `${a}:${pebble.httpPort}`], { env: { CERTPILOT_REDIS_PASSWORD_FILE: passwordFile } })));
  t.after(() => Promise.all(pods.map((p) => p.stop())));

  // The user's configuration, as in the docs: no state, no locker, a password in it.
  const config = await writeConfig(dir, {
    directoryUrl: proxy.directoryUrl,
    httpPort: pebble.httpPort,
    solvers: { redis: { type: 'redis', url: redis.url, password: DECK_REDIS_PASSWORD } },
    deployers: {
      secret: { type: 'kubernetes-secret', secretName: 'www-certificate' },
      reload: {
        type: 'kubernetes-reload',
        secretName: 'www-certificate',
        pollIntervalSeconds: 0.2,
        propagationTimeoutSeconds: 20,
        verifyTimeoutSeconds: 10,
        groups: [{ selector: 'app=www', container: 'apache', command: ['apachectl', 'graceful'], port: standin.podPort }],
      },
    },
    certificates: [{ name: 'www', domains: DECK_NAMES, solver: 'redis', deploy: ['secret', 'reload'] }],
  });
  // writeConfig puts a stateDir of the host: the manifests set the pod's own.
  const gen = await runCli(['kubernetes', 'manifests', '--config', config, '--namespace', standin.namespace, ...manifestArgs, '--image', 'certpilot:test']);
  assert.equal(gen.code, 0, gen.stderr);
  assert.ok(!gen.stdout.includes(DECK_REDIS_PASSWORD), 'no secret in the manifests');
  const objects = parseAllDocuments(gen.stdout)
    .map((d) => d.toJS() as ManifestObject)
    .filter(Boolean);
  const role = objects.find((o) => o.kind === 'Role') as unknown as { rules: Rule[] };
  const secretName = /create secret generic (\S+) --from-file=password=FILE/.exec(gen.stderr)?.[1];
  assert.ok(secretName, gen.stderr);

  await chmod(dir, 0o755); // the claim below it is reached by uid 65532
  const claim = join(dir, 'claim');
  await mkdir(claim);
  await chown(claim, 65532, 65532);
  const cluster: PodCluster = { objects, secrets: { [secretName]: { password: DECK_REDIS_PASSWORD } }, claims: { 'certpilot-state': claim }, apiServer: standin.url, serviceAccountDir: await standin.writeServiceAccountDir() };
  const asRules = (rules: Rule[]): StandinRule[] => rules.map((r) => ({ apiGroups: r.apiGroups, verbs: r.verbs, resources: r.resources, ...(r.resourceNames ? { resourceNames: r.resourceNames } : {}) }));
  standin.rules = asRules(role.rules);
  return { runtime, pebble, proxy, redis, standin, objects, notes: gen.stderr, rules: role.rules, cluster, claim, orders: () => orderUrls(proxy.requests.log).length, asRules };
}
