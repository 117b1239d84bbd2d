#!/usr/bin/env node
// Benchmark (not a test): from `kubectl apply --server-side -k` of the directory `certpilot
// kubernetes manifests` writes to "every pod verified", on the Kubernetes stand-in: the applied
// objects are read back through kubectl (as a kubelet reads them), the stand-in's RBAC is set to the
// applied Role, and the CronJob's pod spec is run once by test/harness/pod-runner.ts (the built CLI
// as uid 65532, not the image): an issuance through Redis http-01 against Pebble 2.4 (no
// validation sleep), the Secret, then every pod reloaded and verified over TLS.
//
// Time is scaled as in bench/k8s-deploy.mjs (default 1/20): each pod's kubelet projection of the
// new Secret takes 60 s ± 20 s × scale here, and the reload deployer polls every 2 s × scale; the
// projection is reported back in cluster seconds, the rest (apply, CLI start, ACME, exec, TLS) as
// measured.
//
//   node bench/k8s-manifests.mjs [--runs 3] [--scale 0.05] [--pods 10]
//
// Needs `npm run build`, Debian's pebble, redis-server and apache2, and /usr/bin/kubectl.
// Writes bench/results/kubernetes-manifests.json and .md.
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { chmod, chown, mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const here = dirname(fileURLToPath(import.meta.url));
const dist = (p) => join(here, '..', 'dist', p);
const { startStandinWithPods, storedCertificate } = await import(dist('test/harness/kube-fixtures.js'));
const { runCli, tempDir, writeConfig } = await import(dist('test/harness/certpilot.js'));
const { startPebble } = await import(dist('test/harness/pebble.js'));
const { startRedis } = await import(dist('test/harness/redis.js'));
const { startServe } = await import(dist('test/harness/serve.js'));
const { hostPodRuntime, preparePod } = await import(dist('test/harness/pod-runner.js'));
const { fetchBuffered } = await import(dist('test/harness/http.js'));
const { mulberry32 } = await import(dist('src/testing/prng.js'));
const { normalizeSerial, probeServedSerial } = await import(dist('src/deploy/kubernetes-reload/tls-probe.js'));

const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const RUNS = arg('runs', 3);
const SCALE = arg('scale', 0.05);
const PODS = arg('pods', 10);
const NAMES = ['www.bench.test', 'a.bench.test', 'b.bench.test'];
const ADDRESSES = ['127.0.0.2', '127.0.0.3', '127.0.0.4'];
const run = promisify(execFile);
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const kubectl = async (kc, ...args) => (await run('/usr/bin/kubectl', ['--kubeconfig', kc, ...args], { maxBuffer: 16 << 20 })).stdout;

async function oneRun(seed) {
  const random = mulberry32(seed);
  const projectionS = Array.from({ length: PODS }, () => 40 + random() * 40);
  const delays = Object.fromEntries(projectionS.map((s, i) => [`www-${i}`, s * 1000 * SCALE]));
  const stops = [];
  try {
    const pebble = await startPebble({ version: '2.4', noSleep: true, authzReuse: 0 });
    stops.push(() => pebble.stop());
    const redis = await startRedis({ password: 'bench-redis-password' });
    stops.push(() => redis.stop());
    for (const [i, host] of NAMES.entries()) await fetchBuffered(`${pebble.challtestsrvUrl}/add-a`, { method: 'POST', body: JSON.stringify({ host: `${host}.`, addresses: [ADDRESSES[i]] }) });
    const dir = await tempDir();
    await chmod(dir, 0o755);
    const passwordFile = join(dir, 'redis-password');
    await writeFile(passwordFile, 'bench-redis-password');
    for (const a of ADDRESSES) {
      const s = await startServe(['--redis-url', redis.url, '--listen', `${a}:${pebble.httpPort}`], { env: { CERTPILOT_REDIS_PASSWORD_FILE: passwordFile } });
      stops.push(() => s.stop());
    }
    const standin = await startStandinWithPods({ pods: PODS, initial: storedCertificate(1, [NAMES[0]]), projectionDelayMs: (p) => delays[p] ?? 0 });
    stops.push(() => standin.stop());
    const config = await writeConfig(dir, {
      directoryUrl: pebble.directoryUrl,
      httpPort: pebble.httpPort,
      solvers: { redis: { type: 'redis', url: redis.url, password: 'bench-redis-password' } },
      deployers: {
        secret: { type: 'kubernetes-secret', secretName: 'www-certificate' },
        reload: {
          type: 'kubernetes-reload',
          secretName: 'www-certificate',
          pollIntervalSeconds: 2 * SCALE,
          propagationTimeoutSeconds: 300 * SCALE,
          verifyTimeoutSeconds: 30,
          groups: [{ selector: 'app=www', container: 'apache', command: ['apachectl', 'graceful'], port: standin.podPort }],
        },
      },
      certificates: [{ name: 'www', domains: NAMES, solver: 'redis', deploy: ['secret', 'reload'] }],
    });
    const out = join(dir, 'manifests');
    const gen = await runCli(['kubernetes', 'manifests', '--config', config, '--namespace', standin.namespace, '--state', 'pvc', '--image', 'certpilot:bench', '-o', out]);
    if (gen.code !== 0) throw new Error(`bench: generate: ${gen.stderr}`);
    const secretName = /create secret generic (\S+) --from-file=password=FILE/.exec(gen.stderr)?.[1];
    const claim = join(dir, 'claim');
    await mkdir(claim);
    await chown(claim, 65532, 65532);
    const kc = await standin.writeKubeconfig();

    const t0 = performance.now();
    await kubectl(kc, 'apply', '--server-side', '--validate=false', '-k', out);
    const applyMs = performance.now() - t0;
    // What the kubelet and the API server would use: the objects as applied, read back.
    const list = async (kind) => JSON.parse(await kubectl(kc, 'get', kind, '-o', 'json')).items;
    const [cron] = await list('cronjobs');
    const configMaps = await list('configmaps');
    const [role] = await list('roles');
    standin.rules = role.rules;
    const job = await preparePod(cron.spec.jobTemplate.spec.template.spec, {
      objects: configMaps,
      secrets: { [secretName]: { password: 'bench-redis-password' } },
      claims: { 'certpilot-state': claim },
      apiServer: standin.url,
      serviceAccountDir: await standin.writeServiceAccountDir(),
    }, hostPodRuntime('the benchmark times the CLI, not the image'));
    const result = await job.run();
    const totalMs = performance.now() - t0;
    if (result.code !== 0) throw new Error(`bench: the Job failed: ${result.stdout}\n${result.stderr}`);
    const serial = normalizeSerial(new X509Certificate(await readFile(join(claim, 'live', 'www', 'fullchain.pem'))).serialNumber);
    for (const name of standin.podNames()) {
      const served = await probeServedSerial({ host: standin.podAddress(name).ip, port: standin.podPort, serverName: NAMES[0], timeoutMs: 5000 });
      if (served !== serial) throw new Error(`bench: ${name} serves ${served}, not ${serial}`);
    }
    const slowestMs = Math.max(...projectionS) * 1000 * SCALE;
    return { seed, slowestProjectionS: Math.max(...projectionS), applyS: applyMs / 1000, measuredS: totalMs / 1000, clusterS: Math.max(...projectionS) + (totalMs - slowestMs) / 1000, overheadS: (totalMs - slowestMs) / 1000 };
  } finally {
    for (const stop of stops.reverse()) await stop().catch(() => {});
  }
}

const runs = [];
for (let i = 0; i < RUNS; i++) {
  const r = await oneRun(1000 + i);
  runs.push(r);
  console.error(`bench: run ${i + 1}/${RUNS}: apply ${r.applyS.toFixed(2)} s; apply → all ${PODS} pods verified ${r.clusterS.toFixed(1)} cluster s (slowest projection ${r.slowestProjectionS.toFixed(1)} s, +${r.overheadS.toFixed(2)} s of real work)`);
}
const summary = {
  pods: PODS,
  scale: SCALE,
  runs: RUNS,
  medianApplyS: median(runs.map((r) => r.applyS)),
  medianClusterS: median(runs.map((r) => r.clusterS)),
  medianOverheadS: median(runs.map((r) => r.overheadS)),
  medianSlowestProjectionS: median(runs.map((r) => r.slowestProjectionS)),
  runsDetail: runs,
};
await writeFile(join(here, 'results', 'kubernetes-manifests.json'), `${JSON.stringify(summary, null, 2)}\n`);
const f = (x, n = 1) => x.toFixed(n);
await writeFile(
  join(here, 'results', 'kubernetes-manifests.md'),
  `# Kubernetes: \`kubectl apply\` of the generated manifests → all ${PODS} pods verified

Generated by \`node bench/k8s-manifests.mjs --runs ${RUNS}\` (after \`npm run build\`); raw figures in
[kubernetes-manifests.json](kubernetes-manifests.json). Machine: 2 shared cores, loaded by other
helpers' builds and tests at the time: read the real-time parts as upper bounds.

The stand-in with ${PODS} apache pods (projection 60 s ± 20 s, time scaled by ${SCALE} as in
[kubernetes.md](kubernetes.md)); \`kubectl apply --server-side -k\` of the directory \`certpilot
kubernetes manifests --state pvc\` wrote; the CronJob's pod spec, read back from the stand-in, run
once as the kubelet would (test/harness/pod-runner.ts: the built CLI as uid 65532, not the image)
with exactly the applied Role: issuance through Redis http-01 against Pebble 2.4 (no validation
sleep), the Secret, every pod reloaded and verified over TLS. A real cluster adds image pull, pod
scheduling and the CA's own validation time, none of which is here.

| | median |
| --- | --- |
| \`kubectl apply --server-side -k\` (real time) | ${f(summary.medianApplyS, 2)} s |
| slowest pod's projection | ${f(summary.medianSlowestProjectionS)} s |
| **apply → all ${PODS} pods verified** (cluster seconds) | **${f(summary.medianClusterS)} s** |
| of which real work over the slowest projection (apply, CLI start, ACME, exec, TLS) | ${f(summary.medianOverheadS, 2)} s |

| seed | apply | slowest projection | apply → all verified | over slowest |
| --- | --- | --- | --- | --- |
${runs.map((r) => `| ${r.seed} | ${f(r.applyS, 2)} | ${f(r.slowestProjectionS)} | ${f(r.clusterS)} | +${f(r.overheadS, 2)} |`).join('\n')}
`,
);
console.log(JSON.stringify(summary, null, 2));
