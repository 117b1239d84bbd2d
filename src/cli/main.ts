/**
 * The certpilot command line, and its one error boundary: the only place that maps errors to exit
 * codes and prints them (DESIGN.md §4, changesets `cli/src/index.ts`).
 *
 * Exit codes: 0 done; 1 an operation failed; 2 bad usage or configuration; 75 the CA asked us to
 * wait (rate limit, Retry-After) or a backoff holds the work back — try again later; 130 stopped
 * by SIGINT or SIGTERM.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { CertpilotError, ConfigError } from '../errors.js';
import { processOutput, type Output } from './output.js';
import { VERSION } from '../version.js';

/** Exit codes of the CLI. */
export const EXIT = { ok: 0, failed: 1, usage: 2, tempFail: 75, interrupted: 130 } as const;

const OPTIONS = {
  config: { type: 'string', short: 'c' },
  'state-dir': { type: 'string' },
  directory: { type: 'string' },
  'ca-bundle': { type: 'string' },
  email: { type: 'string' },
  'agree-tos': { type: 'boolean' },
  verbose: { type: 'boolean', short: 'v' },
  'log-level': { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean' },
  domain: { type: 'string', short: 'd', multiple: true },
  name: { type: 'string', short: 'n', multiple: true },
  'key-type': { type: 'string' },
  profile: { type: 'string' },
  'reuse-key': { type: 'boolean' },
  force: { type: 'boolean' },
  'dry-run': { type: 'boolean' },
  concurrency: { type: 'string' },
  'http-01-port': { type: 'string' },
  'http-01-address': { type: 'string' },
  webroot: { type: 'string', short: 'w' },
  reason: { type: 'string' },
  'with-certificate-key': { type: 'boolean' },
  listen: { type: 'string' },
  solver: { type: 'string' },
  'redis-url': { type: 'string' },
  'redis-prefix': { type: 'string' },
  'allow-host': { type: 'string', multiple: true },
  thumbprint: { type: 'string' },
} as const satisfies ParseArgsConfig['options'];

/** Parsed command-line values. */
export type CliValues = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true; strict: true }>>['values'];

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

const COMMANDS: Record<string, { summary: string; load: () => Promise<{ run(ctx: CommandContext): Promise<number> }> }> = {
  issue: { summary: 'Issue the configured (or -d) certificates that are missing, changed or due; --force to issue anyway', load: () => import('./commands/issue.js') },
  renew: { summary: 'Renew every certificate that is due (ARI window, lifetime); --force, --dry-run', load: () => import('./commands/renew.js') },
  deploy: { summary: 'Run the deployers of the live certificates (NAME…); only those lacking it, or all with --force', load: () => import('./commands/deploy.js') },
  status: { summary: 'Show each certificate: domains, expiry, ARI window, next renewal, last result (--json)', load: () => import('./commands/status.js') },
  revoke: { summary: 'Revoke the live certificate of a name (--reason, --with-certificate-key)', load: () => import('./commands/revoke.js') },
  account: { summary: 'ACME account: show | create | update (--email) | rollover | deactivate', load: () => import('./commands/account.js') },
  config: { summary: 'config check: validate the configuration and print what it resolves to', load: () => import('./commands/config.js') },
  serve: { summary: 'Run the http-01 responder any pod can run (--solver NAME | --redis-url URL | --thumbprint T)', load: () => import('./commands/serve.js') },
};

const USAGE = `certpilot ${VERSION} — keeps TLS certificates issued, renewed and live (ACME, ARI, profiles)

Usage: certpilot <command> [options]

Commands:
${Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(8)} ${c.summary}`).join('\n')}

Options:
  -c, --config FILE        YAML configuration (default $CERTPILOT_CONFIG, else ./certpilot.yaml if present)
      --state-dir DIR      accounts, certificates and renewal state (default /var/lib/certpilot)
      --directory URL      ACME directory URL, or letsencrypt | letsencrypt-staging
      --ca-bundle FILE     extra PEM roots to trust for the ACME server (private or test CA)
      --email ADDRESS      account contact
      --agree-tos          agree to the CA's terms of service
  -d, --domain NAME        a name for a one-off certificate (repeat); replaces the file's list
  -n, --name NAME          certificate name (with -d) or which certificates to act on (repeat)
      --key-type TYPE      ec-p256 | ec-p384 | rsa-2048 | rsa-3072 | rsa-4096
      --profile NAME       ACME profile, e.g. shortlived
      --reuse-key          keep the private key across renewals
      --force              renew even when not due (never before a CA's Retry-After); deploy: every deployer again
      --dry-run            renew against the CA's staging directory and discard the result
      --concurrency N      certificates renewed at once (default from config, 4)
      --http-01-port PORT  standalone http-01 listener port (default 80)
      --http-01-address A  standalone http-01 listener address (default all)
  -w, --webroot DIR        answer http-01 by writing files under DIR instead (solver \`default\`)
      --reason NAME        revoke reason: unspecified | keyCompromise | superseded | cessationOfOperation
      --with-certificate-key  sign the revocation with the certificate's own key
      --json               machine-readable output (status, account show)
      --listen HOST:PORT   serve: where the responder listens (default 0.0.0.0:8080)
      --solver NAME        serve: the redis solver of the configuration to read tokens from
      --redis-url URL      serve: read tokens from this Redis instead (--redis-prefix P)
      --allow-host NAME    serve: answer only these Host names (repeat; *.example.com allowed)
      --thumbprint T       serve: stateless mode, answer <token>.T (see account show)
  -v, --verbose            debug logs and stack traces
      --log-level LEVEL    trace | debug | info | warn | error | silent
  -h, --help               this help

Exit codes: 0 done, 1 failed, 2 usage or configuration error, 75 try again later (rate limit/backoff),
130 stopped by SIGINT/SIGTERM (challenges cleaned up, locks released).
Docs: README.md, docs/config-reference.md, docs/errors.md`;

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
      parsed = parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: true });
    } catch (err) {
      throw new CertpilotError('ERR_CLI_USAGE', `cli: ${(err as Error).message}`, { cause: err });
    }
    const { values, positionals } = parsed;
    verbose = values.verbose === true;
    if (values.version) {
      output.out(VERSION);
      return EXIT.ok;
    }
    const [name, ...rest] = positionals;
    if (values.help || !name) {
      output.out(USAGE);
      return name || values.help ? EXIT.ok : EXIT.usage;
    }
    const command = COMMANDS[name];
    if (!command) throw new CertpilotError('ERR_CLI_USAGE', `cli: unknown command "${name}"`, { hint: `Use one of: ${Object.keys(COMMANDS).join(', ')}.` });
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
