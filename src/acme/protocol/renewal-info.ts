/**
 * ACME Renewal Information (RFC 9773): the certificate identifier (§4.1), the renewalInfo
 * response (§4.2) and how long to wait before asking again (§4.3).
 */
import { CertpilotError } from '../../errors.js';
import { base64url } from './jws.js';
import { derChildren, derRead, pemToDer, readTbsFields } from './der.js';
import type { TbsFields } from './der.js';
import { parseRetryAfter } from './problem.js';

/** Authority Key Identifier extension OID (RFC 5280 §4.2.1.1). */
const OID_AUTHORITY_KEY_IDENTIFIER = '2.5.29.35';

/** Default wait before fetching renewalInfo again when the response has no Retry-After: 6 hours. */
export const DEFAULT_ARI_RETRY_MS = 6 * 60 * 60 * 1000;
/** Shortest wait honoured between renewalInfo fetches: 1 minute. */
export const MIN_ARI_RETRY_MS = 60 * 1000;
/** Longest wait honoured between renewalInfo fetches: 1 day, so a revocation-driven window change is seen. */
export const MAX_ARI_RETRY_MS = 24 * 60 * 60 * 1000;

/** A parsed renewalInfo response. */
export interface RenewalInfo {
  suggestedWindow: { start: Date; end: Date };
  explanationURL?: string;
  /** When to ask again (Retry-After, defaulted and clamped). */
  retryAfter: Date;
}

/** RFC 9773 §4.1 from raw parts: base64url(AKI keyIdentifier) "." base64url(serial INTEGER content). */
export function ariCertIdFromParts(keyIdentifier: Uint8Array, serialContent: Uint8Array): string {
  return `${base64url(keyIdentifier)}.${base64url(serialContent)}`;
}

/** The keyIdentifier bytes of a certificate's Authority Key Identifier, if it has one. */
export function authorityKeyIdentifier(fields: TbsFields): Buffer | undefined {
  const aki = fields.extensions.get(OID_AUTHORITY_KEY_IDENTIFIER);
  if (!aki) return undefined;
  // AuthorityKeyIdentifier ::= SEQUENCE { keyIdentifier [0] IMPLICIT OCTET STRING OPTIONAL, ... }
  return derChildren(derRead(aki.value).content).find((n) => n.tag === 0x80)?.content;
}

/**
 * The ARI certificate identifier (RFC 9773 §4.1) of a certificate in PEM (its first block) or DER.
 * Throws `ERR_ACME_BAD_RESPONSE` when the certificate cannot be read or has no AKI keyIdentifier.
 */
export function ariCertId(certPemOrDer: string | Uint8Array): string {
  let fields: TbsFields;
  try {
    fields = readTbsFields(pemToDer(certPemOrDer));
  } catch (cause) {
    throw new CertpilotError('ERR_ACME_BAD_RESPONSE', `ari: certificate id: the certificate cannot be parsed: ${(cause as Error).message}`, { cause });
  }
  const keyIdentifier = authorityKeyIdentifier(fields);
  if (!keyIdentifier) {
    throw new CertpilotError('ERR_ACME_BAD_RESPONSE', 'ari: certificate id: the certificate has no Authority Key Identifier', {
      hint: 'ARI needs certificates with an AKI keyIdentifier; certpilot falls back to the lifetime rule.',
    });
  }
  return ariCertIdFromParts(keyIdentifier, fields.serial);
}

/** The renewalInfo URL for a certificate id: `<renewalInfo>/<certId>` (RFC 9773 §4.2). */
export function renewalInfoUrl(base: string, certId: string): string {
  return `${base.replace(/\/+$/, '')}/${certId}`;
}

/**
 * Parses a renewalInfo response body and its Retry-After header (RFC 9773 §4.2, §4.3). A missing
 * Retry-After means 6 hours; values are clamped to [1 minute, 1 day].
 */
export function parseRenewalInfo(body: unknown, retryAfterHeader: string | string[] | undefined, now: Date): RenewalInfo {
  const window = (body as { suggestedWindow?: { start?: unknown; end?: unknown } } | null)?.suggestedWindow;
  const start = typeof window?.start === 'string' ? new Date(window.start) : undefined;
  const end = typeof window?.end === 'string' ? new Date(window.end) : undefined;
  if (!start || !end || Number.isNaN(start.getTime()) || Number.isNaN(end.getTime()) || end.getTime() < start.getTime()) {
    throw new CertpilotError('ERR_ACME_BAD_RESPONSE', 'ari: renewalInfo: the response has no valid suggestedWindow (start ≤ end)');
  }
  const explanation = (body as { explanationURL?: unknown }).explanationURL;
  const asked = parseRetryAfter(retryAfterHeader, now);
  const waitMs = asked ? asked.getTime() - now.getTime() : DEFAULT_ARI_RETRY_MS;
  const clamped = Math.min(MAX_ARI_RETRY_MS, Math.max(MIN_ARI_RETRY_MS, waitMs));
  return {
    suggestedWindow: { start, end },
    ...(typeof explanation === 'string' ? { explanationURL: explanation } : {}),
    retryAfter: new Date(now.getTime() + clamped),
  };
}
