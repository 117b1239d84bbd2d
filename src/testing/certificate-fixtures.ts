/**
 * Real certificate bundles for tests: a fresh key pair, a leaf signed by a throw-away CA, and the
 * metadata a store keeps. Made with the `openssl` command line; keys reach it through files in a
 * private temporary directory, never through argv.
 */
import { X509Certificate, randomBytes } from 'node:crypto';
import { newPrivateKeySync } from '../acme/private-key-sync.js';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CertificateBundle, IssuanceMetadata, KeyType } from '../storage/certificate-store.js';

/** Options of {@link makeTestBundle}. */
export interface TestBundleOptions {
  /** DNS names of the leaf; the first is also its common name. Default `['example.test']`. */
  domains?: string[];
  /** Days of validity from now (openssl `-days`). Default 90. */
  days?: number;
  /** `ec-p256` (default), `ec-p384` or an RSA type. */
  keyType?: KeyType;
  /** Metadata fields to override. */
  metadata?: Partial<IssuanceMetadata>;
  /** The leaf's key (PKCS#8 PEM of `keyType`), as with `reuseKey`; a new one when absent (RSA-4096 takes seconds). */
  privateKeyPem?: string;
}

function newKeyPem(keyType: KeyType): string {
  const rsaBits: Partial<Record<KeyType, number>> = { 'rsa-2048': 2048, 'rsa-3072': 3072, 'rsa-4096': 4096 };
  const bits = rsaBits[keyType];
  const key =
    bits === undefined
      ? newPrivateKeySync({ type: 'ec', namedCurve: keyType === 'ec-p384' ? 'P-384' : 'P-256' })
      : newPrivateKeySync({ type: 'rsa', modulusLength: bits });
  return key.export({ type: 'pkcs8', format: 'pem' }).toString();
}

/** Makes a complete {@link CertificateBundle} with a real key and certificate chain. */
export function makeTestBundle(options: TestBundleOptions = {}): CertificateBundle {
  const domains = options.domains ?? ['example.test'];
  const keyType = options.keyType ?? 'ec-p256';
  const days = String(options.days ?? 90);
  const dir = mkdtempSync(join(tmpdir(), 'certpilot-fixture-'));
  try {
    const caKey = join(dir, 'ca.key');
    const leafKey = join(dir, 'leaf.key');
    writeFileSync(caKey, newKeyPem('ec-p256'), { mode: 0o600 });
    const privateKeyPem = options.privateKeyPem ?? newKeyPem(keyType);
    writeFileSync(leafKey, privateKeyPem, { mode: 0o600 });
    writeFileSync(join(dir, 'leaf.ext'), `subjectAltName=${domains.map((d) => `DNS:${d}`).join(',')}\n`);
    const run = (args: string[]): void => {
      execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
    };
    run(['req', '-x509', '-new', '-key', 'ca.key', '-subj', '/CN=certpilot test CA', '-days', '3650', '-out', 'ca.pem']);
    run(['req', '-new', '-key', 'leaf.key', '-subj', `/CN=${domains[0] ?? 'example.test'}`, '-out', 'leaf.csr']);
    const serial = `0x${randomBytes(8).toString('hex').replace(/^[89a-f]/, '1')}`;
    run(['x509', '-req', '-in', 'leaf.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-set_serial', serial, '-days', days, '-extfile', 'leaf.ext', '-out', 'leaf.pem']);
    const certPem = readFileSync(join(dir, 'leaf.pem'), 'utf8');
    const chainPem = readFileSync(join(dir, 'ca.pem'), 'utf8');
    const cert = new X509Certificate(certPem);
    const serialNumber = cert.serialNumber.toLowerCase();
    const metadata: IssuanceMetadata = {
      domains,
      keyType,
      notBefore: new Date(cert.validFrom).toISOString(),
      notAfter: new Date(cert.validTo).toISOString(),
      serialNumber,
      issuer: cert.issuer,
      ariCertId: `fixture.${serialNumber}`,
      issuedAt: new Date().toISOString(),
      directoryUrl: 'https://localhost:14000/dir',
      accountUrl: 'https://localhost:14000/my-account/1',
      ...options.metadata,
    };
    return { certPem, chainPem, fullchainPem: certPem + chainPem, privateKeyPem, metadata };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
