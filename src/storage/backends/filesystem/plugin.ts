/** The `filesystem` state store's plug-in definition: `stateDir` in certbot layout (the default). */
import { definePlugin } from '../../../plugins/plugin.js';
import { filesystemStateSchema } from './schema.js';

/** `stateStore: { type: filesystem }` (the default). */
export const plugin = definePlugin({
  id: 'filesystem',
  kind: 'state-store',
  summary: 'Accounts, certificates (certbot `live/` + `archive/` layout, each version switched by one rename) and renewal state in `stateDir`: one host, or a volume every run mounts. The default.',
  dir: 'storage/backends/filesystem',
  schema: filesystemStateSchema,
  create: async (_o, d) => {
    const { FilesystemCertificateStore } = await import('./filesystem-certificate-store.js');
    return new FilesystemCertificateStore({ stateDir: d.stateDir, logger: d.logger });
  },
});
