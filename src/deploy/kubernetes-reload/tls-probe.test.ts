// The reload proof is the served leaf's SHA-256 fingerprint, not its serial: real TLS servers on
// loopback stand in for two pods; one serves the deployed certificate, the other a self-signed
// certificate minted with the same serial (serials are public). The second must fail, named.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createServer, type Server } from 'node:tls';
import type { V1Pod } from '@kubernetes/client-node';
import { CertpilotError } from '../../errors.js';
import type { ExecResult, KubernetesClient } from '../../kubernetes/kubernetes-client.js';
import { silentLogger } from '../../logger.js';
import type { StoredCertificate } from '../../storage/certificate-store.js';
import { makeTestBundle } from '../../testing/certificate-fixtures.js';
import { FakeClock } from '../../testing/fake-clock.js';
import { KubernetesReloadDeployer } from './kubernetes-reload-deployer.js';
import { normalizeSerial, pemFingerprints, probeServedCertificate } from './tls-probe.js';

const bundle = makeTestBundle({ domains: ['www.example.test'] });
const deployed: StoredCertificate = { ...bundle, name: 'www', version: 2, paths: { dir: '/unused', cert: '', chain: '', fullchain: '', privkey: '' } };

/** A self-signed certificate for the same name with the same serial as the deployed one. */
function forgeSameSerial(): { cert: string; key: string } {
  const dir = mkdtempSync(join(tmpdir(), 'certpilot-forge-'));
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'k.pem', '-out', 'c.pem', '-subj', '/CN=www.example.test', '-days', '2', '-set_serial', `0x${bundle.metadata.serialNumber}`], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
    return { cert: readFileSync(join(dir, 'c.pem'), 'utf8'), key: readFileSync(join(dir, 'k.pem'), 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function serve(cert: string, key: string): Promise<Server> {
  return new Promise((resolve) => {
    const server = createServer({ cert, key }, (s) => s.end());
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

const port = (s: Server): number => (s.address() as AddressInfo).port;

describe('kubernetes-reload verifies pods by fingerprint', () => {
  const forged = forgeSameSerial();
  let genuine: Server;
  let impostor: Server;
  let leafOnly: Server;
  before(async () => {
    genuine = await serve(bundle.fullchainPem, bundle.privateKeyPem);
    impostor = await serve(forged.cert, forged.key);
    leafOnly = await serve(bundle.certPem, bundle.privateKeyPem);
  });
  after(() => {
    for (const s of [genuine, impostor, leafOnly]) s.close();
  });

  it('the probe reads the leaf fingerprint and the chain sent after it', async () => {
    const got = await probeServedCertificate({ host: '127.0.0.1', port: port(genuine), serverName: 'www.example.test', timeoutMs: 5000 });
    assert.equal(got.serial, normalizeSerial(bundle.metadata.serialNumber), 'whole bytes: a leading 0 nibble stays');
    assert.equal(got.fingerprint, pemFingerprints(bundle.certPem)[0]);
    assert.deepEqual(got.chain.slice(0, 1), pemFingerprints(bundle.chainPem));
    const fake = await probeServedCertificate({ host: '127.0.0.1', port: port(impostor), serverName: 'www.example.test', timeoutMs: 5000 });
    assert.equal(fake.serial, got.serial, 'the forged certificate really has the same serial');
    assert.notEqual(fake.fingerprint, got.fingerprint);
  });

  /** Two "pods" whose TLS endpoints are the servers given; every reload exits 0 and changes nothing. */
  function deployer(servers: Record<string, Server>, verifyChain = false): { d: KubernetesReloadDeployer; reloads: string[] } {
    const names = Object.keys(servers);
    const pods: V1Pod[] = names.map((name, i) => ({
      metadata: { name, uid: `uid-${name}`, labels: { app: 'www' } },
      spec: { containers: [{ name: 'web', volumeMounts: [{ name: 'tls', mountPath: '/tls' }] }], volumes: [{ name: 'tls', secret: { secretName: 'www-tls' } }] },
      status: { phase: 'Running', podIP: `10.0.0.${i + 1}` },
    }));
    const data = Buffer.from(bundle.fullchainPem).toString('base64');
    const digest = createHash('sha256').update(bundle.fullchainPem).digest('hex');
    const reloads: string[] = [];
    const client = {
      namespace: 'ns',
      getSecret: async () => ({ data: { 'tls.crt': data }, metadata: { annotations: { 'certpilot.io/serial': bundle.metadata.serialNumber, 'certpilot.io/sha256': pemFingerprints(bundle.certPem)[0] } } }),
      listPods: async () => pods,
      exec: async (pod: string, _c: string | undefined, argv: readonly string[]): Promise<ExecResult> => {
        if (argv[0] === 'sha256sum') return { exitCode: 0, stdout: `${digest}  ${argv[1] ?? ''}\n`, stderr: '', protocol: 'v5.channel.k8s.io' };
        reloads.push(pod);
        return { exitCode: 0, stdout: '', stderr: '', protocol: 'v5.channel.k8s.io' };
      },
    } as unknown as KubernetesClient;
    const byIp = new Map(pods.map((p, i) => [p.status?.podIP ?? '', servers[names[i] ?? ''] as Server]));
    const d = new KubernetesReloadDeployer({
      id: 'reload',
      client,
      secretName: 'www-tls',
      key: 'tls.crt',
      groups: [{ name: 'www', selector: 'app=www', command: ['apachectl', 'graceful'], port: 443, maxUnavailable: 1 }],
      propagationTimeoutSeconds: 5,
      pollIntervalSeconds: 1,
      verifyTimeoutSeconds: 2,
      digestCommand: ['sha256sum'],
      verifyChain,
      logger: silentLogger,
      clock: new FakeClock(),
      probe: (o) => probeServedCertificate({ ...o, host: '127.0.0.1', port: port(byIp.get(o.host) as Server) }),
    });
    return { d, reloads };
  }

  it('a pod serving a self-signed certificate with the right serial fails verification, naming the pod', async () => {
    const { d, reloads } = deployer({ 'www-0': genuine, 'www-1': impostor });
    await assert.rejects(d.deploy(deployed), (e: unknown) => {
      assert.ok(e instanceof CertpilotError);
      assert.equal(e.code, 'ERR_DEPLOY_VERIFY_FAILED');
      assert.match(e.message, /pod www-1 \(10\.0\.0\.2:443\) serves serial [0-9a-f]+ \(NOT the deployed certificate: SHA-256 [0-9a-f]{16}…\)/);
      assert.match(e.message, /www-0 serving, serves [0-9a-f]+ \(new\)/);
      return true;
    });
    assert.deepEqual(reloads, ['www-1'], 'the genuine pod was not reloaded; the impostor was, and then failed');
  });

  it('verifyChain: a pod sending the right leaf without the deployed chain fails only when verifyChain is on', async () => {
    const plain = deployer({ 'www-0': genuine, 'www-1': leafOnly });
    const r = await plain.d.deploy(deployed);
    assert.equal(plain.reloads.length, 0, `both already serve the deployed leaf: ${r.message}`);
    const strict = deployer({ 'www-0': genuine, 'www-1': leafOnly }, true);
    await assert.rejects(strict.d.deploy(deployed), /pod www-1 .* serves serial [0-9a-f]+ \(new, but not the deployed chain\)/);
  });
});
