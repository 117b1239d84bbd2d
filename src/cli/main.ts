/**
 * The certpilot command line, and its one error boundary: the only place that maps errors to exit
 * codes and prints them (DESIGN.md §4, changesets `cli/src/index.ts`).
 *
 * Exit codes: 0 done; 1 an operation failed; 2 bad usage or configuration; 75 the CA asked us to
 * wait (rate limit, Retry-After) or a backoff holds the work back — try again later; 130 stopped
 * by SIGINT or SIGTERM.
 */
import { parseArgs } from 'node:util';
import { CertpilotError, ConfigError } from '../errors.js';
import { checkValues, flagHelp, PARSE_OPTIONS, type CliValues } from './flags.js';
import { processOutput, type Output } from './output.js';
import { VERSION } from '../version.js';

/** Exit codes of the CLI. */
export const EXIT = { ok: 0, failed: 1, usage: 2, tempFail: 75, interrupted: 130 } as const;

/** Parsed command-line values (one table: ./flags.ts). */
export type { CliValues } from './flags.js';

/** What every command receives. */
export interface CommandContext {
  values: CliValues;
  positionals: string[];
  env: Readonly<Record<string, string | undefined>>;
  cwd: string;
  output: Output;
  /** Aborted on SIGINT/SIGTERM. */
  signal?: AbortSignal;
}

/**
 * One command: its help summary and its module, loaded on first use. Its flags are the entries of
 * FLAGS (./flags.ts) that name it; the arguments its usage line shows are in COMMAND_ARGS.
 */
export interface CommandSpec {
  summary: string;
  load: () => Promise<{ run(ctx: CommandContext): Promise<number> }>;
}

/** The commands, one line each. */
export const COMMANDS: Record<string, CommandSpec> = {
  issue: { summary: 'Issue the configured (or -d) certificates that are missing, changed or due; --force to issue anyway', load: () => import('./commands/issue.js') },
  renew: { summary: 'Renew every certificate that is due (ARI window, lifetime); --force, --dry-run', load: () => import('./commands/renew.js') },
  deploy: { summary: 'Run the deployers of the live certificates (NAME…); only those lacking it, or all with --force', load: () => import('./commands/deploy.js') },
  cron: { summary: 'cron install | remove | show: one `renew` line in the crontab, twice a day at a random minute (-u USER, --log-file)', load: () => import('./commands/cron.js') },
  status: { summary: 'Show each certificate: domains, expiry, ARI window, next renewal, last result (--json)', load: () => import('./commands/status.js') },
  revoke: { summary: 'Revoke the live certificate of a name (--reason, --with-certificate-key)', load: () => import('./commands/revoke.js') },
  account: { summary: 'ACME account: show | create | update (--email) | rollover | deactivate', load: () => import('./commands/account.js') },
  config: { summary: 'config check: validate the configuration and print what it resolves to', load: () => import('./commands/config.js') },
  route53: { summary: 'route53 policy: least-privilege IAM policy for the route53 solvers; route53 check: prove the key can write and remove a probe', load: () => import('./commands/route53.js') },
  import: { summary: 'Take over existing certificates with no CA request, and print a certpilot.yaml for them: `import certbot` reads certbot\'s accounts, every version and renewal conf (--config-dir, default /etc/letsencrypt); `import files DIR --name NAME` a directory of PEM files; --dry-run writes nothing', load: () => import('./commands/import.js') },
  serve: { summary: 'Run the http-01 responder any pod can run (--solver NAME | --redis-url URL | --thumbprint T), /healthz, SIGTERM-graceful', load: () => import('./commands/serve.js') },
};

/** What a command takes besides flags, for its usage line (commands without an entry take none). */
const COMMAND_ARGS: Readonly<Record<string, string>> = {
  deploy: '[NAME…]',
  revoke: 'NAME',
  account: 'show|create|update|rollover|deactivate',
  config: 'check|schema',
  cron: 'install|remove|show',
  route53: 'policy|check [SOLVER…]',
  import: 'certbot [--config-dir DIR] | files DIR --name NAME',
};

const FOOTER = `Exit codes: 0 done, 1 failed, 2 usage or configuration error, 75 try again later (rate limit/backoff),
130 stopped by SIGINT/SIGTERM (challenges cleaned up, locks released).
Docs: README.md, docs/config-reference.md, docs/errors.md`;

/** The top-level help: commands and the flags every command takes. */
export function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((n) => n.length)) + 2;
  return `certpilot ${VERSION} — keeps TLS certificates issued, renewed and live (ACME, ARI, profiles)

Usage: certpilot <command> [options]     certpilot <command> --help for a command's own flags

Commands:
${Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}${c.summary}`).join('\n')}

Options of every command:
${flagHelp(undefined).join('\n')}

${FOOTER}`;
}

/** The help of one command: its usage line, summary and every flag it takes. */
export function commandUsage(name: string): string {
  const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!command) throw unknownCommand(name);
  const args = Object.hasOwn(COMMAND_ARGS, name) ? ` ${COMMAND_ARGS[name]}` : '';
  return `Usage: certpilot ${name}${args} [options]

${command.summary}

Options:
${flagHelp(name).join('\n')}

${FOOTER}`;
}

// parseArgs's own message for an unknown flag is about positionals; name the flag and the command.
function parseError(err: unknown, argv: readonly string[]): CertpilotError {
  const command = argv.find((a) => !a.startsWith('-') && Object.hasOwn(COMMANDS, a));
  const hint = command ? `\`certpilot ${command} --help\` lists the flags it takes.` : '`certpilot --help` lists the commands, `certpilot <command> --help` their flags.';
  const flag = /^Unknown option '([^']+)'/.exec((err as Error).message)?.[1];
  if (flag) {
    return new CertpilotError('ERR_CLI_USAGE', `cli: unknown flag ${flag}${command ? ` for ${command}` : ''}`, { cause: err, hint });
  }
  return new CertpilotError('ERR_CLI_USAGE', `cli: ${(err as Error).message.split('\n')[0] ?? ''}`, { cause: err, hint });
}

function unknownCommand(name: string): CertpilotError {
  return new CertpilotError('ERR_CLI_USAGE', `cli: unknown command "${name}"`, { hint: `Use one of: ${Object.keys(COMMANDS).join(', ')}.` });
}

/** Runs the CLI; returns the exit code. Never throws. */
export async function main(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  output: Output = processOutput,
  signal?: AbortSignal,
): Promise<number> {
  let verbose = argv.includes('--verbose') || argv.includes('-v');
  try {
    let parsed;
    try {
      parsed = parseArgs({ args: [...argv], options: PARSE_OPTIONS, allowPositionals: true, strict: true, tokens: true });
    } catch (err) {
      throw parseError(err, argv);
    }
    const raw = parsed.values as Record<string, unknown>;
    verbose = raw.verbose === true;
    const [name, ...rest] = parsed.positionals;
    if (raw.version) {
      output.out(VERSION);
      return EXIT.ok;
    }
    if (name === 'help') {
      output.out(rest[0] ? commandUsage(rest[0]) : usage());
      return EXIT.ok;
    }
    if (!name) {
      output.out(usage());
      return raw.help ? EXIT.ok : EXIT.usage;
    }
    const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
    if (!command) throw unknownCommand(name);
    if (raw.help) {
      output.out(commandUsage(name));
      return EXIT.ok;
    }
    // How each flag was written (`-d` or `--domain`), to name it as the user did.
    const written = new Map<string, string>();
    for (const token of (parsed.tokens ?? []) as { kind: string; name?: string; rawName?: string }[]) {
      if (token.kind === 'option' && token.name && token.rawName && !written.has(token.name)) written.set(token.name, token.rawName);
    }
    const values = checkValues(name, raw, written);
    const module = await command.load();
    return await module.run({ values, positionals: rest, env, cwd: process.cwd(), output, ...(signal ? { signal } : {}) });
  } catch (err) {
    return report(err, verbose, output);
  }
}

/** Prints an error with its code and hint; stack and causes only when verbose. */
export function report(err: unknown, verbose: boolean, output: Output): number {
  if (err instanceof CertpilotError) {
    output.err(`error ${err.code}: ${err.message}`);
    output.err(`  hint: ${err.hint}`);
    if (verbose) {
      output.err(err.stack ?? '');
      let cause = err.cause;
      while (cause) {
        output.err(`caused by: ${cause instanceof Error ? (cause.stack ?? cause.message) : String(cause)}`);
        cause = cause instanceof Error ? cause.cause : undefined;
      }
    }
    if (err instanceof ConfigError || err.code === 'ERR_CLI_USAGE' || err.code === 'ERR_CONFIG_NOT_FOUND') return EXIT.usage;
    if (err.code === 'ERR_INTERRUPTED') return EXIT.interrupted;
    return err.code === 'ERR_ACME_RATE_LIMITED' || err.code === 'ERR_LOCK_HELD' || err.code === 'ERR_RENEWAL_BACKOFF' ? EXIT.tempFail : EXIT.failed;
  }
  output.err(`error ERR_INTERNAL: ${err instanceof Error ? err.message : String(err)}`);
  output.err('  hint: Run again with --verbose and report the stack trace.');
  if (verbose && err instanceof Error) output.err(err.stack ?? '');
  return EXIT.failed;
}
