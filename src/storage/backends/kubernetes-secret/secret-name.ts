/**
 * Which Secret holds a state key: one per ACME account (`<prefix>-account-<hash>`) and one per
 * certificate (`<prefix>-cert-<name>`, hashed when the name is not a DNS-1123 subdomain). Shared by
 * the backend and its plug-in definition, whose RBAC declaration names the same Secrets.
 */
import { createHash } from 'node:crypto';
import { parseKey, stateKeys } from '../../state-keys.js';

const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

function shortHash(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 10);
}

/** Where a key lives: the Secret's name, the key prefix it holds, and the key's part within it. */
export interface SecretLocation {
  secret: string;
  holds: string;
  part: string;
  kind: 'account' | 'certificate';
}

/** The Secret (and the part within it) that holds `key`, with Secrets named from `prefix`. */
export function locateStateKey(prefix: string, key: string): SecretLocation {
  const k = parseKey(key);
  if (k.kind === 'account') return { secret: `${prefix}-account-${shortHash(k.folder)}`, holds: `accounts/${k.folder}`, part: '', kind: 'account' };
  const holds = `certificates/${k.name}`;
  const part = key.slice(holds.length + 1);
  const plain = `${prefix}-cert-${k.name}`;
  const secret =
    plain.length <= 253 && DNS1123_SUBDOMAIN.test(plain)
      ? plain
      : `${prefix}-cert-${k.name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 180)}-${shortHash(k.name)}`;
  return { secret, holds, part, kind: 'certificate' };
}

/** The data entry of one field of one key part (`versions.3.cert.pem`, `live.version`, `account.json`). */
export function dataKey(part: string, field: string): string {
  return part === '' ? field : `${part.replaceAll('/', '.')}.${field}`;
}

/** Where a person finds `field` of `key`, for messages: `Secret <name>, data entry <entry>`. */
export function describeStateEntry(prefix: string, key: string, field: string): string {
  const at = locateStateKey(prefix, key);
  return `Secret ${at.secret}, data entry ${dataKey(at.part, field)}`;
}

/** The name of the Secret holding the state of certificate `name`. */
export function certificateSecretName(prefix: string, name: string): string {
  return locateStateKey(prefix, stateKeys.live(name)).secret;
}

/** The name of the Secret holding the account of an ACME directory. */
export function accountSecretName(prefix: string, directoryUrl: string): string {
  return locateStateKey(prefix, stateKeys.account(directoryUrl)).secret;
}
