/** The `kubernetes-secret` deployer's plug-in definition: the certificate into one Secret by server-side apply. */
import { connectionOf } from '../../kubernetes/connection-options.js';
import { definePlugin } from '../../plugins/plugin.js';
import { kubernetesSecretSchema } from './schema.js';

/** `deployers.<name>: { type: kubernetes-secret }`. */
export const plugin = definePlugin({
  id: 'kubernetes-secret',
  kind: 'deployer',
  summary: 'Creates or updates a Secret (tls.crt, tls.key and the certbot-named files) by server-side apply, keeping what others own.',
  dir: 'deploy/kubernetes-secret',
  schema: kubernetesSecretSchema,
  // verify: one GET of the Secret (the `get` below), so a nothing-due run and `status` notice a
  // Secret deleted or overwritten since its deploy.
  verifiesDeploy: true,
  create: async (o, d) => {
    const [{ KubernetesClient }, { KubernetesSecretDeployer }] = await Promise.all([import('../../kubernetes/kubernetes-client.js'), import('./kubernetes-secret-deployer.js')]);
    const client = new KubernetesClient(o, d.baseDir, d.env);
    return new KubernetesSecretDeployer({ id: d.name, client, secretName: o.secretName, keys: o.keys, labels: o.labels, fieldManager: o.fieldManager, bundle: o.bundle, logger: d.logger });
  },
  // KubernetesClient.getSecret (get: deploy and verify) and applySecret (patch: server-side apply). An apply that
  // creates the Secret (the first deploy) is authorized as `create`, which no resourceNames can
  // limit: declared for that one case, so the generated Role works before the Secret exists and
  // `kubernetes check` asks about it while the Secret is absent.
  kubernetes: (o) => ({
    connection: connectionOf(o),
    rules: [
      { apiGroups: [''], resources: ['secrets'], resourceNames: [o.secretName], verbs: ['get', 'patch'] },
      { apiGroups: [''], resources: ['secrets'], verbs: ['create'], untilSecretExists: o.secretName },
    ],
  }),
});
