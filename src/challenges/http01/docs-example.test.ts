// The deck's production example in docs/http01-many-pods.md is a configuration certpilot accepts,
// with and without the optional WWW_SERVER_ALIASES_TLS, and it means what the page says.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../config/load-config.js';
import { tempDir } from '../../testing/temp-dir.js';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');

void test('the deck production example of docs/http01-many-pods.md loads, with and without WWW_SERVER_ALIASES_TLS', async () => {
  const doc = readFileSync(join(repo, 'docs', 'http01-many-pods.md'), 'utf8');
  const yaml = /```yaml\n([\s\S]*?)```/.exec(doc)?.[1] ?? '';
  assert.ok(yaml?.includes('redis://redis:6379'), 'the first yaml block is the deck example');
  const dir = await tempDir();
  const file = join(dir, 'certpilot.yaml');
  await writeFile(file, yaml.replace('/var/lib/certpilot', join(dir, 'state')));
  const withAliases = await loadConfig({ file, cwd: dir, env: { WWW_SERVER_NAME: 'www.example.com', WWW_SERVER_ALIASES_TLS: 'example.com,shop.example.com' } });
  assert.deepEqual(withAliases.certificates[0]?.domains, ['www.example.com', 'example.com', 'shop.example.com']);
  assert.equal(withAliases.certificates[0]?.solvers['www.example.com'], 'pods');
  const pods = withAliases.solvers.pods;
  assert.ok(pods?.type === 'redis', 'a redis token store');
  // The store's own options and the store-backed solver's, apart and typed.
  assert.equal(pods.options.url, 'redis://redis:6379');
  assert.equal(pods.options.prefix, '.well-known/acme-challenge/');
  assert.equal(pods.wrapper.ttlSeconds, 3600);
  const without = await loadConfig({ file, cwd: dir, env: { WWW_SERVER_NAME: 'www.example.com' } });
  assert.deepEqual(without.certificates[0]?.domains, ['www.example.com']);
});
