/** The `files` deployer's plug-in definition: PEM files in a directory, switched atomically. */
import { resolve } from 'node:path';
import { definePlugin } from '../../plugins/plugin.js';
import { filesSchema } from './schema.js';

/** `deployers.<name>: { type: files }`. */
export const plugin = definePlugin({
  id: 'files',
  kind: 'deployer',
  summary: 'Writes cert.pem, chain.pem, fullchain.pem, privkey.pem and fullbundle.pem into a directory (a docker volume), switched atomically.',
  dir: 'deploy/files',
  schema: filesSchema,
  create: async (o, d) => {
    const { FilesDeployer, fileSet, parseMode } = await import('./files-deployer.js');
    return new FilesDeployer({
      id: d.name,
      dir: resolve(d.baseDir, o.dir),
      layout: o.layout,
      files: fileSet(o),
      ...(o.owner !== undefined ? { owner: o.owner } : {}),
      ...(o.group !== undefined ? { group: o.group } : {}),
      keyMode: parseMode(o.keyMode),
      certMode: parseMode(o.certMode),
      dirMode: parseMode(o.dirMode),
      allowSharedDir: o.allowSharedDir,
      clock: d.clock,
      logger: d.logger,
    });
  },
});
