/**
 * The ACME directory (RFC 8555 §7.1.1), with the `renewalInfo` URL of ARI (RFC 9773 §4) and the
 * `profiles` meta field of the ACME profiles extension (draft-aaron-acme-profiles).
 */
import { CertpilotError } from '../../errors.js';

/** Directory metadata (RFC 8555 §7.1.1 `meta`). */
export interface DirectoryMeta {
  termsOfService?: string;
  website?: string;
  caaIdentities?: string[];
  externalAccountRequired?: boolean;
  /** Profile name → human description, when the CA offers profiles. */
  profiles?: Record<string, string>;
  /** draft-ietf-acme-dns-persist-02 §5: the prefix of hashed `accounturi` values; its presence means the CA wants them hashed. */
  accountHashPrefix?: string;
  /** draft-ietf-acme-dns-persist-02 §5: issuer domain names a dns-persist-01 record may name. */
  issuerDomainNames?: string[];
}

/** The ACME directory: the URL of every endpoint. */
export interface Directory {
  newNonce: string;
  newAccount: string;
  newOrder: string;
  revokeCert: string;
  keyChange: string;
  newAuthz?: string;
  /** ARI base URL (RFC 9773 §4); absent when the CA has no ARI. */
  renewalInfo?: string;
  meta?: DirectoryMeta;
}

const REQUIRED = ['newNonce', 'newAccount', 'newOrder', 'revokeCert', 'keyChange'] as const;

/** Validates a directory response; throws `ERR_ACME_BAD_RESPONSE` naming the missing endpoint. */
export function parseDirectory(body: unknown, directoryUrl: string): Directory {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new CertpilotError('ERR_ACME_BAD_RESPONSE', `acme: directory: ${directoryUrl} did not return a JSON object`);
  }
  const record = body as Record<string, unknown>;
  for (const name of REQUIRED) {
    if (typeof record[name] !== 'string') {
      throw new CertpilotError('ERR_ACME_BAD_RESPONSE', `acme: directory: ${directoryUrl} has no "${name}" URL`);
    }
  }
  const dir = record as unknown as Directory;
  const meta = typeof record.meta === 'object' && record.meta !== null ? (record.meta as DirectoryMeta) : undefined;
  return {
    newNonce: dir.newNonce,
    newAccount: dir.newAccount,
    newOrder: dir.newOrder,
    revokeCert: dir.revokeCert,
    keyChange: dir.keyChange,
    ...(typeof record.newAuthz === 'string' ? { newAuthz: record.newAuthz } : {}),
    ...(typeof record.renewalInfo === 'string' ? { renewalInfo: record.renewalInfo } : {}),
    ...(meta ? { meta } : {}),
  };
}
