/** The `lease` locker's plug-in definition: one Kubernetes Lease per certificate. */
import { hostname } from 'node:os';
import { connectionOf } from '../../kubernetes/connection-options.js';
import { definePlugin } from '../../plugins/plugin.js';
import { leaseName } from './lease-name.js';
import { leaseLockerSchema } from './schema.js';

/** `locker: { type: lease }`. */
export const plugin = definePlugin({
  id: 'lease',
  kind: 'locker',
  summary: 'One coordination.k8s.io/v1 Lease per certificate (holder, duration, renew time; an expired Lease is taken over): runs on any node of any zone take turns, with no shared volume.',
  dir: 'coordination/lease',
  schema: leaseLockerSchema,
  create: async (o, d) => {
    // The Kubernetes client is loaded on the first acquire only (a nothing-due run never locks).
    const [{ KubernetesClient }, { LeaseLocker }] = await Promise.all([import('../../kubernetes/kubernetes-client.js'), import('./lease-locker.js')]);
    return new LeaseLocker({ client: new KubernetesClient(o, d.baseDir, d.env), prefix: o.leasePrefix, identity: o.identity ?? hostname(), clock: d.clock, logger: d.logger });
  },
  // LeaseLocker calls getLease (get), createLease (create: cannot be limited by resourceNames)
  // and updateLease (update: renew, take over an expired Lease, release).
  kubernetes: (o, use) => {
    const names = [...new Set(use.certificates.map((c) => leaseName(o.leasePrefix, c)))].sort();
    return {
      connection: connectionOf(o),
      rules: [
        { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['create'] },
        ...(names.length > 0 ? [{ apiGroups: ['coordination.k8s.io'], resources: ['leases'], resourceNames: names, verbs: ['get', 'update'] }] : []),
      ],
    };
  },
});
