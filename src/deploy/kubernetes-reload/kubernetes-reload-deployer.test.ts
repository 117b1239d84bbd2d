import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import type { V1Pod, V1Volume, V1VolumeMount } from '@kubernetes/client-node';
import { CertpilotError } from '../../errors.js';
import type { ExecResult, KubernetesClient } from '../../kubernetes/kubernetes-client.js';
import { silentLogger } from '../../logger.js';
import { FakeClock } from '../../testing/fake-clock.js';
import type { StoredCertificate } from '../../storage/certificate-store.js';
import { KubernetesReloadDeployer, type KubernetesReloadDeployerOptions } from './kubernetes-reload-deployer.js';
import { kubernetesReloadSchema } from './schema.js';
import { fingerprintDer, normalizeSerial, type ServedCertificate } from './tls-probe.js';

const NEW = '0AB1';
const OLD = 'ff02';
const pemOf = (text: string): string => `-----BEGIN CERTIFICATE-----\n${Buffer.from(text).toString('base64')}\n-----END CERTIFICATE-----\n`;
const cert = { name: 'www', version: 2, certPem: pemOf('NEW'), chainPem: pemOf('CA'), fullchainPem: 'NEW', metadata: { serialNumber: NEW, domains: ['*.example.test'] } } as unknown as StoredCertificate;
/** What a fake pod serving `serial` presents: the deployed leaf for NEW, another for anything else. */
const servedAs = (serial: string): ServedCertificate => ({ serial: normalizeSerial(serial), fingerprint: fingerprintDer(Buffer.from(normalizeSerial(serial) === normalizeSerial(NEW) ? 'NEW' : serial)), chain: [fingerprintDer(Buffer.from('CA'))] });
const digest = createHash('sha256').update('NEW').digest('hex');

function pod(name: string, o: { volume?: V1Volume; mounts?: V1VolumeMount[]; owner?: string; hash?: string } = {}): V1Pod {
  return {
    metadata: { name, uid: `uid-${name}`, labels: { app: 'www', ...(o.hash ? { 'pod-template-hash': o.hash } : {}) }, ...(o.owner ? { ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: o.owner, uid: 'rs', controller: true }] } : {}) },
    spec: {
      containers: [{ name: 'apache', volumeMounts: o.mounts ?? [{ name: 'tls', mountPath: '/etc/tls/' }] }],
      volumes: [o.volume ?? { name: 'tls', secret: { secretName: 'www-certificate' } }],
    },
    status: { phase: 'Running', podIP: `10.0.0.${name.slice(-1)}` },
  };
}

interface Fake {
  client: KubernetesClient;
  execs: { pod: string; argv: readonly string[] }[];
  serving: Map<string, string>;
  /** Pod → how many digest reads before it sees the new file (Infinity: never). */
  seesAfter: Map<string, number>;
  inFlight: { max: number };
}

function fake(pods: V1Pod[], secretSerial = NEW, reloadExit: (pod: string) => number = () => 0): Fake {
  const execs: Fake['execs'] = [];
  const serving = new Map(pods.map((p) => [p.status?.podIP ?? '', OLD]));
  const seesAfter = new Map<string, number>();
  const reads = new Map<string, number>();
  const inFlight = { max: 0 };
  let now = 0;
  const client = {
    namespace: 'ns',
    getSecret: async () => ({ data: { 'tls.crt': Buffer.from('NEW').toString('base64') }, metadata: { annotations: { 'certpilot.io/serial': secretSerial } } }),
    listPods: async () => pods,
    exec: async (name: string, _c: string | undefined, argv: readonly string[]): Promise<ExecResult> => {
      execs.push({ pod: name, argv });
      if (argv[0] === 'sha256sum') {
        const n = (reads.get(name) ?? 0) + 1;
        reads.set(name, n);
        const sees = n > (seesAfter.get(name) ?? 0);
        return { exitCode: 0, stdout: `${sees ? digest : 'f'.repeat(64)}  ${argv[1] ?? ''}\n`, stderr: '', protocol: 'v5.channel.k8s.io' };
      }
      now++;
      inFlight.max = Math.max(inFlight.max, now);
      await new Promise((r) => setTimeout(r, 5));
      now--;
      const exit = reloadExit(name);
      if (exit === 0) serving.set(pods.find((p) => p.metadata?.name === name)?.status?.podIP ?? '', normalizeSerial(NEW));
      return { exitCode: exit, stdout: '', stderr: exit ? 'boom\nreason line' : '', protocol: 'v5.channel.k8s.io' };
    },
  } as unknown as KubernetesClient;
  return { client, execs, serving, seesAfter, inFlight };
}

function deployer(f: Fake, clock: FakeClock, extra: Partial<KubernetesReloadDeployerOptions> = {}): KubernetesReloadDeployer {
  return new KubernetesReloadDeployer({
    id: 'reload',
    client: f.client,
    secretName: 'www-certificate',
    key: 'tls.crt',
    groups: [{ name: 'www', selector: 'app=www', container: 'apache', command: ['apachectl', 'graceful'], port: 443, maxUnavailable: 1 }],
    propagationTimeoutSeconds: 10,
    pollIntervalSeconds: 2,
    verifyTimeoutSeconds: 5,
    digestCommand: ['sha256sum'],
    logger: silentLogger,
    clock,
    probe: async ({ host }) => servedAs(f.serving.get(host) ?? ''),
    ...extra,
  });
}

void test('schema: exactly one of command and rolloutRestart per group', () => {
  const base = { secretName: 's', groups: [{ selector: 'app=x' }] };
  assert.equal(kubernetesReloadSchema().safeParse(base).success, false);
  assert.equal(kubernetesReloadSchema().safeParse({ ...base, groups: [{ selector: 'a=b', command: ['x'], rolloutRestart: 'owner' }] }).success, false);
  const ok = kubernetesReloadSchema().parse({ ...base, groups: [{ selector: 'a=b', command: ['apachectl', 'graceful'] }] });
  assert.equal(ok.groups[0]?.port, 443);
  assert.equal(ok.propagationTimeoutSeconds, 300);
});

void test('serials compare without case or leading zeros', () => {
  assert.equal(normalizeSerial('00:AB:01'), 'ab01');
  assert.equal(normalizeSerial('0'), '00');
  // Leading zeros of a byte stay, as openssl prints them: 091BF2…, not 91bf2….
  assert.equal(normalizeSerial('091BF2E1'), '091bf2e1');
  assert.equal(normalizeSerial('91bf2e1'), '091bf2e1');
  assert.equal(normalizeSerial('00:91:BF'), '91bf');
});

void test('the propagation wait polls on the clock and times out naming the pod, without sleeping for real', async () => {
  const f = fake([pod('www-0'), pod('www-1')]);
  f.seesAfter.set('www-1', Infinity);
  const clock = new FakeClock();
  await assert.rejects(deployer(f, clock).deploy(cert, {}), (e: unknown) => {
    assert.ok(e instanceof CertpilotError);
    assert.equal(e.code, 'ERR_DEPLOY_PROPAGATION_TIMEOUT');
    assert.match(e.message, /pod www-1 did not see the new Secret in \/etc\/tls\/tls\.crt within 10 s/);
    assert.match(e.message, /www-0 reloaded, serves 0ab1 \(new\); www-1 untouched, serves ff02 \(old\)$/);
    return true;
  });
  assert.ok(clock.sleeps.every((ms) => ms === 2000 || ms === 500));
  assert.deepEqual(f.execs.filter((e) => e.argv[0] === 'apachectl').map((e) => e.pod), ['www-0']);
});

void test('a projected volume with items: the digest is read at the item path', async () => {
  const volume = { name: 'certs', projected: { sources: [{ secret: { name: 'www-certificate', items: [{ key: 'tls.crt', path: 'server/cert.pem' }] } }] } };
  const f = fake([pod('www-0', { volume, mounts: [{ name: 'certs', mountPath: '/srv' }] })]);
  await deployer(f, new FakeClock()).deploy(cert, {});
  assert.deepEqual(f.execs[0]?.argv, ['sha256sum', '/srv/server/cert.pem']);
});

void test('a subPath mount or a Secret without the new serial touches no pod', async () => {
  const f = fake([pod('www-0'), pod('www-1', { mounts: [{ name: 'tls', mountPath: '/etc/tls/tls.crt', subPath: 'tls.crt' }] })]);
  await assert.rejects(deployer(f, new FakeClock()).deploy(cert, {}), (e: CertpilotError) => e.code === 'ERR_DEPLOY_SUBPATH_MOUNT' && /pod www-1/.test(e.message));
  const stale = fake([pod('www-0')], OLD);
  await assert.rejects(deployer(stale, new FakeClock()).deploy(cert, {}), (e: CertpilotError) => e.code === 'ERR_DEPLOY_SECRET_STALE' && /holds serial ff02, not 0ab1/.test(e.message));
  assert.equal(f.execs.length + stale.execs.length, 0);
});

void test('maxUnavailable bounds the reloads in flight; the first failure stops new reloads', async () => {
  const pods = ['www-0', 'www-1', 'www-2', 'www-3'].map((n) => pod(n));
  const f = fake(pods);
  const two = deployer(f, new FakeClock(), { groups: [{ selector: 'app=www', command: ['reload'], port: 443, maxUnavailable: 2 }] });
  await two.deploy(cert, {});
  assert.equal(f.inFlight.max, 2);
  const g = fake(pods, NEW, (p) => (p === 'www-1' ? 3 : 0));
  await assert.rejects(deployer(g, new FakeClock()).deploy(cert, {}), (e: CertpilotError) => e.code === 'ERR_DEPLOY_RELOAD_FAILED' && /`apachectl graceful` exited 3 in pod www-1: boom \/ reason line/.test(e.message));
  assert.deepEqual(g.execs.filter((e) => e.argv[0] === 'apachectl').map((e) => e.pod), ['www-0', 'www-1']);
});

void test('with maxUnavailable 2, a failure lets the reload beside it finish and starts no other', async () => {
  const pods = ['www-0', 'www-1', 'www-2', 'www-3', 'www-4'].map((n) => pod(n));
  const f = fake(pods, NEW, (p) => (p === 'www-0' ? 3 : 0));
  const two = deployer(f, new FakeClock(), { groups: [{ name: 'www', selector: 'app=www', container: 'apache', command: ['apachectl', 'graceful'], port: 443, maxUnavailable: 2 }] });
  await assert.rejects(two.deploy(cert, {}), (e: CertpilotError) => {
    assert.equal(e.code, 'ERR_DEPLOY_RELOAD_FAILED');
    assert.match(e.message, /exited 3 in pod www-0/);
    return true;
  });
  assert.equal(f.inFlight.max, 2);
  assert.deepEqual(f.execs.filter((e) => e.argv[0] === 'apachectl').map((e) => e.pod), ['www-0', 'www-1']);
  assert.equal(f.serving.get('10.0.0.1'), normalizeSerial(NEW), 'the reload already running in www-1 ran to its end');
  for (const ip of ['10.0.0.2', '10.0.0.3', '10.0.0.4']) assert.equal(f.serving.get(ip), OLD, `${ip} untouched`);
});

void test('no pods is an error naming the selector', async () => {
  await assert.rejects(deployer(fake([]), new FakeClock()).deploy(cert, {}), (e: CertpilotError) => e.code === 'ERR_DEPLOY_NO_PODS' && /app=www/.test(e.message));
});

void test('a pod whose container restarted during the rollout is checked again', async () => {
  const pods = [pod('www-0'), pod('www-1')];
  const f = fake(pods);
  let lists = 0;
  (f.client as unknown as { listPods: () => Promise<V1Pod[]> }).listPods = async () => {
    lists++;
    // From the second listing on, www-0 has restarted (and serves the old certificate again).
    if (lists === 2) f.serving.set('10.0.0.0', OLD);
    return lists === 1 ? pods : pods.map((p) => (p.metadata?.name === 'www-0' ? { ...p, status: { ...p.status, containerStatuses: [{ name: 'apache', restartCount: 1, ready: true, image: 'x', imageID: 'x' }] } } : p));
  };
  const result = await deployer(f, new FakeClock()).deploy(cert, {});
  assert.deepEqual(f.execs.filter((e) => e.argv[0] === 'apachectl').map((e) => e.pod), ['www-0', 'www-1', 'www-0']);
  assert.equal((result.details?.pods as unknown[]).length, 2);
});

void test('a pod that restarts after every check is not reported as proven: after 5 rounds a retryable error names it', async () => {
  const pods = [pod('www-0'), pod('www-1')];
  const f = fake(pods);
  let lists = 0;
  (f.client as unknown as { listPods: () => Promise<V1Pod[]> }).listPods = async () => {
    lists++;
    // www-1 comes back with a higher restart count at every listing.
    return pods.map((p) => (p.metadata?.name === 'www-1' ? { ...p, status: { ...p.status, containerStatuses: [{ name: 'apache', restartCount: lists, ready: true, image: 'x', imageID: 'x' }] } } : p));
  };
  await assert.rejects(deployer(f, new FakeClock()).deploy(cert, {}), (e: unknown) => {
    assert.ok(e instanceof CertpilotError);
    assert.equal(e.code, 'ERR_DEPLOY_RELOAD_FAILED');
    assert.equal(e.retryable, true);
    assert.match(e.message, /pods kept appearing or restarting; after 5 rounds www-1 not yet checked/);
    return true;
  });
  assert.equal(f.execs.filter((e) => e.argv[0] === 'apachectl' && e.pod === 'www-0').length, 1, 'www-0 reloaded once');
});

void test('a pod whose reload exits 0 but keeps serving the old certificate fails the verify, naming it; no later pod is reloaded', async () => {
  const f = fake(['www-0', 'www-1', 'www-2'].map((n) => pod(n)));
  const stuck = '10.0.0.1';
  const clock = new FakeClock();
  const d = deployer(f, clock, { probe: async ({ host }) => servedAs(host === stuck ? OLD : (f.serving.get(host) ?? '')) });
  await assert.rejects(d.deploy(cert, {}), (e: unknown) => {
    assert.ok(e instanceof CertpilotError);
    assert.equal(e.code, 'ERR_DEPLOY_VERIFY_FAILED');
    assert.match(e.message, /pod www-1 \(10\.0\.0\.1:443\) serves serial ff02 \(old\) 5 s after its reload, not 0ab1/);
    return true;
  });
  assert.deepEqual(f.execs.filter((e) => e.argv[0] === 'apachectl').map((e) => e.pod), ['www-0', 'www-1'], 'www-2 is not reloaded after the failure');
  assert.ok(clock.sleeps.length > 0 && clock.sleeps.every((ms) => ms <= 2000), 'the verify polled on the clock');
});

void test('rolloutRestart: a replacement pod that still serves the old certificate fails the verify, naming it', async () => {
  const owned = (name: string): V1Pod => pod(name, { owner: 'www-5d8f9', hash: '5d8f9' });
  let pods = [owned('www-0'), owned('www-1')];
  const f = fake(pods);
  const restarted: string[] = [];
  Object.assign(f.client, {
    listPods: async () => pods,
    restartWorkload: async (kind: string, name: string) => {
      restarted.push(`${kind}/${name}`);
      // The Deployment's new pods: www-7 serves the new certificate, www-8 still the old one.
      pods = [owned('www-7'), owned('www-8')];
      f.serving.set('10.0.0.7', normalizeSerial(NEW));
      f.serving.set('10.0.0.8', OLD);
    },
  });
  const d = deployer(f, new FakeClock(), { groups: [{ name: 'www', selector: 'app=www', container: 'apache', rolloutRestart: 'owner', port: 443, maxUnavailable: 1 }] });
  await assert.rejects(d.deploy(cert, {}), (e: unknown) => {
    assert.ok(e instanceof CertpilotError);
    assert.equal(e.code, 'ERR_DEPLOY_VERIFY_FAILED');
    assert.match(e.message, /pod www-8 \(10\.0\.0\.8:443\) serves serial ff02 \(old\) 5 s after its reload, not 0ab1/);
    return true;
  });
  assert.deepEqual(restarted, ['Deployment/www']);
});
