/**
 * A version's files in a private temporary directory, for a consumer that needs paths (the `hook`
 * deployer, certbot deploy hooks) when the backend keeps no files (Secrets). The directory is
 * created 0700 by mkdtemp(3) (a fresh name no other user can have prepared), each file with an
 * exclusive create (0600 for the key); `remove()` deletes it all after the run.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CertificatePaths, StoredCertificate } from './certificate-store.js';

/** A materialized version: its paths, and how to remove them. */
export interface MaterializedCertificate {
  paths: CertificatePaths;
  remove(): Promise<void>;
}

/** Writes `certificate`'s four PEM files into a new private directory under `parent` (default: the OS temp dir). */
export async function materializeCertificate(certificate: StoredCertificate, parent: string = tmpdir()): Promise<MaterializedCertificate> {
  const dir = await mkdtemp(join(parent, 'certpilot-live-'));
  const remove = (): Promise<void> => rm(dir, { recursive: true, force: true });
  const paths: CertificatePaths = { dir, cert: join(dir, 'cert.pem'), chain: join(dir, 'chain.pem'), fullchain: join(dir, 'fullchain.pem'), privkey: join(dir, 'privkey.pem') };
  try {
    await writeFile(paths.cert, certificate.certPem, { mode: 0o644, flag: 'wx' });
    await writeFile(paths.chain, certificate.chainPem, { mode: 0o644, flag: 'wx' });
    await writeFile(paths.fullchain, certificate.fullchainPem, { mode: 0o644, flag: 'wx' });
    await writeFile(paths.privkey, certificate.privateKeyPem, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    await remove().catch(() => undefined);
    throw err;
  }
  return { paths, remove };
}
