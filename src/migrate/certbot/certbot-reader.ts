/**
 * Reads a certbot configuration directory (`/etc/letsencrypt`) without changing it: the ACME
 * accounts of every server, every lineage with every version, and the renewal conf of each.
 *
 * Layout read (certbot `storage.py`, `account.py`):
 * ```
 * accounts/<host[:port]>/<directory path>/<account id>/{private_key.json,regr.json,meta.json}
 * live/<name>/{cert,chain,fullchain,privkey}.pem -> ../../archive/<name>/<file>N.pem
 * archive/<name>/{cert,chain,fullchain,privkey}N.pem   N = 1, 2, …
 * renewal/<name>.conf
 * ```
 *
 * Nothing half-read is handed on: a lineage comes back only when every one of its versions is
 * sound (each key matches its certificate, every chain certificate parses, the full chain is the
 * certificate and the chain) and its live links resolve into its own archive; otherwise it is a
 * {@link CertbotProblem} naming it and why, and the others are unaffected. An account comes back
 * only with a readable key and account URL.
 *
 * **Race-free as root** (DESIGN.md security rules, `src/fs/dir-handle.ts`): the directory is opened
 * by {@link openImportSource} (a walk from `/` with `O_NOFOLLOW`, refusing a directory another user
 * may write), and everything inside it is reached through open directory descriptors, never by
 * path. No symlink is followed: certbot's `live/<name>/*.pem` links are read with readlink and must
 * say exactly `../../archive/<name>/<file>N.pem`; the file is then opened in the lineage's own
 * `archive/<name>/` descriptor with `O_NOFOLLOW`. A directory inside that another user may write
 * (a planted `archive/<name>`), a symlink where a file or directory should be, or a link pointing
 * anywhere else makes that lineage (or account) a problem; nothing outside the directory is read.
 */

import { createPrivateKey, type JsonWebKey } from 'node:crypto';
import { CertpilotError } from '../../errors.js';
import type { DirHandle } from '../../fs/dir-handle.js';
import { openDirectory, sharedReason } from '../../fs/dir-handle.js';
import { hasErrno } from '../../fs/atomic-write.js';
import { certificateSetProblem, type CertificateSetPems } from '../../storage/certificate-facts.js';
import type { ImportAccount } from '../import-state.js';
import { parseRenewalConf, RenewalConfSyntaxError, type RenewalConf } from './renewal-conf.js';

/** One certbot ACME account. */
export interface CertbotAccount {
  /** certbot's account id (the folder name). */
  id: string;
  /** The directory URL rebuilt from the folder path (`https://<host[:port]>/<path>`). */
  directoryUrl: string;
  /** The account URL (the JWS `kid`) from regr.json. */
  url: string;
  /** PKCS#8 PEM of the account key (from the JWK). Never logged. */
  privateKeyPem: string;
  /** regr.json's `body.contact` (older certbot), else meta.json's `register_to_eff` as `mailto:`; certbot 2.x usually keeps neither. */
  contact?: string[];
  /** meta.json `creation_dt`, ISO 8601, when present. */
  createdAt?: string;
  /** Path of the account folder, relative to the config dir, for the report. */
  path: string;
}

/** `account` as the import plans it: for its own CA, or for `directoryUrl` (the configured URL of that CA). */
export function importAccount(account: CertbotAccount, directoryUrl: string = account.directoryUrl): ImportAccount {
  return {
    directoryUrl,
    url: account.url,
    privateKeyPem: account.privateKeyPem,
    ...(account.contact ? { contact: account.contact } : {}),
    ...(account.createdAt ? { createdAt: account.createdAt } : {}),
    source: account.path,
  };
}

/** One version of a lineage: `archive/<name>/*N.pem`. */
export interface CertbotVersion extends CertificateSetPems {
  version: number;
}

/** One lineage: every version, oldest first, the last one live. */
export interface CertbotLineage {
  name: string;
  versions: CertbotVersion[];
  /** `renewal/<name>.conf`, when there is one and it parses. */
  renewal?: RenewalConf;
}

/** Something found that cannot be imported, and why. */
export interface CertbotProblem {
  kind: 'account' | 'lineage' | 'renewal';
  /** The lineage name, or the account's folder path. */
  name: string;
  reason: string;
}

/** Everything read from a certbot directory. */
export interface CertbotState {
  configDir: string;
  accounts: CertbotAccount[];
  lineages: CertbotLineage[];
  problems: CertbotProblem[];
}

const PEM_FILES = ['cert', 'chain', 'fullchain', 'privkey'] as const;
const FIELD = { cert: 'certPem', chain: 'chainPem', fullchain: 'fullchainPem', privkey: 'privateKeyPem' } as const;

/**
 * Opens the directory to import (certbot's, or `import files`' one) race-free (see the module comment): `ERR_IMPORT_SOURCE`
 * when it cannot be opened, `ERR_FS_SHARED_DIR` when it (or a parent) can be written by another
 * user. The caller closes it.
 */
export async function openImportSource(configDir: string, hint = 'Give certbot\'s configuration directory with --config-dir (certbot\'s own --config-dir, default /etc/letsencrypt).'): Promise<DirHandle> {
  try {
    return await openDirectory(configDir, { component: 'import', allowSharedField: 'nothing', errorCode: 'ERR_IMPORT_SOURCE' });
  } catch (err) {
    if (err instanceof CertpilotError && err.code === 'ERR_FS_SHARED_DIR') {
      throw new CertpilotError('ERR_FS_SHARED_DIR', err.message, {
        hint: `Make ${configDir} and its parents owned by root (or certpilot's user) and not writable by others, or import a copy made by root (cp -a) in a private directory.`,
      });
    }
    if (err instanceof CertpilotError && err.code === 'ERR_IMPORT_SOURCE') {
      throw new CertpilotError('ERR_IMPORT_SOURCE', err.message, { hint, cause: err.cause });
    }
    throw err;
  }
}

/** True when the opened directory looks like certbot's (it has live/, accounts/ or renewal/). */
export async function isCertbotDir(root: DirHandle): Promise<boolean> {
  for (const sub of ['live', 'accounts', 'renewal']) {
    if ((await root.lstat(sub).catch(() => undefined))?.isDirectory()) return true;
  }
  return false;
}

/**
 * Opens the directory at `path` (plain names, no `..`) below `from` without following a symlink,
 * refusing one another user may write: the directory, or the reason it cannot be used. Closes
 * what it opened on the way.
 */
export async function openInside(from: DirHandle, path: readonly string[]): Promise<DirHandle | string> {
  let current = from;
  const shown: string[] = [];
  for (const name of path) {
    shown.push(name);
    let next: DirHandle;
    try {
      next = await current.openDir(name);
    } catch (err) {
      if (current !== from) await current.close();
      if (hasErrno(err, 'ENOENT')) return `${shown.join('/')} does not exist`;
      if (hasErrno(err, 'ELOOP') || hasErrno(err, 'ENOTDIR')) return `${shown.join('/')} is not a directory (a symbolic link is not followed)`;
      return `${shown.join('/')} could not be opened (${(err as NodeJS.ErrnoException).code ?? String(err)})`;
    }
    if (current !== from) await current.close();
    current = next;
    const shared = sharedReason(await current.stat());
    if (shared !== undefined) {
      await current.close();
      return `${shown.join('/')} is not read: ${shared}, so another user could have planted what it holds`;
    }
  }
  return current;
}

/** The text of the regular file `name` in `dir` (never through a symlink), or why it cannot be read. */
export async function readInside(dir: DirHandle, name: string, label: string): Promise<string | { missing: boolean; reason: string }> {
  let read;
  try {
    read = await dir.readRegularFile(name);
  } catch (err) {
    return { missing: false, reason: `${label} could not be read (${(err as NodeJS.ErrnoException).code ?? String(err)})` };
  }
  if (read !== undefined) return read.data.toString('utf8');
  const st = await dir.lstat(name).catch(() => undefined);
  if (st === undefined) return { missing: true, reason: `${label} could not be read (ENOENT)` };
  return { missing: false, reason: `${label} is not a regular file${st.isSymbolicLink() ? ' (a symbolic link is not followed)' : ''}` };
}

/** Names in the directory at `path` below `root` (none when it is absent or cannot be used). */
export async function listInside(root: DirHandle, path: readonly string[]): Promise<string[]> {
  const dir = await openInside(root, path);
  if (typeof dir === 'string') return [];
  try {
    return (await dir.readdir()).sort();
  } finally {
    await dir.close();
  }
}

/** One entry of certbot's `renewal-hooks/<kind>/`, as certbot would see it. */
export interface CertbotHookScript {
  name: string;
  /** certbot runs it: an executable file (a symbolic link is not followed here, but certbot runs its target). */
  runs: boolean;
  /** Why certbot skips it, when it does. */
  skipped?: string;
  /** Its text, for a regular file (to see whether it reads certbot's own files). */
  text?: string;
}

/**
 * The entries of `renewal-hooks/<kind>/` in the order certbot runs them (`sorted(os.listdir())`, by
 * code point, as run-parts), each with whether certbot runs it: executable files only, not a
 * name ending in `~`, not a directory.
 */
export async function readHookScripts(root: DirHandle, kind: 'pre' | 'deploy' | 'post'): Promise<CertbotHookScript[]> {
  const dir = await openInside(root, ['renewal-hooks', kind]);
  if (typeof dir === 'string') return [];
  try {
    const names = (await dir.readdir()).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    const out: CertbotHookScript[] = [];
    for (const name of names) {
      const st = await dir.lstat(name).catch(() => undefined);
      if (st === undefined || st.isDirectory()) continue;
      if (name.endsWith('~')) {
        out.push({ name, runs: false, skipped: 'certbot skips names ending in ~ (editor backups)' });
        continue;
      }
      if (st.isSymbolicLink()) {
        out.push({ name, runs: true });
        continue;
      }
      if (!st.isFile() || (st.mode & 0o111) === 0) {
        out.push({ name, runs: false, skipped: 'certbot does not run it: it is not an executable file (chmod +x it if it should run)' });
        continue;
      }
      const read = await dir.readRegularFile(name).catch(() => undefined);
      out.push({ name, runs: true, ...(read && read.data.length <= 1 << 20 ? { text: read.data.toString('utf8') } : {}) });
    }
    return out;
  } finally {
    await dir.close();
  }
}

/** Reads the whole directory (see the module comment). `configDir` is only the name shown. */
export async function readCertbotState(root: DirHandle, configDir: string): Promise<CertbotState> {
  const problems: CertbotProblem[] = [];
  const accounts = await readAccounts(root, problems);
  const lineages: CertbotLineage[] = [];
  const names = new Set<string>();
  for (const entry of await listInside(root, ['live'])) {
    if (entry === 'README' || entry.startsWith('.')) continue;
    names.add(entry);
  }
  const confs = new Set<string>();
  for (const entry of await listInside(root, ['renewal'])) {
    const m = /^(.+)\.conf$/.exec(entry);
    if (m?.[1] !== undefined) confs.add(m[1]);
  }
  for (const name of confs) {
    if (!names.has(name)) problems.push({ kind: 'renewal', name, reason: `renewal/${name}.conf has no live/${name}/: nothing to import for it` });
  }
  for (const name of [...names].sort()) {
    let renewal: RenewalConf | undefined;
    if (confs.has(name)) {
      const reason = await (async (): Promise<string | undefined> => {
        const dir = await openInside(root, ['renewal']);
        if (typeof dir === 'string') return dir;
        try {
          const text = await readInside(dir, `${name}.conf`, `renewal/${name}.conf`);
          if (typeof text !== 'string') return text.reason;
          renewal = parseRenewalConf(text);
          return undefined;
        } catch (err) {
          return err instanceof RenewalConfSyntaxError ? `renewal/${name}.conf could not be read (${err.message})` : String(err);
        } finally {
          await dir.close();
        }
      })();
      if (reason !== undefined) problems.push({ kind: 'renewal', name, reason: `${reason}: the certificate is imported, its solver and hook are not` });
    }
    const read = await readLineage(root, name);
    if (typeof read === 'string') {
      problems.push({ kind: 'lineage', name, reason: read });
      continue;
    }
    lineages.push({ name, versions: read, ...(renewal ? { renewal } : {}) });
  }
  return { configDir, accounts, lineages, problems };
}

/** certbot's accounts alone (no lineage is read), and the account each renewal conf names. */
export interface CertbotAccounts {
  accounts: CertbotAccount[];
  /** Account folders that cannot be used, and why (`kind: 'account'`). */
  problems: CertbotProblem[];
  /** The `account =` of every renewal conf that parses (one entry per conf). */
  renewalAccounts: string[];
}

/**
 * Reads certbot's accounts without reading a lineage (`state copy` copies the lineages itself),
 * with the account ids the renewal confs name, for {@link preferredAccount}.
 */
export async function readCertbotAccounts(root: DirHandle): Promise<CertbotAccounts> {
  const problems: CertbotProblem[] = [];
  const accounts = await readAccounts(root, problems);
  const renewalAccounts: string[] = [];
  const confs = (await listInside(root, ['renewal'])).filter((e) => e.endsWith('.conf'));
  if (confs.length > 0) {
    const dir = await openInside(root, ['renewal']);
    if (typeof dir !== 'string') {
      try {
        for (const conf of confs) {
          const text = await readInside(dir, conf, `renewal/${conf}`);
          if (typeof text !== 'string') continue;
          try {
            const id = parseRenewalConf(text).params.account;
            if (id !== undefined) renewalAccounts.push(id);
          } catch (err) {
            if (!(err instanceof RenewalConfSyntaxError)) throw err;
          }
        }
      } finally {
        await dir.close();
      }
    }
  }
  return { accounts, problems, renewalAccounts };
}

/**
 * Of certbot's accounts for one CA, the one certpilot keeps (it keeps one account per CA): the one
 * most renewal confs name (`renewalAccounts`, one id per conf), then the oldest.
 */
export function preferredAccount(candidates: readonly CertbotAccount[], renewalAccounts: readonly (string | undefined)[]): CertbotAccount | undefined {
  const uses = (a: CertbotAccount): number => renewalAccounts.filter((id) => id === a.id).length;
  return [...candidates].sort((a, b) => uses(b) - uses(a) || (a.createdAt ?? '').localeCompare(b.createdAt ?? ''))[0];
}

/** Every version of one lineage, validated; or the reason it cannot be imported. */
async function readLineage(root: DirHandle, name: string): Promise<CertbotVersion[] | string> {
  const liveDir = await openInside(root, ['live', name]);
  if (typeof liveDir === 'string') return liveDir;
  const archiveDir = await openInside(root, ['archive', name]);
  try {
    // The live links say which version is live; all four must name the same N in archive/<name>/,
    // exactly as certbot writes them (a relative link): anything else is not followed.
    let liveVersion: number | undefined;
    for (const file of PEM_FILES) {
      let target: string;
      try {
        target = await liveDir.readlink(`${file}.pem`);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        return code === 'ENOENT' ? `live/${name}/${file}.pem is missing` : `live/${name}/${file}.pem is not a symbolic link into archive/ (${code ?? 'unreadable'})`;
      }
      const m = /^\.\.\/\.\.\/archive\/([^/]+)\/([a-z]+)(\d+)\.pem$/.exec(target);
      if (m?.[1] !== name || m[2] !== file || m[3] === undefined) return `live/${name}/${file}.pem points outside archive/${name}/ (-> ${target}): not followed`;
      const broken = `live/${name}/${file}.pem is a broken symbolic link (-> ${target}: no such file)`;
      if (typeof archiveDir === 'string') return /does not exist$/.test(archiveDir) ? broken : archiveDir;
      if ((await archiveDir.lstat(`${file}${m[3]}.pem`).catch(() => undefined)) === undefined) return broken;
      const n = Number(m[3]);
      if (liveVersion !== undefined && n !== liveVersion) return `live/${name}/ links mix versions ${liveVersion} and ${n} (a certbot run died mid-update)`;
      liveVersion = n;
    }
    if (liveVersion === undefined || typeof archiveDir === 'string') return `live/${name}/ holds no certificate`;
    return await readVersions(archiveDir, name, liveVersion);
  } finally {
    await liveDir.close();
    if (typeof archiveDir !== 'string') await archiveDir.close();
  }
}

/** Versions 1..`liveVersion` of `archive/<name>/`, each file opened in its descriptor with O_NOFOLLOW. */
async function readVersions(archiveDir: DirHandle, name: string, liveVersion: number): Promise<CertbotVersion[] | string> {
  // Versions 1..live: certbot numbers them without gaps; a missing one is reported, not skipped.
  const versions: CertbotVersion[] = [];
  for (let n = 1; n <= liveVersion; n++) {
    const pems: Partial<CertificateSetPems> = {};
    for (const file of PEM_FILES) {
      const text = await readInside(archiveDir, `${file}${n}.pem`, `archive/${name}/${file}${n}.pem`);
      if (typeof text !== 'string') return text.reason;
      pems[FIELD[file]] = text;
    }
    const set = pems as CertificateSetPems;
    const problem = certificateSetProblem(set, { cert: `archive/${name}/cert${n}.pem`, chain: `archive/${name}/chain${n}.pem`, fullchain: `archive/${name}/fullchain${n}.pem`, privkey: `archive/${name}/privkey${n}.pem` });
    if (problem !== undefined) return problem;
    versions.push({ version: n, ...set });
  }
  return versions;
}

/** Every account folder under accounts/ (symbolic links, certbot's ACMEv1 aliases, are skipped). */
async function readAccounts(root: DirHandle, problems: CertbotProblem[]): Promise<CertbotAccount[]> {
  const found: CertbotAccount[] = [];
  const walk = async (path: string[]): Promise<void> => {
    if (path.length > 9) return;
    const dir = await openInside(root, path);
    if (typeof dir === 'string') {
      // A symbolic link (certbot's ACMEv1 alias) is skipped quietly; a planted directory is reported.
      if (/is not read:/.test(dir)) problems.push({ kind: 'account', name: path.join('/'), reason: dir });
      return;
    }
    try {
      const entries = await dir.readdir();
      if (entries.includes('private_key.json')) {
        const account = await readAccount(dir, path);
        if (typeof account === 'string') problems.push({ kind: 'account', name: path.join('/'), reason: account });
        else found.push(account);
        return;
      }
      for (const e of entries.sort()) {
        if ((await dir.lstat(e).catch(() => undefined))?.isDirectory()) await walk([...path, e]);
      }
    } finally {
      await dir.close();
    }
  };
  if ((await root.lstat('accounts').catch(() => undefined))?.isDirectory()) await walk(['accounts']);
  return found.sort((a, b) => a.path.localeCompare(b.path));
}

async function readAccount(dir: DirHandle, segments: readonly string[]): Promise<CertbotAccount | string> {
  const path = segments.join('/');
  const parts = segments.slice(1);
  const id = parts.pop() ?? '';
  if (parts.length === 0) return 'it is not under accounts/<server>/<path>/<id>/';
  const readJson = async (file: string): Promise<Record<string, unknown> | string> => {
    const text = await readInside(dir, file, file);
    if (typeof text !== 'string') return text.reason;
    try {
      const value = JSON.parse(text) as unknown;
      return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : `${file} is not a JSON object`;
    } catch {
      return `${file} could not be read (not JSON)`;
    }
  };
  const [jwk, regr, meta] = await Promise.all([readJson('private_key.json'), readJson('regr.json'), readJson('meta.json')]);
  if (typeof jwk === 'string') return jwk;
  if (typeof regr === 'string') return regr;
  let privateKeyPem: string;
  try {
    privateKeyPem = createPrivateKey({ key: jwk as JsonWebKey, format: 'jwk' }).export({ type: 'pkcs8', format: 'pem' }).toString();
  } catch {
    return 'private_key.json is not a private JWK';
  }
  const url = regr.uri;
  if (typeof url !== 'string' || !/^https?:\/\//.test(url)) return 'regr.json has no account URL ("uri")';
  const body = typeof regr.body === 'object' && regr.body !== null ? (regr.body as Record<string, unknown>) : {};
  // Older certbot kept the registration's contact in regr.json; certbot 2.x writes `"body": {}` and
  // keeps the address (-m) only in meta.json's `register_to_eff`, until the EFF subscription is sent.
  const eff = typeof meta === 'object' && typeof meta.register_to_eff === 'string' && /^[^\s@]+@[^\s@]+$/.test(meta.register_to_eff) ? [`mailto:${meta.register_to_eff}`] : undefined;
  const contact = Array.isArray(body.contact) ? body.contact.filter((c): c is string => typeof c === 'string') : eff;
  const created = typeof meta === 'object' && typeof meta.creation_dt === 'string' ? new Date(meta.creation_dt) : undefined;
  // certbot names the folder after the server URL without its scheme; the account URL has the scheme.
  const scheme = new URL(url).protocol;
  return {
    id,
    directoryUrl: `${scheme}//${parts.join('/')}`,
    url,
    privateKeyPem,
    ...(contact?.length ? { contact } : {}),
    ...(created && !Number.isNaN(created.getTime()) ? { createdAt: created.toISOString() } : {}),
    path,
  };
}
