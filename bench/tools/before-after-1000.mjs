// Before/after on one state of 1000 certificates: issues them from a Pebble 2.4 with AFTER_CLI, then
// runs `status --json` and a nothing-due `renew` with BEFORE_CLI and AFTER_CLI alternately (5 runs
// each, GNU time), and prints the medians of wall time, CPU (user + sys) and peak RSS.
//
//   BEFORE_CLI=/path/to/old/dist/bundle/certpilot.js node bench/tools/before-after-1000.mjs
//
// AFTER_CLI defaults to this checkout's bundle; STATE_DIR (removed first) to a folder under /tmp.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { startPebble } from '../../dist/test/harness/pebble.js';
import { writeConfig } from '../../dist/test/harness/certpilot.js';

const N = 1000;
const RUNS = 5;
const dir = process.env.STATE_DIR ?? '/tmp/certpilot-before-after-1000';
const bundles = { before: resolve(process.env.BEFORE_CLI ?? 'dist/bundle/certpilot.js'), after: resolve(process.env.AFTER_CLI ?? 'dist/bundle/certpilot.js') };
rmSync(dir, { recursive: true, force: true });
mkdirSync(dir, { recursive: true });
const pebble = await startPebble({ version: '2.4', noSleep: true });
try {
  const names = Array.from({ length: N }, (_, i) => `p${String(i + 1).padStart(5, '0')}.bench.test`);
  const config = await writeConfig(dir, { directoryUrl: pebble.directoryUrl, httpPort: pebble.httpPort, certificates: names.map((n) => ({ name: n, domains: [n] })) });
  writeFileSync(config, `${readFileSync(config, 'utf8')}renewal: {"concurrency": 16}\n`);
  const t0 = Date.now();
  const issued = spawnSync(process.execPath, [bundles.after, 'issue', '--config', config], { cwd: dir, encoding: 'utf8', maxBuffer: 1 << 26 });
  console.log(`issue of ${N}: exit ${issued.status}, ${(Date.now() - t0) / 1000} s`);
  const res = { before: { status: [], renew: [] }, after: { status: [], renew: [] } };
  for (let i = 0; i < RUNS; i++) {
    for (const [which, cli] of Object.entries(bundles)) {
      for (const cmd of [['status', '--json'], ['renew']]) {
        const s = spawnSync('/usr/bin/time', ['-f', '%e %U %S %M', process.execPath, cli, ...cmd, '--config', config], { cwd: dir, encoding: 'utf8', maxBuffer: 1 << 26 });
        const [wall, user, sys, rssKiB] = s.stderr.trim().split('\n').at(-1).split(' ').map(Number);
        res[which][cmd[0]].push({ wall, cpu: user + sys, rssMiB: rssKiB / 1024, code: s.status });
      }
    }
  }
  const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
  for (const which of Object.keys(res)) {
    for (const command of ['status', 'renew']) {
      const rows = res[which][command];
      console.log(`${which} ${command}: wall ${median(rows.map((r) => r.wall))} s, CPU ${median(rows.map((r) => r.cpu)).toFixed(2)} s, peak RSS ${median(rows.map((r) => r.rssMiB)).toFixed(1)} MiB, exits ${rows.map((r) => r.code).join(',')}`);
    }
  }
} finally {
  await pebble.stop();
  rmSync(dir, { recursive: true, force: true });
}
