// Benchmark of the http-01 responder (issue 7), not a test: `certpilot serve` over a real
// redis-server against nginx serving the same tokens as static files, on the same machine in the
// same run, both pinned to one core (taskset), wrk on the other. Hits and misses, with and without
// keep-alive; requests per second and p50/p99 latency from wrk; Redis commands per request from
// INFO commandstats. Writes bench/results/http01.md and bench/results/http01.json.
//
//   npm run build && node bench/http01-responder.mjs [--duration 4] [--connections 32] [--rounds 3]
//
// Each row is the median of --rounds runs, the servers of a row taking turns, so a burst of other
// work on the machine moves one run, not the result. Two baselines (bench/baseline-server.mjs) show
// what node itself costs per request: a bare node:http server and a canned node:net answer.
//
// Needs redis-server, nginx (nginx-light) and wrk (bash scripts/setup.sh --bench).
import { spawn, spawnSync } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { cpus, loadavg, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { startRedis } = await import(join(root, 'dist/test/harness/redis.js'));
const { startNginx } = await import(join(root, 'dist/test/harness/nginx.js'));
const { freePort } = await import(join(root, 'dist/test/harness/ports.js'));
const { nginxStatelessSnippet } = await import(join(root, 'dist/src/challenges/http01/stateless.js'));

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? fallback : Number(process.argv[i + 1]);
};
const DURATION = arg('duration', 4);
const ROUNDS = arg('rounds', 3);
const LOAD_BEFORE = loadavg()[0];
const CONNECTIONS = arg('connections', 32);
const SERVER_CPU = cpus().length > 1 ? '1' : '0';
const CLIENT_CPU = '0';
const TOKENS = 100;
const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
// Distinct for i < 832 (enough for the 100 seeded tokens and the thumbprint).
const token = (i) => Array.from({ length: 43 }, (_, k) => B64[(i * 31 + k * 7 + ((i * k) % 13)) % 64]).join('');
const THUMBPRINT = token(700);
const tokens = Array.from({ length: TOKENS }, (_, i) => token(i));

function need(binary) {
  if (spawnSync('sh', ['-c', `command -v ${binary}`]).status !== 0) {
    console.error(`bench: ${binary} missing (bash scripts/setup.sh --bench)`);
    process.exit(2);
  }
}
for (const b of ['redis-server', 'wrk', 'taskset']) need(b);

function wrk(url, { keepAlive }) {
  const args = ['-c', String(CONNECTIONS), '-t', '1', '-d', `${DURATION}s`, '--latency', ...(keepAlive ? [] : ['-H', 'Connection: close']), url];
  const r = spawnSync('taskset', ['-c', CLIENT_CPU, 'wrk', ...args], { encoding: 'utf8' });
  const out = r.stdout;
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? NaN);
  const unit = (v, u) => Number(v) * ({ us: 0.001, ms: 1, s: 1000 }[u] ?? NaN);
  const pct = (p) => {
    const m = new RegExp(`\\s${p}%\\s+([\\d.]+)(us|ms|s)`).exec(out);
    return m ? unit(m[1], m[2]) : NaN;
  };
  const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? NaN);
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
  const errors = /Socket errors: (.*)/.exec(out)?.[1] ?? '';
  return { rps, p50: pct(50), p99: pct(99), requests, non2xx, errors, raw: out };
}

const redis = await startRedis();
for (const t of tokens) await redis.command('SET', `.well-known/acme-challenge/${t}`, `${t}.${THUMBPRINT}`, 'EX', '3600');

const servePort = await freePort();
const serve = spawn('taskset', ['-c', SERVER_CPU, process.execPath, join(root, 'dist/bundle/certpilot.js'), 'serve', '--listen', `127.0.0.1:${servePort}`, '--redis-url', redis.url, '--log-level', 'warn'], { stdio: ['ignore', 'ignore', 'inherit'] });
// The same responder with its one-second hit cache off: every hit is one Redis GET.
const uncachedPort = await freePort();
const uncached = spawn('taskset', ['-c', SERVER_CPU, process.execPath, join(root, 'dist/bundle/certpilot.js'), 'serve', '--listen', `127.0.0.1:${uncachedPort}`, '--redis-url', redis.url, '--cache-hits-ms', '0', '--log-level', 'warn'], { stdio: ['ignore', 'ignore', 'inherit'] });
// Baselines answering the hit's body with no logic at all (see bench/baseline-server.mjs).
const bareHttpPort = await freePort();
const bareNetPort = await freePort();
const baselines = [
  spawn('taskset', ['-c', SERVER_CPU, process.execPath, join(root, 'bench/baseline-server.mjs'), 'http', String(bareHttpPort), `${tokens[7]}.${THUMBPRINT}`], { stdio: ['ignore', 'ignore', 'inherit'] }),
  spawn('taskset', ['-c', SERVER_CPU, process.execPath, join(root, 'bench/baseline-server.mjs'), 'net', String(bareNetPort), `${tokens[7]}.${THUMBPRINT}`], { stdio: ['ignore', 'ignore', 'inherit'] }),
];
const nginxPort = await freePort();
const nginx = await startNginx({ host: '127.0.0.1', port: nginxPort, workers: 1, serverLines: ['location /.well-known/acme-challenge/ { default_type text/plain; add_header Cache-Control no-store; }'] });
await mkdir(join(nginx.root, '.well-known', 'acme-challenge'), { recursive: true });
for (const t of tokens) await writeFile(join(nginx.root, '.well-known', 'acme-challenge', t), `${t}.${THUMBPRINT}`);
// Stateless mode with no certpilot in the path: nginx answers with the line `certpilot account show` prints.
const statelessPort = await freePort();
const statelessNginx = await startNginx({ host: '127.0.0.1', port: statelessPort, workers: 1, serverLines: [nginxStatelessSnippet(THUMBPRINT)] });
// Pin this benchmark's own nginx workers only (children of the masters whose pid files the harness writes).
for (const server of [nginx, statelessNginx]) {
  const master = (await readFile(join(dirname(server.root), 'nginx.pid'), 'utf8')).trim();
  for (const pid of spawnSync('pgrep', ['-P', master], { encoding: 'utf8' }).stdout.trim().split('\n').filter(Boolean)) {
    spawnSync('taskset', ['-pc', SERVER_CPU, pid]);
  }
}

for (const port of [servePort, uncachedPort, bareHttpPort]) {
  for (let i = 0; i < 100; i++) {
    const ok = await fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.ok, () => false);
    if (ok) break;
    await new Promise((r) => setTimeout(r, 100));
  }
}

const hit = tokens[7];
const cases = [
  { name: 'hit', path: `/.well-known/acme-challenge/${hit}` },
  { name: 'miss (malformed: traversal)', path: '/.well-known/acme-challenge/..%2f..%2fsecret' },
  // Not from token(): its values repeat with a period of 832.
  { name: 'miss (well-formed, unknown token)', path: `/.well-known/acme-challenge/${'unknown_'.padEnd(43, 'Q')}` },
];
// Warm-up, not counted: each server answers each case for a second first, so no row measures a
// cold JIT (the first runs of a fresh node process are slower by a third).
for (const c of cases) {
  for (const port of [servePort, uncachedPort, bareHttpPort, bareNetPort, nginxPort, statelessPort]) {
    spawnSync('taskset', ['-c', CLIENT_CPU, 'wrk', '-c', String(CONNECTIONS), '-t', '1', '-d', '1s', ...(port === bareNetPort ? ['-H', 'Connection: close'] : []), `http://127.0.0.1:${port}${c.path}`]);
  }
}

const rows = [];
const median = (runs) => [...runs].sort((a, b) => a.rps - b.rps)[Math.floor(runs.length / 2)];
for (const c of cases) {
  for (const keepAlive of [true, false]) {
    const servers = [
      ['certpilot serve + Redis', servePort],
      ...(c.name === 'hit' ? [['certpilot serve + Redis, hit cache off', uncachedPort], ['baseline: bare node:http', bareHttpPort]] : []),
      // The canned answer closes after one response: only a connection-per-request load is fair to it.
      ...(c.name === 'hit' && !keepAlive ? [['baseline: node:net, canned answer', bareNetPort]] : []),
      ['nginx static files', nginxPort],
      ...(c.name === 'hit' ? [['nginx, stateless line (no certpilot in the path)', statelessPort]] : []),
    ];
    const runs = new Map(servers.map(([server]) => [server, []]));
    const redisCalls = new Map();
    for (let round = 0; round < ROUNDS; round++) {
      for (const [server, port] of servers) {
        const isServe = port === servePort || port === uncachedPort;
        if (isServe) await redis.resetStats();
        const r = wrk(`http://127.0.0.1:${port}${c.path}`, { keepAlive });
        runs.get(server).push(r);
        if (isServe) {
          const stats = await redis.commandStats();
          const calls = Object.entries(stats).filter(([k]) => k !== 'info' && k !== 'config|resetstat').reduce((n, [, v]) => n + v, 0);
          const sum = redisCalls.get(server) ?? { calls: 0, requests: 0 };
          redisCalls.set(server, { calls: sum.calls + calls, requests: sum.requests + r.requests });
        }
      }
    }
    for (const [server] of servers) {
      const r = median(runs.get(server));
      const sum = redisCalls.get(server);
      const redisPerRequest = sum === undefined ? null : sum.requests > 0 ? sum.calls / sum.requests : null;
      rows.push({ case: c.name, keepAlive, server, ...r, redisPerRequest, runs: runs.get(server).map((x) => Math.round(x.rps)), raw: undefined });
      console.error(`${c.name.padEnd(34)} ka=${keepAlive ? 'on ' : 'off'} ${server.padEnd(36)} ${r.rps.toFixed(0).padStart(7)} req/s p50 ${r.p50.toFixed(2)} ms p99 ${r.p99.toFixed(2)} ms${redisPerRequest === null ? '' : ` redis/req ${redisPerRequest.toFixed(3)}`} (runs ${runs.get(server).map((x) => x.rps.toFixed(0)).join(', ')})`);
    }
  }
}
serve.kill('SIGTERM');
uncached.kill('SIGTERM');
for (const b of baselines) b.kill('SIGTERM');
await nginx.stop();
await statelessNginx.stop();
await redis.stop();

const fmt = (n, d = 0) => (Number.isFinite(n) ? n.toFixed(d) : 'n/a');
const lines = [
  '# http-01 responder benchmark',
  '',
  '<!-- Written by `node bench/http01-responder.mjs`; numbers from one run on the machine below. -->',
  '',
  `Run: ${new Date().toISOString()}; ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB; Node ${process.version}; 1-minute load average ${LOAD_BEFORE.toFixed(1)} before the run (other work shares the machine: read ratios, not absolute figures).`,
  `Servers pinned to CPU ${SERVER_CPU} (\`taskset\`), wrk on CPU ${CLIENT_CPU}: \`wrk -t1 -c${CONNECTIONS} -d${DURATION}s --latency\`, keep-alive off = \`-H 'Connection: close'\`. Each row is the median of ${ROUNDS} runs (all runs in the last column), the servers of a row taking turns, after a one-second warm-up of every server on every case.`,
  '`certpilot serve` (the bundle, one Node process) reads a real redis-server (same machine, unpinned), keeping a token it found for one second (its default `--cache-hits-ms 1000`: the CA validates each token several times at once); the "hit cache off" line is `--cache-hits-ms 0`, one Redis GET per hit. nginx (Debian nginx-light, 1 worker, access log off) serves the same 100 tokens as static files. The two baselines (`bench/baseline-server.mjs`) answer the same body with no logic: a bare node:http server (what `serve` is built on) and a canned answer on a node:net socket (no HTTP parsing).',
  '',
  '| case | keep-alive | server | req/s | p50 ms | p99 ms | non-2xx | Redis commands / request | runs (req/s) |',
  '| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | --- |',
  ...rows.map((r) => `| ${r.case} | ${r.keepAlive ? 'on' : 'off'} | ${r.server} | ${fmt(r.rps)} | ${fmt(r.p50, 2)} | ${fmt(r.p99, 2)} | ${r.non2xx} | ${r.redisPerRequest === null ? '–' : fmt(r.redisPerRequest, 3)} | ${r.runs.join(', ')} |`),
  '',
  '## Against the targets of issue 7',
  '',
];
for (const keepAlive of [true, false]) {
  const s = rows.find((r) => r.case === 'hit' && r.keepAlive === keepAlive && r.server === 'certpilot serve + Redis');
  const u = rows.find((r) => r.case === 'hit' && r.keepAlive === keepAlive && r.server.endsWith('hit cache off'));
  const n = rows.find((r) => r.case === 'hit' && r.keepAlive === keepAlive && r.server === 'nginx static files');
  const st = rows.find((r) => r.case === 'hit' && r.keepAlive === keepAlive && r.server.startsWith('nginx, stateless'));
  const b = rows.find((r) => r.case === 'hit' && r.keepAlive === keepAlive && r.server === 'baseline: bare node:http');
  const raw = rows.find((r) => r.case === 'hit' && r.keepAlive === keepAlive && r.server.startsWith('baseline: node:net'));
  lines.push(
    `- Hits, keep-alive ${keepAlive ? 'on' : 'off'}: certpilot serve at ${fmt((s.rps / n.rps) * 100)} % of nginx (target: at least 50 %); with the hit cache off ${fmt((u.rps / n.rps) * 100)} %. ` +
      `A bare node:http server with no logic at all: ${fmt((b.rps / n.rps) * 100)} % of nginx; certpilot serve reaches ${fmt((s.rps / b.rps) * 100)} % of it` +
      (raw ? `; a canned answer on a node:net socket (no HTTP parsing): ${fmt((raw.rps / n.rps) * 100)} % of nginx` : '') +
      `. Stateless mode answered by nginx itself: ${fmt((st.rps / n.rps) * 100)} % of nginx static files.`,
  );
}
const malformed = rows.filter((r) => r.case.startsWith('miss (malformed') && r.server.startsWith('certpilot'));
lines.push(`- Malformed misses: ${malformed.map((r) => fmt(r.redisPerRequest, 3)).join(' and ')} Redis commands per request (target: zero).`);
lines.push('- A well-formed but unknown token costs one `GET` (it could be a live token); only its shape can be judged without Redis.');
lines.push('');
await mkdir(join(root, 'bench', 'results'), { recursive: true });
await writeFile(join(root, 'bench', 'results', 'http01.md'), `${lines.join('\n')}\n`);
await writeFile(join(root, 'bench', 'results', 'http01.json'), `${JSON.stringify({ duration: DURATION, connections: CONNECTIONS, rows }, null, 2)}\n`);
console.error('wrote bench/results/http01.md and bench/results/http01.json');
