/**
 * Copies certpilot's state from one backend to another (`certpilot state copy`): accounts, every
 * certificate's versions, renewal state (with its deploy records) and pending order, its live
 * version switched last. Values are copied as read, byte for byte; nothing is issued.
 *
 * Rules: a version the target already holds with other content is never overwritten (the copy of
 * that certificate stops with an error and the others go on); a target that keeps a bounded number
 * of versions gets the live one and the newest earlier ones it keeps; entries set aside as corrupt
 * are not copied (they are reported as skipped).
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
  /** Why this certificate's copy stopped, when it did. */
  error?: string;
}

/** The report of one copy. */
export interface StateCopyReport {
  /** Account keys copied. */
  accounts: string[];
  certificates: CertificateCopyReport[];
  /** Keys not copied (corrupt entries kept aside). */
  skipped: string[];
}

/** Copies every entry of `from` into `to` (see the module comment). */
export async function copyState(from: StateBackend, to: StateBackend): Promise<StateCopyReport> {
  const report: StateCopyReport = { accounts: [], certificates: [], skipped: [] };
  const names = new Set<string>();
  for (const key of await from.list('')) {
    const k = parseKey(key);
    if (k.kind === 'account') {
      const entry = await from.get(key);
      if (entry === undefined) continue;
      await to.put(key, entry.value);
      report.accounts.push(key);
    } else if (k.kind === 'corrupt') report.skipped.push(key);
    else names.add(k.name);
  }
  const keep = (to as Partial<VersionRetention>).keepVersions;
  for (const name of [...names].sort()) {
    const r: CertificateCopyReport = { name, versions: [], leftOut: [], renewalState: false, pendingOrder: false };
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
          if (JSON.stringify(sorted(there.value)) !== JSON.stringify(sorted(entry.value))) {
            throw new CertpilotError('ERR_STORAGE_CONFLICT', `storage: copying ${key} refused: the target holds another version ${n} of ${name}`, {
              hint: 'Copy into an empty target, or remove that certificate from the target first.',
            });
          }
        } else await to.put(key, entry.value, { ifVersion: null });
        r.versions.push(n);
      }
      for (const [key, flag] of [
        [stateKeys.renewalState(name), 'renewalState'],
        [stateKeys.pendingOrder(name), 'pendingOrder'],
      ] as const) {
        const entry = await from.get(key);
        if (entry === undefined) continue;
        await to.put(key, entry.value);
        r[flag] = true;
      }
      if (live !== undefined) await to.put(stateKeys.live(name), live.value);
    } catch (err) {
      r.error = err instanceof Error ? err.message : String(err);
    }
  }
  return report;
}

function sorted(value: Readonly<Record<string, string>>): [string, string][] {
  return Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}
