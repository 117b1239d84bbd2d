/**
 * The `certpilot/responder` library entry: what an application needs to answer http-01
 * challenges itself (RFC 8555 §8.3) from a token store that certpilot writes — the framework-free
 * responder, its `node:http` adapter, the in-process token store and the store contract.
 * Bundled into `dist/bundle/lib/responder.js` (package `exports`, docs/install.md).
 */
export { CHALLENGE_PATH_PREFIX, NOT_FOUND_BODY, createChallengeResponder, isKeyAuthorizationFor } from './challenges/http01/responder.js';
export type { ChallengeResponder, ChallengeResponderOptions, ResponderRequest, ResponderResponse } from './challenges/http01/responder.js';
export { challengeRequestListener } from './challenges/http01/middleware/node.js';
export type { NodeRequestListener } from './challenges/http01/middleware/node.js';
export { MemoryTokenStore } from './challenges/http01/memory-token-store.js';
export type { MemoryTokenStoreOptions } from './challenges/http01/memory-token-store.js';
export { TOKEN_PATTERN } from './challenges/http01/challenge-token-store.js';
export type { ChallengeTokenStore } from './challenges/http01/challenge-token-store.js';
