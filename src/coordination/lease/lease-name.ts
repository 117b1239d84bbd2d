/** The Lease name of a certificate's lock: a DNS-1123 subdomain, one per certificate name. */
import { createHash } from 'node:crypto';

/**
 * `<prefix><name>` when that is already a DNS-1123 subdomain (lowercase letters, digits, `-`,
 * `.`; at most 253), else the name mapped into that alphabet plus a hash of the original, so
 * `Www` and `www`, or `a_b` and `a-b`, never share a Lease.
 */
export function leaseName(prefix: string, name: string): string {
  const plain = `${prefix}${name}`;
  if (/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(plain) && plain.length <= 253) return plain;
  const mapped = name.toLowerCase().replace(/[^a-z0-9.-]/g, '-').replace(/^[^a-z0-9]+|[^a-z0-9]+$/g, '').slice(0, 180);
  const hash = createHash('sha256').update(name).digest('hex').slice(0, 10);
  return `${prefix}${mapped ? `${mapped}-` : ''}${hash}`;
}
