/**
 * The config reference and the editor JSON Schema, generated from the zod schema so docs cannot
 * drift from the code (`npm run docs` writes them; a test checks they are current).
 */
import { z } from 'zod';
import { CONFIG_ENV_VARIABLES } from './load-config.js';
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

/** Renders `docs/config-reference.md`. */
export function renderConfigReference(): string {
  const root = configJsonSchema() as JsonSchemaNode;
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
  walk(root, '', false);
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
  ].join('\n');
}
