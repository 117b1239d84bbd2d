// The durable writes of an issue of many, alone: N "certificates" of 17 atomic files (temporary
// file, fchmod, write, fsync, close, rename) and 4 folder fsyncs each, 16 at a time, made either
// through node:fs's callbacks as src/fs/atomic-write.ts makes them (`pool`: libuv's thread pool) or
// by one worker thread making the same calls synchronously, one message per certificate
// (`worker`). Prints the process's CPU (all threads) per certificate and the wall time.
//
//   node bench/tools/writes.mjs pool|worker DIR      (N=300 by default; DIR is replaced, then removed)
//
// bench/findings.md, ninth pass.
import { randomBytes } from 'node:crypto';
import { close, closeSync, fchmod, fchmodSync, fsync, fsyncSync, mkdirSync, open, openSync, rename, renameSync, rmSync, writeFile, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { isMainThread, parentPort, Worker } from 'node:worker_threads';

const FILES = 17;
const FOLDERS = 4;
const data = 'x'.repeat(1500);
const call = (fn, ...args) => new Promise((res, rej) => fn(...args, (err, value) => (err ? rej(err) : res(value))));
const fileOf = (dir, f) => join(dir, `f${f % FOLDERS}`, `file${f}.pem`);
const tmpOf = (file) => `${file}.${randomBytes(4).toString('hex')}.tmp`;

function writeSync(dir) {
  for (let f = 0; f < FILES; f++) {
    const file = fileOf(dir, f);
    const tmp = tmpOf(file);
    const fd = openSync(tmp, 'wx', 0o600);
    fchmodSync(fd, 0o600);
    writeFileSync(fd, data);
    fsyncSync(fd);
    closeSync(fd);
    renameSync(tmp, file);
  }
  for (let d = 0; d < FOLDERS; d++) {
    const fd = openSync(join(dir, `f${d}`), 'r');
    fsyncSync(fd);
    closeSync(fd);
  }
}

async function writePool(dir) {
  await Promise.all(
    Array.from({ length: FILES }, async (_, f) => {
      const file = fileOf(dir, f);
      const tmp = tmpOf(file);
      const fd = await call(open, tmp, 'wx', 0o600);
      await call(fchmod, fd, 0o600);
      await call(writeFile, fd, data);
      await call(fsync, fd);
      await call(close, fd);
      await call(rename, tmp, file);
    }),
  );
  for (let d = 0; d < FOLDERS; d++) {
    const fd = await call(open, join(dir, `f${d}`), 'r');
    await call(fsync, fd);
    await call(close, fd);
  }
}

if (!isMainThread) {
  parentPort.on('message', ({ id, dir }) => {
    writeSync(dir);
    parentPort.postMessage(id);
  });
} else {
  const [mode, dirArg] = process.argv.slice(2);
  const N = Number(process.env.N ?? 300);
  if (!['pool', 'worker'].includes(mode) || !dirArg || !(N > 0)) {
    console.error('usage: N=300 node bench/tools/writes.mjs pool|worker DIR');
    process.exit(2);
  }
  const root = resolve(dirArg);
  rmSync(root, { recursive: true, force: true });
  for (let i = 0; i < N; i++) for (let d = 0; d < FOLDERS; d++) mkdirSync(join(root, `c${i}`, `f${d}`), { recursive: true });
  const cpu0 = process.cpuUsage();
  const wall0 = process.hrtime.bigint();
  let worker;
  const waiting = new Map();
  if (mode === 'worker') {
    worker = new Worker(new URL(import.meta.url));
    worker.on('message', (id) => {
      waiting.get(id)();
      waiting.delete(id);
    });
  }
  let nextId = 0;
  const one = (dir) =>
    worker
      ? new Promise((res) => {
          const id = nextId++;
          waiting.set(id, res);
          worker.postMessage({ id, dir });
        })
      : writePool(dir);
  let next = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next < N) await one(join(root, `c${next++}`));
    }),
  );
  if (worker) await worker.terminate();
  const cpu = process.cpuUsage(cpu0);
  const wallMs = Number(process.hrtime.bigint() - wall0) / 1e6;
  const per = (us) => (us / 1000 / N).toFixed(2);
  console.log(`${mode}: wall ${wallMs.toFixed(0)} ms, CPU ${per(cpu.user + cpu.system)} ms per certificate (user ${per(cpu.user)}, sys ${per(cpu.system)})`);
  rmSync(root, { recursive: true, force: true });
}
