/**
 * certbot's `live/` + `archive/` layout, made crash-safe, and the one-time migration of a certbot
 * directory into it. The filesystem backend maps the `certificates/<name>/versions/<N>` and
 * `certificates/<name>/live` keys here.
 *
 * ```
 * archive/<name>/{cert,chain,fullchain,privkey}N.pem   every version, N = 1, 2, …
 * archive/<name>/metaN.json                            IssuanceMetadata of version N
 * live/<name> -> .<name>.vN                            symlink: the one atomic switch
 * live/.<name>.vN/{cert,chain,fullchain,privkey}.pem   -> ../../archive/<name>/…N.pem
 * live/.<name>.vN/README
 * ```
 *
 * Crash safety: certbot swaps four symlinks one by one, so a crash between two of them leaves a key
 * that does not match its certificate. Here writing version N writes the archive files, each through
 * {@link atomicWrite}; making it live (1) builds a fresh directory `live/.<name>.vN` holding the four
 * relative links and the README and fsyncs it; (2) points a temporary symlink at that directory and
 * `rename()`s it over `live/<name>` — the single atomic step that makes N live — then fsyncs
 * `live/`; (3) removes older `live/.<name>.v*` directories. Before (2) the old set is live, after it
 * the new one; readers resolve `live/<name>` once per path lookup, so they never see a mix.
 *
 * Migration: a certbot directory (`live/<name>/` as a real directory of links) is read as is (its
 * live version is the number its `cert.pem` link names; a directory of plain files is version 0);
 * the first switch renames it aside to `live/.<name>.legacy` right before the switch. rename(2)
 * cannot replace a non-empty directory, so this one-time migration has a window of microseconds
 * without `live/<name>`; if a crash falls into it, the next read renames the set-aside directory
 * (still the old set) back into place.
 */
import { promises as fs, lstatSync, readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import type { Dirent, Stats } from 'node:fs';
import { join, resolve } from 'node:path';
import { CertpilotError } from '../../../errors.js';
import type { Logger } from '../../../logger.js';
import type { CertificatePaths } from '../../state-backend.js';
import { atomicWrite, ensureDir, fsyncDir, hasErrno, ioError, isTmpSibling, isWriteInFlight, removeFile } from '../../../fs/atomic-write.js';
import type { WriteFaultHook } from '../../../fs/atomic-write.js';
import { unsafeNameReason } from '../../filesystem/safe-name.js';

/** The files of a version: state-value field → archive file prefix and extension. */
export const VERSION_FILES = [
  { field: 'cert.pem', base: 'cert', ext: 'pem', mode: 0o644 },
  { field: 'chain.pem', base: 'chain', ext: 'pem', mode: 0o644 },
  { field: 'fullchain.pem', base: 'fullchain', ext: 'pem', mode: 0o644 },
  { field: 'privkey.pem', base: 'privkey', ext: 'pem', mode: 0o600 },
  { field: 'meta.json', base: 'meta', ext: 'json', mode: 0o644 },
] as const;

const PEM_FILES = VERSION_FILES.filter((f) => f.ext === 'pem');

const ARCHIVE_ENTRY = /^(?:cert|chain|fullchain|privkey|meta)(\d+)\.(?:pem|json)$/;

/**
 * `dir/name`: `path.join`'s result for a resolved directory (absolute, normalized: the state
 * directory is `resolve`d once) and one path segment that is a safe name or a fixed file name
 * (never `/`, `.` or `..` in it), without `path.join`'s normalizing pass, which builds the result
 * piece by piece: the reads of a nothing-due `renew` of 1000 certificates allocated 15 MiB in
 * `path.join` alone, a fifth of the run's garbage (bench/findings.md).
 */
export function under(dir: string, name: string): string {
  return dir.endsWith('/') ? `${dir}${name}` : `${dir}/${name}`;
}

const README = `This directory holds your current certificate, kept up to date by certpilot.

\`privkey.pem\`  : the private key for your certificate.
\`fullchain.pem\`: the certificate file used in most server software.
\`chain.pem\`    : used for OCSP stapling in Nginx >=1.3.7.
\`cert.pem\`     : will break many server configurations, and should not be used
                 without reading further documentation.

Point your server at these paths; do not move or rename them. They are symbolic links into
../../archive/<name>/, which keeps every version.
`;

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Where a name's live set is: the directory holding the four links, and the version it serves. */
export interface LiveLocation {
  dir: string;
  /** Our versioned link, a certbot directory, or one set aside mid-migration. */
  kind: 'versioned' | 'legacy' | 'legacy-aside';
  /** The live version number (0: a certbot directory of plain files). */
  version: number;
  /** The link target or directory, as a version token. */
  token: string;
}

/** The `live/` + `archive/` layout under one state directory. */
export class CertbotLayout {
  private readonly liveRoot: string;

  constructor(
    private readonly stateDir: string,
    private readonly logger: Logger,
    private readonly faults: WriteFaultHook | undefined,
  ) {
    this.liveRoot = under(stateDir, 'live');
  }

  /** The paths users point their servers at for `safe`. */
  pathsFor(safe: string): CertificatePaths {
    const dir = under(this.liveRoot, safe);
    return { dir, cert: `${dir}/cert.pem`, chain: `${dir}/chain.pem`, fullchain: `${dir}/fullchain.pem`, privkey: `${dir}/privkey.pem` };
  }

  /** Finds the live set of `safe` (restoring a certbot directory an interrupted switch set aside). */
  async locateLive(safe: string): Promise<LiveLocation | undefined> {
    const link = under(this.liveRoot, safe);
    // The usual case, a versioned link, costs one readlink (no lstat first): EINVAL says the
    // entry is not a link (a certbot directory), ENOENT that there is none.
    let target: string | undefined;
    let absent = false;
    try {
      target = readlinkSync(link);
    } catch (err) {
      if (hasErrno(err, 'ENOENT')) absent = true;
      else if (!hasErrno(err, 'EINVAL')) throw ioError(`reading ${link}`, err);
    }
    if (target !== undefined) return this.linked(safe, target);
    const stat = absent ? undefined : await lstatOrUndefined(link);
    if (stat === undefined) {
      const aside = under(this.liveRoot, `.${safe}.legacy`);
      if (!(await lstatOrUndefined(aside))?.isDirectory()) return undefined;
      // A save died between setting the certbot directory aside and the switch: put it back so
      // servers find their files again (rename is atomic; a racing save then fails cleanly).
      try {
        await fs.rename(aside, link);
        await fsyncDir(this.liveRoot);
        this.logger.info({ name: safe }, 'storage: restored the certbot live directory an interrupted save had set aside');
        return { dir: link, kind: 'legacy', version: await this.legacyVersion(link), token: 'dir' };
      } catch {
        return { dir: aside, kind: 'legacy-aside', version: await this.legacyVersion(aside), token: 'dir' };
      }
    }
    // Replaced by a link between the readlink and the lstat.
    if (stat.isSymbolicLink()) return this.linked(safe, readlinkSync(link));
    if (stat.isDirectory()) return { dir: link, kind: 'legacy', version: await this.legacyVersion(link), token: 'dir' };
    throw new CertpilotError('ERR_STORAGE_CORRUPT', `storage: reading ${link} failed: it is neither a symlink nor a directory`);
  }

  /** The live set a link to `target` names. */
  private async linked(safe: string, target: string): Promise<LiveLocation> {
    // `.<safe>.v<N>`, tested by prefix: a RegExp built per call cost more than the readlink (status of 1000).
    const prefix = `.${safe}.v`;
    const digits = target.startsWith(prefix) ? target.slice(prefix.length) : '';
    if (/^\d+$/.test(digits)) return { dir: under(this.liveRoot, target), kind: 'versioned', version: Number(digits), token: target };
    const dir = resolve(this.liveRoot, target);
    return { dir, kind: 'versioned', version: await this.legacyVersion(dir), token: target };
  }

  /** The version a certbot directory serves: the number its cert.pem link names (0 for a plain file). */
  private async legacyVersion(dir: string): Promise<number> {
    let target: string;
    try {
      target = await fs.readlink(join(dir, 'cert.pem'));
    } catch (err) {
      // EINVAL: a regular file where certbot would have a link; ENOENT: no cert at all.
      if (hasErrno(err, 'EINVAL') || hasErrno(err, 'ENOENT')) return 0;
      throw ioError(`reading ${join(dir, 'cert.pem')}`, err);
    }
    const m = /cert(\d+)\.pem$/.exec(target);
    return m?.[1] !== undefined ? Number(m[1]) : 0;
  }

  /**
   * The files of version `n` (the fields present), or undefined when its certificate is absent.
   * Version 0, and the live version of a certbot directory, are read through the live directory.
   */
  async readVersion(safe: string, n: number): Promise<Record<string, string> | undefined> {
    const archiveDir = under(under(this.stateDir, 'archive'), safe);
    // The certificate is read first, straight from the archive (no stat before it): present there
    // for every version certpilot wrote; absent for version 0 and a certbot directory's live one.
    const archived = n === 0 ? undefined : readOrUndefinedSync(`${archiveDir}/cert${n}.pem`);
    let dir = archiveDir;
    let name = (base: string, ext: string): string => `${base}${n}.${ext}`;
    if (archived === undefined) {
      const location = await this.locateLive(safe);
      if (location === undefined || location.version !== n || location.kind === 'versioned') return undefined;
      dir = location.dir;
      name = (base, ext) => (ext === 'pem' ? `${base}.pem` : `meta${n}.json`);
    }
    const value: Record<string, string> = {};
    for (const f of VERSION_FILES) {
      // certbot's metaN.json never exists: read it from the archive beside the links' targets.
      const text =
        f.field === 'cert.pem' && archived !== undefined
          ? archived
          : readOrUndefinedSync(f.ext === 'json' ? `${archiveDir}/meta${n}.json` : `${dir}/${name(f.base, f.ext)}`);
      if (f.field === 'cert.pem' && text === undefined) return undefined;
      if (text !== undefined) value[f.field] = text;
    }
    return value;
  }

  /** Writes the archive files of version `n` (it must not exist); on failure removes what it wrote. */
  async writeVersion(safe: string, n: number, value: Readonly<Record<string, string>>): Promise<void> {
    const archiveDir = join(this.stateDir, 'archive', safe);
    await ensureDir(archiveDir, this.faults, `archive/${safe}`);
    await ensureDir(this.liveRoot, this.faults, 'live');
    await this.removeTmpFiles(archiveDir, `archive/${safe}`);
    for (const f of VERSION_FILES) {
      const text = value[f.field];
      if (text === undefined) continue;
      await atomicWrite(join(archiveDir, `${f.base}${n}.${f.ext}`), text, { mode: f.mode, faults: this.faults, label: `archive/${safe}/${f.base}${n}.${f.ext}`, syncDir: false });
    }
    // One fsync of the folder makes all five names durable (each file's content was fsynced before
    // its rename), before the switch can point at them: four directory fsyncs a save fewer.
    await fsyncDir(archiveDir, this.faults, `archive/${safe}`);
  }

  /** Makes version `n` live by one rename (see the module comment). */
  async switchLive(safe: string, n: number): Promise<string> {
    const faults = this.faults;
    const versionName = `.${safe}.v${n}`;
    const versionDir = join(this.liveRoot, versionName);
    await ensureDir(this.liveRoot, faults, 'live');
    try {
      // A leftover of an interrupted save of this number is rebuilt from scratch (looked up first:
      // fs.rm's recursive walk costs a promise round trip even for nothing).
      if (await exists(versionDir)) await fs.rm(versionDir, { recursive: true, force: true });
      await faults?.(`mkdir live/${versionName}`);
      await fs.mkdir(versionDir, { mode: 0o700 });
      for (const f of PEM_FILES) {
        await faults?.(`symlink live/${versionName}/${f.base}.pem`);
        await fs.symlink(`../../archive/${safe}/${f.base}${n}.pem`, join(versionDir, `${f.base}.pem`));
      }
    } catch (err) {
      if (err instanceof CertpilotError) throw err;
      throw ioError(`building ${versionDir}`, err);
    }
    await atomicWrite(join(versionDir, 'README'), README, { mode: 0o644, faults, label: `live/${versionName}/README` });
    await fsyncDir(this.liveRoot, faults, 'live');

    const link = join(this.liveRoot, safe);
    const tmpLink = join(this.liveRoot, `.${safe}.link.tmp`);
    let replaced: string | undefined;
    try {
      const current = await lstatOrUndefined(link);
      if (current?.isSymbolicLink()) replaced = readlinkSync(link);
      if (current?.isDirectory()) {
        // A certbot directory cannot be replaced by rename(2); set it aside, then switch at once.
        const aside = join(this.liveRoot, `.${safe}.legacy`);
        await fs.rm(aside, { recursive: true, force: true });
        await faults?.(`rename live/${safe} live/.${safe}.legacy`);
        await fs.rename(link, aside);
        this.logger.info({ name: safe }, 'storage: replacing the certbot live directory with a versioned link');
      }
      await removeFile(tmpLink);
      await faults?.(`symlink live/.${safe}.link.tmp`);
      await fs.symlink(versionName, tmpLink);
      await faults?.(`rename live/${safe}`);
      await fs.rename(tmpLink, link);
    } catch (err) {
      if (err instanceof CertpilotError) throw err;
      throw ioError(`switching live/${safe} to version ${n}`, err);
    }
    await fsyncDir(this.liveRoot, faults, 'live');
    await this.removeStaleLiveEntries(safe, versionName, await this.staleCandidates(safe, n, replaced));
    return versionName;
  }

  /** Removes every file of version `n` (which must not be live), best effort. */
  async removeVersion(safe: string, n: number): Promise<void> {
    const archiveDir = join(this.stateDir, 'archive', safe);
    // The version's live directory before its archive files: a crash in between leaves archive
    // files, which the next listing of the name finds (and removes again), never a directory of
    // links that only a listing of all of live/ could find (saves do not list live/).
    const targets = [join(this.liveRoot, `.${safe}.v${n}`), join(this.liveRoot, `.${safe}.link.tmp`), ...VERSION_FILES.map((f) => join(archiveDir, `${f.base}${n}.${f.ext}`))];
    for (const target of targets) {
      await fs.rm(target, { recursive: true, force: true }).catch((err: unknown) =>
        this.logger.warn({ name: safe, target, code: (err as NodeJS.ErrnoException).code }, 'storage: could not remove a leftover of a failed save'),
      );
    }
    await this.removeTmpFiles(archiveDir, `archive/${safe}`).catch(() => undefined);
  }

  /** Removes the live link of `safe` and its version directories (the archive stays). */
  async removeLive(safe: string): Promise<void> {
    await fs.rm(join(this.liveRoot, safe), { recursive: true, force: true });
    await this.removeStaleLiveEntries(safe, '');
  }

  /**
   * Every version number present for `safe`: archive files and version directories, live or left
   * over. `liveEntries` is the version directories of live/ by name, from one listing the caller
   * already holds ({@link liveListing}): listing every certificate then reads live/ once instead of
   * once per certificate (1000 certificates: 2000 entries read and matched 1000 times made `status`
   * take seconds).
   */
  async versionNumbers(safe: string, liveEntries?: ReadonlyMap<string, readonly number[]>): Promise<number[]> {
    const found = await this.archivedNumbers(safe);
    if (liveEntries === undefined) {
      const versionDir = new RegExp(`^\\.${escapeRegExp(safe)}\\.v(\\d+)$`);
      for (const entry of await readdirOrEmpty(this.liveRoot)) {
        const m = versionDir.exec(entry)?.[1];
        if (m !== undefined) found.add(Number(m));
      }
    } else {
      for (const n of liveEntries.get(safe) ?? []) found.add(n);
    }
    const live = await this.locateLive(safe);
    if (live?.version === 0) found.add(0);
    return [...found].sort((a, b) => a - b);
  }

  /**
   * Whether `safe` has a live set, and its version numbers, from its own entries alone: the
   * archive folder, the live link, and version directories above the highest number found (a save
   * that failed after building its directory) probed one by one. live/ itself is never listed, so a
   * save or a prune costs the same with 2 certificates or 2000 (a listing per save made issuing
   * 1000 certificates quadratic). A version directory below that number without archive files is
   * not found here (removeVersion removes the directory before the files, so none is left by a
   * crash); {@link liveListing} still sees it, and a switch over it rebuilds it from scratch.
   */
  async ownVersions(safe: string): Promise<{ live: boolean; versions: number[] }> {
    const found = await this.archivedNumbers(safe);
    const live = await this.locateLive(safe);
    if (live !== undefined && (live.kind === 'versioned' || live.version === 0)) found.add(live.version);
    for (let next = Math.max(0, ...found) + 1; await exists(under(this.liveRoot, `.${safe}.v${next}`)); next++) found.add(next);
    return { live: live !== undefined, versions: [...found].sort((a, b) => a - b) };
  }

  /** The version numbers of `safe`'s archive files (`cert3.pem`, `meta3.json` … → 3). */
  private async archivedNumbers(safe: string): Promise<Set<number>> {
    const found = new Set<number>();
    for (const entry of await readdirOrEmpty(under(under(this.stateDir, 'archive'), safe))) {
      const m = ARCHIVE_ENTRY.exec(entry)?.[1];
      if (m !== undefined) found.add(Number(m));
    }
    return found;
  }

  /**
   * The entries of live/ a switch to version `n` may leave stale, without listing live/: the
   * directory the link pointed at before, the directories of the other versions in the archive,
   * a set-aside certbot directory and a temporary link. (The directory of a save that failed after
   * building it, with no archive files, is found by the save's listing and removed with that
   * partial version: `StateStore.sweepPartial`.)
   */
  private async staleCandidates(safe: string, n: number, replaced: string | undefined): Promise<string[]> {
    const names = new Set<string>([`.${safe}.legacy`, `.${safe}.link.tmp`]);
    if (replaced !== undefined && !replaced.includes('/')) names.add(replaced);
    for (const v of (await this.ownVersions(safe)).versions) if (v !== n) names.add(`.${safe}.v${v}`);
    return [...names];
  }

  /** Names with a live set (a link, a certbot directory, or one set aside mid-migration). */
  async liveNames(): Promise<string[]> {
    return (await this.liveListing()).names;
  }

  /**
   * {@link liveNames}, and the version directories of live/ by name (for {@link versionNumbers}), from one readdir
   * (for every certificate at once; one certificate's entries come from {@link ownVersions}).
   */
  async liveListing(): Promise<{ names: string[]; versionDirs: Map<string, number[]> }> {
    let entries: Dirent[];
    try {
      entries = await fs.readdir(this.liveRoot, { withFileTypes: true });
    } catch (err) {
      if (hasErrno(err, 'ENOENT')) return { names: [], versionDirs: new Map() };
      throw ioError('listing live/', err);
    }
    const names = new Set<string>();
    for (const dirent of entries) {
      const entry = dirent.name;
      // certbot keeps a README file directly in live/; only links and directories are certificates.
      if (!dirent.isSymbolicLink() && !dirent.isDirectory()) continue;
      if (unsafeNameReason(entry) === undefined) names.add(entry);
      const aside = /^\.(.+)\.legacy$/.exec(entry)?.[1];
      if (aside !== undefined && unsafeNameReason(aside) === undefined) names.add(aside);
    }
    const versionDirs = new Map<string, number[]>();
    for (const dirent of entries) {
      const m = /^\.(.+)\.v(\d+)$/.exec(dirent.name);
      if (m?.[1] === undefined || m[2] === undefined) continue;
      const list = versionDirs.get(m[1]) ?? [];
      list.push(Number(m[2]));
      versionDirs.set(m[1], list);
    }
    return { names: [...names].sort(), versionDirs };
  }

  /** Names with an archive directory. */
  async archiveNames(): Promise<string[]> {
    return (await readdirOrEmpty(join(this.stateDir, 'archive'))).filter((e) => unsafeNameReason(e) === undefined);
  }

  /** Removes temporary files a crashed write left in `dir` (the caller's Locker excludes a live writer). */
  async removeTmpFiles(dir: string, label: string): Promise<void> {
    for (const entry of await readdirOrEmpty(dir)) {
      if (!isTmpSibling(entry) || writerAlive(join(dir, entry))) continue;
      await this.faults?.(`cleanup ${label}/${entry}`);
      await removeFile(join(dir, entry));
    }
  }

  /**
   * After a switch: removes older version directories, a set-aside certbot directory and temp
   * links: those of `candidates` that exist (a switch names them), or every one a listing of live/
   * finds (removing a live set).
   */
  private async removeStaleLiveEntries(safe: string, keep: string, candidates?: readonly string[]): Promise<void> {
    const mine = new RegExp(`^\\.${escapeRegExp(safe)}\\.(?:v\\d+|legacy|link\\.tmp)$`);
    const entries = candidates === undefined ? await readdirOrEmpty(this.liveRoot) : await filterAsync(candidates, (c) => exists(join(this.liveRoot, c)));
    for (const entry of entries) {
      if (entry === keep || !mine.test(entry)) continue;
      try {
        await this.faults?.(`cleanup live/${entry}`);
        await fs.rm(join(this.liveRoot, entry), { recursive: true, force: true });
      } catch (err) {
        // The new version is live already; a leftover only costs disk space and is retried next save.
        if (err instanceof CertpilotError) throw err;
        this.logger.warn({ name: safe, entry, code: (err as NodeJS.ErrnoException).code }, 'storage: could not remove an old live directory');
      }
    }
  }
}

/** The file's text, or undefined when it does not exist. */
export async function readOrUndefined(file: string): Promise<string | undefined> {
  return readOrUndefinedSync(file);
}

/** `readFileSync`'s options as an object: a string is copied into a new options object per call. */
const UTF8 = Object.freeze({ encoding: 'utf8', flag: 'r' } as const);

/** {@link readOrUndefined}, for callers that read several files in a row. */
function readOrUndefinedSync(file: string): string | undefined {
  try {
    // Synchronous on purpose: state files are a few KB on a local disk, and `fs.promises.readFile`
    // (open, fstat, read, close: four thread-pool round trips and a FileHandle each) cost 0.13 ms
    // of CPU and ~16 KB of RSS per file against 0.013 ms for this; `status` of 1000 certificates
    // reads 6000 of them (bench/findings.md). The event loop waits ~13 µs a file.
    return readFileSync(file, UTF8);
  } catch (err) {
    if (hasErrno(err, 'ENOENT')) return undefined;
    throw ioError(`reading ${file}`, err);
  }
}

/** Whether `file` is there (a stat following links; ENOENT is "no"); any other failure throws. */
export function presentOrThrow(file: string): boolean {
  try {
    return statSync(file, { throwIfNoEntry: false }) !== undefined;
  } catch (err) {
    throw ioError(`reading ${file}`, err);
  }
}

/**
 * {@link readOrUndefined} for a file that is usually absent (a pending order): a stat that does
 * not throw first. A failed read throws an error Node builds with a stack and a message (~45 µs of
 * CPU; a nothing-due `renew` of 1000 certificates looks for 1000 pending orders), the stat ~5 µs.
 */
export async function readIfPresent(file: string): Promise<string | undefined> {
  let present = true;
  try {
    present = statSync(file, { throwIfNoEntry: false }) !== undefined;
  } catch {
    // Any other failure (EACCES, ENOTDIR…) is reported by the read, the same way as without the stat.
  }
  return present ? readOrUndefined(file) : undefined;
}

async function filterAsync<T>(items: readonly T[], keep: (item: T) => Promise<boolean>): Promise<T[]> {
  const kept: T[] = [];
  for (const item of items) if (await keep(item)) kept.push(item);
  return kept;
}

async function exists(file: string): Promise<boolean> {
  return (await lstatOrUndefined(file)) !== undefined;
}

// lstat, readdir and readlink here are synchronous for the reason readOrUndefined is: one local
// metadata call costs ~10 µs of CPU inline against ~0.1 ms and a promise through the thread pool,
// and `status` or a nothing-due `renew` of 1000 certificates makes ~8000 of them (bench/findings.md).
async function lstatOrUndefined(file: string): Promise<Stats | undefined> {
  try {
    return lstatSync(file);
  } catch (err) {
    if (hasErrno(err, 'ENOENT')) return undefined;
    throw ioError(`reading ${file}`, err);
  }
}

/** The entries of `dir`, or none when it does not exist. */
export async function readdirOrEmpty(dir: string): Promise<string[]> {
  try {
    return readdirSync(dir);
  } catch (err) {
    if (hasErrno(err, 'ENOENT')) return [];
    throw ioError(`listing ${dir}`, err);
  }
}

/**
 * True when the temporary file's writer (the pid in its name, see `tmpSibling`) is another live
 * process on this host: its write is in flight, and removing the file would fail that write
 * (two runs saving one account at once), and so is one of this process's own writes still in
 * flight. A dead writer's copy, or our own left by an earlier failure, is what the cleanup is for.
 */
function writerAlive(tmp: string): boolean {
  const pid = Number(/\.(\d+)\.[0-9a-f]{8}\.tmp$/.exec(tmp)?.[1]);
  if (pid === process.pid) return isWriteInFlight(tmp);
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
