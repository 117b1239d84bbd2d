/**
 * The one place state keys are built and read (DESIGN.md §6.6, certmagic `KeyBuilder`): every
 * segment goes through the sanitizer, so a backend can map a key to a file or an object name
 * without checking it again.
 *
 * ```
 * accounts/<directory folder>                       account.json, private_key.pem[, private_key.next.pem]
 * certificates/<name>/live                          version            (which version is live)
 * certificates/<name>/versions/<N>                  cert.pem chain.pem fullchain.pem privkey.pem meta.json
 * certificates/<name>/renewal-state                 state.json         (renewal state and deploy records)
 * certificates/<name>/pending-order                 order.json privkey.pem
 * certificates/<name>/corrupt/<part>                an unreadable entry kept for a human
 * ```
 */
import { CertpilotError } from '../errors.js';
import { directoryFolderName, safeName, unsafeNameReason } from './filesystem/safe-name.js';

/** The parts of a certificate's state, each one key. */
export type CertificatePart = 'live' | 'renewal-state' | 'pending-order';

/** A parsed key. */
export type ParsedKey =
  | { kind: 'account'; folder: string }
  | { kind: 'certificate'; name: string; part: CertificatePart }
  | { kind: 'version'; name: string; version: number }
  | { kind: 'corrupt'; name: string; part: string };

/** The field of a renewal-state key that holds the renewal state (JSON). */
export const RENEWAL_STATE_FIELD = 'state.json';

/** Builds the keys of the state layout (see the module comment). */
export const stateKeys = {
  account: (directoryUrl: string): string => `accounts/${directoryFolderName(directoryUrl)}`,
  live: (name: string): string => `certificates/${safeName(name)}/live`,
  version: (name: string, version: number): string => `certificates/${safeName(name)}/versions/${version}`,
  versionsPrefix: (name: string): string => `certificates/${safeName(name)}/versions/`,
  renewalState: (name: string): string => `certificates/${safeName(name)}/renewal-state`,
  pendingOrder: (name: string): string => `certificates/${safeName(name)}/pending-order`,
  corrupt: (name: string, part: string): string => `certificates/${safeName(name)}/corrupt/${safeName(part)}`,
  certificatePrefix: (name: string): string => `certificates/${safeName(name)}/`,
} as const;

/** Reads a key built by {@link stateKeys}, or throws `ERR_STORAGE_NAME`. */
export function parseKey(key: string): ParsedKey {
  const parts = key.split('/');
  const refuse = (why: string): never => {
    throw new CertpilotError('ERR_STORAGE_NAME', `storage: key ${JSON.stringify(key.slice(0, 200))} refused: ${why}`);
  };
  for (const p of parts) if (unsafeNameReason(p) !== undefined) refuse(`segment ${JSON.stringify(p.slice(0, 80))} is not safe`);
  const [root, name, part, extra, ...rest] = parts;
  if (rest.length > 0) refuse('too many segments');
  if (root === 'accounts' && name !== undefined && part === undefined) return { kind: 'account', folder: name };
  if (root !== 'certificates' || name === undefined) return refuse('it is not a state key');
  if ((part === 'live' || part === 'renewal-state' || part === 'pending-order') && extra === undefined) return { kind: 'certificate', name, part };
  if (part === 'versions' && extra !== undefined && /^[0-9]{1,9}$/.test(extra)) return { kind: 'version', name, version: Number(extra) };
  if (part === 'corrupt' && extra !== undefined) return { kind: 'corrupt', name, part: extra };
  return refuse('it is not a state key');
}
