/**
 * The webroot http-01 solver, certbot `--webroot` style: writes the key authorization to
 * `<webroot>/.well-known/acme-challenge/<token>` for a web server that already serves `<webroot>`.
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import type { ChallengeSolver, PendingChallenge, SolverCallOptions } from '../../../challenge-solver.js';
import { CertpilotError } from '../../../../errors.js';
import type { Logger } from '../../../../logger.js';
import { TOKEN_PATTERN } from '../../challenge-token-store.js';
import { assertToken } from '../../http01-solver.js';

/** Options for {@link WebrootHttp01Solver}. */
export interface WebrootHttp01SolverOptions {
  /** The directory the web server serves as `/`; it must exist. */
  webroot: string;
  logger?: Logger;
}

const FILE_MODE = 0o644;
const DIR_MODE = 0o755;

/**
 * Writes each challenge file atomically (temporary file, then rename), so the web server never
 * serves a half-written answer; `cleanUp` removes only that challenge's file. The token is checked
 * against {@link TOKEN_PATTERN} before any path is built, so a hostile token cannot escape the
 * challenge directory. Concurrent calls for different tokens are safe.
 */
export class WebrootHttp01Solver implements ChallengeSolver {
  /** Always `http-01`. */
  readonly type = 'http-01' as const;
  private readonly webroot: string;
  private readonly logger: Logger | undefined;

  constructor(options: WebrootHttp01SolverOptions) {
    this.webroot = options.webroot;
    this.logger = options.logger;
  }

  /** The directory the challenge files go in. */
  get challengeDirectory(): string {
    return join(this.webroot, '.well-known', 'acme-challenge');
  }

  /** Writes `<webroot>/.well-known/acme-challenge/<token>` (mode 0644) containing the key authorization. */
  async present(challenge: PendingChallenge, options: SolverCallOptions = {}): Promise<void> {
    options.signal?.throwIfAborted();
    assertToken(challenge.token);
    await this.ensureWebroot();
    const dir = this.challengeDirectory;
    const file = join(dir, challenge.token);
    // The dot prefix and suffix keep the temporary name outside TOKEN_PATTERN, so it is never served as an answer.
    const tmp = join(dir, `.${challenge.token}.${randomBytes(6).toString('hex')}.tmp`);
    try {
      const created = await mkdir(dir, { recursive: true, mode: DIR_MODE });
      // mkdir's mode is masked by the umask; set it exactly, but only on directories we created.
      if (created !== undefined) await chmodCreated(created, dir);
      options.signal?.throwIfAborted();
      await writeFile(tmp, challenge.keyAuthorization, { mode: FILE_MODE, flag: 'wx' });
      await chmod(tmp, FILE_MODE);
      await rename(tmp, file);
    } catch (err) {
      await unlink(tmp).catch(() => undefined);
      if (options.signal?.aborted && err === options.signal.reason) throw err;
      throw webrootError(`cannot write ${file}`, err);
    }
    this.logger?.debug({ file }, 'http-01 webroot: challenge file written');
  }

  /** Removes that challenge's file; an absent file is not an error. The directories stay. */
  async cleanUp(challenge: PendingChallenge, options: SolverCallOptions = {}): Promise<void> {
    options.signal?.throwIfAborted();
    if (!TOKEN_PATTERN.test(challenge.token)) return;
    const file = join(this.challengeDirectory, challenge.token);
    try {
      await unlink(file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw webrootError(`cannot remove ${file}`, err);
    }
  }

  private async ensureWebroot(): Promise<void> {
    let isDirectory: boolean;
    try {
      isDirectory = (await stat(this.webroot)).isDirectory();
    } catch (err) {
      throw webrootError(`cannot use webroot ${this.webroot}`, err);
    }
    if (!isDirectory) throw webrootError(`cannot use webroot ${this.webroot}`, undefined, 'not a directory');
  }
}

/** Sets DIR_MODE on `first` (the first directory mkdir created) and every directory below it up to `last`. */
async function chmodCreated(first: string, last: string): Promise<void> {
  let current = resolve(first);
  await chmod(current, DIR_MODE);
  const rest = relative(current, resolve(last)).split(/[\\/]/).filter((part) => part !== '');
  for (const part of rest) {
    current = join(current, part);
    await chmod(current, DIR_MODE);
  }
}

function webrootError(what: string, cause: unknown, why?: string): CertpilotError {
  const reason = why ?? ((cause as NodeJS.ErrnoException | undefined)?.code ?? (cause instanceof Error ? cause.message : String(cause)));
  return new CertpilotError('ERR_CHALLENGE_WEBROOT', `http-01 webroot: ${what}: ${reason}`, { cause });
}
