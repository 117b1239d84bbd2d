/**
 * The one configuration schema (zod). Every field has a description and, where sensible, a default;
 * the JSON Schema for editors (`docs/certpilot.schema.json`) and the config reference
 * (`docs/config-reference.md`) are generated from it by `npm run docs`.
 */
import { z } from 'zod';
import type { PluginDefinition, PluginKind } from '../plugins/plugin.js';
import { CONFIG_SECTIONS, kindSpec, kindsInSection, sectionSpec, type PluginInstanceConfig, type SectionName, type SectionValue } from '../plugins/plugin-kinds.js';
import { findPlugin, pluginsOfKind } from '../plugins/registry.js';

/** Let's Encrypt production directory. */
export const LETSENCRYPT_DIRECTORY = 'https://acme-v02.api.letsencrypt.org/directory';
/** Let's Encrypt staging directory (used by `renew --dry-run` by default). */
export const LETSENCRYPT_STAGING_DIRECTORY = 'https://acme-staging-v02.api.letsencrypt.org/directory';

const keyType = z
  .enum(['ec-p256', 'ec-p384', 'rsa-2048', 'rsa-3072', 'rsa-4096'])
  .describe('Private key algorithm: ec-p256 (default, fast and widely supported), ec-p384, rsa-2048, rsa-3072 or rsa-4096.');

const directoryAlias = z
  .string()
  .describe(
    'ACME directory URL, or one of the aliases `letsencrypt`, `letsencrypt-staging`. ' +
      'Any RFC 8555 CA works (ZeroSSL, Google Trust Services, Pebble, step-ca…).',
  );

/** Schema of the `acme` section. */
export const acmeSchema = z
  .strictObject({
    directoryUrl: directoryAlias.default('letsencrypt'),
    stagingDirectoryUrl: directoryAlias
      .optional()
      .describe('Directory used by `certpilot renew --dry-run`. Default: Let\'s Encrypt staging when directoryUrl is Let\'s Encrypt, else directoryUrl itself.'),
    email: z
      .string()
      .regex(/^[^\s@]+@[^\s@]+$/, { message: 'must be an e-mail address like admin@example.com' })
      .optional()
      .describe('Contact address registered with the account (expiry and incident notices from the CA).'),
    termsOfServiceAgreed: z
      .boolean()
      .default(false)
      .describe('Set to true to agree to the CA\'s terms of service (required by Let\'s Encrypt to create an account).'),
    accountKeyType: keyType.default('ec-p256').describe('Key algorithm of a new ACME account key.'),
    eab: z
      .strictObject({
        kid: z.string().min(1).describe('Key identifier given by the CA.'),
        hmacKey: z
          .string()
          .min(1)
          .optional()
          .describe('Base64url HMAC key given by the CA. Prefer hmacKeyFile or CERTPILOT_EAB_HMAC_KEY_FILE: secrets do not belong in config files.'),
        hmacKeyFile: z.string().min(1).optional().describe('File holding the base64url HMAC key.'),
      })
      .optional()
      .describe('External account binding (RFC 8555 §7.3.4), for CAs that require it (ZeroSSL, Google, Sectigo).'),
    caBundle: z
      .string()
      .optional()
      .describe('PEM file of extra root certificates to trust for the ACME server\'s own TLS (a private or test CA such as Pebble).'),
    preferredChain: z
      .string()
      .optional()
      .describe('Common name of the root or intermediate issuer to prefer when the CA offers alternate chains, e.g. "ISRG Root X1".'),
    pollTimeoutSeconds: z
      .number()
      .int()
      .min(5)
      .max(3600)
      .default(120)
      .describe('Longest wait for one authorization or order to reach a final state.'),
    ari: z
      .boolean()
      .default(true)
      .describe('Use ACME Renewal Information (RFC 9773) when the CA offers it: renew inside the CA\'s suggested window and send `replaces`.'),
  })
  .describe('The ACME CA and the account used with it.');

/** Names of solver and deployer instances. */
const instanceName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/, { message: 'must start with a letter or digit and use only letters, digits, "-" and "_" (at most 63)' });

/** The keys of `entry` that are in `shape`. */
function pick(entry: Record<string, unknown>, shape: z.ZodRawShape): Record<string, unknown> {
  return Object.fromEntries(Object.keys(shape).filter((k) => k in entry).map((k) => [k, entry[k]]));
}

/** One instance entry as written: `type` names the plug-in, the other keys are its options and its wrapper's. */
function entrySchema(plugin: PluginDefinition): z.ZodObject {
  const wrapper = kindSpec(plugin.kind).wraps;
  return z
    .strictObject({ type: z.literal(plugin.id).describe(plugin.summary), ...plugin.schema.shape, ...(wrapper?.shape ?? {}) })
    .describe(`\`type: ${plugin.id}\` (${plugin.kind}): ${plugin.summary}`);
}

/**
 * Splits a parsed entry into the plug-in's own options (parsed by its own schema, so its
 * cross-field rules such as the hook's "one string only with shell: true" run) and the wrapper's
 * options: the typed, normalized {@link PluginInstanceConfig} compose hands to each factory.
 */
function normalizeInstance(entry: { type: string } & Record<string, unknown>, kinds: PluginKind[], ctx: z.RefinementCtx): PluginInstanceConfig {
  const plugin = findPlugin(entry.type, ...kinds);
  if (!plugin) {
    ctx.addIssue({ code: 'custom', path: ['type'], message: `no plug-in "${entry.type}"` });
    return z.NEVER;
  }
  const own = plugin.schema.safeParse(pick(entry, plugin.schema.shape));
  if (!own.success) {
    for (const issue of own.error.issues) ctx.addIssue({ code: 'custom', path: issue.path, message: issue.message });
    return z.NEVER;
  }
  const wrapper = kindSpec(plugin.kind).wraps;
  return { type: plugin.id, kind: plugin.kind, options: own.data, ...(wrapper ? { wrapper: pick(entry, wrapper.shape) } : {}) } as PluginInstanceConfig;
}

/** The plug-in ids a configuration names, per section; a section left out allows every plug-in of its kinds. */
export type PluginUseSet = Partial<Record<SectionName, ReadonlySet<string>>>;

/** The instance schema of each section, keyed by section. */
export type InstanceSchemas = Readonly<Partial<Record<SectionName, z.ZodType<PluginInstanceConfig>>>>;

/**
 * One instance of a section: a union over the registered plug-ins of the section's kinds (from the
 * table), discriminated by `type`, normalized; undefined when no plug-in of those kinds exists.
 * With `use`, the union holds only those plug-ins (their schemas alone are built): for a value
 * whose every `type` is one of them it parses exactly as the full union does.
 */
function instanceSchemaOf(section: SectionName, use?: ReadonlySet<string>): z.ZodType<PluginInstanceConfig> | undefined {
  const kinds = kindsInSection(section);
  const plugins = kinds.flatMap((kind) => pluginsOfKind(kind));
  if (plugins.length === 0) return undefined;
  const [first, ...rest] = plugins.filter((p) => !use || use.has(p.id)).map(entrySchema);
  // No entry of the section names a plug-in: an empty map parses, and an entry cannot occur.
  if (!first) return z.never() as unknown as z.ZodType<PluginInstanceConfig>;
  const noun = sectionSpec(section).noun;
  return z
    .discriminatedUnion('type', [first, ...rest])
    .transform((entry, ctx) => normalizeInstance(entry as { type: string } & Record<string, unknown>, kinds, ctx))
    .describe(`A ${noun}: \`type\` is the plug-in (see docs/plugins.md), the other keys its options.`) as unknown as z.ZodType<PluginInstanceConfig>;
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
function sectionSchemas(instances: InstanceSchemas): { [S in SectionName]: z.ZodType<SectionValue<S>> } {
  const out: Record<string, z.ZodType> = {};
  for (const [section, instance] of Object.entries(instances) as [SectionName, z.ZodType][]) {
    const spec = sectionSpec(section);
    out[section] =
      spec.shape === 'named'
        ? z.record(instanceName, instance).prefault({}).describe(spec.description)
        : instance.prefault(spec.default ?? {}).describe(spec.description);
  }
  return out as { [S in SectionName]: z.ZodType<SectionValue<S>> };
}

const solverSelectorSchema = z
  .strictObject({
    names: z.array(z.string()).optional().describe('Names of the certificate this entry covers, exactly as listed in `domains` (e.g. `*.example.com`).'),
    zones: z.array(z.string()).optional().describe('DNS zones: covers every name of the certificate equal to or below one of them (a wildcard by its base name).'),
    solver: instanceName.describe('The solver (a name under `solvers`) for the names matched.'),
  })
  .describe('Which solver proves some of the names.');

/** Schema of one certificate entry. */
export const certificateSchema = z
  .strictObject({
    name: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/, {
        message: 'must start with a letter or digit and use only letters, digits, ".", "-" and "_"',
      })
      .optional()
      .describe('Name of the certificate: its folder under `live/` and its lock. Default: the first domain (`*.` becomes `_wildcard.`).'),
    domains: z
      .array(z.string())
      .describe('DNS names (wildcards like `*.example.com` allowed with dns-01) and IP addresses the certificate covers. The first is the subject common name.'),
    keyType: keyType.optional().describe('Overrides `defaults.keyType`.'),
    reuseKey: z.boolean().optional().describe('Overrides `defaults.reuseKey`.'),
    profile: z.string().optional().describe('Overrides `defaults.profile`.'),
    solver: instanceName.optional().describe('The solver (a name under `solvers`) that proves every name no `solvers` entry matches. Overrides `defaults.solver`.'),
    solvers: z
      .array(solverSelectorSchema)
      .optional()
      .describe('Per-name solver choice, first match wins (cert-manager style selectors): e.g. the wildcard through dns-01, the other names through http-01.'),
    deploy: z
      .array(instanceName)
      .optional()
      .describe('Deployers (names under `deployers`) run in this order after each new version, and retried on the next run when one failed. Overrides `defaults.deploy`.'),
    notify: z
      .array(instanceName)
      .optional()
      .describe('Notifiers (names under `notifiers`) told about this certificate\'s runs (each filters by its own `on`). Overrides `defaults.notify`; `[]` for none.'),
  })
  .describe('A certificate to keep issued and renewed.');

/** The schema of the whole file, with the instance schemas given. */
function buildConfigSchema(instances: InstanceSchemas) {
  return z
    .strictObject({
      stateDir: z
        .string()
        .default('/var/lib/certpilot')
        .describe(
          'Directory for accounts, certificates (certbot `live/` + `archive/` layout) and renewal state when `stateStore` is `filesystem` (the default); locks and caches are always here. Put it on a persistent volume when it holds the state.',
        ),
      logLevel: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'silent']).default('warn').describe('Log level of the log lines on standard error (plain text; JSON lines with --log-format json or CERTPILOT_LOG_FORMAT=json).'),
      acme: acmeSchema.prefault({}),
      ...sectionSchemas(instances),
      defaults: z
        .strictObject({
          keyType: keyType.default('ec-p256'),
          reuseKey: z.boolean().default(false).describe('Keep the private key across renewals (needed for key pinning); default is a fresh key each time.'),
          profile: z.string().optional().describe('ACME profile to order (e.g. Let\'s Encrypt `tlsserver`, `shortlived` for 6-day certificates); must be one the CA lists.'),
          solver: instanceName.default('default').describe('The solver of every certificate that names none.'),
          deploy: z.array(instanceName).default([]).describe('The deployers of every certificate that lists none.'),
          notify: z.array(instanceName).default([]).describe('The notifiers of every certificate that lists none.'),
        })
        .prefault({})
        .describe('Defaults for every certificate.'),
      renewal: z
        .strictObject({
          concurrency: z.number().int().min(1).max(64).default(4).describe('How many certificates `renew` handles at once.'),
          lockTtlSeconds: z.number().int().min(30).default(900).describe('How long a renewal lock lives if its holder dies.'),
          runIntervalHours: z
            .number()
            .positive()
            .max(168)
            .optional()
            .describe('How often `renew` runs (your cron line or CronJob schedule). A renewal whose chosen time falls before the next run is done now rather than a run late (RFC 9773 §4.2). Unset: decide on the chosen time alone.'),
          retention: z
            .strictObject({
              keepVersions: z.number().int().min(1).max(10_000).default(10).describe('Always keep at least this many of the newest versions (the live one counts).'),
              keepDays: z.number().int().min(0).max(36_500).default(30).describe('Always keep every version issued less than this many days ago.'),
            })
            .prefault({})
            .describe('How long the archive (`archive/<name>/`) keeps old versions: a version is removed after a new one is saved only when it is outside both limits and no deployer still holds it (its deploy record names it). A `shortlived` certificate adds about 60 versions a year.'),
        })
        .prefault({})
        .describe('How renewals run.'),
      certificates: z.array(certificateSchema).default([]).describe('The certificates to manage.'),
    })
    .describe('certpilot configuration file (YAML).');
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
