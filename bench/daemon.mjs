#!/usr/bin/env node
// Benchmark (not a test): what `certpilot daemon` costs while it waits, and whether its memory
// stays flat however long it runs.
//
// 1. Idle CPU: the built bundle (`dist/bundle/certpilot.js daemon`) with one certificate already
//    issued and not due (ARI off, so nothing to ask anyone), measured from /proc/PID/stat
//    (utime + stime) over `--idle-seconds` (default 60) after it settled, and its RSS.
// 2. RSS over cycles: the daemon loop itself (scheduling/daemon.ts) in this process on a fake
//    clock against the in-process CA double (src/testing/ca-double.ts: orders and ARI for a
//    6-day `shortlived` certificate, Retry-After 6 h, no request log kept), with a real filesystem
//    state store and file locker in a temp directory and archive retention of 3 versions. RSS and
//    heap after a forced GC at cycle 100 and at cycle `--cycles` (default 10 000).
//
//   node --expose-gc bench/daemon.mjs [--idle-seconds 60] [--cycles 10000]
//
// Needs `npm run build`. Writes bench/results/daemon.json and .md.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { writeFile, mkdir } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setImmediate } from 'node:timers';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const dist = (p) => join(here, '..', 'dist', p);
const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const idleSeconds = arg('idle-seconds', 60);
const cycles = arg('cycles', 10_000);
if (typeof globalThis.gc !== 'function') throw new Error('run with node --expose-gc');

const { makeTestBundle } = await import(dist('src/testing/certificate-fixtures.js'));
const { FilesystemCertificateStore } = await import(dist('src/storage/backends/filesystem/filesystem-certificate-store.js'));
const { FakeClock } = await import(dist('src/testing/fake-clock.js'));
const { CaDouble, caDoubleContext } = await import(dist('src/testing/ca-double.js'));
const { RenewalDaemon } = await import(dist('src/scheduling/daemon.js'));
const { tempDir } = await import(dist('src/testing/temp-dir.js'));
const { silentLogger } = await import(dist('src/logger.js'));
const { mulberry32 } = await import(dist('src/testing/prng.js'));

const MiB = 1024 * 1024;
const ticks = 100; // USER_HZ on Linux

/** utime + stime of `pid`, in seconds. */
function cpuSeconds(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / ticks;
}
function rssMiB(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1]) / 1024;
}

async function idle() {
  const dir = await tempDir('certpilot-bench-daemon-');
  const stateDir = join(dir, 'state');
  const store = new FilesystemCertificateStore({ stateDir });
  const bundle = makeTestBundle({ domains: ['idle.bench.test'], days: 90 });
  await store.save('idle', bundle);
  const config = join(dir, 'certpilot.yaml');
  await writeFile(config, [
    `stateDir: ${JSON.stringify(stateDir)}`,
    'acme:',
    '  directoryUrl: https://127.0.0.1:9/dir',
    '  ari: false',
    'certificates:',
    '  - name: idle',
    '    domains: [idle.bench.test]',
    '',
  ].join('\n'));
  const child = spawn(process.execPath, [dist('bundle/certpilot.js'), 'daemon', '--config', config, '--log-format', 'json'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr.on('data', (d) => (log += d.toString()));
  for (let waited = 0; !/daemon cycle/.test(log); waited += 50) {
    if (waited > 20_000 || child.exitCode !== null) throw new Error(`the daemon did not start:\n${log}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  await new Promise((r) => setTimeout(r, 2000)); // settle (JIT, GC after start-up)
  const cpu0 = cpuSeconds(child.pid);
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, idleSeconds * 1000));
  const cpu1 = cpuSeconds(child.pid);
  const wall = (performance.now() - t0) / 1000;
  const rss = rssMiB(child.pid);
  const cycleLines = log.split('\n').filter((l) => l.includes('daemon cycle')).length;
  child.kill('SIGTERM');
  const code = await new Promise((r) => child.on('close', r));
  return { wallSeconds: wall, cpuSeconds: cpu1 - cpu0, cpuPercent: ((cpu1 - cpu0) / wall) * 100, rssMiB: rss, cycles: cycleLines, exitCode: code, sleepLine: JSON.parse(log.split('\n').find((l) => l.includes('daemon cycle')) ?? '{}') };
}

async function cyclesRun() {
  const clock = new FakeClock('2027-03-01T00:00:00Z');
  const ca = new CaDouble({ clock, keepLog: false });
  const stateDir = await tempDir('certpilot-bench-cycles-');
  let events = 0;
  const context = caDoubleContext(ca, { clock, stateDir, events: () => void events++ });
  const spec = { name: 'www', domains: ['www.example.test'], identifiers: [{ type: 'dns', value: 'www.example.test' }], keyType: 'ec-p256', reuseKey: false, profile: 'shortlived', solvers: { 'www.example.test': 'default' }, deploy: [] };
  const daemon = new RenewalDaemon({ certificates: [spec], context, concurrency: 4 }, { clock, logger: silentLogger, random: mulberry32(1) });
  const marks = {};
  const started = performance.now();
  for (let i = 1; i <= cycles; i++) {
    const report = await daemon.cycle();
    clock.advance(report.sleepMs);
    if ([100, 1000, 2000, 5000, cycles].includes(i)) {
      globalThis.gc();
      await new Promise((r) => setImmediate(r));
      globalThis.gc();
      const m = process.memoryUsage();
      marks[i] = { rssMiB: m.rss / MiB, heapUsedMiB: m.heapUsed / MiB, heapTotalMiB: m.heapTotal / MiB, externalMiB: m.external / MiB, simulatedDays: (clock.now().getTime() - Date.parse('2027-03-01T00:00:00Z')) / 86_400_000, orders: ca.counts.newOrder, renewalInfo: ca.counts.renewalInfo };
    }
  }
  return { cycles, seconds: (performance.now() - started) / 1000, marks, events };
}

const result = {
  date: new Date().toISOString(),
  machine: { cpus: cpus().length, model: cpus()[0]?.model, node: process.version, loadavgAtStart: loadavg() },
  idle: await idle(),
  cycles: await cyclesRun(),
  loadavgAtEnd: loadavg(),
};
const first = result.cycles.marks[100];
const last = result.cycles.marks[cycles];
const md = `# certpilot daemon: idle cost and memory over cycles

Generated by \`node --expose-gc bench/daemon.mjs\` on ${result.date}. **Machine**: ${result.machine.cpus} CPU (${result.machine.model}), Node.js ${result.machine.node}, shared with other work (load average ${result.machine.loadavgAtStart.map((l) => l.toFixed(1)).join(' / ')} at start, ${result.loadavgAtEnd.map((l) => l.toFixed(1)).join(' / ')} at end): CPU figures of a loaded machine are upper bounds.

| | figure |
| --- | ---: |
| idle CPU over ${result.idle.wallSeconds.toFixed(0)} s (one certificate not due, ARI off; /proc utime+stime) | ${result.idle.cpuSeconds.toFixed(2)} s = ${result.idle.cpuPercent.toFixed(3)} % of one core |
| cycles logged while idle | ${result.idle.cycles} (sleeping ${result.idle.sleepLine.sleepSeconds} s) |
| idle RSS | ${result.idle.rssMiB.toFixed(1)} MiB |
| RSS after 100 cycles (fake clock, CA double, forced GC) | ${first.rssMiB.toFixed(1)} MiB (heap ${first.heapUsedMiB.toFixed(1)} MiB; ${first.simulatedDays.toFixed(0)} simulated days, ${first.orders} orders) |
${[1000, 2000, 5000].filter((n) => result.cycles.marks[n] && n < cycles).map((n) => `| RSS after ${n} cycles | ${result.cycles.marks[n].rssMiB.toFixed(1)} MiB (heap ${result.cycles.marks[n].heapUsedMiB.toFixed(1)} MiB) |`).join('\n')}
| RSS after ${cycles} cycles | ${last.rssMiB.toFixed(1)} MiB (heap ${last.heapUsedMiB.toFixed(1)} MiB; ${last.simulatedDays.toFixed(0)} simulated days, ${last.orders} orders, ${last.renewalInfo} renewalInfo) |
| difference ${cycles} − 100 | ${(last.rssMiB - first.rssMiB).toFixed(1)} MiB RSS, ${(last.heapUsedMiB - first.heapUsedMiB).toFixed(2)} MiB heap |
| wall time of the ${cycles} cycles | ${result.cycles.seconds.toFixed(1)} s |
`;
await mkdir(join(here, 'results'), { recursive: true });
await writeFile(join(here, 'results', 'daemon.json'), `${JSON.stringify(result, null, 2)}\n`);
await writeFile(join(here, 'results', 'daemon.md'), md);
process.stdout.write(md);
