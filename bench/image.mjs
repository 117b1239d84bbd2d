#!/usr/bin/env node
// Benchmark (not a test): the container image's size. Builds it as CI does (scripts/image.sh:
// buildah, the locally made node:20-bookworm-slim base; reused when nothing changed), then reports
// the uncompressed size of its layers (the base's and certpilot's own) and what the largest parts
// weigh inside it (`du` in a container of the image).
//
//   node bench/image.mjs            (as root; needs buildah and mmdebstrap: bash scripts/setup.sh)
//
// Writes bench/results/image.json and bench/results/image.md. Sizes do not depend on the machine's
// load; the build time printed on stderr does (and on whether the image was reused).
import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';

const run = promisify(execFile);
const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const script = join(root, 'scripts', 'image.sh');
const MB = (n) => (n / 1e6).toFixed(1);

const started = performance.now();
const built = await run('bash', [script, 'build'], { cwd: root, maxBuffer: 64 * 1024 * 1024 });
const buildSeconds = (performance.now() - started) / 1000;
const tag = built.stdout.trim().split('\n').pop();
const env = { ...process.env, CERTPILOT_IMAGE: tag };
const size = JSON.parse((await run('bash', [script, 'size'], { cwd: root, env })).stdout);
const parts = { '/usr/local/bin/node': 'Node.js binary', '/usr/local/lib/node_modules/npm': 'npm (part of the base image)', '/app': 'certpilot bundle' };
const du = await run('bash', [script, 'run', '--read-only', '--', 'du', '-sb', ...Object.keys(parts)], { cwd: root, env });
const partBytes = Object.fromEntries(du.stdout.trim().split('\n').map((l) => l.split('\t')).map(([n, p]) => [p, Number(n)]));
const debian = size.baseBytes - partBytes['/usr/local/bin/node'] - partBytes['/usr/local/lib/node_modules/npm'];

const result = { image: tag, bytes: size.bytes, baseBytes: size.baseBytes, ownBytes: size.ownBytes, layers: size.layers, parts: partBytes, debianBytes: debian, measuredAt: new Date().toISOString() };
await mkdir(join(here, 'results'), { recursive: true });
await writeFile(join(here, 'results', 'image.json'), `${JSON.stringify(result, null, 2)}\n`);
const md = [
  '# Container image size',
  '',
  `Written by \`node bench/image.mjs\` (${result.measuredAt.slice(0, 10)}). Uncompressed layer sizes as buildah stores them;`,
  'a registry stores them gzip-compressed (smaller). The base is the locally made stand-in for',
  '`docker.io/library/node:20-bookworm-slim` (scripts/image.sh: Debian bookworm minbase, slimmed like',
  'the official image, with this machine\'s Node 20 and npm). The official image (not reachable here, so',
  'not measured) also carries yarn and corepack: with it the base, not certpilot\'s layer, differs.',
  '',
  '| part | MB |',
  '| --- | ---: |',
  `| **image, total** (${size.layers} layers) | **${MB(size.bytes)}** |`,
  `| base image | ${MB(size.baseBytes)} |`,
  `| — Debian bookworm minbase (slim) | ${MB(debian)} |`,
  `| — Node.js ${process.versions.node.split('.')[0]} binary | ${MB(partBytes['/usr/local/bin/node'])} |`,
  `| — npm | ${MB(partBytes['/usr/local/lib/node_modules/npm'])} |`,
  `| certpilot's own layer | ${MB(size.ownBytes)} |`,
  `| — of which the bundle (/app) | ${MB(partBytes['/app'])} |`,
  '',
].join('\n');
await writeFile(join(here, 'results', 'image.md'), md);
console.log(md);
console.error(`bench: build step took ${buildSeconds.toFixed(0)} s (${/image current/.test(built.stderr) ? 'reused' : 'built'}; load-dependent)`);
