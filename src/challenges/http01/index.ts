/**
 * `certpilot/responder`: the http-01 responder for applications (issue 7). Mount it in one line:
 *
 * ```ts
 * import { createChallengeResponder, RedisTokenStore, expressChallengeResponder } from 'certpilot/responder';
 * const responder = createChallengeResponder({ store: new RedisTokenStore({ url: 'redis://redis:6379' }) });
 * app.use(expressChallengeResponder(responder));            // Express / Connect
 * fastify.register(fastifyChallengeResponder(responder));   // Fastify
 * http.createServer(challengeRequestListener(responder, app)); // node:http
 * ```
 *
 * Nothing here imports Express or Fastify; ioredis is loaded on the first Redis command.
 */
export { CHALLENGE_PATH_PREFIX, NOT_FOUND_BODY, createChallengeResponder, isKeyAuthorizationFor } from './responder.js';
export type { ChallengeResponder, ChallengeResponderOptions, ResponderRequest, ResponderResponse } from './responder.js';
export { TOKEN_PATTERN, isHealthCheckedStore } from './challenge-token-store.js';
export type { ChallengeTokenStore, HealthCheckedStore } from './challenge-token-store.js';
export { MemoryTokenStore } from './memory-token-store.js';
export { RedisTokenStore } from './token-stores/redis/redis-token-store.js';
export type { RedisTokenStoreOptions } from './token-stores/redis/redis-token-store.js';
export { DEFAULT_REDIS_PREFIX } from './token-stores/redis/schema.js';
export { challengeRequestListener } from './middleware/node.js';
export type { NodeRequestListener } from './middleware/node.js';
export { expressChallengeResponder } from './middleware/express.js';
export type { ExpressLikeMiddleware, ExpressLikeRequest } from './middleware/express.js';
export { fastifyChallengeResponder } from './middleware/fastify.js';
export type { FastifyLikeInstance, FastifyLikePlugin, FastifyLikeReply, FastifyLikeRequest } from './middleware/fastify.js';
export { HEALTH_PATH, startResponderServer } from './responder-server.js';
export type { ResponderServer, ResponderServerOptions } from './responder-server.js';
