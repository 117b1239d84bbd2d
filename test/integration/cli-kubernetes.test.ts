// The whole flow through the built CLI: renew against Pebble 2.4 → Secret (server-side apply) →
// propagation wait → rolling reload → TLS verification of every apache pod of the stand-in.
// First with the patch forbidden (no pod touched, exit non-zero, the next run retries the deploy
// without a new order), then allowed. Every process argv started meanwhile on this machine and
// every line the CLI writes are searched for the private key.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { normalizeSerial, probeServedSerial } from '../../src/deploy/kubernetes-reload/tls-probe.js';
import { runCli, tempDir, writeConfig } from '../harness/certpilot.js';
import { reloadsBeforeProjection, requireApache, startStandinWithPods, storedCertificate, until } from '../harness/kube-fixtures.js';
import { startFaultProxy } from '../harness/fault-proxy.js';
import { startPebble } from '../harness/pebble.js';
import { requirePebble } from '../harness/servers.js';

const DOMAIN = 'www.k8s.test';

/** Samples the argv of every process on the machine until stopped (every 50 ms). */
function watchArgv(): { stop: () => Promise<string[]> } {
  const seen = new Set<string>();
  let running = true;
  // Stopped by the test or, when an assertion fails first, by t.after.
  const loop = (async () => {
    while (running) {
      for (const pid of await readdir('/proc').catch(() => [] as string[])) {
        if (!/^\d+$/.test(pid)) continue;
        const cmd = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
        if (cmd) seen.add(cmd.split('\0').join(' '));
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return [...seen];
    },
  };
}

void test('certpilot renew → Secret → propagation wait → rolling reload → every pod verified; a forbidden patch touches no pod and the next run retries', { timeout: 180_000 }, async (t) => {
  if (!requirePebble(t, '2.4') || !requireApache(t)) return;
  const pebble = await startPebble({ version: '2.4', noSleep: true, authzReuse: 0 });
  t.after(() => pebble.stop());
  const proxy = await startFaultProxy(pebble);
  t.after(() => proxy.stop());
  const initial = storedCertificate(1, [DOMAIN]);
  const delays = [900, 200, 500];
  // The deck's Role, with `get` on pods/exec added: a WebSocket exec is a GET (docs/kubernetes.md).
  const deckRole = [
    { verbs: ['get', 'list'], resources: ['pods'] },
    { verbs: ['get', 'create'], resources: ['pods/exec'] },
    { verbs: ['get'], resources: ['secrets'], resourceNames: ['www-certificate'] },
  ];
  const standin = await startStandinWithPods({ pods: 3, initial, rules: deckRole, projectionDelayMs: (p) => delays[Number(p.split('-')[1])] ?? 0 });
  t.after(() => standin.stop());
  const kubeconfig = await standin.writeKubeconfig();
  const dir = await tempDir();
  const config = await writeConfig(dir, {
    directoryUrl: proxy.directoryUrl,
    httpPort: pebble.httpPort,
    deployers: {
      secret: { type: 'kubernetes-secret', kubeconfig, secretName: 'www-certificate' },
      reload: {
        type: 'kubernetes-reload',
        kubeconfig,
        secretName: 'www-certificate',
        pollIntervalSeconds: 0.2,
        propagationTimeoutSeconds: 30,
        groups: [{ name: 'www', selector: 'app=www', container: 'apache', command: ['apachectl', 'graceful'], port: standin.podPort }],
      },
    },
    certificates: [{ name: 'www', domains: [DOMAIN], deploy: ['secret', 'reload'] }],
  });
  const served = async (): Promise<string[]> =>
    Promise.all(standin.podNames().map((n) => probeServedSerial({ ...standin.podAddress(n), host: standin.podAddress(n).ip, serverName: DOMAIN, timeoutMs: 5000 })));
  const keyPem = async (): Promise<string> => readFile(join(dir, 'state', 'live', 'www', 'privkey.pem'), 'utf8');

  // 1. The Role lacks patch: issued and saved, the Secret refused, no pod touched, exit non-zero.
  const argv = watchArgv();
  t.after(() => argv.stop());
  const first = await runCli(['renew', '--config', config, '--verbose']);
  assert.equal(first.code, 1, `${first.stdout}\n${first.stderr}`);
  assert.match(first.stdout + first.stderr, /ERR_KUBERNETES_FORBIDDEN/);
  assert.match(first.stdout + first.stderr, /may not patch secrets "www-certificate"/);
  assert.equal(standin.execs.length, 0, 'no pod was touched');
  assert.deepEqual(await served(), Array(3).fill(normalizeSerial(initial.metadata.serialNumber)));
  // newOrder requests so far (a badNonce retry counts twice: compare, do not count).
  const newOrders = (): number => proxy.requests.byPath['POST /order-plz'] ?? 0;
  const ordersAfterFirst = newOrders();
  assert.ok(ordersAfterFirst >= 1);

  // 2. Patch granted: the next run deploys the saved certificate (no new order) and proves every pod.
  standin.rules = [...deckRole, { verbs: ['patch'], resources: ['secrets'], resourceNames: ['www-certificate'] }];
  const second = await runCli(['renew', '--config', config, '--verbose', '--log-format', 'json']);
  assert.equal(second.code, 0, `${second.stdout}\n${second.stderr}`);
  // Every reload line names its deployer once (the logger's context already carries it).
  const reloadLines = second.stderr.split('\n').filter((l) => l.startsWith('{') && l.includes('kubernetes-reload:'));
  assert.ok(reloadLines.some((l) => l.includes('every pod serves the new certificate')), second.stderr);
  for (const l of reloadLines) assert.equal((l.match(/"deployer":/g) ?? []).length, 1, l);
  const lines = [...first.stdout.split('\n'), ...first.stderr.split('\n'), ...second.stdout.split('\n'), ...second.stderr.split('\n')];
  const processes = await argv.stop();
  assert.equal(newOrders(), ordersAfterFirst, 'the retry deploys the saved certificate without a new order');
  assert.match(second.stdout, /www/);
  const leaf = new X509Certificate(await readFile(join(dir, 'state', 'live', 'www', 'cert.pem')));
  const serial = normalizeSerial(leaf.serialNumber);
  assert.deepEqual(await served(), [serial, serial, serial]);
  const reloads = standin.execs.filter((e) => e.argv[0] === 'apachectl').map((e) => e.pod);
  assert.deepEqual(reloads.sort(), ['www-0', 'www-1', 'www-2'], 'one reload per pod');
  assert.deepEqual(reloadsBeforeProjection(standin), [], 'no pod reloaded before it saw the new Secret');
  assert.equal(standin.secretData('www-certificate').other, 'kept');

  // 3. No private key in any argv or output line (PEM body, its base64 as the deck passed it).
  const key = await keyPem();
  const body = key.split('\n').filter((l) => l && !l.startsWith('-----')).join('');
  const needles = [body.slice(0, 40), body.slice(-40), Buffer.from(key).toString('base64').slice(20, 60)];
  assert.ok(processes.length > 10 && processes.some((p) => p.includes('certpilot.js renew')), 'the sampler saw the CLI');
  for (const text of [...processes, ...standin.spawned.map((a) => a.join(' ')), ...standin.execs.map((e) => e.argv.join(' ')), ...lines]) {
    for (const n of needles) assert.ok(!text.includes(n), `private key material in: ${text.slice(0, 120)}`);
  }
  assert.ok(lines.some((l) => /kubernetes-reload|3 pod\(s\) serve/.test(l)), 'the deploy was logged');
});

void test('certpilot renew: one pod\'s reload fails → exit 1 with the exact report; the next nothing-due renew resumes the rollout', { timeout: 180_000 }, async (t) => {
  if (!requirePebble(t, '2.4') || !requireApache(t)) return;
  const pebble = await startPebble({ version: '2.4', noSleep: true, authzReuse: 0 });
  t.after(() => pebble.stop());
  const initial = storedCertificate(1, [DOMAIN]);
  const old = normalizeSerial(initial.metadata.serialNumber);
  // www-0 sees the Secret first; www-1 once www-0 is done (triggered below); www-2 not before the end.
  const standin = await startStandinWithPods({ pods: 3, initial, projectionDelayMs: (p) => (p === 'www-0' ? 100 : Infinity) });
  t.after(() => standin.stop());
  await standin.podApache('www-1').breakConfig(true);
  const kubeconfig = await standin.writeKubeconfig();
  const dir = await tempDir();
  const config = await writeConfig(dir, {
    directoryUrl: pebble.directoryUrl,
    httpPort: pebble.httpPort,
    deployers: {
      secret: { type: 'kubernetes-secret', kubeconfig, secretName: 'www-certificate' },
      reload: { type: 'kubernetes-reload', kubeconfig, secretName: 'www-certificate', pollIntervalSeconds: 0.2, groups: [{ name: 'www', selector: 'app=www', command: ['apachectl', 'graceful'], port: standin.podPort }] },
    },
    certificates: [{ name: 'www', domains: [DOMAIN], deploy: ['secret', 'reload'] }],
  });
  const running = runCli(['renew', '--config', config]);
  await until(() => standin.execs.some((e) => e.pod === 'www-0' && e.argv[0] === 'apachectl' && e.exitCode === 0), 120_000);
  await standin.projectNow('www-1');
  const first = await running;
  assert.equal(first.code, 1, `${first.stdout}\n${first.stderr}`);
  const serial = normalizeSerial(new X509Certificate(await readFile(join(dir, 'state', 'live', 'www', 'cert.pem'))).serialNumber);
  const out = first.stdout + first.stderr;
  t.diagnostic(first.stdout);
  assert.match(out, /ERR_DEPLOY_RELOAD_FAILED/);
  assert.match(out, /`apachectl graceful` exited 1 in pod www-1/);
  assert.ok(out.includes(`rollout stopped: www-0 reloaded, serves ${serial} (new); www-1 failed, serves ${old} (old); www-2 untouched, serves ${old} (old)`), out);

  await standin.podApache('www-1').breakConfig(false);
  await standin.projectNow();
  const second = await runCli(['renew', '--config', config]);
  assert.equal(second.code, 0, `${second.stdout}\n${second.stderr}`);
  const served = await Promise.all(standin.podNames().map((n) => probeServedSerial({ host: standin.podAddress(n).ip, port: standin.podPort, serverName: DOMAIN, timeoutMs: 5000 })));
  assert.deepEqual(served, [serial, serial, serial]);
  // www-0 is not reloaded again; www-1 (failed before) and www-2 are, in whichever order they see the Secret.
  assert.deepEqual(standin.execs.filter((e) => e.argv[0] === 'apachectl').map((e) => e.pod).sort(), ['www-0', 'www-1', 'www-1', 'www-2']);
});
