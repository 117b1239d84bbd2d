/**
 * The bundle's start-up paths stay small (issue 17): what `certpilot --version` and `certpilot
 * status` load before they run is the static import closure of the entry file, followed here
 * through the built chunks. Sizes and module names, never timings: timing is not a pass/fail test.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { cliPath, tempDir } from '../harness/certpilot.js';

const bundleDir = dirname(cliPath);

/** The files `file` statically imports from the bundle, itself included, with their sizes. */
function staticClosure(file: string, seen = new Map<string, number>()): Map<string, number> {
  if (seen.has(file)) return seen;
  const text = readFileSync(file, 'utf8');
  seen.set(file, Buffer.byteLength(text));
  // esbuild writes `import{a}from"./chunk-X.mjs"` and `import"./chunk-X.mjs"`; `import("./x.mjs")` is lazy.
  for (const m of text.matchAll(/\bimport\s*(?:[\w${},\s*]+?\s*from\s*)?["'](\.\/[^"']+)["']/g)) {
    if (m[1] !== undefined) staticClosure(join(dirname(file), m[1]), seen);
  }
  return seen;
}

/** The dynamic imports (`import("./x.mjs")`) a file makes. */
function lazyImports(file: string): string[] {
  return [...readFileSync(file, 'utf8').matchAll(/\bimport\(\s*["'](\.\/[^"']+)["']\s*\)/g)].map((m) => join(bundleDir, m[1] ?? ''));
}

const total = (m: Map<string, number>): number => [...m.values()].reduce((a, b) => a + b, 0);
const text = (m: Map<string, number>): string => [...m.keys()].map((f) => readFileSync(f, 'utf8')).join('\n');

test('certpilot --version loads nothing but the entry file, a CommonJS launcher, and prints the package version', { skip: !existsSync(cliPath) && 'build the bundle first (npm run build)' }, () => {
  const closure = staticClosure(cliPath);
  // The version is built in: no chunk, no esbuild helpers, no createRequire banner. The CLI proper
  // (argument table, help, errors) is ~30 KB and must stay behind the dynamic import.
  assert.deepEqual([...closure.keys()].map((f) => f.slice(bundleDir.length + 1)), ['certpilot.js'], '--version loads the entry file alone');
  assert.ok(total(closure) < 4 * 1024, `the entry file is ${total(closure)} bytes`);
  // Node starts a CommonJS main without its ESM loader (an empty .mjs costs ~3 % more instructions
  // than `node -e 0`, an empty .cjs none: bench/findings.md): the launcher must be CommonJS where
  // it lies, and nothing of its own may be ESM syntax.
  assert.equal((JSON.parse(readFileSync(join(bundleDir, 'package.json'), 'utf8')) as { type?: string }).type, 'commonjs', 'dist/bundle/package.json makes certpilot.js CommonJS');
  assert.doesNotMatch(readFileSync(cliPath, 'utf8'), /^\s*(?:import\b(?!\s*\()|export\b)|import\.meta|\bawait\b/m, 'the launcher has no static import, export, import.meta or top-level await');
  for (const file of readdirSync(bundleDir).filter((f) => f.endsWith('.js'))) assert.equal(file, 'certpilot.js', `${file}: every other bundled file is .mjs (ESM whatever package.json says)`);
  const { version } = JSON.parse(readFileSync(join(bundleDir, '..', '..', 'package.json'), 'utf8')) as { version: string };
  assert.equal(execFileSync(process.execPath, [cliPath, '--version'], { encoding: 'utf8' }), `${version}\n`);
  assert.doesNotMatch(text(closure), /Usage: certpilot|parseArgs/, 'the argument parser and help are loaded lazily');
  assert.ok(lazyImports(cliPath).length > 0, 'the entry imports the CLI lazily');
});

test('the CLI module loads no library (zod, yaml, pino) before a command runs', { skip: !existsSync(cliPath) && 'build the bundle first (npm run build)' }, () => {
  // The launcher imports the ESM entry (src/cli/bin.ts), which imports the CLI lazily in turn.
  const [entry, ...others] = lazyImports(cliPath);
  assert.ok(entry !== undefined && others.length === 0, 'the launcher imports one file, the ESM entry');
  assert.deepEqual([...staticClosure(entry).keys()], [entry], 'the ESM entry loads nothing statically');
  const main = lazyImports(entry).map((f) => staticClosure(f)).reduce((all, m) => new Map([...all, ...m]), new Map<string, number>());
  assert.ok(main.size > 1, 'the CLI is found behind the entry');
  const code = text(main);
  // Fingerprints of each library's code, as esbuild keeps them.
  assert.doesNotMatch(code, /ZodError|\$ZodType/, 'zod is loaded by the command that reads a configuration');
  assert.doesNotMatch(code, /YAMLParseError|parseDocument/, 'yaml is loaded by the command that reads a configuration');
  assert.doesNotMatch(code, /pino\.destination|PINO_/i, 'pino is loaded by the command that logs');
  assert.ok(total(main) < 64 * 1024, `the CLI's static closure is ${total(main)} bytes`);
});

test('reading a configuration loads yaml only for a file: `issue -d` with flags alone never loads it', { skip: !existsSync(cliPath) && 'build the bundle first (npm run build)' }, () => {
  const chunks = readdirSync(bundleDir).filter((f) => f.endsWith('.mjs')).map((f) => join(bundleDir, f));
  const loader = chunks.filter((f) => /\basync function loadConfig\(/.test(readFileSync(f, 'utf8')));
  assert.equal(loader.length, 1, 'one chunk defines loadConfig');
  const closure = text(staticClosure(loader[0] ?? ''));
  assert.ok(/ZodError|\$ZodType/.test(closure), 'zod validates every configuration');
  assert.ok(!/YAMLParseError|class Composer\b/.test(closure), 'yaml is imported when a file is read, not with the loader');
  assert.ok(!/duplicated mapping key/.test(closure), 'js-yaml is imported when a file is read, not with the loader');
});

test('a file is read by js-yaml; yaml (4× the CPU on 1000 certificates) loads only to explain a parse error', { skip: !existsSync(cliPath) && 'build the bundle first (npm run build)' }, () => {
  const chunks = readdirSync(bundleDir).filter((f) => f.endsWith('.mjs')).map((f) => join(bundleDir, f));
  const parser = chunks.filter((f) => /\basync function parseYaml\(/.test(readFileSync(f, 'utf8')));
  assert.equal(parser.length, 1, 'one chunk defines parseYaml');
  const closure = text(staticClosure(parser[0] ?? ''));
  assert.ok(/duplicated mapping key/.test(closure), 'js-yaml parses the file');
  assert.ok(!/YAMLParseError|class Composer\b/.test(closure), 'yaml is not loaded to read a valid file');
  assert.ok(lazyImports(parser[0] ?? '').some((f) => /YAMLParseError/.test(text(staticClosure(f)))), 'yaml is imported lazily, for errors');
});

test('the entry keeps the young generation at its first size: the V8 flag it sets at run time takes effect on this Node', { skip: !existsSync(cliPath) && 'build the bundle first (npm run build)' }, () => {
  // The ESM entry behind the launcher (src/cli/bin.ts → cli.mjs) sets it before the CLI loads.
  const [entry] = lazyImports(cliPath);
  assert.match(readFileSync(entry ?? '', 'utf8'), /setFlagsFromString\("--semi-space-growth-factor=1"\)/, 'the entry sets the flag before the CLI loads');
  // Rows that survive a few scavenges, as a run over 1000 certificates keeps them; sizes, not timings.
  const script = `
    const v8 = require('node:v8');
    if (process.argv[1] === 'set') v8.setFlagsFromString('--semi-space-growth-factor=1');
    let keep = [];
    for (let i = 0; i < 400000; i++) { keep.push({ i, s: 'row ' + i, a: [i, i + 1] }); if (keep.length > 50000) keep = keep.slice(25000); }
    process.stdout.write(String(v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size));`;
  const newSpace = (arg: string): number => Number(execFileSync(process.execPath, ['-e', script, arg], { encoding: 'utf8' }));
  const grown = newSpace('none');
  const kept = newSpace('set');
  assert.ok(grown >= 8 * 1024 * 1024, `without the flag V8 grows the young generation (${grown} bytes): the check below means something`);
  assert.ok(kept <= 4 * 1024 * 1024, `with the flag set at run time it stays small (${kept} bytes)`);
});

test('the entry runs without the optimizing compiler for its first second, then with it: the V8 flags it sets at run time take effect on this Node', { skip: !existsSync(cliPath) && 'build the bundle first (npm run build)' }, () => {
  const [entry] = lazyImports(cliPath);
  const code = readFileSync(entry ?? '', 'utf8');
  assert.match(code, /setFlagsFromString\("--no-opt"\)/, 'the entry turns the optimizing compiler off before the CLI loads');
  assert.match(code, /setTimeout\(\(\)=>\{setFlagsFromString\("--opt"\)[^}]*\},[^)]+\)\.unref\(\)/, 'and back on after a while, on a timer that keeps no process alive');
  // A hot function, with the flags set at run time as the entry does (V8's own optimization status bit).
  const script = `
    const v8 = require('node:v8');
    const mode = process.argv[1];
    if (mode !== 'none') v8.setFlagsFromString('--no-opt');
    function hot(x) { let s = 0; for (let i = 0; i < 200; i++) s += (i * x) % 7; return s; }
    for (let i = 0; i < 20000; i++) hot(i);
    const before = (%GetOptimizationStatus(hot) & 16) !== 0;
    if (mode === 'reset') v8.setFlagsFromString('--opt');
    for (let i = 0; i < 20000; i++) hot(i);
    process.stdout.write(JSON.stringify({ before, after: (%GetOptimizationStatus(hot) & 16) !== 0 }));`;
  const optimized = (mode: string): { before: boolean; after: boolean } => JSON.parse(execFileSync(process.execPath, ['--allow-natives-syntax', '-e', script, mode], { encoding: 'utf8' })) as { before: boolean; after: boolean };
  assert.deepEqual(optimized('none'), { before: true, after: true }, 'without the flag V8 optimizes the hot function: the checks below mean something');
  assert.deepEqual(optimized('off'), { before: false, after: false }, '--no-opt set at run time keeps it unoptimized');
  assert.deepEqual(optimized('reset'), { before: false, after: true }, '--opt set at run time lets V8 optimize it again');
});

test('an issue of the configured certificates starts in V8\'s memory-saving mode, `-d` and other commands do not; set at run time it takes effect on this Node', { skip: !existsSync(cliPath) && 'build the bundle first (npm run build)' }, () => {
  const [entry] = lazyImports(cliPath);
  const code = readFileSync(entry ?? '', 'utf8');
  const decision = /let (\w+)=(command==="issue"&&[^;]+);\1&&setFlagsFromString\("--optimize-for-size"\)/.exec(code);
  assert.ok(decision, 'the entry sets --optimize-for-size on a condition, before the CLI loads');
  assert.match(code, new RegExp(`setTimeout\\(\\(\\)=>\\{setFlagsFromString\\("--opt"\\),${decision[1]}&&setFlagsFromString\\("--no-optimize-for-size"\\)\\}`), 'and turns it off with the optimizing compiler\'s return');
  // The entry's own condition, run on argument lists.
  const applies = new Function('command', 'argv', `return ${decision[2]};`) as (command: string, argv: string[]) => boolean;
  const run = (...argv: string[]): boolean => applies(argv[0] ?? '', argv);
  assert.equal(run('issue', '--config', 'certpilot.yaml'), true, 'issue of the configured certificates');
  assert.equal(run('issue'), true);
  for (const one of [['issue', '-d', 'a.test'], ['issue', '--domain', 'a.test'], ['issue', '--domain=a.test'], ['issue', '-da.test']]) {
    assert.equal(run(...one), false, `${one.join(' ')}: one certificate`);
  }
  for (const other of ['renew', 'status', 'daemon', 'serve']) assert.equal(run(other, '--config', 'c.yaml'), false, other);
  // Orders in flight, as an issue of many keeps them, under the entry's other flag; sizes, not timings.
  const script = `
    const v8 = require('node:v8');
    v8.setFlagsFromString('--semi-space-growth-factor=1');
    if (process.argv[1] === 'set') v8.setFlagsFromString('--optimize-for-size');
    let inflight = [];
    let peak = 0;
    for (let i = 0; i < 600000; i++) {
      inflight.push({ i, s: 'order ' + i, body: 'x'.repeat(64) + i, a: [i, i + 1, i + 2] });
      if (inflight.length > 20000) inflight = inflight.slice(10000);
      if (i % 5000 === 0) peak = Math.max(peak, v8.getHeapSpaceStatistics().find((s) => s.space_name === 'old_space').space_size);
    }
    process.stdout.write(String(peak));`;
  const oldPeak = (arg: string): number => Number(execFileSync(process.execPath, ['-e', script, arg], { encoding: 'utf8' }));
  const grown = oldPeak('none');
  const saved = oldPeak('set');
  assert.ok(grown >= 24 * 1024 * 1024, `without it V8 lets the old generation grow (${grown} bytes): the check below means something`);
  assert.ok(saved <= 0.7 * grown, `with --optimize-for-size set at run time it collects sooner (${saved} against ${grown} bytes)`);
});

test('the configuration loader loads zod/mini, not classic zod nor zod\'s JSON Schema generator', { skip: !existsSync(cliPath) && 'build the bundle first (npm run build)' }, () => {
  // Classic zod (`import { z } from 'zod'`) loads ~290 KB and puts ~50 methods on every schema: it
  // cost every command that reads a configuration ~0.07 s of CPU and ~7 MiB (bench/findings.md).
  // zod names each schema class with $constructor("Name"): classic's are Zod<Type>, mini's ZodMini<Type>.
  // (assert.ok, not match: a failing match would print a whole chunk.)
  const classic = /\$constructor\("Zod(?!Mini)[A-Za-z0-9]+"/;
  const chunks = readdirSync(bundleDir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.mjs')).map((f) => join(bundleDir, f));
  for (const f of chunks) assert.ok(!classic.test(readFileSync(f, 'utf8')), `${f.slice(bundleDir.length + 1)} holds classic zod`);
  const loader = chunks.filter((f) => /\basync function loadConfig\(/.test(readFileSync(f, 'utf8')));
  assert.equal(loader.length, 1, 'one chunk defines loadConfig');
  const closure = staticClosure(loader[0] ?? '');
  const code = text(closure);
  assert.ok(/\$constructor\("ZodMiniObject"/.test(code), 'the configuration schema is built with zod/mini');
  assert.ok(/expected \$\{[^}]*\}, received/.test(code), 'zod\'s English messages come with it (zod/mini sets no locale)');
  // The generator (31 KB) is for `config schema` and the docs; esbuild put it beside the schemas
  // once, for a `z.NEVER` reached through zod/mini's index.
  assert.ok(!/function toJSONSchema\(|\[toJSONSchema\]/.test(code), 'the JSON Schema generator is loaded only where a JSON Schema is made');
  const zod = total(new Map([...closure].filter(([f]) => /\$constructor\("ZodMini/.test(readFileSync(f, 'utf8')))));
  assert.ok(zod < 96 * 1024, `the chunk(s) holding zod in the loader's closure are ${zod} bytes (zod/mini with English: ~54 KB; classic: ~290 KB)`);
});

test("the entry loads the built-in modules a command uses before it sets V8 flags: after a flag change V8 refuses Node's built-in code cache", { skip: !existsSync(cliPath) && 'build the bundle first (npm run build)' }, async () => {
  const dir = await tempDir();
  // Which of Node's own modules were compiled without their code cache (Node's own test of its cache reads the same).
  await writeFile(join(dir, 'usage.cjs'), "const { internalBinding } = require('internal/test/binding');\nprocess.on('exit', () => require('node:fs').writeFileSync(process.env.USAGE_FILE, JSON.stringify([...internalBinding('builtins').getCacheUsage().compiledWithoutCache])));\n");
  const uncached = (args: string[]): string[] => {
    const file = join(dir, `usage-${args[0]}.json`);
    try {
      execFileSync(process.execPath, ['--expose-internals', '--no-warnings', '-r', join(dir, 'usage.cjs'), cliPath, ...args], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', USAGE_FILE: file }, stdio: 'ignore' });
    } catch {
      // The issue below fails (no CA listens there): the modules it loaded are what counts.
    }
    return JSON.parse(readFileSync(file, 'utf8')) as string[];
  };
  const premise = JSON.parse(execFileSync(process.execPath, ['--expose-internals', '--no-warnings', '-e', "require('node:v8').setFlagsFromString('--no-opt'); require('node:https'); const { internalBinding } = require('internal/test/binding'); process.stdout.write(JSON.stringify([...internalBinding('builtins').getCacheUsage().compiledWithoutCache]))"], { encoding: 'utf8' })) as string[];
  assert.ok(premise.includes('https'), `on this Node a module loaded after a flag change is compiled from source (${premise.join(' ')}): the checks below mean something`);
  await writeFile(join(dir, 'c.yaml'), `stateDir: ${JSON.stringify(join(dir, 'state'))}\nacme: { directoryUrl: "https://127.0.0.1:1/dir", email: a@example.com, termsOfServiceAgreed: true }\ncertificates:\n  - domains: [a.example.com]\n`);
  // Node's internal modules included: those behind the lazy getters that the ES module face of a
  // built-in runs (webcrypto, fs streams, parseArgs), the perf_hooks family that `performance`
  // loads, and rimraf that `fs.rm` loads (item 31).
  assert.deepEqual(uncached(['status', '--config', join(dir, 'c.yaml')]), [], 'status: every module it loads was compiled from the cache');
  const issue = uncached(['issue', '-d', 'a.example.com', '--state-dir', join(dir, 'issue'), '--directory', 'https://127.0.0.1:1/dir', '--email', 'a@example.com', '--agree-tos']);
  assert.deepEqual(issue, [], 'issue: every module it loads was compiled from the cache');
  // A command that listens (Node's `listen` loads cluster, child_process and dgram): `serve` until
  // it listens, then SIGTERM. prom-client's perf_hooks and zlib are left to compile from source (bin.ts).
  const file = join(dir, 'usage-serve.json');
  const serve = spawn(process.execPath, ['--expose-internals', '--no-warnings', '-r', join(dir, 'usage.cjs'), cliPath, 'serve', '--thumbprint', 'A'.repeat(43), '--listen', '127.0.0.1:0'], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', USAGE_FILE: file }, stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  await new Promise<void>((resolve, reject) => {
    serve.stderr.on('data', (chunk: Buffer) => {
      log += chunk.toString();
      if (log.includes('listening')) resolve();
    });
    serve.on('exit', () => reject(new Error(`serve exited before it listened: ${log}`)));
  });
  const exited = new Promise((resolve) => serve.on('exit', resolve));
  serve.kill('SIGTERM');
  await exited;
  const served = JSON.parse(readFileSync(file, 'utf8')) as string[];
  for (const m of ['cluster', 'child_process', 'dgram', 'net', 'http', 'internal/cluster/primary']) assert.ok(!served.includes(m), `serve: ${m} compiled from the cache (without it: ${served.join(' ')})`);
});
