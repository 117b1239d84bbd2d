/**
 * The domain stores (certificate versions, renewal state with its deploy records, pending orders,
 * accounts), written once over any {@link StateBackend} (DESIGN.md §1, §6.13). Every backend gets
 * the same rules from here: a version is written whole before it is made live by one write of the
 * `live` key; a version that never went live is removed; unreadable derived entries (renewal
 * state, pending orders) are set aside and reported, never deleted; an unreadable account or
 * certificate is an `ERR_STORAGE_CORRUPT` error (those are never rebuilt silently).
 */
import type * as NodeCryptoModule from 'node:crypto';
import { CertpilotError } from '../errors.js';
import { silentLogger, type Logger } from '../logger.js';
import { EMPTY_RENEWAL_STATE } from './certificate-store.js';
import type {
  AccountStore,
  CertificateBundle,
  CertificateStore,
  CertificateVersionList,
  IssuanceMetadata,
  PendingOrder,
  PendingOrderStore,
  RenewalState,
  RenewalStateStore,
  StoredAccount,
  StoredCertificate,
} from './certificate-store.js';
import { hasLocalPaths, hasPresence, hasReadSnapshots, hasSetAside, hasStateNames, hasWritableProbe, StateConflictError, type StateBackend, type StateEntry, type StateValue, type VersionRetention } from './state-backend.js';
import { fenceBackend } from './fenced-state-backend.js';
import { RENEWAL_STATE_FIELD, stateKeys } from './state-keys.js';
import { safeName } from './filesystem/safe-name.js';

type NodeCrypto = typeof NodeCryptoModule;

/** The fields of a version, by bundle field. */
const VERSION_FIELDS = [
  ['cert.pem', 'certPem'],
  ['chain.pem', 'chainPem'],
  ['fullchain.pem', 'fullchainPem'],
  ['privkey.pem', 'privateKeyPem'],
] as const;

/** One unreadable entry the store set aside. */
export interface CorruptEntryReport {
  /** The state key it was read from. */
  key: string;
  /** Where it is kept now (a file path or a state key). */
  where: string;
  /** Why it could not be used. */
  why: string;
}

/** Options of {@link StateStore}. */
export interface StateStoreOptions {
  logger?: Logger;
  /** Called for each entry set aside (besides the warning logged). */
  onCorrupt?: (report: CorruptEntryReport) => void;
}

/** What {@link StateStore.listWithStates} finds in one listing. */
export interface ListedCertificates {
  /** Names with a live version, sorted. */
  certificates: string[];
  /** Names with a renewal state, sorted. */
  states: string[];
  /** Every version number listed, by name (unsorted; leftovers above the live version included). */
  versions: ReadonlyMap<string, readonly number[]>;
}

/**
 * The versions of a certificate whose live version is `live`, ascending, from the numbers a
 * listing found: a number above the live one is a leftover of a save that never completed, not a
 * version (see {@link CertificateVersionList}).
 */
export function versionsUpTo(listed: readonly number[], live: number): number[] {
  return [...new Set([...listed.filter((n) => Number.isInteger(n) && n <= live), live])].sort((a, b) => a - b);
}

/** Every store the rest of certpilot uses, over one backend. */
export type CertpilotStore = CertificateStore &
  RenewalStateStore &
  PendingOrderStore &
  AccountStore & {
    readonly backend: StateBackend;
    /** Names that have a renewal state, sorted: with `list`, every certificate known, a one-off whose first issuance failed included. */
    listStates(): Promise<string[]>;
    /**
     * `list` and `listStates` from one listing of the backend (what `status` shows), and the
     * version numbers listed per name (every number present, leftovers of an interrupted save
     * included: see {@link versionsUpTo}).
     */
    listWithStates(): Promise<ListedCertificates>;
    /** False when the store's location does not exist (a mistyped state directory); never creates it. */
    exists(): Promise<boolean>;
  } & FencedWrites;

/** The domain stores can be fenced: a view whose writes stop once a signal (a lock's `lost`) aborts. */
export interface FencedWrites {
  /**
   * This store, with every write (a version, renewal state, pending order, account, a set-aside)
   * refused with `signal`'s reason once it aborted, before anything reaches the backend; reads
   * pass through. The store itself is unchanged.
   */
  fenced(signal: AbortSignal): this;
}

/** The domain stores over one {@link StateBackend}. */
export class StateStore implements CertificateStore, CertificateVersionList, RenewalStateStore, PendingOrderStore, AccountStore, FencedWrites {
  protected readonly logger: Logger;
  private readonly onCorrupt: ((report: CorruptEntryReport) => void) | undefined;

  constructor(
    /** The backend every read and write goes to. */
    readonly backend: StateBackend,
    options: StateStoreOptions = {},
  ) {
    this.logger = options.logger ?? silentLogger;
    this.onCorrupt = options.onCorrupt;
  }

  /** See {@link FencedWrites.fenced}: a view over the same state whose backend refuses writes once `signal` aborted. */
  fenced(signal: AbortSignal): this {
    const view = Object.create(this) as this;
    Object.defineProperty(view, 'backend', { value: fenceBackend(this.backend, signal), enumerable: true });
    return view;
  }

  /**
   * A view for a plan's reads: over a backend with {@link ReadSnapshots}, each object is read once
   * (possibly stale: the run reads again under its lock before writing); otherwise this store.
   */
  forPlanning(): this {
    if (!hasReadSnapshots(this.backend)) return this;
    const view = Object.create(this) as this;
    Object.defineProperty(view, 'backend', { value: this.backend.snapshot(), enumerable: true });
    return view;
  }

  /** Loads the live version of `name`, or `undefined` when it was never saved. */
  async load(name: string): Promise<StoredCertificate | undefined> {
    const safe = safeName(name);
    // A concurrent save may remove the version we just resolved (a backend with no history); resolve again then.
    for (let attempt = 0; ; attempt++) {
      const live = await this.backend.get(stateKeys.live(safe));
      if (live === undefined) return undefined;
      const version = parseVersion(live.value.version);
      if (version === undefined) throw this.corrupt(stateKeys.live(safe), 'it does not name a version');
      const entry = await this.backend.get(stateKeys.version(safe, version));
      if (entry !== undefined) return this.toStored(safe, version, entry.value);
      if (attempt >= 3) throw this.corrupt(stateKeys.live(safe), `it names version ${version}, which is missing`);
    }
  }

  /** Saves a new version of `name` and makes it live, all or nothing. */
  async save(name: string, bundle: CertificateBundle): Promise<StoredCertificate> {
    const safe = safeName(name);
    checkBundle(safe, bundle, await import('node:crypto'));
    const liveKey = stateKeys.live(safe);
    const live = await this.backend.get(liveKey);
    // Skip every number present, live or left over by a crash: a leftover is never made live.
    const present = (await this.backend.list(stateKeys.versionsPrefix(safe))).map((k) => Number(k.slice(k.lastIndexOf('/') + 1))).filter((n) => Number.isInteger(n));
    const version = Math.max(0, parseVersion(live?.value.version) ?? 0, ...present) + 1;
    const versionKey = stateKeys.version(safe, version);
    const value: Record<string, string> = Object.fromEntries(VERSION_FIELDS.map(([file, field]) => [file, bundle[field]]));
    value['meta.json'] = `${JSON.stringify(bundle.metadata, null, 2)}\n`;
    try {
      await this.backend.put(versionKey, value, { ifVersion: null });
      await this.backend.put(liveKey, { version: String(version) }, { ifVersion: live?.version ?? null });
    } catch (err) {
      // Nothing of a version that never went live may stay behind (a full disk must not leave a
      // half-written version that a later run would trip over).
      const now = await this.backend.get(liveKey).catch(() => undefined);
      if (now?.value.version !== String(version)) {
        await this.backend.delete(versionKey).catch((e: unknown) => this.logger.warn({ name: safe, version, err: String(e) }, 'storage: could not remove a leftover of a failed save'));
      }
      throw err;
    }
    this.logger.debug({ name: safe, version }, 'storage: saved certificate version');
    await this.sweepPartial(safe, version, present);
    await this.prune(safe, version, present);
    return { ...structuredClone(bundle), name: safe, version, ...this.pathsOf(safe) };
  }

  /** Keeps the live version and the backend's number of earlier ones (a backend without a bound keeps all). */
  private async prune(safe: string, live: number, present: number[]): Promise<void> {
    const keep = (this.backend as Partial<VersionRetention>).keepVersions;
    if (keep === undefined) return;
    const earlier = [...new Set(present)].filter((n) => n < live).sort((a, b) => b - a);
    for (const old of earlier.slice(keep)) {
      await this.backend.delete(stateKeys.version(safe, old)).catch((err: unknown) => this.logger.warn({ name: safe, version: old, err: String(err) }, 'storage: could not remove an old version'));
    }
  }

  /**
   * Removes what a save that never completed left (a kill mid-write: `cert8.pem` without
   * `chain8.pem` or `meta8.json`): a version other than the live one that lacks a file. Such a
   * version never went live (a version is written whole before the switch), so no server or
   * deployer uses it. A version without `meta.json` counts as partial only above the first version
   * certpilot wrote (certbot's own archive has none: those are whole). Best effort, after the switch.
   */
  private async sweepPartial(safe: string, live: number, present: number[]): Promise<void> {
    const earlier = present.filter((n) => n !== live && n !== 0);
    // A first save has nothing to sweep (the live version is never swept: it was just written whole).
    if (earlier.length === 0) return;
    const entries = new Map<number, StateValue | undefined>();
    for (const n of new Set([...present, live])) entries.set(n, (await this.backend.get(stateKeys.version(safe, n)).catch(() => undefined))?.value);
    // certbot's versions (imported) have no meta.json and come before every version certpilot wrote.
    const firstOurs = Math.min(...[...entries].filter(([, v]) => v?.['meta.json'] !== undefined).map(([n]) => n));
    for (const [n, value] of entries) {
      if (n === live || n === 0) continue;
      const missing = value === undefined ? ['cert.pem'] : [...VERSION_FIELDS.map(([file]) => file), ...(n > firstOurs ? ['meta.json'] : [])].filter((f) => value[f] === undefined);
      if (missing.length === 0) continue;
      await this.backend
        .delete(stateKeys.version(safe, n))
        .then(() => this.logger.info({ name: safe, version: n, missing }, 'storage: removed a partial version an interrupted save left'))
        .catch((err: unknown) => this.logger.warn({ name: safe, version: n, err: String(err) }, 'storage: could not remove a partial version'));
    }
  }

  /**
   * The version of `name` that holds `certPem` (the live one or an archived one), compared by the
   * SHA-256 of the certificate's DER (never by serial: serials are public and per CA), or undefined.
   */
  async findVersion(name: string, certPem: string): Promise<number | undefined> {
    const safe = safeName(name);
    const { createHash } = await import('node:crypto');
    const want = certificateFingerprint(certPem, createHash);
    if (want === undefined) return undefined;
    const numbers = (await this.backend.list(stateKeys.versionsPrefix(safe))).map((k) => Number(k.slice(k.lastIndexOf('/') + 1))).filter((n) => Number.isInteger(n));
    for (const n of numbers.sort((a, b) => b - a)) {
      const entry = await this.backend.get(stateKeys.version(safe, n));
      const have = entry?.value['cert.pem'];
      if (have !== undefined && certificateFingerprint(have, createHash) === want) return n;
    }
    return undefined;
  }

  /**
   * Prunes the archive of `name` by `retention`: a version goes only when it is not live, not among
   * the last `keepVersions`, older than `keepDays` (by its issuance time) and held by no deployer
   * (`held`: the versions the deploy records name). Returns the versions removed.
   */
  async removeOldVersions(name: string, retention: ArchiveRetention, now: Date, held: ReadonlySet<number>): Promise<number[]> {
    const safe = safeName(name);
    const live = parseVersion((await this.backend.get(stateKeys.live(safe)))?.value.version);
    if (live === undefined) return [];
    const numbers = [...new Set((await this.backend.list(stateKeys.versionsPrefix(safe))).map((k) => Number(k.slice(k.lastIndexOf('/') + 1))).filter((n) => Number.isInteger(n)))].sort((a, b) => b - a);
    const cutoff = now.getTime() - retention.keepDays * 86_400_000;
    const removed: number[] = [];
    for (const n of numbers.slice(retention.keepVersions)) {
      if (n === live || held.has(n)) continue;
      const entry = await this.backend.get(stateKeys.version(safe, n)).catch(() => undefined);
      const meta = parseJsonOrUndefined(entry?.value['meta.json']) as Partial<IssuanceMetadata> | undefined;
      const issuedAt = Date.parse(meta?.issuedAt ?? meta?.notBefore ?? '');
      // Unknown age (a certbot version without meta): kept, as certbot would.
      if (!Number.isFinite(issuedAt) || issuedAt > cutoff) continue;
      try {
        await this.backend.delete(stateKeys.version(safe, n));
        removed.push(n);
      } catch (err) {
        this.logger.warn({ name: safe, version: n, err: String(err) }, 'storage: could not remove an old version');
      }
    }
    if (removed.length > 0) this.logger.info({ name: safe, removed }, 'storage: pruned the archive (retention)');
    return removed.sort((a, b) => a - b);
  }

  /**
   * The versions kept of `name` up to and including the live one, ascending (see
   * {@link CertificateVersionList}); a number above the live one is a leftover of a save that
   * never completed, not a version. `[]` when nothing is live. Keys only: no version is read.
   */
  async listVersions(name: string): Promise<number[]> {
    const safe = safeName(name);
    const live = parseVersion((await this.backend.get(stateKeys.live(safe)))?.value.version);
    if (live === undefined) return [];
    return versionsUpTo((await this.backend.list(stateKeys.versionsPrefix(safe))).map((k) => Number(k.slice(k.lastIndexOf('/') + 1))), live);
  }

  /** Names of stored certificates (those with a live version), sorted. */
  async list(): Promise<string[]> {
    const names = new Set<string>();
    for (const key of await this.backend.list('certificates/')) {
      const m = /^certificates\/([^/]+)\/live$/.exec(key);
      if (m?.[1] !== undefined) names.add(m[1]);
    }
    return [...names].sort();
  }

  /** Names that have a renewal state, sorted (a one-off whose first issuance failed has a state and no version). */
  async listStates(): Promise<string[]> {
    if (hasStateNames(this.backend)) return this.backend.stateNames();
    const names = new Set<string>();
    for (const key of await this.backend.list('certificates/')) {
      const m = /^certificates\/([^/]+)\/renewal-state$/.exec(key);
      if (m?.[1] !== undefined) names.add(m[1]);
    }
    return [...names].sort();
  }

  /**
   * {@link list} and {@link listStates} from one listing of the backend: a full listing reads
   * every certificate's entries, so `status` of 1000 certificates paid it twice (bench/findings.md).
   */
  async listWithStates(): Promise<ListedCertificates> {
    const certificates = new Set<string>();
    const states = new Set<string>();
    const versions = new Map<string, number[]>();
    for (const key of await this.backend.list('certificates/')) {
      const m = /^certificates\/([^/]+)\/(live|renewal-state|versions\/(\d+))$/.exec(key);
      if (m?.[1] === undefined) continue;
      if (m[3] !== undefined) {
        const list = versions.get(m[1]) ?? [];
        list.push(Number(m[3]));
        versions.set(m[1], list);
      } else (m[2] === 'live' ? certificates : states).add(m[1]);
    }
    return { certificates: [...certificates].sort(), states: [...states].sort(), versions };
  }

  /** False when the backend can tell its location does not exist (a mistyped state directory). */
  async exists(): Promise<boolean> {
    return hasPresence(this.backend) ? this.backend.exists() : true;
  }

  /** Loads the renewal state of `name`; absent state reads as {@link EMPTY_RENEWAL_STATE}. */
  async loadState(name: string): Promise<RenewalState> {
    const key = stateKeys.renewalState(name);
    const entry = await this.backend.get(key);
    if (entry === undefined) return { ...EMPTY_RENEWAL_STATE };
    const state = parseJsonOrUndefined(entry.value[RENEWAL_STATE_FIELD]) as Partial<RenewalState> | undefined;
    if (typeof state !== 'object' || state === null || Array.isArray(state) || typeof state.failureCount !== 'number') {
      // Derived data: set it aside for a human to look at, and start again from nothing.
      await this.setAside(key, entry, 'it is not a renewal state');
      return { ...EMPTY_RENEWAL_STATE };
    }
    return state as RenewalState;
  }

  /** Saves the renewal state of `name` (one write: all of it or none). */
  async saveState(name: string, state: RenewalState): Promise<void> {
    await this.backend.put(stateKeys.renewalState(name), { [RENEWAL_STATE_FIELD]: `${JSON.stringify(state, null, 2)}\n` });
  }

  /** The pending order of `name`, or undefined (also when unreadable: then set aside and reported). */
  async loadPendingOrder(name: string): Promise<PendingOrder | undefined> {
    const key = stateKeys.pendingOrder(name);
    const entry = await this.backend.get(key);
    if (entry === undefined) return undefined;
    const order = parseJsonOrUndefined(entry.value['order.json']) as Partial<PendingOrder> | undefined;
    const privateKeyPem = entry.value['privkey.pem'];
    if (typeof order !== 'object' || order === null || typeof order.orderUrl !== 'string' || !privateKeyPem?.includes('PRIVATE KEY')) {
      await this.setAside(key, entry, 'it is not a pending order with its key');
      return undefined;
    }
    return { ...(order as PendingOrder), privateKeyPem };
  }

  /** Writes the pending order of `name` durably before the call that costs an issuance. */
  async savePendingOrder(name: string, order: PendingOrder): Promise<void> {
    const { privateKeyPem, ...record } = order;
    await this.backend.put(stateKeys.pendingOrder(name), { 'privkey.pem': privateKeyPem, 'order.json': `${JSON.stringify(record, null, 2)}\n` });
  }

  /** Removes the pending order of `name`; idempotent. */
  async clearPendingOrder(name: string): Promise<void> {
    await this.backend.delete(stateKeys.pendingOrder(name));
  }

  /**
   * Proves the store can take a new version of `name` now, when its backend can tell (a volume's
   * free space, a Secret's size limit): throws `ERR_STORAGE_FULL` or `ERR_STORAGE_IO`, before any
   * order is placed. A backend without the capability has nothing to prove.
   */
  async checkWritable(name: string): Promise<void> {
    const safe = safeName(name);
    if (!hasWritableProbe(this.backend)) return;
    const live = await this.load(safe).catch(() => undefined);
    const size = live ? VERSION_FIELDS.reduce((n, [, field]) => n + Buffer.byteLength(live[field]), 0) : 0;
    await this.backend.checkWritable(safe, Math.max(64 * 1024, 3 * size));
  }

  /** Loads the account stored for `directoryUrl`, or `undefined` when there is none. */
  async loadAccount(directoryUrl: string): Promise<StoredAccount | undefined> {
    const key = stateKeys.account(directoryUrl);
    const entry = await this.backend.get(key);
    if (entry === undefined) return undefined;
    const data = parseJsonOrUndefined(entry.value['account.json']) as Partial<StoredAccount> | undefined;
    if (typeof data !== 'object' || data === null || typeof data.createdAt !== 'string') {
      throw this.corrupt(`${key}/account.json`, 'it is not an account record');
    }
    const privateKeyPem = entry.value['private_key.pem'];
    if (privateKeyPem === undefined) throw this.corrupt(`${key}/private_key.pem`, 'the account key is missing');
    const account: StoredAccount = { directoryUrl, privateKeyPem, createdAt: data.createdAt };
    const next = entry.value['private_key.next.pem'];
    if (next !== undefined) account.nextPrivateKeyPem = next;
    if (typeof data.url === 'string') account.url = data.url;
    if (Array.isArray(data.contact)) account.contact = data.contact.filter((c): c is string => typeof c === 'string');
    if (Array.isArray(data.forgottenUrls)) account.forgottenUrls = data.forgottenUrls.filter((u): u is string => typeof u === 'string');
    if (typeof data.deactivatedAt === 'string') account.deactivatedAt = data.deactivatedAt;
    if (Array.isArray(data.deactivatedUrls)) account.deactivatedUrls = data.deactivatedUrls.filter((u): u is string => typeof u === 'string');
    return account;
  }

  /** Saves an account (key, pending rollover key and record in one value). */
  async saveAccount(account: StoredAccount): Promise<void> {
    await this.backend.put(stateKeys.account(account.directoryUrl), accountValue(account));
  }

  /** Saves a new account unless one is stored already (an `ifVersion: null` write); false when one was. */
  async createAccount(account: StoredAccount): Promise<boolean> {
    try {
      await this.backend.put(stateKeys.account(account.directoryUrl), accountValue(account), { ifVersion: null });
      return true;
    } catch (err) {
      if (err instanceof StateConflictError) return false;
      throw err;
    }
  }

  /** Removes the account of `directoryUrl` (a pending registration the CA refused); idempotent. */
  async deleteAccount(directoryUrl: string): Promise<void> {
    await this.backend.delete(stateKeys.account(directoryUrl));
  }

  /** Moves an unreadable entry aside (natively, or to its `corrupt/<part>` key) and reports it. */
  private async setAside(key: string, entry: StateEntry, why: string): Promise<void> {
    let from = `${key} (${this.backend.description})`;
    let where: string;
    if (hasSetAside(this.backend)) {
      const moved = await this.backend.setAside(key);
      if (moved === undefined) return;
      ({ from, to: where } = moved);
    } else {
      const [, name, part] = key.split('/') as [string, string, string];
      where = stateKeys.corrupt(name, part);
      await this.backend.put(where, entry.value);
      await this.backend.delete(key, { ifVersion: entry.version });
    }
    this.logger.warn({ entry: key, where }, `storage: ${from} was unreadable (${why}); set aside as ${where} and rebuilt`);
    this.onCorrupt?.({ key, where, why });
  }


  private corrupt(what: string, why: string, hint?: string): CertpilotError {
    return new CertpilotError('ERR_STORAGE_CORRUPT', `storage: reading ${what} (${this.backend.description}) failed: ${why}`, hint ? { hint } : {});
  }

  private pathsOf(safe: string): Pick<StoredCertificate, 'paths'> {
    return hasLocalPaths(this.backend) ? { paths: this.backend.pathsFor(safe) } : {};
  }

  private async toStored(safe: string, version: number, value: StateValue): Promise<StoredCertificate> {
    const paths = this.pathsOf(safe).paths;
    for (const [file] of VERSION_FIELDS) {
      const text = value[file];
      // A truncated or emptied file must not be deployed nor planned on: report it, never overwrite it.
      if (file === 'chain.pem' && text === '') continue;
      if (text === undefined || !/-----BEGIN [A-Z ]+-----[\s\S]+-----END [A-Z ]+-----/.test(text)) {
        const where = paths ? `${paths.dir}/${file}` : `${stateKeys.version(safe, version)}/${file}`;
        // The way out that works: with the live link gone the certificate is missing, and the next
        // run issues a new version; the archive keeps the older ones.
        const hint = paths
          ? `Restore ${where} from a backup; or, to issue a new version (archive/ keeps the older ones), move ${paths.dir} out of the state directory and run \`certpilot renew --force -n ${safe}\`.`
          : `Restore the state from a backup; or, to issue a new version, run \`certpilot renew --force -n ${safe}\` once the damaged version is removed from the store.`;
        throw new CertpilotError('ERR_STORAGE_CORRUPT', `storage: reading ${where} failed: it is not a complete PEM file (truncated or emptied)`, { hint });
      }
    }
    const bundle = Object.fromEntries(VERSION_FIELDS.map(([file, field]) => [field, value[file] as string])) as Pick<CertificateBundle, 'certPem' | 'chainPem' | 'fullchainPem' | 'privateKeyPem'>;
    const metaText = value['meta.json'];
    let metadata: IssuanceMetadata;
    // Loaded only for a version without meta.json (certbot's): it needs node:crypto and the DER reader.
    if (metaText === undefined) metadata = (await import('./derive-metadata.js')).deriveMetadata(`${stateKeys.version(safe, version)}/cert.pem`, bundle.certPem, bundle.privateKeyPem, await import('node:crypto'));
    else {
      const parsed = parseJsonOrUndefined(metaText);
      if (typeof parsed !== 'object' || parsed === null) throw this.corrupt(`${stateKeys.version(safe, version)}/meta.json`, 'it is not valid JSON');
      metadata = parsed as IssuanceMetadata;
    }
    return { ...bundle, metadata, name: safe, version, ...(paths ? { paths } : {}) };
  }
}

/** How long the archive keeps versions (`renewal.retention`): the last N, and every one younger than D days. */
export interface ArchiveRetention {
  keepVersions: number;
  keepDays: number;
}

/** The SHA-256 of the first certificate's DER in `pem`, hex; undefined when there is none. */
/** An account as one stored value: the key, a pending rollover key, and the record. */
function accountValue(account: StoredAccount): StateValue {
  const record = { url: account.url, contact: account.contact, createdAt: account.createdAt, directoryUrl: account.directoryUrl, ...(account.forgottenUrls?.length ? { forgottenUrls: account.forgottenUrls } : {}),
    ...(account.deactivatedAt !== undefined ? { deactivatedAt: account.deactivatedAt } : {}),
    ...(account.deactivatedUrls?.length ? { deactivatedUrls: account.deactivatedUrls } : {}),
  };
  const value: Record<string, string> = {
    'private_key.pem': account.privateKeyPem,
    'account.json': `${JSON.stringify(record, null, 2)}\n`,
  };
  if (account.nextPrivateKeyPem !== undefined) value['private_key.next.pem'] = account.nextPrivateKeyPem;
  return value;
}

function certificateFingerprint(pem: string, createHash: NodeCrypto['createHash']): string | undefined {
  const body = /-----BEGIN CERTIFICATE-----([\s\S]+?)-----END CERTIFICATE-----/.exec(pem)?.[1];
  if (body === undefined) return undefined;
  return createHash('sha256').update(Buffer.from(body.replace(/\s+/g, ''), 'base64')).digest('hex');
}

/** The version number a `live` value names, or undefined. */
function parseVersion(text: string | undefined): number | undefined {
  return text !== undefined && /^[0-9]{1,9}$/.test(text) ? Number(text) : undefined;
}

function parseJsonOrUndefined(text: string | undefined): unknown {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function checkBundle(name: string, bundle: CertificateBundle, { X509Certificate, createPrivateKey }: NodeCrypto): void {
  for (const [, field] of VERSION_FIELDS) {
    if (typeof bundle[field] !== 'string' || bundle[field].length === 0) {
      throw new CertpilotError('ERR_INTERNAL', `storage: saving ${name} refused: the bundle has no ${field}`);
    }
  }
  if (typeof bundle.metadata !== 'object' || bundle.metadata === null) {
    throw new CertpilotError('ERR_INTERNAL', `storage: saving ${name} refused: the bundle has no metadata`);
  }
  // Never make live a key that cannot serve its certificate.
  let matches: boolean;
  try {
    matches = new X509Certificate(bundle.certPem).checkPrivateKey(createPrivateKey(bundle.privateKeyPem));
  } catch (cause) {
    throw new CertpilotError('ERR_KEY_INVALID', `storage: saving ${name} refused: the certificate or private key cannot be parsed`, { cause });
  }
  if (!matches) {
    throw new CertpilotError('ERR_KEY_INVALID', `storage: saving ${name} refused: the private key does not match the certificate`);
  }
}
