/**
 * The in-memory state backend (certmagic `memorystorage.go`): the seam's reference implementation,
 * for tests and for `state copy` checks. Nothing survives the process.
 */
import { StateConflictError, type StateBackend, type StateEntry, type StateValue, type WriteOptions } from '../../state-backend.js';
import { parseKey } from '../../state-keys.js';

/** Keys and versioned values in a Map. */
export class MemoryStateBackend implements StateBackend {
  readonly description = 'memory';
  private readonly entries = new Map<string, { value: StateValue; version: string }>();
  private counter = 0;

  /** @param keepVersions earlier certificate versions kept (default: all). */
  constructor(readonly keepVersions?: number) {}

  async get(key: string): Promise<StateEntry | undefined> {
    parseKey(key);
    const entry = this.entries.get(key);
    return entry === undefined ? undefined : { value: { ...entry.value }, version: entry.version };
  }

  async put(key: string, value: StateValue, options: WriteOptions = {}): Promise<string> {
    parseKey(key);
    this.check(key, options);
    const version = String(++this.counter);
    this.entries.set(key, { value: { ...value }, version });
    return version;
  }

  async delete(key: string, options: WriteOptions = {}): Promise<void> {
    parseKey(key);
    this.check(key, options);
    this.entries.delete(key);
  }

  async list(prefix: string): Promise<string[]> {
    return [...this.entries.keys()].filter((k) => k.startsWith(prefix)).sort();
  }

  private check(key: string, { ifVersion }: WriteOptions): void {
    if (ifVersion === undefined) return;
    const current = this.entries.get(key)?.version ?? null;
    if (current !== ifVersion) throw new StateConflictError(key, current === null ? 'it is absent' : ifVersion === null ? 'it exists already' : 'it changed since it was read');
  }
}
