// Lint config: typescript-eslint's recommended type-aware rules plus the house rules of DESIGN.md §1.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'bench/work/**', '.state/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      // node:test's test()/describe() return promises the runner awaits itself.
      '@typescript-eslint/no-floating-promises': ['error', {
        allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['test', 'it', 'describe', 'suite', 'before', 'after', 'beforeEach', 'afterEach'] }],
      }],
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'error',
      // zod/mini's functional API, never classic zod: classic loads ~290 KB and cost every command
      // that reads a configuration ~0.07 s of CPU and ~7 MiB (bench/findings.md, issue 17).
      'no-restricted-imports': ['error', {
        paths: [{ name: 'zod', message: "Use `import * as z from 'zod/mini'` and import src/zod-english.js (docs/design-notes.md)." }],
        patterns: [{ regex: '^zod/v4(/classic)?$|^zod/v3', message: "Use `import * as z from 'zod/mini'` (docs/design-notes.md)." }],
      }],
    },
  },
  {
    // Data moves one way: nothing below cli/ reads the environment or argv, or prints.
    files: ['src/**/*.ts'],
    ignores: ['src/cli/**', 'src/config/**', 'src/**/*.test.ts', 'src/testing/**'],
    rules: {
      'no-restricted-properties': ['error',
        { object: 'process', property: 'env', message: 'Only config/ and cli/ read process.env (DESIGN.md §1).' },
        { object: 'process', property: 'argv', message: 'Only cli/ reads argv (DESIGN.md §1).' }],
    },
  },
  {
    files: ['src/cli/**/*.ts', 'scripts/**', 'bench/**', 'test/harness/**'],
    rules: { 'no-console': 'off' },
  },
  {
    // Node 20 deadlocks now and then when a KeyObject made by a synchronous keygen job is exported
    // during a collection (src/acme/private-key-sync.ts). Use newPrivateKeySync, generateKeyPair,
    // or have the job encode the key (privateKeyEncoding) and parse that.
    files: ['**/*.ts', '**/*.js', '**/*.mjs'],
    rules: {
      'no-restricted-syntax': ['error',
        {
          selector: "CallExpression:matches([callee.name='generateKeyPairSync'], [callee.property.name='generateKeyPairSync']):not(:has(Property[key.name='privateKeyEncoding']))",
          message: 'A KeyObject from generateKeyPairSync can deadlock Node 20 on export: use newPrivateKeySync (src/acme/private-key-sync.ts).',
        },
        {
          selector: "CallExpression:matches([callee.name='generateKeySync'], [callee.property.name='generateKeySync'])",
          message: 'A KeyObject from generateKeySync can deadlock Node 20 on export (src/acme/private-key-sync.ts).',
        }],
    },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', Buffer: 'readonly', fetch: 'readonly' } },
  },
);
