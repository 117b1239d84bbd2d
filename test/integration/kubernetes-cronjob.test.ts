// The deck's production flow as a cluster would run it, from the generated manifests: the
// CronJob's pod spec runs in certpilot's container image (test/harness/pod-runner.ts: `buildah run`
// of the image scripts/image.sh builds, as user 65532 with the root read-only, the ConfigMap and
// Secret files, the emptyDirs, the claim and the service account mounted at their paths, envFrom
// the ConfigMap) against the Kubernetes stand-in holding exactly the generated Role, Pebble, a
// Redis with a password (the Secret the user creates), three `certpilot serve` pods and three
// apache pods: issue through Redis http-01, patch the Secret, reload and verify every pod. Inside
// the pod, a write outside the volumes fails with EROFS and the process is uid 65532. A second Job
// while the first holds the Lease makes no order. With any one Role rule removed the run fails
// naming that rule. Both --state pvc and --state secret.
//
// Without buildah (or root) the pods fall back to host processes and the test is a todo, never a
// pass; with CERTPILOT_REQUIRE_SERVERS=1 that is a failure.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import type { ICronJob } from 'kubernetes-models/batch/v1';
import { normalizeSerial, probeServedSerial } from '../../src/deploy/kubernetes-reload/tls-probe.js';
import { X509Certificate } from 'node:crypto';
import { DECK_NAMES as NAMES, startDeckCluster, type Rule } from '../harness/deck-cluster.js';
import { requireApache } from '../harness/kube-fixtures.js';
import { preparePod } from '../harness/pod-runner.js';
import { requirePebble, requireServer } from '../harness/servers.js';
import { CONFIG_SECTIONS } from '../../src/plugins/plugin-kinds.js';

/** Run in the pod: who it runs as, whether it is the image, and where it can write. */
const POD_PROBE = [
  "const fs = require('node:fs');",
  "const where = ['/app', '/usr/local/bin', '/var/tmp', '/run', '/etc/certpilot', '/var/run/secrets/kubernetes.io/serviceaccount', '/tmp', '/var/lib/certpilot'];",
  'const writes = {};',
  "for (const d of where) { const f = d + '/probe-' + process.pid; try { fs.writeFileSync(f, 'x'); fs.unlinkSync(f); writes[d] = 'ok'; } catch (e) { writes[d] = e.code; } }",
  "console.log(JSON.stringify({ uid: process.getuid(), gid: process.getgid(), image: fs.existsSync('/app/certpilot.js') && process.execPath === '/usr/local/bin/node', writes }));",
].join('\n');

const describeRule = (r: Rule): string => `${r.verbs.join(',')} ${r.resources.join(',')}${r.resourceNames ? ` ${r.resourceNames.join(',')}` : ''}`;

// The state store declares its Role rules once it is a plug-in kind (a `stateStore` section of the table).
const STATE_RULES_DECLARED = Object.hasOwn(CONFIG_SECTIONS, 'stateStore');

for (const STATE of ['pvc', 'secret'] as const) {
  const todo = STATE === 'secret' && !STATE_RULES_DECLARED ? { todo: 'the state store declares no Role rules yet (it becomes a plug-in kind)' } : {};
  void test(`--state ${STATE}: the generated CronJob, run as a cluster would: Redis http-01, the Secret, every pod reloaded and verified; a second Job makes no order; each Role rule is needed`, { timeout: 900_000, ...todo }, async (t) => {
    if (!requirePebble(t, '2.4') || !requireServer(t, 'redis-server') || !requireApache(t)) return;
    const { runtime, redis, standin, objects, rules, cluster, claim, orders, asRules } = await startDeckCluster(t, ['--state', STATE]);
    if (!runtime.inImage) t.todo(`the pods ran on the host, not in the image: ${runtime.fallbackReason}`);
    const cron = objects.find((o) => o.kind === 'CronJob') as unknown as ICronJob;
    const role = { rules };
    const podSpec = cron.spec.jobTemplate.spec?.template.spec;
    assert.ok(podSpec);

    // 1. The Job: issue, the Secret, every pod reloaded and verified.
    const job = await preparePod(podSpec, cluster, runtime);
    if (runtime.inImage) assert.equal(job.env.CERTPILOT_CONFIG, '/etc/certpilot/certpilot.yaml');
    const first = await job.run();
    assert.equal(first.code, 0, `${first.stdout}\n${first.stderr}`);
    assert.match(first.stdout, /^issued +www/m);
    const fullchain = standin.secretData('www-certificate')['tls.crt'] ?? '';
    const leaf = new X509Certificate(fullchain);
    for (const name of NAMES) assert.ok(leaf.subjectAltName?.includes(`DNS:${name}`), `the Secret holds the new certificate for ${name}`);
    const serial = normalizeSerial(leaf.serialNumber);
    if (STATE === 'pvc') assert.equal(await readFile(join(claim, 'live', 'www', 'fullchain.pem'), 'utf8'), fullchain, 'saved on the claim');
    for (const name of standin.podNames()) {
      const { ip } = standin.podAddress(name);
      assert.equal(await probeServedSerial({ host: ip, port: standin.podPort, serverName: NAMES[0] as string, timeoutMs: 5000 }), serial, `${name} serves the new certificate`);
    }
    assert.equal(await redis.command('KEYS', '.well-known/acme-challenge/*'), '', 'no token left in Redis');
    assert.equal(orders(), 1);

    // The pod as the Job ran it: in the image, uid/gid 65532, the root read-only (EROFS, not a
    // permission: /var/tmp is 1777), the ConfigMap and service-account mounts read-only, only the
    // emptyDir /tmp and the state volume writable.
    if (runtime.inImage) {
      assert.equal(podSpec.containers[0]?.securityContext?.readOnlyRootFilesystem, true);
      const probe = await job.exec(['node', '-e', POD_PROBE]);
      assert.equal(probe.code, 0, probe.stderr);
      const seen = JSON.parse(probe.stdout) as { uid: number; gid: number; image: boolean; writes: Record<string, string> };
      assert.deepEqual(
        { uid: seen.uid, gid: seen.gid, image: seen.image },
        { uid: 65532, gid: 65532, image: true },
        'the Job ran in the image as 65532',
      );
      assert.deepEqual(seen.writes, {
        '/app': 'EROFS',
        '/usr/local/bin': 'EROFS',
        '/var/tmp': 'EROFS',
        '/run': 'EROFS',
        '/etc/certpilot': 'EROFS',
        '/var/run/secrets/kubernetes.io/serviceaccount': 'EROFS',
        '/tmp': 'ok',
        '/var/lib/certpilot': 'ok',
      });
    }

    // 2. A second Job while the first holds the Lease: no order.
    standin.putLease('certpilot-www', { holderIdentity: 'job-1_holder', leaseDurationSeconds: 300, acquireTime: new Date().toISOString().replace('Z', '000Z'), renewTime: new Date().toISOString().replace('Z', '000Z') });
    const second = await (await preparePod(podSpec, cluster, runtime)).run(['--force']);
    assert.match(second.stdout, /^locked +www/m, `${second.stdout}\n${second.stderr}`);
    assert.equal(orders(), 1, 'no order while another Job holds the Lease');
    standin.putLease('certpilot-www', { holderIdentity: '', leaseDurationSeconds: 300 });

    // 3. Least privilege: without any one rule the forced run fails, naming that rule.
    for (const [i, rule] of role.rules.entries()) {
      standin.rules = asRules(role.rules.filter((_, j) => j !== i));
      if (rule.resources.includes('leases') && rule.verbs.includes('create')) (standin as unknown as { leases: Map<string, unknown> }).leases.clear();
      // The deployer's `create` is called only while its Secret is absent: remove it for that run, put it back after.
      const createsSecret = rule.resources.includes('secrets') && rule.verbs.includes('create') && !rule.resourceNames;
      const kept = standin.secretData('www-certificate');
      if (createsSecret) (standin as unknown as { secrets: Map<string, unknown> }).secrets.delete('www-certificate');
      const run = await (await preparePod(podSpec, cluster, runtime)).run(['--force']);
      if (createsSecret && standin.secret('www-certificate') === undefined) standin.putSecret('www-certificate', kept, { type: 'kubernetes.io/tls' });
      const text = `${run.stdout}\n${run.stderr}`;
      assert.notEqual(run.code, 0, `the run succeeded without ${describeRule(rule)}:\n${text}`);
      const named = rule.verbs.some((v) => new RegExp(`\\b${v}\\b[^\\n]*${rule.resources[0]?.replace('/', '\\/')}|${rule.resources[0]?.replace('/', '\\/')}[^\\n]*\\b${v}\\b`).test(text));
      assert.ok(named, `the failure without ${describeRule(rule)} names it:\n${text}`);
      t.diagnostic(`without ${describeRule(rule)}: ${/ERR_[A-Z_]+[^\n]*/.exec(text)?.[0] ?? text.slice(0, 200)}`);
    }
    standin.rules = asRules(role.rules);
  });
}
