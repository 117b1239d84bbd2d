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
 */
import { createPrivateKey, type JsonWebKey } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';
import { certificateSetProblem, type CertificateSetPems } from '../../storage/certificate-facts.js';
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
  contact?: string[];
  /** meta.json `creation_dt`, ISO 8601, when present. */
  createdAt?: string;
  /** Path of the account folder, relative to the config dir, for the report. */
  path: string;
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

/** True when `dir` looks like a certbot configuration directory (it has live/, accounts/ or renewal/). */
export async function isCertbotDir(dir: string): Promise<boolean> {
  for (const sub of ['live', 'accounts', 'renewal']) {
    if ((await fs.stat(join(dir, sub)).catch(() => undefined))?.isDirectory()) return true;
  }
  return false;
}

/** Reads the whole directory (see the module comment). Throws only when `configDir` itself cannot be read. */
export async function readCertbotState(configDir: string): Promise<CertbotState> {
  const root = resolve(configDir);
  const problems: CertbotProblem[] = [];
  const accounts = await readAccounts(root, problems);
  const lineages: CertbotLineage[] = [];
  const names = new Set<string>();
  for (const entry of await readdirOrEmpty(join(root, 'live'))) {
    if (entry === 'README' || entry.startsWith('.')) continue;
    names.add(entry);
  }
  const confs = new Map<string, string>();
  for (const entry of await readdirOrEmpty(join(root, 'renewal'))) {
    const m = /^(.+)\.conf$/.exec(entry);
    if (m?.[1] !== undefined) confs.set(m[1], join(root, 'renewal', entry));
  }
  for (const name of confs.keys()) {
    if (!names.has(name)) problems.push({ kind: 'renewal', name, reason: `renewal/${name}.conf has no live/${name}/: nothing to import for it` });
  }
  for (const name of [...names].sort()) {
    let renewal: RenewalConf | undefined;
    const confFile = confs.get(name);
    if (confFile !== undefined) {
      try {
        renewal = parseRenewalConf(await fs.readFile(confFile, 'utf8'));
      } catch (err) {
        const why = err instanceof RenewalConfSyntaxError ? err.message : (err as NodeJS.ErrnoException).code ?? String(err);
        problems.push({ kind: 'renewal', name, reason: `renewal/${name}.conf could not be read (${why}): the certificate is imported, its solver and hook are not` });
      }
    }
    const read = await readLineage(root, name);
    if (typeof read === 'string') {
      problems.push({ kind: 'lineage', name, reason: read });
      continue;
    }
    lineages.push({ name, versions: read, ...(renewal ? { renewal } : {}) });
  }
  return { configDir: root, accounts, lineages, problems };
}

/** Every version of one lineage, validated; or the reason it cannot be imported. */
async function readLineage(root: string, name: string): Promise<CertbotVersion[] | string> {
  const liveDir = join(root, 'live', name);
  const archiveDir = join(root, 'archive', name);
  const liveStat = await fs.lstat(liveDir).catch(() => undefined);
  if (!liveStat?.isDirectory()) return `live/${name} is not a directory`;
  // The live links say which version is live; all four must point at the same N in archive/<name>/.
  let liveVersion: number | undefined;
  for (const file of PEM_FILES) {
    const link = join(liveDir, `${file}.pem`);
    let target: string;
    try {
      target = await fs.readlink(link);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      return code === 'ENOENT' ? `live/${name}/${file}.pem is missing` : `live/${name}/${file}.pem is not a symbolic link into archive/ (${code ?? 'unreadable'})`;
    }
    const resolved = resolve(liveDir, target);
    const rel = relative(archiveDir, resolved);
    const m = new RegExp(`^${file}(\\d+)\\.pem$`).exec(rel);
    if (rel.startsWith('..') || rel.includes(sep) || !m?.[1]) return `live/${name}/${file}.pem points outside archive/${name}/ (-> ${target})`;
    if (!(await fs.stat(resolved).catch(() => undefined))?.isFile()) return `live/${name}/${file}.pem is a broken symbolic link (-> ${target}: no such file)`;
    const n = Number(m[1]);
    if (liveVersion !== undefined && n !== liveVersion) return `live/${name}/ links mix versions ${liveVersion} and ${n} (a certbot run died mid-update)`;
    liveVersion = n;
  }
  if (liveVersion === undefined) return `live/${name}/ holds no certificate`;
  // Versions 1..live: certbot numbers them without gaps; a missing one is reported, not skipped.
  const versions: CertbotVersion[] = [];
  for (let n = 1; n <= liveVersion; n++) {
    const pems: Partial<CertificateSetPems> = {};
    for (const file of PEM_FILES) {
      try {
        pems[FIELD[file]] = await fs.readFile(join(archiveDir, `${file}${n}.pem`), 'utf8');
      } catch (err) {
        return `archive/${name}/${file}${n}.pem could not be read (${(err as NodeJS.ErrnoException).code ?? String(err)})`;
      }
    }
    const set = pems as CertificateSetPems;
    const problem = certificateSetProblem(set, `archive/${name}/cert${n}.pem`);
    if (problem !== undefined) return problem;
    versions.push({ version: n, ...set });
  }
  return versions;
}

/** Every account folder under accounts/ (symbolic links, certbot's ACMEv1 aliases, are skipped). */
async function readAccounts(root: string, problems: CertbotProblem[]): Promise<CertbotAccount[]> {
  const base = join(root, 'accounts');
  const found: CertbotAccount[] = [];
  const walk = async (dir: string, depth: number): Promise<void> => {
    if (depth > 8) return;
    let entries;
    try {
      entries = await fs.readdir(dir, { withFileTypes: true });
    } catch {
      return;
    }
    if (entries.some((e) => e.isFile() && e.name === 'private_key.json')) {
      const account = await readAccount(root, dir);
      if (typeof account === 'string') problems.push({ kind: 'account', name: relative(root, dir), reason: account });
      else found.push(account);
      return;
    }
    for (const e of entries) if (e.isDirectory()) await walk(join(dir, e.name), depth + 1);
  };
  await walk(base, 0);
  return found.sort((a, b) => a.path.localeCompare(b.path));
}

async function readAccount(root: string, dir: string): Promise<CertbotAccount | string> {
  const path = relative(root, dir);
  const parts = relative(join(root, 'accounts'), dir).split(sep);
  const id = parts.pop() ?? '';
  if (parts.length === 0) return 'it is not under accounts/<server>/<path>/<id>/';
  const readJson = async (file: string): Promise<Record<string, unknown> | string> => {
    try {
      const value = JSON.parse(await fs.readFile(join(dir, file), 'utf8')) as unknown;
      return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : `${file} is not a JSON object`;
    } catch (err) {
      return `${file} could not be read (${(err as NodeJS.ErrnoException).code ?? 'not JSON'})`;
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
  const contact = Array.isArray(body.contact) ? body.contact.filter((c): c is string => typeof c === 'string') : undefined;
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

async function readdirOrEmpty(dir: string): Promise<string[]> {
  try {
    return await fs.readdir(dir);
  } catch {
    return [];
  }
}
