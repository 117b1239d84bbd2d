/**
 * Private keys and certificate signing requests (RFC 2986 PKCS#10, RFC 2985 extensionRequest,
 * RFC 5280 SAN) for ACME finalize (RFC 8555 §7.4). Built with `node:crypto` and a small DER
 * encoder: no ASN.1 library on the cold-start path.
 */
import { createPrivateKey, createPublicKey, generateKeyPair, sign as cryptoSign } from 'node:crypto';
import { isIP } from 'node:net';
import type { KeyObject } from 'node:crypto';
import { CertpilotError } from '../errors.js';
import type { Identifier } from '../challenges/challenge-solver.js';
import type { KeyType } from '../storage/certificate-store.js';
import {
  derBitString,
  derBoolean,
  derInteger,
  derNull,
  derOctetString,
  derOid,
  derSequence,
  derSet,
  derTlv,
  derUtf8String,
} from './protocol/der.js';

const OID = {
  commonName: '2.5.4.3',
  extensionRequest: '1.2.840.113549.1.9.14',
  subjectAltName: '2.5.29.17',
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  ecdsaWithSha384: '1.2.840.10045.4.3.3',
  sha256WithRsa: '1.2.840.113549.1.1.11',
} as const;

/** Generates a private key of `keyType`; returns it and its PKCS#8 PEM. RSA runs off the main thread. */
export async function generatePrivateKey(keyType: KeyType): Promise<{ key: KeyObject; pem: string }> {
  const pair = await new Promise<KeyObject>((resolve, reject) => {
    const done = (err: Error | null, _publicKey: KeyObject, privateKey: KeyObject): void => {
      if (err) reject(err);
      else resolve(privateKey);
    };
    switch (keyType) {
      case 'ec-p256':
        generateKeyPair('ec', { namedCurve: 'prime256v1' }, done);
        break;
      case 'ec-p384':
        generateKeyPair('ec', { namedCurve: 'secp384r1' }, done);
        break;
      case 'rsa-2048':
      case 'rsa-3072':
      case 'rsa-4096':
        generateKeyPair('rsa', { modulusLength: Number(keyType.slice(4)), publicExponent: 0x10001 }, done);
        break;
      default:
        reject(new CertpilotError('ERR_KEY_INVALID', `csr: generate key: unknown key type ${JSON.stringify(keyType)}`));
    }
  });
  return { key: pair, pem: pair.export({ format: 'pem', type: 'pkcs8' }).toString() };
}

/** The {@link KeyType} of a key, or `undefined` when certpilot does not issue with that kind. */
export function keyTypeOf(key: KeyObject): KeyType | undefined {
  const details = key.asymmetricKeyDetails;
  if (key.asymmetricKeyType === 'ec') {
    if (details?.namedCurve === 'prime256v1') return 'ec-p256';
    if (details?.namedCurve === 'secp384r1') return 'ec-p384';
  } else if (key.asymmetricKeyType === 'rsa') {
    const bits = details?.modulusLength;
    if (bits === 2048 || bits === 3072 || bits === 4096) return `rsa-${bits}`;
  }
  return undefined;
}

/** Parses a PEM private key (PKCS#8, SEC1 or PKCS#1); `ERR_KEY_INVALID` when unreadable or unsupported. */
export function importPrivateKey(pem: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: pem, format: 'pem' });
  } catch (cause) {
    // The cause names the parse failure only; the key text never goes into a message.
    throw new CertpilotError('ERR_KEY_INVALID', 'csr: import key: the PEM is not a readable private key', { cause });
  }
  if (!keyTypeOf(key)) {
    const details = key.asymmetricKeyDetails;
    throw new CertpilotError(
      'ERR_KEY_INVALID',
      `csr: import key: unsupported key ${key.asymmetricKeyType ?? '?'}${details?.namedCurve ? ` ${details.namedCurve}` : ''}${details?.modulusLength ? ` ${details.modulusLength} bits` : ''}`,
    );
  }
  return key;
}

/** The 4 or 16 address bytes of an IPv4/IPv6 literal (RFC 5280 §4.2.1.6 iPAddress). */
export function ipToBytes(ip: string): Buffer {
  const version = isIP(ip);
  if (version === 4) return Buffer.from(ip.split('.').map(Number));
  if (version !== 6) throw new CertpilotError('ERR_CONFIG_INVALID', `csr: identifier: ${JSON.stringify(ip)} is not an IP address`);
  let text = ip.replace(/%.*$/, '');
  // An embedded IPv4 tail (::ffff:1.2.3.4) becomes two hex groups.
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (v4) {
    const [a, b, c, d] = v4.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, v4.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const headGroups = head ? head.split(':') : [];
  const tailGroups = tail ? tail.split(':') : [];
  const zeros = tail === undefined ? [] : new Array<string>(8 - headGroups.length - tailGroups.length).fill('0');
  const groups = [...headGroups, ...zeros, ...tailGroups];
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}

function signatureAlgorithm(key: KeyObject): { der: Buffer; hash: 'sha256' | 'sha384' } {
  switch (keyTypeOf(key)) {
    case 'ec-p256':
      return { der: derSequence(derOid(OID.ecdsaWithSha256)), hash: 'sha256' };
    case 'ec-p384':
      return { der: derSequence(derOid(OID.ecdsaWithSha384)), hash: 'sha384' };
    case undefined:
      throw new CertpilotError('ERR_KEY_INVALID', `csr: create: unsupported key ${key.asymmetricKeyType ?? key.type}`);
    default:
      // RFC 4055 §5: sha256WithRSAEncryption parameters are NULL.
      return { der: derSequence(derOid(OID.sha256WithRsa), derNull()), hash: 'sha256' };
  }
}

/**
 * A DER PKCS#10 CSR for `identifiers`, signed with `key`: SAN with every DNS name and IP address
 * (RFC 8555 §7.4, RFC 8738 §3), CN = the first DNS name when it fits the 64-character limit
 * (RFC 5280 ub-common-name); otherwise an empty subject and a critical SAN (RFC 5280 §4.2.1.6).
 */
export async function createCsr(options: { key: KeyObject; identifiers: Identifier[] }): Promise<Uint8Array> {
  const { key, identifiers } = options;
  if (key.type !== 'private') throw new CertpilotError('ERR_KEY_INVALID', 'csr: create: a private key is required');
  if (identifiers.length === 0) throw new CertpilotError('ERR_CONFIG_INVALID', 'csr: create: at least one identifier is required');
  const algorithm = signatureAlgorithm(key);
  const names = identifiers.map((id) =>
    id.type === 'ip' ? derTlv(0x87, ipToBytes(id.value)) : derTlv(0x82, Buffer.from(id.value, 'ascii')),
  );
  const cn = identifiers.find((id) => id.type === 'dns' && id.value.length <= 64)?.value;
  const firstDns = identifiers.find((id) => id.type === 'dns')?.value;
  const subject =
    cn !== undefined && cn === firstDns
      ? derSequence(derSet(derSequence(derOid(OID.commonName), derUtf8String(cn))))
      : derSequence();
  const emptySubject = subject.length === 2;
  const san = derSequence(
    derOid(OID.subjectAltName),
    ...(emptySubject ? [derBoolean(true)] : []),
    derOctetString(derSequence(...names)),
  );
  const attributes = derTlv(0xa0, derSequence(derOid(OID.extensionRequest), derSet(derSequence(san))));
  const publicKeyInfo = createPublicKey(key).export({ format: 'der', type: 'spki' });
  const info = derSequence(derInteger(0), subject, publicKeyInfo, attributes);
  const signature = cryptoSign(algorithm.hash, info, key);
  return derSequence(info, algorithm.der, derBitString(signature));
}
