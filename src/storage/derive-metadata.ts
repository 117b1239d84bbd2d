/**
 * Issuance metadata of a version certpilot did not save (certbot's `archive/<name>/certN.pem` has
 * no `metaN.json`; `certpilot import` writes the same facts), reconstructed from the certificate and key. node:crypto is passed in: it is
 * loaded only when such a version is read.
 */
import type * as NodeCryptoModule from 'node:crypto';
import { parseCertificate } from '../acme/certificate.js';
import { CertpilotError } from '../errors.js';
import type { IssuanceMetadata, KeyType } from './certificate-store.js';

type NodeCrypto = typeof NodeCryptoModule;

/**
 * Metadata read from the certificate, with its ARI id (RFC 9773 §4.1: the first renewal of a
 * certbot certificate sends it as `replaces`) and an empty `directoryUrl` and `accountUrl`.
 */
export function deriveMetadata(where: string, certPem: string, privateKeyPem: string, crypto: NodeCrypto): IssuanceMetadata {
  try {
    const cert = new crypto.X509Certificate(certPem);
    const domains = (cert.subjectAltName ?? '')
      .split(', ')
      .map((entry) => /^(?:DNS|IP Address):(.+)$/.exec(entry)?.[1])
      .filter((d): d is string => d !== undefined);
    return {
      domains,
      keyType: keyTypeOf(crypto.createPrivateKey(privateKeyPem)),
      notBefore: new Date(cert.validFrom).toISOString(),
      notAfter: new Date(cert.validTo).toISOString(),
      serialNumber: cert.serialNumber.toLowerCase(),
      issuer: cert.issuer.split('\n').join(', '),
      // From the DER (AKI + serial); empty only for a certificate without an AKI.
      ariCertId: parseCertificate(certPem).ariCertId,
      issuedAt: new Date(cert.validFrom).toISOString(),
      directoryUrl: '',
      accountUrl: '',
    };
  } catch (cause) {
    throw new CertpilotError('ERR_STORAGE_CORRUPT', `storage: reading ${where} failed: it is not a certificate`, { cause });
  }
}

/** The certpilot key type of a private key. */
export function keyTypeOf(key: NodeCryptoModule.KeyObject): KeyType {
  const details = key.asymmetricKeyDetails;
  if (key.asymmetricKeyType === 'ec') return details?.namedCurve === 'secp384r1' ? 'ec-p384' : 'ec-p256';
  const bits = details?.modulusLength ?? 2048;
  return bits >= 4096 ? 'rsa-4096' : bits >= 3072 ? 'rsa-3072' : 'rsa-2048';
}
