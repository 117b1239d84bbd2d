/**
 * certbot's accounts in a state directory, for `certpilot state copy --from dir:PATH`: a certbot
 * tree keeps them as `accounts/<server>/<path>/<id>/{private_key.json,regr.json,meta.json}`, which
 * certpilot's own layout (`accounts/<folder>/account.json`, state-keys.ts) does not read.
 *
 * They are read with the import's reader (certbot-reader.ts: race-free, no symbolic link followed)
 * and written into the target through the domain store exactly as `import certbot` writes them
 * (import-state.ts `planAccount`): certpilot keeps one account per CA, so of certbot's accounts for
 * one CA the one most renewal confs name is copied first; another one for that CA, an account that
 * cannot be read, and a folder of no known layout are each reported as failed, never dropped.
 */
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import type { Clock } from '../../clock.js';
import { hasErrno, ioError } from '../../fs/atomic-write.js';
import type { AccountCopyReport, ForeignAccounts } from '../../storage/state-copy.js';
import type { StateBackend } from '../../storage/state-backend.js';
import { StateStore } from '../../storage/state-store.js';
import { applyPlans, planAccount } from '../import-state.js';
import { sameServer } from './certbot-mapping.js';
import { importAccount, openImportSource, preferredAccount, readCertbotAccounts, type CertbotAccount, type CertbotAccounts } from './certbot-reader.js';

/**
 * certbot's accounts in the state directory `stateDir`, or `undefined` when `accounts/` holds none
 * but certpilot's own (then nothing is opened beyond a listing). Throws `ERR_FS_SHARED_DIR` /
 * `ERR_IMPORT_SOURCE` when the directory cannot be read safely (certbot-reader.ts).
 */
export async function certbotAccountsIn(stateDir: string, clock: Clock): Promise<ForeignAccounts | undefined> {
  const folders = await foreignFolders(stateDir);
  if (folders.length === 0) return undefined;
  const root = await openImportSource(stateDir, 'Give the state directory as `state copy --from dir:PATH` (certbot\'s configuration directory, e.g. /etc/letsencrypt).');
  let read: CertbotAccounts;
  try {
    read = await readCertbotAccounts(root);
  } finally {
    await root.close();
  }
  return { folders: new Set(folders), copy: (to) => copyCertbotAccounts(read, stateDir, folders, to, clock) };
}

/** The folders of `accounts/` that hold no certpilot account (no `account.json`); dot-names and symbolic links are not accounts. */
async function foreignFolders(stateDir: string): Promise<string[]> {
  const accounts = join(stateDir, 'accounts');
  let entries;
  try {
    entries = await fs.readdir(accounts, { withFileTypes: true });
  } catch (err) {
    if (hasErrno(err, 'ENOENT') || hasErrno(err, 'ENOTDIR')) return [];
    throw ioError(`reading ${accounts}`, err);
  }
  const found: string[] = [];
  for (const e of entries) {
    if (!e.isDirectory() || e.name.startsWith('.')) continue;
    const record = await fs.lstat(join(accounts, e.name, 'account.json')).catch(() => undefined);
    if (record === undefined) found.push(e.name);
  }
  return found.sort();
}

async function copyCertbotAccounts(read: CertbotAccounts, stateDir: string, folders: readonly string[], to: StateBackend, clock: Clock): Promise<AccountCopyReport[]> {
  const store = new StateStore(to);
  const stores = { accounts: store, certificates: store };
  // The account certpilot keeps for each CA goes first; any other for that CA then meets it and is reported.
  const preferred = new Set<CertbotAccount>();
  for (const a of read.accounts) {
    const best = preferredAccount(read.accounts.filter((b) => sameServer(a.directoryUrl, b.directoryUrl)), read.renewalAccounts);
    if (best) preferred.add(best);
  }
  const ordered = [...preferred, ...read.accounts.filter((a) => !preferred.has(a))];
  const reports: AccountCopyReport[] = [];
  for (const account of ordered) {
    const report = { name: account.path.slice('accounts/'.length), format: 'certbot', detail: `${account.url} on ${account.directoryUrl}` } as const;
    try {
      const plan = await planAccount(stores, importAccount(account), clock);
      const [item] = await applyPlans([plan], false);
      if (item?.status === 'skipped') reports.push({ ...report, status: 'failed', error: item.detail });
      else reports.push({ ...report, status: item?.status === 'unchanged' ? 'unchanged' : 'copied' });
    } catch (err) {
      reports.push({ ...report, status: 'failed', error: err instanceof Error ? err.message : String(err) });
    }
  }
  for (const problem of read.problems) {
    reports.push({ name: problem.name.replace(/^accounts\//, ''), format: 'certbot', status: 'failed', error: problem.reason });
  }
  // A folder holding files of neither layout: say so rather than leave it behind unnoticed. (One
  // holding only symbolic links is certbot's ACMEv1 alias of an ACMEv2 account: nothing of its own.)
  const seen = [...read.accounts.map((a) => a.path), ...read.problems.map((p) => p.name)];
  for (const folder of folders) {
    if (seen.some((p) => p.startsWith(`accounts/${folder}/`) || p === `accounts/${folder}`)) continue;
    if (!(await holdsFiles(join(stateDir, 'accounts', folder)))) continue;
    reports.push({
      name: folder,
      format: 'unknown',
      status: 'failed',
      error: `accounts/${folder} holds no account certpilot can read (no account.json of certpilot's, no private_key.json of certbot's below it): not copied`,
    });
  }
  return reports;
}

/** True when a regular file is somewhere below `dir` (symbolic links are not followed; names only, nothing is read). */
async function holdsFiles(dir: string, depth = 0): Promise<boolean> {
  if (depth > 9) return false;
  const entries = await fs.readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const e of entries) {
    if (e.isFile()) return true;
    if (e.isDirectory() && (await holdsFiles(join(dir, e.name), depth + 1))) return true;
  }
  return false;
}
