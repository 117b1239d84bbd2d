// A/B of one issuance with a new account (the bench's scenario 1) between certpilot bundles: CPU
// (user + sys) and peak RSS from GNU time, medians, runs alternating between the bundles.
//
//   npm run build && node bench/tools/one.mjs RUNS BUNDLE/certpilot.js [OTHER/certpilot.js …] [-- NODE_FLAG…]
//
// Starts Pebble 2.4 (no sleeps, no nonce rejection) behind the test harness's counting proxy, like
// bench/run.mjs; each run gets a fresh state directory and a clean environment (PATH only).
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const harness = (f) => join(root, 'dist', 'test', 'harness', f);
const { startPebble } = await import(harness('pebble.js'));
const { startFaultProxy } = await import(harness('fault-proxy.js'));
const { testCaFile } = await import(harness('certpilot.js'));

const runs = Number(process.argv[2]);
const rest = process.argv.slice(3);
const dash = rest.indexOf('--');
const nodeFlags = dash >= 0 ? rest.slice(dash + 1) : [];
const bundles = (dash >= 0 ? rest.slice(0, dash) : rest).map((b) => resolve(b));
if (!(runs > 0) || bundles.length === 0) {
  console.error('usage: node bench/tools/one.mjs RUNS BUNDLE/certpilot.js [OTHER/certpilot.js …] [-- NODE_FLAG…]');
  process.exit(2);
}
const pebble = await startPebble({ version: '2.4', noSleep: true, nonceRejectPercent: 0, authzReuse: 0 });
const proxy = await startFaultProxy(pebble);
const results = new Map(bundles.map((b) => [b, []]));
let n = 0;
try {
  for (let r = 0; r < runs; r++) {
    for (const bundle of bundles) {
      const dir = await mkdtemp(join(tmpdir(), 'certpilot-one-'));
      const name = `one-${process.pid}-${n++}.bench.test`;
      const args = ['-f', '%e %U %S %M', '-o', join(dir, 'time'), process.execPath, ...nodeFlags, bundle, 'issue', '-d', name,
        '--state-dir', join(dir, 'state'), '--directory', proxy.directoryUrl, '--ca-bundle', testCaFile, '--email', 'bench@example.com',
        '--agree-tos', '--http-01-port', String(pebble.httpPort), '--http-01-address', '127.0.0.1'];
      const code = await new Promise((resolve) => spawn('/usr/bin/time', args, { env: { PATH: '/usr/bin:/bin', HOME: dir }, cwd: dir, stdio: 'ignore' }).on('close', resolve));
      const [wall, user, sys, rssKiB] = (await readFile(join(dir, 'time'), 'utf8')).trim().split('\n').pop().split(' ').map(Number);
      if (code !== 0) console.error(`${bundle}: exit ${code}`);
      results.get(bundle).push({ wall, cpu: user + sys, rss: rssKiB / 1024 });
      await rm(dir, { recursive: true, force: true });
    }
  }
} finally {
  await proxy.stop();
  await pebble.stop();
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
for (const [bundle, rs] of results) {
  console.log(`${bundle}: wall ${median(rs.map((r) => r.wall)).toFixed(3)} s, CPU ${median(rs.map((r) => r.cpu)).toFixed(3)} s, peak RSS ${median(rs.map((r) => r.rss)).toFixed(1)} MiB (CPU of each run: ${rs.map((r) => r.cpu.toFixed(2)).join(' ')})`);
}
