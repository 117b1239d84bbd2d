/**
 * A backend built on first use: the composition root gives it a loader that imports the real
 * backend (`import()`), so a command that never reads state, or a filesystem run, never loads
 * the Kubernetes client. Forwards every verb and the {@link WritableProbe} and {@link ReadSnapshots} capabilities.
 */
import type { StateBackend, StateEntry, StateValue, VersionRetention, WritableProbe, WriteOptions } from './state-backend.js';
import { hasReadSnapshots, hasStateNames, hasWritableProbe, type ReadSnapshots } from './state-backend.js';

/** Forwards to the backend `load` resolves to, loading it once. */
export class DeferredStateBackend implements StateBackend, VersionRetention, WritableProbe, ReadSnapshots {
  private loading: Promise<StateBackend> | undefined;
  private loaded: StateBackend | undefined;

  constructor(
    private readonly before: string,
    readonly keepVersions: number | undefined,
    private readonly load: () => Promise<StateBackend>,
  ) {}

  /** The loaded backend's description (it knows the namespace it resolved), else the configured one. */
  get description(): string {
    return this.loaded?.description ?? this.before;
  }

  private target(): Promise<StateBackend> {
    this.loading ??= this.load().then((b) => (this.loaded = b));
    this.loading.catch(() => (this.loading = undefined));
    return this.loading;
  }

  async get(key: string): Promise<StateEntry | undefined> {
    return (await this.target()).get(key);
  }

  async put(key: string, value: StateValue, options?: WriteOptions): Promise<string> {
    return (await this.target()).put(key, value, options);
  }

  async delete(key: string, options?: WriteOptions): Promise<void> {
    return (await this.target()).delete(key, options);
  }

  async list(prefix: string): Promise<string[]> {
    return (await this.target()).list(prefix);
  }

  /** A deferred view over the loaded backend's snapshot (or the backend itself when it has none). */
  snapshot(): StateBackend {
    return new DeferredStateBackend(this.before, this.keepVersions, async () => {
      const target = await this.target();
      return hasReadSnapshots(target) ? target.snapshot() : target;
    });
  }

  async stateNames(): Promise<string[]> {
    const target = await this.target();
    if (hasStateNames(target)) return target.stateNames();
    return [...new Set((await target.list('certificates/')).map((k) => /^certificates\/([^/]+)\/renewal-state$/.exec(k)?.[1]).filter((n): n is string => n !== undefined))].sort();
  }

  async checkWritable(name: string, bytes: number): Promise<void> {
    const target = await this.target();
    if (hasWritableProbe(target)) await target.checkWritable(name, bytes);
  }
}
