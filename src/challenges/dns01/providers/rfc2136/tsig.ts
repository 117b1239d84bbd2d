/**
 * DNS UPDATE messages (RFC 2136) signed with TSIG (RFC 8945), written by hand: `dns-packet` cannot
 * encode CLASS NONE (RFC 2136 §2.5.4, "delete an RR from an RRset") nor TSIG's RDATA, and no kept
 * npm library signs messages (docs/design-notes.md, "DNS UPDATE and TSIG").
 *
 * Only what certpilot sends is written: a zone section of one SOA question, no prerequisites, one
 * TXT RR in the update section, and a TSIG RR as the last additional record. Answers are read just
 * far enough to find the RCODE and the TSIG RR and to check the server's signature (§5.3).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

/** The TSIG algorithms certpilot signs with (RFC 8945 §6). */
export type TsigAlgorithm = 'hmac-sha256' | 'hmac-sha512';

/** A TSIG key: its name (as configured on the server), algorithm and secret bytes. */
export interface TsigKey {
  name: string;
  algorithm: TsigAlgorithm;
  secret: Buffer;
}

/** One TXT change in the update section. */
export interface TxtChange {
  /** `add` an RR (RFC 2136 §2.5.1) or `delete` one RR by value (§2.5.4). */
  action: 'add' | 'delete';
  /** Absolute owner name, trailing dot. */
  name: string;
  value: string;
  ttl: number;
}

// RFC 1035 §3.2.4 classes; RFC 2136 §2.5 gives NONE (254) and ANY (255) their update meaning.
const CLASS_IN = 1;
const CLASS_NONE = 254;
const CLASS_ANY = 255;
const TYPE_SOA = 6;
const TYPE_TXT = 16;
const TYPE_TSIG = 250;
const OPCODE_UPDATE = 5;
/** RFC 8945 §10: the fudge BIND and most servers accept. */
const FUDGE_SECONDS = 300;

/** Wire form of a domain name, lower-cased, uncompressed (RFC 1035 §3.1; RFC 8945 §4.3.3 canonical form). */
export function encodeName(name: string): Buffer {
  const labels = name.toLowerCase().replace(/\.$/, '').split('.').filter((l) => l.length > 0);
  const parts: Buffer[] = [];
  for (const label of labels) {
    const bytes = Buffer.from(label, 'ascii');
    if (bytes.length > 63) throw new Error(`dns: label "${label}" is longer than 63 octets`);
    parts.push(Buffer.from([bytes.length]), bytes);
  }
  parts.push(Buffer.from([0]));
  return Buffer.concat(parts);
}

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

function u48(n: number): Buffer {
  const b = Buffer.alloc(6);
  b.writeUIntBE(n, 0, 6);
  return b;
}

/**
 * RDATA of a TXT record (RFC 1035 §3.3.14): one character-string, or for a value over 255 octets
 * (a dns-persist-01 record can be) consecutive 255-octet strings, which readers join.
 */
function txtRdata(value: string): Buffer {
  const bytes = Buffer.from(value, 'utf8');
  const parts: Buffer[] = [];
  for (let i = 0; i === 0 || i < bytes.length; i += 255) {
    const chunk = bytes.subarray(i, i + 255);
    parts.push(Buffer.from([chunk.length]), chunk);
  }
  return Buffer.concat(parts);
}

/** The unsigned UPDATE message (RFC 2136 §2): zone section, no prerequisites, one update RR. */
export function encodeUpdate(id: number, zone: string, change: TxtChange): Buffer {
  const header = Buffer.concat([u16(id), u16(OPCODE_UPDATE << 11), u16(1), u16(0), u16(1), u16(0)]);
  const zoneSection = Buffer.concat([encodeName(zone), u16(TYPE_SOA), u16(CLASS_IN)]);
  const rdata = txtRdata(change.value);
  const rr =
    change.action === 'add'
      ? Buffer.concat([encodeName(change.name), u16(TYPE_TXT), u16(CLASS_IN), u32(change.ttl), u16(rdata.length), rdata])
      : // §2.5.4: CLASS NONE, TTL 0, the RDATA to delete.
        Buffer.concat([encodeName(change.name), u16(TYPE_TXT), u16(CLASS_NONE), u32(0), u16(rdata.length), rdata]);
  return Buffer.concat([header, zoneSection, rr]);
}

/** The algorithm's name as it goes on the wire (RFC 8945 §6). */
function algorithmName(algorithm: TsigAlgorithm): string {
  return `${algorithm}.`;
}

function hmacName(algorithm: TsigAlgorithm): 'sha256' | 'sha512' {
  return algorithm === 'hmac-sha256' ? 'sha256' : 'sha512';
}

/** The TSIG variables digested after the message (RFC 8945 §4.3.3). */
function tsigVariables(key: TsigKey, algorithm: string, timeSigned: number, fudge: number, error: number, other: Buffer): Buffer {
  return Buffer.concat([
    encodeName(key.name),
    u16(CLASS_ANY),
    u32(0),
    encodeName(algorithm),
    u48(timeSigned),
    u16(fudge),
    u16(error),
    u16(other.length),
    other,
  ]);
}

/** A signed request and the MAC the answer's signature must chain to (RFC 8945 §5.3). */
export interface SignedMessage {
  message: Buffer;
  mac: Buffer;
}

/** Appends a TSIG RR to `message` (RFC 8945 §4.3, §5.1): ARCOUNT + 1, MAC over message + variables. */
export function signMessage(message: Buffer, key: TsigKey, nowSeconds: number): SignedMessage {
  const alg = algorithmName(key.algorithm);
  const mac = createHmac(hmacName(key.algorithm), key.secret)
    .update(message)
    .update(tsigVariables(key, alg, nowSeconds, FUDGE_SECONDS, 0, Buffer.alloc(0)))
    .digest();
  const id = message.readUInt16BE(0);
  const rdata = Buffer.concat([encodeName(alg), u48(nowSeconds), u16(FUDGE_SECONDS), u16(mac.length), mac, u16(id), u16(0), u16(0)]);
  const rr = Buffer.concat([encodeName(key.name), u16(TYPE_TSIG), u16(CLASS_ANY), u32(0), u16(rdata.length), rdata]);
  const signed = Buffer.concat([message, rr]);
  signed.writeUInt16BE(message.readUInt16BE(10) + 1, 10);
  return { message: signed, mac };
}

/** What an UPDATE answer says. */
export interface UpdateAnswer {
  id: number;
  /** RCODE (RFC 1035 §4.1.1, RFC 2136 §2.2): 0 NOERROR, 5 REFUSED, 9 NOTAUTH, 10 NOTZONE… */
  rcode: number;
  /** The TSIG RR of the answer, when there is one. */
  tsig?: {
    keyName: string;
    algorithm: string;
    timeSigned: number;
    fudge: number;
    mac: Buffer;
    originalId: number;
    /** TSIG error (RFC 8945 §3): 16 BADSIG, 17 BADKEY, 18 BADTIME, 22 BADTRUNC. */
    error: number;
    other: Buffer;
    /** Offset of the TSIG RR in the answer (the signed part ends there). */
    offset: number;
  };
}

/** Reads a (possibly compressed) name at `offset`; returns it and the offset after it. */
function readName(buf: Buffer, offset: number): { name: string; next: number } {
  const labels: string[] = [];
  let next = -1;
  let at = offset;
  for (let hops = 0; hops < 128; hops++) {
    const len = buf.readUInt8(at);
    if (len === 0) {
      return { name: `${labels.join('.')}.`, next: next === -1 ? at + 1 : next };
    }
    if ((len & 0xc0) === 0xc0) {
      if (next === -1) next = at + 2;
      at = buf.readUInt16BE(at) & 0x3fff;
      continue;
    }
    labels.push(buf.toString('ascii', at + 1, at + 1 + len));
    at += 1 + len;
  }
  throw new Error('dns: name compression loop');
}

/** Reads the header and the TSIG RR (the last additional record) of an UPDATE answer. */
export function parseUpdateAnswer(buf: Buffer): UpdateAnswer {
  if (buf.length < 12) throw new Error('dns: answer shorter than a header');
  const id = buf.readUInt16BE(0);
  const flags = buf.readUInt16BE(2);
  const counts = [buf.readUInt16BE(4), buf.readUInt16BE(6), buf.readUInt16BE(8), buf.readUInt16BE(10)] as const;
  let at = 12;
  for (let i = 0; i < counts[0]; i++) at = readName(buf, at).next + 4;
  const rrTotal = counts[1] + counts[2] + counts[3];
  let tsig: UpdateAnswer['tsig'];
  for (let i = 0; i < rrTotal; i++) {
    const start = at;
    const owner = readName(buf, at);
    const type = buf.readUInt16BE(owner.next);
    const rdlength = buf.readUInt16BE(owner.next + 8);
    const rdataAt = owner.next + 10;
    if (type === TYPE_TSIG && i === rrTotal - 1) {
      const alg = readName(buf, rdataAt);
      let p = alg.next;
      const timeSigned = buf.readUIntBE(p, 6);
      const fudge = buf.readUInt16BE(p + 6);
      const macSize = buf.readUInt16BE(p + 8);
      p += 10;
      const mac = Buffer.from(buf.subarray(p, p + macSize));
      p += macSize;
      const originalId = buf.readUInt16BE(p);
      const error = buf.readUInt16BE(p + 2);
      const otherLen = buf.readUInt16BE(p + 4);
      const other = Buffer.from(buf.subarray(p + 6, p + 6 + otherLen));
      tsig = { keyName: owner.name, algorithm: alg.name, timeSigned, fudge, mac, originalId, error, other, offset: start };
    }
    at = rdataAt + rdlength;
  }
  // The extended RCODE of OPT is never used by UPDATE answers; the header's four bits suffice.
  return { id, rcode: flags & 0xf, ...(tsig ? { tsig } : {}) };
}

/**
 * Checks the answer's TSIG (RFC 8945 §5.3): MAC over the request MAC, the answer without its TSIG
 * RR (ARCOUNT − 1, original ID) and the answer's TSIG variables. Returns false when it does not match.
 */
export function verifyAnswer(buf: Buffer, answer: UpdateAnswer, key: TsigKey, requestMac: Buffer): boolean {
  const tsig = answer.tsig;
  if (!tsig || tsig.mac.length === 0) return false;
  const unsigned = Buffer.from(buf.subarray(0, tsig.offset));
  unsigned.writeUInt16BE(unsigned.readUInt16BE(10) - 1, 10);
  unsigned.writeUInt16BE(tsig.originalId, 0);
  const expected = createHmac(hmacName(key.algorithm), key.secret)
    .update(u16(requestMac.length))
    .update(requestMac)
    .update(unsigned)
    .update(tsigVariables(key, tsig.algorithm, tsig.timeSigned, tsig.fudge, tsig.error, tsig.other))
    .digest();
  return expected.length === tsig.mac.length && timingSafeEqual(expected, tsig.mac);
}

/** RCODE names (RFC 1035 §4.1.1, RFC 2136 §2.2, RFC 8945 §3 for the TSIG error field). */
export const RCODE_NAMES: Readonly<Record<number, string>> = {
  0: 'NOERROR', 1: 'FORMERR', 2: 'SERVFAIL', 3: 'NXDOMAIN', 4: 'NOTIMP', 5: 'REFUSED', 6: 'YXDOMAIN',
  7: 'YXRRSET', 8: 'NXRRSET', 9: 'NOTAUTH', 10: 'NOTZONE', 16: 'BADSIG', 17: 'BADKEY', 18: 'BADTIME', 22: 'BADTRUNC',
};
