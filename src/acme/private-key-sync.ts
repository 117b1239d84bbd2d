/**
 * A private key made synchronously, safe to export and use at once.
 *
 * Node 20's `generateKeyPairSync` returns a KeyObject that shares its lock with the key-generation
 * job that made it; the job is freed by the garbage collector, and its destructor takes that lock.
 * When a collection runs while the key is being exported (`export({ format: 'jwk' | 'pem' })`
 * holds the lock and allocates), the process waits on itself forever: no error, no exit, every
 * thread idle. Seen as a unit test file that hung until the runner's 5-minute timeout in CI, about
 * once in 200–600 runs here; a loop of generate-then-export under `--max-semi-space-size=1` hangs
 * within a few thousand keys (docs/design-notes.md). The asynchronous `generateKeyPair` frees its job
 * as soon as the callback returns, so certpilot's own keys (src/acme/csr.ts) never had it.
 *
 * Here the job encodes the key itself (DER, while the job is still alive), and the KeyObject is
 * parsed from those bytes: it shares nothing with the job. Lint refuses a `generateKeyPairSync`
 * that returns KeyObjects anywhere (eslint.config.js).
 */
import { createPrivateKey, generateKeyPairSync } from 'node:crypto';
import type { KeyObject } from 'node:crypto';

/** What to make: an EC key on a named curve, an RSA key of a size, or an Ed25519 key. */
export type SyncKeySpec = { type: 'ec'; namedCurve: string } | { type: 'rsa'; modulusLength: number } | { type: 'ed25519' };

const SPKI = { type: 'spki', format: 'der' } as const;
const PKCS8 = { type: 'pkcs8', format: 'der' } as const;

/** A new private key of `spec`, made on this thread, that does not share a lock with its keygen job. */
export function newPrivateKeySync(spec: SyncKeySpec): KeyObject {
  let der: Buffer;
  switch (spec.type) {
    case 'ec':
      der = generateKeyPairSync('ec', { namedCurve: spec.namedCurve, publicKeyEncoding: SPKI, privateKeyEncoding: PKCS8 }).privateKey;
      break;
    case 'rsa':
      der = generateKeyPairSync('rsa', { modulusLength: spec.modulusLength, publicKeyEncoding: SPKI, privateKeyEncoding: PKCS8 }).privateKey;
      break;
    case 'ed25519':
      der = generateKeyPairSync('ed25519', { publicKeyEncoding: SPKI, privateKeyEncoding: PKCS8 }).privateKey;
      break;
  }
  return createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
}
