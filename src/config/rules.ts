/**
 * Cross-field rules and normalization of identifiers: the checks a schema alone cannot express.
 * Each rule appends {@link ConfigIssue}s naming the field and the fix; none stops at the first.
 */
import { WILDCARD_CHALLENGE_TYPES, type Identifier } from '../challenges/challenge-solver.js';
import type { ConfigIssue } from '../errors.js';

const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;
const OCTET = '(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)';
const IPV4 = new RegExp(`^${OCTET}(?:\\.${OCTET}){3}$`);

/**
 * 4 or 6 for an IP address literal, else 0. (Not node:net's isIP: loading node:net costs a
 * nothing-due run ~9 ms; the WHATWG URL parser validates IPv6 for free.)
 */
export function ipVersion(value: string): 0 | 4 | 6 {
  if (IPV4.test(value)) return 4;
  if (!value.includes(':') || !/^[0-9a-fA-F:.]+$/.test(value)) return 0;
  try {
    new URL(`http://[${value}]/`);
    return 6;
  } catch {
    return 0;
  }
}

/** Normalizes one configured name: lowercase, no trailing dot; IPv6 in canonical compressed form. */
export function normalizeDomain(raw: string): string {
  const trimmed = raw.trim().toLowerCase().replace(/\.$/, '');
  const bare = trimmed.replace(/^\[|\]$/g, '');
  if (ipVersion(bare) === 6) return new URL(`http://[${bare}]/`).hostname.slice(1, -1);
  return trimmed;
}

/** Why `name` is not a valid certificate identifier, or undefined when it is. */
export function identifierProblem(name: string): string | undefined {
  if (name.length === 0) return 'is empty';
  if (ipVersion(name) !== 0) return undefined;
  if (name.length > 253) return 'is longer than 253 characters';
  const labels = name.split('.');
  const first = labels[0];
  if (labels.length < 2) return `"${name}" is not a fully qualified domain name (it needs a dot, like www.example.com)`;
  for (let i = 0; i < labels.length; i++) {
    const label = labels[i] as string;
    if (i === 0 && label === '*') continue;
    if (label.includes('*')) return `"${name}": a wildcard may only be the whole leftmost label, like *.example.com`;
    if (!LABEL.test(label)) {
      return `"${name}": label "${label}" must be 1-63 letters, digits or hyphens, not starting or ending with a hyphen (use punycode xn--… for international names)`;
    }
  }
  if (/^\d+$/.test(labels[labels.length - 1] as string)) return `"${name}" is neither a valid IP address nor a domain name (a top-level domain is never all digits)`;
  if (first === '*' && labels.length < 3) return `"${name}": a wildcard needs at least two labels after it, like *.example.com`;
  return undefined;
}

/** The ACME identifier of a normalized name (RFC 8555 §7.1.3 dns, RFC 8738 ip). */
export function toIdentifier(name: string): Identifier {
  return ipVersion(name) !== 0 ? { type: 'ip', value: name } : { type: 'dns', value: name };
}

/** Default certificate name from its first domain: `*.example.com` → `_wildcard.example.com`. */
export function defaultCertificateName(firstDomain: string): string {
  return firstDomain.replace(/^\*\./, '_wildcard.').replace(/:/g, '-');
}

/**
 * Checks and normalizes a certificate's domain list: lowercase, duplicates dropped (first kept),
 * every name valid, wildcards only where the challenge can prove them.
 */
export function checkDomains(
  domains: readonly string[],
  challenge: string,
  path: string,
  issues: ConfigIssue[],
): string[] {
  const out: string[] = [];
  if (domains.length === 0) {
    issues.push({
      path,
      message: 'lists no names (after expanding environment variables); list at least one DNS name or IP address',
    });
  }
  domains.forEach((raw, index) => {
    const name = normalizeDomain(raw);
    const problem = identifierProblem(name);
    if (problem) {
      issues.push({ path: `${path}[${index}]`, message: problem });
      return;
    }
    if (name.startsWith('*.') && !(WILDCARD_CHALLENGE_TYPES as readonly string[]).includes(challenge)) {
      issues.push({
        path: `${path}[${index}]`,
        message: `"${name}" is a wildcard, which only dns-01, dns-account-01 or dns-persist-01 can prove; remove it or list the names one by one`,
      });
      return;
    }
    if (!out.includes(name)) out.push(name);
  });
  return out;
}
