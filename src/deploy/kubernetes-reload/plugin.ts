/** The `kubernetes-reload` deployer's plug-in definition: pods reloaded one by one, each verified over TLS. */
import { connectionOf } from '../../kubernetes/connection-options.js';
import { definePlugin, type RbacRule } from '../../plugins/plugin.js';
import { kubernetesReloadSchema } from './schema.js';

/** `deployers.<name>: { type: kubernetes-reload }`. */
export const plugin = definePlugin({
  id: 'kubernetes-reload',
  kind: 'deployer',
  summary: 'Waits until each pod sees the new Secret, reloads pods one by one (or restarts their workload) and verifies each serves the new certificate over TLS.',
  dir: 'deploy/kubernetes-reload',
  schema: kubernetesReloadSchema,
  create: async (o, d) => {
    const [{ KubernetesClient }, { KubernetesReloadDeployer }] = await Promise.all([import('../../kubernetes/kubernetes-client.js'), import('./kubernetes-reload-deployer.js')]);
    const client = new KubernetesClient(o, d.baseDir, d.env);
    return new KubernetesReloadDeployer({
      id: d.name,
      client,
      secretName: o.secretName,
      key: o.key,
      groups: o.groups,
      propagationTimeoutSeconds: o.propagationTimeoutSeconds,
      pollIntervalSeconds: o.pollIntervalSeconds,
      verifyTimeoutSeconds: o.verifyTimeoutSeconds,
      digestCommand: o.digestCommand,
      verifyChain: o.verifyChain,
      logger: d.logger,
      clock: d.clock,
    });
  },
  // getSecret (its serial annotation), listPods (the groups' selectors), exec (the digest reads and
  // the reload commands: a WebSocket upgrade is a GET, authorized as `get` on pods/exec, and from
  // Kubernetes 1.35 also as `create`), restartWorkload (patch of the Deployment or StatefulSet).
  kubernetes: (o) => {
    const rules: RbacRule[] = [
      { apiGroups: [''], resources: ['secrets'], resourceNames: [o.secretName], verbs: ['get'] },
      { apiGroups: [''], resources: ['pods'], verbs: ['list'] },
      // Every group reads each pod's mounted file through exec, whatever reloads it.
      { apiGroups: [''], resources: ['pods/exec'], verbs: ['get', 'create'] },
    ];
    for (const kind of ['Deployment', 'StatefulSet'] as const) {
      const restarts = o.groups.flatMap((g) => (g.rolloutRestart === undefined ? [] : [g.rolloutRestart]));
      const named = restarts.flatMap((r) => (r !== 'owner' && r.kind === kind ? [r.name] : []));
      const resources = [kind === 'Deployment' ? 'deployments' : 'statefulsets'];
      // `owner` is found from the pods at run time: no name to limit the rule to.
      if (restarts.includes('owner')) rules.push({ apiGroups: ['apps'], resources, verbs: ['patch'] });
      else if (named.length > 0) rules.push({ apiGroups: ['apps'], resources, resourceNames: [...new Set(named)], verbs: ['patch'] });
    }
    return { connection: connectionOf(o), rules };
  },
});
