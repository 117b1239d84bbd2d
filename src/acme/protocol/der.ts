/**
 * A minimal DER (ITU-T X.690) encoder and reader: just enough ASN.1 to build a PKCS#10 CSR and
 * to read a certificate's serial, validity, names, SAN and Authority Key Identifier.
 *
 * Why not @peculiar/x509: loading it (and the Reflect polyfill it needs) costs ~200 ms of cold
 * start, a third of the one-certificate budget; these few structures are small and fixed.
 */

/** Universal and context tags used by certpilot. */
export const TAG = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  UTF8_STRING: 0x0c,
  PRINTABLE_STRING: 0x13,
  IA5_STRING: 0x16,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

function lengthBytes(length: number): Buffer {
  if (length < 0x80) return Buffer.from([length]);
  const bytes: number[] = [];
  for (let n = length; n > 0; n = Math.floor(n / 256)) bytes.unshift(n & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

/** Encodes one TLV with the given tag byte. */
export function derTlv(tag: number, content: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from([tag]), lengthBytes(content.length), content]);
}

/** SEQUENCE of already-encoded parts. */
export function derSequence(...parts: Uint8Array[]): Buffer {
  return derTlv(TAG.SEQUENCE, Buffer.concat(parts));
}

/** SET of already-encoded parts (callers pass one element or pre-sorted elements). */
export function derSet(...parts: Uint8Array[]): Buffer {
  return derTlv(TAG.SET, Buffer.concat(parts));
}

/** OBJECT IDENTIFIER from dotted form. */
export function derOid(oid: string): Buffer {
  const arcs = oid.split('.').map(Number);
  const [first = 0, second = 0, ...rest] = arcs;
  const bytes: number[] = [first * 40 + second];
  for (const arc of rest) {
    const chunk: number[] = [arc & 0x7f];
    for (let n = Math.floor(arc / 128); n > 0; n = Math.floor(n / 128)) chunk.unshift((n & 0x7f) | 0x80);
    bytes.push(...chunk);
  }
  return derTlv(TAG.OID, Buffer.from(bytes));
}

/** Small non-negative INTEGER. */
export function derInteger(value: number): Buffer {
  const bytes: number[] = [];
  let n = value;
  do {
    bytes.unshift(n & 0xff);
    n = Math.floor(n / 256);
  } while (n > 0);
  if ((bytes[0] ?? 0) & 0x80) bytes.unshift(0);
  return derTlv(TAG.INTEGER, Buffer.from(bytes));
}

/** NULL. */
export function derNull(): Buffer {
  return Buffer.from([TAG.NULL, 0]);
}

/** BOOLEAN. */
export function derBoolean(value: boolean): Buffer {
  return Buffer.from([TAG.BOOLEAN, 1, value ? 0xff : 0]);
}

/** BIT STRING with no unused bits. */
export function derBitString(bytes: Uint8Array): Buffer {
  return derTlv(TAG.BIT_STRING, Buffer.concat([Buffer.from([0]), bytes]));
}

/** OCTET STRING. */
export function derOctetString(bytes: Uint8Array): Buffer {
  return derTlv(TAG.OCTET_STRING, bytes);
}

/** UTF8String. */
export function derUtf8String(text: string): Buffer {
  return derTlv(TAG.UTF8_STRING, Buffer.from(text, 'utf8'));
}

/** One decoded TLV: its tag byte, its content and where the next TLV starts. */
export interface DerNode {
  tag: number;
  content: Buffer;
  /** The whole TLV (header and content). */
  raw: Buffer;
  /** Offset just past this TLV in the buffer it was read from. */
  end: number;
}

/** Reads the TLV at `offset`; throws `RangeError` on truncated or indefinite-length input. */
export function derRead(buf: Buffer, offset = 0): DerNode {
  if (offset + 2 > buf.length) throw new RangeError('DER: truncated header');
  const tag = buf[offset] as number;
  if ((tag & 0x1f) === 0x1f) throw new RangeError('DER: multi-byte tags are not supported');
  let length = buf[offset + 1] as number;
  let header = 2;
  if (length & 0x80) {
    const count = length & 0x7f;
    if (count === 0 || count > 4) throw new RangeError('DER: unsupported length form');
    if (offset + 2 + count > buf.length) throw new RangeError('DER: truncated length');
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + (buf[offset + 2 + i] as number);
    header += count;
  }
  const start = offset + header;
  const end = start + length;
  if (end > buf.length) throw new RangeError('DER: truncated content');
  return { tag, content: buf.subarray(start, end), raw: buf.subarray(offset, end), end };
}

/** The TLVs inside a constructed node's content, in order. */
export function derChildren(content: Buffer): DerNode[] {
  const out: DerNode[] = [];
  for (let offset = 0; offset < content.length; ) {
    const node = derRead(content, offset);
    out.push(node);
    offset = node.end;
  }
  return out;
}

/** Dotted form of an OBJECT IDENTIFIER's content octets. */
export function derOidToString(content: Buffer): string {
  const first = content[0] ?? 0;
  const arcs = [Math.min(2, Math.floor(first / 40)), first - Math.min(2, Math.floor(first / 40)) * 40];
  let value = 0;
  for (let i = 1; i < content.length; i++) {
    const byte = content[i] as number;
    value = value * 128 + (byte & 0x7f);
    if (!(byte & 0x80)) {
      arcs.push(value);
      value = 0;
    }
  }
  return arcs.join('.');
}

/** Decodes a UTCTime or GeneralizedTime (RFC 5280 §4.1.2.5 forms, `Z` only). */
export function derTimeToDate(node: DerNode): Date {
  const text = node.content.toString('latin1');
  const match =
    node.tag === TAG.UTC_TIME
      ? /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(text)
      : /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(text);
  if (!match) throw new RangeError(`DER: unsupported time ${JSON.stringify(text)}`);
  const [, y, mo, d, h, mi, s] = match.map(Number) as [number, number, number, number, number, number, number];
  // RFC 5280: two-digit years 50..99 are 19xx, 00..49 are 20xx.
  const year = node.tag === TAG.UTC_TIME ? (y >= 50 ? 1900 + y : 2000 + y) : y;
  return new Date(Date.UTC(year, mo - 1, d, h, mi, s));
}

/** DER bytes of a PEM block (the first one of `label`), or of `input` itself when it is bytes. */
export function pemToDer(input: string | Uint8Array, label = 'CERTIFICATE'): Buffer {
  if (typeof input !== 'string') return Buffer.from(input);
  const match = new RegExp(`-----BEGIN ${label}-----([\\s\\S]*?)-----END ${label}-----`).exec(input);
  if (!match) throw new RangeError(`PEM: no ${label} block found`);
  return Buffer.from((match[1] ?? '').replace(/\s+/g, ''), 'base64');
}

/** PEM text of DER bytes, 64 characters a line, ending with a newline. */
export function derToPem(der: Uint8Array, label = 'CERTIFICATE'): string {
  const b64 = Buffer.from(der).toString('base64');
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

/** The fields of an X.509 certificate's TBSCertificate (RFC 5280 §4.1) certpilot reads. */
export interface TbsFields {
  /** INTEGER content octets of the serial, as encoded (leading 0x00 kept). */
  serial: Buffer;
  issuer: DerNode;
  subject: DerNode;
  notBefore: Date;
  notAfter: Date;
  /** Extensions by OID: criticality and the extnValue OCTET STRING content. */
  extensions: Map<string, { critical: boolean; value: Buffer }>;
}

/** Reads the TBSCertificate of a DER certificate; throws `RangeError` when it is not one. */
export function readTbsFields(der: Buffer): TbsFields {
  const cert = derRead(der);
  if (cert.tag !== TAG.SEQUENCE) throw new RangeError('X.509: not a SEQUENCE');
  const [tbs] = derChildren(cert.content);
  if (!tbs || tbs.tag !== TAG.SEQUENCE) throw new RangeError('X.509: no TBSCertificate');
  const fields = derChildren(tbs.content);
  // version is [0] EXPLICIT and optional (absent means v1).
  const offset = fields[0]?.tag === 0xa0 ? 1 : 0;
  const [serial, , issuer, validity, subject] = fields.slice(offset);
  if (!serial || serial.tag !== TAG.INTEGER || !issuer || !validity || !subject) {
    throw new RangeError('X.509: malformed TBSCertificate');
  }
  const [notBefore, notAfter] = derChildren(validity.content);
  if (!notBefore || !notAfter) throw new RangeError('X.509: malformed validity');
  const extensions = new Map<string, { critical: boolean; value: Buffer }>();
  const extsWrapper = fields.find((f) => f.tag === 0xa3);
  if (extsWrapper) {
    const [list] = derChildren(extsWrapper.content);
    for (const ext of list ? derChildren(list.content) : []) {
      const parts = derChildren(ext.content);
      const id = parts[0];
      const value = parts[parts.length - 1];
      if (!id || id.tag !== TAG.OID || !value || value.tag !== TAG.OCTET_STRING) continue;
      const critical = parts.length === 3 && parts[1]?.tag === TAG.BOOLEAN && parts[1].content[0] !== 0;
      extensions.set(derOidToString(id.content), { critical, value: value.content });
    }
  }
  return {
    serial: serial.content,
    issuer,
    subject,
    notBefore: derTimeToDate(notBefore),
    notAfter: derTimeToDate(notAfter),
    extensions,
  };
}
