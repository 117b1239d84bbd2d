// Bundles the CLI into dist/bundle/ (ESM `.mjs`, code-split per command, behind a CommonJS launcher) so a cold start parses one
// file tree instead of resolving hundreds of modules: Node 20 has no compile cache, and start-up
// time is most of a nothing-due `renew`. Tests run the unbundled tsc output; e2e tests run this.
// The library entry points (package `exports`) are bundled alongside in dist/bundle/lib/, sharing
// chunks with the CLI. Everything the code imports is inlined: the published package has no
// runtime dependencies, so `npm install -g` and `npx` need nothing from a registry (docs/install.md).
// It reads TypeScript directly (no tsc step), which is why `prepack` can run it on a clean checkout.
import { build } from 'esbuild';
import { chmodSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
// zod re-exports all ~50 of its message locales (250 kB, a third of the CLI's parse time); certpilot
// speaks English only, so the locale index is replaced by English alone, should anything reach it
// (`z.locales`). English itself is set by src/zod-english.ts, which imports locales/en.js directly.
const englishOnlyZod = {
  name: 'english-only-zod',
  setup(b) {
    b.onResolve({ filter: /\/locales\/index\.js$/ }, (args) =>
      args.importer.includes(`${join('node_modules', 'zod')}`) ? { path: 'zod-locales-en', namespace: 'english-only-zod' } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'english-only-zod' }, () => ({
      contents: `export { default as en } from ${JSON.stringify(join(root, 'node_modules/zod/v4/locales/en.js'))};`,
      resolveDir: root,
    }));
  },
};

// CommonJS packages inlined in ESM chunks call `require` for Node's modules.
const BANNER = "import { createRequire as __certpilotRequire } from 'node:module'; const require = __certpilotRequire(import.meta.url);";

// Chunk names carry content hashes: start empty so stale chunks do not pile up.
rmSync(join(root, 'dist/bundle'), { recursive: true, force: true });
const result = await build({
  entryPoints: {
    cli: join(root, 'src/cli/bin.ts'),
    'lib/index': join(root, 'src/index.ts'),
    'lib/responder': join(root, 'src/responder.ts'),
  },
  outdir: join(root, 'dist/bundle'),
  // Every bundled file is ESM whatever the nearest package.json says: dist/bundle/package.json
  // makes `.js` CommonJS there, for the launcher below.
  outExtension: { '.js': '.mjs' },
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  sourcemap: 'linked',
  minifyWhitespace: true,
  minifySyntax: true,
  metafile: true,
  legalComments: 'linked',
  logLevel: 'warning',
  plugins: [englishOnlyZod],
  // `certpilot --version` answers from the entry file alone (src/cli/bin.ts; issue 17).
  define: { __CERTPILOT_VERSION__: JSON.stringify(JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version) },
  banner: { js: BANNER },
});
// The package ships no dependencies: anything left external other than Node's own modules would
// be missing at run time on an installed copy.
// ws and node-fetch (under @kubernetes/client-node) try these optional native speed-ups inside
// try/catch and work without them; they are not installed, so they stay out of the bundle.
const OPTIONAL = new Set(['bufferutil', 'utf-8-validate', 'encoding']);
const externals = Object.values(result.metafile.outputs).flatMap((o) =>
  o.imports.filter((i) => i.external && !isBuiltin(i.path) && !OPTIONAL.has(i.path)).map((i) => i.path),
);
if (externals.length > 0) throw new Error(`bundle: not self-contained, imports ${[...new Set(externals)].join(', ')}`);
// The CLI's entry uses no `require`: drop the banner's createRequire there (loading node:module and
// making a require function is part of every start).
const cliFile = join(root, 'dist/bundle/cli.mjs');
const cli = readFileSync(cliFile, 'utf8');
const bannerLine = `${BANNER}\n`;
if (cli.includes(bannerLine) && !/\brequire\b/.test(cli.replace(bannerLine, ''))) writeFileSync(cliFile, cli.replace(bannerLine, ''));
// The executable (`bin`, the image's /usr/local/bin/certpilot) is a CommonJS launcher: Node starts a
// CommonJS file without its ESM loader, so `certpilot --version` (what scripts and health checks
// run most) costs what `node -e 0` does, and writes with one write(2) instead of building
// process.stdout (a stream over the pipe). Everything else goes on to the ESM CLI (src/cli/bin.ts),
// which reads the same process.argv. Measured in bench/findings.md (issue 17: ≤ 1.1× `node -e 0`).
const version = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version;
writeFileSync(join(root, 'dist/bundle/package.json'), `${JSON.stringify({ type: 'commonjs', private: true, description: 'certpilot\'s bundle: certpilot.js is CommonJS, every other file ESM (.mjs)' }, null, 2)}\n`);
const entryFile = join(root, 'dist/bundle/certpilot.js');
writeFileSync(
  entryFile,
  [
    '#!/usr/bin/env node',
    "'use strict';",
    '// certpilot: generated by scripts/bundle.mjs. `--version` alone is answered here; the rest is ./cli.mjs.',
    'const argv = process.argv.slice(2);',
    "if (argv.length === 1 && argv[0] === '--version') {",
    '  try {',
    `    require('node:fs').writeSync(1, ${JSON.stringify(`${version}\n`)});`,
    '  } catch {',
    '    process.exitCode = 1; // stdout closed (EPIPE) or not writable',
    '  }',
    '} else {',
    "  import('./cli.mjs');",
    '}',
    '',
  ].join('\n'),
);
chmodSync(entryFile, 0o755);
if (process.env.BUNDLE_ANALYZE) {
  const { analyzeMetafile } = await import('esbuild');
  console.log(await analyzeMetafile(result.metafile));
}
