// The generated docs must match the code: run `npm run docs` after changing the schema or errors.
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { configJsonSchema, renderConfigReference } from './config/reference.js';
import { ERROR_CATALOG, renderErrorCatalog } from './errors.js';
import { VERSION } from './version.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const read = (p: string): string => readFileSync(join(root, p), 'utf8');

test('docs/errors.md lists every error code (npm run docs)', () => {
  assert.equal(read('docs/errors.md'), renderErrorCatalog());
});

test('docs/config-reference.md and the JSON Schema match the schema (npm run docs)', () => {
  assert.equal(read('docs/config-reference.md'), renderConfigReference());
  assert.deepEqual(JSON.parse(read('docs/certpilot.schema.json')), configJsonSchema());
});

test('every ERR_ code used in src/ is in the catalog, and every catalog code is used', () => {
  const used = new Set<string>();
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir)) {
      const path = join(dir, entry);
      if (statSync(path).isDirectory()) walk(path);
      else if (path.endsWith('.ts') && !path.endsWith('.test.ts') && !path.endsWith('errors.ts')) {
        for (const m of readFileSync(path, 'utf8').matchAll(/'(ERR_[A-Z0-9_]+)'/g)) used.add(m[1] as string);
      }
    }
  };
  walk(join(root, 'src'));
  const catalog = new Set(Object.keys(ERROR_CATALOG));
  assert.deepEqual([...used].filter((c) => !catalog.has(c)), [], 'codes thrown but missing from ERROR_CATALOG');
  assert.deepEqual([...catalog].filter((c) => !used.has(c)), [], 'catalog codes nothing throws (remove them or use them)');
});

test('the CLI version is package.json\'s', () => {
  assert.equal(VERSION, (JSON.parse(read('package.json')) as { version: string }).version);
});

test('docs/metrics.md\'s alert table has every alert monitoring/certpilot-rules.yml ships, and no other', () => {
  const shipped = [...readFileSync(join(root, 'monitoring', 'certpilot-rules.yml'), 'utf8').matchAll(/^\s*- alert: (\w+)/gm)].map((m) => m[1]).sort();
  const documented = [...readFileSync(join(root, 'docs', 'metrics.md'), 'utf8').matchAll(/^\| `(Certpilot\w+)`/gm)].map((m) => m[1]).sort();
  assert.ok(shipped.length > 0);
  assert.deepEqual(documented, shipped);
});
