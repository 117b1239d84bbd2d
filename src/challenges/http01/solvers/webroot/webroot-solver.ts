/**
 * The webroot http-01 solver, certbot `--webroot` style: writes the key authorization to
 * `<webroot>/.well-known/acme-challenge/<token>` for a web server that already serves `<webroot>`.
 */
import { join } from 'node:path';
import { ChallengeJournal, type JournalEntry } from '../../../challenge-journal.js';
import type { ChallengeSolver, ChallengeWaiter, ExplainedSolver, PendingChallenge, PreparedSolver, SolverCallOptions } from '../../../challenge-solver.js';
import { CertpilotError } from '../../../../errors.js';
import { hasErrno } from '../../../../fs/atomic-write.js';
import { type DirHandle, openDirectory } from '../../../../fs/dir-handle.js';
import type { Logger } from '../../../../logger.js';
import { TOKEN_PATTERN } from '../../challenge-token-store.js';
import { assertToken } from '../../http01-solver.js';

/** Options for {@link WebrootHttp01Solver}. */
export interface WebrootHttp01SolverOptions {
  /** The directory the web server serves as `/`; it must exist. */
  webroot: string;
  /** Accept a webroot (or parent) another user can write (config `allowSharedDir`; docs/security.md). */
  allowSharedDir?: boolean;
  /** The config field named in the refusal's hint. */
  allowSharedField?: string;
  /**
   * Directory of the journal of token files written and not yet removed
   * (`<stateDir>/http01-webroot/<solver name>`). Unset: no journal (a killed run's files stay).
   */
  journalDir?: string;
  /** The solver's name in the configuration (`solvers.<name>`), for messages. */
  name?: string;
  /** Optional self-check (`selfCheck`): fetch the token through these URLs before the CA is told. */
  selfCheck?: ChallengeWaiter;
  logger?: Logger;
}

/** One journalled token file: the token, and what the file holds (compared before a sweep removes it). */
interface TokenFileEntry extends JournalEntry {
  token: string;
  keyAuthorization: string;
}

function isTokenFileEntry(e: unknown): e is TokenFileEntry {
  const r = e as Partial<TokenFileEntry> | null;
  return typeof r?.token === 'string' && TOKEN_PATTERN.test(r.token) && typeof r.keyAuthorization === 'string';
}

const FILE_MODE = 0o644;
const DIR_MODE = 0o755;

/**
 * Writes each challenge file through descriptors, safe in a docroot other users can write: the
 * webroot is opened by a walk that follows no link in a shared directory (and refuses a shared
 * webroot unless `allowSharedDir`), `.well-known` and `acme-challenge` are opened with
 * `O_NOFOLLOW | O_DIRECTORY` (a symlink is refused, never followed), and the token file is
 * created `O_CREAT | O_EXCL | O_NOFOLLOW` with its final mode set through the handle before the
 * key authorization lands. The CA reads the file only after `present` returns, so no temporary
 * name is needed. `cleanUp` removes only the file this solver wrote (same device and inode). The
 * token is checked against {@link TOKEN_PATTERN} before any name is built. Concurrent calls for
 * different tokens are safe.
 *
 * With a journal directory each token is journalled (durably) before its file is written, and
 * dropped once the file is removed; `prepare` (before each order) removes the files a killed run
 * of this solver on this host left: a regular file of ours holding that key authorization (or a
 * part of it), nothing else (`challenge-journal.ts`, shared with dns-01 and the redis token store).
 * A write that fails (a full disk) removes the file it created.
 */
export class WebrootHttp01Solver implements ChallengeSolver, PreparedSolver, ChallengeWaiter, ExplainedSolver {
  /** Always `http-01`. */
  readonly type = 'http-01' as const;
  private readonly webroot: string;
  private readonly allowSharedDir: boolean;
  private readonly allowSharedField: string;
  private readonly logger: Logger | undefined;
  /** (dev, ino) of each token file written, so cleanUp removes only those. */
  private readonly written = new Map<string, { dev: number; ino: number }>();
  private readonly journal: ChallengeJournal<TokenFileEntry> | undefined;
  private readonly selfCheck: ChallengeWaiter | undefined;
  private readonly name: string | undefined;

  constructor(options: WebrootHttp01SolverOptions) {
    this.webroot = options.webroot;
    this.allowSharedDir = options.allowSharedDir === true;
    this.allowSharedField = options.allowSharedField ?? 'solvers.<name>.allowSharedDir';
    this.logger = options.logger;
    this.selfCheck = options.selfCheck;
    this.name = options.name;
    this.journal =
      options.journalDir === undefined
        ? undefined
        : new ChallengeJournal({ dir: options.journalDir, component: 'http-01 webroot', accept: isTokenFileEntry, ...(options.logger ? { logger: options.logger } : {}) });
  }

  /** Removes the token files a killed run of this solver (on this host) journalled and left. */
  async prepare(options: SolverCallOptions = {}): Promise<void> {
    options.signal?.throwIfAborted();
    await this.journal?.sweep(async (e) => {
      const dir = await this.openChallengeDir(false);
      if (dir === undefined) return;
      try {
        const found = await dir.readRegularFile(e.token);
        // Only a file of ours that holds this key authorization (or the start of it: a torn write).
        if (found && found.stat.uid === process.geteuid?.() && e.keyAuthorization.startsWith(found.data.toString('utf8'))) await dir.unlink(e.token);
      } finally {
        await dir.close();
      }
    });
  }

  /** For the hint of a failed validation: which solver wrote which file, and what to check. */
  explain(challenge: PendingChallenge): string {
    const host = challenge.identifier.type === 'ip' && challenge.identifier.value.includes(':') ? `[${challenge.identifier.value}]` : challenge.identifier.value;
    return `The webroot solver${this.name === undefined ? '' : ` "${this.name}"`} wrote ${join(this.challengeDirectory, challenge.token)}, and the CA fetches http://${host}/.well-known/acme-challenge/${challenge.token}: check that the web server for ${host} serves ${this.webroot} as its document root on port 80 (selfCheck.urls makes certpilot check this before asking the CA).`;
  }

  /** The self-check, when configured: resolves once every URL serves the key authorization. */
  async wait(challenge: PendingChallenge, options: SolverCallOptions): Promise<void> {
    await this.selfCheck?.wait(challenge, options);
  }

  /** The directory the challenge files go in. */
  get challengeDirectory(): string {
    return join(this.webroot, '.well-known', 'acme-challenge');
  }

  /** Writes `<webroot>/.well-known/acme-challenge/<token>` (mode 0644) containing the key authorization. */
  async present(challenge: PendingChallenge, options: SolverCallOptions = {}): Promise<void> {
    options.signal?.throwIfAborted();
    assertToken(challenge.token);
    const file = join(this.challengeDirectory, challenge.token);
    const dir = await this.openChallengeDir(true).catch((err: unknown) => {
      throw webrootError(`cannot write ${file}`, err);
    });
    try {
      options.signal?.throwIfAborted();
      // present is idempotent: a file of ours from an earlier call is replaced, anything else refused.
      await this.removeOwn(dir, challenge.token, true);
      // Journalled before it is written: a run killed from here on leaves a file the next run removes.
      await this.journal?.add(challenge.token, { token: challenge.token, keyAuthorization: challenge.keyAuthorization });
      await dir.writeNewFile(challenge.token, challenge.keyAuthorization, FILE_MODE);
      const st = await dir.lstat(challenge.token);
      this.written.set(challenge.token, { dev: st.dev, ino: st.ino });
    } catch (err) {
      if (options.signal?.aborted && err === options.signal.reason) throw err;
      throw webrootError(`cannot write ${file}`, err, undefined, this.webroot);
    } finally {
      await dir.close();
    }
    this.logger?.debug({ file }, 'http-01 webroot: challenge file written');
  }

  /** Removes that challenge's file if this solver wrote it; an absent file is not an error. The directories stay. */
  async cleanUp(challenge: PendingChallenge, options: SolverCallOptions = {}): Promise<void> {
    options.signal?.throwIfAborted();
    if (!TOKEN_PATTERN.test(challenge.token)) return;
    let dir: DirHandle | undefined;
    try {
      dir = await this.openChallengeDir(false);
      if (dir !== undefined) await this.removeOwn(dir, challenge.token);
      await this.journal?.remove(challenge.token);
    } catch (err) {
      throw webrootError(`cannot remove ${join(this.challengeDirectory, challenge.token)}`, err);
    } finally {
      await dir?.close();
    }
  }

  /** Unlinks `token` when it is the file this solver wrote (same dev/ino); leaves anything else. */
  private async removeOwn(dir: DirHandle, token: string, leftover = false): Promise<void> {
    const mine = this.written.get(token);
    if (mine === undefined) {
      // A file a crashed run of ours left: a regular file we own (never a link, never someone else's).
      const st = leftover ? await dir.lstat(token).catch(() => undefined) : undefined;
      if (st?.isFile() && st.uid === process.geteuid?.()) await dir.unlink(token);
      return;
    }
    let st;
    try {
      st = await dir.lstat(token);
    } catch (err) {
      if (hasErrno(err, 'ENOENT')) {
        this.written.delete(token);
        return;
      }
      throw err;
    }
    if (st.dev !== mine.dev || st.ino !== mine.ino) {
      this.logger?.warn({ file: join(this.challengeDirectory, token) }, 'http-01 webroot: the challenge file was replaced by someone else; left in place');
    } else {
      await dir.unlink(token);
    }
    this.written.delete(token);
  }

  /**
   * Opens `<webroot>/.well-known/acme-challenge` without following links (creating the two when
   * `create`). Creation is one at a time per webroot in this process: a new directory is checked
   * to be the empty one just made, and another certificate's token written into it meanwhile (two
   * certificates of one run sharing a webroot) would fail that check as if it were an attack.
   */
  private async openChallengeDir(create: true): Promise<DirHandle>;
  private async openChallengeDir(create: false): Promise<DirHandle | undefined>;
  private async openChallengeDir(create: boolean): Promise<DirHandle | undefined> {
    return create ? oneAtATime(this.webroot, () => this.openChallengeDirNow(true)) : this.openChallengeDirNow(false);
  }

  private async openChallengeDirNow(create: boolean): Promise<DirHandle | undefined> {
    let root: DirHandle;
    try {
      root = await openDirectory(this.webroot, {
        allowShared: this.allowSharedDir,
        component: 'http-01 webroot',
        allowSharedField: this.allowSharedField,
        errorCode: 'ERR_CHALLENGE_WEBROOT',
      });
    } catch (err) {
      if (err instanceof CertpilotError && err.code === 'ERR_FS_SHARED_DIR') throw err;
      const cause = (err as { cause?: unknown }).cause ?? err;
      throw webrootError(`cannot use webroot ${this.webroot}`, cause, hasErrno(cause, 'ENOTDIR') ? 'not a directory' : undefined);
    }
    let current = root;
    try {
      for (const name of ['.well-known', 'acme-challenge']) {
        let next: DirHandle;
        try {
          next = await current.openDir(name);
        } catch (err) {
          // O_DIRECTORY | O_NOFOLLOW on a symlink fails with ENOTDIR (or ELOOP): look at what it is.
          if ((hasErrno(err, 'ELOOP') || hasErrno(err, 'ENOTDIR')) && (await current.lstat(name).catch(() => undefined))?.isSymbolicLink()) {
            throw webrootError(`refusing ${join(current.path, name)}`, err, 'it is a symbolic link, and certpilot never follows one here (move the real directory to that name)');
          }
          if (!hasErrno(err, 'ENOENT')) throw err;
          if (!create) {
            await current.close();
            return undefined;
          }
          try {
            next = await current.mkdir(name, DIR_MODE);
          } catch (mkErr) {
            if (!hasErrno(mkErr, 'EEXIST')) throw mkErr;
            next = await current.openDir(name);
          }
        }
        await current.close();
        current = next;
      }
      return current;
    } catch (err) {
      await current.close().catch(() => undefined);
      throw err;
    }
  }
}

/** The tail of each webroot's queue of directory openings that may create (this process only). */
const creating = new Map<string, Promise<unknown>>();

/** Runs `fn` after every earlier call for `key` has settled. */
function oneAtATime<T>(key: string, fn: () => Promise<T>): Promise<T> {
  const run = (creating.get(key) ?? Promise.resolve()).then(fn, fn);
  const tail = run.catch(() => undefined);
  creating.set(key, tail);
  void tail.then(() => {
    if (creating.get(key) === tail) creating.delete(key);
  });
  return run;
}

function webrootError(what: string, cause: unknown, why?: string, webroot?: string): CertpilotError {
  if (cause instanceof CertpilotError) return cause;
  const code = (cause as NodeJS.ErrnoException | undefined)?.code;
  if (why === undefined && (code === 'ENOSPC' || code === 'EDQUOT')) {
    return new CertpilotError('ERR_CHALLENGE_WEBROOT', `http-01 webroot: ${what}: ${code} (${code === 'ENOSPC' ? 'the volume is full' : 'the disk quota is used up'})`, {
      cause,
      hint: `Free space on the volume of the webroot${webroot === undefined ? '' : ` ${webroot}`} (the challenge file is a few bytes; nothing was left behind), then run again.`,
      retryable: true,
    });
  }
  const reason = why ?? (code ?? (cause instanceof Error ? cause.message : String(cause)));
  return new CertpilotError('ERR_CHALLENGE_WEBROOT', `http-01 webroot: ${what}: ${reason}`, { cause });
}
