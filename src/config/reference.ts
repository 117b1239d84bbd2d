/**
 * The config reference and the editor JSON Schema, generated from the zod schema so docs cannot
 * drift from the code (`npm run docs` writes them; a test checks they are current).
 */
import { z } from 'zod';
import { CONFIG_ENV_VARIABLES } from './load-config.js';
import { dns01OptionsShape } from '../challenges/dns01/dns01-options.js';
import { tokenStoreSolverOptionsShape } from '../challenges/http01/token-store-options.js';
import { notifyOptionsShape } from '../notify/notify-options.js';
import type { PluginDefinition } from '../plugins/plugin.js';
import { PLUGINS } from '../plugins/registry.js';
import { configSchema } from './schema.js';

/** JSON Schema (draft 2020-12) of the configuration file, for editors (yaml-language-server). */
export function configJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
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
}

function typeOf(node: JsonSchemaNode): string {
  if (node.enum) return node.enum.map((v) => `\`${String(v)}\``).join(' \\| ');
  if (node.anyOf) return node.anyOf.map(typeOf).join(' or ');
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

/** The options of each plug-in, as `solvers.<name>` / `deployers.<name>` entries take them. */
function pluginSections(): string[] {
  const out: string[] = [];
  for (const plugin of PLUGINS as readonly PluginDefinition[]) {
    const section = plugin.kind === 'deployer' ? 'deployers' : plugin.kind === 'notifier' ? 'notifiers' : 'solvers';
    const extra = plugin.kind === 'dns-provider' ? dns01OptionsShape : plugin.kind === 'token-store' ? tokenStoreSolverOptionsShape : plugin.kind === 'notifier' ? notifyOptionsShape : {};
    const schema = z.strictObject({ type: z.literal(plugin.id).describe(`\`${plugin.id}\``), ...plugin.schema.shape, ...extra });
    const node = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as JsonSchemaNode;
    out.push(
      `### \`${plugin.id}\` (${plugin.kind})`,
      '',
      plugin.summary,
      '',
      '| Field | Type | Default | Description |',
      '| --- | --- | --- | --- |',
      ...fieldRows(node, `${section}.<name>`).filter((r) => !r.startsWith(`| \`${section}.<name>\` |`)),
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
    'A `solvers.<name>`, `deployers.<name>` or `notifiers.<name>` entry is `type` (the plug-in id) plus that plug-in\'s options.',
    'DNS providers also take the dns-01 options, token stores the store-backed http-01 options, notifiers `on` and `expiringDays`. The list',
    'of plug-ins is [plugins.md](plugins.md).',
    '',
    ...pluginSections(),
  ].join('\n');
}

/** Renders `docs/plugins.md`: every plug-in id, its kind, what it does, and its folder. */
export function renderPluginList(): string {
  const kinds: Record<string, string> = {
    'challenge-solver': 'Challenge solvers (`solvers.<name>.type`)',
    'token-store': 'Token stores for http-01 across many pods (`solvers.<name>.type`)',
    'dns-provider': 'DNS providers for dns-01 (`solvers.<name>.type`)',
    deployer: 'Deployers (`deployers.<name>.type`)',
    notifier: 'Notifiers (`notifiers.<name>.type`)',
  };
  const out = [
    '# Plug-ins',
    '',
    '<!-- Generated from src/plugins/registry.ts by `npm run docs`; do not edit by hand. -->',
    '',
    'Each plug-in has one id: its folder under `src/`, its `type` in the configuration and its section in',
    'the [configuration reference](config-reference.md#plug-in-options). A certificate names its solvers',
    'and deployers; see the README.',
    '',
  ];
  for (const [kind, title] of Object.entries(kinds)) {
    const list = (PLUGINS as readonly PluginDefinition[]).filter((p) => p.kind === kind);
    if (list.length === 0) continue;
    out.push(`## ${title}`, '', '| id | what it does | folder |', '| --- | --- | --- |');
    for (const p of list) out.push(`| \`${p.id}\` | ${p.summary.replace(/\|/g, '\\|')} | \`src/${p.dir}/\` |`);
    out.push('');
  }
  return out.join('\n');
}
