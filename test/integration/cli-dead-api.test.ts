// An API server that accepts connections and never answers: the request's timeout ends the command
// with its error, and the process exits then, instead of being held open by the unanswered socket
// (a CronJob pod that never ends blocks the next run under concurrencyPolicy: Forbid). Refused or
// silent, the API server is unreachable alike: ERR_KUBERNETES_UNREACHABLE, exit 75 (try again
// later). The daemon does not exit at all: it waits for the API server, serving /healthz and
// /metrics (certpilot_state_backend_unreachable 1) meanwhile, and a SIGHUP in an outage keeps the
// running configuration without blaming the file.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { cliPath, tempDir, testCaFile } from '../harness/certpilot.js';
import { fetchBuffered } from '../harness/http.js';
import { until } from '../harness/kube-fixtures.js';
import { startKubeStandin } from '../harness/kube-standin.js';
import { freePort } from '../harness/ports.js';
import { startSilentListener } from '../harness/silent-listener.js';

/** A kubeconfig naming an API server at 127.0.0.1:`port` (namespace web). */
function kubeconfigText(port: number): string {
  return `apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:${port}\n    certificate-authority: ${testCaFile}\nusers:\n- name: u\n  user:\n    token: t\ncontexts:\n- name: c\n  context: { cluster: c, user: u, namespace: web }\ncurrent-context: c\n`;
}

test('state in Secrets behind an API server that never answers: status and renew fail after requestTimeoutSeconds and exit', { timeout: 90_000 }, async (t) => {
  const { port } = await startSilentListener(t);
  const dir = await tempDir();
  const kubeconfig = join(dir, 'kubeconfig');
  await writeFile(kubeconfig, `apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:${port}\n    certificate-authority: ${testCaFile}\nusers:\n- name: u\n  user:\n    token: t\ncontexts:\n- name: c\n  context: { cluster: c, user: u, namespace: web }\ncurrent-context: c\n`, { mode: 0o600 });
  const config = join(dir, 'certpilot.yaml');
  await writeFile(config, `stateDir: ${JSON.stringify(join(dir, 'state'))}\nacme: { directoryUrl: "https://127.0.0.1:9/dir" }\nstateStore: { type: kubernetes-secret, kubeconfig: ${JSON.stringify(kubeconfig)}, requestTimeoutSeconds: 2 }\ncertificates: [{ name: www, domains: [www.example.test] }]\n`);
  for (const command of ['status', 'renew']) {
    const started = Date.now();
    const child = spawn(process.execPath, [cliPath, command, '--config', config], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const killer = setTimeout(() => child.kill('SIGKILL'), 40_000);
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((r) => child.once('exit', (c, s) => r([c, s])));
    clearTimeout(killer);
    assert.equal(signal, null, `${command} was still running ${Math.round((Date.now() - started) / 1000)} s after it started (killed):\n${out}`);
    assert.equal(code, 75, `exit 75 (try again later)\n${out}`);
    assert.match(out, /ERR_KUBERNETES_UNREACHABLE: kubernetes: .*no answer in 2 s \(API server at https:\/\/127\.0\.0\.1:\d+\)/, out);
  }
});

test('state in Secrets behind an API server that refuses connections: the same error and exit 75 as a silent one', { timeout: 60_000 }, async () => {
  const port = await freePort();
  const dir = await tempDir();
  const kubeconfig = join(dir, 'kubeconfig');
  await writeFile(kubeconfig, kubeconfigText(port), { mode: 0o600 });
  const config = join(dir, 'certpilot.yaml');
  await writeFile(config, `stateDir: ${JSON.stringify(join(dir, 'state'))}\nacme: { directoryUrl: "https://127.0.0.1:9/dir" }\nstateStore: { type: kubernetes-secret, kubeconfig: ${JSON.stringify(kubeconfig)} }\ncertificates: [{ name: www, domains: [www.example.test] }]\n`);
  for (const command of ['status', 'renew']) {
    const child = spawn(process.execPath, [cliPath, command, '--config', config], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
    assert.equal(code, 75, `${command}: exit 75 (try again later)\n${out}`);
    assert.match(out, new RegExp(`ERR_KUBERNETES_UNREACHABLE: kubernetes: list secrets in namespace web: ECONNREFUSED \\(API server at https://127\\.0\\.0\\.1:${port}\\)`), out);
  }
});

test('daemon with state in Secrets and the Lease: waits for an API server that is down, answers /healthz and /metrics meanwhile, starts once it is back; a SIGHUP in an outage keeps the running configuration', { timeout: 120_000 }, async (t) => {
  const dir = await tempDir();
  const kubeconfig = join(dir, 'kubeconfig');
  await writeFile(kubeconfig, kubeconfigText(await freePort()), { mode: 0o600 });
  const config = join(dir, 'certpilot.yaml');
  const listen = await freePort();
  await writeFile(
    config,
    `stateDir: ${JSON.stringify(join(dir, 'state'))}\nacme: { directoryUrl: "https://127.0.0.1:9/dir" }\n` +
      `stateStore: { type: kubernetes-secret, kubeconfig: ${JSON.stringify(kubeconfig)}, requestTimeoutSeconds: 2 }\n` +
      `locker: { type: lease, kubeconfig: ${JSON.stringify(kubeconfig)}, identity: replica, requestTimeoutSeconds: 2 }\n` +
      `certificates: [{ name: www, domains: [www.example.test] }]\n`,
  );
  const child = spawn(process.execPath, [cliPath, 'daemon', '--config', config, '--listen', `127.0.0.1:${listen}`], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  let exited: number | null | undefined;
  const exit = new Promise<number | null>((r) => child.once('exit', (c) => r((exited = c))));
  t.after(() => {
    if (exited === undefined) child.kill('SIGKILL');
  });
  const log = (): string => out;
  const metrics = async (): Promise<string | undefined> => {
    const r = await fetchBuffered(`http://127.0.0.1:${listen}/metrics`).catch(() => undefined);
    return r?.status === 200 ? r.text : undefined;
  };

  // Down at start: one warning per attempt, naming the API server, the retry and its time; the process stays.
  await until(() => (log().match(/not started yet: the Kubernetes API server could not be reached/g) ?? []).length >= 2 || exited !== undefined, 60_000);
  assert.equal(exited, undefined, `the daemon exited while the API server was down:\n${log()}`);
  assert.match(log(), /not started yet: the Kubernetes API server could not be reached \(kubernetes: list secrets in namespace web: ECONNREFUSED \(API server at https:\/\/127\.0\.0\.1:\d+\)\); retrying in 2 s, at \d{4}-\d\d-\d\dT/, log());
  assert.match(log(), /retrying in 4 s, at /, log());
  assert.equal((await fetchBuffered(`http://127.0.0.1:${listen}/healthz`)).status, 200);
  const down = await metrics();
  assert.match(down ?? '', /^certpilot_state_backend_unreachable 1$/m, down);

  // Back (the kubeconfig now names a live API server): the next attempt starts the daemon.
  const standin = await startKubeStandin({ namespace: 'web' });
  t.after(() => standin.stop());
  await writeFile(kubeconfig, (await readFile(await standin.writeKubeconfig(), 'utf8')).replace(/namespace: \S+/, 'namespace: web'), { mode: 0o600 });
  child.kill('SIGHUP');
  await until(() => /daemon started/.test(log()) || exited !== undefined, 60_000);
  assert.match(log(), /daemon started/, log());
  // The first cycle runs www (no certificate yet: due) under its Lease.
  await until(() => standin.requests.some((r) => r.resource === 'leases'), 60_000);
  let up: string | undefined;
  for (let i = 0; i < 60 && !/^certpilot_state_backend_unreachable 0$/m.test(up ?? ''); i++) up = await metrics();
  assert.match(up ?? '', /^certpilot_state_backend_unreachable 0$/m, up);

  // Down again: /metrics still answers 200 (the gauge says 1); SIGHUP keeps the running configuration.
  await standin.stop();
  const again = await metrics();
  assert.match(again ?? '', /^certpilot_state_backend_unreachable 1$/m, again);
  // The page is the last one read, and says so (a green page from before the outage is not now).
  const page = await fetchBuffered(`http://127.0.0.1:${listen}/`);
  assert.equal(page.status, 200);
  assert.match(page.text, /<p class="stale"><strong>The state store cannot be read now<\/strong> \(.*ECONNREFUSED.*\): this page is the status as last read, at /, page.text);
  child.kill('SIGHUP');
  await until(() => /configuration NOT reloaded/.test(log()), 60_000);
  assert.match(log(), /configuration NOT reloaded: the Kubernetes API server could not be reached \(.*ECONNREFUSED.*\); the running configuration is kept/, log());
  assert.doesNotMatch(log(), /fix the file/, log());
  child.kill('SIGTERM');
  assert.equal(await exit, 0, log());
});
