/**
 * Moved to `src/storage/backends/filesystem/` (issue 12: storage as a backend seam). This re-export
 * keeps branches in flight compiling; import from the new path.
 */
export { FilesystemCertificateStore, type FilesystemCertificateStoreOptions, type WriteFaultHook } from '../backends/filesystem/filesystem-certificate-store.js';
