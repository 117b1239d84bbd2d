/**
 * Race-free file operations relative to an open directory (DESIGN.md §3 `fs/`).
 *
 * Running as root inside a directory another user can write, any call that takes a path can be
 * turned against us: the user swaps a name for a symlink (or a hard link) between our check and our
 * use, and root chmods, chowns or deletes whatever the link names. The C answer is the `*at()`
 * family (`openat`, `fchownat`, `unlinkat`) on a directory file descriptor plus `O_NOFOLLOW`. Node
 * 20 has none of them, so {@link DirHandle} gets the same effect on Linux:
 *
 * - A directory is opened with `O_RDONLY | O_DIRECTORY | O_NOFOLLOW` and kept open. Its descriptor
 *   pins that directory inode: renaming it, or swapping its name for a symlink, does not change
 *   what the descriptor refers to.
 * - Every name inside it is reached as `/proc/self/fd/<fd>/<name>`. The kernel resolves the magic
 *   link `/proc/self/fd/<fd>` to the pinned directory itself (not by its path), then looks up
 *   `<name>` in it: exactly `openat(fd, name, …)`, `mkdirat`, `unlinkat`, `renameat`, `symlinkat`.
 * - Files and directories are opened with `O_NOFOLLOW` (a symlink fails with `ELOOP`), created with
 *   `O_CREAT | O_EXCL` (a name someone planted fails with `EEXIST`), and their mode and owner are
 *   changed only through the descriptor (`fchmod`, `fchown`): the inode changed is the one opened,
 *   whatever happens to the name afterwards. `lchown` and `chmod` by path are never used.
 * - Where a name must be checked before it is opened (removal), `lstat` then `open(O_NOFOLLOW)` then
 *   `fstat`, and the two (dev, ino) pairs must match.
 *
 * {@link openDirectory} walks a path from `/` one component at a time the same way, so no parent
 * can be swapped mid-walk, and refuses (sshd `StrictModes` style) a directory another user may write.
 */
import { constants, promises as fs, type BigIntStats, type Stats } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { CertpilotError, type ErrorCode } from '../errors.js';
import { hasErrno, removeFile } from './atomic-write.js';

const O_DIR = constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW;
const MAX_SYMLINKS = 40;

/** Who may write a directory without it counting as shared (see {@link sharedReason}). */
export interface TrustedIds {
  /** Owners besides root and the user certpilot runs as (e.g. a files deployer's `owner`). */
  uids?: readonly number[];
  /** Groups that may have write permission (e.g. a files deployer's `group`). */
  gids?: readonly number[];
}

/** Options of {@link openDirectory}. */
export interface OpenDirectoryOptions {
  /** Create missing components (mode `createMode`, set exactly through the new directory's fd). */
  create?: boolean;
  /** Mode of directories created by the walk (default 0o755). */
  createMode?: number;
  /** Owner of the last component when the walk created it: fchown through its descriptor. */
  createOwner?: { uid: number; gid: number };
  /** Accept a target or parent that another user may write (config `allowSharedDir: true`). */
  allowShared?: boolean;
  trusted?: TrustedIds;
  /** Who is asking, for messages (`files deployer "volume"`). */
  component: string;
  /** The config field of `createMode`, for the hint (`deployers.volume.dirMode`). */
  createModeField?: string;
  /** The config field that allows shared directories, for the hint (`deployers.volume.allowSharedDir`). */
  allowSharedField: string;
  /** Error code of failures other than a shared directory. */
  errorCode: ErrorCode;
}

/** Why `stat` (a directory) can be written by a user other than root, us, or a trusted id; undefined when it cannot. */
export function sharedReason(stat: Stats, trusted: TrustedIds = {}): string | undefined {
  const euid = process.geteuid?.() ?? -1;
  const egid = process.getegid?.() ?? -1;
  const sticky = (stat.mode & 0o1000) !== 0;
  const ownerOk = stat.uid === 0 || stat.uid === euid || (trusted.uids ?? []).includes(stat.uid);
  if (!ownerOk) return `it is owned by uid ${stat.uid}, who can change its permissions`;
  // A sticky directory (/tmp) lets others add names but not rename or remove ours: sticky-safe.
  if (sticky) return undefined;
  if ((stat.mode & 0o002) !== 0) return `it is writable by every user (mode ${octal(stat.mode)})`;
  const groupOk = stat.gid === 0 || stat.gid === egid || (trusted.gids ?? []).includes(stat.gid);
  if ((stat.mode & 0o020) !== 0 && !groupOk) return `it is writable by group ${stat.gid} (mode ${octal(stat.mode)})`;
  return undefined;
}

function octal(mode: number): string {
  return `0${(mode & 0o7777).toString(8)}`;
}

/**
 * An open directory and the race-free operations on names inside it (see the module comment).
 * Close it when done; every method is safe against a concurrent writer swapping names for links.
 */
export class DirHandle {
  /** The path it was opened by, for messages only (never used to reach it again). */
  readonly path: string;
  private readonly handle: fs.FileHandle;

  private constructor(handle: fs.FileHandle, path: string) {
    this.handle = handle;
    this.path = path;
  }

  /** Opens `path` itself with `O_DIRECTORY | O_NOFOLLOW` (no walk, no checks; prefer {@link openDirectory}). */
  static async open(path: string): Promise<DirHandle> {
    return new DirHandle(await fs.open(path, O_DIR), path);
  }

  /** The file descriptor. */
  get fd(): number {
    return this.handle.fd;
  }

  /** `/proc/self/fd/<fd>/<name>`: `name` looked up in this directory, whatever its path now is. */
  at(name: string): string {
    if (name === '' || name === '.' || name === '..' || name.includes('/')) throw new Error(`not a plain name: ${JSON.stringify(name)}`);
    return `/proc/self/fd/${this.handle.fd}/${name}`;
  }

  /** fstat of the directory itself. */
  stat(): Promise<Stats> {
    return this.handle.stat();
  }

  /** Sets the directory's own mode through its descriptor. */
  chmod(mode: number): Promise<void> {
    return this.handle.chmod(mode);
  }

  /** Sets the directory's own owner through its descriptor (-1 leaves one unchanged). */
  chown(uid: number, gid: number): Promise<void> {
    return this.handle.chown(uid, gid);
  }

  /** fsyncs the directory (its entries are durable); file systems that refuse are ignored. */
  async sync(): Promise<void> {
    try {
      await this.handle.sync();
    } catch (err) {
      if (!hasErrno(err, 'EINVAL') && !hasErrno(err, 'EPERM') && !hasErrno(err, 'EISDIR')) throw err;
    }
  }

  /** Names in the directory. */
  readdir(): Promise<string[]> {
    return fs.readdir(`/proc/self/fd/${this.handle.fd}`);
  }

  /** lstat of `name` (never follows it). */
  lstat(name: string): Promise<Stats> {
    return fs.lstat(this.at(name));
  }

  /** The target of the symlink `name`. */
  readlink(name: string): Promise<string> {
    return fs.readlink(this.at(name));
  }

  /** Opens the child directory `name`, refusing a symlink (`ELOOP`) or a non-directory (`ENOTDIR`). */
  async openDir(name: string): Promise<DirHandle> {
    return new DirHandle(await fs.open(this.at(name), O_DIR), `${this.path}/${name}`);
  }

  /**
   * Creates the directory `name` (`EEXIST` when the name is taken), opens it and checks that it is
   * the empty directory we just made (owned by us), then sets `mode` exactly through its descriptor.
   */
  async mkdir(name: string, mode: number): Promise<DirHandle> {
    await fs.mkdir(this.at(name), { mode: mode & 0o700 });
    const child = await this.openDir(name);
    try {
      const st = await child.stat();
      // Someone could remove our new directory and put theirs in its place before the open.
      if (!st.isDirectory() || st.uid !== (process.geteuid?.() ?? st.uid) || (await child.readdir()).length !== 0) throw Object.assign(new Error(`${child.path} was replaced while it was being created`), { code: 'ERACE' });
      await child.chmod(mode);
      return child;
    } catch (err) {
      await child.close();
      throw err;
    }
  }

  /**
   * Creates the regular file `name` exclusively (`O_CREAT | O_EXCL | O_NOFOLLOW`), sets `mode` and
   * owner through the descriptor before any byte, writes `data` and fsyncs it. When writing fails
   * (a full disk), the file it created is removed again: no empty or partial file is left.
   */
  async writeNewFile(name: string, data: Uint8Array | string, mode: number, owner?: { uid: number; gid: number }): Promise<void> {
    const handle = await fs.open(this.at(name), constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, mode & 0o700);
    try {
      await handle.chmod(mode);
      if (owner && (owner.uid !== -1 || owner.gid !== -1)) await handle.chown(owner.uid, owner.gid);
      await handle.writeFile(data);
      await handle.sync();
    } catch (err) {
      // A failed write (ENOSPC) leaves no empty or partial file: the one we created, if the name is still it.
      const made = await handle.stat().catch(() => undefined);
      const now = await this.lstat(name).catch(() => undefined);
      if (made && now && made.dev === now.dev && made.ino === now.ino) await this.unlink(name).catch(() => undefined);
      throw err;
    } finally {
      await handle.close();
    }
  }

  /** Reads the regular file `name` without following a symlink; undefined when it is not a regular file. */
  async readRegularFile(name: string): Promise<{ data: Buffer; stat: Stats } | undefined> {
    let handle: fs.FileHandle;
    try {
      handle = await fs.open(this.at(name), constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    } catch (err) {
      if (hasErrno(err, 'ELOOP') || hasErrno(err, 'ENOENT') || hasErrno(err, 'ENXIO')) return undefined;
      throw err;
    }
    try {
      const stat = await handle.stat();
      if (!stat.isFile()) return undefined;
      return { data: await handle.readFile(), stat };
    } finally {
      await handle.close();
    }
  }

  /** Creates the symlink `name` → `target` (never follows anything). */
  symlink(target: string, name: string): Promise<void> {
    return fs.symlink(target, this.at(name));
  }

  /** Removes the entry `name` (a file or a link; a link's target is untouched). Absent is not an error. */
  unlink(name: string): Promise<void> {
    return removeFile(this.at(name));
  }

  /** Renames `from` in this directory to `to` in `into` (default: this directory), replacing `to`. */
  rename(from: string, to: string, into: DirHandle = this): Promise<void> {
    return fs.rename(this.at(from), into.at(to));
  }

  /**
   * Removes the directory `name` only if it is a real directory (not a link), owned by one of
   * `uids`, and holds nothing but files and links (certpilot never creates subdirectories there);
   * the check is lstat → open(O_NOFOLLOW) → fstat with matching (dev, ino), and entries are
   * unlinked through the opened descriptor, so no tree is ever walked by path. Returns false (and
   * leaves everything) when it is not such a directory.
   */
  async removeOwnedDir(name: string, uids: readonly number[]): Promise<boolean> {
    let before: BigIntStats;
    try {
      before = await fs.lstat(this.at(name), { bigint: true });
    } catch (err) {
      if (hasErrno(err, 'ENOENT')) return true;
      throw err;
    }
    if (!before.isDirectory() || !uids.includes(Number(before.uid))) return false;
    let child: DirHandle;
    try {
      child = await this.openDir(name);
    } catch (err) {
      if (hasErrno(err, 'ENOENT') || hasErrno(err, 'ELOOP') || hasErrno(err, 'ENOTDIR')) return false;
      throw err;
    }
    try {
      const after = await child.handle.stat({ bigint: true });
      if (after.dev !== before.dev || after.ino !== before.ino) return false;
      for (const entry of await child.readdir()) {
        const st = await child.lstat(entry).catch(() => undefined);
        if (st?.isDirectory()) return false;
        await child.unlink(entry);
      }
    } finally {
      await child.close();
    }
    try {
      await fs.rmdir(this.at(name));
    } catch (err) {
      // Someone added an entry after our listing, or swapped the name: leave it for next time.
      if (hasErrno(err, 'ENOTEMPTY') || hasErrno(err, 'EEXIST') || hasErrno(err, 'ENOTDIR') || hasErrno(err, 'ENOENT')) return false;
      throw err;
    }
    return true;
  }

  /** Closes the descriptor. */
  close(): Promise<void> {
    return this.handle.close();
  }
}

/**
 * Opens the directory `path` by walking it from `/` one component at a time with `O_NOFOLLOW`,
 * so no component can be swapped for a link mid-walk. A symlink met on the way is followed only
 * when it sits in a directory nobody else can write; every directory on the way and the target
 * itself must not be writable by another user (sshd `StrictModes`) unless `allowShared` is set.
 * Missing components are created when `create` is set.
 */
export function openDirectory(path: string, o: OpenDirectoryOptions): Promise<DirHandle> {
  return walk(path, o, false) as Promise<DirHandle>;
}

/**
 * What {@link openDirectory} with these options would say about `path`, without creating or
 * changing anything: the same walk and checks, up to the first missing component; the directories
 * `create` would make from there are checked as they would be made (ours, `createMode`, the last
 * one given `createOwner`). Resolves when the walk would succeed; rejects with the error it would
 * raise (`ERR_FS_SHARED_DIR` for a directory another user can write). For `config check`.
 */
export async function probeDirectory(path: string, o: OpenDirectoryOptions): Promise<void> {
  await walk(path, o, true);
}

async function walk(path: string, o: OpenDirectoryOptions, probe: boolean): Promise<DirHandle | undefined> {
  if (!isAbsolute(path)) path = resolve(path);
  const pending = path.split('/').filter((p) => p !== '' && p !== '.');
  let current = await DirHandle.open('/');
  let shown = '';
  let links = 0;
  const stack: DirHandle[] = [];
  try {
    await checkShared(current, '/', o);
    while (pending.length > 0) {
      const name = pending.shift() as string;
      if (name === '..') {
        // Only after a symlink target: go back up the pinned chain, never by path.
        const parent = stack.pop();
        if (parent) {
          await current.close();
          current = parent;
        }
        shown = shown.slice(0, shown.lastIndexOf('/'));
        continue;
      }
      const next = `${shown}/${name}`;
      let child: DirHandle | undefined;
      let created = false;
      try {
        child = await current.openDir(name);
      } catch (err) {
        if (hasErrno(err, 'ENOENT') && o.create && probe) {
          // Everything from here would be made by this walk: check each as it would be made.
          const made = [name, ...pending.filter((p) => p !== '..')];
          made.forEach((part, i) => {
            shown = `${shown}/${part}`;
            const owner = i === made.length - 1 && o.createOwner ? o.createOwner : { uid: -1, gid: -1 };
            const stat = {
              uid: owner.uid !== -1 ? owner.uid : (process.geteuid?.() ?? 0),
              gid: owner.gid !== -1 ? owner.gid : (process.getegid?.() ?? 0),
              mode: constants.S_IFDIR | (o.createMode ?? 0o755),
            } as Stats;
            const reason = o.allowShared ? undefined : sharedReason(stat, o.trusted);
            if (reason !== undefined) {
              throw new CertpilotError('ERR_FS_SHARED_DIR', `${o.component}: refusing to create ${shown}: it would be ${reason.replace(/^it is /, '')}, so another user could redirect what certpilot writes as root`, {
                hint: `Set ${o.createModeField ?? 'the mode of created directories'} so that only its owner can write it (e.g. "0755", or "0775" with a group of yours), or set ${o.allowSharedField}: true if you accept the risk (see docs/security.md).`,
              });
            }
          });
          for (const d of stack) await d.close();
          await current.close();
          return undefined;
        } else if (hasErrno(err, 'ENOENT') && o.create) {
          // A parent this process has just made is read empty by its maker's check: wait for it.
          await checksOf(shown || '/');
          try {
            child = await track(next, current.mkdir(name, o.createMode ?? 0o755));
            created = true;
          } catch (mkErr) {
            if (!hasErrno(mkErr, 'EEXIST')) throw mkErr;
            child = await current.openDir(name);
          }
        } else if (hasErrno(err, 'ELOOP') || hasErrno(err, 'ENOTDIR')) {
          const st = await current.lstat(name);
          if (!st.isSymbolicLink()) throw err;
          const parentShared = sharedReason(await current.stat(), o.trusted);
          if (parentShared !== undefined && !o.allowShared) {
            throw sharedError(next, `it is a symlink in ${shown || '/'}, and ${parentShared}`, o);
          }
          if (++links > MAX_SYMLINKS) throw Object.assign(new Error(`too many symlinks in ${path}`), { code: 'ELOOP' });
          const target = await current.readlink(name);
          const parts = target.split('/').filter((p) => p !== '' && p !== '.');
          if (target.startsWith('/')) {
            for (const d of stack) await d.close();
            stack.length = 0;
            await current.close();
            current = await DirHandle.open('/');
            shown = '';
          }
          pending.unshift(...parts);
          continue;
        } else {
          throw err;
        }
      }
      stack.push(current);
      current = child;
      if (created && pending.length === 0 && o.createOwner && (o.createOwner.uid !== -1 || o.createOwner.gid !== -1)) {
        await child.chown(o.createOwner.uid, o.createOwner.gid);
      }
      shown = next;
      await checkShared(current, shown, o);
    }
    for (const d of stack) await d.close();
    if (probe) {
      await current.close();
      return undefined;
    }
    return current;
  } catch (err) {
    for (const d of stack) await d.close().catch(() => undefined);
    await current.close().catch(() => undefined);
    if (err instanceof CertpilotError) throw err;
    const code = (err as NodeJS.ErrnoException).code ?? (err instanceof Error ? err.message : String(err));
    throw new CertpilotError(o.errorCode, `${o.component}: cannot open directory ${path}: ${code}`, { cause: err });
  }
}

/**
 * The directories this process has just created and is checking (path as walked → the checks in
 * flight). {@link DirHandle.mkdir} refuses a new directory that is not empty (someone put theirs in
 * its place), so another walk of this process, a second certificate deployed beside the first into
 * a parent the first is creating, must not create anything in it until that check is over.
 */
const checking = new Map<string, Set<Promise<void>>>();

function track<T>(path: string, made: Promise<T>): Promise<T> {
  const done = made.then(
    () => undefined,
    () => undefined,
  );
  const set = checking.get(path) ?? new Set<Promise<void>>();
  checking.set(path, set);
  set.add(done);
  void done.then(() => {
    set.delete(done);
    if (set.size === 0 && checking.get(path) === set) checking.delete(path);
  });
  return made;
}

async function checksOf(path: string): Promise<void> {
  const set = checking.get(path);
  if (set !== undefined) await Promise.all(set);
}

async function checkShared(dir: DirHandle, shown: string, o: OpenDirectoryOptions): Promise<void> {
  if (o.allowShared) return;
  const reason = sharedReason(await dir.stat(), o.trusted);
  if (reason !== undefined) throw sharedError(shown || '/', reason, o);
}

function sharedError(dir: string, reason: string, o: OpenDirectoryOptions): CertpilotError {
  return new CertpilotError('ERR_FS_SHARED_DIR', `${o.component}: refusing to work in ${dir}: ${reason}, so another user could redirect what certpilot writes as root`, {
    hint: `Make ${dir} owned by root (or certpilot's user) and not writable by others (chown root ${dir}; chmod go-w ${dir}), or set ${o.allowSharedField}: true if you accept the risk (see docs/security.md).`,
  });
}
