#!/usr/bin/env node
// Benchmark: certpilot vs certbot vs lego against ONE Pebble 2.4 behind ONE counting proxy, in one
// run. A script, not a test: it measures and reports, it never passes or fails on timing.
//
//   npm run bench                  full run (setup --bench, then this script)
//   BENCH_QUICK=1 node bench/run.mjs   smoke run: 1 run per scenario, 5 certificates; writes
//                                      bench/RESULTS.quick.md and bench/results.quick.json instead
//   BENCH_RUNS=N                   runs per scenario (default 5 single-certificate/cold start, 3 for
//                                  the 20-certificate scenarios)
//   BENCH_CERTS=N                  certificates in the multi-certificate scenarios (default 20)
//   BENCH_THOUSAND=N               certificates of the large certpilot scenario (default 1000, 0 skips)
//   BENCH_STRICT=1                 run Pebble with -strict (default off; see RESULTS.md)
//   BENCH_TOOLS=certbot,lego,certpilot   which clients to run (default all three)
//   BENCH_REPORT_ONLY=1            rewrite RESULTS.md from results.json (e.g. after editing findings.md)
//   BENCH_CERTPILOT_CLI=path       another certpilot entry point (debugging only; the report names it)
//   BENCH_ONLY=renew-secrets       run only certpilot's nothing-due renew with state in Secrets (and the
//                                  same renew with state in a directory, for the request counts), then
//                                  merge that row into results.json and rewrite RESULTS.md around it
//
// Wall time is process.hrtime around spawn → exit of each child; CPU is GNU time's %U + %S (user +
// system seconds of the child); peak RSS is GNU time's %M (the child's max resident set, KiB);
// Pebble's own CPU over the same span comes from /proc/<pid>/stat. ACME requests are counted at the proxy per `METHOD /segment`.
// Needs: `npm run build` (dist/test/harness and dist/bundle), Debian's pebble, certbot, lego, time.
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile, readFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { esmBundleOptions } from '../scripts/bundle-options.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const harness = (file) => join(root, 'dist', 'test', 'harness', file);
if (!existsSync(harness('pebble.js'))) {
  console.error('bench: dist/test/harness is missing: run `npm run build` (or `npm run bench`) first');
  process.exit(2);
}
const { startPebble } = await import(harness('pebble.js'));
const { startFaultProxy } = await import(harness('fault-proxy.js'));
const { startKubeStandin } = await import(harness('kube-standin.js'));
const harnessCli = await import(harness('certpilot.js'));
const { testCaFile, writeConfig } = harnessCli;
// The bundle users run; BENCH_CERTPILOT_CLI points elsewhere only to debug this script.
const cliPath = process.env.BENCH_CERTPILOT_CLI ? resolve(process.env.BENCH_CERTPILOT_CLI) : harnessCli.cliPath;

// --- settings -------------------------------------------------------------------------------------
const QUICK = process.env.BENCH_QUICK === '1';
const envInt = (name) => {
  const v = process.env[name];
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 50) throw new Error(`bench: ${name} must be a whole number 1..50, not "${v}"`);
  return n;
};
let RUNS_SINGLE = QUICK ? 1 : (envInt('BENCH_RUNS') ?? 5);
let RUNS_MULTI = QUICK ? 1 : (envInt('BENCH_RUNS') ?? 3);
let CERTS = envInt('BENCH_CERTS') ?? (QUICK ? 5 : 20);
// The large scenario: one `certpilot issue` of THOUSAND certificates at concurrency 16 (certpilot
// only: certbot and lego would take hours), then its nothing-due `renew` and `status`.
const thousandEnv = process.env.BENCH_THOUSAND;
if (thousandEnv !== undefined && !/^(0|[1-9]\d{0,4})$/.test(thousandEnv)) throw new Error(`bench: BENCH_THOUSAND must be a whole number 0..99999, not "${thousandEnv}"`);
let THOUSAND = thousandEnv !== undefined ? Number(thousandEnv) : QUICK ? 50 : 1000;
const THOUSAND_CONCURRENCY = 16;
let STRICT = process.env.BENCH_STRICT === '1';
let TOOLS = (process.env.BENCH_TOOLS ?? 'certbot,lego,certpilot').split(',').map((s) => s.trim()).filter(Boolean);
const CHILD_TIMEOUT_MS = 180_000; // one invocation; bounded so a hung client cannot hang the run
const OUT_MD = join(here, QUICK ? 'RESULTS.quick.md' : 'RESULTS.md');
const OUT_JSON = join(here, QUICK ? 'results.quick.json' : 'results.json');
const ONLY = process.env.BENCH_ONLY;
if (ONLY !== undefined && ONLY !== 'renew-secrets') throw new Error(`bench: BENCH_ONLY must be renew-secrets, not "${ONLY}"`);
const TIME_BIN = '/usr/bin/time';
const EMAIL = 'bench@example.com';

for (const bin of [TIME_BIN]) if (!existsSync(bin)) throw new Error(`bench: ${bin} missing: run \`bash scripts/setup.sh --bench\``);
if (!existsSync(cliPath)) throw new Error(`bench: ${cliPath} missing: run \`npm run build\``);

// --- measuring one child --------------------------------------------------------------------------
const children = new Set();
let rssSeq = 0;

/** Runs `cmd args` under GNU time; resolves { ms, cpuMs, rssKiB, code, stdout, stderr }. */
async function measure(cmd, args, { env, cwd }) {
  const rssFile = join(scratch, `rss-${process.pid}-${++rssSeq}`);
  const started = process.hrtime.bigint();
  // %U/%S: the child's user and system CPU seconds (what the issue's targets are about: they move
  // far less than wall time on a loaded machine); %M: its peak RSS in KiB.
  const child = spawn(TIME_BIN, ['-f', '%U %S %M', '-o', rssFile, cmd, ...args], {
    cwd,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  let stdout = '';
  let stderr = '';
  const cap = (s, d) => (s.length > 50_000_000 ? s : s + d.toString()); // `status --json` of 1000 is ~1 MB
  child.stdout.on('data', (d) => (stdout = cap(stdout, d)));
  child.stderr.on('data', (d) => (stderr = cap(stderr, d)));
  const timer = setTimeout(() => child.kill('SIGKILL'), CHILD_TIMEOUT_MS);
  const code = await new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (c, signal) => resolve(c ?? (signal ? 128 : -1)));
  });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  clearTimeout(timer);
  children.delete(child);
  let rssKiB = 0;
  let cpuMs = 0;
  try {
    // GNU time writes "Command exited with non-zero status N" before the figures when N != 0.
    const lines = (await readFile(rssFile, 'utf8')).trim().split('\n');
    const [user, sys, rss] = lines[lines.length - 1].split(' ').map(Number);
    cpuMs = ((user || 0) + (sys || 0)) * 1000;
    rssKiB = rss || 0;
    await rm(rssFile, { force: true });
  } catch {
    // no figure (killed); leave 0
  }
  return { ms, cpuMs, rssKiB, code, stdout, stderr };
}

/** Like measure, but throws with the output tail when the child fails or `check` says so. */
async function mustRun(what, cmd, args, opts, check) {
  const r = await measure(cmd, args, opts);
  const problem = r.code !== 0 ? `exit code ${r.code}` : check ? check(r) : undefined;
  if (problem) {
    const tail = `${r.stdout}\n${r.stderr}`.trim().split('\n').slice(-25).join('\n');
    throw new Error(`${what}: ${problem}\n  $ ${cmd} ${args.join(' ')}\n${tail}`);
  }
  return r;
}

// --- the three clients ----------------------------------------------------------------------------
let pebble;
let proxy;
let scratch;

const baseEnv = () => ({
  PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
  HOME: join(scratch, 'home'),
  LANG: 'C.UTF-8',
  // certbot (python-requests) and lego trust the test CA of Pebble's (and the proxy's) listener.
  REQUESTS_CA_BUNDLE: testCaFile,
  LEGO_CA_CERTIFICATES: testCaFile,
});

const nodeBin = process.execPath;
const fileExists = (path) => (existsSync(path) ? undefined : `${path} was not written`);

/** One client: how its users issue one certificate, renew, and start. */
const clients = {
  certbot: {
    label: 'certbot',
    common: (dir) => ['--config-dir', join(dir, 'conf'), '--work-dir', join(dir, 'work'), '--logs-dir', join(dir, 'logs'),
      '--non-interactive', '--server', proxy.directoryUrl],
    issue: (dir, name) => ({
      cmd: 'certbot',
      args: ['certonly', ...clients.certbot.common(dir), '--standalone', '--http-01-port', String(pebble.httpPort),
        '--http-01-address', '127.0.0.1', '--agree-tos', '-m', EMAIL, '--no-eff-email', '--cert-name', name, '-d', name],
      check: () => fileExists(join(dir, 'conf', 'live', name, 'fullchain.pem')),
    }),
    renewAll: (dir) => [{
      cmd: 'certbot',
      args: ['renew', ...clients.certbot.common(dir), '--no-random-sleep-on-renew'],
      check: (r) => (/No renewals were attempted|not yet due/i.test(r.stdout + r.stderr) ? undefined : 'did not report "not due"'),
    }],
    version: { cmd: 'certbot', args: ['--version'] },
  },
  lego: {
    label: 'lego',
    common: (dir, name) => ['--server', proxy.directoryUrl, '--accept-tos', '--email', EMAIL, '--http',
      '--http.port', `127.0.0.1:${pebble.httpPort}`, '--path', dir, '-d', name],
    issue: (dir, name) => ({
      cmd: 'lego',
      args: [...clients.lego.common(dir, name), 'run'],
      check: () => fileExists(join(dir, 'certificates', `${name}.crt`)),
    }),
    // lego has no "renew everything": its users loop over their certificates.
    renewAll: (dir, names) => names.map((name) => ({
      cmd: 'lego',
      args: [...clients.lego.common(dir, name), 'renew', '--days', '30', '--no-random-sleep'],
      check: (r) => (/no renewal/i.test(r.stdout + r.stderr) ? undefined : 'did not report "no renewal"'),
    })),
    version: { cmd: 'lego', args: ['--version'] },
  },
  certpilot: {
    label: 'certpilot',
    issue: (dir, name) => ({
      cmd: nodeBin,
      args: [cliPath, 'issue', '-d', name, '--state-dir', join(dir, 'state'), '--directory', proxy.directoryUrl,
        '--ca-bundle', testCaFile, '--email', EMAIL, '--agree-tos', '--http-01-port', String(pebble.httpPort),
        '--http-01-address', '127.0.0.1'],
      check: () => fileExists(join(dir, 'state', 'live', name, 'fullchain.pem')),
    }),
    renewAll: (dir) => [{
      cmd: nodeBin,
      args: [cliPath, 'renew', '--config', join(dir, 'certpilot.yaml')],
      check: (r) => (/not-due/.test(r.stdout) && !/issued|renewed/.test(r.stdout) ? undefined : 'did not report everything not due'),
    }],
    version: { cmd: nodeBin, args: [cliPath, '--version'], check: (r) => (r.stdout.trim() ? undefined : 'printed no version') },
  },
};

// --- the floor ------------------------------------------------------------------------------------
// bench/floor/: skeletons of the work no client that keeps certpilot's guarantees can skip (TLS
// requests to the CA, keys and signatures, fsynced atomic writes, an http listener, zod and pino),
// with none of the ACME protocol. Run in the same run as certpilot, so the issue-17 targets can be
// read against what the machine, Node 20 and the libraries cost before certpilot does anything.
let floorOne;
async function buildFloor() {
  const outdir = join(scratch, 'floor');
  await build({ ...esmBundleOptions, entryPoints: { one: join(here, 'floor', 'one.mjs') }, outdir });
  floorOne = join(outdir, 'one.mjs');
}
const floorSteps = {
  one: (dir, requests) => ({ cmd: nodeBin, args: [floorOne, proxy.directoryUrl, testCaFile, join(dir, 'state'), String(requests)] }),
  many: (dir, certificates, requests) => ({
    cmd: nodeBin,
    args: [join(here, 'floor', 'many.mjs'), proxy.directoryUrl, testCaFile, join(dir, 'state'), String(certificates), String(THOUSAND_CONCURRENCY), String(requests)],
  }),
};

// --- request accounting ---------------------------------------------------------------------------
const KIND = {
  'GET /dir': 'directory',
  'HEAD /nonce-plz': 'newNonce',
  'GET /nonce-plz': 'newNonce',
  'POST /sign-me-up': 'newAccount',
  'POST /my-account': 'account',
  'POST /order-plz': 'newOrder',
  'POST /finalize-order': 'finalize',
  'POST /my-order': 'order polls',
  'POST /certZ': 'cert download',
};
const KIND_ORDER = ['directory', 'newNonce', 'newAccount', 'account', 'newOrder', 'authz', 'authz polls', 'challenge',
  'challenge polls', 'finalize', 'order polls', 'cert download', 'other'];

/** Requests since the last reset, by ACME role; the first POST to an authz/challenge URL is the fetch/answer, later ones are polls. */
function requestSnapshot() {
  const byKind = {};
  const seen = new Set();
  for (const e of proxy.requests.log) {
    let kind = KIND[e.kind];
    if (e.kind === 'POST /authZ' || e.kind === 'POST /chalZ') {
      const base = e.kind === 'POST /authZ' ? 'authz' : 'challenge';
      kind = seen.has(e.path) ? `${base} polls` : base;
      seen.add(e.path);
    }
    kind ??= 'other';
    byKind[kind] = (byKind[kind] ?? 0) + 1;
  }
  const failed = proxy.requests.log.filter((e) => e.status >= 400).length;
  return { total: proxy.requests.total, byKind, byPath: { ...proxy.requests.byPath }, failedResponses: failed };
}

// --- scenarios ------------------------------------------------------------------------------------
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length === 0 ? NaN : s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const names = (prefix, n) => Array.from({ length: n }, (_, i) => `${prefix}-${String(i + 1).padStart(2, '0')}.bench.test`);
const newDir = (label) => mkdtemp(join(scratch, `${label}-`));
const log = (s) => process.stderr.write(`${s}\n`);

/** scenario id → line id → { runs: [{ ms, rssKiB, requests }], error? } */
const results = {};
function record(scenario, line, run) {
  results[scenario] ??= {};
  results[scenario][line] ??= { runs: [] };
  const { stdout, ...kept } = run; // the output is checked, not kept
  void stdout;
  results[scenario][line].runs.push(kept);
}
function recordError(scenario, line, error) {
  results[scenario] ??= {};
  results[scenario][line] ??= { runs: [] };
  results[scenario][line].error = String(error.message ?? error).slice(0, 4000);
  log(`  ! ${scenario}/${line} failed: ${results[scenario][line].error.split('\n')[0]}`);
}

/**
 * Runs a sequence of invocations; returns the total wall time and CPU (user + sys), the largest
 * peak RSS, and the CPU Pebble itself spent meanwhile (from /proc/<pid>/stat, before and after).
 */
async function runSequence(what, steps, opts) {
  let ms = 0;
  let cpuMs = 0;
  let rssKiB = 0;
  const caBefore = pebbleCpuMs();
  let stdout = '';
  for (const step of steps) {
    const r = await mustRun(what, step.cmd, step.args, opts, step.check);
    ms += r.ms;
    cpuMs += r.cpuMs;
    rssKiB = Math.max(rssKiB, r.rssKiB);
    stdout = r.stdout;
  }
  const caAfter = pebbleCpuMs();
  const caCpuMs = caBefore !== undefined && caAfter !== undefined ? caAfter - caBefore : undefined;
  return { ms, cpuMs, rssKiB, caCpuMs, stdout };
}

// Pebble's own CPU: utime + stime (fields 14 and 15 of /proc/<pid>/stat, in clock ticks). The
// harness starts it through setpriv, which execs, so the process is found by its config file.
let pebblePid;
const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
function findPebblePid() {
  const config = join(pebble.dir, 'pebble.json');
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (cmdline.includes(config) && !/setpriv$/.test(cmdline[0])) return Number(entry);
    } catch {
      // gone meanwhile
    }
  }
  return undefined;
}
function pebbleCpuMs() {
  if (!pebblePid) return undefined;
  try {
    const stat = readFileSync(`/proc/${pebblePid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLK_TCK;
  } catch {
    return undefined;
  }
}

async function scenarioSingle() {
  log(`\n[1] one certificate with a new account — ${RUNS_SINGLE} run(s)`);
  for (let run = 1; run <= RUNS_SINGLE; run++) {
    for (const tool of TOOLS) {
      if (results.single?.[tool]?.error) continue;
      const dir = await newDir(`single-${tool}-${run}`);
      const name = `one-r${run}-${tool}.bench.test`;
      proxy.resetCounts();
      try {
        const step = clients[tool].issue(dir, name);
        const r = await runSequence(`${tool} issue`, [step], { env: baseEnv(), cwd: dir });
        record('single', tool, { ...r, certificates: 1, requests: requestSnapshot() });
        log(`  ${tool.padEnd(10)} run ${run}: ${fmtS(r.ms)}  ${fmtMiB(r.rssKiB)}  ${proxy.requests.total} requests`);
      } catch (error) {
        recordError('single', tool, error);
      }
      await rm(dir, { recursive: true, force: true });
    }
    if (TOOLS.includes('certpilot') && !results.single?.floor?.error) {
      // As many requests as certpilot sent in this run (10 when it failed).
      const requests = results.single?.certpilot?.runs.at(-1)?.requests?.total ?? 10;
      const dir = await newDir(`single-floor-${run}`);
      proxy.resetCounts();
      try {
        const r = await runSequence('floor one', [floorSteps.one(dir, requests)], { env: baseEnv(), cwd: dir });
        record('single', 'floor', { ...r, certificates: 1, requests: requestSnapshot() });
        log(`  ${'floor'.padEnd(10)} run ${run}: ${fmtS(r.ms)}  CPU ${fmtS(r.cpuMs)}  ${fmtMiB(r.rssKiB)}  ${proxy.requests.total} requests`);
      } catch (error) {
        recordError('single', 'floor', error);
      }
      await rm(dir, { recursive: true, force: true });
    }
  }
}

/** Directories of the last multi-certificate run per line, reused by the nothing-due renew. */
const lastState = {};

async function scenarioMany() {
  log(`\n[2] ${CERTS} certificates with one account — ${RUNS_MULTI} run(s)`);
  const lines = [];
  for (const tool of TOOLS) {
    if (tool === 'certpilot') {
      lines.push({ line: 'certpilot', tool, how: 'config' });
      lines.push({ line: 'certpilot-sequential', tool, how: 'sequential' });
    } else {
      lines.push({ line: tool, tool, how: 'sequential' });
    }
  }
  for (let run = 1; run <= RUNS_MULTI; run++) {
    for (const { line, tool, how } of lines) {
      if (results.many?.[line]?.error) continue;
      const dir = await newDir(`many-${line}-${run}`);
      const certNames = names(`many-r${run}-${line}`, CERTS);
      proxy.resetCounts();
      try {
        let steps;
        if (how === 'config') {
          await writeConfig(dir, {
            directoryUrl: proxy.directoryUrl,
            httpPort: pebble.httpPort,
            certificates: certNames.map((n) => ({ name: n, domains: [n] })),
          });
          steps = [{
            cmd: nodeBin,
            args: [cliPath, 'renew', '--config', join(dir, 'certpilot.yaml')],
            check: () => certNames.map((n) => fileExists(join(dir, 'state', 'live', n, 'fullchain.pem'))).find(Boolean),
          }];
        } else {
          steps = certNames.map((n) => clients[tool].issue(dir, n));
        }
        const r = await runSequence(`${line} ${CERTS} certificates`, steps, { env: baseEnv(), cwd: dir });
        record('many', line, { ...r, certificates: CERTS, invocations: steps.length, requests: requestSnapshot() });
        log(`  ${line.padEnd(21)} run ${run}: ${fmtS(r.ms)}  ${fmtMiB(r.rssKiB)}  ${proxy.requests.total} requests`);
        if (lastState[line]) await rm(lastState[line].dir, { recursive: true, force: true });
        lastState[line] = { dir, names: certNames, tool };
      } catch (error) {
        recordError('many', line, error);
        await rm(dir, { recursive: true, force: true });
      }
    }
  }
}

async function scenarioRenewNothingDue() {
  log(`\n[3] renew when nothing of ${CERTS} is due — ${RUNS_MULTI} run(s)`);
  for (let run = 1; run <= RUNS_MULTI; run++) {
    for (const tool of TOOLS) {
      const state = lastState[tool];
      if (!state) {
        if (run === 1) recordError('renew', tool, new Error(`no state: the ${CERTS}-certificate scenario failed for ${tool}`));
        continue;
      }
      if (results.renew?.[tool]?.error) continue;
      proxy.resetCounts();
      try {
        const steps = clients[tool].renewAll(state.dir, state.names);
        const r = await runSequence(`${tool} renew`, steps, { env: baseEnv(), cwd: state.dir });
        record('renew', tool, { ...r, certificates: CERTS, invocations: steps.length, requests: requestSnapshot() });
        log(`  ${tool.padEnd(10)} run ${run}: ${fmtS(r.ms)}  ${fmtMiB(r.rssKiB)}  ${proxy.requests.total} requests`);
      } catch (error) {
        recordError('renew', tool, error);
      }
    }
    await renewWithDeployers(run);
    await renewWithSecrets(run);
  }
}

/**
 * The same nothing-due renew, with a `files` deployer on every certificate that already holds the
 * live version (deployed by one unmeasured run first): what a dev host's cron line costs. Nothing
 * may be redeployed.
 */
async function renewWithDeployers(run) {
  const state = lastState.certpilot;
  const line = 'certpilot+files';
  if (!state || results.renew?.[line]?.error) return;
  const config = join(state.dir, 'certpilot-files.yaml');
  try {
    if (run === 1) {
      const base = await readFile(join(state.dir, 'certpilot.yaml'), 'utf8');
      await writeFile(config, `${base}deployers: {"volume": {"type": "files", "dir": "./volumes/{name}"}}\ndefaults: {"deploy": ["volume"]}\n`);
      await mustRun('certpilot deploys to files once', nodeBin, [cliPath, 'renew', '--config', config], { env: baseEnv(), cwd: state.dir },
        (r) => ((r.stdout.match(/^deployed /gm) ?? []).length === state.names.length ? undefined : `did not deploy every certificate: ${r.stdout}`));
    }
    proxy.resetCounts();
    const steps = [{
      cmd: nodeBin,
      args: [cliPath, 'renew', '--config', config],
      check: (r) => (/not-due/.test(r.stdout) && !/issued|renewed|deployed/.test(r.stdout) ? undefined : 'redeployed or renewed something'),
    }];
    const r = await runSequence(`${line} renew`, steps, { env: baseEnv(), cwd: state.dir });
    record('renew', line, { ...r, certificates: CERTS, invocations: 1, requests: requestSnapshot() });
    log(`  ${line.padEnd(10)} run ${run}: ${fmtS(r.ms)}  ${fmtMiB(r.rssKiB)}  ${proxy.requests.total} requests`);
  } catch (error) {
    recordError('renew', line, error);
  }
}

/**
 * The same nothing-due renew with state in Secrets of the Kubernetes stand-in
 * (`stateStore: kubernetes-secret`): the directory of scenario 2 copied into Secrets by `certpilot
 * state copy` (unmeasured), then `certpilot renew` over the same configuration plus `stateStore`.
 * It reads 20 certificate Secrets and the account's over HTTPS instead of files; its ACME requests
 * must be those of the directory line (the state's place changes no request to the CA).
 */
let standin;
async function renewWithSecrets(run) {
  const state = lastState.certpilot;
  const line = 'certpilot+secrets';
  if (!state || results.renew?.[line]?.error) return;
  const config = join(state.dir, 'certpilot-secrets.yaml');
  try {
    if (run === 1) {
      standin ??= await startKubeStandin();
      const kubeconfig = await standin.writeKubeconfig();
      const base = await readFile(join(state.dir, 'certpilot.yaml'), 'utf8');
      await writeFile(config, `${base}stateStore: ${JSON.stringify({ type: 'kubernetes-secret', kubeconfig, secretPrefix: 'bench' })}\n`);
      await mustRun('certpilot state copy into Secrets', nodeBin,
        [cliPath, 'state', 'copy', '--from', `dir:${join(state.dir, 'state')}`, '--to', `kubernetes-secret:${standin.namespace}?kubeconfig=${kubeconfig}&secretPrefix=bench`],
        { env: baseEnv(), cwd: state.dir },
        (r) => ((r.stdout.match(/^cert +.*live version/gm) ?? []).length === state.names.length ? undefined : `did not copy every certificate: ${r.stdout}`));
    }
    proxy.resetCounts();
    const apiBefore = standin.requests.length;
    const steps = [{
      cmd: nodeBin,
      args: [cliPath, 'renew', '--config', config],
      check: (r) => ((r.stdout.match(/^not-due /gm) ?? []).length === state.names.length && !/issued|renewed|deployed/.test(r.stdout) ? undefined : `not every certificate read as not due: ${r.stdout}`),
    }];
    const r = await runSequence(`${line} renew`, steps, { env: baseEnv(), cwd: state.dir });
    const apiRequests = standin.requests.length - apiBefore;
    record('renew', line, { ...r, certificates: CERTS, invocations: 1, requests: requestSnapshot(), apiRequests });
    log(`  ${line.padEnd(10)} run ${run}: ${fmtS(r.ms)}  ${fmtMiB(r.rssKiB)}  ${proxy.requests.total} requests, ${apiRequests} Kubernetes API requests`);
  } catch (error) {
    recordError('renew', line, error);
  }
}

/**
 * `BENCH_ONLY=renew-secrets`: certpilot's 20 certificates issued once into a directory
 * (unmeasured), then per run the nothing-due renew from the directory and from Secrets, both with
 * request counts. Only the Secrets row is merged into results.json (the directory line of the full
 * run stays); the directory line of this run goes into the row's note, for the request counts.
 */
async function onlyRenewSecrets() {
  log(`\n[3, Secrets only] renew when nothing of ${CERTS} is due, state in Secrets — ${RUNS_MULTI} run(s)`);
  const dir = await newDir('secrets');
  const certNames = names('secrets', CERTS);
  await writeConfig(dir, { directoryUrl: proxy.directoryUrl, httpPort: pebble.httpPort, certificates: certNames.map((n) => ({ name: n, domains: [n] })) });
  await mustRun(`certpilot issues ${CERTS} certificates`, nodeBin, [cliPath, 'renew', '--config', join(dir, 'certpilot.yaml')], { env: baseEnv(), cwd: dir },
    () => certNames.map((n) => fileExists(join(dir, 'state', 'live', n, 'fullchain.pem'))).find(Boolean));
  lastState.certpilot = { dir, names: certNames, tool: 'certpilot' };
  const directory = [];
  for (let run = 1; run <= RUNS_MULTI; run++) {
    proxy.resetCounts();
    const r = await runSequence('certpilot renew', clients.certpilot.renewAll(dir, certNames), { env: baseEnv(), cwd: dir });
    directory.push({ ms: r.ms, requests: proxy.requests.total });
    log(`  certpilot  run ${run}: ${fmtS(r.ms)}  ${fmtMiB(r.rssKiB)}  ${proxy.requests.total} requests`);
    await renewWithSecrets(run);
  }
  return directory;
}

async function scenarioColdStart() {
  // Start-ups are short and noisy on a shared machine: more runs than the other scenarios (cheap).
  const runs = QUICK ? 1 : Math.max(RUNS_SINGLE, 15);
  log(`\n[4] CLI cold start (--version) — ${runs} run(s)`);
  const lines = [...TOOLS.map((t) => ({ line: t, ...clients[t].version })), { line: 'node -e 0', cmd: nodeBin, args: ['-e', '0'] }];
  for (let run = 1; run <= runs; run++) {
    for (const l of lines) {
      if (results.start?.[l.line]?.error) continue;
      try {
        const r = await runSequence(`${l.line} --version`, [l], { env: baseEnv(), cwd: scratch });
        record('start', l.line, r);
      } catch (error) {
        recordError('start', l.line, error);
      }
    }
  }
  for (const l of lines) {
    const runs = results.start?.[l.line]?.runs ?? [];
    if (runs.length) log(`  ${l.line.padEnd(10)} median ${fmtS(median(runs.map((x) => x.ms)))}  ${fmtMiB(Math.max(...runs.map((x) => x.rssKiB)))}`);
  }
}

async function scenarioThousand() {
  if (!TOOLS.includes('certpilot') || THOUSAND === 0) return;
  log(`\n[5] ${THOUSAND} certificates in one \`certpilot issue\` at concurrency ${THOUSAND_CONCURRENCY}, then nothing-due renew and status — ${RUNS_MULTI}/${RUNS_MULTI}/${RUNS_MULTI} run(s)`);
  // Each issue gets a fresh state and names of its own; renew and status run over the last one's.
  const makeState = async (run) => {
    const dir = await newDir(`thousand-${run}`);
    const certNames = Array.from({ length: THOUSAND }, (_, i) => `k${run}-${String(i + 1).padStart(5, '0')}.bench.test`);
    const config = await writeConfig(dir, {
      directoryUrl: proxy.directoryUrl,
      httpPort: pebble.httpPort,
      certificates: certNames.map((n) => ({ name: n, domains: [n] })),
    });
    await writeFile(config, `${await readFile(config, 'utf8')}renewal: {"concurrency": ${THOUSAND_CONCURRENCY}}\n`);
    return { dir, certNames, config };
  };
  const cli = (state, ...args) => ({ cmd: nodeBin, args: [cliPath, ...args, '--config', state.config] });
  const steps = {
    issue: (state) => ({
      ...cli(state, 'issue'),
      check: () => state.certNames.map((n) => fileExists(join(state.dir, 'state', 'live', n, 'fullchain.pem'))).find(Boolean),
    }),
    renew: (state) => ({
      ...cli(state, 'renew'),
      check: (r) => ((r.stdout.match(/not-due/g) ?? []).length === THOUSAND && !/issued|renewed/.test(r.stdout) ? undefined : 'did not report every certificate not due'),
    }),
    status: (state) => ({
      ...cli(state, 'status', '--json'),
      check: (r) => (JSON.parse(r.stdout).filter((row) => row.notAfter && !row.due).length === THOUSAND ? undefined : 'did not list every certificate as valid and not due'),
    }),
  };
  // One measured run of `line` over `state`; false when it failed (recorded).
  const measure = async (line, run, state) => {
    proxy.resetCounts();
    try {
      const r = await runSequence(`certpilot ${line} of ${THOUSAND}`, [steps[line](state)], { env: baseEnv(), cwd: state.dir });
      record('thousand', line, { ...r, certificates: THOUSAND, invocations: 1, requests: requestSnapshot() });
      log(`  ${line.padEnd(10)} run ${run}: ${fmtS(r.ms)}  CPU ${fmtS(r.cpuMs)} (Pebble ${fmtS(r.caCpuMs)})  ${fmtMiB(r.rssKiB)}  ${proxy.requests.total} requests`);
      return true;
    } catch (error) {
      recordError('thousand', line, error);
      return false;
    }
  };
  let state;
  for (let run = 1; run <= RUNS_MULTI; run++) {
    if (state) await rm(state.dir, { recursive: true, force: true });
    state = await makeState(run);
    if (!(await measure('issue', run, state))) {
      await rm(state.dir, { recursive: true, force: true });
      state = undefined;
      break;
    }
  }
  for (const line of ['renew', 'status']) {
    if (!state) {
      recordError('thousand', line, new Error('no state: the issue of the large scenario failed'));
      continue;
    }
    for (let run = 1; run <= RUNS_MULTI; run++) if (!(await measure(line, run, state))) break;
  }
  if (state) await rm(state.dir, { recursive: true, force: true });
  // The floor of the same issue: as many certificates, as many requests per certificate as
  // certpilot's issues sent (their median, rounded; 7 when they failed), the same concurrency.
  const issueRequests = (results.thousand?.issue?.runs ?? []).filter((r) => r.requests).map((r) => r.requests.total / THOUSAND);
  const requests = issueRequests.length ? Math.round(median(issueRequests)) : 7;
  for (let run = 1; run <= RUNS_MULTI; run++) {
    const floorDir = await newDir('thousand-floor');
    proxy.resetCounts();
    try {
      const r = await runSequence(`floor of ${THOUSAND}`, [floorSteps.many(floorDir, THOUSAND, requests)], { env: baseEnv(), cwd: floorDir });
      record('thousand', 'floor', { ...r, certificates: THOUSAND, invocations: 1, requests: requestSnapshot() });
      log(`  ${'floor'.padEnd(10)} run ${run}: ${fmtS(r.ms)}  CPU ${fmtS(r.cpuMs)} (Pebble ${fmtS(r.caCpuMs)})  ${fmtMiB(r.rssKiB)}  ${proxy.requests.total} requests`);
    } catch (error) {
      recordError('thousand', 'floor', error);
      break;
    } finally {
      await rm(floorDir, { recursive: true, force: true });
    }
  }
}

// --- report ---------------------------------------------------------------------------------------
const fmtS = (ms) => (Number.isFinite(ms) ? `${(ms / 1000).toFixed(ms < 10_000 ? 3 : 1)} s` : 'n/a');
const fmtMiB = (kib) => (kib > 0 ? `${(kib / 1024).toFixed(1)} MiB` : 'n/a');
const fmtRatio = (a, b) => (Number.isFinite(a) && Number.isFinite(b) && b > 0 ? `${(a / b).toFixed(2)}×` : 'n/a');

/** Median wall time, max peak RSS, median requests per certificate and median request breakdown of one line. */
function summarize(entry) {
  if (!entry || entry.error || entry.runs.length === 0) return undefined;
  const runs = entry.runs;
  const perCert = runs.filter((r) => r.requests).map((r) => r.requests.total / (r.certificates ?? 1));
  const kinds = {};
  for (const k of KIND_ORDER) {
    const xs = runs.filter((r) => r.requests).map((r) => (r.requests.byKind[k] ?? 0) / (r.certificates ?? 1));
    if (xs.some((x) => x > 0)) kinds[k] = median(xs);
  }
  return {
    medianMs: median(runs.map((r) => r.ms)),
    minMs: Math.min(...runs.map((r) => r.ms)),
    maxMs: Math.max(...runs.map((r) => r.ms)),
    peakRssKiB: Math.max(...runs.map((r) => r.rssKiB)),
    medianRssKiB: median(runs.map((r) => r.rssKiB)),
    medianCpuMs: runs.every((r) => r.cpuMs !== undefined) ? median(runs.map((r) => r.cpuMs)) : undefined,
    medianCaCpuMs: runs.every((r) => r.caCpuMs !== undefined) ? median(runs.map((r) => r.caCpuMs)) : undefined,
    requestsPerCert: perCert.length ? median(perCert) : undefined,
    kinds,
    runs: runs.length,
  };
}

function versionOf(cmd, args) {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', env: baseEnv(), stdio: ['ignore', 'pipe', 'pipe'] }).trim().split('\n')[0];
  } catch {
    return 'unknown';
  }
}
function debVersion(pkg) {
  try {
    return execFileSync('dpkg-query', ['-W', '-f', '${Version}', pkg], { encoding: 'utf8' }).trim();
  } catch {
    return 'not installed';
  }
}

const TARGETS = {
  single: { ms: 600, text: 'under 0.6 s' },
  many: { ms: 3000, text: 'under 3 s' },
  renew: { ms: 300, text: 'under 0.3 s' },
  renewSecrets: { ms: 500, text: 'under 0.5 s' },
};

function scenarioTable(id, title, lines, certLabel) {
  const s = Object.fromEntries(lines.map((l) => [l, summarize(results[id]?.[l])]));
  const base = { certbot: s.certbot?.medianMs, lego: s.lego?.medianMs };
  const rows = [
    `| client | median wall | min–max | vs certbot | vs lego | CPU (user+sys) | Pebble CPU | ACME requests / ${certLabel} | peak RSS (median) | peak RSS (max) | runs |`,
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const l of lines) {
    const e = results[id]?.[l];
    if (!e) continue;
    const x = s[l];
    if (!x) {
      rows.push(`| ${lineLabel(l)} | failed | | | | | | | | | ${e.runs.length} |`);
      continue;
    }
    rows.push(`| ${lineLabel(l)} | ${fmtS(x.medianMs)} | ${fmtS(x.minMs)}–${fmtS(x.maxMs)} | ${fmtRatio(x.medianMs, base.certbot)} | ` +
      `${fmtRatio(x.medianMs, base.lego)} | ${fmtCpu(x.medianCpuMs)} | ${fmtCpu(x.medianCaCpuMs)} | ${x.requestsPerCert === undefined ? '–' : fmtNum(x.requestsPerCert)} | ` +
      `${fmtMiB(x.medianRssKiB)} | ${fmtMiB(x.peakRssKiB)} | ${x.runs} |`);
  }
  const errors = lines.filter((l) => results[id]?.[l]?.error).map((l) => `- **${lineLabel(l)} failed**: \`\`\`\n${results[id][l].error}\n\`\`\``);
  return `### ${title}\n\n${rows.join('\n')}\n${errors.length ? `\n${errors.join('\n')}\n` : ''}`;
}
const fmtCpu = (ms) => (ms === undefined || !Number.isFinite(ms) ? 'n/a' : fmtS(ms));
const fmtNum = (x) => (Number.isInteger(x) ? String(x) : x.toFixed(2));
const LINE_LABELS = {
  certpilot: 'certpilot',
  'certpilot-sequential': 'certpilot, one `issue` per certificate',
  'certpilot+files': 'certpilot, every certificate with a `files` deployer already deployed',
  'certpilot+secrets': 'certpilot, state in Secrets (Kubernetes stand-in)',
  certbot: 'certbot',
  lego: 'lego',
  'node -e 0': '`node -e 0`',
  floor: 'floor: the unavoidable work alone (`bench/floor/`)',
};
const lineLabel = (l) => LINE_LABELS[l] ?? l;

function breakdownTable() {
  const lines = TOOLS.filter((t) => summarize(results.single?.[t]));
  if (!lines.length) return '';
  const header = `| request | ${lines.join(' | ')} |\n| --- | ${lines.map(() => '---:').join(' | ')} |`;
  const rows = KIND_ORDER.filter((k) => lines.some((l) => summarize(results.single[l]).kinds[k] !== undefined)).map(
    (k) => `| ${k} | ${lines.map((l) => fmtNum(summarize(results.single[l]).kinds[k] ?? 0)).join(' | ')} |`,
  );
  const total = `| **total** | ${lines.map((l) => `**${fmtNum(summarize(results.single[l]).requestsPerCert)}**`).join(' | ')} |`;
  return `### ACME requests for one certificate with a new account, by kind (median of runs)\n\n` +
    `Counted at the proxy. "authz"/"challenge" is the first POST to that URL (fetch / answer), "polls" every later one.\n\n` +
    `${header}\n${rows.join('\n')}\n${total}\n`;
}

function targetsTable() {
  const cp = (id, line = 'certpilot') => summarize(results[id]?.[line]);
  const rows = ['| target | certpilot | met? |', '| --- | ---: | --- |'];
  const timeRow = (label, id, t) => {
    const x = cp(id);
    rows.push(`| ${label} ${t.text} | ${x ? fmtS(x.medianMs) : 'n/a'} | ${x ? (x.medianMs < t.ms ? 'met' : '**missed**') : 'not measured'} |`);
  };
  timeRow('one certificate', 'single', TARGETS.single);
  timeRow(`${CERTS} certificates`, 'many', TARGETS.many);
  timeRow(`nothing-due renew of ${CERTS}`, 'renew', TARGETS.renew);
  {
    const x = cp('renew', 'certpilot+files');
    rows.push(`| nothing-due renew of ${CERTS} with \`files\` deployers already deployed ${TARGETS.renew.text} | ${x ? fmtS(x.medianMs) : 'n/a'} | ${x ? (x.medianMs < TARGETS.renew.ms ? 'met' : '**missed**') : 'not measured'} |`);
  }
  {
    const x = cp('renew', 'certpilot+secrets');
    const fs = cp('renew');
    rows.push(`| nothing-due renew of ${CERTS} with state in Secrets (stand-in) ${TARGETS.renewSecrets.text} | ${x ? fmtS(x.medianMs) : 'n/a'} | ${x ? (x.medianMs < TARGETS.renewSecrets.ms ? 'met' : '**missed**') : 'not measured'} |`);
    const same = x && fs ? x.requestsPerCert === fs.requestsPerCert : undefined;
    rows.push(`| ACME requests of that renew = with state in a directory (${fs ? fmtNum(fs.requestsPerCert) : 'n/a'} / cert) | ${x ? fmtNum(x.requestsPerCert) : 'n/a'} | ${same === undefined ? 'not measured' : same ? 'met' : '**missed**'} |`);
  }
  for (const [id, label] of [['single', 'one certificate'], ['many', `${CERTS} certificates`]]) {
    const x = cp(id);
    const lego = summarize(results[id]?.lego);
    const ok = x && lego && x.requestsPerCert !== undefined ? x.requestsPerCert <= lego.requestsPerCert : undefined;
    rows.push(`| ACME requests per certificate ≤ lego (${label}; lego ${lego ? fmtNum(lego.requestsPerCert) : 'n/a'}) | ` +
      `${x ? fmtNum(x.requestsPerCert) : 'n/a'} | ${ok === undefined ? 'not measured' : ok ? 'met' : '**missed**'} |`);
  }
  const rss = ['single', 'many', 'renew', 'start'].flatMap((id) => ['certpilot', 'certpilot-sequential'].map((l) => cp(id, l)?.peakRssKiB ?? 0));
  const peak = Math.max(...rss);
  rows.push(`| peak RSS under 90 MiB (any scenario) | ${fmtMiB(peak)} | ${peak > 0 ? (peak < 90 * 1024 ? 'met' : '**missed**') : 'not measured'} |`);
  return rows.join('\n');
}

// Wall times of the run before issue 17 (bench/RESULTS.md of 2026-12-01 and the issue's own
// figures for 1000 certificates): issue 17 asks that no scenario gets slower.
const BEFORE_MS = { single: 402, many: 1340, renew: 211, 'renew+files': 171, start: 54, 'thousand-renew': 840, 'thousand-status': 920 };
// The quiet machine of that run: `node -e 0` took 31.1 ms of wall time (results.json of 7a0f425).
// Wall times move with the machine's load (the 2 cores are shared), so the targets table also
// shows wall times scaled by this run's `node -e 0` to that run's. CPU and memory are not scaled.
const BEFORE_NODE_WALL_MS = 31.1;

/** The targets of issue 17: CPU and memory, from the same run. */
function costTargetsTable() {
  const s = (id, line) => summarize(results[id]?.[line]);
  const node0 = s('start', 'node -e 0');
  // Wall time on this run's machine → on the quiet one: what `node -e 0` took there over here.
  const wallScale = node0?.medianMs > 0 ? BEFORE_NODE_WALL_MS / node0.medianMs : undefined;
  const rows = [
    `| target (issue 17) | certpilot | met? | wall time scaled to the run of 2026-12-01 (× ${wallScale === undefined ? 'n/a' : wallScale.toFixed(2)}) | met there? | the floor, same run (\`bench/floor/\`) |`,
    '| --- | ---: | --- | ---: | --- | ---: |',
  ];
  const verdict = (ok) => (ok === undefined ? 'not measured' : ok ? 'met' : '**missed**');
  const scaled = (ms, scale, limit) => (ms === undefined || scale === undefined ? ['n/a', 'not measured'] : [fmtS(ms * scale), verdict(ms * scale <= limit)]);
  const noScale = ['(not a wall time)', '—'];
  const push = (what, value, ok, [scaledValue, scaledOk] = noScale, floor = '—') => rows.push(`| ${what} | ${value} | ${verdict(ok)} | ${scaledValue} | ${scaledOk} | ${floor} |`);
  // What the skeleton of the unavoidable work took, and whether the target is below even that.
  const floorCell = (value, text, limit) => (value === undefined ? (results.single || results.thousand ? 'not measured' : '—') : `${text}${value > limit ? ' (over the target)' : ''}`);
  const one = s('single', 'certpilot');
  const oneFloor = s('single', 'floor');
  push('one certificate with a new account: CPU ≤ 0.15 s', fmtCpu(one?.medianCpuMs), one?.medianCpuMs === undefined ? undefined : one.medianCpuMs <= 150, noScale,
    floorCell(oneFloor?.medianCpuMs, fmtCpu(oneFloor?.medianCpuMs), 150));
  push('one certificate with a new account: peak RSS ≤ 52 MiB (median)', one ? fmtMiB(one.medianRssKiB) : 'n/a', one ? one.medianRssKiB <= 52 * 1024 : undefined, noScale,
    floorCell(oneFloor?.medianRssKiB, fmtMiB(oneFloor?.medianRssKiB), 52 * 1024));
  const issue = s('thousand', 'issue');
  const perCert = issue?.medianCpuMs !== undefined ? issue.medianCpuMs / THOUSAND : undefined;
  const caPerCert = issue?.medianCaCpuMs !== undefined ? issue.medianCaCpuMs / THOUSAND : undefined;
  const manyFloor = s('thousand', 'floor');
  const floorPerCert = manyFloor?.medianCpuMs !== undefined ? manyFloor.medianCpuMs / THOUSAND : undefined;
  push(
    `${THOUSAND} certificates: CPU per certificate ≤ 1.5× Pebble's`,
    perCert === undefined ? 'n/a' : `${perCert.toFixed(2)} ms vs Pebble ${caPerCert === undefined ? 'n/a' : `${caPerCert.toFixed(2)} ms`} (${fmtRatio(perCert, caPerCert)})`,
    perCert === undefined || caPerCert === undefined ? undefined : perCert <= 1.5 * caPerCert,
    noScale,
    floorCell(floorPerCert, floorPerCert === undefined ? '' : `${floorPerCert.toFixed(2)} ms (${fmtRatio(floorPerCert, caPerCert)} Pebble's)`, caPerCert === undefined ? Infinity : 1.5 * caPerCert),
  );
  push(`${THOUSAND} certificates: peak RSS ≤ 100 MiB (median)`, issue ? `${fmtMiB(issue.medianRssKiB)}${issue.runs > 1 ? ` (largest ${fmtMiB(issue.peakRssKiB)})` : ''}` : 'n/a', issue ? issue.medianRssKiB <= 100 * 1024 : undefined, noScale,
    floorCell(manyFloor?.medianRssKiB, fmtMiB(manyFloor?.medianRssKiB), 100 * 1024));
  for (const line of ['renew', 'status']) {
    const x = s('thousand', line);
    push(`nothing-due \`${line}\` of ${THOUSAND}: ≤ 0.5 s (wall)`, `${x ? fmtS(x.medianMs) : 'n/a'} (CPU ${fmtCpu(x?.medianCpuMs)})`, x ? x.medianMs <= 500 : undefined, scaled(x?.medianMs, wallScale, 500));
    push(`nothing-due \`${line}\` of ${THOUSAND}: peak RSS ≤ 80 MiB`, x ? fmtMiB(x.peakRssKiB) : 'n/a', x ? x.peakRssKiB <= 80 * 1024 : undefined);
  }
  const cp = s('start', 'certpilot');
  push(
    `cold start ≤ 1.1× \`node -e 0\` (wall; CPU ${fmtRatio(cp?.medianCpuMs, node0?.medianCpuMs)})`,
    cp && node0 ? fmtRatio(cp.medianMs, node0.medianMs) : 'n/a',
    cp && node0 ? cp.medianMs <= 1.1 * node0.medianMs : undefined,
    ['(a ratio of the same run)', '—'],
  );
  const slower = [
    ['single', 'certpilot', 'single'], ['many', 'certpilot', 'many'], ['renew', 'certpilot', 'renew'], ['renew', 'certpilot+files', 'renew+files'],
    ['start', 'certpilot', 'start'], ['thousand', 'renew', 'thousand-renew'], ['thousand', 'status', 'thousand-status'],
  ].map(([id, line, key]) => [key, s(id, line)?.medianMs]).filter(([, ms]) => ms !== undefined);
  const worse = slower.filter(([key, ms]) => ms > BEFORE_MS[key]);
  const worseScaled = wallScale === undefined ? undefined : slower.filter(([key, ms]) => ms * wallScale > BEFORE_MS[key]);
  push(
    `no scenario slower in wall time than before (${Object.entries(BEFORE_MS).map(([k, v]) => `${k} ${fmtS(v)}`).join(', ')})`,
    worse.length ? worse.map(([k, ms]) => `${k} ${fmtS(ms)}`).join(', ') : 'none slower',
    slower.length ? worse.length === 0 : undefined,
    worseScaled === undefined
      ? ['n/a', 'not measured']
      : [worseScaled.length ? worseScaled.map(([k, ms]) => `${k} ${fmtS(ms * wallScale)}`).join(', ') : 'none slower', verdict(slower.length ? worseScaled.length === 0 : undefined)],
  );
  return `${rows.join('\n')}\n\nScaled: this run's wall time × (\`node -e 0\` of the quiet run of 2026-12-01 ÷ this run's) = × ${BEFORE_NODE_WALL_MS} ms ÷ ${fmtS(node0?.medianMs)}: a first-order correction for a busier machine, not a measurement on a quiet one; the "met?" column is the unscaled verdict.`;
}

async function writeReport(meta) {
  const findingsFile = join(here, 'findings.md');
  const findings = existsSync(findingsFile) ? readFileSync(findingsFile, 'utf8').trim() : '';
  const md = `# Benchmark results: certpilot vs certbot vs lego

${QUICK ? '> **Smoke run (`BENCH_QUICK=1`)**: one run per scenario and fewer certificates; not the reference figures.\n\n' : ''}Generated by \`bench/run.mjs\` on ${meta.date}. Reproduce with:

\`\`\`sh
npm run bench        # = bash scripts/setup.sh --bench && node bench/run.mjs
\`\`\`

**Machine**: ${meta.nproc} CPU (${meta.cpu}), Node.js ${meta.node}, ${meta.os}.
**Clients**: certbot ${meta.certbot} (Debian ${meta.certbotDeb}), lego ${meta.legoDeb} (Debian), certpilot ${meta.certpilot} (\`${relative(root, cliPath)}\`).
**CA**: Pebble ${meta.pebbleDeb} (Debian) with \`PEBBLE_VA_NOSLEEP=1\`, \`PEBBLE_WFE_NONCEREJECT=0\`, \`PEBBLE_AUTHZREUSE=0\`, ${STRICT ? '`-strict`' : 'not `-strict`'}; every client goes through the same counting HTTPS proxy (\`test/harness/fault-proxy.ts\`, no faults) on loopback, trusts the test CA (certbot \`REQUESTS_CA_BUNDLE\`, lego \`LEGO_CA_CERTIFICATES\`, certpilot \`--ca-bundle\`/\`acme.caBundle\`) and answers http-01 with its own standalone listener on Pebble's http-01 port. ECDSA P-256 keys everywhere (each client's default).

Wall time: \`process.hrtime\` around spawn → exit of each process (for a sequence, the sum). CPU: GNU \`time -f '%U %S'\`, user + system seconds of the process (for a sequence, the sum); Pebble CPU: the CA's own user + system time over the same span, from \`/proc/<pid>/stat\`. Peak RSS: GNU \`time -f %M\` of the process (for a sequence, the largest of any invocation); the tables give the median and the largest over the runs. Requests: every HTTP request the proxy saw during the scenario, divided by the number of certificates. Runs: ${RUNS_SINGLE} for the single-certificate and start-up scenarios, ${RUNS_MULTI} for the ${CERTS}-certificate ones; medians reported. Each run uses fresh names, so no authorization is reused.

## Targets

${costTargetsTable()}

Earlier targets:

${targetsTable()}

## Scenarios

${scenarioTable('single', '1. One certificate with a new account (fresh state each run)', [...TOOLS, 'floor'], 'cert')}
${results.single?.floor ? `The floor line is not a client: \`bench/floor/one.mjs\`, bundled as certpilot is, does only what no client that keeps certpilot's guarantees can skip, with none of the ACME protocol: zod/mini validates its arguments and pino logs one line; two P-256 keys made and exported, 8 ES256 signatures; one keep-alive HTTPS agent trusting the test CA sends as many requests as certpilot sent in the same run (each a GET of the directory); an http listener opened and closed; 15 files written atomically (temporary file, fsync, rename) and 4 folders fsynced.\n` : ''}
${breakdownTable()}
${scenarioTable('many', `2. ${CERTS} certificates with one account, the way each client's users do it`, [...TOOLS.filter((t) => t !== 'certpilot'), ...(TOOLS.includes('certpilot') ? ['certpilot', 'certpilot-sequential'] : [])], 'cert')}
certbot and lego: ${CERTS} sequential \`certonly\` / \`run\` invocations sharing one config directory (one account, created by the first). certpilot: one \`certpilot renew\` over a configuration listing ${CERTS} certificates (\`renewal.concurrency\` default 4); the second certpilot line is ${CERTS} sequential \`certpilot issue -d\` invocations, like for like with the other two.

${scenarioTable('renew', `3. \`renew\` when nothing of the ${CERTS} is due`, [...TOOLS, ...(TOOLS.includes('certpilot') ? ['certpilot+files', 'certpilot+secrets'] : [])], 'cert')}
certbot: one \`certbot renew --no-random-sleep-on-renew\`. lego has no "renew all": its users loop, so ${CERTS} \`lego … -d NAME renew --days 30 --no-random-sleep\` invocations (time summed). certpilot: one \`certpilot renew\` with the configuration of scenario 2; the \`files\` line adds a \`files\` deployer to every certificate (\`dir: ./volumes/{name}\`), deployed by one unmeasured run before: the measured runs must redeploy nothing. The Secrets line keeps the state in Secrets of the Kubernetes stand-in (\`stateStore: kubernetes-secret\`, copied there from scenario 2's directory by \`certpilot state copy\`): the plan reads each certificate's Secret once over HTTPS (a nothing-due run reads no account).
${results.renew?.['certpilot+secrets']?.note ? `\n> ${results.renew['certpilot+secrets'].note}\n` : ''}
${scenarioTable('start', '4. CLI cold start (`--version`)', [...TOOLS, 'node -e 0'], 'cert')}
${results.thousand ? `${scenarioTable('thousand', `5. certpilot alone: ${THOUSAND} certificates in one \`issue\` (concurrency ${THOUSAND_CONCURRENCY}), then nothing-due \`renew\` and \`status --json\``, ['issue', 'renew', 'status', 'floor'], 'cert')}
One \`certpilot issue --config\` over a configuration listing ${THOUSAND} certificates with \`renewal.concurrency: ${THOUSAND_CONCURRENCY}\` (${RUNS_MULTI} runs, each with a fresh state and names of its own), then ${RUNS_MULTI} \`renew\` and ${RUNS_MULTI} \`status --json\` runs over the state the last one wrote. "Pebble CPU" is the CA's own user + system CPU over the same span (\`/proc/<pid>/stat\`), so "CPU per certificate vs Pebble's" compares like with like. The floor line (\`bench/floor/many.mjs\`, after the others) does per certificate, ${THOUSAND_CONCURRENCY} at a time, only what no client that keeps certpilot's guarantees can skip: as many HTTPS requests to the CA as certpilot's issues sent per certificate (their median; each a GET of the directory, after one ES256 signature), one P-256 key made and exported, 17 files written atomically through the thread pool and 4 folder fsyncs; its Pebble CPU is the CA answering those GETs, not issuing.
` : ''}
## Reference figures from the issue (another machine, Pebble with validation sleeps)

certbot 3.7 s for one certificate and 63 s for 20; lego 6.1 s and 116 s; certbot \`renew\` with nothing due 0.76 s; \`node -e 0\` 0.13 s.

${findings ? `## Why, and what it would take\n\n${findings}\n` : ''}`;
  await writeFile(OUT_MD, md);
  await writeFile(OUT_JSON, `${JSON.stringify({ meta, settings: { quick: QUICK, runsSingle: RUNS_SINGLE, runsMulti: RUNS_MULTI, certificates: CERTS, thousand: THOUSAND, strict: STRICT, tools: TOOLS }, summary: Object.fromEntries(Object.entries(results).map(([id, lines]) => [id, Object.fromEntries(Object.entries(lines).map(([l, e]) => [l, summarize(e) ?? { error: e.error }]))])), results }, null, 2)}\n`);
  log(`\nwrote ${OUT_MD} and ${OUT_JSON}`);
  return md;
}

// --- main -----------------------------------------------------------------------------------------
async function killChildren() {
  for (const child of children) child.kill('SIGKILL');
}

let exitCode = 0;
const startedAt = Date.now();
if (ONLY === 'renew-secrets') {
  // One row, measured alone and merged into the last full run's results (its other rows untouched).
  const saved = JSON.parse(readFileSync(OUT_JSON, 'utf8'));
  ({ runsSingle: RUNS_SINGLE, runsMulti: RUNS_MULTI, certificates: CERTS, strict: STRICT, tools: TOOLS } = saved.settings);
  RUNS_MULTI = envInt('BENCH_RUNS') ?? RUNS_MULTI;
  try {
    scratch = await mkdtemp(join(tmpdir(), 'certpilot-bench-'));
    await mkdir(join(scratch, 'home'));
    pebble = await startPebble({ version: '2.4', noSleep: true, nonceRejectPercent: 0, authzReuse: 0, strict: STRICT });
    proxy = await startFaultProxy(pebble);
    const directory = await onlyRenewSecrets();
    const measured = results.renew?.['certpilot+secrets'];
    for (const id of Object.keys(results)) delete results[id];
    Object.assign(results, saved.results);
    if (measured) {
      const load = versionOf('cat', ['/proc/loadavg']).split(' ').slice(0, 3).join(' ');
      measured.note = `The Secrets line was measured alone (\`BENCH_ONLY=renew-secrets node bench/run.mjs\`) on ${new Date().toISOString().slice(0, 10)}, ` +
        `${measured.runs.length} runs, on the shared 2-core machine while other work ran on it (load average ${load} at the end): wall times are noisy. ` +
        `In the same run the directory line took ${directory.map((d) => fmtS(d.ms)).join(', ')} with ${directory.map((d) => d.requests).join(', ')} ACME requests, ` +
        `the Secrets line ${measured.runs.map((r) => fmtS(r.ms)).join(', ')} with ${measured.runs.map((r) => r.requests?.total ?? '?').join(', ')} ` +
        `(and ${measured.runs.map((r) => r.apiRequests ?? '?').join(', ')} Kubernetes API requests for the ${CERTS} certificates).`;
      (results.renew ??= {})['certpilot+secrets'] = measured;
    }
    const md = await writeReport(saved.meta);
    process.stdout.write(`${md.split('## Scenarios')[0]}\n`);
  } catch (error) {
    console.error(error instanceof Error ? error.stack ?? error.message : error);
    process.exitCode = 1;
  } finally {
    await killChildren();
    await standin?.stop();
    await proxy?.stop();
    await pebble?.stop();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  }
  process.exit();
}
if (process.env.BENCH_REPORT_ONLY === '1') {
  const saved = JSON.parse(readFileSync(OUT_JSON, 'utf8'));
  ({ runsSingle: RUNS_SINGLE, runsMulti: RUNS_MULTI, certificates: CERTS, strict: STRICT, tools: TOOLS } = saved.settings);
  THOUSAND = saved.settings.thousand ?? THOUSAND;
  Object.assign(results, saved.results);
  scratch = tmpdir();
  await writeReport(saved.meta);
  process.exit(0);
}
try {
  scratch = await mkdtemp(join(tmpdir(), 'certpilot-bench-'));
  await mkdir(join(scratch, 'home'));
  const missing = TOOLS.filter((t) => t !== 'certpilot' && !versionOf('sh', ['-c', `command -v ${t}`]).startsWith('/'));
  if (missing.length) throw new Error(`bench: ${missing.join(', ')} not installed: run \`bash scripts/setup.sh --bench\``);
  pebble = await startPebble({ version: '2.4', noSleep: true, nonceRejectPercent: 0, authzReuse: 0, strict: STRICT });
  proxy = await startFaultProxy(pebble);
  pebblePid = findPebblePid();
  if (!pebblePid) log('bench: Pebble\'s process not found in /proc: its CPU is not reported');
  log(`bench: Pebble 2.4 at ${pebble.directoryUrl}, proxy ${proxy.directoryUrl}, http-01 port ${pebble.httpPort}; ` +
    `tools ${TOOLS.join(', ')}; ${RUNS_SINGLE}/${RUNS_MULTI} runs, ${CERTS} certificates${QUICK ? ' (quick)' : ''}`);

  if (TOOLS.includes('certpilot')) await buildFloor();
  await scenarioColdStart();
  await scenarioSingle();
  await scenarioMany();
  await scenarioRenewNothingDue();
  await scenarioThousand();

  const meta = {
    date: new Date().toISOString(),
    nproc: cpus().length,
    cpu: (cpus()[0]?.model ?? 'unknown').replace(/\s+/g, ' ').trim(),
    node: process.version,
    os: versionOf('sh', ['-c', '. /etc/os-release && echo "$PRETTY_NAME"']),
    certbot: versionOf('certbot', ['--version']).replace(/^certbot\s*/, ''),
    certbotDeb: debVersion('certbot'),
    legoDeb: debVersion('lego'),
    pebbleDeb: debVersion('pebble'),
    certpilot: versionOf(nodeBin, [cliPath, '--version']) || JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version,
    durationS: Math.round((Date.now() - startedAt) / 1000),
  };
  const md = await writeReport(meta);
  process.stdout.write(`${md.split('## Reference figures')[0]}\n(total ${meta.durationS} s)\n`);
} catch (error) {
  exitCode = 1;
  console.error(error instanceof Error ? error.stack ?? error.message : error);
  if (pebble) console.error((await pebble.logs()).split('\n').slice(-30).join('\n'));
} finally {
  await killChildren();
  await standin?.stop();
  await proxy?.stop();
  await pebble?.stop();
  if (scratch) await rm(scratch, { recursive: true, force: true });
}
process.exitCode = exitCode;
