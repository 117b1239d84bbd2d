/**
 * The account label of dns-account-01 (draft-ietf-acme-dns-account-label-03 §3.1): the TXT record
 * sits at `_<label>._acme-challenge.<name>`, where the label is
 * `lowercase(base32(SHA-256(<account URL>)[0:10]))`, RFC 4648 base32 without padding (10 bytes are
 * exactly 16 characters). Each ACME account so writes at its own name and several accounts
 * (clusters, CDNs, CAs) prove one name at once without overwriting each other.
 */
import { createHash } from 'node:crypto';

const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';

/** RFC 4648 §6 base32, lowercase, no padding. */
export function base32Lower(bytes: Uint8Array): string {
  let out = '';
  let bits = 0;
  let value = 0;
  for (const byte of bytes) {
    value = ((value << 8) | byte) & 0xffff;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(value >> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += BASE32[(value << (5 - bits)) & 31];
  return out;
}

/** The 16-character account label of `accountUrl` (without the leading underscore). */
export function dnsAccountLabel(accountUrl: string): string {
  return base32Lower(createHash('sha256').update(accountUrl, 'utf8').digest().subarray(0, 10));
}

/** `_<label>._acme-challenge.<name>.`: where dns-account-01 puts the TXT value of `name` for this account. */
export function dnsAccountRecordName(accountUrl: string, name: string): string {
  return `_${dnsAccountLabel(accountUrl)}._acme-challenge.${name.replace(/\.$/, '')}.`;
}
