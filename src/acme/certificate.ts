/**
 * Reading issued certificates: split a PEM chain, and the facts certpilot records and plans with
 * (validity, serial, issuer, names, ARI id; RFC 5280 §4.1, RFC 9773 §4.1). Reads the DER directly,
 * which is cheap and independent of how a Node version formats names.
 */
import { CertpilotError } from '../errors.js';
import { derChildren, derOidToString, derRead, pemToDer, readTbsFields } from './protocol/der.js';
import type { DerNode } from './protocol/der.js';
import { ariCertIdFromParts, authorityKeyIdentifier } from './protocol/renewal-info.js';

/** Facts about one certificate. */
export interface ParsedCertificate {
  notBefore: Date;
  notAfter: Date;
  /** Serial number, lowercase hex without sign padding (as `openssl x509 -serial`, lowercased). */
  serialNumber: string;
  /** Issuer distinguished name, RFC 4514 order (`CN=…, O=…, C=…`). */
  issuer: string;
  /** Subject distinguished name, RFC 4514 order; empty string for an empty subject. */
  subject: string;
  issuerCommonName?: string;
  /** SAN dNSName entries, in certificate order. */
  dnsNames: string[];
  /** SAN iPAddress entries, IPv4 dotted or IPv6 compressed form. */
  ipAddresses: string[];
  /** ARI certificate id (RFC 9773 §4.1); empty string when the certificate has no AKI. */
  ariCertId: string;
}

const OID_SUBJECT_ALT_NAME = '2.5.29.17';

const ATTRIBUTE_NAMES: Record<string, string> = {
  '2.5.4.3': 'CN',
  '2.5.4.5': 'serialNumber',
  '2.5.4.6': 'C',
  '2.5.4.7': 'L',
  '2.5.4.8': 'ST',
  '2.5.4.10': 'O',
  '2.5.4.11': 'OU',
  '0.9.2342.19200300.100.1.25': 'DC',
  '1.2.840.113549.1.9.1': 'emailAddress',
};

/** The PEM certificates in `pem`, in order, each normalized to end with a newline. */
export function splitPemChain(pem: string): string[] {
  return (pem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? []).map((block) => `${block}\n`);
}

function escapeRdnValue(value: string): string {
  // RFC 4514 §2.4: escape the specials, and a leading '#' or space, and a trailing space.
  return value.replace(/[\\,+"<>;=]/g, (c) => `\\${c}`).replace(/^([ #])/, '\\$1').replace(/ $/, '\\ ');
}

function readName(name: DerNode): { text: string; commonName?: string } {
  const parts: string[] = [];
  let commonName: string | undefined;
  for (const rdn of derChildren(name.content)) {
    const attrs = derChildren(rdn.content).map((atv) => {
      const [type, value] = derChildren(atv.content);
      const oid = type ? derOidToString(type.content) : '';
      // BMPString is UTF-16BE; every other directory string here is ASCII or UTF-8.
      const text = value ? (value.tag === 0x1e ? Buffer.from(value.content).swap16().toString('utf16le') : value.content.toString('utf8')) : '';
      if (oid === '2.5.4.3' && commonName === undefined) commonName = text;
      return `${ATTRIBUTE_NAMES[oid] ?? oid}=${escapeRdnValue(text)}`;
    });
    parts.push(attrs.join('+'));
  }
  return { text: parts.reverse().join(', '), ...(commonName !== undefined ? { commonName } : {}) };
}

function formatIp(bytes: Buffer): string {
  if (bytes.length === 4) return [...bytes].join('.');
  const groups: number[] = [];
  for (let i = 0; i + 1 < bytes.length; i += 2) groups.push(bytes.readUInt16BE(i));
  // RFC 5952 §4.2: compress the longest run (≥2) of zero groups, the first one on a tie.
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < groups.length; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < groups.length && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
}

/** Parses the first certificate of a PEM (or a DER certificate); `ERR_ACME_BAD_RESPONSE` if unreadable. */
export function parseCertificate(pem: string | Uint8Array): ParsedCertificate {
  let fields: ReturnType<typeof readTbsFields>;
  try {
    fields = readTbsFields(pemToDer(pem));
  } catch (cause) {
    throw new CertpilotError('ERR_ACME_BAD_RESPONSE', `certificate: parse: not a readable X.509 certificate: ${(cause as Error).message}`, { cause });
  }
  const dnsNames: string[] = [];
  const ipAddresses: string[] = [];
  const san = fields.extensions.get(OID_SUBJECT_ALT_NAME);
  if (san) {
    for (const general of derChildren(derRead(san.value).content)) {
      if (general.tag === 0x82) dnsNames.push(general.content.toString('ascii'));
      else if (general.tag === 0x87) ipAddresses.push(formatIp(general.content));
    }
  }
  let serial = fields.serial;
  while (serial.length > 1 && serial[0] === 0) serial = serial.subarray(1);
  const issuer = readName(fields.issuer);
  const aki = authorityKeyIdentifier(fields);
  return {
    notBefore: fields.notBefore,
    notAfter: fields.notAfter,
    serialNumber: serial.toString('hex'),
    issuer: issuer.text,
    subject: readName(fields.subject).text,
    ...(issuer.commonName !== undefined ? { issuerCommonName: issuer.commonName } : {}),
    dnsNames,
    ipAddresses,
    ariCertId: aki ? ariCertIdFromParts(aki, fields.serial) : '',
  };
}
