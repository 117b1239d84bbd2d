/**
 * The certpilot command line, and its one error boundary: the only place that maps errors to exit
 * codes and prints them (DESIGN.md §4, changesets `cli/src/index.ts`).
 *
 * Exit codes: 0 done; 1 an operation failed; 2 bad usage or configuration; 75 the CA asked us to
 * wait (rate limit, Retry-After) or did not answer, a backoff holds the work back, a lock no live
 * run renews keeps it from us, or the Kubernetes API server could not be reached — try again later;
 * 130 stopped by SIGINT or SIGTERM.
 */
import { redactText } from '../redact.js';
import { parseArgs } from 'node:util';
import { CertpilotError, ConfigError } from '../errors.js';
import { checkValues, FLAGS, flagHelp, PARSE_OPTIONS, type CliValues, type FlagName } from './flags.js';
import { didYouMean } from '../did-you-mean.js';
import { processOutput, redactedOutput, type Output } from './output.js';
import { VERSION } from '../version.js';

/** Exit codes of the CLI. */
export const EXIT = { ok: 0, failed: 1, usage: 2, tempFail: 75, interrupted: 130 } as const;

/** The errors that mean the command line or the configuration is wrong (exit 2), not a failed operation. */
const USAGE_ERRORS: ReadonlySet<string> = new Set([
  'ERR_CLI_USAGE',
  'ERR_CONFIG_NOT_FOUND',
  // Also thrown as a plain error, not a ConfigError (an empty configuration file).
  'ERR_CONFIG_INVALID',
  'ERR_DAEMON_NO_CERTIFICATES',
  'ERR_CERT_UNKNOWN',
  'ERR_MANIFESTS_CONFIG',
  'ERR_KUBERNETES_CONFIG',
  'ERR_IMPORT_SEVERAL_CAS',
  'ERR_CRON_USER_ACCESS',
]);

/**
 * The errors that mean "try again later" (exit 75, EX_TEMPFAIL, which cron wrappers and CronJob
 * users branch on): the CA's rate limit or its silence, a backoff, another run's lock, an
 * unreachable API server, and `certpilot unlock` refusing a live lock or finding it changed.
 */
export const TEMPORARY_ERRORS: ReadonlySet<string> = new Set(['ERR_ACME_RATE_LIMITED', 'ERR_ACME_NO_ANSWER', 'ERR_LOCK_HELD', 'ERR_LOCK_LIVE', 'ERR_LOCK_CHANGED', 'ERR_RENEWAL_BACKOFF', 'ERR_KUBERNETES_UNREACHABLE']);

/**
 * Whether a failure means "try again later" (exit 75): a code of {@link TEMPORARY_ERRORS}, or an
 * answer of the Kubernetes API server that says so (429 Too Many Requests, a 5xx: retryable), as
 * opposed to one that will not change by waiting (403, 404, 422).
 */
export function isTemporaryError(err: { code: string; retryable?: boolean }): boolean {
  return TEMPORARY_ERRORS.has(err.code) || (err.code === 'ERR_KUBERNETES_API' && err.retryable === true);
}

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
  issue: { summary: 'Issue the configured (or -d) certificates that are missing, changed or due; --force to issue anyway (a -d one-off is remembered: renew renews it)', load: () => import('./commands/issue.js') },
  renew: { summary: 'Renew every certificate that is due (ARI window, lifetime), the configured ones and the one-offs issue -d issued; --force, --dry-run', load: () => import('./commands/renew.js') },
  deploy: { summary: 'Run the deployers of the live certificates (NAME…); only those lacking it, or all with --force', load: () => import('./commands/deploy.js') },
  cron: { summary: 'cron install | remove | show: one `renew` line in the crontab, twice a day at a minute of its own per host (-u USER, --log-file, --metrics-file)', load: () => import('./commands/cron.js') },
  status: { summary: 'Show each certificate: domains, expiry, ARI window, next renewal, last result, a lock a run holds (stale: how to break it), cadence warnings (--json, --html FILE, --metrics-file FILE)', load: () => import('./commands/status.js') },
  revoke: { summary: 'Revoke the live certificate of a name (--reason, --with-certificate-key)', load: () => import('./commands/revoke.js') },
  unlock: { summary: 'Break the lock (lock file or Lease) a killed run left on a certificate, so the next run need not wait for its TTL; a live lock only with --force', load: () => import('./commands/unlock.js') },
  forget: { summary: 'Stop renewing and watching a one-off `issue -d` certificate, or one removed from the configuration (no status row, metric or alert); its files stay', load: () => import('./commands/forget.js') },
  account: { summary: 'ACME account: show | create | update (--email) | rollover | deactivate', load: () => import('./commands/account.js') },
  config: { summary: 'config check: validate the configuration and print what it resolves to', load: () => import('./commands/config.js') },
  route53: { summary: 'route53 policy: least-privilege IAM policy for the route53 solvers; route53 check: prove the key can write and remove a probe', load: () => import('./commands/route53.js') },
  kubernetes: { summary: 'kubernetes check: ask the API server for every permission the configured plug-ins need; kubernetes manifests: the ServiceAccount, Role, CronJob… that run certpilot in a cluster', load: () => import('./commands/kubernetes.js') },
  state: { summary: 'state copy --from SPEC --to SPEC: copy accounts, certificates and renewal state between stores (a directory, Secrets); nothing is issued', load: () => import('./commands/state.js') },
  'dns-persist': {
    summary: 'dns-persist record [NAME…]: print the dns-persist-01 TXT record of each name for this account and CA (--persist-until, --apply --solver DNS-SOLVER writes it once)',
    load: () => import('./commands/dns-persist.js'),
  },
  daemon: { summary: 'Run in the foreground and renew each certificate at its time (ARI window, lifetime, backoff, deploy retry): one process instead of cron; SIGHUP reloads, SIGTERM stops', load: () => import('./commands/daemon.js') },
  import: { summary: 'Take over existing certificates with no CA request, and print a certpilot.yaml for them: `import certbot` reads certbot\'s accounts, every version and renewal conf (--config-dir, default /etc/letsencrypt); `import files DIR --name NAME` a directory of PEM files; --dry-run writes nothing', load: () => import('./commands/import.js') },
  serve: { summary: 'Run the http-01 responder any pod can run (--solver NAME | --redis-url URL | --thumbprint T), /healthz, /metrics, SIGTERM-graceful', load: () => import('./commands/serve.js') },
};

/** What a command takes besides flags, for its usage line (commands without an entry take none). */
const COMMAND_ARGS: Readonly<Record<string, string>> = {
  deploy: '[NAME…]',
  revoke: 'NAME',
  forget: 'NAME',
  unlock: 'NAME',
  account: 'show|create|update|rollover|deactivate',
  config: 'check|schema',
  cron: 'install|remove|show',
  route53: 'policy|check [SOLVER…]',
  kubernetes: 'check [NAME…] | manifests',
  state: 'copy --from SPEC --to SPEC',
  'dns-persist': 'record [NAME…]',
  import: 'certbot [--config-dir DIR] | files DIR --name NAME',
};

/** More help for a command, before its exit codes and examples (shown by `certpilot <command> --help`). */
const COMMAND_NOTES: Readonly<Record<string, string>> = {
  daemon: `The daemon sleeps until the earliest time any certificate needs work: its chosen time inside the
CA's ARI window (else the lifetime rule), the end of a failure backoff or of the CA's Retry-After,
the next ARI fetch the CA asked for (a day later at a CA without ARI), a pending order to resume,
a failed deploy to retry (5 min).
It never wakes more often than that (at least 1 s apart, 10 s for a certificate just run), adds
up to 1 min of jitter (never past the ARI window's end), and takes each certificate's lock (file or
lease locker), so two replicas are safe. One log line per cycle says what ran and when it wakes.
  SIGHUP           re-read the configuration; a bad file is logged (each field and its fix)
                   and the configuration in use stays
  SIGTERM, SIGINT  stop the work in flight (challenges cleaned up, locks released, an order kept
                   for the next start to resume) and exit 0
Each run's event goes to the certificate's notifiers as it happens; --listen HOST:PORT also serves
/metrics (Prometheus) and / (the status page), read-only.
Use it for short-lived certificates: a 6-day certificate's ARI window is about 3 hours wide, which
a twice-daily cron line cannot hit. See docs/daemon.md.`,
  kubernetes: `kubernetes manifests writes, from the configuration: a ServiceAccount, a Role with exactly the
rules the configured plug-ins declare (what kubernetes check asks about), a RoleBinding, the
configuration as a ConfigMap (secrets only as files of Secrets you create: stderr says which), and
  --mode cronjob   a CronJob running renew twice a day at a time hashed from namespace and name (default)
  --mode daemon    a Deployment running certpilot daemon (renews each certificate at its time)
  --state secret   state in Secrets, no volume (default)    --state pvc   a PersistentVolumeClaim
  --serve          the http-01 responder: Deployment of 2, Service, PodDisruptionBudget, Ingress
One YAML stream on stdout, or with -o DIR a kustomize directory for kubectl apply -k.`,
  state: `A SPEC names a state store:
  dir:PATH                      a state directory in certbot layout (live/, archive/, accounts/…)
  kubernetes-secret:[NAMESPACE][?kubeconfig=FILE&context=NAME&secretPrefix=P&keepVersions=N]
                                Secrets in NAMESPACE (default: the service account's or the
                                kubeconfig context's), in the cluster by the pod's service account
  config                        the store the configuration names (stateStore, else stateDir)

Nothing is issued. Versions the target already holds with other content are never overwritten;
a target keeping fewer versions (Secrets: keepVersions) gets the live one and the newest earlier ones.
From a directory, certbot's accounts (accounts/SERVER/PATH/ID/) are copied too, as import certbot
reads them: one per CA (the one the renewal confs name). Each account and certificate is listed
(unchanged when the target held the same); one that cannot be copied (another account for that CA,
an unreadable one, a folder of no known layout) is named with the reason and the exit code is 1.`,
  status: `The rows are one snapshot of the state store (no CA request), the same one the metrics and the
status page read. Under the table, each certificate whose lock a run holds: its holder, since when,
its last renewal and expiry, and whether it is live (renewed every third of renewal.lockTtlSeconds)
or STALE (not renewed for two thirds of it: a killed run's), with the \`certpilot unlock NAME\`
that breaks a stale one (a warning on stderr too; the lock is read with the locker's own access). --html FILE writes the status page (static HTML, no JavaScript); --metrics-file
FILE writes the metrics for node_exporter's textfile collector. A warning on stderr names each
certificate whose renewal window the run cadence (renewal.runIntervalHours, or --run-interval-hours)
cannot land in, and what to do. See docs/metrics.md.`,
  unlock: `A run renews its certificate's lock (a lock file under stateDir, or a Lease) every third of
renewal.lockTtlSeconds. One killed with kill -9, or a pod lost with its node, leaves the lock held
until that TTL passes (15 min by default): runs meanwhile skip the certificate as locked.
\`certpilot status\` shows each held lock, its holder and whether it is live or stale (not renewed
for two thirds of its TTL); unlock breaks it:
  stale or expired   broken
  live               refused (ERR_LOCK_LIVE, exit 75) unless --force; the holder it is taken from
                     stops writing at its next heartbeat
It breaks only the lock it read: one renewed, released or taken by a new run meanwhile is left
(ERR_LOCK_CHANGED, exit 75). Nothing else changes: no state, no certificate, no CA request.`,
  serve: `Besides the challenge path and /healthz, /metrics answers Prometheus (challenge answers by hit,
miss and error; see docs/metrics.md).`,
  import: `Nothing is sent to the CA. The report goes to stderr, the certpilot.yaml for what was imported
to stdout (or both as one object with --json). The import writes into the configured state store
(stateDir, or stateStore: Secrets keep only keepVersions earlier versions; a directory keeps all
of certbot's). Running it again changes nothing; a certificate or account already in certpilot's
state with other content is skipped (exit 1), never overwritten. As root, certbot's directory and
its parents must not be writable by another user, and no symbolic link is followed except
certbot's own live/NAME/*.pem -> ../../archive/NAME/ links. Then stop certbot's renewals
(docs/migrating.md).`,
};

/** Examples that end each command's help (and the top-level one): what a user types first. */
const EXAMPLES: Readonly<Record<string, readonly string[]>> = {
  '': ['certpilot issue -d example.com -d www.example.com --email you@example.com --agree-tos', 'certpilot renew', 'certpilot status'],
  issue: ['certpilot issue -d example.com -d www.example.com --email you@example.com --agree-tos', 'certpilot issue -d example.com --webroot /var/www/html', 'certpilot issue --config /etc/certpilot/certpilot.yaml --name web --force'],
  renew: ['certpilot renew', 'certpilot renew --name web --force', 'certpilot renew --dry-run', 'certpilot renew --json > result.json', 'certpilot renew --metrics-file /var/lib/node_exporter/textfile/certpilot.prom'],
  deploy: ['certpilot deploy', 'certpilot deploy web --force'],
  cron: ['certpilot cron install', 'sudo certpilot cron install -u certpilot --config /etc/certpilot/certpilot.yaml', 'certpilot cron install --metrics-file /var/lib/prometheus/node-exporter/certpilot.prom', 'certpilot cron show'],
  status: ['certpilot status', 'certpilot status --name web --json', 'certpilot status --html /var/www/status/index.html --metrics-file /var/lib/node_exporter/textfile/certpilot.prom', 'certpilot status --run-interval-hours 12'],
  revoke: ['certpilot revoke web --reason superseded', 'certpilot revoke web --reason keyCompromise --with-certificate-key'],
  unlock: ['certpilot unlock www', 'certpilot unlock www --force --config /etc/certpilot/certpilot.yaml'],
  forget: ['certpilot forget example.com', 'certpilot forget www --state-dir /var/lib/certpilot'],
  account: ['certpilot account show', 'certpilot account update --email ops@example.com', 'certpilot account rollover'],
  config: ['certpilot config check', 'certpilot config check --json', 'certpilot config schema > certpilot.schema.json'],
  route53: ['certpilot route53 policy', 'certpilot route53 check dns'],
  kubernetes: [
    'certpilot kubernetes check',
    'certpilot kubernetes check web --config /etc/certpilot/certpilot.yaml',
    'certpilot kubernetes manifests --namespace web --image registry.example.com/certpilot:1.0 -o deploy/certpilot && kubectl apply -k deploy/certpilot',
    'certpilot kubernetes manifests --mode cronjob --state pvc --serve > certpilot.yaml',
  ],
  'dns-persist': ['certpilot dns-persist record', 'certpilot dns-persist record example.com --persist-until 2027-12-31', 'certpilot dns-persist record --apply --solver dns'],
  state: [
    'certpilot state copy --from dir:/etc/letsencrypt --to kubernetes-secret:certs',
    "certpilot state copy --from 'kubernetes-secret:certs?kubeconfig=./kubeconfig&context=prod' --to dir:./backup",
    'certpilot state copy --from dir:/var/lib/certpilot --to config',
  ],
  daemon: ['certpilot daemon --config /etc/certpilot/certpilot.yaml', 'certpilot daemon --log-format json', 'certpilot daemon --listen 127.0.0.1:9464'],
  import: [
    'certpilot import certbot --dry-run',
    'certpilot import certbot --config-dir /etc/letsencrypt > certpilot.yaml',
    'certpilot import files /srv/certs --name web --state-dir /var/lib/certpilot > certpilot.yaml',
  ],
  serve: ['certpilot serve --listen :8080 --solver pods --log-format json', 'certpilot serve --listen :8080 --redis-url redis://redis:6379', 'certpilot serve --thumbprint <from certpilot account show>'],
};

function examples(name: string): string {
  const list = Object.hasOwn(EXAMPLES, name) ? (EXAMPLES[name] ?? []) : [];
  return `Examples:\n${list.map((e) => `  ${e}`).join('\n')}`;
}

/** The commands a SIGINT/SIGTERM stops as their normal end (exit 0; a second signal exits at once, 130). */
const STOPPED_BY_SIGNAL: readonly string[] = ['daemon', 'serve'];

/** The exit codes and docs, as true for `name` (the top-level help: `undefined`). */
function footer(name?: string): string {
  // The daemon waits out what makes another command exit 75 (a rate limit, a hold, a silent CA, the
  // Kubernetes API server down): it never exits with it.
  if (name === 'daemon') {
    return `Exit codes: 0 stopped by SIGINT/SIGTERM (the work in flight stops cleanly), 1 failed to start, 2 usage or
configuration error at start (a --listen address in use too); a second signal: 130 at once. A rate limit,
a backoff, a CA or Kubernetes API server not answering: it waits and tries again, it does not exit.
Docs: README.md, docs/daemon.md, docs/config-reference.md, docs/errors.md`;
  }
  const stop = name !== undefined && STOPPED_BY_SIGNAL.includes(name)
    ? 'stopped by SIGINT/SIGTERM: 0 (the work in flight stops cleanly), a second signal: 130 at once'
    : '130 stopped by SIGINT/SIGTERM (challenges cleaned up, locks released)';
  return `Exit codes: 0 done, 1 failed, 2 usage or configuration error, 75 try again later (rate limit/backoff,
CA not answering, a lock no live run renews, Kubernetes API server unreachable); ${stop}.
Docs: README.md, docs/config-reference.md, docs/errors.md`;
}

/** The top-level help: commands and the flags every command takes. */
export function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((n) => n.length)) + 2;
  return `certpilot ${VERSION} — keeps TLS certificates issued, renewed and live (ACME, ARI, profiles)

Usage: certpilot <command> [options]     certpilot <command> --help for a command's own flags

Commands:
${Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}${c.summary}`).join('\n')}

Options of every command:
${flagHelp(undefined).join('\n')}

${footer()}

${examples('')}`;
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
${Object.hasOwn(COMMAND_NOTES, name) ? `\n${COMMAND_NOTES[name]}\n` : ''}
${footer(name)}

${examples(name)}`;
}

// parseArgs's own messages are about its API (positionals, `<value>`); say what the user typed wrong.
function parseError(err: unknown, argv: readonly string[]): CertpilotError {
  const command = argv.find((a) => !a.startsWith('-') && Object.hasOwn(COMMANDS, a));
  const hint = command ? `\`certpilot ${command} --help\` lists the flags it takes.` : '`certpilot --help` lists the commands, `certpilot <command> --help` their flags.';
  const message = (err as Error).message;
  const flag = /^Unknown option '([^']+)'/.exec(message)?.[1];
  if (flag) {
    // A misspelt long flag (`--stat-dir`) or short one (`-x`): the closest flag this command takes.
    const known = (Object.keys(FLAGS) as FlagName[]).map((n) => `--${n}`);
    const guess = flag.startsWith('--') ? didYouMean(flag.split('=')[0] ?? flag, known, (s) => s) : '';
    return new CertpilotError('ERR_CLI_USAGE', `cli: unknown flag ${flag}${command ? ` for ${command}` : ''}${guess}`, { cause: err, hint });
  }
  // `--config` at the end, or followed by another flag: parseArgs says "Option '-c, --config <value>' argument missing".
  const missing = /^Option '(?:-\w, )?--([\w-]+)[^']*' argument (?:missing|is ambiguous)/.exec(message)?.[1];
  if (missing && Object.hasOwn(FLAGS, missing)) {
    const spec = FLAGS[missing as FlagName];
    const value = 'value' in spec ? spec.value : 'VALUE';
    return new CertpilotError('ERR_CLI_USAGE', `cli: --${missing} needs a value (${value}), and none was given`, {
      cause: err,
      hint: `Write it as --${missing} ${value} (or --${missing}=${value}); a value that starts with "-" needs the = form.`,
    });
  }
  return new CertpilotError('ERR_CLI_USAGE', `cli: ${message.split('\n')[0] ?? ''}`, { cause: err, hint });
}

function unknownCommand(name: string): CertpilotError {
  return new CertpilotError('ERR_CLI_USAGE', `cli: unknown command "${name}"${didYouMean(name, Object.keys(COMMANDS))}`, { hint: `Use one of: ${Object.keys(COMMANDS).join(', ')}.` });
}

/** Runs the CLI; returns the exit code. Never throws. */
export async function main(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  printed: Output = processOutput,
  signal?: AbortSignal,
): Promise<number> {
  // Everything a command prints, results and errors, human and JSON, passes the one redaction.
  const output = redactedOutput(printed);
  let verbose = argv.includes('--verbose') || argv.includes('-v');
  // Known before parsing, so even a usage error is JSON for a program that asked for JSON.
  const json = argv.includes('--json');
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
    return report(err, verbose, output, json);
  }
}

/**
 * Prints an error with its code and hint on stderr (stack and causes only when verbose); with
 * `json`, also `{"error": {code, message, hint[, issues]}}` on stdout, so a program that asked for
 * JSON can parse the output of a failed run too.
 */
export function report(err: unknown, verbose: boolean, output: Output, json = false): number {
  if (json) {
    const e = err instanceof CertpilotError ? err : undefined;
    const body = e
      ? { code: e.code, message: e.message, hint: e.hint, ...(e instanceof ConfigError ? { issues: e.issues } : {}) }
      : { code: 'ERR_INTERNAL', message: err instanceof Error ? err.message : String(err), hint: 'Run again with --verbose and report the stack trace.' };
    output.out(JSON.stringify({ error: body }, null, 2));
  }
  if (err instanceof CertpilotError) {
    output.err(redactText(`error ${err.code}: ${err.message}`));
    output.err(`  hint: ${err.hint}`);
    if (verbose) {
      output.err(redactText(err.stack ?? ''));
      let cause = err.cause;
      while (cause) {
        output.err(redactText(`caused by: ${cause instanceof Error ? (cause.stack ?? cause.message) : String(cause)}`));
        cause = cause instanceof Error ? cause.cause : undefined;
      }
    }
    if (err instanceof ConfigError || USAGE_ERRORS.has(err.code)) return EXIT.usage;
    if (err.code === 'ERR_INTERRUPTED') return EXIT.interrupted;
    return isTemporaryError(err) ? EXIT.tempFail : EXIT.failed;
  }
  output.err(redactText(`error ERR_INTERNAL: ${err instanceof Error ? err.message : String(err)}`));
  output.err('  hint: Run again with --verbose and report the stack trace.');
  if (verbose && err instanceof Error) output.err(redactText(err.stack ?? ''));
  return EXIT.failed;
}
