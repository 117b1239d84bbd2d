/** The `redis` token store's plug-in definition: http-01 tokens in a shared Redis. */
import { resolve } from 'node:path';
import { definePlugin } from '../../../../plugins/plugin.js';
import { redisSchema } from './schema.js';

/** `solvers.<name>: { type: redis }` (wrapped in the store-backed http-01 solver). */
export const plugin = definePlugin({
  id: 'redis',
  kind: 'token-store',
  summary: 'http-01 tokens in a shared Redis (standalone, Sentinel, Cluster; TLS) that every pod\'s responder reads: `certpilot serve`, the middleware, or your own app.',
  dir: 'challenges/http01/token-stores/redis',
  schema: redisSchema,
  create: async (o, d) => {
    const { RedisTokenStore } = await import('./redis-token-store.js');
    return new RedisTokenStore({
      ...o,
      ...(o.passwordFile ? { passwordFile: resolve(d.baseDir, o.passwordFile) } : {}),
      ...(o.tls?.caFile ? { tls: { ...o.tls, caFile: resolve(d.baseDir, o.tls.caFile) } } : {}),
      ...(o.sentinel?.passwordFile ? { sentinel: { ...o.sentinel, passwordFile: resolve(d.baseDir, o.sentinel.passwordFile) } } : {}),
      journalDir: resolve(d.stateDir, 'http01-tokens', d.name),
      logger: d.logger,
    });
  },
});
