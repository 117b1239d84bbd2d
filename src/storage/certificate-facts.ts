/**
 * Checks and facts for a certificate set certpilot did not issue itself: a certbot lineage loaded
 * in place by the domain stores, or a set `certpilot import` brings in (certbot's `archive/`,
 * the deck's dev volume). One place, so the store and the importer agree on what a sound set is
 * and on the metadata (the ARI id above all: the first renewal sends it as `replaces`).
 *
 * Loaded on first use only (it needs node:crypto): a nothing-due run never reads it.
 */
import * as crypto from 'node:crypto';
import { createPrivateKey, createHash, X509Certificate } from 'node:crypto';
import { splitPemChain } from '../acme/certificate.js';
import { keyTypeOf } from '../acme/csr.js';
import { CertpilotError } from '../errors.js';
import type { IssuanceMetadata, KeyType } from './certificate-store.js';
import { deriveMetadata } from './derive-metadata.js';

/** The four PEM texts of one version. */
export interface CertificateSetPems {
  certPem: string;
  chainPem: string;
  fullchainPem: string;
  privateKeyPem: string;
}

/** SHA-256 of the leaf's DER, lowercase hex: how a set is recognised (never by serial). */
export function certificateFingerprint(certPem: string): string {
  return createHash('sha256').update(new X509Certificate(certPem).raw).digest('hex');
}

/** The name of each file of a set, for {@link certificateSetProblem}'s sentences (certbot's archive files). */
export interface CertificateSetLabels {
  cert: string;
  chain: string;
  fullchain: string;
  privkey: string;
}

/**
 * Why `set` cannot be served, or `undefined` when it is sound: the leaf and every chain certificate
 * parse, the key parses and matches the leaf, and the full chain is the leaf followed by the chain.
 * `label` names the set in the sentence (e.g. `archive/example/cert2.pem`), or each of its files
 * (a broken `chain2.pem` is then named, not `cert2.pem`; a key that does not match is named by the
 * certificate).
 */
export function certificateSetProblem(set: CertificateSetPems, label: string | CertificateSetLabels): string | undefined {
  const name = typeof label === 'string' ? { cert: label, chain: label, fullchain: label, privkey: label } : label;
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(set.certPem);
  } catch {
    return `${name.cert}: the certificate does not parse`;
  }
  const chain = splitPemChain(set.chainPem);
  for (const [i, pem] of chain.entries()) {
    try {
      new X509Certificate(pem);
    } catch {
      return `${name.chain}: certificate ${i + 1} of the chain does not parse`;
    }
  }
  if (set.chainPem.trim() !== '' && chain.length === 0) return `${name.chain}: the chain holds no PEM certificate`;
  let matches: boolean;
  try {
    matches = leaf.checkPrivateKey(createPrivateKey(set.privateKeyPem));
  } catch {
    return `${name.privkey}: the private key does not parse`;
  }
  if (!matches) return `${name.cert}: the private key does not match the certificate`;
  const full = splitPemChain(set.fullchainPem).map(normalizePem);
  const expected = [set.certPem, ...chain].map(normalizePem);
  if (full.length !== expected.length || full.some((pem, i) => pem !== expected[i])) {
    return `${name.fullchain}: the full chain is not the certificate followed by the chain`;
  }
  return undefined;
}

/** Like {@link certificateSetProblem}, as an `ERR_KEY_INVALID` error for callers that refuse the set. */
export function checkCertificateSet(set: CertificateSetPems, label: string): void {
  const problem = certificateSetProblem(set, label);
  if (problem !== undefined) throw new CertpilotError('ERR_KEY_INVALID', `storage: ${problem}`);
}

/** The key type of a PEM private key, or `undefined` for one certpilot does not issue (P-521, RSA 1024…). */
export function keyTypeOfPem(privateKeyPem: string): KeyType | undefined {
  return keyTypeOf(createPrivateKey(privateKeyPem));
}

/**
 * Issuance metadata read from the certificate itself, for a version certpilot did not save: the
 * same reading the domain stores do for a certbot version without `meta.json`
 * (`derive-metadata.ts`: names, validity, serial, issuer, and the ARI id its first renewal sends as
 * `replaces`). `origin` fills what the files cannot say (the CA and account, when known).
 */
export function metadataFromCertificate(
  certPem: string,
  privateKeyPem: string,
  origin: { directoryUrl?: string; accountUrl?: string; issuedAt?: string } = {},
): IssuanceMetadata {
  let metadata: IssuanceMetadata;
  try {
    metadata = deriveMetadata('an imported certificate', certPem, privateKeyPem, crypto);
  } catch (cause) {
    throw new CertpilotError('ERR_KEY_INVALID', 'storage: the certificate or private key of an imported certificate does not parse', { cause });
  }
  return {
    ...metadata,
    ...(origin.issuedAt ? { issuedAt: origin.issuedAt } : {}),
    ...(origin.directoryUrl ? { directoryUrl: origin.directoryUrl } : {}),
    ...(origin.accountUrl ? { accountUrl: origin.accountUrl } : {}),
  };
}

function normalizePem(pem: string): string {
  return pem.replace(/\r/g, '').trim();
}
