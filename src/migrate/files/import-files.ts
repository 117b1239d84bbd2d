/**
 * `certpilot import files DIR --name NAME`: a directory holding one certificate as plain files —
 * `cert.pem`, `chain.pem`, `fullchain.pem`, `privkey.pem`, and optionally `fullbundle.pem`, as the
 * deck's dev volume holds them at its root — imported as the one live version of certificate NAME.
 * The printed configuration keeps that directory up to date with a `files` deployer (which is
 * recorded as holding the imported version, so nothing is rewritten until the first renewal).
 */
import { resolve } from 'node:path';
import type { Clock } from '../../clock.js';
import { CertpilotError } from '../../errors.js';
import { certificateSetProblem, keyTypeOfPem, metadataFromCertificate, type CertificateSetPems } from '../../storage/certificate-facts.js';
import { safeName } from '../../storage/filesystem/safe-name.js';
import { ConfigDraft, type DraftInstance } from '../config-draft.js';
import { applyPlans, planCertificate, type ImportNote, type ImportReport, type ImportStores } from '../import-state.js';
import { bundleOrder } from '../pem-bundle.js';
import { openImportSource, readInside } from '../certbot/certbot-reader.js';

/** Options of {@link importFiles}. */
export interface FilesImportOptions {
  dir: string;
  name: string;
  stores: ImportStores;
  directoryUrl: string;
  stateDir: string;
  /** The configured state store, for the printed configuration (the import writes into it). */
  stateStore?: DraftInstance;
  caBundle?: string;
  email?: string;
  termsOfServiceAgreed: boolean;
  dryRun: boolean;
  clock: Clock;
}

const FILES = { cert: 'cert.pem', chain: 'chain.pem', fullchain: 'fullchain.pem', privkey: 'privkey.pem' } as const;

/** Imports the directory (see the module comment); a broken set is an `ERR_IMPORT_INVALID` error, and nothing is written. */
export async function importFiles(options: FilesImportOptions): Promise<ImportReport> {
  const dir = resolve(options.dir);
  const name = safeName(options.name);
  // Race-free as root: the directory is opened by a walk with O_NOFOLLOW (refused when another user
  // may write it), each file through its descriptor with O_NOFOLLOW: no symlink is followed.
  const handle = await openImportSource(dir, 'Give the directory that holds cert.pem, chain.pem, fullchain.pem and privkey.pem (the deck\'s dev volume root).');
  const read = async (file: string, required: boolean): Promise<string | undefined> => {
    const text = await readInside(handle, file, resolve(dir, file));
    if (typeof text === 'string') return text;
    if (!required && text.missing) return undefined;
    throw new CertpilotError('ERR_IMPORT_SOURCE', `import: ${text.reason}`, {
      hint: 'Give the directory that holds cert.pem, chain.pem, fullchain.pem and privkey.pem as regular files (the deck\'s dev volume root); for certbot\'s live/ links use `certpilot import certbot`.',
    });
  };
  let texts: (string | undefined)[];
  try {
    texts = [await read(FILES.cert, true), await read(FILES.chain, true), await read(FILES.fullchain, true), await read(FILES.privkey, true), await read('fullbundle.pem', false)];
  } finally {
    await handle.close();
  }
  const [certPem, chainPem, fullchainPem, privateKeyPem, bundle] = texts;
  const set = { certPem, chainPem, fullchainPem, privateKeyPem } as CertificateSetPems;
  const problem = certificateSetProblem(set, dir);
  if (problem !== undefined) {
    throw new CertpilotError('ERR_IMPORT_INVALID', `import: ${problem}; nothing was imported`, {
      hint: 'Import a directory whose files belong together (privkey.pem must be the key of cert.pem).',
    });
  }
  const notes: ImportNote[] = [];
  const order = bundle === undefined ? undefined : bundleOrder(bundle, set.certPem, set.chainPem, set.privateKeyPem);
  if (bundle !== undefined && order === undefined) {
    notes.push({ name, setting: 'fullbundle.pem', reason: 'it is neither cert+chain+key nor key+cert+chain; the files deployer writes cert+chain+key (set `bundle` to change it)' });
  }
  const draft = new ConfigDraft();
  const deployer = draft.addDeployer('volume', {
    type: 'files',
    dir,
    bundle: order ?? 'cert-chain-key',
    ...(bundle === undefined ? { files: { 'fullbundle.pem': false } } : {}),
  });
  const facts = metadataFromCertificate(set.certPem, set.privateKeyPem);
  draft.certificates.push({ name, domains: facts.domains, keyType: keyTypeOfPem(set.privateKeyPem) ?? facts.keyType, deploy: [deployer] });
  notes.push({ name, setting: 'solver', reason: 'the files do not say how the names were proven: the certificate uses the `default` solver (standalone http-01 on port 80); name one (route53 for the deck\'s dev volume)' });
  notes.push({ name, setting: 'account', reason: 'the files carry no ACME account: the first renewal registers one (set acme.email); it still sends `replaces`' });
  const plan = await planCertificate(options.stores, { name, versions: [set], deployedBy: [deployer], source: dir }, options.clock);
  const items = await applyPlans([plan], options.dryRun);
  const config = draft.toYaml(
    { stateDir: options.stateDir, ...(options.stateStore ? { stateStore: options.stateStore } : {}), directoryUrl: options.directoryUrl, termsOfServiceAgreed: options.termsOfServiceAgreed, ...(options.email ? { email: options.email } : {}), ...(options.caBundle ? { caBundle: options.caBundle } : {}) },
    [`certpilot configuration for the certificate imported from ${dir}`, 'Check it with `certpilot config check -c FILE`.'],
  );
  return { items, notes, config };
}
