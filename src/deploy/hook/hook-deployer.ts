/**
 * The `hook` deployer: runs a command after a new version is saved — reload a server
 * (`apache2ctl graceful`, `docker compose exec web apache2ctl graceful`), or run an existing certbot
 * `--deploy-hook` unchanged (it gets certbot's RENEWED_LINEAGE and RENEWED_DOMAINS).
 *
 * - The command is an argv list run without a shell; with `shell` one string for `/bin/sh -c`.
 * - It runs in its own process group (`detached`); on timeout or abort the whole group gets SIGTERM
 *   and, 5 s later (or as soon as the hook itself exits), SIGKILL, so no child outlives it.
 * - Its environment is built, not inherited: the `passEnv` variables of certpilot's environment
 *   (PATH, HOME, LANG…), the configured `env`, and the CERTPILOT_* / certbot variables. The private
 *   key is never in argv or the environment; the hook reads it from the live directory.
 * - Each output line is logged (stdout at info, stderr at warn); PEM private-key blocks are
 *   replaced by a marker first, the deployed key's material without its armour (each base64 line
 *   of its PEM body, and the body joined: `grep -v -- ----- privkey.pem | tr -d '\n'`) by
 *   `[private key material hidden]`, and each value of the configured `env` of 6 characters or
 *   more by `[redacted]` (a `set -x` or `env` in the hook prints them). A non-zero exit, a signal or a
 *   timeout fails the deploy with the deployer's name, what ran ({@link describeCommand}: an argv
 *   list, or a shell command's first line, cut short), the status and the last stderr lines.
 * - A hook is idempotent for one version only as far as its command is; the deploy chain records
 *   the version so a hook runs once per version unless forced.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { CertpilotError } from '../../errors.js';
import { REDACTED } from '../../redact.js';
import type { Logger } from '../../logger.js';
import { hasCertificatePaths, type CertificatePaths, type StoredCertificate } from '../../storage/certificate-store.js';
import { materializeCertificate } from '../../storage/materialize.js';
import type { DeployOptions, DeployResult, Deployer } from '../deployer.js';
import { DEFAULT_PASS_ENV } from './schema.js';

/** Options of {@link HookDeployer}. */
export interface HookDeployerOptions {
  /** The deployer instance's name (`deployers.<id>`). */
  id: string;
  /** argv list, or one string when `shell` is true. */
  command: string | readonly string[];
  shell?: boolean;
  /** Default 120. */
  timeoutSeconds?: number;
  /** Working directory of the hook. */
  cwd?: string;
  /** Extra variables for the hook. */
  env?: Readonly<Record<string, string>>;
  /** Names of `processEnv` variables passed on (default PATH, HOME, LANG…). */
  passEnv?: readonly string[];
  /** certpilot's own environment (from the CLI); only the `passEnv` names are read from it. */
  processEnv?: Readonly<Record<string, string | undefined>>;
  /** Delay between SIGTERM and SIGKILL of the process group (default 5000 ms). */
  killGraceMs?: number;
  logger?: Logger;
}

/** PATH when certpilot's environment has none (cron's is `/usr/bin:/bin`). */
const FALLBACK_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
/** stderr lines kept for the error message. */
const TAIL_LINES = 5;
const MAX_LINE = 300;

/** The longest description of a command in a message (a shell script: its first line). */
const MAX_COMMAND = 80;

/**
 * What a hook runs, recognisably and briefly, for its messages and log lines: an argv list joined
 * (an item with spaces or quotes quoted), a shell command as `sh -c '<its first line>'`; cut to
 * {@link MAX_COMMAND} characters with `…`. Only the configured text: never a value of the
 * environment the hook gets (a shell command's `$VAR` stays as written).
 */
export function describeCommand(command: string | readonly string[]): string {
  const cut = (text: string, more: boolean): string => (text.length > MAX_COMMAND ? `${text.slice(0, MAX_COMMAND - 1).trimEnd()}…` : more ? `${text} …` : text);
  if (typeof command === 'string') {
    const lines = command.replace(/\s*\\\n\s*/g, ' ').split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
    const first = lines[0] ?? command.trim();
    return `sh -c '${cut(first, lines.length > 1)}'`;
  }
  return cut(command.map((a) => (a === '' || /[\s'"\\]/.test(a) ? JSON.stringify(a) : a)).join(' '), false);
}

/** The shortest `env` value masked in a hook's output: shorter ones (`1`, `true`, `dev`) are not secrets and would hide too much. */
const MIN_MASKED = 6;

/**
 * The values of a hook's configured `env` masked in its output lines (every one may be a secret
 * from `${VARIABLE}`, as src/redact.ts treats them), longest first so a value holding another is
 * masked whole.
 */
export function maskedValues(env: Readonly<Record<string, string>> | undefined): string[] {
  return [...new Set(Object.values(env ?? {}).filter((v) => v.length >= MIN_MASKED))].sort((a, b) => b.length - a.length);
}

/** `line` with every occurrence of each of `values` replaced by `mask` (`[redacted]`). */
export function maskValues(line: string, values: readonly string[], mask = REDACTED): string {
  let out = line;
  for (const v of values) if (out.includes(v)) out = out.split(v).join(mask);
  return out;
}

/** What a hook's output shows instead of material of the key it deploys. */
const KEY_HIDDEN = '[private key material hidden]';

/** The shortest base64 line of a key's PEM body masked on its own (a short last line is masked inside the joined body). */
const MIN_KEY_LINE = 16;

/**
 * The material of a PEM private key as a hook may print it without its armour: the body joined
 * (a tool that strips the BEGIN/END lines and the newlines) and each base64 line of it (a
 * truncated or partial print), longest first. Empty for no key.
 */
export function keyMaterial(privateKeyPem: string | undefined): string[] {
  const lines = (privateKeyPem ?? '').split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('-----') && !l.includes(':'));
  const joined = lines.join('');
  return [...new Set([joined, ...lines])].filter((v) => v.length >= MIN_KEY_LINE).sort((a, b) => b.length - a.length);
}

/** The variables describing `certificate` to its hook, certbot's included. Paths and names only. */
export function hookEnvironment(certificate: StoredCertificate & { paths: CertificatePaths }): Record<string, string> {
  const domains = certificate.metadata.domains.join(' ');
  return {
    CERTPILOT_NAME: certificate.name,
    CERTPILOT_DOMAINS: domains,
    CERTPILOT_LIVE_DIR: certificate.paths.dir,
    CERTPILOT_VERSION: String(certificate.version),
    CERTPILOT_SERIAL: certificate.metadata.serialNumber,
    CERTPILOT_NOT_AFTER: certificate.metadata.notAfter,
    RENEWED_LINEAGE: certificate.paths.dir,
    RENEWED_DOMAINS: domains,
  };
}

/** Runs a command per deployed version (see the module comment). */
export class HookDeployer implements Deployer {
  /** The deployer instance's name in the configuration. */
  readonly id: string;
  private readonly argv: readonly string[];
  /** What ran, for messages and logs: {@link describeCommand}. */
  private readonly name: string;
  /** The program started (argv[0], or /bin/sh), for the could-not-start hint. */
  private readonly program: string;

  constructor(private readonly options: HookDeployerOptions) {
    this.id = options.id;
    const { command, shell } = options;
    if (shell) {
      if (typeof command !== 'string') throw new TypeError('hook: with shell the command is one string');
      this.argv = ['/bin/sh', '-c', command];
    } else {
      if (typeof command === 'string' || command.length === 0) throw new TypeError('hook: the command is a non-empty argv list');
      this.argv = command;
    }
    this.name = describeCommand(command);
    this.program = this.argv[0] as string;
  }

  /**
   * Runs the hook for `certificate`; resolves when it exits 0, rejects otherwise. When the store
   * keeps no files (Secrets), the version is written to a private 0700 temporary directory for the
   * hook's run (CERTPILOT_LIVE_DIR, RENEWED_LINEAGE) and removed after it.
   */
  async deploy(certificate: StoredCertificate, options: DeployOptions = {}): Promise<DeployResult> {
    options.signal?.throwIfAborted();
    if (hasCertificatePaths(certificate)) return this.run(certificate, options);
    const files = await materializeCertificate(certificate);
    try {
      return await this.run({ ...certificate, paths: files.paths }, options);
    } finally {
      await files.remove();
    }
  }

  private async run(certificate: StoredCertificate & { paths: CertificatePaths }, options: DeployOptions): Promise<DeployResult> {
    const { signal } = options;
    signal?.throwIfAborted();
    const logger = this.options.logger;
    const env = this.environment(certificate);
    const timeoutMs = (this.options.timeoutSeconds ?? 120) * 1000;
    const grace = this.options.killGraceMs ?? 5000;
    const started = Date.now();
    const [file, ...args] = this.argv as [string, ...string[]];
    const child = spawn(file, args, {
      ...(this.options.cwd ? { cwd: this.options.cwd } : {}),
      env,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const tail: string[] = [];
    const hidden = maskedValues(this.options.env);
    const keyParts = keyMaterial(certificate.privateKeyPem);
    // The logger carries `deployer` (compose makes a child per plug-in): naming it again would duplicate the key.
    const base = { command: this.name, pid: child.pid };
    const follow = (stream: NodeJS.ReadableStream, which: 'stdout' | 'stderr'): Promise<void> =>
      new Promise((resolve) => {
        const lines = createInterface({ input: stream, crlfDelay: Infinity });
        let inKey = false;
        lines.on('line', (raw) => {
          // A hook that prints the key (armoured or not), or a value of its `env` (`set -x`, `env`), must not put it in our logs.
          const masked = maskValues(maskValues(raw, keyParts, KEY_HIDDEN), hidden);
          let line = masked.length > MAX_LINE ? `${masked.slice(0, MAX_LINE)}…` : masked;
          if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(raw)) inKey = true;
          if (inKey) line = KEY_HIDDEN;
          if (/-----END [A-Z ]*PRIVATE KEY-----/.test(raw)) inKey = false;
          if (which === 'stderr') {
            tail.push(line);
            if (tail.length > TAIL_LINES) tail.shift();
            logger?.warn({ ...base, stream: which, line }, 'hook: output');
          } else {
            logger?.info({ ...base, stream: which, line }, 'hook: output');
          }
        });
        lines.on('close', () => resolve());
      });
    const outputs = Promise.all([follow(child.stdout, 'stdout'), follow(child.stderr, 'stderr')]);

    let killedFor: 'timeout' | 'abort' | undefined;
    let killTimer: NodeJS.Timeout | undefined;
    const killGroup = (sig: NodeJS.Signals): void => {
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, sig);
      } catch {
        // ESRCH: the group is gone already.
      }
    };
    const stop = (why: 'timeout' | 'abort'): void => {
      if (killedFor) return;
      killedFor = why;
      logger?.warn({ ...base, reason: why }, 'hook: stopping its process group');
      killGroup('SIGTERM');
      killTimer = setTimeout(() => killGroup('SIGKILL'), grace);
    };
    const timer = setTimeout(() => stop('timeout'), timeoutMs);
    const onAbort = (): void => stop('abort');
    signal?.addEventListener('abort', onAbort, { once: true });

    let exit: { code: number | null; signal: NodeJS.Signals | null };
    try {
      exit = await new Promise((resolve, reject) => {
        child.once('error', reject);
        child.once('exit', (code, sig) => resolve({ code, signal: sig }));
      });
    } catch (cause) {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      const why = (cause as NodeJS.ErrnoException).code ?? (cause as Error).message;
      throw new CertpilotError('ERR_DEPLOY_HOOK_FAILED', `hook deployer "${this.id}": ${this.name} could not be started: ${why}`, {
        cause,
        hint:
          why === 'ENOENT'
            ? `Check that ${this.program} exists${this.program.includes('/') ? '' : ' on the PATH the hook gets'}${this.options.cwd ? ` and that cwd ${this.options.cwd} exists` : ''}.`
            : why === 'EACCES'
              ? `${this.program} is not executable (or is a directory): \`chmod +x ${this.program}\`, and start a script with its #! line; or name its interpreter first in command (e.g. [sh, ${this.program}]).`
              : undefined,
      });
    }
    clearTimeout(timer);
    signal?.removeEventListener('abort', onAbort);
    if (killedFor) {
      // The hook is gone; whatever of its group ignored SIGTERM goes now, not after the grace.
      clearTimeout(killTimer);
      killGroup('SIGKILL');
    }
    // A background child of the hook may hold the pipes open: read what is there, then let go.
    const drained = await Promise.race([outputs.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 1000).unref())]);
    if (!drained) {
      child.stdout.destroy();
      child.stderr.destroy();
    }
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    const last = tail.length ? `; last stderr: ${tail.join(' | ')}` : '';
    if (killedFor === 'abort') throw signal?.reason ?? new Error('aborted');
    if (killedFor === 'timeout') {
      throw new CertpilotError('ERR_DEPLOY_HOOK_TIMEOUT', `hook deployer "${this.id}": ${this.name} did not finish within ${timeoutMs / 1000} s and was killed with its process group${last}`);
    }
    if (exit.code !== 0) {
      const status = exit.signal ? `was killed by ${exit.signal}` : `exited with code ${exit.code}`;
      throw new CertpilotError('ERR_DEPLOY_HOOK_FAILED', `hook deployer "${this.id}": ${this.name} ${status}${last}`);
    }
    logger?.info({ ...base, seconds }, 'hook: done');
    return {
      message: `${this.name} exited 0 in ${seconds} s (version ${certificate.version})`,
      details: { command: this.name, exitCode: 0, seconds: Number(seconds) },
    };
  }

  private environment(certificate: StoredCertificate & { paths: CertificatePaths }): Record<string, string> {
    const env: Record<string, string> = {};
    const from = this.options.processEnv ?? {};
    for (const name of this.options.passEnv ?? DEFAULT_PASS_ENV) {
      const value = from[name];
      if (value !== undefined) env[name] = value;
    }
    env.PATH ??= FALLBACK_PATH;
    return { ...env, ...this.options.env, ...hookEnvironment(certificate) };
  }
}
