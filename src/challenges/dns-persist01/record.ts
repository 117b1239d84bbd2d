/**
 * The dns-persist-01 record (draft-ietf-acme-dns-persist-02 §4; -01 for the plain `accounturi`):
 * one TXT record at `_validation-persist.<name>` in RFC 8659 issue-value syntax,
 *
 *     <issuer-domain-name>; accounturi=<uri>[; policy=wildcard][; persistUntil=<unix seconds>]
 *
 * - `issuer-domain-name` is one the CA names (challenge `issuerDomainNames`, -01
 *   `issuer-domain-names`; directory `meta.issuerDomainNames`, else RFC 8555 `caaIdentities`).
 * - `accounturi` (-02 §4.1, where the directory has `meta.accountHashPrefix`):
 *   `<accountHashPrefix>sha-256/<base64url(SHA-256(len(domain) || domain || thumbprint || accountURL))>`,
 *   `domain` the name the record proves (lowercase, no trailing dot, no `*.`), `len` one octet,
 *   `thumbprint` the 43 ASCII characters of the account key's RFC 7638 thumbprint. A CA without
 *   `accountHashPrefix` (-01, Pebble 2.10) takes the account URL itself.
 * - `policy=wildcard` lets the record prove the wildcard and subdomains of the name; tags are
 *   case-insensitive, an unknown policy value counts as absent.
 * - `persistUntil`: after this UNIX time the CA no longer accepts the record.
 *
 * Parsing follows what a CA checks (Pebble 2.10's va): whitespace around `;` and `=` is ignored,
 * a duplicate or malformed tag makes the record malformed.
 */
import { createHash } from 'node:crypto';
import type { PersistExpectation } from '../challenge-solver.js';

/** `_validation-persist.<name>.` for a name or its wildcard. */
export function persistRecordName(name: string): string {
  return `_validation-persist.${hashDomain(name)}.`;
}

/** The domain as it enters the hash and the record name: lowercase, no trailing dot, no `*.`. */
function hashDomain(name: string): string {
  return name.trim().toLowerCase().replace(/\.$/, '').replace(/^\*\./, '');
}

/** -02 §4.1: the hashed account URI of `accountUrl` for the record that proves `domain`. */
export function hashedAccountUri(options: { accountHashPrefix: string; domain: string; thumbprint: string; accountUrl: string }): string {
  const domain = Buffer.from(hashDomain(options.domain), 'ascii');
  if (domain.length > 255) throw new RangeError(`dns-persist: domain ${options.domain} is longer than 255 octets`);
  const digest = createHash('sha256')
    .update(Buffer.from([domain.length]))
    .update(domain)
    .update(Buffer.from(options.thumbprint, 'ascii'))
    .update(Buffer.from(options.accountUrl, 'ascii'))
    .digest('base64url');
  return `${options.accountHashPrefix}sha-256/${digest}`;
}

/** The `accounturi` a record for `domain` must carry: hashed when the CA has an `accountHashPrefix` (-02), else the account URL (-01). */
export function persistAccountUri(options: { accountUrl: string; thumbprint: string; domain: string; accountHashPrefix?: string | undefined }): string {
  return options.accountHashPrefix
    ? hashedAccountUri({ accountHashPrefix: options.accountHashPrefix, domain: options.domain, thumbprint: options.thumbprint, accountUrl: options.accountUrl })
    : options.accountUrl;
}

/** What one record says. */
export interface PersistRecordValue {
  issuer: string;
  accountUri?: string;
  /** `wildcard`, or undefined when absent or any other value (which counts as absent). */
  policy?: 'wildcard';
  persistUntil?: Date;
}

/** The TXT value to publish. */
export function formatPersistValue(record: PersistRecordValue): string {
  return [
    record.issuer,
    ...(record.accountUri ? [`accounturi=${record.accountUri}`] : []),
    ...(record.policy ? [`policy=${record.policy}`] : []),
    ...(record.persistUntil ? [`persistUntil=${Math.floor(record.persistUntil.getTime() / 1000)}`] : []),
  ].join('; ');
}

/** Parses one TXT value; `error` says what is malformed (the CA would refuse it as such). */
export function parsePersistValue(text: string): PersistRecordValue & { error?: string } {
  const [first = '', ...params] = text.split(';');
  const issuer = first.trim();
  const out: PersistRecordValue & { error?: string } = { issuer };
  const seen = new Set<string>();
  for (const raw of params) {
    const param = raw.trim();
    if (param === '') return { ...out, error: 'an empty parameter or a trailing ";"' };
    const eq = param.indexOf('=');
    if (eq <= 0) return { ...out, error: `parameter "${param}" is not tag=value` };
    const tag = param.slice(0, eq).trim().toLowerCase();
    const value = param.slice(eq + 1).trim();
    if (seen.has(tag)) return { ...out, error: `parameter "${tag}" appears twice` };
    seen.add(tag);
    if (!/^[\x21-\x3a\x3c-\x7e]*$/.test(value)) return { ...out, error: `the value of "${tag}" has spaces or characters outside printable ASCII` };
    if (tag === 'accounturi') {
      if (value === '') return { ...out, error: 'accounturi is empty' };
      out.accountUri = value;
    } else if (tag === 'policy') {
      if (value.toLowerCase() === 'wildcard') out.policy = 'wildcard';
    } else if (tag === 'persistuntil') {
      if (!/^-?\d+$/.test(value)) return { ...out, error: `persistUntil "${value}" is not a UNIX time in seconds` };
      out.persistUntil = new Date(Number(value) * 1000);
    }
  }
  return out;
}

/** Why no record at a name proves it for this account and CA, or which record does. */
export type PersistVerdict =
  | { ok: true; value: string; persistUntil?: Date }
  | { ok: false; kind: 'missing' | 'issuer' | 'malformed' | 'stale' | 'account' | 'policy' | 'expired'; why: string };

// Most specific problem wins when several records are wrong in different ways.
const RANK: Record<Exclude<PersistVerdict, { ok: true }>['kind'], number> = { missing: 0, issuer: 1, malformed: 2, account: 3, stale: 4, policy: 5, expired: 6 };

/**
 * Judges the TXT values found at `_validation-persist.<name>` against what this account and CA
 * need, as the CA will at `now`: of the records that prove the name, the one with the latest
 * `persistUntil` (one without wins over all), so the answer does not depend on the DNS answer
 * order; otherwise the most specific reason (expired beats wrong policy beats stale beats another
 * account…).
 */
export function judgePersistRecords(values: readonly string[], expect: PersistExpectation & { wildcard: boolean; now: Date }): PersistVerdict {
  if (values.length === 0) return { ok: false, kind: 'missing', why: 'no TXT record' };
  let worst: Exclude<PersistVerdict, { ok: true }> | undefined;
  let best: Extract<PersistVerdict, { ok: true }> | undefined;
  const keep = (v: Exclude<PersistVerdict, { ok: true }>): void => {
    if (!worst || RANK[v.kind] > RANK[worst.kind]) worst = v;
  };
  for (const value of values) {
    const record = parsePersistValue(value);
    if (!expect.issuerDomainNames.includes(record.issuer)) {
      keep({ ok: false, kind: 'issuer', why: `"${value}" names issuer "${record.issuer}", but this CA accepts only ${expect.issuerDomainNames.map((n) => `"${n}"`).join(', ')}` });
      continue;
    }
    if (record.error) {
      keep({ ok: false, kind: 'malformed', why: `"${value}" is malformed: ${record.error}` });
      continue;
    }
    if (!record.accountUri) {
      keep({ ok: false, kind: 'malformed', why: `"${value}" has no accounturi` });
      continue;
    }
    if (record.accountUri !== expect.accountUri) {
      if (record.accountUri === expect.accountUrl) {
        keep({ ok: false, kind: 'stale', why: `"${value}" carries the plain account URL (draft -01), but this CA asks for the hashed accounturi ${expect.accountUri} (draft -02)` });
      } else {
        keep({ ok: false, kind: 'account', why: `"${value}" is for another account (accounturi=${record.accountUri}); this account needs accounturi=${expect.accountUri}` });
      }
      continue;
    }
    if (expect.wildcard && record.policy !== 'wildcard') {
      keep({ ok: false, kind: 'policy', why: `"${value}" lacks policy=wildcard, which a wildcard name needs` });
      continue;
    }
    if (record.persistUntil && expect.now.getTime() > record.persistUntil.getTime()) {
      keep({ ok: false, kind: 'expired', why: `"${value}" has persistUntil ${record.persistUntil.toISOString()}, which has passed` });
      continue;
    }
    // Several records may prove the name (an old one not yet removed): the CA accepts any, so the
    // one that counts is the one that lasts longest (none = no end), whatever the answer order.
    if (!best || lastsLonger(record.persistUntil, best.persistUntil)) best = { ok: true, value, ...(record.persistUntil ? { persistUntil: record.persistUntil } : {}) };
  }
  return best ?? worst ?? { ok: false, kind: 'missing', why: 'no TXT record' };
}

/** Whether a record good until `a` outlasts one good until `b` (undefined: no end). */
export function lastsLonger(a: Date | undefined, b: Date | undefined): boolean {
  if (b === undefined) return false;
  return a === undefined || a.getTime() > b.getTime();
}

/** `name` as one shell word in a printed command: a wildcard is quoted, so the shell does not glob it. */
export function shellName(name: string): string {
  return /^[A-Za-z0-9._-]+$/.test(name) ? name : `'${name.replace(/'/g, `'\\''`)}'`;
}
