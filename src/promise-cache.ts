/**
 * Memoizes asynchronous look-ups by key (a zone per name, a plug-in per instance name): concurrent
 * callers share one promise, and a rejected look-up is forgotten so the next call tries again.
 */
export class PromiseCache<T> {
  private readonly entries = new Map<string, Promise<T>>();

  /** The cached promise for `key`, or a new one from `load`. */
  get(key: string, load: () => Promise<T>): Promise<T> {
    let entry = this.entries.get(key);
    if (!entry) {
      entry = load();
      const loaded = entry;
      // Only this entry: a clear() and a new load may have replaced it by the time it rejects.
      loaded.catch(() => {
        if (this.entries.get(key) === loaded) this.entries.delete(key);
      });
      this.entries.set(key, entry);
    }
    return entry;
  }

  /** Every promise still cached. */
  values(): Promise<T>[] {
    return [...this.entries.values()];
  }

  /** Forgets every entry: the next `get` of each key loads it again. */
  clear(): void {
    this.entries.clear();
  }
}
