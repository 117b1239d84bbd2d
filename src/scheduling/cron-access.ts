/**
 * Whether the user a cron line runs as can do what the line's run needs: `cron install -u USER`
 * runs as root, the line then runs as USER, and a state directory root made (0700) or a config in
 * root's home makes every run fail unseen (`/bin/sh: cannot create …/renew.log: Permission denied`,
 * then `ERR_STORAGE_IO … EACCES`). Checked from the user's uid and groups against the owners and
 * modes of the real paths, without switching user: the POSIX permission classes (owner bits when
 * the uid owns it, else group bits when one of the groups does, else the others' bits; root passes
 * everything) and search permission on every folder above. POSIX ACLs are not read: a path an ACL
 * opens reads as closed here (`cron install --force` installs anyway).
 *
 * {@link cronAccessProblems} is pure over injected facts (unit tests); {@link systemFacts} reads
 * them from this machine (`id`, `stat`).
 */
import { execFile } from 'node:child_process';
import { promises as fs, type Stats } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { hasErrno } from '../fs/atomic-write.js';

/** The user the line runs as: its uid, primary gid and every group id (`id -G`). */
export interface CronUser {
  name: string;
  uid: number;
  gid: number;
  gids: readonly number[];
}

/** The owner and mode of one path (as `stat` gives them). */
export interface PathFacts {
  uid: number;
  gid: number;
  /** Permission bits (the low 12 bits of st_mode are enough). */
  mode: number;
  directory: boolean;
  symlink?: boolean;
}

/** What the check reads about the machine. */
export interface CronAccessFacts {
  /** `stat` (following links), or undefined when the path does not exist. */
  stat(path: string): Promise<PathFacts | undefined>;
  /** The entries of a folder with their `lstat` (links not followed). */
  list(dir: string): Promise<Array<{ name: string; facts: PathFacts }>>;
  /** The real path of an existing path (symbolic links resolved). */
  realpath(path: string): Promise<string>;
}

/** One thing the line's run needs. */
export interface CronAccessNeed {
  /** Absolute path. */
  path: string;
  /** How messages name it, e.g. `the configuration file`. */
  what: string;
  /**
   * `read`: a file the run reads; `state`: a folder the run reads and writes, with everything in
   * it (created when missing); `append`: a file the line's `>>` opens (created when missing);
   * `replace`: a file the run replaces by a rename in its folder (`--metrics-file`).
   */
  access: 'read' | 'state' | 'append' | 'replace';
  /** Created for the user when missing (by `cron install`, as root): only the folders above must let it through. */
  madeForUser?: boolean;
}

/** One path the user cannot use as the run needs. */
export interface CronAccessProblem {
  need: CronAccessNeed;
  /** The path that stops it (the need's own, a folder above it, or an entry inside a state folder). */
  path: string;
  /** Why, e.g. `the user may not enter this folder (mode 0700, owner uid 0 gid 0)`. */
  why: string;
  /** What is missing: search on a folder above, the access itself, or the path (or a folder) at all. */
  kind: 'enter' | 'access' | 'missing';
}

const R = 4;
const W = 2;
const X = 1;
/** Entries looked at inside a state folder before the check stops walking (a big archive). */
const MAX_ENTRIES = 20_000;

/** Whether `user` has every one of `bits` (r=4, w=2, x=1) on a path with `facts` (POSIX classes, no ACLs). */
export function permits(user: CronUser, facts: PathFacts, bits: number): boolean {
  if (user.uid === 0) return true;
  const shift = facts.uid === user.uid ? 6 : user.gids.includes(facts.gid) ? 3 : 0;
  return ((facts.mode >> shift) & bits) === bits;
}

function describe(facts: PathFacts): string {
  return `mode ${(facts.mode & 0o7777).toString(8).padStart(4, '0')}, owner uid ${facts.uid} gid ${facts.gid}`;
}

function bitsName(bits: number): string {
  return [bits & R ? 'read' : '', bits & W ? 'write' : '', bits & X ? (bits === X ? 'enter' : 'search') : ''].filter(Boolean).join(' and ');
}

/**
 * The problems `user` would meet with `needs` (empty: it can do all of it). At most one problem per
 * need: the first path on the way that stops it.
 */
export async function cronAccessProblems(user: CronUser, needs: readonly CronAccessNeed[], facts: CronAccessFacts): Promise<CronAccessProblem[]> {
  const problems: CronAccessProblem[] = [];
  for (const need of needs) {
    const problem = await checkNeed(user, need, facts);
    if (problem) problems.push(problem);
  }
  return problems;
}

async function checkNeed(user: CronUser, need: CronAccessNeed, facts: CronAccessFacts): Promise<CronAccessProblem | undefined> {
  const stop = (path: string, why: string, kind: CronAccessProblem['kind'] = 'access'): CronAccessProblem => ({ need, path, why, kind });
  // The nearest existing path (the need's own, or the folder it is to be created in), resolved.
  let existing = resolve(need.path);
  let found = await facts.stat(existing);
  while (found === undefined && dirname(existing) !== existing) {
    existing = dirname(existing);
    found = await facts.stat(existing);
  }
  if (found === undefined) return stop(need.path, 'no folder above it exists', 'missing');
  const real = await facts.realpath(existing);
  const absent = existing !== resolve(need.path);
  // Search permission on every folder from / down to the one that holds it.
  const parts = real.split('/').filter(Boolean);
  const chain = absent ? parts.length + 1 : parts.length;
  let at = '/';
  for (let i = 0; i < chain; i++) {
    const dir = at;
    const dirFacts = await facts.stat(dir);
    if (dirFacts === undefined) return stop(dir, 'it does not exist', 'missing');
    if (!permits(user, dirFacts, X)) return stop(dir, `the user may not enter this folder (${describe(dirFacts)})`, 'enter');
    if (i < parts.length) at = join(at, parts[i] as string);
  }
  if (need.access === 'replace') {
    // A new file is renamed over it: what counts is the folder it is in (or is to be created in).
    const folder = absent ? existing : dirname(real);
    const folderFacts = absent ? found : await facts.stat(folder);
    if (folderFacts === undefined || !folderFacts.directory) return stop(folder, 'it is not a folder', 'missing');
    return permits(user, folderFacts, W | X) ? undefined : stop(folder, `the user may not write files in this folder (${describe(folderFacts)})`);
  }
  if (absent) {
    if (need.access === 'read') return stop(need.path, 'it does not exist', 'missing');
    if (need.madeForUser) return undefined;
    // certpilot (or sh, for the log) creates it in the nearest existing folder.
    if (!found.directory) return stop(existing, 'it is not a folder', 'missing');
    if (!permits(user, found, W | X)) return stop(existing, `${need.path} does not exist, and the user may not create it here (${describe(found)})`);
    return undefined;
  }
  switch (need.access) {
    case 'read':
      if (found.directory) return stop(need.path, 'it is a folder');
      return permits(user, found, R) ? undefined : stop(need.path, `the user may not read it (${describe(found)})`);
    case 'append':
      if (found.directory) return stop(need.path, 'it is a folder');
      return permits(user, found, W) ? undefined : stop(need.path, `the user may not write it (${describe(found)})`);
    case 'state':
      if (!found.directory) return stop(need.path, 'it is not a folder');
      return walkState(user, need, real, found, facts);
  }
}

/** Every folder of a state directory needs read, write and search; every file read (files are replaced by rename, never written in place). */
async function walkState(user: CronUser, need: CronAccessNeed, root: string, rootFacts: PathFacts, facts: CronAccessFacts): Promise<CronAccessProblem | undefined> {
  const queue: Array<[string, PathFacts]> = [[root, rootFacts]];
  let seen = 0;
  while (queue.length > 0 && seen < MAX_ENTRIES) {
    const [dir, dirFacts] = queue.shift() as [string, PathFacts];
    if (!permits(user, dirFacts, R | W | X)) {
      return { need, path: dir, why: `the user may not ${bitsName(R | W | X)} this folder (${describe(dirFacts)})`, kind: 'access' };
    }
    for (const entry of await facts.list(dir)) {
      seen++;
      const path = join(dir, entry.name);
      if (entry.facts.symlink) continue; // a link's own mode means nothing; its target is in the tree
      if (entry.facts.directory) queue.push([path, entry.facts]);
      else if (!permits(user, entry.facts, R)) return { need, path, why: `the user may not read it (${describe(entry.facts)})`, kind: 'access' };
    }
  }
  return undefined;
}

function factsOf(st: Stats): PathFacts {
  return { uid: st.uid, gid: st.gid, mode: st.mode & 0o7777, directory: st.isDirectory(), ...(st.isSymbolicLink() ? { symlink: true } : {}) };
}

/** The facts of this machine's file system. */
export const systemFacts: CronAccessFacts = {
  async stat(path) {
    try {
      return factsOf(await fs.stat(path));
    } catch (err) {
      if (hasErrno(err, 'ENOENT') || hasErrno(err, 'ENOTDIR')) return undefined;
      throw err;
    }
  },
  async list(dir) {
    const out: Array<{ name: string; facts: PathFacts }> = [];
    for (const name of await fs.readdir(dir)) {
      try {
        out.push({ name, facts: factsOf(await fs.lstat(join(dir, name))) });
      } catch (err) {
        if (!hasErrno(err, 'ENOENT')) throw err;
      }
    }
    return out;
  },
  realpath: (path) => fs.realpath(path),
};

/** The uid, primary gid and groups of `name` (`id -u`, `id -g`, `id -G`: the system's user database, NSS included), or undefined when there is no such user. */
export async function lookupCronUser(name: string): Promise<CronUser | undefined> {
  const id = (flag: string): Promise<string | undefined> =>
    new Promise((done) => execFile('id', [flag, '--', name], { encoding: 'utf8' }, (err, stdout) => done(err ? undefined : stdout.trim())));
  const [uid, gid, gids] = await Promise.all([id('-u'), id('-g'), id('-G')]);
  if (uid === undefined || gid === undefined || gids === undefined) return undefined;
  return { name, uid: Number(uid), gid: Number(gid), gids: gids.split(/\s+/).filter(Boolean).map(Number) };
}
