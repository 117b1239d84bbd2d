/**
 * The one configuration schema (zod). Every field has a description and, where sensible, a default;
 * the JSON Schema for editors (`docs/certpilot.schema.json`) and the config reference
 * (`docs/config-reference.md`) are generated from it by `npm run docs`.
 */
import * as z from 'zod/mini';
import '../zod-english.js';
import type { PluginDefinition, PluginKind } from '../plugins/plugin.js';
import { CONFIG_SECTIONS, kindSpec, kindsInSection, sectionSpec, type PluginInstanceConfig, type SectionName, type SectionValue } from '../plugins/plugin-kinds.js';
import { findPlugin, pluginsOfKind } from '../plugins/registry.js';

/** Let's Encrypt production directory. */
export const LETSENCRYPT_DIRECTORY = 'https://acme-v02.api.letsencrypt.org/directory';
/** Let's Encrypt staging directory (used by `renew --dry-run` by default). */
export const LETSENCRYPT_STAGING_DIRECTORY = 'https://acme-staging-v02.api.letsencrypt.org/directory';

const keyType = z
  .enum(['ec-p256', 'ec-p384', 'rsa-2048', 'rsa-3072', 'rsa-4096'])
  .check(z.describe('Private key algorithm: ec-p256 (default, fast and widely supported), ec-p384, rsa-2048, rsa-3072 or rsa-4096.'));

const directoryAlias = z
  .string()
  .check(
    z.describe(
      'ACME directory URL, or one of the aliases `letsencrypt`, `letsencrypt-staging`. ' +
        'Any RFC 8555 CA works (ZeroSSL, Google Trust Services, Pebble, step-ca…).',
    ),
  );

/** Schema of the `acme` section. */
export const acmeSchema = z
  .strictObject({
    directoryUrl: z._default(directoryAlias, 'letsencrypt'),
    stagingDirectoryUrl: z
      .optional(directoryAlias)
      .check(z.describe('Directory used by `certpilot renew --dry-run`. Default: Let\'s Encrypt staging when directoryUrl is Let\'s Encrypt, else directoryUrl itself.')),
    email: z
      .optional(z.string().check(z.regex(/^[^\s@]+@[^\s@]+$/, { message: 'must be an e-mail address like admin@example.com' })))
      .check(z.describe('Contact address registered with the account (expiry and incident notices from the CA).')),
    termsOfServiceAgreed: z
      ._default(z.boolean(), false)
      .check(z.describe('Set to true to agree to the CA\'s terms of service (required by Let\'s Encrypt to create an account).')),
    accountKeyType: z._default(keyType, 'ec-p256').check(z.describe('Key algorithm of a new ACME account key.')),
    eab: z
      .optional(z.strictObject({
        kid: z.string().check(z.minLength(1), z.describe('Key identifier given by the CA.')),
        hmacKey: z.optional(z.string().check(z.minLength(1))).check(z.describe('Base64url HMAC key given by the CA. Prefer hmacKeyFile or CERTPILOT_EAB_HMAC_KEY_FILE: secrets do not belong in config files.')),
        hmacKeyFile: z.optional(z.string().check(z.minLength(1))).check(z.describe('File holding the base64url HMAC key.')),
      }))
      .check(z.describe('External account binding (RFC 8555 §7.3.4), for CAs that require it (ZeroSSL, Google, Sectigo).')),
    caBundle: z
      .optional(z.string())
      .check(z.describe('PEM file of extra root certificates to trust for the ACME server\'s own TLS (a private or test CA such as Pebble).')),
    preferredChain: z
      .optional(z.string())
      .check(z.describe('Common name of the root or intermediate issuer to prefer when the CA offers alternate chains, e.g. "ISRG Root X1".')),
    pollTimeoutSeconds: z
      ._default(z.number().check(z.int(), z.gte(5), z.lte(3600)), 120)
      .check(z.describe('Longest wait for one authorization or order to reach a final state.')),
    requestTimeoutSeconds: z
      ._default(z.number().check(z.int(), z.gte(1), z.lte(300)), 30)
      .check(
        z.describe(
          'Longest wait for the CA to answer one request (connecting included). A CA that accepts the connection and sends nothing in that time is not asked again for the next 2 minutes: every later request of the run to it fails at once with ERR_ACME_NO_ANSWER and the run exits 75, its certificates left as they are.',
        ),
      ),
    ari: z
      ._default(z.boolean(), true)
      .check(z.describe('Use ACME Renewal Information (RFC 9773) when the CA offers it: renew inside the CA\'s suggested window and send `replaces`.')),
  })
  .check(z.describe('The ACME CA and the account used with it.'));

/** Names of solver and deployer instances. */
const instanceName = z
  .string()
  .check(z.regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/, { message: 'must start with a letter or digit and use only letters, digits, "-" and "_" (at most 63)' }));

/** The keys of `entry` that are in `shape`. */
function pick(entry: Record<string, unknown>, shape: z.core.$ZodShape): Record<string, unknown> {
  return Object.fromEntries(Object.keys(shape).filter((k) => k in entry).map((k) => [k, entry[k]]));
}

/** One instance entry as written: `type` names the plug-in, the other keys are its options and its wrapper's. */
function entrySchema(plugin: PluginDefinition): z.ZodMiniObject {
  const wrapper = kindSpec(plugin.kind).wraps;
  return z
    .strictObject({ type: z.literal(plugin.id).check(z.describe(plugin.summary)), ...plugin.schema.shape, ...(wrapper?.shape ?? {}) })
    .check(z.describe(`\`type: ${plugin.id}\` (${plugin.kind}): ${plugin.summary}`));
}

/**
 * Splits a parsed entry into the plug-in's own options (parsed by its own schema, so its
 * cross-field rules such as the hook's "one string only with shell: true" run) and the wrapper's
 * options: the typed, normalized {@link PluginInstanceConfig} compose hands to each factory.
 */
function normalizeInstance(entry: { type: string } & Record<string, unknown>, kinds: PluginKind[], ctx: z.core.ParsePayload): PluginInstanceConfig {
  // A zod/mini transform reports a problem by adding it to the payload's issues (mini has no
  // ctx.addIssue); the parse then fails and the value returned is dropped. (Not `z.NEVER`: reached
  // through zod/mini's index, it makes esbuild put zod's JSON Schema generator, 31 KB, in the
  // chunk every command loads.)
  const problem = (path: PropertyKey[], message: string): void => void ctx.issues.push({ code: 'custom', path, message, input: entry });
  const plugin = findPlugin(entry.type, ...kinds);
  if (!plugin) {
    problem(['type'], `no plug-in "${entry.type}"`);
    return undefined as never;
  }
  const own = plugin.schema.safeParse(pick(entry, plugin.schema.shape));
  if (!own.success) {
    for (const issue of own.error.issues) problem(issue.path, issue.message);
    return undefined as never;
  }
  const wrapper = kindSpec(plugin.kind).wraps;
  return { type: plugin.id, kind: plugin.kind, options: own.data, ...(wrapper ? { wrapper: pick(entry, wrapper.shape) } : {}) } as PluginInstanceConfig;
}

/** The plug-in ids a configuration names, per section; a section left out allows every plug-in of its kinds. */
export type PluginUseSet = Partial<Record<SectionName, ReadonlySet<string>>>;

/** The instance schema of each section, keyed by section. */
export type InstanceSchemas = Readonly<Partial<Record<SectionName, z.ZodMiniType<PluginInstanceConfig>>>>;

/**
 * One instance of a section: a union over the registered plug-ins of the section's kinds (from the
 * table), discriminated by `type`, normalized; undefined when no plug-in of those kinds exists.
 * With `use`, the union holds only those plug-ins (their schemas alone are built): for a value
 * whose every `type` is one of them it parses exactly as the full union does.
 */
function instanceSchemaOf(section: SectionName, use?: ReadonlySet<string>): z.ZodMiniType<PluginInstanceConfig> | undefined {
  const kinds = kindsInSection(section);
  const plugins = kinds.flatMap((kind) => pluginsOfKind(kind));
  if (plugins.length === 0) return undefined;
  const [first, ...rest] = plugins.filter((p) => !use || use.has(p.id)).map(entrySchema);
  // No entry of the section names a plug-in: an empty map parses, and an entry cannot occur.
  if (!first) return z.never() as unknown as z.ZodMiniType<PluginInstanceConfig>;
  const noun = sectionSpec(section).noun;
  return z
    .pipe(
      z.discriminatedUnion('type', [first, ...rest]),
      z.transform((entry, ctx) => normalizeInstance(entry as { type: string } & Record<string, unknown>, kinds, ctx)),
    )
    .check(z.describe(`A ${noun}: \`type\` is the plug-in (see docs/plugins.md), the other keys its options.`)) as unknown as z.ZodMiniType<PluginInstanceConfig>;
}

function instanceSchemasOf(use?: PluginUseSet): InstanceSchemas {
  return Object.fromEntries(
    (Object.keys(CONFIG_SECTIONS) as SectionName[]).flatMap((s) => {
      const schema = instanceSchemaOf(s, use?.[s]);
      return schema ? [[s, schema]] : [];
    }),
  );
}

/** The schema of each plug-in section: a map of named instances, or one instance with its default. */
function sectionSchemas(instances: InstanceSchemas): { [S in SectionName]: z.ZodMiniType<SectionValue<S>> } {
  const out: Record<string, z.ZodMiniType> = {};
  for (const [section, instance] of Object.entries(instances) as [SectionName, z.ZodMiniType][]) {
    const spec = sectionSpec(section);
    out[section] =
      spec.shape === 'named'
        ? z.prefault(z.record(instanceName, instance), {}).check(z.describe(spec.description))
        : z.prefault(instance, spec.default ?? {}).check(z.describe(spec.description));
  }
  return out as { [S in SectionName]: z.ZodMiniType<SectionValue<S>> };
}

const solverSelectorSchema = z
  .strictObject({
    names: z.optional(z.array(z.string())).check(z.describe('Names of the certificate this entry covers, exactly as listed in `domains` (e.g. `*.example.com`).')),
    zones: z.optional(z.array(z.string())).check(z.describe('DNS zones: covers every name of the certificate equal to or below one of them (a wildcard by its base name).')),
    solver: instanceName.check(z.describe('The solver (a name under `solvers`) for the names matched.')),
  })
  .check(z.describe('Which solver proves some of the names.'));

/** Schema of one certificate entry. */
export const certificateSchema = z
  .strictObject({
    name: z
      .optional(z.string().check(z.regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/, {
        message: 'must start with a letter or digit and use only letters, digits, ".", "-" and "_"',
      })))
      .check(z.describe('Name of the certificate: its folder under `live/` and its lock. Default: the first domain (`*.` becomes `_wildcard.`).')),
    domains: z
      .array(z.string())
      .check(z.describe('DNS names (wildcards like `*.example.com` allowed with dns-01) and IP addresses the certificate covers. The first is the subject common name.')),
    keyType: z.optional(keyType).check(z.describe('Overrides `defaults.keyType`.')),
    reuseKey: z.optional(z.boolean()).check(z.describe('Overrides `defaults.reuseKey`.')),
    profile: z.optional(z.string()).check(z.describe('Overrides `defaults.profile`.')),
    solver: z.optional(instanceName).check(z.describe('The solver (a name under `solvers`) that proves every name no `solvers` entry matches. Overrides `defaults.solver`.')),
    solvers: z
      .optional(z.array(solverSelectorSchema))
      .check(z.describe('Per-name solver choice, first match wins (cert-manager style selectors): e.g. the wildcard through dns-01, the other names through http-01.')),
    deploy: z
      .optional(z.array(instanceName))
      .check(z.describe('Deployers (names under `deployers`) run in this order after each new version, and retried on the next run when one failed. Overrides `defaults.deploy`.')),
    notify: z
      .optional(z.array(instanceName))
      .check(z.describe('Notifiers (names under `notifiers`) told about this certificate\'s runs (each filters by its own `on`). Overrides `defaults.notify`; `[]` for none.')),
  })
  .check(z.describe('A certificate to keep issued and renewed.'));

/** The schema of the whole file, with the instance schemas given. */
function buildConfigSchema(instances: InstanceSchemas) {
  return z
    .strictObject({
      stateDir: z
        ._default(z.string(), '/var/lib/certpilot')
        .check(z.describe('Directory for accounts, certificates (certbot `live/` + `archive/` layout) and renewal state when `stateStore` is `filesystem` (the default); locks and caches are always here. Put it on a persistent volume when it holds the state.')),
      logLevel: z._default(z.enum(['trace', 'debug', 'info', 'warn', 'error', 'silent']), 'warn').check(z.describe('Log level of the log lines on standard error (plain text; JSON lines with --log-format json or CERTPILOT_LOG_FORMAT=json).')),
      acme: z.prefault(acmeSchema, {}),
      ...sectionSchemas(instances),
      defaults: z
        .prefault(z.strictObject({
          keyType: z._default(keyType, 'ec-p256'),
          reuseKey: z._default(z.boolean(), false).check(z.describe('Keep the private key across renewals (needed for key pinning); default is a fresh key each time.')),
          profile: z.optional(z.string()).check(z.describe('ACME profile to order (e.g. Let\'s Encrypt `tlsserver`, `shortlived` for 6-day certificates); must be one the CA lists.')),
          solver: z._default(instanceName, 'default').check(z.describe('The solver of every certificate that names none.')),
          deploy: z._default(z.array(instanceName), []).check(z.describe('The deployers of every certificate that lists none.')),
          notify: z._default(z.array(instanceName), []).check(z.describe('The notifiers of every certificate that lists none.')),
        }), {})
        .check(z.describe('Defaults for every certificate.')),
      renewal: z
        .prefault(z.strictObject({
          concurrency: z._default(z.number().check(z.int(), z.gte(1), z.lte(64)), 4).check(z.describe('How many certificates `renew` handles at once.')),
          lockTtlSeconds: z._default(z.number().check(z.int(), z.gte(30)), 900).check(z.describe('How long a renewal lock lives if its holder dies.')),
          runIntervalHours: z
            .optional(z.number().check(z.positive(), z.lte(168)))
            .check(z.describe('How often `renew` runs (your cron line or CronJob schedule). A renewal whose chosen time falls before the next run is done now rather than a run late (RFC 9773 §4.2). Unset: decide on the chosen time alone.')),
          retention: z
            .prefault(z.strictObject({
              keepVersions: z._default(z.number().check(z.int(), z.gte(1), z.lte(10_000)), 10).check(z.describe('Always keep at least this many of the newest versions (the live one counts).')),
              keepDays: z._default(z.number().check(z.int(), z.gte(0), z.lte(36_500)), 30).check(z.describe('Always keep every version issued less than this many days ago.')),
            }), {})
            .check(z.describe('How long the archive (`archive/<name>/`) keeps old versions: a version is removed after a new one is saved only when it is outside both limits and no deployer still holds it (its deploy record names it). A `shortlived` certificate adds about 60 versions a year.')),
        }), {})
        .check(z.describe('How renewals run.')),
      certificates: z._default(z.array(certificateSchema), []).check(z.describe('The certificates to manage.')),
    })
    .check(z.describe('certpilot configuration file (YAML).'));
}

/** The configuration schema with its instance schemas. */
export interface ConfigSchemas {
  readonly config: ReturnType<typeof buildConfigSchema>;
  readonly instances: InstanceSchemas;
}

let full: ConfigSchemas | undefined;
const subsets = new Map<string, ConfigSchemas>();

function schemas(use?: PluginUseSet): ConfigSchemas {
  const instances = instanceSchemasOf(use);
  return { config: buildConfigSchema(instances), instances };
}

/**
 * The whole configuration schema, every plug-in's options included (built on first call): what
 * the JSON Schema and the config reference are generated from, and what reports a `type` no
 * plug-in has.
 */
export function configSchema(): ConfigSchemas['config'] {
  return fullSchemas().config;
}

/** {@link configSchema} and the instance schema of every section, built once. */
export function fullSchemas(): ConfigSchemas {
  return (full ??= schemas());
}

/**
 * The schemas to validate `value` (a configuration as written) with: built from only the plug-ins
 * its entries name (and the built-in and default instances'), so a command never builds the option
 * schemas of plug-ins it does not use. Any entry whose `type` is missing or names no plug-in of
 * its section gets {@link fullSchemas}, so errors list every valid type as before. For a value
 * both accept, both give the same result.
 */
export function schemasFor(value: unknown): ConfigSchemas {
  const use = pluginUse(value);
  if (!use) return fullSchemas();
  const key = (Object.keys(use) as SectionName[]).map((s) => `${s}=${[...(use[s] ?? [])].sort().join(',')}`).join(';');
  let found = subsets.get(key);
  if (!found) subsets.set(key, (found = schemas(use)));
  return found;
}

/** The plug-in ids `value` names per section, or undefined when an entry names none that exists. */
function pluginUse(value: unknown): PluginUseSet | undefined {
  const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  const root = isObject(value) ? value : {};
  const use: Partial<Record<SectionName, Set<string>>> = {};
  for (const section of Object.keys(CONFIG_SECTIONS) as SectionName[]) {
    const spec = sectionSpec(section);
    const ids = new Set(kindsInSection(section).flatMap((k) => pluginsOfKind(k).map((p) => p.id)));
    const used = new Set<string>();
    for (const entry of Object.values(spec.builtIn ?? {})) used.add(entry.type);
    if (spec.default) used.add(spec.default.type);
    const given = root[section];
    const entries = given === undefined ? [] : spec.shape === 'named' ? (isObject(given) ? Object.values(given) : undefined) : [given];
    if (!entries) return undefined;
    for (const entry of entries) {
      const type = isObject(entry) ? entry.type : undefined;
      if (typeof type !== 'string' || !ids.has(type)) return undefined;
      used.add(type);
    }
    use[section] = used;
  }
  return use;
}

/** The configuration as written (before defaults). */
export type ConfigInput = z.input<ConfigSchemas['config']>;
/** The configuration after validation and defaults, before normalization. */
export type ParsedConfig = z.output<ConfigSchemas['config']>;
/** Aliases of well-known ACME directories. */
export const DIRECTORY_ALIASES: Readonly<Record<string, string>> = {
  letsencrypt: LETSENCRYPT_DIRECTORY,
  'letsencrypt-staging': LETSENCRYPT_STAGING_DIRECTORY,
};
