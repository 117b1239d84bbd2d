// Zero downtime, measured: real apache2 pods under a Connection: close load while certpilot
// deploys three new certificates in a row (Secret, propagation wait, graceful reload pod by pod).
// Not one request fails, and after each deploy every pod serves the new serial.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { normalizeSerial, probeServedSerial } from '../../src/deploy/kubernetes-reload/tls-probe.js';
import { makeDeployer, reloadOptions } from '../harness/kube-deployers.js';
import { requireApache, startStandinWithPods, storedCertificate } from '../harness/kube-fixtures.js';
import { startLoad } from '../harness/load-generator.js';

void test('three deploys with graceful reloads under Connection: close load: zero failed requests, the new serial after each', { timeout: 120_000 }, async (t) => {
  if (!requireApache(t)) return;
  const standin = await startStandinWithPods({ pods: 3, initial: storedCertificate(1), projectionDelayMs: () => 200 + Math.floor(Math.random() * 600) });
  try {
    const secret = await makeDeployer('kubernetes-secret', standin, { secretName: 'www-certificate' });
    const reload = await makeDeployer('kubernetes-reload', standin, reloadOptions(standin));
    const targets = standin.podNames().map((n) => ({ host: standin.podAddress(n).ip, port: standin.podPort, serverName: 'www.example.test' }));
    const load = startLoad(targets, 4);
    const serials: string[] = [];
    try {
      for (let version = 2; version <= 4; version++) {
        const cert = storedCertificate(version);
        await secret.deploy(cert, {});
        await reload.deploy(cert, {});
        const serial = normalizeSerial(cert.metadata.serialNumber);
        serials.push(serial);
        for (const target of targets) assert.equal(await probeServedSerial({ ...target, timeoutMs: 5000 }), serial);
      }
      // Keep the load on a moment after the last reload: the old children finish in-flight requests.
      await new Promise((r) => setTimeout(r, 300));
    } finally {
      const report = await load.stop();
      t.diagnostic(`load: ${report.requests} requests, ${report.failures} failed; by serial ${JSON.stringify(report.serials)}`);
      assert.equal(report.failures, 0, `failed requests: ${report.errors.join('; ')}`);
      assert.ok(report.requests > 100, `only ${report.requests} requests were made`);
      for (const s of serials) assert.ok((report.serials[s] ?? 0) > 0 || s === serials[serials.length - 1], `no response was served with ${s}`);
    }
    assert.equal(standin.execs.filter((e) => e.argv[0] === 'apachectl').length, 9, 'each pod reloaded once per deploy');
  } finally {
    await standin.stop();
  }
});
