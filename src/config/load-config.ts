/**
 * The config pipeline (DESIGN.md §4, changesets `packages/config`): read → parse YAML → expand
 * environment variables → validate (zod) → apply env and flag overrides → normalize → cross-field
 * rules → a frozen {@link ResolvedConfig}, or one {@link ConfigError} listing every problem.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { Identifier } from '../challenges/challenge-solver.js';
import { CertpilotError, ConfigError, type ConfigIssue } from '../errors.js';
import { closestMatch, didYouMean } from '../did-you-mean.js';
import type { KeyType } from '../storage/certificate-store.js';
import { formatPath, interpolateEnv } from './interpolate.js';
import { checkDomains, defaultCertificateName, ipVersion, normalizeDomain, toIdentifier } from './rules.js';
import { challengeTypeOf } from '../plugins/plugin.js';
import { CONFIG_SECTIONS, kindsInSection, sectionSpec, type PluginInstanceConfig, type ResolvedSections, type SectionName } from '../plugins/plugin-kinds.js';
import { IP_CHALLENGE_TYPES, WILDCARD_CHALLENGE_TYPES } from '../challenges/challenge-solver.js';
import { findPlugin } from '../plugins/registry.js';
import type * as z from 'zod/mini';
import { certificateSchema, DIRECTORY_ALIASES, fullSchemas, LETSENCRYPT_DIRECTORY, LETSENCRYPT_STAGING_DIRECTORY, type InstanceSchemas, type ParsedConfig, schemasFor } from './schema.js';

export type { PluginInstanceConfig } from '../plugins/plugin-kinds.js';

/** One certificate, resolved: defaults applied, names normalized. */
export interface ResolvedCertificate {
  name: string;
  /** Normalized names in configured order (lowercase, no duplicates). */
  domains: string[];
  identifiers: Identifier[];
  keyType: KeyType;
  reuseKey: boolean;
  profile?: string;
  /** The solver instance (a key of {@link ResolvedConfig.solvers}) of each name, by normalized name. */
  solvers: Readonly<Record<string, string>>;
  /** The deployer instances (keys of {@link ResolvedConfig.deployers}) run in order after a new version. */
  deploy: readonly string[];
  /** The notifier instances (keys of {@link ResolvedConfig.notifiers}) told about its runs. */
  notify?: readonly string[];
  /**
   * A digest (never the values: options may hold secrets) of every setting outside the certificate
   * a fix could change: the directory URL, the CA bundle, and each option of its solvers and
   * deployers. Part of the backoff fingerprint, so changing any of them clears a failure backoff.
   */
  settings?: string;
  /**
   * A one-off certificate: given with `certpilot issue -d`, or remembered from such a run in the
   * state store (`RenewalState.oneOff`); not listed in the configuration.
   */
  oneOff?: boolean;
  /**
   * Resolved from a record in the state store (`renew`, the daemon), not given by this run's
   * `issue -d`: a record gone since (`certpilot forget`) means it is no longer renewed.
   */
  fromRecord?: boolean;
}

/**
 * The validated, normalized, frozen configuration every component is built from. Its plug-in
 * sections (`solvers`, `deployers`, `locker`, `stateStore`…: one per section of the table of kinds) hold typed
 * {@link PluginInstanceConfig}s: each plug-in's own options apart from its wrapper's.
 */
export interface ResolvedConfig extends ResolvedSections {
  /** The file it came from, when any. */
  source?: string;
  /** Relative paths in plug-in options resolve against this: the file's directory, else the working directory. */
  baseDir: string;
  stateDir: string;
  logLevel: ParsedConfig['logLevel'];
  acme: Omit<ParsedConfig['acme'], 'eab' | 'caBundle' | 'stagingDirectoryUrl'> & {
    /** Directory for dry runs (resolved: never undefined). */
    stagingDirectoryUrl: string;
    /** EAB with the HMAC key read (from the file, env or config). Never logged. */
    eab?: { kid: string; hmacKey: string };
    /** Extra PEM roots from `caBundle`, read. */
    caCertificates: string[];
    caBundle?: string;
  };
  defaults: ParsedConfig['defaults'];
  renewal: ParsedConfig['renewal'];
  certificates: ResolvedCertificate[];
}

/** Values set on the command line; they win over the environment and the file. */
export interface ConfigOverrides {
  /**
   * Fields set directly, by dotted path (`acme.email`, `stateDir`): a flag that sets one field
   * declares its path in the CLI's flag table and lands here, so it needs no code of its own.
   */
  set?: Readonly<Record<string, unknown>>;
  http01Port?: number;
  http01Host?: string;
  webroot?: string;
  /** A one-off certificate from flags (`certpilot issue -d …`); replaces the file's list. */
  certificate?: { name?: string; domains: string[]; keyType?: string; profile?: string; reuseKey?: boolean };
}

/** Where to read the configuration from. */
export interface LoadConfigOptions {
  /** Path of the YAML file; when absent only defaults, env and overrides apply. */
  file?: string;
  /** The file's text, when the caller has it already (the manifests generator's adjusted copy); `file` still names it and is the base of relative paths. */
  text?: string;
  /** The environment (process.env at the CLI). */
  env: Readonly<Record<string, string | undefined>>;
  /** Base for relative paths when there is no file. */
  cwd: string;
  overrides?: ConfigOverrides;
  /**
   * The manifests generator's reading: variables known only in the pods, each given in `env` as its
   * placeholder text (variable → placeholder). A placeholder standing alone in a field whose schema
   * refuses it (a number, a boolean, a format such as an octal mode) is left out here (the field's
   * default stands in; the pods' loader reads and checks the real value), and `deferred` hears of
   * each such field.
   */
  podVariables?: { placeholders: ReadonlyMap<string, string>; deferred?: (path: string, variable: string) => void };
}

/** Environment variables read directly (besides `${…}` references in the file). */
export const CONFIG_ENV_VARIABLES: Readonly<Record<string, string>> = {
  CERTPILOT_CONFIG: 'Path of the configuration file (like --config).',
  CERTPILOT_STATE_DIR: 'Overrides stateDir.',
  CERTPILOT_DIRECTORY_URL: 'Overrides acme.directoryUrl.',
  CERTPILOT_EMAIL: 'Overrides acme.email.',
  CERTPILOT_CA_BUNDLE: 'Overrides acme.caBundle.',
  CERTPILOT_LOG_LEVEL: 'Overrides logLevel.',
  CERTPILOT_EAB_KID: 'Overrides acme.eab.kid.',
  CERTPILOT_EAB_HMAC_KEY: 'The EAB HMAC key (prefer the _FILE form).',
  CERTPILOT_EAB_HMAC_KEY_FILE: 'File holding the EAB HMAC key.',
};

/** The variables of {@link CONFIG_ENV_VARIABLES} that set one field, and its dotted path. */
const ENV_SETTINGS: Readonly<Record<string, string>> = {
  CERTPILOT_STATE_DIR: 'stateDir',
  CERTPILOT_LOG_LEVEL: 'logLevel',
  CERTPILOT_DIRECTORY_URL: 'acme.directoryUrl',
  CERTPILOT_EMAIL: 'acme.email',
  CERTPILOT_CA_BUNDLE: 'acme.caBundle',
  CERTPILOT_EAB_KID: 'acme.eab.kid',
};

/**
 * Where a field's value came from when not from the file: ` (given on the command line)` or
 * ` (from CERTPILOT_…)`, so a bad `--key-type` is not looked for in a file that is fine.
 */
function originOf(o: ConfigOverrides, env: LoadConfigOptions['env']): (path: string) => string {
  const under = (path: string, prefix: string): boolean => path === prefix || path.startsWith(`${prefix}.`) || path.startsWith(`${prefix}[`);
  const flags = Object.keys(o.set ?? {}).filter((k) => o.set?.[k] !== undefined && o.set[k] !== '');
  if (o.webroot !== undefined || o.http01Port !== undefined || o.http01Host !== undefined) flags.push('solvers.default');
  return (path) => {
    if (o.certificate && under(path, 'certificates[0]')) return ' (given on the command line: -d and the flags with it)';
    if (flags.some((k) => under(path, k))) return ' (given on the command line)';
    const variable = Object.entries(ENV_SETTINGS).find(([name, k]) => env[name] !== undefined && env[name] !== '' && under(path, k))?.[0];
    return variable ? ` (from ${variable})` : '';
  };
}

/** Loads and validates the configuration; throws ConfigError with every problem found. */
export async function loadConfig(options: LoadConfigOptions): Promise<ResolvedConfig> {
  const issues: ConfigIssue[] = [];
  const source = options.file ? resolve(options.cwd, options.file) : undefined;
  const baseDir = source ? dirname(source) : options.cwd;

  let raw: unknown = {};
  if (source) {
    let text: string;
    try {
      text = options.text ?? (await readFile(source, 'utf8'));
    } catch (err) {
      throw new CertpilotError('ERR_CONFIG_NOT_FOUND', `config: cannot read ${source}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { cause: err });
    }
    // Imported here, so a configuration made of flags alone never loads a YAML parser.
    const { parseYaml } = await import('./parse-yaml.js');
    raw = await parseYaml(text, source);
    // An empty file is a mistake, never "all defaults": `certpilot import … -c c.yaml > c.yaml` has
    // the shell empty the file before certpilot reads it, and the run would use the built-in state
    // directory and CA (Let's Encrypt production).
    if (raw === null || raw === undefined) {
      throw new CertpilotError('ERR_CONFIG_INVALID', `config: ${source} is empty${text.trim() === '' ? '' : ' (only comments)'}: nothing in it says which CA, state directory or certificates to use`, {
        hint: `Write the configuration into it (docs/getting-started.md), or leave out --config to run from flags alone. A file written by \`certpilot import … > ${source}\` while the same file was given with --config is emptied by the shell before certpilot reads it: write to another file.`,
      });
    }
  }

  // Paths whose value is one whole `${NAME}`: read as a number or a boolean where the schema wants one.
  const whole = new Map<string, string>();
  const expanded = interpolateEnv(raw ?? {}, options.env, issues, [], undefined, whole);
  // A field whose variable is unset gets that one problem, not the follow-on ones its empty value causes.
  const envCount = issues.length;
  const envPaths = new Set(issues.map((i) => i.path));
  const report = (): ConfigError => {
    const seen = new Set<string>();
    const kept = issues.filter((i, index) => {
      const key = `${i.path}\u0000${i.message}`;
      if (seen.has(key)) return false;
      seen.add(key);
      return index < envCount || !envPaths.has(i.path);
    });
    const from = originOf(options.overrides ?? {}, options.env);
    return new ConfigError(kept.map((i) => ({ ...i, message: `${i.message}${from(i.path)}` })), source ? { source } : {});
  };
  const applied = applyOverrides(expanded, options.env, options.overrides ?? {});
  const schemas = schemasFor(applied);
  let parsed = schemas.config.safeParse(applied, { reportInput: true });
  for (let round = 0; !parsed.success && round < 8 && typedFromVariables(parsed.error.issues, applied, whole, options.podVariables); round++) {
    parsed = schemas.config.safeParse(applied, { reportInput: true });
  }
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const variable = issue.code === 'invalid_type' && typeof issue.input === 'string' ? whole.get(formatPath(issue.path)) : undefined;
      // Never the value itself: a variable may hold a secret.
      const expected = issue.code === 'invalid_type' ? issue.expected : undefined;
      const message = variable !== undefined ? `must be a ${expected}, and the value of \${${variable}} is not one; fix the variable${expected === 'boolean' ? ' (true or false)' : ''}` : explainZodIssue(issue);
      issues.push({ path: formatPath(issue.path), message: issue.code === 'unrecognized_keys' ? await withSuggestions(message, issue, applied) : message });
    }
    // Every problem at once: the cross-field rules still run over the parts that did parse, so a
    // typo in one field does not hide a bad domain name in another.
    const partial = parsePartially(applied);
    if (partial) await normalize(partial, baseDir, options.env, issues).catch(() => undefined);
    throw report();
  }
  const resolved = await normalize(parsed.data, baseDir, options.env, issues, schemas.instances);
  if (issues.length > 0) throw report();
  if (source) resolved.source = source;
  const oneOff = options.overrides?.certificate ? resolved.certificates[0] : undefined;
  if (oneOff) oneOff.oneOff = true;
  return deepFreeze(resolved);
}

type Mutable = Record<string, unknown>;

const NUMBER_TEXT = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;

/**
 * Where the schema wants a number or a boolean and finds the text of one whole `${NAME}` (`whole`),
 * that text read as YAML would read it (`30`, `true`); a pod's placeholder in any field that refuses
 * it is left out instead (see {@link LoadConfigOptions.podVariables}). Changes `root` in place; true when anything changed.
 */
function typedFromVariables(
  issues: readonly { code: string; path: readonly PropertyKey[]; expected?: string; input?: unknown }[],
  root: unknown,
  whole: ReadonlyMap<string, string>,
  pod: LoadConfigOptions['podVariables'],
): boolean {
  let changed = false;
  const placeholders = new Set(pod?.placeholders.values() ?? []);
  for (const issue of issues) {
    if (typeof issue.input !== 'string') continue;
    const typedField = issue.code === 'invalid_type' && (issue.expected === 'number' || issue.expected === 'boolean');
    // A pod's placeholder fails any field with a format of its own (a number, an octal mode): the pods check the real value.
    if (!typedField && !placeholders.has(issue.input.trim())) continue;
    const path = issue.path as readonly (string | number)[];
    const at = formatPath(path);
    const variable = whole.get(at);
    const key = path.at(-1);
    let parent: unknown = root;
    for (const part of path.slice(0, -1)) parent = (parent as Mutable | undefined)?.[part as string];
    if (variable === undefined || key === undefined || parent === null || typeof parent !== 'object' || (parent as Mutable)[key as string] !== issue.input) continue;
    const text = issue.input.trim();
    if (placeholders.has(text) && typeof key === 'string' && !Array.isArray(parent)) {
      delete (parent as Mutable)[key];
      pod?.deferred?.(at, variable);
      changed = true;
      continue;
    }
    if (!typedField) continue;
    const typed = issue.expected === 'number' ? (NUMBER_TEXT.test(text) ? Number(text) : undefined) : text === 'true' ? true : text === 'false' ? false : undefined;
    if (typed === undefined) continue;
    (parent as Mutable)[key as string] = typed;
    changed = true;
  }
  return changed;
}

function section(root: Mutable, key: string): Mutable {
  const existing = root[key];
  if (existing && typeof existing === 'object' && !Array.isArray(existing)) return existing as Mutable;
  const created: Mutable = {};
  root[key] = created;
  return created;
}

function applyOverrides(value: unknown, env: LoadConfigOptions['env'], o: ConfigOverrides): unknown {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return value;
  const root = structuredClone(value) as Mutable;
  const set = (target: Mutable, key: string, v: unknown): void => {
    if (v !== undefined && v !== '') target[key] = v;
  };
  const setPath = (path: string, v: unknown): void => {
    if (v === undefined || v === '') return; // an unset variable or flag creates no section
    const keys = path.split('.');
    const last = keys.pop() as string;
    set(keys.reduce((target, key) => section(target, key), root), last, v);
  };
  // Environment first, then flags on top.
  for (const [variable, path] of Object.entries(ENV_SETTINGS)) setPath(path, env[variable]);
  for (const [path, v] of Object.entries(o.set ?? {})) setPath(path, v);
  // The flags reshape the solver named `default` (the one certificates use unless they name one).
  if (o.webroot) {
    section(root, 'solvers').default = { type: 'webroot', path: o.webroot };
  } else if (o.http01Port !== undefined || o.http01Host !== undefined) {
    const solvers = section(root, 'solvers');
    const current = solvers.default;
    const base = current && typeof current === 'object' && (current as Mutable).type === 'standalone' ? (current as Mutable) : { type: 'standalone' };
    const next: Mutable = { ...base };
    set(next, 'port', o.http01Port);
    set(next, 'host', o.http01Host);
    solvers.default = next;
  }
  if (o.certificate) {
    const c: Mutable = { domains: o.certificate.domains };
    set(c, 'name', o.certificate.name);
    set(c, 'keyType', o.certificate.keyType);
    set(c, 'profile', o.certificate.profile);
    if (o.certificate.reuseKey !== undefined) c.reuseKey = o.certificate.reuseKey;
    root.certificates = [c];
  }
  return root;
}

function resolveDirectory(value: string, path: string, issues: ConfigIssue[]): string {
  const url = DIRECTORY_ALIASES[value] ?? value;
  if (!/^https?:\/\/[^\s/]+/.test(url)) {
    issues.push({ path, message: `"${value}" is neither an http(s) URL nor one of ${Object.keys(DIRECTORY_ALIASES).join(', ')}` });
  }
  return url;
}

async function readSecretFile(file: string, path: string, issues: ConfigIssue[]): Promise<string | undefined> {
  try {
    return (await readFile(file, 'utf8')).trim();
  } catch (err) {
    issues.push({ path, message: `cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'}); check the path and its permissions` });
    return undefined;
  }
}

async function normalize(
  c: ParsedConfig,
  baseDir: string,
  env: LoadConfigOptions['env'],
  issues: ConfigIssue[],
  instances: InstanceSchemas = fullSchemas().instances,
): Promise<ResolvedConfig> {
  const { eab, caBundle, ...acmeRest } = c.acme;
  const directoryUrl = resolveDirectory(c.acme.directoryUrl, 'acme.directoryUrl', issues);
  const acme: ResolvedConfig['acme'] = {
    ...acmeRest,
    directoryUrl,
    // Dry runs go to Let's Encrypt staging for Let's Encrypt, else to the same CA.
    stagingDirectoryUrl: c.acme.stagingDirectoryUrl
      ? resolveDirectory(c.acme.stagingDirectoryUrl, 'acme.stagingDirectoryUrl', issues)
      : directoryUrl === LETSENCRYPT_DIRECTORY
        ? LETSENCRYPT_STAGING_DIRECTORY
        : directoryUrl,
    caCertificates: [],
  };
  if (caBundle) {
    acme.caBundle = resolve(baseDir, caBundle);
    const pem = await readSecretFile(acme.caBundle, 'acme.caBundle', issues);
    if (pem !== undefined) {
      const certs = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
      if (certs.length === 0) issues.push({ path: 'acme.caBundle', message: `${acme.caBundle} holds no PEM certificate` });
      acme.caCertificates = certs;
    }
  }
  if (eab || env.CERTPILOT_EAB_HMAC_KEY || env.CERTPILOT_EAB_HMAC_KEY_FILE) {
    const kid = eab?.kid;
    let hmacKey = env.CERTPILOT_EAB_HMAC_KEY || eab?.hmacKey;
    const keyFile = env.CERTPILOT_EAB_HMAC_KEY_FILE || eab?.hmacKeyFile;
    if (!hmacKey && keyFile) hmacKey = await readSecretFile(resolve(baseDir, keyFile), 'acme.eab.hmacKeyFile', issues);
    if (!kid) issues.push({ path: 'acme.eab.kid', message: 'is required with an EAB HMAC key; copy the key ID from your CA account page' });
    else if (!hmacKey) issues.push({ path: 'acme.eab.hmacKeyFile', message: 'EAB needs an HMAC key: set acme.eab.hmacKeyFile or CERTPILOT_EAB_HMAC_KEY_FILE' });
    else if (!/^[A-Za-z0-9_-]+={0,2}$/.test(hmacKey)) issues.push({ path: 'acme.eab.hmacKey', message: 'is not base64url text; paste the key exactly as the CA shows it' });
    else acme.eab = { kid, hmacKey };
  }

  const sections = withBuiltIns(c, instances);
  const solvers: Readonly<Record<string, PluginInstanceConfig>> = sections.solvers;
  const deployers: Readonly<Record<string, PluginInstanceConfig>> = sections.deployers;

  // Certificates with the same solvers and deployers share one digest: computed once per
  // combination, not once per certificate (1000 certificates: ~90 ms of a `status`; bench/findings.md).
  const digests = new Map<string, string>();
  const digestOf = (solverNames: string[], deployerNames: string[]): string => {
    const key = JSON.stringify([solverNames, deployerNames]);
    let digest = digests.get(key);
    if (digest === undefined) {
      digest = settingsDigest({
        directoryUrl,
        caBundle: acme.caBundle ?? null,
        solvers: Object.fromEntries(solverNames.map((n) => [n, solvers[n] ?? null])),
        deployers: deployerNames.map((n) => [n, deployers[n] ?? null]),
      });
      digests.set(key, digest);
    }
    return digest;
  };
  const names = new Map<string, number>();
  const certificates = c.certificates.map((cert, index): ResolvedCertificate => {
    const path = `certificates[${index}]`;
    const domains = checkDomains(cert.domains, 'dns-01', `${path}.domains`, issues);
    const name = cert.name ?? (domains[0] ? defaultCertificateName(domains[0]) : `certificate-${index}`);
    const previous = names.get(name);
    if (previous !== undefined) {
      issues.push({ path: `${path}.name`, message: `"${name}" is also the name of certificates[${previous}]; give each certificate its own name` });
    } else names.set(name, index);
    const profile = cert.profile ?? c.defaults.profile;
    const deploy = cert.deploy ?? c.defaults.deploy;
    deploy.forEach((d, i) => {
      if (!deployers[d]) {
        issues.push({ path: cert.deploy ? `${path}.deploy[${i}]` : `defaults.deploy[${i}]`, message: unknownInstance('deployer', d, deployers) });
      }
    });
    const notify = cert.notify ?? c.defaults.notify;
    notify.forEach((n, i) => {
      if (!sections.notifiers[n]) {
        issues.push({ path: cert.notify ? `${path}.notify[${i}]` : `defaults.notify[${i}]`, message: unknownInstance('notifier', n, sections.notifiers) });
      }
    });
    const chosen = chooseSolvers(domains, cert, c.defaults.solver, solvers, path, issues);
    const unique = [...new Set(deploy)];
    return {
      name,
      domains,
      identifiers: domains.map(toIdentifier),
      keyType: cert.keyType ?? c.defaults.keyType,
      reuseKey: cert.reuseKey ?? c.defaults.reuseKey,
      ...(profile ? { profile } : {}),
      solvers: chosen,
      deploy: unique,
      notify: [...new Set(notify)],
      settings: digestOf([...new Set(Object.values(chosen))].sort(), unique),
    };
  });

  return {
    baseDir,
    stateDir: resolve(baseDir, c.stateDir),
    logLevel: c.logLevel,
    acme,
    ...sections,
    defaults: c.defaults,
    renewal: c.renewal,
    certificates,
  };
}

/** A short digest of `value` with object keys sorted (the same settings give the same digest in any order). */
function settingsDigest(value: unknown): string {
  const canonical = (v: unknown): unknown =>
    Array.isArray(v) ? v.map(canonical) : v && typeof v === 'object' ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, x]) => [k, canonical(x)])) : v;
  return createHash('sha256').update(JSON.stringify(canonical(value))).digest('hex').slice(0, 32);
}

/** Each named section with its built-in instances (the `default` solver) unless the file defines them. */
function withBuiltIns(c: ParsedConfig, instances: InstanceSchemas): ResolvedSections {
  const out: Record<string, unknown> = {};
  for (const section of Object.keys(CONFIG_SECTIONS) as SectionName[]) {
    const spec = sectionSpec(section);
    const given = c[section] as unknown;
    if (spec.shape === 'named' && spec.builtIn) {
      const builtIn = Object.fromEntries(Object.entries(spec.builtIn).map(([name, entry]) => [name, instances[section]?.parse(entry)]));
      out[section] = { ...builtIn, ...(given as Record<string, PluginInstanceConfig>) };
    } else out[section] = given;
  }
  return out as unknown as ResolvedSections;
}

/** An instance entry that did not parse: it exists (no "unknown solver" noise) but has no plug-in. */
const INVALID_ENTRY = { type: '(invalid)', kind: undefined, options: {} } as const;

/**
 * The configuration section by section, each part that parses kept and each that does not
 * replaced by its default (a certificate by a hole, an instance by a placeholder), for the
 * cross-field rules after a schema failure.
 */
/**
 * Parses `value`, dropping unknown fields (already reported) until it parses; undefined when it
 * still does not. The parts that are only misspelt keep their other fields for the rules.
 */
function parseLeniently<T>(schema: z.ZodMiniType<T>, value: unknown): T | undefined {
  const current = value === undefined ? undefined : structuredClone(value);
  for (let attempt = 0; attempt < 4; attempt++) {
    const r = schema.safeParse(current);
    if (r.success) return r.data;
    const unknown = r.error.issues.filter((i) => i.code === 'unrecognized_keys');
    if (unknown.length === 0) return undefined;
    for (const issue of unknown) {
      let target: unknown = current;
      for (const key of issue.path) target = (target as Mutable | undefined)?.[key as string];
      if (target && typeof target === 'object') for (const key of (issue as { keys?: string[] }).keys ?? []) delete (target as Mutable)[key];
    }
  }
  return undefined;
}

function parsePartially(value: unknown): ParsedConfig | undefined {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
  const raw = value as Mutable;
  const { config, instances } = fullSchemas();
  const shape = config.shape;
  const out: Mutable = {};
  const named = (key: string): key is SectionName => key in CONFIG_SECTIONS && sectionSpec(key as SectionName).shape === 'named';
  for (const [key, schema] of Object.entries(shape) as [string, z.ZodMiniType][]) {
    if (named(key) || key === 'certificates') continue;
    out[key] = parseLeniently(schema, raw[key]) ?? schema.safeParse(undefined).data;
  }
  for (const [key, entry] of Object.entries(instances) as [SectionName, z.ZodMiniType][]) {
    if (!named(key)) continue;
    const entries: Mutable = {};
    const given = raw[key];
    if (given && typeof given === 'object' && !Array.isArray(given)) {
      for (const [name, v] of Object.entries(given as Mutable)) entries[name] = parseLeniently(entry, v) ?? INVALID_ENTRY;
    }
    out[key] = entries;
  }
  const certs: ParsedConfig['certificates'] = [];
  if (Array.isArray(raw.certificates)) {
    certs.length = raw.certificates.length;
    raw.certificates.forEach((c, i) => {
      const parsed = parseLeniently(certificateSchema, c);
      if (parsed) certs[i] = parsed; // a hole otherwise: map() skips it and keeps the indexes
    });
  }
  out.certificates = certs;
  return out as ParsedConfig;
}

function unknownInstance(kind: 'solver' | 'deployer' | 'notifier', name: string, defined: Record<string, unknown>): string {
  const list = Object.keys(defined);
  return `"${name}" is not a ${kind} defined under \`${kind}s\`${didYouMean(name, list)}; ${list.length ? `defined: ${list.join(', ')}` : `define it under ${kind}s: (see docs/plugins.md)`}`;
}

/**
 * The solver of each name: the first `solvers` selector that matches it, else the certificate's
 * (or the default) solver. Checks every reference, that wildcards go to a DNS-based solver (dns-01,
 * dns-account-01, dns-persist-01) and IP addresses to an http-01 or tls-alpn-01 one, and that `names` only lists names of the certificate.
 */
function chooseSolvers(
  domains: readonly string[],
  cert: ParsedConfig['certificates'][number],
  defaultSolver: string,
  solvers: Readonly<Record<string, PluginInstanceConfig>>,
  path: string,
  issues: ConfigIssue[],
): Record<string, string> {
  const fallback = cert.solver ?? defaultSolver;
  const fallbackPath = cert.solver ? `${path}.solver` : 'defaults.solver';
  const known = (solver: string, at: string): boolean => {
    if (solvers[solver]) return true;
    issues.push({ path: at, message: unknownInstance('solver', solver, solvers) });
    return false;
  };
  const selectors = (cert.solvers ?? []).map((sel, i) => {
    const at = `${path}.solvers[${i}]`;
    const ok = known(sel.solver, `${at}.solver`);
    const listed = (sel.names ?? []).map(normalizeDomain);
    listed.forEach((n, j) => {
      if (!domains.includes(n)) issues.push({ path: `${at}.names[${j}]`, message: `"${n}" is not one of the certificate's domains (${domains.join(', ')})` });
    });
    const zones = (sel.zones ?? []).map(normalizeDomain);
    if (listed.length === 0 && zones.length === 0) issues.push({ path: at, message: 'needs `names` or `zones` to say which names it covers' });
    return { ok, solver: sel.solver, names: listed, zones };
  });
  const fallbackOk = known(fallback, fallbackPath);
  const chosen: Record<string, string> = {};
  domains.forEach((domain, index) => {
    const base = domain.replace(/^\*\./, '');
    const selector = selectors.find((s) => s.names.includes(domain) || s.zones.some((z) => base === z || base.endsWith(`.${z}`)));
    const solver = selector ? selector.solver : fallback;
    chosen[domain] = solver;
    if (!(selector ? selector.ok : fallbackOk)) return;
    const plugin = findPlugin(solvers[solver]?.type ?? '', ...kindsInSection('solvers'));
    if (!plugin) return; // an entry that did not parse: its own problem is reported already
    const type = challengeTypeOf(plugin, solvers[solver]?.wrapper as Readonly<{ challenge?: unknown }> | undefined);
    if (domain.startsWith('*.') && !(type && WILDCARD_CHALLENGE_TYPES.includes(type))) {
      issues.push({
        path: `${path}.domains[${index}]`,
        message: `"${domain}" is a wildcard, which only dns-01, dns-account-01 or dns-persist-01 can prove (RFC 8555 §7.1.3), but its solver "${solver}" answers ${type ?? 'no challenge'}; give it a DNS solver (e.g. solvers: [{ names: ["${domain}"], solver: <a route53, rfc2136 or dns-persist solver> }])`,
      });
    } else if (ipVersion(domain) !== 0 && !(type && IP_CHALLENGE_TYPES.includes(type))) {
      issues.push({
        path: `${path}.domains[${index}]`,
        message: `"${domain}" is an IP address, which ${type ?? 'its solver'} cannot prove (RFC 8738: only http-01 and tls-alpn-01); give it an http-01 or tls-alpn solver`,
      });
    }
  });
  return chosen;
}

/**
 * `unknown field(s) "emial"` plus `(did you mean "email"?)` for each misspelt key: the known fields
 * of the object at that path, read from the configuration's JSON Schema (loaded only on this error
 * path; a plug-in entry's fields are those of the plug-in its `type` names).
 */
async function withSuggestions(message: string, issue: { path: PropertyKey[]; keys?: string[] }, input: unknown): Promise<string> {
  const { configFieldsAt } = await import('./reference.js');
  const known = configFieldsAt(issue.path, input);
  const hints = (issue.keys ?? []).flatMap((key) => {
    const match = closestMatch(key, known);
    return match === undefined ? [] : [(issue.keys ?? []).length === 1 ? `did you mean "${match}"?` : `"${key}": did you mean "${match}"?`];
  });
  if (hints.length > 0) return message.replace(/; check the spelling/, `; ${hints.join('; ')} Check the spelling`);
  // Nothing close (`address` for `host`): the fields there are few enough to list.
  const fields = known.filter((k) => k !== 'type');
  if (fields.length > 0 && fields.length <= 12) return message.replace(/; check the spelling/, `; the fields here are ${fields.map((k) => `"${k}"`).join(', ')}. Check the spelling`);
  return message;
}

/** Turns a zod issue into a sentence that says what to write instead. */
function explainZodIssue(issue: { code: string; message: string; keys?: string[]; values?: unknown[]; expected?: string; input?: unknown }): string {
  switch (issue.code) {
    case 'unrecognized_keys':
      return `unknown field(s) ${(issue.keys ?? []).map((k) => `"${k}"`).join(', ')}; check the spelling against docs/config-reference.md`;
    case 'invalid_value':
      return `must be one of ${(issue.values ?? []).map((v) => JSON.stringify(v)).join(', ')}`;
    case 'invalid_union': {
      // A solver or deployer entry whose `type` names no plug-in of that kind.
      const types = [...issue.message.matchAll(/'([^']+)'/g)].map((m) => m[1]);
      const given = (issue.input as { type?: unknown } | undefined)?.type;
      const hint = typeof given === 'string' ? didYouMean(given, types.filter((t): t is string => t !== undefined)) : '';
      if (types.length > 0) return `is not a plug-in of this kind${hint}; use one of ${types.join(', ')} (see docs/plugins.md)`;
      return issue.message;
    }
    case 'invalid_type':
      if (issue.expected === 'never') return 'no plug-in of this kind is registered in this version of certpilot';
      return /received undefined/.test(issue.message)
        ? `is required (${issue.expected === 'array' ? 'a list' : `a ${issue.expected ?? 'value'}`})`
        : `must be ${issue.expected === 'array' ? 'a list' : `a ${issue.expected ?? 'different type'}`} (${issue.message.replace(/^Invalid input: /, '')})`;
    default:
      return issue.message;
  }
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const item of Object.values(value)) deepFreeze(item);
    Object.freeze(value);
  }
  return value;
}
