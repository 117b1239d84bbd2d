/**
 * The `certpilot/responder` library entry: what an application needs to answer http-01
 * challenges itself (RFC 8555 §8.3) from a token store that certpilot writes — the framework-free
 * responder, its `node:http`, Express and Fastify adapters, the Redis and in-process token stores,
 * and the standalone responder server behind `certpilot serve` (src/challenges/http01/index.ts;
 * docs/http01-many-pods.md). Bundled into `dist/bundle/lib/responder.mjs` (package `exports`,
 * docs/install.md).
 */
export * from './challenges/http01/index.js';
export type { MemoryTokenStoreOptions } from './challenges/http01/memory-token-store.js';
