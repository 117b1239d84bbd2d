/**
 * The one table of command-line flags. Each flag is declared once: its `parseArgs` type, its help
 * line, which commands take it, how a number is checked, and where its value lands in the
 * {@link ConfigOverrides} handed to the configuration loader. The parser, the usage text of every
 * command, the "this command does not take that flag" check and the overrides are all derived from
 * it, so a new flag is one entry here, and a new command's own flags are entries naming that
 * command (its line in `COMMANDS` in main.ts is the other half).
 */
import type { ParseArgsConfig } from 'node:util';
import type { ConfigOverrides } from '../config/load-config.js';
import { CertpilotError } from '../errors.js';

/** Every command takes the flag (global and configuration flags). */
export const EVERY_COMMAND = '*';

/** One flag. */
export interface FlagSpec {
  /** The `parseArgs` type. */
  readonly type: 'string' | 'boolean';
  /** One-letter alias. */
  readonly short?: string;
  /** Repeatable; the value is a list. */
  readonly multiple?: boolean;
  /** Placeholder of the value in help, e.g. `FILE`. */
  readonly value?: string;
  /** The help line. */
  readonly help: string;
  /**
   * The help line in the help of one command, where that command uses the flag its own way (a
   * command's help never describes what the flag does for another command).
   */
  readonly helpFor?: Readonly<Record<string, string>>;
  /** Command names that take it, or {@link EVERY_COMMAND}. */
  readonly commands: readonly string[] | typeof EVERY_COMMAND;
  /** A whole number in this range; the parsed value is a number. */
  readonly integer?: { readonly min: number; readonly max: number };
  /** Only meaningful together with this other flag (a usage error otherwise). */
  readonly requires?: string;
  /** As `requires`, for one command only (`config check --name` means something only with -d). */
  readonly requiresFor?: Readonly<Record<string, string>>;
  /** The configuration field the value sets, by dotted path (flags beat environment and file). */
  readonly config?: string;
  /** For flags that do more than set one field: puts the value into the configuration overrides. */
  readonly override?: (o: ConfigOverrides, value: never, values: RawValues) => void;
}

/** The checked values as overrides see them (untyped: the typed form is derived from the table). */
export type RawValues = Readonly<Record<string, string | string[] | boolean | number | undefined>>;

const text = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

/** The flags, in the order help lists them. */
export const FLAGS = {
  config: { type: 'string', short: 'c', value: 'FILE', commands: EVERY_COMMAND, help: 'YAML configuration (default $CERTPILOT_CONFIG, else ./certpilot.yaml if present)' },
  'state-dir': { type: 'string', value: 'DIR', commands: EVERY_COMMAND, help: 'accounts, certificates and renewal state (default /var/lib/certpilot)', config: 'stateDir' },
  directory: { type: 'string', value: 'URL', commands: EVERY_COMMAND, help: 'ACME directory URL, or letsencrypt | letsencrypt-staging', config: 'acme.directoryUrl' },
  'ca-bundle': { type: 'string', value: 'FILE', commands: EVERY_COMMAND, help: 'extra PEM roots to trust for the ACME server (private or test CA)', config: 'acme.caBundle' },
  email: { type: 'string', value: 'ADDRESS', commands: EVERY_COMMAND, help: 'account contact', config: 'acme.email' },
  'agree-tos': { type: 'boolean', commands: EVERY_COMMAND, help: "agree to the CA's terms of service", config: 'acme.termsOfServiceAgreed' },
  domain: {
    type: 'string', short: 'd', multiple: true, value: 'NAME', commands: ['issue', 'status', 'config'],
    help: "a name for a one-off certificate (repeat); replaces the file's list",
    override: (o, domains: string[], v) => {
      const names = Array.isArray(v.name) ? v.name : [];
      if (names.length > 1) throw new CertpilotError('ERR_CLI_USAGE', 'cli: -d makes one certificate, so give at most one --name');
      const [name] = names;
      const keyType = text(v['key-type']);
      const profile = text(v.profile);
      o.certificate = {
        domains,
        ...(name ? { name } : {}),
        ...(keyType ? { keyType } : {}),
        ...(profile ? { profile } : {}),
        ...(v['reuse-key'] === true ? { reuseKey: true } : {}),
      };
    },
  },
  name: {
    type: 'string', short: 'n', multiple: true, value: 'NAME', commands: ['issue', 'renew', 'deploy', 'status', 'revoke', 'forget', 'unlock', 'config', 'import'],
    requiresFor: { config: 'domain' },
    help: 'which certificates to act on (repeat)',
    helpFor: {
      issue: "which configured certificates to issue (repeat; default all); with -d: the one-off certificate's name",
      renew: 'which certificates to renew (repeat; default all that are due)',
      deploy: 'which certificates to deploy (repeat; same as NAME…; default all)',
      status: 'which certificates to show (repeat; default all)',
      revoke: 'the certificate to revoke (same as NAME)',
      forget: 'the one-off certificate to stop renewing (same as NAME)',
      unlock: 'the certificate whose lock to break (same as NAME)',
      config: "with -d: the one-off certificate's name",
      import: 'import files: the name to import the certificate under',
    },
  },
  'key-type': { type: 'string', value: 'TYPE', commands: ['issue', 'status', 'config'], requires: 'domain', help: 'with -d: ec-p256 | ec-p384 | rsa-2048 | rsa-3072 | rsa-4096' },
  profile: { type: 'string', value: 'NAME', commands: ['issue', 'status', 'config'], requires: 'domain', help: 'with -d: ACME profile, e.g. shortlived' },
  'reuse-key': { type: 'boolean', commands: ['issue', 'status', 'config'], requires: 'domain', help: 'with -d: keep the private key across renewals' },
  force: {
    type: 'boolean', commands: ['issue', 'renew', 'deploy', 'unlock', 'cron'],
    help: "renew even when not due, despite a failure backoff (never before a CA's Retry-After)",
    helpFor: {
      cron: 'install: install the line even when the user of -u cannot read the configuration or write the state directory or log',
      issue: "issue a new certificate even when the live one is not due, despite a failure backoff (never before a CA's Retry-After)",
      deploy: 'run every deployer again, also those that already hold the live version',
      unlock: 'break the lock even while its holder still renews it (that run stops writing at its next heartbeat)',
    },
  },
  'dry-run': {
    type: 'boolean', commands: ['renew', 'import'],
    help: "renew against the CA's staging directory and discard the result",
    helpFor: { import: 'read, check and report only; write nothing' },
  },
  'config-dir': { type: 'string', value: 'DIR', commands: ['import'], help: "import certbot: certbot's configuration directory (default /etc/letsencrypt)" },
  concurrency: { type: 'string', value: 'N', commands: ['issue', 'renew'], integer: { min: 1, max: 64 }, help: 'certificates renewed at once (default from config, 4)' },
  'http-01-port': {
    type: 'string', value: 'PORT', commands: ['issue', 'renew', 'config'], integer: { min: 1, max: 65535 },
    help: 'standalone http-01 listener port (default 80)', override: (o, v: number) => void (o.http01Port = v),
  },
  'http-01-address': { type: 'string', value: 'ADDR', commands: ['issue', 'renew', 'config'], help: 'standalone http-01 listener address (default all)', override: (o, v: string) => void (o.http01Host = v) },
  webroot: { type: 'string', short: 'w', value: 'DIR', commands: ['issue', 'renew', 'config'], help: 'answer http-01 by writing files under DIR instead (solver `default`)', override: (o, v: string) => void (o.webroot = v) },
  reason: { type: 'string', value: 'NAME', commands: ['revoke'], help: 'unspecified | keyCompromise | superseded | cessationOfOperation' },
  'with-certificate-key': { type: 'boolean', commands: ['revoke'], help: "sign the revocation with the certificate's own key" },
  user: { type: 'string', short: 'u', value: 'USER', commands: ['cron'], help: 'the crontab of USER (as root) instead of your own' },
  'log-file': { type: 'string', value: 'FILE', commands: ['cron'], help: "where each run's output is appended (default <stateDir>/renew.log)" },
  listen: {
    type: 'string', value: 'HOST:PORT', commands: ['serve', 'daemon'],
    help: 'where the responder listens (default 0.0.0.0:8080; [::]:8080, :8080)',
    helpFor: { daemon: 'serve /metrics and the status page / read-only here (e.g. 127.0.0.1:9464; default: not served)' },
  },
  solver: {
    type: 'string', value: 'NAME', commands: ['serve', 'dns-persist'],
    help: 'read tokens through this redis solver',
    helpFor: { 'dns-persist': 'record --apply: write through this DNS solver (route53, rfc2136)' },
  },
  apply: { type: 'boolean', commands: ['dns-persist'], requires: 'solver', help: 'dns-persist record: write each record once through --solver' },
  'persist-until': { type: 'string', value: 'DATE', commands: ['dns-persist'], help: 'dns-persist record: the CA stops accepting the record after DATE (ISO 8601 or UNIX seconds)' },
  issuer: { type: 'string', value: 'NAME', commands: ['dns-persist'], help: "dns-persist record: the issuer domain name to use (default the CA directory's first)" },
  'redis-url': { type: 'string', value: 'URL', commands: ['serve'], help: 'read tokens from this Redis instead (password: $CERTPILOT_REDIS_PASSWORD_FILE)' },
  'redis-prefix': { type: 'string', value: 'PREFIX', commands: ['serve'], requires: 'redis-url', help: 'key prefix with --redis-url (default .well-known/acme-challenge/)' },
  'allow-host': { type: 'string', multiple: true, value: 'NAME', commands: ['serve'], help: 'answer only these Host names (repeat; *.example.com allowed)' },
  'cache-misses-ms': { type: 'string', value: 'MS', commands: ['serve'], integer: { min: 0, max: 5000 }, help: 'remember a token the store does not have this long, so a scanner costs one read per token (default 0: off; a token written meanwhile is answered 404 until it ends)' },
  'cache-hits-ms': { type: 'string', value: 'MS', commands: ['serve'], integer: { min: 0, max: 60000 }, help: 'keep a token found in the store this long, so a burst of validations costs one read (default 1000; 0: off)' },
  thumbprint: { type: 'string', value: 'T', commands: ['serve'], help: 'stateless mode: answer <token>.T for every token (T from `certpilot account show`)' },
  'metrics-file': {
    type: 'string', value: 'FILE', commands: ['issue', 'renew', 'status', 'cron'],
    help: "also write Prometheus metrics to FILE (node_exporter's textfile format, replaced atomically; see docs/metrics.md)",
    helpFor: { cron: "install: the line's renew also writes Prometheus metrics to FILE (node_exporter's textfile directory; see docs/metrics.md)" },
  },
  html: { type: 'string', value: 'FILE', commands: ['status'], help: 'also write the status page (static HTML, no JavaScript) to FILE' },
  'run-interval-hours': {
    type: 'string', value: 'H', commands: ['status'], integer: { min: 1, max: 168 },
    help: 'how often renew runs, for the cadence check (default renewal.runIntervalHours)',
  },
  json: { type: 'boolean', commands: ['issue', 'renew', 'deploy', 'status', 'unlock', 'account', 'config', 'state', 'import'], help: 'machine-readable output' },
  from: { type: 'string', value: 'SPEC', commands: ['state'], help: 'state copy: the store to read (dir:PATH | kubernetes-secret:[NS][?kubeconfig=FILE&context=NAME&secretPrefix=P&keepVersions=N] | config)' },
  to: { type: 'string', value: 'SPEC', commands: ['state'], help: 'state copy: the store to write (same forms as --from)' },
  mode: { type: 'string', value: 'MODE', commands: ['kubernetes'], help: 'manifests: cronjob (default: `renew` on a schedule) | daemon (a Deployment running `certpilot daemon`)' },
  state: { type: 'string', value: 'STORE', commands: ['kubernetes'], help: 'manifests: secret (default: state in Secrets, no volume) | pvc (a PersistentVolumeClaim, the deck\'s way)' },
  serve: { type: 'boolean', commands: ['kubernetes'], help: 'manifests: also the http-01 responder (Deployment of 2, Service, PodDisruptionBudget, Ingress)' },
  output: { type: 'string', short: 'o', value: 'DIR', commands: ['kubernetes'], help: 'manifests: write a kustomize directory (kustomization.yaml) instead of one YAML stream on stdout' },
  namespace: { type: 'string', value: 'NS', commands: ['kubernetes'], help: 'manifests: the namespace certpilot runs in (default: the plug-ins\' namespace, else default)' },
  image: { type: 'string', value: 'IMAGE', commands: ['kubernetes'], help: 'manifests: the certpilot image (default certpilot:VERSION; build it with the Dockerfile and push it where the cluster pulls)' },
  'aws-role-arn': { type: 'string', value: 'ARN', commands: ['kubernetes'], help: 'manifests: IAM role for route53 through IRSA (the ServiceAccount annotation; no key in any manifest)' },
  verbose: {
    type: 'boolean', short: 'v', commands: EVERY_COMMAND, help: 'debug logs and stack traces',
    override: (o, v: boolean, values) => void (v && values['log-level'] === undefined && (o.set = { ...o.set, logLevel: 'debug' })),
  },
  'log-level': { type: 'string', value: 'LEVEL', commands: EVERY_COMMAND, help: 'trace | debug | info | warn | error | silent', config: 'logLevel' },
  'log-format': { type: 'string', value: 'FORMAT', commands: EVERY_COMMAND, help: 'human | json log lines on stderr (default $CERTPILOT_LOG_FORMAT, else human; json with --json when stderr is no terminal)' },
  help: { type: 'boolean', short: 'h', commands: EVERY_COMMAND, help: 'this help' },
  version: { type: 'boolean', commands: EVERY_COMMAND, help: "certpilot's version" },
} as const satisfies Record<string, FlagSpec>;

/** A flag's name. */
export type FlagName = keyof typeof FLAGS;

type ValueOf<F> = F extends { type: 'boolean' } ? boolean : F extends { multiple: true } ? string[] : F extends { integer: object } ? number : string;

/** Parsed command-line values: numbers already checked and converted. */
export type CliValues = { -readonly [K in FlagName]?: ValueOf<(typeof FLAGS)[K]> };

/** The table as `parseArgs` options. */
export const PARSE_OPTIONS: ParseArgsConfig['options'] = Object.fromEntries(
  Object.entries(FLAGS as Record<string, FlagSpec>).map(([name, f]) => [name, { type: f.type, ...(f.short ? { short: f.short } : {}), ...(f.multiple ? { multiple: true } : {}) }]),
);

/** True when `command` takes `flag`. */
export function takesFlag(command: string, flag: FlagName): boolean {
  const commands = (FLAGS[flag] as FlagSpec).commands;
  return commands === EVERY_COMMAND || commands.includes(command);
}

/** How a flag is written in messages and help: `-d, --domain NAME`. */
export function flagLabel(flag: FlagName, withValue = false): string {
  const f: FlagSpec = FLAGS[flag];
  const long = `--${flag}${withValue && f.value ? ` ${f.value}` : ''}`;
  return f.short ? `-${f.short}, ${long}` : `    ${long}`;
}

/** The help lines of the flags `command` takes (all flags when it is undefined, the global ones first). */
export function flagHelp(command: string | undefined): string[] {
  const names = (Object.keys(FLAGS) as FlagName[]).filter((n) => (command === undefined ? (FLAGS[n] as FlagSpec).commands === EVERY_COMMAND : takesFlag(command, n)));
  const labels = names.map((n) => flagLabel(n, true));
  const width = Math.max(...labels.map((l) => l.length)) + 2;
  return names.map((n, i) => `  ${(labels[i] ?? '').padEnd(width)}${flagHelpLine(n, command)}`);
}

/** A flag's help line as `command` uses it (its own line when the table has one). */
export function flagHelpLine(flag: FlagName, command: string | undefined): string {
  const spec: FlagSpec = FLAGS[flag];
  return command !== undefined && spec.helpFor && Object.hasOwn(spec.helpFor, command) ? (spec.helpFor[command] ?? spec.help) : spec.help;
}

/**
 * Checks the raw parsed values for `command`: every flag given belongs to it, numbers are whole
 * and in range, flags that need another have it. Returns the typed values; throws ERR_CLI_USAGE
 * naming the flag (as the user wrote it) and the command.
 */
export function checkValues(command: string, raw: Record<string, unknown>, written: ReadonlyMap<string, string>): CliValues {
  const values: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(raw)) {
    if (value === undefined) continue;
    const flag = name as FlagName;
    const spec: FlagSpec = FLAGS[flag];
    const as = label(flag, written);
    if (!takesFlag(command, flag)) {
      throw new CertpilotError('ERR_CLI_USAGE', `cli: ${command} does not take ${as}`, { hint: `\`certpilot ${command} --help\` lists the flags it takes.` });
    }
    if (spec.integer) {
      const text = String(value);
      const n = /^\d+$/.test(text) ? Number(text) : NaN;
      if (!Number.isSafeInteger(n) || n < spec.integer.min || n > spec.integer.max) {
        throw new CertpilotError('ERR_CLI_USAGE', `cli: ${as} must be a whole number from ${spec.integer.min} to ${spec.integer.max}, not "${text}"`, {
          hint: `Give ${as} digits only, between ${spec.integer.min} and ${spec.integer.max}.`,
        });
      }
      values[name] = n;
    } else {
      values[name] = value;
    }
  }
  for (const name of Object.keys(values)) {
    const spec: FlagSpec = FLAGS[name as FlagName];
    const requires = spec.requiresFor?.[command] ?? spec.requires;
    if (requires && values[requires] === undefined) {
      throw new CertpilotError('ERR_CLI_USAGE', `cli: ${label(name as FlagName, written)} only applies with ${label(requires as FlagName, new Map())}`, {
        hint: spec.requiresFor?.[command]
          ? `With ${command}, it names the certificate given with --${requires}; leave it out otherwise.`
          : `Set it in the configuration file for configured certificates, or add --${requires}.`,
      });
    }
  }
  return values as CliValues;
}

// A flag as the user wrote it, with the long name when they used the short one: `-d (--domain)`.
function label(flag: FlagName, written: ReadonlyMap<string, string>): string {
  const spec: FlagSpec = FLAGS[flag];
  const as = written.get(flag) ?? (spec.short ? `-${spec.short}` : `--${flag}`);
  return as === `--${flag}` ? as : `${as} (--${flag})`;
}

/** The configuration overrides the given flags make, in table order. */
export function overridesOf(values: CliValues): ConfigOverrides {
  const o: ConfigOverrides = {};
  for (const [name, spec] of Object.entries(FLAGS) as [FlagName, FlagSpec][]) {
    const value = values[name];
    if (value === undefined || value === '' || value === false) continue;
    if (spec.config) o.set = { ...o.set, [spec.config]: value };
    spec.override?.(o, value as never, values as RawValues);
  }
  return o;
}
