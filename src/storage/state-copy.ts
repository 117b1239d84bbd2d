/**
 * Copies certpilot's state from one backend to another (`certpilot state copy`): accounts, every
 * certificate's versions, renewal state (with its deploy records) and pending order, its live
 * version switched last. Values are copied as read, byte for byte; nothing is issued.
 *
 * Rules: a version the target already holds with other content is never overwritten (the copy of
 * that certificate stops with an error and the others go on); a target that keeps a bounded number
 * of versions gets the live one and the newest earlier ones it keeps; entries set aside as corrupt
 * are not copied (they are reported as skipped); an entry the target already holds with the same
 * content is not written again (reported as unchanged).
 *
 * Accounts: the source's own (`accounts/<folder>`) are copied as read. A directory may also hold
 * accounts in another layout (certbot's `accounts/<server>/<path>/<id>/`); those are read and
 * written by their reader, handed in as {@link ForeignAccounts} (storage/ knows no certbot format).
 * An account folder neither understands is reported as failed, never dropped in silence.
 */
import { CertpilotError } from '../errors.js';
import type { StateBackend, VersionRetention } from './state-backend.js';
import { parseKey, stateKeys } from './state-keys.js';

/** What was copied for one certificate. */
export interface CertificateCopyReport {
  name: string;
  /** The live version, when it has one. */
  live?: number;
  /** Versions written (or already there, identical). */
  versions: number[];
  /** Versions not copied because the target keeps fewer. */
  leftOut: number[];
  renewalState: boolean;
  pendingOrder: boolean;
  /** True when the target already held all of it, identical: nothing was written. */
  unchanged: boolean;
  /** Why this certificate's copy stopped, when it did. */
  error?: string;
}

/** What happened to one account. Never carries a key. */
export interface AccountCopyReport {
  /** Where the source keeps it, below `accounts/` (`localhost_14000_dir`; certbot's `acme.test:14000/dir/<id>`). */
  name: string;
  /** Its layout in the source (`unknown`: a folder of neither, not copied). */
  format: 'certpilot' | 'certbot' | 'unknown';
  /** `unchanged`: the target already held the same account; `failed`: not copied (see `error`). */
  status: 'copied' | 'unchanged' | 'failed';
  /** The account URL and its CA, when known. */
  detail?: string;
  /** Why it was not copied. */
  error?: string;
}

/** The report of one copy. */
export interface StateCopyReport {
  accounts: AccountCopyReport[];
  certificates: CertificateCopyReport[];
  /** Keys not copied (corrupt entries kept aside). */
  skipped: string[];
}

/**
 * Accounts the source keeps in a layout other than certpilot's (certbot's), read and copied by their
 * reader (`migrate/certbot/certbot-account-copy.ts`).
 */
export interface ForeignAccounts {
  /**
   * The folders under `accounts/` that hold them: a key listed there that reads as no certpilot
   * account is theirs, not an entry of unknown format.
   */
  readonly folders: ReadonlySet<string>;
  /** Copies them into `to` (after the source's own accounts), one report each; a failure is a report, not a throw. */
  copy(to: StateBackend): Promise<AccountCopyReport[]>;
}

/** Options of {@link copyState}. */
export interface StateCopyOptions {
  foreignAccounts?: ForeignAccounts;
}

/** Copies every entry of `from` into `to` (see the module comment). */
export async function copyState(from: StateBackend, to: StateBackend, options: StateCopyOptions = {}): Promise<StateCopyReport> {
  const report: StateCopyReport = { accounts: [], certificates: [], skipped: [] };
  const names = new Set<string>();
  const foreign = options.foreignAccounts;
  for (const key of await from.list('')) {
    const k = parseKey(key);
    if (k.kind === 'account') {
      const copied = await copyAccount(from, to, key, k.folder, foreign?.folders.has(k.folder) ?? false);
      if (copied) report.accounts.push(copied);
    } else if (k.kind === 'corrupt') report.skipped.push(key);
    else names.add(k.name);
  }
  if (foreign) report.accounts.push(...(await foreign.copy(to)));
  const keep = (to as Partial<VersionRetention>).keepVersions;
  for (const name of [...names].sort()) {
    const r: CertificateCopyReport = { name, versions: [], leftOut: [], renewalState: false, pendingOrder: false, unchanged: true };
    report.certificates.push(r);
    try {
      const live = await from.get(stateKeys.live(name));
      const liveVersion = live === undefined ? undefined : Number(live.value.version);
      if (liveVersion !== undefined) r.live = liveVersion;
      const numbers = (await from.list(stateKeys.versionsPrefix(name))).map((k) => Number(k.slice(k.lastIndexOf('/') + 1))).sort((a, b) => a - b);
      const earlier = numbers.filter((n) => liveVersion === undefined || n < liveVersion);
      const kept = keep === undefined ? earlier : earlier.slice(Math.max(0, earlier.length - keep));
      r.leftOut = earlier.filter((n) => !kept.includes(n));
      for (const n of [...kept, ...(liveVersion !== undefined ? [liveVersion] : [])]) {
        const key = stateKeys.version(name, n);
        const entry = await from.get(key);
        if (entry === undefined) continue; // a leftover of a save that never completed
        const there = await to.get(key);
        if (there !== undefined) {
          if (!sameValue(there.value, entry.value)) {
            throw new CertpilotError('ERR_STORAGE_CONFLICT', `storage: copying ${key} refused: the target holds another version ${n} of ${name}`, {
              hint: 'Copy into an empty target, or remove that certificate from the target first.',
            });
          }
        } else {
          await to.put(key, entry.value, { ifVersion: null });
          r.unchanged = false;
        }
        r.versions.push(n);
      }
      for (const [key, flag] of [
        [stateKeys.renewalState(name), 'renewalState'],
        [stateKeys.pendingOrder(name), 'pendingOrder'],
      ] as const) {
        const entry = await from.get(key);
        if (entry === undefined) continue;
        if (!(await holdsSame(to, key, entry.value))) {
          await to.put(key, entry.value);
          r.unchanged = false;
        }
        r[flag] = true;
      }
      if (live !== undefined && !(await holdsSame(to, stateKeys.live(name), live.value))) {
        await to.put(stateKeys.live(name), live.value);
        r.unchanged = false;
      }
    } catch (err) {
      r.error = err instanceof Error ? err.message : String(err);
      r.unchanged = false;
    }
  }
  return report;
}

/**
 * Copies one account of certpilot's layout as read. A folder that holds none is reported as failed,
 * unless it is one of the foreign accounts' folders (`foreign`: their reader reports it).
 */
async function copyAccount(from: StateBackend, to: StateBackend, key: string, folder: string, foreign: boolean): Promise<AccountCopyReport | undefined> {
  const report = { name: folder, format: 'certpilot' } as const;
  try {
    const entry = await from.get(key);
    if (entry === undefined) {
      if (foreign) return undefined;
      return { ...report, format: 'unknown', status: 'failed', error: `${key} holds no account certpilot can read (no account.json; not certbot's layout either): not copied` };
    }
    const detail = accountDetail(entry.value['account.json']);
    if (await holdsSame(to, key, entry.value)) return { ...report, status: 'unchanged', ...(detail ? { detail } : {}) };
    await to.put(key, entry.value);
    return { ...report, status: 'copied', ...(detail ? { detail } : {}) };
  } catch (err) {
    return { ...report, status: 'failed', error: err instanceof Error ? err.message : String(err) };
  }
}

/** `<account URL> on <directory URL>` from an account record (no key is in it), when it says. */
function accountDetail(record: string | undefined): string | undefined {
  try {
    const { url, directoryUrl } = JSON.parse(record ?? '') as { url?: unknown; directoryUrl?: unknown };
    if (typeof directoryUrl !== 'string') return undefined;
    return `${typeof url === 'string' ? url : 'not registered yet'} on ${directoryUrl}`;
  } catch {
    return undefined;
  }
}

/** True when `to` holds `key` with exactly `value`. */
async function holdsSame(to: StateBackend, key: string, value: Readonly<Record<string, string>>): Promise<boolean> {
  const there = await to.get(key);
  return there !== undefined && sameValue(there.value, value);
}

function sameValue(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  return JSON.stringify(sorted(a)) === JSON.stringify(sorted(b));
}

function sorted(value: Readonly<Record<string, string>>): [string, string][] {
  return Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}
