// The lease locker passes the locker contract (src/testing/locker-contract.ts) against the
// Kubernetes stand-in, built through the registry as compose.ts builds it, with exactly the RBAC
// rules the plug-in declares; and its Lease carries the fields client-go's leader election writes.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { InspectedLock, Locker } from '../../src/coordination/locker.js';
import { LeaseLocker, type LeaseClient } from '../../src/coordination/lease/lease-locker.js';
import { KubernetesClient } from '../../src/kubernetes/kubernetes-client.js';
import { silentLogger } from '../../src/logger.js';
import { findPlugin } from '../../src/plugins/registry.js';
import { FakeClock } from '../../src/testing/fake-clock.js';
import { lockerContract } from '../../src/testing/locker-contract.js';
import { startKubeStandin, type KubeStandin, type StandinRule } from '../harness/kube-standin.js';

const micro = (d: Date): string => d.toISOString().replace(/Z$/, '000Z');

/** A lease locker from raw (YAML-shaped) options, through the registry; its declared rules. */
async function leaseLocker(standin: KubeStandin, clock: FakeClock, certificates: string[]): Promise<{ locker: LeaseLocker; rules: StandinRule[] }> {
  const plugin = findPlugin('lease');
  assert.ok(plugin);
  const options = plugin.schema.parse({ kubeconfig: await standin.writeKubeconfig(), identity: 'pod-a' });
  const needs = plugin.kubernetes?.(options, { certificates });
  assert.ok(needs);
  const locker = (await plugin.create(options, { name: 'locker', logger: silentLogger, clock, baseDir: standin.dir, stateDir: standin.dir })) as LeaseLocker;
  return { locker, rules: needs.rules.map((r) => ({ apiGroups: r.apiGroups, verbs: r.verbs, resources: r.resources, ...(r.resourceNames ? { resourceNames: r.resourceNames } : {}) })) };
}

lockerContract('lease locker', async () => {
  const standin = await startKubeStandin();
  const clock = new FakeClock('2026-05-01T00:00:00Z');
  const a = await leaseLocker(standin, clock, ['www', 'api']);
  const b = await leaseLocker(standin, clock, ['www', 'api']);
  // Only what the plug-in declares: a lenient Role would hide a call it forgot.
  standin.rules = a.rules;
  return {
    locker: a.locker as Locker,
    other: b.locker as Locker,
    clock,
    held: async (name) => {
      const spec = standin.lease(a.locker.leaseName(name))?.spec as { holderIdentity?: string; renewTime?: string; leaseDurationSeconds?: number } | undefined;
      if (!spec?.holderIdentity || !spec.renewTime) return false;
      return Date.parse(spec.renewTime) + (spec.leaseDurationSeconds ?? 0) * 1000 > clock.now().getTime();
    },
    steal: async (name) => {
      standin.putLease(a.locker.leaseName(name), { holderIdentity: 'thief', leaseDurationSeconds: 3600, acquireTime: micro(clock.now()), renewTime: micro(clock.now()), leaseTransitions: 9 });
    },
    close: () => standin.stop(),
  };
});

void test('the Lease holds holder, duration, MicroTime acquire and renew times and counts transitions; release clears the holder', { timeout: 30_000 }, async () => {
  const standin = await startKubeStandin();
  try {
    const clock = new FakeClock('2026-05-01T00:00:00Z');
    const { locker, rules } = await leaseLocker(standin, clock, ['www']);
    standin.rules = rules;
    const first = await locker.acquire('www', { ttlSeconds: 90 });
    assert.ok(first);
    const lease = (): { metadata: { labels?: Record<string, string> }; spec: Record<string, unknown> } => standin.lease('certpilot-www') as never;
    assert.match(String(lease().spec.holderIdentity), /^pod-a_[0-9a-f]{12}$/);
    assert.equal(lease().spec.leaseDurationSeconds, 90);
    assert.equal(lease().spec.acquireTime, '2026-05-01T00:00:00.000000Z', 'MicroTime: six fractional digits, as the API server requires');
    assert.equal(lease().spec.leaseTransitions, 0);
    assert.deepEqual(lease().metadata.labels, { 'app.kubernetes.io/managed-by': 'certpilot' });
    clock.advance(30_000);
    await first.refresh();
    assert.equal(lease().spec.renewTime, '2026-05-01T00:00:30.000000Z');
    await first.release();
    assert.equal(lease().spec.holderIdentity, '', 'released on exit: the holder is cleared, as client-go does');
    const second = await locker.acquire('www', { ttlSeconds: 90 });
    assert.ok(second, 'a cleared Lease is taken at once');
    assert.equal(lease().spec.leaseTransitions, 1);
    // Two writes from the same resourceVersion: the second is a 409 the locker turns into "busy".
    const updates = standin.requests.filter((r) => r.resource === 'leases').map((r) => `${r.verb} ${r.status}`);
    assert.ok(updates.includes('create 201') && updates.includes('update 200'), updates.join(', '));
    await second.release();
  } finally {
    await standin.stop();
  }
});

void test('two lockers racing for an expired Lease: the resourceVersion precondition lets exactly one win', { timeout: 30_000 }, async () => {
  const standin = await startKubeStandin();
  try {
    const clock = new FakeClock('2026-05-01T00:00:00Z');
    standin.putLease('certpilot-www', { holderIdentity: 'dead-pod', leaseDurationSeconds: 60, acquireTime: micro(clock.now()), renewTime: micro(clock.now()), leaseTransitions: 3 });
    clock.advance(61_000);
    const lockers = await Promise.all(Array.from({ length: 4 }, () => leaseLocker(standin, clock, ['www'])));
    const locks = await Promise.all(lockers.map((l) => l.locker.acquire('www', { ttlSeconds: 60 })));
    assert.equal(locks.filter(Boolean).length, 1, 'one taker wins');
    assert.ok(standin.requests.some((r) => r.resource === 'leases' && r.verb === 'update' && r.status === 409), 'the others met 409 Conflict');
    assert.equal((standin.lease('certpilot-www')?.spec as { leaseTransitions: number }).leaseTransitions, 4);
    await Promise.all(locks.map((l) => l?.release()));
  } finally {
    await standin.stop();
  }
});

void test('unlock breaks a Lease only at the resourceVersion it read: a holder renewing between the break\'s read and its write keeps it (409), with only get and update', { timeout: 30_000 }, async () => {
  const standin = await startKubeStandin();
  try {
    const clock = new FakeClock('2026-05-01T00:00:00Z');
    const plugin = findPlugin('lease');
    assert.ok(plugin);
    const options = plugin.schema.parse({ kubeconfig: await standin.writeKubeconfig(), identity: 'operator' });
    standin.rules = (plugin.kubernetes?.(options, { certificates: ['www'] })?.rules ?? []).map((r) => ({ apiGroups: r.apiGroups, verbs: r.verbs, resources: r.resources, ...(r.resourceNames ? { resourceNames: r.resourceNames } : {}) }));
    // A pod killed mid-run: its Lease last renewed 45 s ago, duration 60 s.
    standin.putLease('certpilot-www', { holderIdentity: 'dead-pod_0a1b', leaseDurationSeconds: 60, acquireTime: micro(new Date(clock.now().getTime() - 45_000)), renewTime: micro(new Date(clock.now().getTime() - 45_000)), leaseTransitions: 2 });
    const client = new KubernetesClient(options as unknown as ConstructorParameters<typeof KubernetesClient>[0], standin.dir);
    // The holder was only slow: it renews right after the break read the Lease, before the break writes.
    const racing: LeaseClient = {
      namespace: client.namespace,
      getLease: (name) => client.getLease(name),
      createLease: (lease) => client.createLease(lease),
      updateLease: async (lease) => {
        standin.putLease('certpilot-www', { holderIdentity: 'dead-pod_0a1b', leaseDurationSeconds: 60, acquireTime: micro(new Date(clock.now().getTime() - 45_000)), renewTime: micro(clock.now()), leaseTransitions: 2 });
        return client.updateLease(lease);
      },
    };
    const locker = new LeaseLocker({ client: racing, prefix: 'certpilot-', identity: 'operator', clock });
    const seen = (await locker.inspect(['www'])).get('www');
    assert.equal(seen?.state, 'stale', seen?.why);
    assert.equal(seen?.holder, 'dead-pod_0a1b');
    assert.equal(seen?.where, 'Lease default/certpilot-www');
    assert.equal(await locker.breakLock(seen as InspectedLock), 'changed');
    assert.equal((standin.lease('certpilot-www')?.spec as { holderIdentity: string }).holderIdentity, 'dead-pod_0a1b', 'the renewed Lease keeps its holder');
    assert.ok(standin.requests.some((r) => r.resource === 'leases' && r.verb === 'update' && r.status === 409), 'the API server refused the stale write');
    // Read again (stale once more) and broken without the race: the holder is cleared, as a release does.
    clock.advance(45_000);
    const direct = new LeaseLocker({ client, prefix: 'certpilot-', identity: 'operator', clock });
    const again = (await direct.inspect(['www'])).get('www');
    assert.equal(again?.state, 'stale');
    assert.equal(await direct.breakLock(again as InspectedLock), 'broken');
    assert.equal((standin.lease('certpilot-www')?.spec as { holderIdentity: string }).holderIdentity, '');
    assert.equal((await direct.inspect(['www'])).size, 0);
    assert.deepEqual([...new Set(standin.requests.filter((r) => r.resource === 'leases').map((r) => r.verb))].sort(), ['get', 'update'], 'no verb beyond what acquire uses');
  } finally {
    await standin.stop();
  }
});
