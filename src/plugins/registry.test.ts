// The registry, the plug-in folders, the table of kinds, the config sections and the docs' list are
// one set (lego's generated provider index, renovate's datasource index test): adding a plug-in is
// one folder plus one registry line, adding a kind one row of the table. Nothing here lists kinds,
// sections or parent folders of its own: every expectation is read from the table or the disk.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as z from 'zod/mini';
import { configSchema } from '../config/schema.js';
import { renderPluginList } from '../config/reference.js';
import type { PluginKind } from './plugin.js';
import { CONFIG_SECTIONS, kindSpec, kindsInSection, PLUGIN_KINDS, type SectionName } from './plugin-kinds.js';
import { allPlugins, PLUGINS, pluginsOfKind } from './registry.js';

// Tests run from dist/src/plugins; the folders checked are the sources'.
const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const src = join(repo, 'src');
const dist = join(repo, 'dist', 'src');

/** Every folder under src/ that holds a `plugin.ts` (a plug-in's definition), relative to src/. */
function pluginFolders(dir = src): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir)) {
    const path = join(dir, e);
    if (statSync(path).isDirectory()) out.push(...pluginFolders(path));
    else if (e === 'plugin.ts' && dir !== join(src, 'plugins')) out.push(relative(src, dir));
  }
  return out;
}

test('registry ids are unique within each config section and each is its folder name; each folder exports its own definition', async () => {
  // `type` is read per section: the kubernetes-secret deployer and state store may share an id.
  for (const section of Object.keys(CONFIG_SECTIONS) as SectionName[]) {
    const ids = kindsInSection(section).flatMap((k) => pluginsOfKind(k).map((p) => p.id));
    assert.equal(new Set(ids).size, ids.length, `${section}: duplicate ids: ${ids.join(', ')}`);
  }
  for (const p of allPlugins()) {
    assert.equal(basename(p.dir), p.id, `${p.id}: its folder is src/${p.dir}`);
    const mod = (await import(pathToFileURL(join(dist, p.dir, 'plugin.js')).href)) as { plugin?: unknown };
    assert.equal(mod.plugin, p, `src/${p.dir}/plugin.ts exports the registered definition as \`plugin\``);
  }
});

test('registry = the folders holding a plugin.ts', () => {
  assert.deepEqual(allPlugins().map((p) => p.dir).sort(), pluginFolders().sort(), 'every plug-in folder is registered, and every registered plug-in has its folder');
});

test('every kind of the table has its section, its contract suite on disk, and no key shared by a plug-in and its wrapper', () => {
  for (const kind of Object.keys(PLUGIN_KINDS) as PluginKind[]) {
    const spec = kindSpec(kind);
    assert.ok(spec.section in CONFIG_SECTIONS, `${kind}: section ${spec.section} is in CONFIG_SECTIONS`);
    if (spec.contract) assert.ok(existsSync(join(src, spec.contract)), `${kind}: its contract suite src/${spec.contract} exists`);
    for (const p of pluginsOfKind(kind)) {
      const shared = Object.keys(p.schema.shape).filter((k) => k in (spec.wraps?.shape ?? {}) || k === 'type');
      assert.deepEqual(shared, [], `${p.id}: its options and its wrapper's share no key (one flat entry holds both)`);
    }
  }
  for (const p of allPlugins()) assert.ok(p.kind in PLUGIN_KINDS, `${p.id}: kind ${p.kind} is a row of the table`);
});

test('the config schema has one section per section of the table with plug-ins, accepting exactly the plug-ins of its kinds', () => {
  const json = z.toJSONSchema(configSchema(), { io: 'input', unrepresentable: 'any' }) as { properties: Record<string, { oneOf?: unknown[]; additionalProperties?: { oneOf?: unknown[] } }> };
  for (const section of Object.keys(CONFIG_SECTIONS) as SectionName[]) {
    const ids = kindsInSection(section).flatMap((k) => pluginsOfKind(k).map((p) => p.id));
    const node = json.properties[section];
    if (ids.length === 0) {
      assert.equal(node, undefined, `${section}: no plug-in, no section`);
      continue;
    }
    assert.ok(node, `${section} is a key of the config schema`);
    const options = (CONFIG_SECTIONS[section].shape === 'named' ? node.additionalProperties?.oneOf : node.oneOf) as { properties: { type: { const: string } } }[];
    assert.deepEqual(options.map((o) => o.properties.type.const).sort(), [...ids].sort(), `${section} accepts exactly ${ids.join(', ')}`);
  }
});

test('registry = docs/plugins.md (npm run docs)', () => {
  const doc = readFileSync(join(repo, 'docs', 'plugins.md'), 'utf8');
  assert.equal(doc, renderPluginList());
  const listed = [...doc.matchAll(/^\| `([a-z0-9-]+)` \|/gm)].map((m) => m[1]).sort();
  assert.deepEqual(listed, PLUGINS.map((p) => p.id).sort());
});

test('every plug-in schema describes each of its options', () => {
  for (const p of allPlugins()) {
    for (const [key, field] of Object.entries(p.schema.shape)) {
      assert.ok(z.globalRegistry.get(field)?.description, `${p.id}.${key} has a description`);
    }
  }
});

test('the IAM actions a plug-in declares are the AWS SDK commands its code sends', () => {
  for (const p of allPlugins()) {
    if (!p.iam) continue;
    const code = readdirSync(join(src, p.dir))
      .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts') && f !== 'plugin.ts')
      .map((f) => readFileSync(join(src, p.dir, f), 'utf8'))
      .join('\n');
    const sent = [...new Set([...code.matchAll(/new (\w+)Command\(/g)].map((m) => m[1] ?? ''))].sort();
    // Every option set that adds actions: the declaration without options that remove some.
    const declared = [...new Set(p.iam(p.schema.parse({})).map((a) => a.action.replace(/^[a-z0-9-]+:/, '')))].sort();
    assert.deepEqual(declared, sent, `${p.id}: declared IAM actions = the commands in src/${p.dir}`);
  }
});
