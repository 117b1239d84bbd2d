/**
 * Writes what an import found into certpilot's state through the domain stores only
 * (`CertificateStore.save`, `AccountStore.saveAccount`, `RenewalStateStore.saveState` of the
 * configured `CertpilotStore`, over whatever backend: a directory, Secrets, memory in tests), never
 * by path, and never with a request to the CA. Shared by `import certbot` and `import files`.
 *
 * - **Plan, then apply.** Each certificate and account is first planned from what the store holds
 *   (reads only): `--dry-run` stops there and writes nothing at all.
 * - **Idempotent.** A set is recognised by the SHA-256 of its leaf (never by serial): a version the
 *   store holds live is not saved again, an account with the same URL and key is not saved again,
 *   a deploy record already saying the same is not rewritten. A second import changes nothing.
 * - **Resumable.** Versions are saved oldest first, each one all-or-nothing (the store's contract);
 *   if an import is interrupted, the live version is a complete earlier one, and the next import
 *   saves only the versions after it.
 * - **Never overwrites** a different certificate or account already in certpilot's state: that is
 *   reported as skipped, with the reason.
 */
import type { Clock } from '../clock.js';
import { CertpilotError } from '../errors.js';
import { certificateFingerprint, metadataFromCertificate, type CertificateSetPems } from '../storage/certificate-facts.js';
import type { AccountStore, CertificateStore, RenewalState, RenewalStateStore, StoredAccount } from '../storage/certificate-store.js';
import { createPublicKey } from 'node:crypto';

/** The stores an import writes through. */
export interface ImportStores {
  certificates: CertificateStore & RenewalStateStore;
  accounts: AccountStore;
}

/** One certificate to import: its versions, oldest first, the last one live. */
export interface ImportCertificate {
  name: string;
  versions: CertificateSetPems[];
  /** The CA and account that issued it, when known (recorded in each version's metadata). */
  directoryUrl?: string;
  accountUrl?: string;
  /** Deployers (instance names of the printed configuration) that already hold the live version. */
  deployedBy?: string[];
  /** Where it came from, for the report (`live/example`, `/srv/volume`). */
  source: string;
}

/** One account to import. */
export interface ImportAccount {
  directoryUrl: string;
  url: string;
  privateKeyPem: string;
  contact?: string[];
  createdAt?: string;
  source: string;
}

/** What happened (or, in a dry run, would happen) to one item. */
export interface ImportItem {
  kind: 'certificate' | 'account';
  name: string;
  status: 'imported' | 'unchanged' | 'skipped';
  detail: string;
  /** For a skipped item: the error code of the reason. */
  code?: string;
  /** A skipped certificate certpilot's state already holds (and renews): it stays in the printed configuration. */
  keptInConfig?: boolean;
}

/** A part of the old setup that was not carried over into the printed configuration, and why. */
export interface ImportNote {
  /** The certificate (lineage) it is about, or `*` for all of them. */
  name: string;
  /** The setting, e.g. `authenticator = nginx`. */
  setting: string;
  reason: string;
  /**
   * `changed`: carried over with a change the user should know of (printed `changed`); `action`:
   * the user must act before certpilot takes over (printed `action needed`; the import exits 1).
   * Absent: not carried over, for the reason given (`not mapped`).
   */
  level?: 'changed' | 'action';
}

/** The outcome of an import: one item per account and certificate, the notes, and the configuration. */
export interface ImportReport {
  items: ImportItem[];
  notes: ImportNote[];
  /** The printed `certpilot.yaml`. */
  config: string;
}

/** A planned import of one item: its report line and, when something is to be written, the writes. */
export interface PlannedImport {
  item: ImportItem;
  apply?: () => Promise<void>;
}

/** Plans the import of one certificate (reads only). */
export async function planCertificate(stores: ImportStores, cert: ImportCertificate, clock: Clock): Promise<PlannedImport> {
  const { name } = cert;
  const last = cert.versions.at(-1);
  if (!last) return skipped('certificate', name, 'ERR_IMPORT_INVALID', `${cert.source}: no version to import`);
  const fingerprints = cert.versions.map((v) => certificateFingerprint(v.certPem));
  let stored;
  try {
    stored = await stores.certificates.load(name);
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    return skipped('certificate', name, 'ERR_IMPORT_CONFLICT', `certpilot's state already has a certificate named ${name} that cannot be read (${why}); repair or move it, then import again`);
  }
  let from = 0;
  if (stored) {
    const at = fingerprints.indexOf(certificateFingerprint(stored.certPem));
    if (at === fingerprints.length - 1) {
      return { item: { kind: 'certificate', name, status: 'unchanged', detail: `already imported: certpilot's version ${stored.version} is ${cert.source}'s live certificate` }, ...(await deployRecords(stores, cert, stored.version, stored.metadata.serialNumber, clock)) };
    }
    if (at >= 0) {
      from = at + 1; // an interrupted import: continue after the version already live
    } else {
      const lastFacts = metadataFromCertificate(last.certPem, last.privateKeyPem);
      const sameNames = [...stored.metadata.domains].sort().join(' ') === [...lastFacts.domains].sort().join(' ');
      if (sameNames && stored.metadata.replaces === lastFacts.ariCertId) {
        return { item: { kind: 'certificate', name, status: 'unchanged', detail: `certpilot holds a newer certificate for the same names (version ${stored.version}); left as is` } };
      }
      // certbot's live certificate is one certpilot archived: certbot renewed nothing since the
      // import, certpilot did (with or without an ARI `replaces` naming it).
      if ((await stores.certificates.findVersion?.(name, last.certPem)) !== undefined) {
        return { item: { kind: 'certificate', name, status: 'unchanged', detail: `certpilot renewed it since the import (version ${stored.version}); ${cert.source}'s live certificate is one of its earlier versions: left as is` } };
      }
      const held = `version ${stored.version}, serial ${stored.metadata.serialNumber}`;
      if (await sharesHistory(stores, cert, stored.metadata.replaces)) {
        // Imported from here before, then renewed by both: certpilot's stays, and stays configured.
        return {
          item: {
            kind: 'certificate',
            name,
            status: 'skipped',
            code: 'ERR_IMPORT_CONFLICT',
            keptInConfig: true,
            detail: `both certbot and certpilot renewed ${name} since it was imported (certpilot's ${held}; certbot's ${cert.source} is another certificate): certpilot's is kept and stays in the printed configuration, certbot's newer versions are not imported. Stop certbot's renewals first (systemctl disable --now certbot.timer; rm -f /etc/cron.d/certbot), or both keep ordering certificates for it`,
          },
        };
      }
      if (sameNames) {
        const newer = Date.parse(stored.metadata.notBefore) > Date.parse(lastFacts.notBefore);
        if (newer) return { item: { kind: 'certificate', name, status: 'unchanged', detail: `certpilot holds a newer certificate for the same names (version ${stored.version}); left as is` } };
        return {
          item: { kind: 'certificate', name, status: 'skipped', code: 'ERR_IMPORT_CONFLICT', keptInConfig: true, detail: `certpilot's state already has another certificate for the same names named ${name} (${held}); not overwritten, and it stays in the printed configuration (certpilot renews it)` },
        };
      }
      return skipped('certificate', name, 'ERR_IMPORT_CONFLICT', `certpilot's state already has a different certificate named ${name} (${held}, for ${stored.metadata.domains.join(', ')}); not overwritten, and left out of the printed configuration (it would renew certpilot's ${name} for ${cert.source}'s names): move one of them away, then import again`);
    }
  }
  const toSave = cert.versions.slice(from);
  const numbers = toSave.length === 1 ? `1 version` : `${toSave.length} versions`;
  return {
    item: { kind: 'certificate', name, status: 'imported', detail: `${numbers} from ${cert.source}${from > 0 ? ` (those after version ${from}, which an earlier import saved: it was interrupted, or certbot renewed since)` : ''}, valid until ${metadataFromCertificate(last.certPem, last.privateKeyPem).notAfter}` },
    apply: async () => {
      let saved;
      for (const version of toSave) {
        saved = await stores.certificates.save(name, {
          ...version,
          metadata: metadataFromCertificate(version.certPem, version.privateKeyPem, {
            ...(cert.directoryUrl ? { directoryUrl: cert.directoryUrl } : {}),
            ...(cert.accountUrl ? { accountUrl: cert.accountUrl } : {}),
          }),
        });
      }
      if (saved) await (await deployRecords(stores, cert, saved.version, saved.metadata.serialNumber, clock)).apply?.();
    },
  };
}

/**
 * Whether certpilot's certificate of that name grew out of `cert` (imported from it before): it
 * holds one of its versions, or its live version replaced one of them (ARI `replaces`).
 */
async function sharesHistory(stores: ImportStores, cert: ImportCertificate, replaces: string | undefined): Promise<boolean> {
  if (replaces !== undefined && cert.versions.some((v) => metadataFromCertificate(v.certPem, v.privateKeyPem).ariCertId === replaces)) return true;
  const find = stores.certificates.findVersion?.bind(stores.certificates);
  if (find === undefined) return false;
  for (const v of cert.versions) if ((await find(cert.name, v.certPem)) !== undefined) return true;
  return false;
}

/**
 * Records that the deployers of `cert.deployedBy` hold the live version (certbot's hook ran for it;
 * the volume's copies are it), so the first `renew` does not deploy what is already deployed.
 */
async function deployRecords(stores: ImportStores, cert: ImportCertificate, version: number, serialNumber: string, clock: Clock): Promise<{ apply?: () => Promise<void> }> {
  const names = cert.deployedBy ?? [];
  if (names.length === 0) return {};
  const state = await stores.certificates.loadState(cert.name);
  const missing = names.filter((d) => state.deployments?.[d] === undefined);
  if (missing.length === 0) return {};
  return {
    apply: async () => {
      const current: RenewalState = await stores.certificates.loadState(cert.name);
      const at = clock.now().toISOString();
      const deployments = { ...current.deployments };
      for (const d of missing) {
        deployments[d] ??= { version, serialNumber, at, result: 'success', message: `held this version before the import (${cert.source})` };
      }
      await stores.certificates.saveState(cert.name, { ...current, deployments });
    },
  };
}

/** Plans the import of one account (reads only). */
export async function planAccount(stores: ImportStores, account: ImportAccount, clock: Clock): Promise<PlannedImport> {
  const name = account.source;
  const existing = await stores.accounts.loadAccount(account.directoryUrl);
  if (existing) {
    if (existing.url === account.url && samePublicKey(existing.privateKeyPem, account.privateKeyPem)) {
      return { item: { kind: 'account', name, status: 'unchanged', detail: `already imported: ${account.url} on ${account.directoryUrl}` } };
    }
    return skipped('account', name, 'ERR_IMPORT_CONFLICT', `certpilot already has another account for ${account.directoryUrl} (${existing.url ?? 'not registered yet'}); kept it, so renewals use it rather than ${account.url}`);
  }
  const record: StoredAccount = {
    directoryUrl: account.directoryUrl,
    privateKeyPem: account.privateKeyPem,
    url: account.url,
    ...(account.contact?.length ? { contact: account.contact } : {}),
    createdAt: account.createdAt ?? clock.now().toISOString(),
  };
  return {
    item: { kind: 'account', name, status: 'imported', detail: `${account.url} on ${account.directoryUrl}: renewals use it, no new registration` },
    apply: () => stores.accounts.saveAccount(record),
  };
}

/** Applies the plans in order (unless `dryRun`); an item whose writes fail becomes a skipped item. */
export async function applyPlans(plans: readonly PlannedImport[], dryRun: boolean): Promise<ImportItem[]> {
  const items: ImportItem[] = [];
  for (const plan of plans) {
    if (dryRun || !plan.apply) {
      items.push(plan.item);
      continue;
    }
    try {
      await plan.apply();
      items.push(plan.item);
    } catch (err) {
      const error = err instanceof CertpilotError ? err : new CertpilotError('ERR_STORAGE_IO', String(err));
      items.push({ ...plan.item, status: 'skipped', code: error.code, detail: `writing it failed: ${error.message}` });
    }
  }
  return items;
}

function skipped(kind: ImportItem['kind'], name: string, code: string, detail: string): PlannedImport {
  return { item: { kind, name, status: 'skipped', code, detail } };
}

function samePublicKey(a: string, b: string): boolean {
  try {
    const pub = (pem: string): string => createPublicKey(pem).export({ type: 'spki', format: 'der' }).toString('base64');
    return pub(a) === pub(b);
  } catch {
    return false;
  }
}
