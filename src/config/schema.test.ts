import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { ConfigError } from '../errors.js';
import { allPlugins } from '../plugins/registry.js';
import { tempDir } from '../testing/temp-dir.js';
import { loadConfig } from './load-config.js';
import { configSchema, schemasFor } from './schema.js';

/** Counts the reads of each plug-in definition's `schema` (the read is what builds it). */
function countSchemaReads(): { reads: Map<string, number>; restore(): void } {
  const reads = new Map<string, number>();
  const restores: (() => void)[] = [];
  for (const plugin of allPlugins()) {
    const key = `${plugin.kind}/${plugin.id}`;
    const descriptor = Object.getOwnPropertyDescriptor(plugin, 'schema');
    assert.ok(descriptor?.get, `${key}: schema is built on first read (a getter)`);
    const get = descriptor.get;
    Object.defineProperty(plugin, 'schema', {
      configurable: true,
      enumerable: true,
      get() {
        reads.set(key, (reads.get(key) ?? 0) + 1);
        return get.call(plugin);
      },
    });
    restores.push(() => Object.defineProperty(plugin, 'schema', descriptor));
  }
  return { reads, restore: () => restores.forEach((r) => r()) };
}

const standaloneAndFiles = {
  stateDir: './state',
  solvers: { web: { type: 'webroot', path: '/var/www' } },
  deployers: { volume: { type: 'files', dir: './out', keyMode: '0640' }, reload: { type: 'hook', command: ['true'] } },
  certificates: [{ domains: ['example.com'], solver: 'web', deploy: ['volume', 'reload'] }],
};

test('a configuration builds only the option schemas of the plug-ins it names (and the built-in ones)', async () => {
  const spy = countSchemaReads();
  try {
    const dir = await tempDir('certpilot-schema-');
    const file = join(dir, 'certpilot.yaml');
    await writeFile(file, JSON.stringify(standaloneAndFiles));
    const config = await loadConfig({ file, cwd: '/', env: {} });
    assert.equal(config.deployers.volume?.type, 'files');
    const built = [...spy.reads.keys()].sort();
    // standalone: the built-in `default` solver; file and filesystem: the default locker and state store.
    assert.deepEqual(built, ['challenge-solver/standalone', 'challenge-solver/webroot', 'deployer/files', 'deployer/hook', 'locker/file', 'state-store/filesystem']);
  } finally {
    spy.restore();
  }
});

test('the schema of the named plug-ins parses a configuration exactly as the whole schema does', () => {
  const chosen = schemasFor(standaloneAndFiles);
  assert.notEqual(chosen.config, configSchema(), 'a smaller schema is built');
  assert.deepEqual(chosen.config.parse(standaloneAndFiles), configSchema().parse(standaloneAndFiles));
  // A bad option of a named plug-in: the same problems, at the same paths.
  const bad = { ...standaloneAndFiles, deployers: { volume: { type: 'files', dir: './out', keyMode: 640, extra: 1 } } };
  const issues = (r: { error?: { issues: { path: PropertyKey[]; code: string }[] } }) => r.error?.issues.map((i) => `${i.path.join('.')} ${i.code}`).sort();
  assert.deepEqual(issues(schemasFor(bad).config.safeParse(bad)), issues(configSchema().safeParse(bad)));
  assert.ok((issues(schemasFor(bad).config.safeParse(bad)) ?? []).length > 0);
});

test('a type no plug-in has still names the field, lists every valid type and suggests the closest', async () => {
  const dir = await tempDir('certpilot-schema-');
  const file = join(dir, 'certpilot.yaml');
  await writeFile(file, 'solvers:\n  dns: { type: route35 }\ncertificates: []\n');
  const err = await loadConfig({ file, cwd: '/', env: {} }).then(
    () => assert.fail('expected a ConfigError'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof ConfigError);
  const message = new Map(err.issues.map((i) => [i.path, i.message])).get('solvers.dns.type') ?? '';
  assert.match(message, /route53/);
  assert.match(message, /use one of standalone, webroot, stateless, tls-alpn, dns-persist, redis, rfc2136, route53 /);
});
