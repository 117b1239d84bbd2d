/**
 * The one durable-write helper of the filesystem store: every file certpilot keeps is written by
 * {@link atomicWrite}, so a reader sees the old content or the new, never a torn file, and the new
 * content survives a crash once the call returns.
 */
import { randomBytes } from 'node:crypto';
import { accessSync, close, constants, fchmod, fsync, open, promises as fs, writeFile } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { CertpilotError } from '../errors.js';

// The durable writes go through node:fs's callback calls on a plain descriptor, not FileHandle
// promises: a FileHandle is an object with its own close tracking, and every step of it a promise
// through the thread pool. For the ~10 files and ~8 directory fsyncs of an issuance that costs
// ~0.2 ms of CPU per file and ~0.06 ms per directory more (bench/findings.md, fourth pass).
function openFd(path: string, flags: string | number, mode?: number): Promise<number> {
  return new Promise((resolve, reject) => open(path, flags, mode, (err, fd) => (err ? reject(err) : resolve(fd))));
}
function call(fn: (fd: number, done: (err: NodeJS.ErrnoException | null) => void) => void, fd: number): Promise<void> {
  return new Promise((resolve, reject) => fn(fd, (err) => (err ? reject(err) : resolve())));
}
const fsyncFd = (fd: number): Promise<void> => call(fsync, fd);
const closeFd = (fd: number): Promise<void> => call(close, fd);

/**
 * Called before each durable step (a file write, fsync, mkdir, symlink, rename or cleanup) with a
 * short label such as `write archive/example/cert2.pem`, so a test can crash the process at step k.
 */
export type WriteFaultHook = (step: string) => void | Promise<void>;

/** Options for {@link atomicWrite}. */
export interface AtomicWriteOptions {
  /** Final permission bits of the file, set before any byte is written (0o600 for keys). */
  mode: number;
  /** Fault hook called before each durable step. */
  faults?: WriteFaultHook;
  /** How steps name this file; defaults to the path. */
  label?: string;
  /**
   * `false`: the caller fsyncs the directory itself, once, after its last write into it and before
   * anything relies on the file (a save writing five files into one folder pays one directory
   * fsync, not five). Until then the new name may not survive a crash. Default `true`.
   */
  syncDir?: boolean;
}

/** Wraps a node:fs error as `ERR_STORAGE_IO`, keeping the code (`EACCES`, `ENOSPC`) in the message. */
export function ioError(what: string, cause: unknown): CertpilotError {
  const code = (cause as NodeJS.ErrnoException | undefined)?.code;
  const why = code ?? (cause instanceof Error ? cause.message : String(cause));
  const retryable = isTransientErrno(code);
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return new CertpilotError('ERR_STORAGE_FULL', `storage: ${what} failed: ${code} (the volume is full)`, { cause, retryable });
  }
  return new CertpilotError('ERR_STORAGE_IO', `storage: ${what} failed: ${why}`, { cause, retryable });
}

/**
 * Why writing `file` failed, in words for a message of another component (`metrics: writing F
 * failed: …`): the errno of the failure, unwrapped from {@link ioError}'s `storage: …` error so the
 * path and the `storage:` prefix are not said twice, with the missing directory named (ENOENT).
 */
export function writeFailureReason(file: string, err: unknown): string {
  const errno = err instanceof CertpilotError && err.cause !== undefined ? err.cause : err;
  const code = (errno as NodeJS.ErrnoException | undefined)?.code;
  if (code === undefined) return err instanceof Error ? err.message : String(err);
  const why: Readonly<Record<string, string>> = {
    ENOENT: `the directory ${dirname(file)} does not exist`,
    ENOTDIR: `a part of ${dirname(file)} is not a directory`,
    EACCES: `permission denied in ${dirname(file)}`,
    EPERM: `operation not permitted in ${dirname(file)}`,
    EROFS: `${dirname(file)} is on a read-only file system`,
    EISDIR: `${file} is a directory`,
    ENOSPC: 'the volume is full',
    EDQUOT: 'the disk quota is used up',
  };
  return Object.hasOwn(why, code) ? `${why[code]} (${code})` : code;
}

/** Whether a node:fs error code can clear by itself (a full disk, a busy file); permission problems need a human. */
export function isTransientErrno(code: string | undefined): boolean {
  return code === 'ENOSPC' || code === 'EAGAIN' || code === 'EBUSY' || code === 'EMFILE';
}

/** True when `err` is a node:fs error with the given code. */
export function hasErrno(err: unknown, code: string): boolean {
  return typeof err === 'object' && err !== null && (err as NodeJS.ErrnoException).code === code;
}

/**
 * Removes the file `file`, if present. What `fs.rm(file, { force: true })` does for a file, in one
 * `unlink`: `fs.rm` goes through Node's rimraf (an `lstat` first, and a module of its own loaded at
 * the first call, compiled from source under the CLI's V8 flags; bench/findings.md, item 31).
 */
export async function removeFile(file: string): Promise<void> {
  try {
    await fs.unlink(file);
  } catch (err) {
    if (!hasErrno(err, 'ENOENT')) throw err;
  }
}

/** The name of a temporary sibling of `file`; dot-prefixed so listings skip it. */
export function tmpSibling(file: string): string {
  return join(dirname(file), `.${basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
}

/** True for the names {@link tmpSibling} makes. */
export function isTmpSibling(entry: string): boolean {
  return /^\..+\.\d+\.[0-9a-f]{8}\.tmp$/.test(entry);
}

/** fsyncs a directory so the entries created, renamed or removed in it are durable. */
export async function fsyncDir(dir: string, faults?: WriteFaultHook, label = dir): Promise<void> {
  await faults?.(`fsync-dir ${label}`);
  let fd: number | undefined;
  try {
    fd = await openFd(dir, constants.O_RDONLY | constants.O_DIRECTORY);
    await fsyncFd(fd);
  } catch (cause) {
    // Some file systems (and Windows) refuse fsync on directories; the rename is still atomic there.
    if (!hasErrno(cause, 'EINVAL') && !hasErrno(cause, 'EISDIR') && !hasErrno(cause, 'EPERM')) {
      throw ioError(`fsync of directory ${dir}`, cause);
    }
  } finally {
    if (fd !== undefined) await closeFd(fd);
  }
}

/** Creates `dir` (and missing parents) with mode 0700 and makes the new entries durable. */
export async function ensureDir(dir: string, faults?: WriteFaultHook, label = dir): Promise<void> {
  try {
    // Synchronous like the layout's reads: one local metadata call inline (~10 µs) against a
    // promise through the thread pool; an issuance checks ~12 directories (bench/findings.md).
    accessSync(dir);
    return;
  } catch {
    // Fall through and create it.
  }
  const parent = dirname(dir);
  if (parent !== dir) await ensureDir(parent, faults, dirname(label));
  await faults?.(`mkdir ${label}`);
  try {
    await fs.mkdir(dir, { mode: 0o700 });
  } catch (cause) {
    if (!hasErrno(cause, 'EEXIST')) throw ioError(`creating directory ${dir}`, cause);
    return;
  }
  await fsyncDir(parent, faults, dirname(label));
}

/**
 * Writes `data` to `file` atomically and durably: a temporary sibling is created exclusively (`wx`)
 * with the final mode, written, fsynced, renamed over `file`, and the directory is fsynced.
 */
export async function atomicWrite(file: string, data: string | Uint8Array, options: AtomicWriteOptions): Promise<void> {
  const { faults, mode } = options;
  const label = options.label ?? file;
  const tmp = tmpSibling(file);
  let fd: number | undefined;
  inFlight.add(tmp);
  try {
    await faults?.(`write ${label}`);
    fd = await openFd(tmp, 'wx', mode);
    const opened = fd;
    // The umask may have narrowed the mode; set it exactly before the content lands.
    await new Promise<void>((resolve, reject) => fchmod(opened, mode, (err) => (err ? reject(err) : resolve())));
    // writeFile on a descriptor writes all of `data` (it loops over short writes).
    await new Promise<void>((resolve, reject) => writeFile(opened, data, (err) => (err ? reject(err) : resolve())));
    await faults?.(`fsync ${label}`);
    await fsyncFd(opened);
    fd = undefined;
    await closeFd(opened);
    await faults?.(`rename ${label}`);
    await fs.rename(tmp, file);
  } catch (cause) {
    if (fd !== undefined) await closeFd(fd).catch(() => undefined);
    await removeFile(tmp).catch(() => undefined);
    if (cause instanceof CertpilotError) throw cause;
    throw ioError(`writing ${file}`, cause);
  } finally {
    inFlight.delete(tmp);
  }
  if (options.syncDir !== false) await fsyncDir(dirname(file), faults, dirname(label));
}

/** The temporary files this process's {@link atomicWrite} calls are writing right now. */
const inFlight = new Set<string>();

/** True while an {@link atomicWrite} of this process is writing the temporary file `tmp` (a cleanup must spare it). */
export function isWriteInFlight(tmp: string): boolean {
  return inFlight.has(tmp);
}

/**
 * Moves `file` to `<file>.corrupt-<time>` (or `…-2`, `…-3` when that name is taken) and returns the
 * new name, or undefined when `file` is already gone. An earlier set-aside file is never replaced,
 * not even by another process: the new name is first claimed with an exclusive create (`wx`), and
 * `file` is then renamed over that empty placeholder. Nothing is copied or unlinked, so a good file
 * that another process wrote in the meantime is at worst set aside too, never deleted.
 */
export async function setAside(file: string, now: Date = new Date()): Promise<string | undefined> {
  const stem = `${file}.corrupt-${now.toISOString().replace(/[:.]/g, '-')}`;
  for (let n = 1; n < 1000; n += 1) {
    const aside = n === 1 ? stem : `${stem}-${n}`;
    try {
      await (await fs.open(aside, 'wx', 0o600)).close();
    } catch (err) {
      if (hasErrno(err, 'EEXIST')) continue;
      throw err;
    }
    try {
      await fs.rename(file, aside);
    } catch (err) {
      await removeFile(aside);
      if (hasErrno(err, 'ENOENT')) return undefined;
      throw err;
    }
    return aside;
  }
  throw new Error(`too many set-aside copies of ${file}`);
}
