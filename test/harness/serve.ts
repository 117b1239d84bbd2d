/**
 * Runs `certpilot serve` from the built bundle as a child process (one "pod" of the responder),
 * health-checked through its `/healthz` (or until it logs that it listens), stopped with SIGTERM.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { cliPath, repoRoot } from './certpilot.js';
import { resolveBinary } from './paths.js';

/** A running `certpilot serve`. */
export interface ServeProcess {
  readonly child: ChildProcess;
  /** Everything it wrote to stderr (its JSON log lines) so far. */
  logs(): string;
  /** SIGTERM, then waits for the exit; resolves with the exit code (or signal name). */
  stop(): Promise<number | string>;
}

const running = new Set<ChildProcess>();
let hooked = false;
const setpriv = resolveBinary('setpriv');

/** Starts `certpilot serve <args>` and resolves once it logs "listening"; rejects if it exits first. */
export async function startServe(args: readonly string[], options: { env?: Record<string, string>; cwd?: string } = {}): Promise<ServeProcess> {
  if (!hooked) {
    hooked = true;
    process.on('exit', () => {
      for (const c of running) c.kill('SIGKILL');
    });
  }
  // As in a pod: JSON log lines for the log collector (and for the tests that read them).
  const argv = [process.execPath, cliPath, 'serve', ...(args.includes('--log-format') ? [] : ['--log-format', 'json']), ...args];
  const [command, rest] = setpriv !== undefined ? [setpriv, ['--pdeathsig', 'SIGKILL', '--', ...argv]] : [argv[0] as string, argv.slice(1)];
  const child = spawn(command, rest, {
    cwd: options.cwd ?? repoRoot,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  let stderr = '';
  let stdout = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  const exited = new Promise<number | string>((resolve) =>
    child.once('exit', (code, signal) => {
      running.delete(child);
      resolve(code ?? signal ?? -1);
    }),
  );
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`certpilot serve did not start in 15 s:\n${stderr}${stdout}`)), 15_000);
    const poll = setInterval(() => {
      if (stderr.includes('"http-01 responder: listening"')) {
        clearInterval(poll);
        clearTimeout(timer);
        resolve();
      }
    }, 20);
    void exited.then((code) => {
      clearInterval(poll);
      clearTimeout(timer);
      reject(new Error(`certpilot serve exited (${code}) before listening:\n${stderr}${stdout}`));
    });
  });
  return {
    child,
    logs: () => stderr,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 8000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}
