/**
 * The domain stores over the filesystem backend: what `stateDir` gives, and what tests and tools
 * that want a certbot-layout directory construct (`new FilesystemCertificateStore({ stateDir })`).
 */
import { StateStore, type StateStoreOptions } from '../../state-store.js';
import type { CertificatePaths } from '../../state-backend.js';
import { safeName } from '../../filesystem/safe-name.js';
import { FilesystemStateBackend, type FilesystemStateBackendOptions } from './filesystem-state-backend.js';

export type { WriteFaultHook } from './filesystem-state-backend.js';

/** Options of {@link FilesystemCertificateStore}. */
export type FilesystemCertificateStoreOptions = FilesystemStateBackendOptions & StateStoreOptions;

/** Certificates, renewal state, pending orders and accounts in a certbot-layout directory. */
export class FilesystemCertificateStore extends StateStore {
  /** Absolute path of the state directory. */
  readonly stateDir: string;
  private readonly files: FilesystemStateBackend;

  constructor(options: FilesystemCertificateStoreOptions) {
    const backend = new FilesystemStateBackend(options);
    super(backend, options);
    this.files = backend;
    this.stateDir = backend.stateDir;
  }

  /** The paths users point their servers at for `name` (they exist once it was saved). */
  pathsFor(name: string): CertificatePaths {
    return this.files.pathsFor(safeName(name));
  }
}
