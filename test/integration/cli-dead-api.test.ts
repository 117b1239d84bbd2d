// An API server that accepts connections and never answers: the request's timeout ends the command
// with its error, and the process exits then, instead of being held open by the unanswered socket
// (a CronJob pod that never ends blocks the next run under concurrencyPolicy: Forbid).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { cliPath, tempDir, testCaFile } from '../harness/certpilot.js';

test('state in Secrets behind an API server that never answers: status and renew fail after requestTimeoutSeconds and exit', { timeout: 90_000 }, async (t) => {
  const held: Socket[] = [];
  const silent = createServer((socket) => void held.push(socket));
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  t.after(() => {
    for (const s of held) s.destroy();
    silent.close();
  });
  const port = (silent.address() as { port: number }).port;
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
    assert.notEqual(code, 0, out);
    assert.match(out, /ERR_KUBERNETES_API: kubernetes: .*no answer in 2 s/, out);
  }
});
