/**
 * The storage backend seam (DESIGN.md §2, §6.13; certmagic `storage.go`): a few byte-level verbs
 * over keys, with the key layout and every domain rule (versions, renewal state, pending orders,
 * accounts) built once above it in {@link StateStore}.
 *
 * Contract every backend keeps (the contract suite in `src/testing/state-store-contract.ts` holds
 * each backend to it):
 * - A key is a `/`-separated path built only by `state-keys.ts` (every segment through the one
 *   sanitizer); a backend may refuse a key shape it does not know with `ERR_STORAGE_NAME`.
 * - A value is a small record of named text entries (`cert.pem`, `state.json`…). `put` writes the
 *   whole record: a reader sees the old record or the new one, never a mix of the two.
 * - Every value carries its version, an opaque string that changes on every `put`. `get` returns
 *   `undefined` for an absent key (never an error).
 * - `put` and `delete` take `ifVersion`: the version the caller read (`null`: the key must be
 *   absent; omitted: no precondition). When the stored version differs the call changes nothing
 *   and throws {@link StateConflictError}; the caller re-reads and decides. A backend that meets
 *   a conflict of its own transport (a Kubernetes 409 on another key of the same object) re-reads
 *   and retries by itself: only a change of *this* key is a conflict.
 * - `delete` of an absent key is a no-op (unless `ifVersion` names a version).
 * - `list(prefix)` returns the keys under `prefix`, sorted; it may include keys of a write that
 *   never completed (their `get` may then answer `undefined`).
 * - Concurrency: writers of one certificate are excluded by the caller's Locker; the precondition
 *   catches a stale read. Cancellation: calls are short; none takes a signal.
 *
 * Optional capabilities are separate interfaces found by a type guard: {@link LocalPaths} (the
 * files users point servers at), {@link WritableProbe} (room for a new version),
 * {@link SetAside} (keep an unreadable entry for a human without a copy) and {@link StateNames}
 * (the names with a renewal state, without listing every certificate's entries).
 */
import { CertpilotError } from '../errors.js';

/** A stored value: named text entries written and read together. */
export type StateValue = Readonly<Record<string, string>>;

/** A value with the version it was read at. */
export interface StateEntry {
  value: StateValue;
  /** Opaque; changes on every put. */
  version: string;
}

/** Preconditions of a write. */
export interface WriteOptions {
  /** The version read (`null`: the key must be absent; omitted: no precondition). */
  ifVersion?: string | null;
}

/** The key-value seam every state backend implements. */
export interface StateBackend {
  /** A short description for messages (`directory /var/lib/certpilot`, `Secrets in namespace ops`). */
  readonly description: string;
  get(key: string): Promise<StateEntry | undefined>;
  /** Writes the whole value; returns its new version. Throws {@link StateConflictError} on a failed precondition. */
  put(key: string, value: StateValue, options?: WriteOptions): Promise<string>;
  delete(key: string, options?: WriteOptions): Promise<void>;
  list(prefix: string): Promise<string[]>;
}

/** A put or delete whose `ifVersion` did not match: nothing was changed. */
export class StateConflictError extends CertpilotError {
  constructor(
    readonly key: string,
    message: string,
  ) {
    super('ERR_STORAGE_CONFLICT', `storage: writing ${key} refused: ${message}`, { retryable: true });
  }
}

/** Paths of one live set, as certbot lays them out under `live/<name>/`. */
export interface CertificatePaths {
  /** The `live/<name>` directory users point their servers at. */
  dir: string;
  cert: string;
  chain: string;
  fullchain: string;
  privkey: string;
}

/** Optional: a backend whose live certificates are files at fixed paths (the filesystem's `live/`). */
export interface LocalPaths {
  /** The paths users point their servers at for `name` (they exist once a version went live). */
  pathsFor(name: string): CertificatePaths;
}

/** Type guard for {@link LocalPaths}. */
export function hasLocalPaths(backend: unknown): backend is LocalPaths {
  return typeof (backend as Partial<LocalPaths> | null)?.pathsFor === 'function';
}

/** Optional: a backend that can prove, before an order, that it can take a new version now. */
export interface WritableProbe {
  /**
   * Proves a new version of `name` (about `bytes` large) fits now: writes and removes a probe.
   * Throws `ERR_STORAGE_FULL` or `ERR_STORAGE_IO` naming the store; leaves nothing behind.
   */
  checkWritable(name: string, bytes: number): Promise<void>;
}

/** Type guard for {@link WritableProbe}. */
export function hasWritableProbe(backend: unknown): backend is WritableProbe {
  return typeof (backend as Partial<WritableProbe> | null)?.checkWritable === 'function';
}

/** Optional: a backend that keeps an unreadable entry aside natively (a rename, never a copy). */
export interface SetAside {
  /**
   * Moves the entry at `key` aside; returns what was unreadable (`from`, as the user knows it: a
   * file) and where it went (`to`), or undefined when it was already gone.
   */
  setAside(key: string): Promise<{ from: string; to: string } | undefined>;
}

/** Type guard for {@link SetAside}. */
export function hasSetAside(backend: unknown): backend is SetAside {
  return typeof (backend as Partial<SetAside> | null)?.setAside === 'function';
}

/**
 * Optional: the names that have a renewal state, from one cheap listing (a directory's entries)
 * where the backend's full `list('certificates/')` reads every certificate's versions too: `renew`
 * and `status` of 1000 certificates look for remembered one-offs with it on every run.
 */
export interface StateNames {
  /** The names with a `certificates/<name>/renewal-state` key, as `list` would find them, sorted. */
  stateNames(): Promise<string[]>;
}

/** Type guard for {@link StateNames}. */
export function hasStateNames(backend: unknown): backend is StateNames {
  return typeof (backend as Partial<StateNames> | null)?.stateNames === 'function';
}

/** Optional: a backend that can tell whether its location exists at all (a mistyped directory). */
export interface Presence {
  /** True when the location exists (it may still be empty); never creates it. */
  exists(): Promise<boolean>;
}

/** Type guard for {@link Presence}. */
export function hasPresence(backend: unknown): backend is Presence {
  return typeof (backend as Partial<Presence> | null)?.exists === 'function';
}

/** Optional: how many earlier versions of a certificate the backend keeps (undefined: all). */
export interface VersionRetention {
  readonly keepVersions: number | undefined;
}

/**
 * Optional: a backend that can serve a run's planning reads from one read of each underlying
 * object (a certificate's Secret). The view's reads of an object come from a copy taken on its
 * first read: consistent within the object, possibly stale by the time of the next read; writes go
 * through (each re-reads the object for its precondition) and drop the copy. Only for decisions
 * that are checked again with fresh reads before anything is written (the plan before the lock).
 */
export interface ReadSnapshots {
  snapshot(): StateBackend;
}

/** Type guard for {@link ReadSnapshots}. */
export function hasReadSnapshots(backend: unknown): backend is ReadSnapshots {
  return typeof (backend as Partial<ReadSnapshots> | null)?.snapshot === 'function';
}
