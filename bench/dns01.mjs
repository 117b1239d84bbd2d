#!/usr/bin/env node
// Benchmark: a wildcard plus apex certificate through RFC 2136 (DNS UPDATE + TSIG) for certpilot,
// certbot (python3-certbot-dns-rfc2136) and lego (its rfc2136 provider), and for certpilot the same
// through dns-account-01 (`_<account label>._acme-challenge`), against ONE BIND 9 and ONE Pebble
// 2.10 (the first with dns-account-01), in one run. A script, not a test: it measures and
// reports, it never passes or fails.
//
//   node bench/dns01.mjs            (after `npm run build` and `bash scripts/setup.sh --bench`)
//   BENCH_RUNS=N                    runs per client (default 3)
//   BENCH_TOOLS=certpilot,certpilot-dns-account,lego,certbot
//   BENCH_OUT=FILE                  where the Markdown goes (default bench/results/dns01.md)
//
// Topology (all loopback): the authoritative BIND (zone bench.test, one TSIG key, a grant per name)
// takes the updates; Pebble resolves through a second, recursive BIND that forwards bench.test to
// it (like a CA's resolver). Each run issues `r<N>.<tool>.bench.test` + `*.r<N>.<tool>.bench.test`
// into a fresh directory (account registration included, for every client alike).
//
// Wall time: spawn → exit. Propagation wait: from the update that added the last TXT value (the
// authoritative BIND's log) to the CA resolver's first TXT query for the name (its query log),
// both from named's millisecond timestamps on one clock: how long the client held the CA back.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const harness = (file) => join(root, 'dist', 'test', 'harness', file);
if (!existsSync(harness('bind.js'))) {
  console.error('bench: dist/test/harness is missing: run `npm run build` first');
  process.exit(2);
}
const { startBind } = await import(harness('bind.js'));
const { startPebble } = await import(harness('pebble.js'));
const { cliPath, testCaFile } = await import(harness('certpilot.js'));

const loadAtStart = loadavg();
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const TOOLS = (process.env.BENCH_TOOLS ?? 'certpilot,certpilot-dns-account,lego,certbot').split(',').map((s) => s.trim()).filter(Boolean);
const OUT = process.env.BENCH_OUT ?? join(here, 'results', 'dns01.md');
const CHILD_TIMEOUT_MS = 300_000;

const names = [];
for (const tool of TOOLS) for (let r = 1; r <= RUNS; r++) names.push(`r${r}.${tool}.bench.test`);

const auth = await startBind({
  // A subdomain grant: dns-account-01 writes at `_<account label>._acme-challenge.<name>`.
  zones: [{ name: 'bench.test', records: ['@ A 127.0.0.1'], updateSubdomains: names.map((n) => `_acme-challenge.${n}`) }],
});
const resolver = await startBind({ zones: [], querylog: true, forward: { zones: ['bench.test'], to: auth.server } });
const pebble = await startPebble({ version: '2.10', noSleep: true, authzReuse: 0, nonceRejectPercent: 0, strict: false, dnsServer: `127.0.0.1:${resolver.server.port}` });
const scratch = await mkdtemp(join(tmpdir(), 'certpilot-bench-dns01-'));
const ns = `${auth.server.host}:${auth.server.port}`;

const cleanup = async () => {
  await pebble.stop();
  await resolver.stop();
  await auth.stop();
  await rm(scratch, { recursive: true, force: true });
};

function run(cmd, args, env, cwd) {
  return new Promise((resolve) => {
    const started = process.hrtime.bigint();
    const child = spawn(cmd, args, { env: { PATH: process.env.PATH, HOME: join(scratch, 'home'), LANG: 'C.UTF-8', ...env }, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), CHILD_TIMEOUT_MS);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, ms: Number(process.hrtime.bigint() - started) / 1e6, out });
    });
  });
}

/** certpilot with an rfc2136 solver answering `challenge` (dns-01 or dns-account-01). */
async function certpilot(dir, name, challenge) {
  await writeFile(join(dir, 'tsig.secret'), `${auth.key.secret}\n`, { mode: 0o600 });
  const config = [
    `stateDir: ${JSON.stringify(join(dir, 'state'))}`,
    'acme:',
    `  directoryUrl: ${JSON.stringify(pebble.directoryUrl)}`,
    `  caBundle: ${JSON.stringify(testCaFile)}`,
    '  email: bench@example.com',
    '  termsOfServiceAgreed: true',
    `solvers: ${JSON.stringify({
      dns: { type: 'rfc2136', challenge, server: auth.server.host, port: auth.server.port, keyName: auth.key.name, algorithm: 'hmac-sha256', secretFile: 'tsig.secret', resolvers: [ns], nameserverPort: auth.server.port },
    })}`,
    'certificates:',
    `  - { name: bench, domains: ${JSON.stringify([name, `*.${name}`])}, solver: dns }`,
    '',
  ].join('\n');
  await writeFile(join(dir, 'certpilot.yaml'), config);
  return { cmd: process.execPath, args: [cliPath, 'issue', '--config', join(dir, 'certpilot.yaml')], env: {}, done: join(dir, 'state', 'live', 'bench', 'cert.pem') };
}

/** How each client's documentation says to issue a wildcard+apex certificate through RFC 2136. */
const clients = {
  certpilot: (dir, name) => certpilot(dir, name, 'dns-01'),
  'certpilot-dns-account': (dir, name) => certpilot(dir, name, 'dns-account-01'),

  certbot: async (dir, name) => {
    // certbot-dns-rfc2136 docs: a credentials INI (mode 600); --dns-rfc2136-propagation-seconds defaults to 60.
    const ini = join(dir, 'rfc2136.ini');
    await writeFile(ini, [`dns_rfc2136_server = ${auth.server.host}`, `dns_rfc2136_port = ${auth.server.port}`, `dns_rfc2136_name = ${auth.key.name}`,
      `dns_rfc2136_secret = ${auth.key.secret}`, 'dns_rfc2136_algorithm = HMAC-SHA256', ''].join('\n'), { mode: 0o600 });
    return {
      cmd: 'certbot',
      args: ['certonly', '--config-dir', join(dir, 'conf'), '--work-dir', join(dir, 'work'), '--logs-dir', join(dir, 'logs'), '--non-interactive',
        '--server', pebble.directoryUrl, '--agree-tos', '-m', 'bench@example.com', '--no-eff-email',
        '--dns-rfc2136', '--dns-rfc2136-credentials', ini, '--cert-name', 'bench', '-d', name, '-d', `*.${name}`],
      env: { REQUESTS_CA_BUNDLE: testCaFile },
      done: join(dir, 'conf', 'live', 'bench', 'fullchain.pem'),
    };
  },
  lego: async (dir, name) => {
    // lego docs: RFC2136_* environment; --dns.resolvers for a private resolver. Its complete-propagation
    // check asks every NS on port 53, which cannot reach a loopback BIND on another port: --dns.disable-cp.
    return {
      cmd: 'lego',
      args: ['--server', pebble.directoryUrl, '--accept-tos', '--email', 'bench@example.com', '--path', dir, '--dns', 'rfc2136',
        '--dns.resolvers', ns, '--dns.disable-cp', '-d', name, '-d', `*.${name}`, 'run'],
      env: { LEGO_CA_CERTIFICATES: testCaFile, RFC2136_NAMESERVER: ns, RFC2136_TSIG_KEY: `${auth.key.name}.`, RFC2136_TSIG_SECRET: auth.key.secret, RFC2136_TSIG_ALGORITHM: 'hmac-sha256.' },
      done: join(dir, 'certificates', `${name}.crt`),
    };
  },
};

/** named's "01-Dec-2026 20:01:02.345" → ms since epoch. */
function stamp(line) {
  const m = /^(\d{2})-(\w{3})-(\d{4}) (\d{2}):(\d{2}):(\d{2})\.(\d{3})/.exec(line);
  if (!m) return undefined;
  return Date.parse(`${m[2]} ${m[1]} ${m[3]} ${m[4]}:${m[5]}:${m[6]}.${m[7]}Z`);
}

async function propagationWait(name) {
  // `_acme-challenge.<name>` (dns-01) or `_<account label>._acme-challenge.<name>` (dns-account-01).
  const authLog = (await auth.logs()).split('\n');
  const added = new RegExp(`adding an RR at '((?:_[a-z2-7]{16}\\.)?_acme-challenge\\.${name.replace(/\./g, '\\.')})' TXT`);
  const fqdn = authLog.map((l) => added.exec(l)?.[1]).find(Boolean);
  if (!fqdn) return undefined;
  const adds = authLog.filter((l) => l.includes(`adding an RR at '${fqdn}' TXT`)).map(stamp).filter(Boolean);
  const asked = (await resolver.logs()).split('\n').filter((l) => l.includes(`query: ${fqdn} IN TXT`)).map(stamp).filter(Boolean);
  if (adds.length === 0 || asked.length === 0) return undefined;
  const lastAdd = Math.max(...adds);
  const firstAsk = asked.filter((t) => t >= lastAdd)[0] ?? Math.min(...asked);
  return firstAsk - lastAdd;
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? undefined : s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

const results = {};
try {
  for (const tool of TOOLS) {
    results[tool] = [];
    for (let r = 1; r <= RUNS; r++) {
      const name = `r${r}.${tool}.bench.test`;
      const dir = join(scratch, `${tool}-${r}`);
      await mkdir(dir, { recursive: true });
      const spec = await clients[tool](dir, name);
      const res = await run(spec.cmd, spec.args, spec.env, dir);
      const ok = res.code === 0 && existsSync(spec.done);
      const wait = await propagationWait(name);
      results[tool].push({ ok, ms: res.ms, waitMs: wait });
      console.error(`bench: ${tool} run ${r}: ${ok ? 'ok' : `FAILED (exit ${res.code})`} ${(res.ms / 1000).toFixed(2)} s, propagation wait ${wait === undefined ? '?' : `${(wait / 1000).toFixed(2)} s`}`);
      if (!ok) console.error(res.out.split('\n').slice(-25).join('\n'));
    }
  }
} finally {
  await cleanup();
}

const fmt = (ms) => (ms === undefined ? '–' : `${(ms / 1000).toFixed(2)} s`);
const summary = Object.fromEntries(Object.entries(results).map(([tool, rs]) => {
  const good = rs.filter((r) => r.ok);
  return [tool, { runs: rs.length, ok: good.length, medianMs: median(good.map((r) => r.ms)), waitMs: median(good.map((r) => r.waitMs).filter((w) => w !== undefined)) }];
}));
const ratio = (a, b) => (a === undefined || b === undefined ? '–' : `${(b / a).toFixed(1)}×`);
const cp = summary.certpilot?.medianMs;
const checks = {
  certpilot: 'every authoritative nameserver of the zone, directly (NS → A/AAAA → TXT), until all serve the value',
  'certpilot-dns-account': 'the same, at `_<account label>._acme-challenge` (dns-account-01)',
  certbot: 'none: sleeps `--dns-rfc2136-propagation-seconds` (default 60 s)',
  lego: 'none here (`--dns.disable-cp`: its check would ask each NS on port 53)',
};
const lines = [
  '# dns-01 benchmark: wildcard + apex through RFC 2136',
  '',
  `Generated by \`node bench/dns01.mjs\` (BENCH_RUNS=${RUNS}, BENCH_TOOLS=${TOOLS.join(',')}) on ${new Date().toISOString().slice(0, 10)}; one BIND 9 (Debian bind9), one Pebble 2.10`,
  '(`PEBBLE_VA_NOSLEEP=1`, nonce rejection and authorization reuse off) resolving through a recursive BIND, all on loopback.',
  'Each run is a fresh directory (account registration included) issuing `rN.<client>.bench.test` and its wildcard.',
  '',
  '| client | runs ok | median wall | certpilot is faster by | median propagation wait | what it checked before telling the CA |',
  '| --- | --- | --- | --- | --- | --- |',
  ...TOOLS.map((t) => `| ${t} | ${summary[t].ok}/${summary[t].runs} | ${fmt(summary[t].medianMs)} | ${t.startsWith('certpilot') ? '–' : ratio(cp, summary[t].medianMs)} | ${fmt(summary[t].waitMs)} | ${checks[t]} |`),
  '',
  'Propagation wait: from the authoritative server logging the update that added the last TXT value to the',
  "CA's resolver logging its first TXT query for the name (named's millisecond timestamps, one clock).",
  '',
  '## How each client was run (its documentation\'s way)',
  '',
  '- certpilot: `certpilot issue --config` with an `rfc2136` solver (`secretFile`), `resolvers` and `nameserverPort`',
  '  pointing at the authoritative BIND (its NS record names 127.0.0.1, on the test port).',
  '- certpilot-dns-account: the same solver with `challenge: dns-account-01` (draft-ietf-acme-dns-account-label-03):',
  '  the TXT value goes to `_<account label>._acme-challenge.<name>`, the label from the account URL.',
  '- certbot: `certonly --dns-rfc2136 --dns-rfc2136-credentials <ini>`; the plug-in does not check propagation, it',
  '  sleeps `--dns-rfc2136-propagation-seconds` (default 60), once for both names.',
  '- lego: `--dns rfc2136` with `RFC2136_*` variables and `--dns.resolvers`. Its rfc2136 provider is sequential: it',
  '  solves one authorization at a time and waits `RFC2136_SEQUENCE_INTERVAL` (default 60 s) between them, which is',
  '  most of its wall time. `--dns.disable-cp` because its complete-propagation check asks each NS on port 53.',
  '',
  `The machine is 2 shared cores with other work running (load average ${loadAtStart.map((l) => l.toFixed(1)).join(' / ')} at the start,`,
  `${loadavg().map((l) => l.toFixed(1)).join(' / ')} at the end): read the ratios, not the last digit.`,
  '',
];
await mkdir(dirname(OUT), { recursive: true });
await writeFile(OUT, `${lines.join('\n')}`);
console.log(lines.join('\n'));

