#!/usr/bin/env node
// Benchmark (not a test): time from "certificate issued" to "all 10 pods verified" on the
// Kubernetes stand-in, whose kubelet projects the updated Secret into each pod after 60 s ± 20 s
// (uniform, seeded), against the deck's flow: patch, `sleep 150`, then `kubectl exec … reload` in
// every pod one after the other.
//
// Time is scaled (default 1/20: a 60 s projection takes 3 s here; the deck's sleep 7.5 s; the
// reload deployer polls every 2 s × scale). Projection and sleep figures are reported back in cluster
// seconds (÷ scale); the work on top of them (exec, TLS handshakes, apache reloads) is real and is
// reported as measured, not scaled up.
//
//   node bench/k8s-deploy.mjs [--runs 3] [--scale 0.05] [--pods 10]
//
// Needs: `npx tsc -p tsconfig.json` (dist/), Debian's apache2, and /usr/bin/kubectl for the deck's
// serial execs. Writes bench/results/kubernetes.json; bench/results/kubernetes.md quotes it.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const dist = (p) => join(root, 'dist', p);
if (!existsSync(dist('test/harness/kube-fixtures.js'))) {
  console.error('bench: dist/ is missing: run `npx tsc -p tsconfig.json` first');
  process.exit(2);
}
const { startStandinWithPods, storedCertificate } = await import(dist('test/harness/kube-fixtures.js'));
const { makeDeployer, reloadOptions } = await import(dist('test/harness/kube-deployers.js'));
const { mulberry32 } = await import(dist('src/testing/prng.js'));

const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const RUNS = arg('runs', 3);
const SCALE = arg('scale', 0.05);
const PODS = arg('pods', 10);
const DECK_SLEEP_S = 150;
const run = promisify(execFile);

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function oneRun(seed) {
  const random = mulberry32(seed);
  const projectionS = Array.from({ length: PODS }, () => 40 + random() * 40);
  const delays = Object.fromEntries(projectionS.map((s, i) => [`www-${i}`, s * 1000 * SCALE]));
  const standin = await startStandinWithPods({ pods: PODS, initial: storedCertificate(1), projectionDelayMs: (p) => delays[p] ?? 0 });
  try {
    const secret = await makeDeployer('kubernetes-secret', standin, { secretName: 'www-certificate' });
    const reload = await makeDeployer('kubernetes-reload', standin, reloadOptions(standin, { pollIntervalSeconds: 2 * SCALE, propagationTimeoutSeconds: 300 * SCALE, verifyTimeoutSeconds: 30 }));
    // certpilot
    const cert = storedCertificate(2);
    const t0 = performance.now();
    await secret.deploy(cert, {});
    const result = await reload.deploy(cert, {});
    const certpilotMs = performance.now() - t0;
    const pods = result.details.pods;
    if (pods.length !== PODS || !pods.every((p) => p.outcome === 'reloaded')) throw new Error(`bench: not every pod was reloaded: ${result.message}`);
    const slowestMs = Math.max(...projectionS) * 1000 * SCALE;
    const execs = standin.execs.length;

    // The deck: kubectl patch, sleep 150, kubectl exec reload in every pod, one after the other.
    const kubeconfig = await standin.writeKubeconfig();
    const next = storedCertificate(3);
    const b64 = (s) => Buffer.from(s).toString('base64');
    const d0 = performance.now();
    // (The deck passes the key on kubectl's argv; the bench uses --patch-file, same request, no key in argv.)
    const patchFile = join(standin.dir, 'deck-patch.json');
    await writeFile(patchFile, JSON.stringify({ data: { 'tls.crt': b64(next.fullchainPem), 'tls.key': b64(next.privateKeyPem) } }), { mode: 0o600 });
    await run('/usr/bin/kubectl', ['--kubeconfig', kubeconfig, 'patch', 'secret', 'www-certificate', '--patch-file', patchFile]);
    const patchMs = performance.now() - d0;
    await new Promise((r) => setTimeout(r, DECK_SLEEP_S * 1000 * SCALE));
    const e0 = performance.now();
    const { stdout } = await run('/usr/bin/kubectl', ['--kubeconfig', kubeconfig, 'get', 'pods', '-l', 'app=www', '-o', 'name']);
    for (const pod of stdout.trim().split('\n')) {
      await run('/usr/bin/kubectl', ['--kubeconfig', kubeconfig, 'exec', pod.replace('pod/', ''), '--', 'apachectl', 'graceful']);
    }
    const deckExecMs = performance.now() - e0;
    return {
      seed,
      slowestProjectionS: Math.max(...projectionS),
      certpilot: { clusterS: slowestMs / SCALE / 1000 + (certpilotMs - slowestMs) / 1000, overheadS: (certpilotMs - slowestMs) / 1000, execs },
      deck: { clusterS: DECK_SLEEP_S + (patchMs + deckExecMs) / 1000, serialExecS: deckExecMs / 1000 },
    };
  } finally {
    await standin.stop();
  }
}

const runs = [];
for (let i = 0; i < RUNS; i++) {
  const r = await oneRun(1000 + i);
  runs.push(r);
  console.error(`bench: run ${i + 1}/${RUNS}: slowest projection ${r.slowestProjectionS.toFixed(1)} s; certpilot ${r.certpilot.clusterS.toFixed(1)} s (+${r.certpilot.overheadS.toFixed(2)} s over the slowest projection, ${r.certpilot.execs} execs); deck ${r.deck.clusterS.toFixed(1)} s (serial execs ${r.deck.serialExecS.toFixed(2)} s)`);
}
const summary = {
  pods: PODS,
  scale: SCALE,
  runs: RUNS,
  projection: '60 s ± 20 s per pod, uniform, seeded',
  medianSlowestProjectionS: median(runs.map((r) => r.slowestProjectionS)),
  medianCertpilotS: median(runs.map((r) => r.certpilot.clusterS)),
  medianCertpilotOverheadS: median(runs.map((r) => r.certpilot.overheadS)),
  maxCertpilotOverheadS: Math.max(...runs.map((r) => r.certpilot.overheadS)),
  medianDeckS: median(runs.map((r) => r.deck.clusterS)),
  medianDeckSerialExecS: median(runs.map((r) => r.deck.serialExecS)),
  runsDetail: runs,
};
await mkdir(join(here, 'results'), { recursive: true });
await writeFile(join(here, 'results', 'kubernetes.json'), `${JSON.stringify(summary, null, 2)}\n`);
await writeFile(join(here, 'results', 'kubernetes.md'), renderMarkdown(summary));
console.log(JSON.stringify(summary, null, 2));

function renderMarkdown(d) {
  const f = (x, n = 1) => x.toFixed(n);
  const rows = d.runsDetail
    .map((r) => `| ${r.seed} | ${f(r.slowestProjectionS)} | ${f(r.certpilot.clusterS)} | +${f(r.certpilot.overheadS, 2)} | ${r.certpilot.execs} | ${f(r.deck.clusterS)} | ${f(r.deck.serialExecS, 2)} |`)
    .join('\n');
  const execs = Math.round(d.runsDetail.reduce((n, r) => n + r.certpilot.execs, 0) / d.runsDetail.length);
  return `# Kubernetes deploy: "certificate issued" → "all ${d.pods} pods verified"

Generated by \`node bench/k8s-deploy.mjs --runs ${d.runs}\` (after \`npx tsc -p tsconfig.json\`); raw figures in
[kubernetes.json](kubernetes.json). Machine: 2 shared cores, loaded by other work.

## Set-up

- The Kubernetes stand-in (\`test/harness/kube-standin.ts\`) with ${d.pods} real apache2 pods, each on
  its own loopback address, serving HTTPS from its mounted Secret.
- Its kubelet projects an updated Secret into each pod after **60 s ± 20 s** (uniform per pod,
  seeded: the same delays for both flows of a run).
- Time is scaled by ${d.scale}: a 60 s projection takes ${f(60 * d.scale)} s, the deck's \`sleep 150\` takes ${f(150 * d.scale)} s, the
  reload deployer polls each pod every 2 s × ${d.scale}. Projection and sleep are reported in cluster seconds;
  the work on top (exec round trips, TLS handshakes, apache graceful restarts, API calls) is real
  time, reported as measured, not multiplied.
- **certpilot**: \`kubernetes-secret\` (server-side apply) then \`kubernetes-reload\` (\`apachectl
  graceful\`, \`maxUnavailable: 1\`); the clock starts before the apply and stops when the last pod's
  TLS handshake shows the new serial.
- **deck**: \`kubectl patch secret\`, \`sleep 150\`, \`kubectl get pods -l app=www\`, then \`kubectl exec
  … apachectl graceful\` in each pod one after the other (the deck's \`update_pods\`), real kubectl.

## Results (cluster seconds, medians of ${d.runs} runs)

| | median |
| --- | --- |
| slowest pod's projection | ${f(d.medianSlowestProjectionS)} s |
| **certpilot**: issued → all ${d.pods} pods verified | **${f(d.medianCertpilotS)} s** |
| certpilot's time over the slowest projection | ${f(d.medianCertpilotOverheadS, 2)} s (max ${f(d.maxCertpilotOverheadS, 2)} s) |
| **deck**: patch + sleep 150 + serial execs | **${f(d.medianDeckS)} s** |
| deck's serial execs alone | ${f(d.medianDeckSerialExecS, 2)} s |

Per run:

| seed | slowest projection | certpilot | over slowest | execs (digest polls + reloads) | deck | deck serial execs |
| --- | --- | --- | --- | --- | --- | --- |
${rows}

## Reading

- Target: no more than the slowest pod's projection plus 5 s. ${d.maxCertpilotOverheadS <= 5 ? 'Met in every run' : 'NOT met in every run'}: certpilot finishes
  ${f(d.medianCertpilotOverheadS)} s (max ${f(d.maxCertpilotOverheadS)} s) after the slowest pod sees the Secret — pods are reloaded as each one
  sees it, so when the slowest projection lands only that pod is left. In a real cluster the
  default 2 s poll adds up to ${f(2 - 2 * d.scale)} s more than the scaled poll here (worst case ≈ ${f(d.maxCertpilotOverheadS + 2 - 2 * d.scale)} s).
- certpilot is ${f(d.medianDeckS / d.medianCertpilotS)}× faster than the deck here, and the deck's figure is a floor: it always
  waits 150 s, and when a projection takes longer than 150 s (the kubelet's sync period plus its
  cache TTL can exceed it) the deck reloads pods that still hold the old files and never notices.
  certpilot waits as long as needed (up to \`propagationTimeoutSeconds\`) and proves each pod by a
  TLS handshake.
- The price is exec traffic: about ${execs} execs per run of ${d.pods} pods (one \`sha256sum\` per pod per poll
  plus one reload each). At the default 2 s poll over a 60 s wait that is ~30 execs per pod; raise
  \`pollIntervalSeconds\` for very large groups.
`;
}
