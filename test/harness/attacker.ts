/**
 * A hostile local user for the symlink-race tests (issue 19): a process running under a uid of the
 * test's own (a numeric uid no account uses; no /etc/passwd change), started with child_process's
 * `uid`/`gid` options, that races certpilot's file operations in a directory it may write.
 *
 * The attacker's code is a plain script written into the test's base directory (so the unprivileged
 * uid can read it without reading the worktree); it loops until SIGTERM, then prints how many
 * swaps it made. Needs root: {@link requireAttackRoot} skips loudly otherwise (fails under
 * CERTPILOT_REQUIRE_SERVERS=1).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { requireRoot } from './servers.js';

/** True when the test runs as root; else skips loudly (or throws under CERTPILOT_REQUIRE_SERVERS). */
export function requireAttackRoot(t: TestContext): boolean {
  return requireRoot(t, 'it races root\'s file operations from another uid');
}

/** A numeric uid (and the same gid) that no account or group on this machine uses. */
export function unusedId(): number {
  for (let id = 47_000 + Math.floor(Math.random() * 10_000); ; id++) {
    const user = spawnSync('getent', ['passwd', String(id)]).status;
    const group = spawnSync('getent', ['group', String(id)]).status;
    if (user === 2 && group === 2) return id;
  }
}

/** The test's world: a traversable base, a root-only `outside` directory full of files, and the attacker's uid. */
export interface AttackWorld {
  base: string;
  /** Root-only (0700) directory of 200 root-only (0600) files and a subdirectory: nothing here may change. */
  outside: string;
  /** One root-only file in `outside`, the favourite symlink target. */
  secret: string;
  uid: number;
  cleanup(): void;
}

/** Makes an {@link AttackWorld} on tmpfs when there is one (fsync is free there, so 1,000 runs are quick). */
export function attackWorld(): AttackWorld {
  const root = existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
  const base = mkdtempSync(join(root, 'certpilot-attack-'));
  chmodSync(base, 0o755);
  const outside = join(base, 'outside');
  mkdirSync(outside, { mode: 0o700 });
  chmodSync(outside, 0o700);
  for (let i = 0; i < 200; i++) writeFileSync(join(outside, `file-${i}`), `root only ${i}\n`, { mode: 0o600 });
  mkdirSync(join(outside, 'sub'), { mode: 0o700 });
  for (let i = 0; i < 20; i++) writeFileSync(join(outside, 'sub', `deep-${i}`), `deep ${i}\n`, { mode: 0o600 });
  return { base, outside, secret: join(outside, 'file-0'), uid: unusedId(), cleanup: () => rmSync(base, { recursive: true, force: true }) };
}

/** Every path under `dir` (and `dir` itself) with its type, mode, owner and size: what must not change. */
export function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (path: string, rel: string): void => {
    const st = lstatSync(path);
    out[rel] = `${st.isDirectory() ? 'd' : st.isSymbolicLink() ? 'l' : 'f'} ${(st.mode & 0o7777).toString(8)} ${st.uid}:${st.gid} ${st.isDirectory() ? '' : st.size}`;
    if (st.isDirectory()) for (const e of readdirSync(path).sort()) walk(join(path, e), `${rel}/${e}`);
  };
  walk(dir, '.');
  return out;
}

/** A directory owned by the attacker (mode 0755) under the world's base. */
export function attackerDir(world: AttackWorld, name: string): string {
  const dir = join(world.base, name);
  mkdirSync(dir, { mode: 0o755 });
  chownSync(dir, world.uid, world.uid);
  return dir;
}

/** What the attacker does in a loop. */
export type AttackKind = 'files-swap' | 'files-prune' | 'webroot';

/** A running attacker. */
export interface Attacker {
  child: ChildProcess;
  /** Stops it and returns how many hostile operations succeeded. */
  stop(): Promise<number>;
}

const SCRIPT = String.raw`
import fs from 'node:fs';
import { join } from 'node:path';
const [kind, dir, secret, outside] = process.argv.slice(2);
let ops = 0, n = 0, stop = false;
process.on('SIGTERM', () => { stop = true; });
const tryDo = (f) => { try { f(); ops++; return true; } catch { return false; } };
const target = () => (n++ % 2 ? secret : outside);
const isVersion = (e) => e.startsWith('..') && e !== '..data' && !e.startsWith('..evil');

function filesSwap() {
  let entries = [];
  try { entries = fs.readdirSync(dir); } catch { return; }
  for (const e of entries) {
    const p = join(dir, e);
    let st;
    try { st = fs.lstatSync(p); } catch { continue; }
    if (st.isSymbolicLink() && (e.startsWith('..evil') || isVersion(e))) {
      // Its own links from earlier rounds: gone, so the directory does not fill up.
      if (e.startsWith('..evil')) tryDo(() => fs.unlinkSync(p));
      continue;
    }
    if (isVersion(e) && st.isDirectory()) {
      // Swap a fresh version directory for a link to a root-only file or directory.
      if (tryDo(() => fs.renameSync(p, join(dir, '..evil-' + n++)))) tryDo(() => fs.symlinkSync(target(), p));
    } else if (isVersion(e) || (e.startsWith('.') && !e.startsWith('..'))) {
      // ..data_tmp and temporaries: a link in their place.
      if (tryDo(() => fs.unlinkSync(p))) tryDo(() => fs.symlinkSync(target(), p));
    } else if (e.startsWith('..evil') && st.isDirectory()) {
      // Version directories handed over to this uid (owner:): every entry swapped, then removed.
      let inner = [];
      try { inner = fs.readdirSync(p); } catch {}
      for (const f of inner) { const q = join(p, f); if (tryDo(() => fs.unlinkSync(q))) tryDo(() => fs.symlinkSync(target(), q)); }
      if (n % 10 === 0) try { fs.rmSync(p, { recursive: true, force: true }); } catch {}
    }
  }
  // Live version directories it owns (owner:): every entry swapped for a link too.
  for (const e of entries) {
    if (!isVersion(e)) continue;
    const p = join(dir, e);
    let inner = [];
    try { inner = fs.readdirSync(p); } catch {}
    for (const f of inner) { const q = join(p, f); if (tryDo(() => fs.unlinkSync(q))) tryDo(() => fs.symlinkSync(target(), q)); }
  }
}

// Directories that look like old versions, each with a subdirectory that keeps turning into a
// link to the root-only directory while certpilot's prune walks it.
let planted = 0;
function filesPrune() {
  let entries = [];
  try { entries = fs.readdirSync(dir); } catch { return; }
  const fakes = entries.filter((e) => e.startsWith('..2020-'));
  if (fakes.length < 3) {
    const p = join(dir, '..2020-01-01T00-00-00.000Z-v' + (++planted));
    tryDo(() => { fs.mkdirSync(p); fs.mkdirSync(join(p, 'd')); for (let i = 0; i < 5; i++) fs.writeFileSync(join(p, 'd', 'x' + i), 'x'); });
  }
  for (const e of entries) {
    if (!isVersion(e)) continue;
    const p = join(dir, e);
    tryDo(() => fs.mkdirSync(join(p, 'd')));
    const d = join(p, 'd');
    if (tryDo(() => fs.renameSync(d, join(p, 'real')))) {
      tryDo(() => fs.symlinkSync(outside, d));
      for (let i = 0; i < 3; i++) tryDo(() => fs.readdirSync(d));
      tryDo(() => fs.unlinkSync(d));
      tryDo(() => fs.renameSync(join(p, 'real'), d));
    }
  }
}

// The docroot belongs to this user: its .well-known and acme-challenge are swapped for links to
// the root-only directory, and every file in acme-challenge for a link to a root-only file.
function webroot() {
  const wk = join(dir, '.well-known');
  const ac = join(wk, 'acme-challenge');
  const phase = n++ % 3;
  if (phase === 0) {
    if (tryDo(() => fs.renameSync(wk, join(dir, 'wk-' + n)))) { tryDo(() => fs.symlinkSync(outside, wk)); }
    else if (fs.existsSync(wk) && fs.lstatSync(wk).isSymbolicLink()) { tryDo(() => fs.unlinkSync(wk)); tryDo(() => { fs.mkdirSync(wk); fs.mkdirSync(ac); }); }
    else tryDo(() => { fs.mkdirSync(wk); fs.mkdirSync(ac); });
  } else if (phase === 1) {
    if (tryDo(() => fs.renameSync(ac, join(wk, 'ac-' + n)))) tryDo(() => fs.symlinkSync(outside, ac));
    else tryDo(() => fs.mkdirSync(ac));
  }
  let entries = [];
  try { entries = fs.readdirSync(ac); } catch { return; }
  for (const e of entries) { const p = join(ac, e); if (tryDo(() => fs.unlinkSync(p))) tryDo(() => fs.symlinkSync(secret, p)); }
  if (n % 200 === 0) for (const e of fs.readdirSync(dir)) if (/^wk-/.test(e)) try { fs.rmSync(join(dir, e), { recursive: true, force: true }); } catch {}
}

const step = { 'files-swap': filesSwap, 'files-prune': filesPrune, webroot }[kind];
process.stdout.write('ready\n');
function loop() {
  for (let i = 0; i < 20 && !stop; i++) step();
  if (stop) { process.stdout.write(JSON.stringify({ ops }) + '\n'); process.exit(0); }
  setImmediate(loop);
}
loop();
`;

/** Starts the attacker as `world.uid` against `dir`; resolves once it runs. */
export async function startAttacker(world: AttackWorld, kind: AttackKind, dir: string): Promise<Attacker> {
  const script = join(world.base, 'attacker.mjs');
  if (!existsSync(script)) writeFileSync(script, SCRIPT, { mode: 0o644 });
  const child = spawn(process.execPath, [script, kind, dir, world.secret, world.outside], {
    uid: world.uid,
    gid: world.uid,
    cwd: world.base,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout?.setEncoding('utf8');
  await new Promise<void>((resolve, reject) => {
    child.stdout?.on('data', (chunk: string) => {
      out += chunk;
      if (out.includes('ready\n')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`attacker exited early (${code}): ${out}`)));
  });
  return {
    child,
    stop: () =>
      new Promise<number>((resolve, reject) => {
        child.once('exit', () => {
          const line = out.split('\n').find((l) => l.startsWith('{'));
          if (line === undefined) reject(new Error(`attacker printed no count: ${out}`));
          else resolve((JSON.parse(line) as { ops: number }).ops);
        });
        child.kill('SIGTERM');
      }),
  };
}
