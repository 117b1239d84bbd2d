/**
 * The config reference and the editor JSON Schema, generated from the zod schema so docs cannot
 * drift from the code (`npm run docs` writes them; a test checks they are current).
 */
import * as z from 'zod/mini';
import '../zod-english.js';
import { CONFIG_ENV_VARIABLES } from './load-config.js';
import { CONFIG_SECTIONS, kindSpec, PLUGIN_KINDS, sectionSpec, type SectionName } from '../plugins/plugin-kinds.js';
import type { PluginKind } from '../plugins/plugin.js';
import { allPlugins, pluginsOfKind } from '../plugins/registry.js';
import { configSchema } from './schema.js';

/** JSON Schema (draft 2020-12) of the configuration file, for editors (yaml-language-server). */
export function configJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(configSchema(), { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
}

interface JsonSchemaNode {
  type?: string | string[];
  description?: string;
  default?: unknown;
  enum?: unknown[];
  properties?: Record<string, JsonSchemaNode>;
  items?: JsonSchemaNode;
  required?: string[];
  minimum?: number;
  maximum?: number;
  pattern?: string;
  anyOf?: JsonSchemaNode[];
  oneOf?: JsonSchemaNode[];
  additionalProperties?: JsonSchemaNode | boolean;
  const?: unknown;
}

/**
 * The field names the configuration allows for the object at `path` of `input` (the file as
 * written): a plug-in entry's are those of the plug-in its `type` names. For "did you mean".
 */
export function configFieldsAt(path: readonly PropertyKey[], input: unknown): string[] {
  return fieldsAt(configJsonSchema() as JsonSchemaNode, path, input);
}

function fieldsAt(node: JsonSchemaNode | undefined, path: readonly PropertyKey[], input: unknown): string[] {
  if (!node) return [];
  const options = node.anyOf ?? node.oneOf;
  if (options) {
    // A plug-in entry: the option whose `type` is the entry's; else every option's fields.
    const type = path.length === 0 && input !== null && typeof input === 'object' ? (input as { type?: unknown }).type : undefined;
    const chosen = options.filter((o) => o.properties?.['type']?.const === type);
    return [...new Set((chosen.length > 0 ? chosen : options).flatMap((o) => fieldsAt(o, path, input)))];
  }
  if (path.length === 0) return Object.keys(node.properties ?? {});
  const [head, ...rest] = path;
  const child = input !== null && typeof input === 'object' ? (input as Record<PropertyKey, unknown>)[head as PropertyKey] : undefined;
  if (typeof head === 'number') return fieldsAt(node.items, rest, child);
  const next = node.properties?.[String(head)] ?? (typeof node.additionalProperties === 'object' ? node.additionalProperties : undefined);
  return fieldsAt(next, rest, child);
}

function typeOf(node: JsonSchemaNode): string {
  if (node.enum) return node.enum.map((v) => `\`${String(v)}\``).join(' \\| ');
  if (node.anyOf) return node.anyOf.map(typeOf).join(' or ');
  if (node.oneOf) return 'object';
  if (node.type === 'array') return `list of ${node.items ? typeOf(node.items) : 'values'}`;
  const base = Array.isArray(node.type) ? node.type.join(' or ') : (node.type ?? 'any');
  const range = node.minimum !== undefined || node.maximum !== undefined ? ` (${node.minimum ?? ''}..${node.maximum ?? ''})` : '';
  return base + range;
}

/** Table rows (`| field | type | default | description |`) for a schema node and its children. */
function fieldRows(root: JsonSchemaNode, prefix = ''): string[] {
  const rows: string[] = [];
  const walk = (node: JsonSchemaNode, path: string, required: boolean): void => {
    if (path) {
      const def = node.default === undefined ? (required ? '**required**' : '') : `\`${JSON.stringify(node.default)}\``;
      rows.push(`| \`${path}\` | ${typeOf(node)} | ${def} | ${(node.description ?? '').replace(/\|/g, '\\|').replace(/\n/g, ' ')} |`);
    }
    if (node.properties) {
      for (const [key, child] of Object.entries(node.properties)) walk(child, path ? `${path}.${key}` : key, node.required?.includes(key) ?? false);
    }
    if (node.type === 'array' && node.items?.properties) {
      for (const [key, child] of Object.entries(node.items.properties)) walk(child, `${path}[].${key}`, node.items.required?.includes(key) ?? false);
    }
  };
  walk(root, prefix, false);
  return rows;
}

/** Where an instance of a section is written: `solvers.<name>` or `locker`. */
function sectionPath(section: SectionName): string {
  return sectionSpec(section).shape === 'named' ? `${section}.<name>` : section;
}

/** The options of each plug-in, as its section's entries take them (its kind's wrapper options too). */
function pluginSections(): string[] {
  const out: string[] = [];
  for (const plugin of allPlugins()) {
    const section = sectionPath(PLUGIN_KINDS[plugin.kind].section);
    const extra = kindSpec(plugin.kind).wraps?.shape ?? {};
    const schema = z.strictObject({ type: z.literal(plugin.id).check(z.describe(`\`${plugin.id}\``)), ...plugin.schema.shape, ...extra });
    const node = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as JsonSchemaNode;
    out.push(
      `### \`${plugin.id}\` (${plugin.kind})`,
      '',
      plugin.summary,
      '',
      '| Field | Type | Default | Description |',
      '| --- | --- | --- | --- |',
      ...fieldRows(node, section).filter((r) => !r.startsWith(`| \`${section}\` |`)),
      '',
    );
  }
  return out;
}

/** Renders `docs/config-reference.md`. */
export function renderConfigReference(): string {
  const rows = fieldRows(configJsonSchema() as JsonSchemaNode);
  return [
    '# Configuration reference',
    '',
    '<!-- Generated from src/config/schema.ts by `npm run docs`; do not edit by hand. -->',
    '',
    'certpilot reads one YAML file (`--config`, `CERTPILOT_CONFIG`, or `./certpilot.yaml`). Editors can',
    'validate it with [certpilot.schema.json](certpilot.schema.json) (add',
    '`# yaml-language-server: $schema=./docs/certpilot.schema.json` at the top).',
    '',
    '## Environment variables in values',
    '',
    '- `${NAME}`: the variable\'s value; an error naming the field when unset or empty.',
    '- `${NAME:-default}`: the default when unset or empty.',
    '- `${NAME[]}` as a whole list item: the variable split on commas and spaces; no items when unset or empty.',
    '- `$$`: a literal `$`.',
    '- A field that is a number or a boolean takes one whole `${NAME}` (quoted in YAML: `timeoutSeconds: "${HOOK_TIMEOUT}"`):',
    '  the value is read as a number (`30`) or `true`/`false`; any other value is an error naming the variable (never its value).',
    '  `kubernetes manifests` leaves such a field to the pods, which read and check the value when they load the configuration.',
    '- Not in a shell hook\'s `command` (`type: hook`, `shell: true`): that string is the shell\'s, and',
    '  `${RENEWED_LINEAGE}` there is expanded by `/bin/sh` from the hook\'s environment when it runs.',
    '',
    '## Fields',
    '',
    '| Field | Type | Default | Description |',
    '| --- | --- | --- | --- |',
    ...rows,
    '',
    '## Environment variables read directly',
    '',
    'Precedence: command-line flags, then these, then the file, then defaults.',
    '',
    '| Variable | Meaning |',
    '| --- | --- |',
    ...Object.entries(CONFIG_ENV_VARIABLES).map(([k, v]) => `| \`${k}\` | ${v} |`),
    '',
    '## Plug-in options',
    '',
    `A ${(Object.keys(CONFIG_SECTIONS) as SectionName[]).map((s) => `\`${sectionPath(s)}\``).join(', ')} entry is \`type\` (the plug-in id) plus that plug-in's options.`,
    ...(Object.keys(PLUGIN_KINDS) as PluginKind[]).flatMap((k) => {
      const w = kindSpec(k).wraps;
      return w ? [`A ${k} is wrapped in ${w.what}, whose options its entries take too.`] : [];
    }),
    'The list of plug-ins is [plugins.md](plugins.md).',
    '',
    ...pluginSections(),
  ].join('\n');
}

/** Renders `docs/plugins.md`: every kind (from the table), its plug-ins, what each does, and its folder. */
export function renderPluginList(): string {
  const out = [
    '# Plug-ins',
    '',
    '<!-- Generated from src/plugins/registry.ts and src/plugins/plugin-kinds.ts by `npm run docs`; do not edit by hand. -->',
    '',
    'Each plug-in has one id: its folder under `src/`, its `type` in the configuration and its section in',
    'the [configuration reference](config-reference.md#plug-in-options). A certificate names its solvers',
    'and deployers; see the README. Each folder exports its definition from `plugin.ts`, including the',
    'Kubernetes RBAC rules and AWS IAM actions its code needs (`certpilot kubernetes check`, `certpilot',
    'route53 policy`), and the options whose value is a credential (`certpilot kubernetes manifests` moves',
    'those into Secrets).',
    '',
  ];
  for (const kind of Object.keys(PLUGIN_KINDS) as PluginKind[]) {
    const list = pluginsOfKind(kind);
    if (list.length === 0) continue;
    const spec = kindSpec(kind);
    out.push(`## ${spec.title} (\`${sectionPath(spec.section)}.type\`)`, '');
    const notes = [spec.wraps ? `Wrapped in ${spec.wraps.what}.` : '', spec.contract ? `Contract suite: \`src/${spec.contract}\`.` : ''].filter(Boolean);
    if (notes.length > 0) out.push(notes.join(' '), '');
    out.push('| id | what it does | folder |', '| --- | --- | --- |');
    for (const p of list) out.push(`| \`${p.id}\` | ${p.summary.replace(/\|/g, '\\|')} | \`src/${p.dir}/\` |`);
    out.push('');
  }
  return out.join('\n');
}
