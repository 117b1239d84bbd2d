// esbuild options shared by certpilot's bundle (scripts/bundle.mjs) and the benchmark's floor
// (bench/floor/one.mjs, bundled by bench/run.mjs), so the floor pays for its libraries exactly what
// certpilot does: ESM chunks, whitespace and syntax minified, CommonJS libraries given a `require`.
export const BANNER = "import { createRequire as __certpilotRequire } from 'node:module'; const require = __certpilotRequire(import.meta.url);";

export const esmBundleOptions = {
  // Every bundled file is ESM whatever the nearest package.json says.
  outExtension: { '.js': '.mjs' },
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  minifyWhitespace: true,
  minifySyntax: true,
  banner: { js: BANNER },
  logLevel: 'warning',
};
