/**
 * JSON Web Signatures as ACME uses them (RFC 8555 §6.2): flattened JSON serialization, protected
 * header with `alg`, `nonce`, `url` and exactly one of `jwk` / `kid`; JWK thumbprints (RFC 7638);
 * the HS256 external account binding (§7.3.4) and the key-change inner JWS (§7.3.5).
 *
 * All signing is `node:crypto`; ECDSA signatures are IEEE-P1363 `r||s` (RFC 7518 §3.4).
 */
import { createHash, createHmac, createPublicKey, sign as cryptoSign } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { CertpilotError } from '../../errors.js';

/** The JWS algorithms certpilot signs with (RFC 7518 §3.1). */
export type JwsAlgorithm = 'ES256' | 'ES384' | 'RS256';

/** A public JWK with only the members RFC 7638 §3.2 requires. */
export type Jwk =
  | { kty: 'EC'; crv: 'P-256' | 'P-384'; x: string; y: string }
  | { kty: 'RSA'; e: string; n: string };

/** A JWS in flattened JSON serialization (RFC 7515 §7.2.2). */
export interface FlattenedJws {
  protected: string;
  payload: string;
  signature: string;
}

/** base64url without padding (RFC 7515 §2). */
export function base64url(data: Uint8Array | string): string {
  return Buffer.from(data).toString('base64url');
}

/** The JWS algorithm for a key: ES256 for P-256, ES384 for P-384, RS256 for RSA ≥ 2048 bits. */
export function jwsAlgorithmFor(key: KeyObject): JwsAlgorithm {
  const details = key.asymmetricKeyDetails;
  if (key.asymmetricKeyType === 'ec') {
    if (details?.namedCurve === 'prime256v1') return 'ES256';
    if (details?.namedCurve === 'secp384r1') return 'ES384';
  } else if (key.asymmetricKeyType === 'rsa' && (details?.modulusLength ?? 0) >= 2048) {
    return 'RS256';
  }
  throw new CertpilotError(
    'ERR_KEY_INVALID',
    `jws: unsupported key: ${key.asymmetricKeyType ?? key.type}${details?.namedCurve ? ` ${details.namedCurve}` : ''}${details?.modulusLength ? ` ${details.modulusLength} bits` : ''}`,
  );
}

/** The public JWK of a (private or public) key, reduced to RFC 7638's required members. */
export function exportJwk(key: KeyObject): Jwk {
  const publicKey = key.type === 'private' ? createPublicKey(key) : key;
  const alg = jwsAlgorithmFor(publicKey);
  const jwk = publicKey.export({ format: 'jwk' });
  if (alg === 'RS256') return { kty: 'RSA', e: String(jwk.e), n: String(jwk.n) };
  return { kty: 'EC', crv: alg === 'ES256' ? 'P-256' : 'P-384', x: String(jwk.x), y: String(jwk.y) };
}

/** RFC 7638 §3: base64url(SHA-256(JSON of the required members in lexicographic order)). */
export function jwkThumbprint(keyOrJwk: KeyObject | Jwk): string {
  const jwk = 'kty' in keyOrJwk ? keyOrJwk : exportJwk(keyOrJwk);
  const canonical =
    jwk.kty === 'EC'
      ? JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y })
      : JSON.stringify({ e: jwk.e, kty: jwk.kty, n: jwk.n });
  return createHash('sha256').update(canonical).digest('base64url');
}

/** Signs `signingInput` with the key's JWS algorithm. */
export function signBytes(key: KeyObject, signingInput: string): Buffer {
  const alg = jwsAlgorithmFor(key);
  if (alg === 'RS256') return cryptoSign('sha256', Buffer.from(signingInput), key);
  return cryptoSign(alg === 'ES256' ? 'sha256' : 'sha384', Buffer.from(signingInput), { key, dsaEncoding: 'ieee-p1363' });
}

/** What identifies the signer in the protected header: the account URL, or the public key. */
export type JwsSigner = { key: KeyObject; kid: string } | { key: KeyObject; jwk: true };

/** Options for {@link signJws}. */
export interface SignJwsOptions {
  /** Request URL; goes into the `url` header (RFC 8555 §6.4). */
  url: string;
  /** A fresh nonce from the server (§6.5); omitted only for inner JWSs. */
  nonce?: string;
  /** JSON payload, or `undefined` for POST-as-GET (empty payload, §6.3). */
  payload: unknown;
}

/** Signs an ACME request body (RFC 8555 §6.2). */
export function signJws(signer: JwsSigner, options: SignJwsOptions): FlattenedJws {
  const header: Record<string, unknown> = { alg: jwsAlgorithmFor(signer.key) };
  if ('kid' in signer) header.kid = signer.kid;
  else header.jwk = exportJwk(signer.key);
  if (options.nonce !== undefined) header.nonce = options.nonce;
  header.url = options.url;
  const protectedB64 = base64url(JSON.stringify(header));
  const payloadB64 = options.payload === undefined ? '' : base64url(JSON.stringify(options.payload));
  const signature = signBytes(signer.key, `${protectedB64}.${payloadB64}`);
  return { protected: protectedB64, payload: payloadB64, signature: base64url(signature) };
}

/**
 * The external account binding JWS (RFC 8555 §7.3.4): HS256 over the account's public JWK, with the
 * CA-issued key id as `kid` and the newAccount URL as `url`; no nonce.
 */
export function signExternalAccountBinding(options: {
  accountKey: KeyObject;
  kid: string;
  hmacKey: Uint8Array;
  url: string;
}): FlattenedJws {
  const protectedB64 = base64url(JSON.stringify({ alg: 'HS256', kid: options.kid, url: options.url }));
  const payloadB64 = base64url(JSON.stringify(exportJwk(options.accountKey)));
  const signature = createHmac('sha256', options.hmacKey).update(`${protectedB64}.${payloadB64}`).digest();
  return { protected: protectedB64, payload: payloadB64, signature: base64url(signature) };
}

/**
 * The inner JWS of a key change (RFC 8555 §7.3.5): signed by the new key, `jwk` of the new key,
 * `url` of keyChange, payload `{account, oldKey}`; no nonce.
 */
export function signKeyChange(options: {
  newKey: KeyObject;
  oldKey: KeyObject;
  accountUrl: string;
  url: string;
}): FlattenedJws {
  return signJws(
    { key: options.newKey, jwk: true },
    { url: options.url, payload: { account: options.accountUrl, oldKey: exportJwk(options.oldKey) } },
  );
}
