/**
 * The one sanitizer every file-system path of certpilot goes through (DESIGN.md §6.6, certmagic
 * `KeyBuilder.Safe`). A name either is safe as a single path component or is refused; it is never
 * silently rewritten, so two configured names can never map to one file.
 */
import { createHash } from 'node:crypto';
import { CertpilotError } from '../../errors.js';

/** The longest name accepted, well under the 255-byte component limit of common file systems. */
export const MAX_NAME_LENGTH = 200;

const SAFE = /^[A-Za-z0-9._-]+$/;

/** Why `name` is not a safe path component, or `undefined` when it is. */
export function unsafeNameReason(name: string): string | undefined {
  if (typeof name !== 'string' || name.length === 0) return 'it is empty';
  if (name.length > MAX_NAME_LENGTH) return `it is longer than ${MAX_NAME_LENGTH} characters`;
  if (!SAFE.test(name)) return 'it contains characters other than letters, digits, ".", "-" and "_"';
  if (name.startsWith('.')) return 'it starts with a dot';
  if (name.includes('..')) return 'it contains ".."';
  return undefined;
}

/** Returns `name` when it is safe as one path component, else throws `ERR_STORAGE_NAME`. */
export function safeName(name: string): string {
  const reason = unsafeNameReason(name);
  if (reason !== undefined) {
    // JSON.stringify shows control characters and slashes plainly; names are not secrets.
    throw new CertpilotError('ERR_STORAGE_NAME', `storage: name ${JSON.stringify(String(name).slice(0, 80))} refused: ${reason}`);
  }
  return name;
}

/**
 * Maps an ACME directory URL to a safe folder name: `host[_port]` then the path segments, joined by
 * `_`, other characters replaced by `_` (e.g. `https://localhost:14000/dir` → `localhost_14000_dir`).
 * When that mapping lost information (a replaced character, or too long) a short hash of the whole
 * URL is appended so that two directories never share a folder.
 */
export function directoryFolderName(directoryUrl: string): string {
  let url: URL;
  try {
    url = new URL(directoryUrl);
  } catch (cause) {
    throw new CertpilotError('ERR_STORAGE_NAME', `storage: directory URL ${JSON.stringify(directoryUrl.slice(0, 200))} refused: it is not a URL`, { cause });
  }
  const parts = [url.hostname, url.port, ...url.pathname.split('/')].filter((p) => p.length > 0);
  // `_` is the separator, so a part that already holds one also counts as lossy.
  const cleaned = parts.map((p) => p.replace(/[^A-Za-z0-9.-]/g, '_').replace(/\.{2,}/g, '_'));
  let folder = cleaned.join('_').replace(/^[._]+/, '');
  const lossy = parts.some((p) => /[^A-Za-z0-9.-]|\.\./.test(p)) || url.search !== '' || url.protocol !== 'https:' || !folder.startsWith(cleaned[0] ?? '');
  if (lossy || folder.length > MAX_NAME_LENGTH - 13) {
    const hash = createHash('sha256').update(directoryUrl).digest('hex').slice(0, 12);
    folder = `${folder.slice(0, MAX_NAME_LENGTH - 13)}_${hash}`;
  }
  return safeName(folder.length > 0 ? folder : 'directory');
}
