// Both Kubernetes deployers pass the deployer contract (src/testing/deployer-contract.ts) on the
// stand-in: kubernetes-secret observed as the Secret's data, kubernetes-reload as the serial each
// apache pod serves.
import type { TestContext } from 'node:test';
import { test } from 'node:test';
import { normalizeSerial, probeServedSerial } from '../../src/deploy/kubernetes-reload/tls-probe.js';
import type { StoredCertificate } from '../../src/storage/certificate-store.js';
import { deployerContract } from '../../src/testing/deployer-contract.js';
import { APACHE_BINARY } from '../harness/apache-pod.js';
import { makeDeployer, reloadOptions } from '../harness/kube-deployers.js';
import { startStandinWithPods, storedCertificate } from '../harness/kube-fixtures.js';
import { startKubeStandin } from '../harness/kube-standin.js';
import { resolveBinary } from '../harness/paths.js';
import { serversRequired } from '../harness/servers.js';

function versions(): (n: number) => StoredCertificate {
  const made = new Map<number, StoredCertificate>();
  return (n) => {
    let c = made.get(n);
    if (!c) made.set(n, (c = storedCertificate(n)));
    return c;
  };
}

deployerContract('kubernetes-secret', async () => {
  const standin = await startKubeStandin();
  const certificate = versions();
  const deployer = await makeDeployer('kubernetes-secret', standin, { secretName: 'www-certificate', keys: { 'tls.crt': 'fullchain', 'tls.key': 'key' } });
  return {
    deployer,
    certificate,
    observe: async () => standin.secretData('www-certificate'),
    expected: (c) => ({ 'tls.crt': c.fullchainPem, 'tls.key': c.privateKeyPem }),
    close: () => standin.stop(),
  };
});

// A missing apache2 skips (or fails in CI) like requireApache, outside a test context.
const apache = resolveBinary(APACHE_BINARY) !== undefined;
if (!apache && serversRequired()) throw new Error(`missing ${APACHE_BINARY}; CERTPILOT_REQUIRE_SERVERS is set`);
if (!apache) void test('kubernetes-reload contract', (t: TestContext) => t.skip(`missing server binary ${APACHE_BINARY} (Debian package apache2)`));
else
  deployerContract(
    'kubernetes-reload',
    async () => {
      const certificate = versions();
      const standin = await startStandinWithPods({ pods: 2, initial: storedCertificate(0), projectionDelayMs: () => 100 });
      const secret = await makeDeployer('kubernetes-secret', standin, { secretName: 'www-certificate' });
      const reload = await makeDeployer('kubernetes-reload', standin, reloadOptions(standin));
      const probe = async (): Promise<string[]> =>
        Promise.all(standin.podNames().map((n) => probeServedSerial({ host: standin.podAddress(n).ip, port: standin.podPort, serverName: 'www.example.test', timeoutMs: 5000 })));
      return {
        // The reload deployer runs after the Secret's, as in a certificate's deploy list.
        deployer: {
          id: 'reload',
          deploy: async (c, o) => {
            await secret.deploy(c, o);
            return reload.deploy(c, o);
          },
        },
        certificate,
        observe: probe,
        expected: (c) => standin.podNames().map(() => normalizeSerial(c.metadata.serialNumber)),
        close: () => standin.stop(),
      };
    },
    { timeout: 90_000 },
  );
