// Bundles the CLI into dist/bundle/ (ESM, code-split per command) so a cold start parses one
// file tree instead of resolving hundreds of modules: Node 20 has no compile cache, and start-up
// time is most of a nothing-due `renew`. Tests run the unbundled tsc output; e2e tests run this.
import { build } from 'esbuild';
import { chmodSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
await build({
  entryPoints: { certpilot: join(root, 'src/cli/bin.ts') },
  outdir: join(root, 'dist/bundle'),
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  sourcemap: 'linked',
  legalComments: 'linked',
  logLevel: 'warning',
  banner: { js: "import { createRequire as __certpilotRequire } from 'node:module'; const require = __certpilotRequire(import.meta.url);" },
});
chmodSync(join(root, 'dist/bundle/certpilot.js'), 0o755);
