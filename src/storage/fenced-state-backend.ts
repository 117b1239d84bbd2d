/**
 * A backend whose writes stop once a signal aborts: the view of the state a renewal gets while it
 * holds its certificate's lock (DESIGN.md §2: "nothing is written under a lock another run now
 * holds"). Every write verb (`put`, `delete`) and every optional capability that writes
 * (`setAside`, `checkWritable`) first checks the signal and rejects with its reason (the lock's
 * `ERR_LOCK_LOST`) without touching the store; reads and the read-only capabilities (`pathsFor`,
 * `exists`, `keepVersions`, `stateNames`) pass through. Because the domain stores write only through their
 * backend, every write path of a renewal is fenced here, including a multi-step one: a save whose
 * lock is lost between writing the version and making it live never makes it live.
 */
import { hasLocalPaths, hasPresence, hasSetAside, hasStateNames, hasWritableProbe, type StateBackend, type StateEntry, type StateValue, type WriteOptions } from './state-backend.js';

/** `backend`, with every write refused once `signal` aborted. */
export function fenceBackend(backend: StateBackend, signal: AbortSignal): StateBackend {
  const fenced: StateBackend & Record<string, unknown> = {
    get description() {
      return backend.description;
    },
    get: (key: string): Promise<StateEntry | undefined> => backend.get(key),
    list: (prefix: string): Promise<string[]> => backend.list(prefix),
    put: async (key: string, value: StateValue, options?: WriteOptions): Promise<string> => {
      signal.throwIfAborted();
      return backend.put(key, value, options);
    },
    delete: async (key: string, options?: WriteOptions): Promise<void> => {
      signal.throwIfAborted();
      return backend.delete(key, options);
    },
  };
  if ('keepVersions' in backend) Object.defineProperty(fenced, 'keepVersions', { get: () => (backend as { keepVersions?: number }).keepVersions, enumerable: true });
  if (hasLocalPaths(backend)) fenced.pathsFor = (name: string) => backend.pathsFor(name);
  if (hasPresence(backend)) fenced.exists = () => backend.exists();
  if (hasStateNames(backend)) fenced.stateNames = () => backend.stateNames();
  if (hasSetAside(backend)) {
    fenced.setAside = async (key: string) => {
      signal.throwIfAborted();
      return backend.setAside(key);
    };
  }
  if (hasWritableProbe(backend)) {
    fenced.checkWritable = async (name: string, bytes: number) => {
      signal.throwIfAborted();
      return backend.checkWritable(name, bytes);
    };
  }
  return fenced;
}
