/** The `files` deployer's plug-in definition: PEM files in a directory, switched atomically. */
import { definePlugin } from '../../plugins/plugin.js';
import { filesSchema } from './schema.js';

/** `deployers.<name>: { type: files }`. */
export const plugin = definePlugin({
  id: 'files',
  kind: 'deployer',
  summary: 'Writes cert.pem, chain.pem, fullchain.pem, privkey.pem and fullbundle.pem into a directory (a docker volume), switched atomically.',
  dir: 'deploy/files',
  schema: filesSchema,
  verifiesDeploy: true,
  create: async (o, d) => {
    const { FilesDeployer, filesDeployerOptions } = await import('./files-deployer.js');
    return new FilesDeployer({ ...filesDeployerOptions(o, d.name, d.baseDir), clock: d.clock, logger: d.logger });
  },
});
