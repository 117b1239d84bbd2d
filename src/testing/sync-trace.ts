/**
 * A sync spy that cannot be fooled by step labels: runs a child process under `strace` and reads
 * which files and directories were really fsynced, and which renames happened, in order. Tests use
 * it to prove every file and directory of a new set is durable before the one rename that makes
 * the set live (a crash test only records the steps it passed, whether or not the sync ran).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';

/** One traced call, at the position it completed. */
export type SyncEvent =
  | { kind: 'fsync'; path: string; at: number }
  | { kind: 'rename'; from: string; to: string; at: number }
  /** A directory or symlink created at `path`: a change of its parent directory. */
  | { kind: 'create'; path: string; at: number };

/** True when `strace` can run here (a laptop without it skips loudly; CI installs it). */
export function straceAvailable(): boolean {
  return spawnSync('strace', ['-V'], { encoding: 'utf8' }).status === 0;
}

/**
 * True when `strace` can run here; otherwise the test is skipped loudly, or fails when
 * CERTPILOT_REQUIRE_SERVERS=1 (CI, where scripts/setup.sh installs it).
 */
export function requireStrace(t: TestContext): boolean {
  if (straceAvailable()) return true;
  if (process.env.CERTPILOT_REQUIRE_SERVERS === '1') throw new Error('strace is missing (Debian package strace; scripts/setup.sh installs it)');
  process.stderr.write(`\n!!! SKIPPED ${t.name}: strace is missing\n`);
  t.skip('strace is missing');
  return false;
}

/**
 * Runs `node <script>` with `input` on stdin under `strace -f -y`, and returns the fsync and
 * rename calls that succeeded, in completion order (threads of the libuv pool included).
 */
export function traceSyncs(script: string, input: string, args: readonly string[] = []): { events: SyncEvent[]; stdout: string; stderr: string } {
  const dir = mkdtempSync(join(tmpdir(), 'certpilot-strace-'));
  const out = join(dir, 'trace');
  try {
    const res = spawnSync('strace', ['-f', '-y', '-qq', '-s', '4096', '-o', out, '-e', 'trace=fsync,fdatasync,rename,renameat,renameat2,mkdir,mkdirat,symlink,symlinkat,open,openat', process.execPath, script, ...args], {
      input,
      encoding: 'utf8',
      timeout: 120_000,
    });
    if (res.status !== 0) throw new Error(`traced child failed (${String(res.status ?? res.signal)}): ${res.stderr}`);
    return { events: parseTrace(readFileSync(out, 'utf8')), stdout: res.stdout, stderr: res.stderr };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Parses strace output (`-f -y`), joining `<unfinished ...>` calls with their `resumed` line. */
export function parseTrace(text: string): SyncEvent[] {
  const events: SyncEvent[] = [];
  const open = new Map<string, string>();
  const fds = new Map<string, string>();
  let at = 0;
  for (const raw of text.split('\n')) {
    const m = /^(\d+)\s+(.*)$/.exec(raw);
    if (!m) continue;
    const [, pid, rest] = m as unknown as [string, string, string];
    let call: string;
    const resumed = /^<\.\.\. (\w+) resumed>(.*)$/.exec(rest);
    if (resumed) {
      call = `${open.get(pid) ?? ''}${resumed[2] ?? ''}`;
      open.delete(pid);
    } else if (rest.endsWith('<unfinished ...>')) {
      open.set(pid, rest.slice(0, -'<unfinished ...>'.length));
      continue;
    } else call = rest;
    // Learn which path each descriptor is (strace -y), to read `/proc/self/fd/<fd>/<name>` paths
    // (the fd-based primitives of src/fs reach names that way).
    for (const [, fd, path] of call.matchAll(/\b(\d+)<(\/[^>]*)>/g)) if (fd !== undefined && path !== undefined) fds.set(fd, path);
    const name = /^(\w+)\(/.exec(call)?.[1] ?? '';
    // Only calls that succeeded (an open returns its descriptor).
    if (!(name.startsWith('open') ? /\)\s+=\s+\d+/ : /\)\s+=\s+0\b/).test(call)) continue;
    at++;
    const args = splitArgs(call.slice(name.length + 1, call.lastIndexOf(')', call.search(/\)\s+=\s+\d/) + 1)));
    const fdPath = (arg: string | undefined): string | undefined => /^(?:\d+|AT_FDCWD)<(.+)>$/.exec(arg ?? '')?.[1];
    const str = (arg: string | undefined): string | undefined => {
      const p = /^"(.*)"$/.exec(arg ?? '')?.[1];
      const viaFd = p === undefined ? undefined : /^\/proc\/self\/fd\/(\d+)\/(.+)$/.exec(p);
      const dir = viaFd?.[1] === undefined ? undefined : fds.get(viaFd[1]);
      return dir !== undefined && viaFd?.[2] !== undefined ? `${dir}/${viaFd[2]}` : p;
    };
    // A path argument, resolved against the directory descriptor before it (the *at calls).
    const pathAt = (dirArg: string | undefined, pathArg: string | undefined): string | undefined => {
      const p = str(pathArg);
      if (p === undefined) return undefined;
      if (p.startsWith('/')) return p;
      const base = fdPath(dirArg);
      return base === undefined ? undefined : `${base}/${p}`;
    };
    let event: SyncEvent | undefined;
    if (name === 'fsync' || name === 'fdatasync') {
      const path = fdPath(args[0]);
      if (path !== undefined) event = { kind: 'fsync', path, at };
    } else if (name === 'rename') {
      const [from, to] = [str(args[0]), str(args[1])];
      if (from !== undefined && to !== undefined) event = { kind: 'rename', from, to, at };
    } else if (name === 'renameat' || name === 'renameat2') {
      const [from, to] = [pathAt(args[0], args[1]), pathAt(args[2], args[3])];
      if (from !== undefined && to !== undefined) event = { kind: 'rename', from, to, at };
    } else if (name === 'mkdir' || name === 'symlink') {
      const path = str(args[name === 'mkdir' ? 0 : 1]);
      if (path !== undefined) event = { kind: 'create', path, at };
    } else if (name === 'mkdirat') {
      const path = pathAt(args[0], args[1]);
      if (path !== undefined) event = { kind: 'create', path, at };
    } else if (name === 'symlinkat') {
      const path = pathAt(args[1], args[2]);
      if (path !== undefined) event = { kind: 'create', path, at };
    } else if ((name === 'openat' || name === 'open') && /O_CREAT/.test(call)) {
      const path = name === 'open' ? str(args[0]) : pathAt(args[0], args[1]);
      if (path !== undefined) event = { kind: 'create', path, at };
    }
    if (event) events.push(event);
  }
  return events;
}

/** Splits strace's argument list at top-level commas (not inside quotes, braces or brackets). */
function splitArgs(text: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let quoted = false;
  let current = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (quoted) {
      current += c;
      if (c === '\\') current += text[++i] ?? '';
      else if (c === '"') quoted = false;
      continue;
    }
    if (c === '"') quoted = true;
    else if (c === '{' || c === '[' || c === '<') depth++;
    else if (c === '}' || c === ']' || c === '>') depth--;
    if (c === ',' && depth === 0) {
      out.push(current.trim());
      current = '';
    } else current += c;
  }
  if (current.trim() !== '') out.push(current.trim());
  return out;
}

/**
 * The problems with `events` up to the rename onto `switchTo` (the last one): each of `files` must
 * have been renamed into place from a temporary file that was fsynced first, and each of `dirs`
 * fsynced after the last rename into it. Empty when everything was durable before the switch.
 */
export function durableBeforeSwitch(events: readonly SyncEvent[], switchTo: string, files: readonly string[], dirs: readonly string[]): string[] {
  const switches = events.filter((e): e is Extract<SyncEvent, { kind: 'rename' }> => e.kind === 'rename' && e.to === switchTo);
  const last = switches[switches.length - 1];
  if (!last) return [`no rename onto ${switchTo}`];
  const before = events.filter((e) => e.at < last.at);
  const problems: string[] = [];
  for (const file of files) {
    const put = before.filter((e): e is Extract<SyncEvent, { kind: 'rename' }> => e.kind === 'rename' && e.to === file).pop();
    if (!put) {
      // Written in place (a new version directory): its own descriptor fsynced before the switch.
      const made = before.filter((e) => e.kind === 'create' && e.path === file).pop();
      if (!made) problems.push(`${file} was neither created nor renamed into place before the switch`);
      else if (!before.some((e) => e.kind === 'fsync' && e.path === file && e.at > made.at)) problems.push(`${file}: its content was not fsynced before the switch`);
      continue;
    }
    if (!before.some((e) => e.kind === 'fsync' && e.path === put.from && e.at < put.at)) problems.push(`${file}: its content (${put.from}) was not fsynced before it was renamed into place`);
  }
  for (const dir of dirs) {
    const inDir = (p: string): boolean => p.startsWith(`${dir}/`) && !p.slice(dir.length + 1).includes('/');
    // The switch's own temporary link is made durable by the fsync after the switch, not before.
    const lastInto = before.filter((e) => (e.kind === 'rename' && inDir(e.to)) || (e.kind === 'create' && inDir(e.path) && e.path !== last.from)).pop()?.at ?? 0;
    if (!before.some((e) => e.kind === 'fsync' && e.path === dir && e.at > lastInto)) problems.push(`directory ${dir} was not fsynced after its last change and before the switch`);
  }
  return problems;
}
