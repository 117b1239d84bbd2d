/**
 * The storage seam (DESIGN.md §2; certmagic `storage.go`): certificates as versioned sets written
 * all-or-nothing, the mutable renewal state beside them, and ACME accounts.
 *
 * Contract:
 * - `save` writes a complete new version and only then makes it the live one: a crash at any step
 *   leaves either the old or the new set live, never a mix. Private keys are written 0600.
 * - `load` returns the live version, or `undefined` when the name has never been saved.
 * - Every store is written once, over the key-value backend seam (`state-backend.ts`,
 *   `state-store.ts`); local file paths are an optional capability of a backend, not of the seam.
 * - `list` returns the names of stored certificates, sorted.
 * - Names are sanitized by one function (`safeName`); an unsafe name is an `ERR_STORAGE_NAME` error.
 * - Concurrent `save`s of one name are prevented by the caller's Locker, not by the store.
 */
import type { CertificatePaths } from './state-backend.js';

export type { CertificatePaths } from './state-backend.js';

/** Private key algorithms certpilot issues with. */
export type KeyType = 'ec-p256' | 'ec-p384' | 'rsa-2048' | 'rsa-3072' | 'rsa-4096';

/** Facts about one issued certificate, recorded when it is saved. */
export interface IssuanceMetadata {
  /** Identifiers as configured (DNS names, wildcards, IP addresses), in configured order. */
  domains: string[];
  keyType: KeyType;
  /** ACME profile the order asked for, when any. */
  profile?: string;
  /** ISO 8601 validity bounds of the leaf. */
  notBefore: string;
  notAfter: string;
  /** Leaf serial number, lowercase hex. */
  serialNumber: string;
  /** Issuer distinguished name of the leaf. */
  issuer: string;
  /** ARI certificate identifier (RFC 9773 §4.1), `base64url(AKI).base64url(serial)`. */
  ariCertId: string;
  /** The ARI id of the certificate this one replaced, when the order carried `replaces`. */
  replaces?: string;
  /** When certpilot saved it. */
  issuedAt: string;
  /** The ACME directory and account that issued it. */
  directoryUrl: string;
  accountUrl: string;
}

/** What `save` takes: the PEM files and their metadata. */
export interface CertificateBundle {
  /** The leaf certificate alone. */
  certPem: string;
  /** The intermediates, without the leaf. */
  chainPem: string;
  /** Leaf followed by intermediates. */
  fullchainPem: string;
  /** PKCS#8 PEM private key. Never logged. */
  privateKeyPem: string;
  metadata: IssuanceMetadata;
}

/** One stored version of a certificate, as loaded. */
export interface StoredCertificate extends CertificateBundle {
  name: string;
  /** Version number N of `archive/<name>/certN.pem`, starting at 1. */
  version: number;
  /**
   * Where the live files are, when the backend keeps them as files at fixed paths (the filesystem
   * backend's `live/<name>/`); absent for a backend without files. Read it through
   * {@link hasCertificatePaths}.
   */
  paths?: CertificatePaths;
}

/** Type guard: the certificate's live version is on local files at {@link StoredCertificate.paths}. */
export function hasCertificatePaths(certificate: StoredCertificate): certificate is StoredCertificate & { paths: CertificatePaths } {
  return certificate.paths !== undefined;
}

/** The mutable per-certificate renewal state (survives restarts). */
export interface RenewalState {
  /** The last ARI answer for the live certificate (RFC 9773 §4.2). */
  ari?: {
    /** The ARI certificate id this answer is for. */
    certId: string;
    windowStart: string;
    windowEnd: string;
    explanationUrl?: string;
    fetchedAt: string;
    /** Do not fetch again before this (the renewalInfo response's Retry-After). */
    nextFetchAt: string;
    /** A uniformly random time inside the window, chosen once per window and kept. */
    selectedTime: string;
  };
  /** The CA asked us not to come back before this (rateLimited, 503 Retry-After). */
  retryAfter?: string;
  /** The last attempt to issue or renew. */
  lastAttempt?: {
    at: string;
    result: 'success' | 'failure';
    /** Error code, message and hint on failure (no secrets). */
    code?: string;
    message?: string;
    hint?: string;
    /** Why it was attempted (the renewal reason). */
    reason?: string;
    /** A failure the CA counted nothing of (renewal/failure-cost.ts): not in failureCount, no backoff. */
    local?: true;
  };
  /** Consecutive failures; reset to 0 on success. */
  failureCount: number;
  /** Do not try again before this, because of failures. */
  backoffUntil?: string;
  /**
   * The certificate's configuration (names, solvers, key type, profile) when the backoff was set: a
   * changed configuration is a fix worth trying at once, so it clears the backoff.
   */
  backoffFingerprint?: string;
  /** What each deployer (by instance name) last did, so a failed deploy is retried without a new order. */
  deployments?: Record<string, DeploymentRecord>;
  /**
   * The last notification of this certificate's events per notifier (instance name): a broken
   * notifier stays visible (`certpilot_notifier_last_attempt_success`) across cron runs, and what
   * it was last told is not repeated before its `repeatHours` (also across runs and restarts).
   */
  notifications?: Record<string, NotificationRecord>;
  /**
   * Set for a certificate issued with `certpilot issue -d` (not in the configuration): what
   * `renew` needs to renew it as it was issued. Written by `issue -d` whenever it leaves a live
   * certificate, removed by `certpilot forget`. Holds nothing secret.
   */
  oneOff?: OneOffRecord;
  /**
   * Set by `certpilot forget` for a certificate certpilot no longer renews (removed from the
   * configuration, or a forgotten one-off): `status`, the metrics and the status page leave it out,
   * so its expiry raises no alert; its versions and deployed files stay. Ignored while the
   * configuration lists it again; cleared when it is issued again.
   */
  retired?: { at: string };
  /**
   * Set by `certpilot revoke` once the CA revoked a version: while that version is live the
   * certificate is due (reason `revoked`), so the next `renew` or the daemon replaces it. Matched
   * by version (ours, never a public serial); the fingerprint is kept for the record.
   */
  revoked?: { version: number; fingerprint: string; at: string; reason: string };
}

/**
 * How a one-off certificate (`certpilot issue -d`) was issued, kept in its renewal state so that
 * `renew` renews it like certbot renews a lineage from its renewal configuration. Only names,
 * paths, a port and a URL: never a key, a password or an EAB secret.
 */
export interface OneOffRecord {
  /** The names, in the order given with -d. */
  domains: string[];
  keyType: KeyType;
  profile?: string;
  reuseKey: boolean;
  /**
   * How the CA's challenges were answered: certpilot's own http-01 listener, files under a
   * webroot, or (with a configuration file) a solver of the configuration, by name.
   */
  challenge: { type: 'standalone'; port: number; host?: string } | { type: 'webroot'; path: string } | { solver: string };
  /** The CA it was issued from: its directory, the extra roots trusted for it, the account contact. */
  directoryUrl: string;
  caBundle?: string;
  email?: string;
  /** When `issue -d` last wrote it. */
  recordedAt: string;
}

/** The last deploy of one deployer for one certificate. */
export interface DeploymentRecord {
  /** The version it deployed (or tried to). */
  version: number;
  /** That version's serial number, lowercase hex. */
  serialNumber: string;
  /** When it finished. */
  at: string;
  result: 'success' | 'failure';
  /** The deployer's sentence, or the error message (no secrets). */
  message: string;
  /** The error code on failure. */
  code?: string;
}

/** The last attempt of one notifier for a certificate's event. */
export interface NotificationRecord {
  /** When it last delivered or failed to (a notice not repeated is neither: `at` stays). */
  at: string;
  result: 'sent' | 'failed';
  /** The error code when it failed (no message: it may name the receiver). */
  code?: string;
  /**
   * What this notifier was last told, per kind of notice, while the condition holds: the same
   * notice (kind and substance) is not sent again before `repeatHours` after `at`
   * (`notify/notifier.ts` `decideNotice`). Written only on a delivery; cleared by a success.
   */
  told?: Partial<Record<RepeatedNotice, ToldNotice>>;
}

/** The kinds of notice that are repeated at a bounded rate while they hold (a success is never repeated). */
export type RepeatedNotice = 'failure' | 'expiring' | 'interrupted';

/** One notice a notifier was told: its substance (an error code, a version) and when it was delivered. */
export interface ToldNotice {
  /** The substance, e.g. `ERR_ACME_AUTHORIZATION_FAILED`, `deploy v3: hook ERR_DEPLOY_HOOK_FAILED`, `v3`. */
  about: string;
  at: string;
}

/** The empty renewal state of a certificate never attempted. */
export const EMPTY_RENEWAL_STATE: Readonly<RenewalState> = Object.freeze({ failureCount: 0 });

/** Stores versioned certificate sets. */
export interface CertificateStore {
  load(name: string): Promise<StoredCertificate | undefined>;
  save(name: string, bundle: CertificateBundle): Promise<StoredCertificate>;
  list(): Promise<string[]>;
  /** Optional: the stored version (live or archived) holding this certificate, by its SHA-256 fingerprint. */
  findVersion?(name: string, certPem: string): Promise<number | undefined>;
  /** Optional: prunes the archive (see `StateStore.removeOldVersions`). */
  removeOldVersions?(name: string, retention: { keepVersions: number; keepDays: number }, now: Date, held: ReadonlySet<number>): Promise<number[]>;
}

/**
 * Optional capability of a {@link CertificateStore}: which versions it keeps of a certificate (an
 * imported certbot lineage keeps all of certbot's where the backend keeps every version: the
 * filesystem and memory backends; Secrets keep `keepVersions`). Found with {@link canListVersions};
 * the domain stores (`state-store.ts`) offer it over every backend.
 */
export interface CertificateVersionList {
  /**
   * The numbers of the versions stored for `name`, ascending, up to and including the live one
   * (leftovers of an interrupted save above it are not versions); `[]` when nothing is stored.
   */
  listVersions(name: string): Promise<number[]>;
}

/** True when `store` offers {@link CertificateVersionList}. */
export function canListVersions(store: object): store is CertificateVersionList {
  return typeof (store as Partial<CertificateVersionList>).listVersions === 'function';
}

/**
 * An order that cost (or is about to cost) the CA an issuance, kept until its certificate is
 * saved (DESIGN.md §6.12): written before finalize, updated with the certificate URL once the CA
 * gave it, removed after the save. A run that finds one resumes it instead of ordering again.
 */
export interface PendingOrder {
  orderUrl: string;
  directoryUrl: string;
  accountUrl: string;
  /** Identifiers as configured, in order (a resume for other names is not a resume). */
  domains: string[];
  keyType: KeyType;
  profile?: string;
  replaces?: string;
  /** PKCS#8 PEM key the CSR was made with. Never logged; stored 0600. */
  privateKeyPem: string;
  /** Set once finalize answered with it. */
  certificateUrl?: string;
  createdAt: string;
  /** Why it was ordered (the renewal reason), for the record. */
  reason?: string;
}

/** Keeps at most one {@link PendingOrder} per certificate. */
export interface PendingOrderStore {
  /** The pending order of `name`, or undefined (also when its record is unreadable: set aside, warned). */
  loadPendingOrder(name: string): Promise<PendingOrder | undefined>;
  /** Writes it durably (key 0600) before the call that costs an issuance. */
  savePendingOrder(name: string, order: PendingOrder): Promise<void>;
  /** Removes it; idempotent. */
  clearPendingOrder(name: string): Promise<void>;
  /**
   * Proves the store can take a new version of `name` now (room on the volume, room in the
   * object), where its backend can tell; called before each order. Throws `ERR_STORAGE_FULL` or
   * `ERR_STORAGE_IO` naming the store; leaves nothing behind.
   */
  checkWritable(name: string): Promise<void>;
}

/** Stores the renewal state; written atomically, absent state reads as {@link EMPTY_RENEWAL_STATE}. */
export interface RenewalStateStore {
  loadState(name: string): Promise<RenewalState>;
  saveState(name: string, state: RenewalState): Promise<void>;
}

/** A stored ACME account: its key and, once registered, its URL. */
export interface StoredAccount {
  directoryUrl: string;
  /** PKCS#8 PEM private key of the account. Never logged. */
  privateKeyPem: string;
  /** The account URL (the JWS `kid`), once the CA created the account. */
  url?: string;
  /**
   * A key a key rollover is moving to, saved before the CA is asked (RFC 8555 §7.3.5), so a crash
   * mid-rollover never loses the key the CA now knows. Never logged.
   */
  nextPrivateKeyPem?: string;
  contact?: string[];
  createdAt: string;
  /** Account URLs of this key that the CA forgot (`account create` registered the key again), oldest first. */
  forgottenUrls?: string[];
  /**
   * When `url` was deactivated (`certpilot account deactivate`; RFC 8555 §7.3.6: for good): no
   * request is signed with it again, and `account create` replaces the key.
   */
  deactivatedAt?: string;
  /** Accounts of earlier keys of this directory that were deactivated, oldest first. */
  deactivatedUrls?: string[];
}

/** Stores ACME accounts, one per directory URL. */
export interface AccountStore {
  loadAccount(directoryUrl: string): Promise<StoredAccount | undefined>;
  saveAccount(account: StoredAccount): Promise<void>;
  /**
   * Optional: saves a new account only if none is stored for its directory yet, and says whether
   * it did (false: another process saved one first; load that one instead). Two runs that start
   * together (two pods, two cron lines) then share one account rather than overwrite each other's.
   */
  createAccount?(account: StoredAccount): Promise<boolean>;
  /** Optional: removes a pending account (no `url`) the CA refused to register; idempotent. */
  deleteAccount?(directoryUrl: string): Promise<void>;
}
