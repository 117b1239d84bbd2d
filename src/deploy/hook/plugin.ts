/** The `hook` deployer's plug-in definition: runs a command after each new version. */
import { resolve } from 'node:path';
import { definePlugin } from '../../plugins/plugin.js';
import { hookSchema } from './schema.js';

/** `deployers.<name>: { type: hook }`. */
export const plugin = definePlugin({
  id: 'hook',
  kind: 'deployer',
  summary: 'Runs a command after each new version (reload a server, a certbot deploy hook unchanged), with a timeout that kills its process group.',
  dir: 'deploy/hook',
  schema: hookSchema,
  create: async (o, d) => {
    const { HookDeployer } = await import('./hook-deployer.js');
    return new HookDeployer({
      id: d.name,
      command: o.command,
      shell: o.shell,
      timeoutSeconds: o.timeoutSeconds,
      cwd: resolve(d.baseDir, o.cwd ?? '.'),
      env: o.env,
      passEnv: o.passEnv,
      ...(d.env ? { processEnv: d.env } : {}),
      logger: d.logger,
    });
  },
});
