// One `certpilot issue --config` of N certificates at concurrency 16 (the bench's scenario 5), for
// A/B runs between bundles and for making a state to time `renew` and `status` against.
//
//   npm run build && N=300 node bench/tools/many.mjs DIR BUNDLE/certpilot.js [-- NODE_FLAG…]
//
// CHILD_ENV='NAME=value NAME2=value2' adds those variables to certpilot's otherwise clean environment
// (bench/findings.md, ninth pass: UV_USE_IO_URING=1).
//
// Pebble 2.4 (no sleeps, no nonce rejection) behind the test harness's counting proxy; DIR gets
// certpilot.yaml and state/ (replaced if present). Prints GNU time's wall, user, sys and peak RSS.
import { spawn } from 'node:child_process';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const harness = (f) => join(root, 'dist', 'test', 'harness', f);
const { startPebble } = await import(harness('pebble.js'));
const { startFaultProxy } = await import(harness('fault-proxy.js'));
const { writeConfig } = await import(harness('certpilot.js'));

const N = Number(process.env.N ?? 300);
const [dirArg, bundleArg, ...rest] = process.argv.slice(2);
if (!dirArg || !bundleArg || !(N > 0)) {
  console.error('usage: N=300 node bench/tools/many.mjs DIR BUNDLE/certpilot.js [-- NODE_FLAG…]');
  process.exit(2);
}
const dir = resolve(dirArg);
const bundle = resolve(bundleArg);
const nodeFlags = rest[0] === '--' ? rest.slice(1) : [];
const childEnv = Object.fromEntries((process.env.CHILD_ENV ?? '').split(/\s+/).filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
await rm(dir, { recursive: true, force: true });
await mkdir(dir, { recursive: true });
const pebble = await startPebble({ version: '2.4', noSleep: true, nonceRejectPercent: 0, authzReuse: 0 });
const proxy = await startFaultProxy(pebble);
try {
  const names = Array.from({ length: N }, (_, i) => `k-${String(i + 1).padStart(5, '0')}.bench.test`);
  const config = await writeConfig(dir, { directoryUrl: proxy.directoryUrl, httpPort: pebble.httpPort, certificates: names.map((n) => ({ name: n, domains: [n] })) });
  await writeFile(config, `${await readFile(config, 'utf8')}renewal: {"concurrency": 16}\n`);
  const args = ['-f', '%e %U %S %M', '-o', join(dir, 'time'), process.execPath, ...nodeFlags, bundle, 'issue', '--config', config];
  const code = await new Promise((res) => spawn('/usr/bin/time', args, { cwd: dir, env: { PATH: '/usr/bin:/bin', HOME: dir, ...childEnv }, stdio: ['ignore', 'ignore', 'inherit'] }).on('close', res));
  const [wall, user, sys, rssKiB] = (await readFile(join(dir, 'time'), 'utf8')).trim().split('\n').pop().split(' ').map(Number);
  console.log(`exit ${code}: wall ${wall} s, user ${user} s, sys ${sys} s, CPU ${((user + sys) * 1000 / N).toFixed(2)} ms per certificate, peak RSS ${(rssKiB / 1024).toFixed(1)} MiB`);
} finally {
  await proxy.stop();
  await pebble.stop();
}
