// The registry, the plug-in folders and the docs' list are one set (lego's generated provider
// index, renovate's datasource index test): adding a plug-in is one folder plus one registry line.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { renderPluginList } from '../config/reference.js';
import { PLUGINS } from './registry.js';

// Tests run from dist/src/plugins; the folders checked are the sources'.
const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const src = join(repo, 'src');

/** Folders whose every subfolder is one plug-in. */
const PLUGIN_PARENTS = ['challenges/http01/solvers', 'challenges/http01/token-stores', 'challenges/dns01/providers', 'deploy', 'notify'];

const subfolders = (rel: string): string[] => {
  const dir = join(src, rel);
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter((e) => statSync(join(dir, e)).isDirectory() && e !== 'fixtures' && e !== 'testdata').map((e) => `${rel}/${e}`);
};

test('registry ids are unique and each is its folder name', () => {
  const ids = PLUGINS.map((p) => p.id);
  assert.equal(new Set(ids).size, ids.length, `duplicate ids: ${ids.join(', ')}`);
  for (const p of PLUGINS) {
    assert.equal(basename(p.dir), p.id, `${p.id}: its folder is src/${p.dir}`);
    assert.ok(existsSync(join(src, p.dir, 'schema.ts')), `${p.id}: src/${p.dir}/schema.ts holds its options schema`);
  }
});

test('registry = plug-in folders', () => {
  const folders = PLUGIN_PARENTS.flatMap(subfolders).sort();
  assert.deepEqual(PLUGINS.map((p) => p.dir).sort(), folders, 'every plug-in folder is registered, and every registered plug-in has its folder');
});

test('registry = docs/plugins.md (npm run docs)', () => {
  const doc = readFileSync(join(repo, 'docs', 'plugins.md'), 'utf8');
  assert.equal(doc, renderPluginList());
  const listed = [...doc.matchAll(/^\| `([a-z0-9-]+)` \|/gm)].map((m) => m[1]).sort();
  assert.deepEqual(listed, PLUGINS.map((p) => p.id).sort());
});

test('every plug-in schema describes each of its options', () => {
  for (const p of PLUGINS) {
    for (const [key, field] of Object.entries(p.schema.shape)) {
      assert.ok((field as { description?: string }).description, `${p.id}.${key} has a description`);
    }
  }
});
