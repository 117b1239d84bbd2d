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
 * Runs `node <script>` with `input` on stdin under `strace -f -y`, and returns the fsync and
 * rename calls that succeeded, in completion order (threads of the libuv pool included).
 */
export function traceSyncs(script: string, input: string, args: readonly string[] = []): { events: SyncEvent[]; stdout: string; stderr: string } {
  const dir = mkdtempSync(join(tmpdir(), 'certpilot-strace-'));
  const out = join(dir, 'trace');
  try {
    const res = spawnSync('strace', ['-f', '-y', '-qq', '-s', '4096', '-o', out, '-e', 'trace=fsync,fdatasync,rename,renameat,renameat2,mkdir,mkdirat,symlink,symlinkat', process.execPath, script, ...args], {
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
    if (!/\)\s+=\s+0\b/.test(call)) continue; // only calls that succeeded
    at++;
    const sync = /^f(?:data)?sync\(\d+<(.+?)>\)/.exec(call);
    if (sync?.[1] !== undefined) {
      events.push({ kind: 'fsync', path: sync[1], at });
      continue;
    }
    const ren = /^rename(?:at2?)?\((?:[^,]+, )?"(.+?)", (?:[^,]+, )?"(.+?)"/.exec(call);
    if (ren?.[1] !== undefined && ren[2] !== undefined) {
      events.push({ kind: 'rename', from: ren[1], to: ren[2], at });
      continue;
    }
    const made = /^mkdir(?:at)?\((?:[^,"]+, )?"(.+?)"/.exec(call) ?? /^symlink(?:at)?\("(?:.+?)", (?:[^,"]+, )?"(.+?)"/.exec(call);
    if (made?.[1] !== undefined) events.push({ kind: 'create', path: made[1], at });
  }
  return events;
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
      problems.push(`${file} was not renamed into place before the switch`);
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
