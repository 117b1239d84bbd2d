/** The `kubernetes-secret` state store's plug-in definition: state in Secrets of one namespace. */
import { connectionOf } from '../../../kubernetes/connection-options.js';
import { definePlugin } from '../../../plugins/plugin.js';
import { accountSecretName, certificateSecretName } from './secret-name.js';
import { kubernetesSecretStateSchema } from './schema.js';

/** `stateStore: { type: kubernetes-secret }`. */
export const plugin = definePlugin({
  id: 'kubernetes-secret',
  kind: 'state-store',
  summary:
    'One Secret per certificate (live version, a bounded number of earlier ones, renewal state, pending order) and per account, written with resourceVersion preconditions: runs on any node of any zone with no volume.',
  dir: 'storage/backends/kubernetes-secret',
  schema: kubernetesSecretStateSchema,
  create: async (o, d) => {
    const [{ DeferredStateBackend }, { StateStore }] = await Promise.all([import('../../deferred-state-backend.js'), import('../../state-store.js')]);
    const where = o.namespace !== undefined ? `Secrets in namespace ${o.namespace}` : 'Secrets';
    // The Kubernetes client is loaded on the first read or write, not when the runtime is composed.
    const backend = new DeferredStateBackend(where, o.keepVersions, async () => {
      const [{ KubernetesClient }, { KubernetesSecretStateBackend }] = await Promise.all([
        import('../../../kubernetes/kubernetes-client.js'),
        import('./kubernetes-secret-state-backend.js'),
      ]);
      return new KubernetesSecretStateBackend({ client: new KubernetesClient(o, d.baseDir, d.env), secretPrefix: o.secretPrefix, keepVersions: o.keepVersions });
    });
    return new StateStore(backend, { logger: d.logger });
  },
  // KubernetesSecretStateBackend calls getSecret (get), replaceSecret (update) and deleteSecret
  // (delete, when a Secret's last key goes) on the Secrets of the configured certificates and of
  // the accounts of the configured directories; createSecret (create) and listSecrets (list, by
  // label: every state Secret of the namespace) cannot be limited by resourceNames.
  kubernetes: (o, use) => {
    const names = [
      ...new Set([...use.certificates.map((c) => certificateSecretName(o.secretPrefix, c)), ...(use.directories ?? []).map((u) => accountSecretName(o.secretPrefix, u))]),
    ].sort();
    return {
      connection: connectionOf(o),
      rules: [
        { apiGroups: [''], resources: ['secrets'], verbs: ['create', 'list'] },
        ...(names.length > 0 ? [{ apiGroups: [''], resources: ['secrets'], resourceNames: names, verbs: ['get', 'update', 'delete'] }] : []),
      ],
    };
  },
});
