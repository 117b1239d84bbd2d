/** Loads the configuration for a command from file, environment and flags, then composes. */
import { existsSync, fstatSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig, type ConfigOverrides, type ResolvedConfig } from '../config/load-config.js';
import { CertpilotError } from '../errors.js';
import { overridesOf } from './flags.js';
import { createLogger, type Logger } from '../logger.js';
import { compose, type Runtime } from './compose.js';
import type { AcmeRequestObserver } from '../acme/protocol/transport.js';
import { chooseLogFormat, humanLogDestination } from './human-log.js';
import type { CommandContext } from './main.js';

/** The configuration file to read: --config, CERTPILOT_CONFIG, else ./certpilot.yaml when present. */
export function configFile(ctx: CommandContext): string | undefined {
  const explicit = ctx.values.config ?? ctx.env.CERTPILOT_CONFIG;
  if (explicit) return explicit;
  const local = join(ctx.cwd, 'certpilot.yaml');
  return existsSync(local) && !isOwnOutput(local) ? local : undefined;
}

/**
 * True when `path` is the file this process's standard output writes to: `certpilot import certbot
 * > certpilot.yaml` makes the (empty) file before certpilot starts, and reading it as the default
 * configuration would fail the very command that writes it.
 */
function isOwnOutput(path: string): boolean {
  try {
    const out = fstatSync(1);
    const file = statSync(path);
    return out.isFile() && out.dev === file.dev && out.ino === file.ino;
  } catch {
    return false;
  }
}

/**
 * The overrides the flags give (the table in ./flags.ts says where each lands). Without
 * `withCertificate` a one-off certificate from -d is left out.
 */
export function overridesFrom(ctx: CommandContext, withCertificate: boolean): ConfigOverrides {
  const o = overridesOf(ctx.values);
  if (!withCertificate) delete o.certificate;
  return o;
}

/** Loads the configuration only. */
export async function loadCommandConfig(ctx: CommandContext, withCertificate = true): Promise<ResolvedConfig> {
  const file = configFile(ctx);
  return loadConfig({ ...(file ? { file } : {}), env: ctx.env, cwd: ctx.cwd, overrides: overridesFrom(ctx, withCertificate) });
}

/** How a command's logger is made. */
export interface CommandLoggerOptions {
  /**
   * The command prints each certificate's result for people (`issue`, `renew`, `deploy` without
   * `--json`), with its code and hint: the human log format leaves out the log lines that say the
   * same (those with an `outcome` field), so each error shows once. JSON log lines keep them.
   */
  printsResults?: boolean;
}

/** Loads the configuration and composes the runtime; the caller must `close()` it. */
export async function openRuntime(
  ctx: CommandContext,
  withCertificate = true,
  options: { logger?: Logger; acmeObserver?: AcmeRequestObserver | undefined } & CommandLoggerOptions = {},
): Promise<Runtime> {
  const config = await loadCommandConfig(ctx, withCertificate);
  const logger = options.logger ?? commandLogger(ctx, config.logLevel, options.printsResults ? { printsResults: true } : {});
  return compose(config, { logger, env: ctx.env, ...(options.acmeObserver ? { acmeObserver: options.acmeObserver } : {}) });
}

/** The run's logger at `level`, in the format {@link chooseLogFormat} picks (human text by default). */
export function commandLogger(ctx: CommandContext, level: string, options: CommandLoggerOptions = {}): Logger {
  const json = ctx.values.json === true;
  const format = chooseLogFormat({ flag: ctx.values['log-format'], env: ctx.env.CERTPILOT_LOG_FORMAT, json, stderrIsTty: process.stderr.isTTY === true });
  if (format !== 'human') return createLogger({ level });
  // With --json the results are JSON on stdout, for a program: the log lines stay the person's only view.
  return createLogger({ level, destination: humanLogDestination(process.stderr, { omitOutcomes: options.printsResults === true && !json }) });
}

/**
 * The certificates of the run's configuration (remembered one-offs included, when the command added
 * them) selected by --name (all when none given). `known` are further names the run knows (a
 * one-off whose record cannot be used): named, they are no unknown name.
 */
export function selectCertificates(ctx: CommandContext, config: ResolvedConfig, known: readonly string[] = []): ResolvedConfig['certificates'] {
  const names = ctx.values.domain?.length ? undefined : ctx.values.name;
  if (!names?.length) return config.certificates;
  const unknown = names.filter((n) => !config.certificates.some((c) => c.name === n) && !known.includes(n));
  if (unknown.length > 0) {
    throw new CertpilotError('ERR_CERT_UNKNOWN', `cli: no configured certificate named ${unknown.map((n) => `"${n}"`).join(', ')}`, {
      hint: `Configured names: ${config.certificates.map((c) => c.name).join(', ') || 'none'}.`,
    });
  }
  return config.certificates.filter((c) => names.includes(c.name));
}
