/**
 * The tls-alpn-01 validation certificate (RFC 8737 §3): self-signed, one subjectAltName — the
 * dNSName being validated, or for an IP identifier its iPAddress (RFC 8738 §6) — and the critical
 * `id-pe-acmeIdentifier` extension (1.3.6.1.5.5.7.1.31) whose value is the DER OCTET STRING of
 * SHA-256(keyAuthorization). Built with the small DER writer certpilot already has for CSRs.
 */
import { createPublicKey, randomBytes, sign, type KeyObject } from 'node:crypto';
import { newPrivateKeySync } from '../../acme/private-key-sync.js';
import { ipToBytes } from '../../acme/csr.js';
import { derBitString, derBoolean, derInteger, derOctetString, derOid, derSequence, derSet, derTlv, derToPem, derUtf8String } from '../../acme/protocol/der.js';
import type { Identifier } from '../challenge-solver.js';

/** id-pe-acmeIdentifier (RFC 8737 §6.1). */
export const ID_PE_ACME_IDENTIFIER = '1.3.6.1.5.5.7.1.31';
/** The ALPN protocol the CA negotiates (RFC 8737 §6.2). */
export const ACME_TLS_1 = 'acme-tls/1';

/** A PEM certificate and key for one challenge. */
export interface ValidationCertificate {
  certPem: string;
  keyPem: string;
}

/** A fresh P-256 key for validation certificates (one per solver is enough: nothing secret rests on it). */
export function validationKey(): KeyObject {
  return newPrivateKeySync({ type: 'ec', namedCurve: 'P-256' });
}

function utcTime(date: Date): Buffer {
  const iso = date.toISOString(); // 2026-12-03T08:00:00.000Z
  const text = `${iso.slice(2, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}Z`;
  return derTlv(0x17, Buffer.from(text, 'ascii'));
}

/**
 * The validation certificate for `identifier` with `digest` = SHA-256(keyAuthorization), valid
 * from a day before `now` for a week (clock skew between certpilot and the CA must not matter).
 */
export function createValidationCertificate(options: { identifier: Identifier; digest: Uint8Array; key: KeyObject; now: Date }): ValidationCertificate {
  const { identifier, digest, key, now } = options;
  if (digest.length !== 32) throw new RangeError('tls-alpn-01: the acmeIdentifier digest is SHA-256 (32 bytes)');
  const ecdsaWithSha256 = derSequence(derOid('1.2.840.10045.4.3.2'));
  const name = derSequence(derSet(derSequence(derOid('2.5.4.3'), derUtf8String('certpilot tls-alpn-01 validation'))));
  // A positive INTEGER in minimal DER: the top bit clear (not negative) and the next one set, so
  // the first byte is never 0x00 (a leading zero byte before a byte < 0x80 is illegal padding,
  // and OpenSSL refuses such a certificate: one in 256 random serials would be).
  const serial = randomBytes(16);
  serial[0] = ((serial[0] as number) & 0x3f) | 0x40;
  const san = identifier.type === 'ip' ? derTlv(0x87, ipToBytes(identifier.value)) : derTlv(0x82, Buffer.from(identifier.value, 'ascii'));
  const extensions = derSequence(
    derSequence(derOid('2.5.29.17'), derOctetString(derSequence(san))),
    derSequence(derOid(ID_PE_ACME_IDENTIFIER), derBoolean(true), derOctetString(derOctetString(digest))),
  );
  const tbs = derSequence(
    derTlv(0xa0, derInteger(2)), // v3
    derTlv(0x02, serial),
    ecdsaWithSha256,
    name,
    derSequence(utcTime(new Date(now.getTime() - 86_400_000)), utcTime(new Date(now.getTime() + 7 * 86_400_000))),
    name,
    createPublicKey(key).export({ format: 'der', type: 'spki' }),
    derTlv(0xa3, extensions),
  );
  const signature = sign('sha256', tbs, key);
  const der = derSequence(tbs, ecdsaWithSha256, derBitString(signature));
  return { certPem: derToPem(der), keyPem: key.export({ format: 'pem', type: 'pkcs8' }).toString() };
}

/**
 * The TLS server name the CA sends for an identifier: the name itself, or for an IP address its
 * reverse-mapping name (RFC 8738 §6: `in-addr.arpa` / `ip6.arpa`).
 */
export function serverNameOf(identifier: Identifier): string {
  if (identifier.type !== 'ip') return identifier.value.toLowerCase();
  const bytes = ipToBytes(identifier.value);
  if (bytes.length === 4) return `${[...bytes].reverse().join('.')}.in-addr.arpa`;
  return `${[...bytes.toString('hex')].reverse().join('.')}.ip6.arpa`;
}
