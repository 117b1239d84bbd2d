/** The `file` locker's plug-in definition: lock files on one host or a shared volume. */
import { resolve } from 'node:path';
import { definePlugin } from '../../plugins/plugin.js';
import { fileLockerSchema } from './schema.js';

/** `locker: { type: file }` (the default). */
export const plugin = definePlugin({
  id: 'file',
  kind: 'locker',
  summary: 'One lock file per certificate under stateDir (or `dir`): processes on one host, or hosts sharing that volume, take turns. The default.',
  dir: 'coordination/file',
  schema: fileLockerSchema,
  create: async (o, d) => {
    const { FileLocker } = await import('./file-locker.js');
    return new FileLocker({ dir: o.dir !== undefined ? resolve(d.baseDir, o.dir) : resolve(d.stateDir, 'locks'), clock: d.clock, logger: d.logger });
  },
});
