// A kubernetes-secret target that lost the live version, through the built CLI against Pebble 2.4
// and the Kubernetes stand-in with apache pods: the Secret deleted by the real kubectl, then
// overwritten by another writer (certpilot's annotations kept) → `status` and the metrics textfile
// say lost, a nothing-due `renew` writes it again (tls.crt's fingerprint the live certificate's)
// and the kubernetes-reload after it runs (a pod serving the other certificate is reloaded); under
// a Role without `create` that redeploy fails and reloads no pod. A Role without `get` on the
// Secret, or an API server that refuses connections: a warning naming why, no redeploy, no write.
import assert from 'node:assert/strict';
import { createHash, X509Certificate } from 'node:crypto';
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { normalizeSerial, probeServedSerial } from '../../src/deploy/kubernetes-reload/tls-probe.js';
import { runCli, tempDir, writeConfig } from '../harness/certpilot.js';
import { requireApache, startStandinWithPods, storedCertificate } from '../harness/kube-fixtures.js';
import { startPebble } from '../harness/pebble.js';
import { freePort } from '../harness/ports.js';
import { requirePebble, requireServer } from '../harness/servers.js';

const DOMAIN = 'www.k8s.test';
const SECRET = 'www-certificate';
const KUBECTL = '/usr/bin/kubectl';
/** Runs a program without blocking the loop (the stand-in answers kubectl from this process). */
const run = promisify(execFile);

/** SHA-256 of the first certificate of a PEM text. */
function leafFingerprint(pem: string): string {
  return createHash('sha256').update(new X509Certificate(pem).raw).digest('hex');
}

void test('a deleted or overwritten Secret shows as lost in status and the metrics, a nothing-due renew writes it again and reloads; a Role without get, or an API server down, warns and writes nothing', { timeout: 240_000 }, async (t) => {
  if (!requirePebble(t, '2.4') || !requireApache(t) || !requireServer(t, KUBECTL, 'kubectl from the machine image or Debian `kubernetes-client`')) return;
  const pebble = await startPebble({ version: '2.4', noSleep: true, authzReuse: 0 });
  t.after(() => pebble.stop());
  const initial = storedCertificate(1, [DOMAIN]);
  // What `certpilot kubernetes manifests` grants these two deployers: get and patch on the one
  // Secret, create on Secrets (the first deploy, and a deleted Secret made again), the pods, exec.
  const role = [
    { verbs: ['get', 'patch'], resources: ['secrets'], resourceNames: [SECRET] },
    { verbs: ['create'], resources: ['secrets'] },
    { verbs: ['list'], resources: ['pods'] },
    { verbs: ['get', 'create'], resources: ['pods/exec'] },
  ];
  const standin = await startStandinWithPods({ pods: 2, initial, rules: role });
  t.after(() => standin.stop());
  const kubeconfig = await standin.writeKubeconfig();
  const dir = await tempDir();
  const config = await writeConfig(dir, {
    directoryUrl: pebble.directoryUrl,
    httpPort: pebble.httpPort,
    deployers: {
      secret: { type: 'kubernetes-secret', kubeconfig, secretName: SECRET },
      reload: { type: 'kubernetes-reload', kubeconfig, secretName: SECRET, pollIntervalSeconds: 0.2, groups: [{ name: 'www', selector: 'app=www', command: ['apachectl', 'graceful'], port: standin.podPort }] },
    },
    certificates: [{ name: 'www', domains: [DOMAIN], deploy: ['secret', 'reload'] }],
  });
  const metricsFile = join(dir, 'certpilot.prom');
  const upToDate = async (deployer: string): Promise<string | undefined> =>
    new RegExp(`^certpilot_deployer_up_to_date\\{name="www",deployer="${deployer}"\\} (\\d)$`, 'm').exec(await readFile(metricsFile, 'utf8'))?.[1];
  const served = async (): Promise<string[]> =>
    Promise.all(standin.podNames().map((n) => probeServedSerial({ host: standin.podAddress(n).ip, port: standin.podPort, serverName: DOMAIN, timeoutMs: 5000 })));
  const secretRequests = (verb: string): number => standin.requests.filter((r) => r.resource === 'secrets' && r.verb === verb).length;

  const first = await runCli(['renew', '--config', config]);
  assert.equal(first.code, 0, `${first.stdout}\n${first.stderr}`);
  const livePem = await readFile(join(dir, 'state', 'live', 'www', 'cert.pem'), 'utf8');
  const live = leafFingerprint(livePem);
  const serial = normalizeSerial(new X509Certificate(livePem).serialNumber);
  assert.deepEqual(await served(), [serial, serial]);
  const clean = await runCli(['status', '--config', config, '--metrics-file', metricsFile]);
  assert.equal(clean.code, 0, `${clean.stdout}\n${clean.stderr}`);
  assert.match(clean.stdout, /secret:v1 reload:v1/);
  assert.equal(await upToDate('secret'), '1');

  // 1. `kubectl delete secret`: status and the textfile say lost before any run repairs it.
  // By a cluster admin: the stand-in has one Role for every token, lifted for this one command.
  standin.rules = undefined;
  await run(KUBECTL, ['--kubeconfig', kubeconfig, 'delete', 'secret', SECRET], { timeout: 30_000 });
  standin.rules = role;
  assert.equal(standin.secret(SECRET), undefined);
  const gone = await runCli(['status', '--config', config, '--metrics-file', metricsFile]);
  assert.match(gone.stdout, /secret:v1\(lost\) reload:v1/, gone.stdout);
  assert.match(gone.stderr, /warning: www: deployer secret no longer holds v1: Secret default\/www-certificate not found; the next `certpilot renew`/);
  assert.equal(await upToDate('secret'), '0');

  // A nothing-due renew makes it again with the live certificate, and the reload after it runs.
  const execsBefore = standin.execs.length;
  const repaired = await runCli(['renew', '--config', config, '--verbose', '--log-format', 'json']);
  assert.equal(repaired.code, 0, `${repaired.stdout}\n${repaired.stderr}`);
  assert.equal(leafFingerprint(standin.secretData(SECRET)['tls.crt'] ?? ''), live, 'tls.crt holds the live certificate');
  assert.match(repaired.stderr, /Secret default\/www-certificate not found: deploying version 1 again/);
  assert.ok(repaired.stderr.split('\n').some((l) => l.includes('kubernetes-reload: every pod serves the new certificate')), repaired.stderr);
  assert.ok(standin.execs.length > execsBefore, 'the reload deployer looked at the pods');
  const after = await runCli(['status', '--config', config, '--metrics-file', metricsFile]);
  assert.match(after.stdout, /secret:v1 reload:v1/);
  assert.doesNotMatch(after.stderr, /no longer holds/);
  assert.equal(await upToDate('secret'), '1');

  // 2. Another writer puts another certificate in it (certpilot's annotations, serial included,
  // stay), and a pod restarted since serves it: the same as lost, and that pod is reloaded.
  const other = storedCertificate(1, [DOMAIN]);
  standin.touchSecret(SECRET, { data: { 'tls.crt': other.fullchainPem, 'tls.key': other.privateKeyPem } });
  await standin.projectNow();
  for (const argv of standin.podApache('www-0').gracefulArgv()) await run(argv[0] as string, argv.slice(1));
  const otherSerial = normalizeSerial(other.metadata.serialNumber);
  for (let i = 0; (await served())[0] !== otherSerial; i++) {
    assert.ok(i < 100, 'www-0 serves the other certificate after its restart');
    await new Promise((r) => setTimeout(r, 100));
  }
  const replaced = await runCli(['status', '--config', config, '--metrics-file', metricsFile]);
  assert.match(replaced.stdout, /secret:v1\(lost\)/);
  assert.match(replaced.stderr, /Secret default\/www-certificate holds another certificate in tls\.crt, SHA-256 [0-9a-f]{16}…/);
  assert.equal(await upToDate('secret'), '0');
  const execsReplaced = standin.execs.length;
  const restored = await runCli(['renew', '--config', config]);
  assert.equal(restored.code, 0, `${restored.stdout}\n${restored.stderr}`);
  assert.equal(leafFingerprint(standin.secretData(SECRET)['tls.crt'] ?? ''), live);
  assert.deepEqual(await served(), [serial, serial], 'every pod serves the live certificate again');
  assert.ok(standin.execs.some((e, i) => i >= execsReplaced && e.pod === 'www-0' && e.argv[0] === 'apachectl'), 'www-0 was reloaded');

  // 3. Deleted again under a Role without `create` (an overlay that dropped it once the Secret
  // existed): the redeploy fails naming `create`, and a failed Secret reloads no pod.
  standin.rules = undefined;
  await run(KUBECTL, ['--kubeconfig', kubeconfig, 'delete', 'secret', SECRET], { timeout: 30_000 });
  standin.rules = role.filter((r) => !(r.verbs.length === 1 && r.verbs[0] === 'create'));
  const execsNoCreate = standin.execs.length;
  const refused = await runCli(['renew', '--config', config]);
  assert.equal(refused.code, 1, `${refused.stdout}\n${refused.stderr}`);
  assert.match(refused.stdout + refused.stderr, /ERR_KUBERNETES_FORBIDDEN/);
  assert.match(refused.stdout + refused.stderr, /verbs: \["create"\]/);
  assert.equal(standin.execs.length, execsNoCreate, 'no pod touched');
  standin.rules = role;
  assert.equal((await runCli(['renew', '--config', config])).code, 0, 'the next run creates it');
  assert.equal(leafFingerprint(standin.secretData(SECRET)['tls.crt'] ?? ''), live);

  // 4. A Role without `get` on the Secret: not lost, a warning naming the verb; nothing written.
  standin.rules = role.map((r) => (r.resourceNames ? { ...r, verbs: ['patch'] } : r));
  const patches = secretRequests('patch');
  const forbidden = await runCli(['status', '--config', config, '--metrics-file', metricsFile]);
  assert.match(forbidden.stdout, /secret:v1 reload:v1/);
  assert.match(forbidden.stderr, /warning: www: deployer secret: could not check that its target holds v1 \(shown as its record says\): error ERR_KUBERNETES_FORBIDDEN: .*may not get secrets "www-certificate"/);
  assert.match(forbidden.stderr, /hint: grant the service account \{ apiGroups: \[""\], resources: \["secrets"\], verbs: \["get"\], resourceNames: \["www-certificate"\] \}/);
  assert.equal(await upToDate('secret'), '1', 'the record stands');
  const execsQuiet = standin.execs.length;
  const quiet = await runCli(['renew', '--config', config]);
  assert.equal(quiet.code, 0, `${quiet.stdout}\n${quiet.stderr}`);
  assert.match(quiet.stderr, /could not check that deployer secret still holds version 1; trusting its deploy record/);
  assert.match(quiet.stderr, /ERR_KUBERNETES_FORBIDDEN/);
  assert.equal(secretRequests('patch'), patches, 'no write');
  assert.equal(standin.execs.length, execsQuiet, 'no pod touched');

  // 5. The API server down (the kubeconfig's server refuses connections): not lost either.
  standin.rules = role;
  const dead = `https://127.0.0.1:${await freePort()}`;
  await writeFile(kubeconfig, (await readFile(kubeconfig, 'utf8')).replace(standin.url, dead));
  const down = await runCli(['status', '--config', config, '--metrics-file', metricsFile]);
  assert.match(down.stdout, /secret:v1 reload:v1/);
  assert.match(down.stderr, /warning: www: deployer secret: could not check that its target holds v1 \(shown as its record says\): error ERR_KUBERNETES_UNREACHABLE: .*ECONNREFUSED/);
  assert.equal(await upToDate('secret'), '1');
  const downRenew = await runCli(['renew', '--config', config]);
  assert.equal(downRenew.code, 0, `${downRenew.stdout}\n${downRenew.stderr}`);
  assert.match(downRenew.stdout, /not-due/);
  assert.match(downRenew.stderr, /could not check that deployer secret still holds version 1; trusting its deploy record.*ERR_KUBERNETES_UNREACHABLE/);
});
