/**
 * One way to run a test server binary (named, knotd, pdns_server, moto…): spawned with its output
 * in a log file, killed by the kernel if the test process dies (setpriv --pdeathsig), waited for
 * until a readiness probe passes, and stopped (SIGTERM, then its folder removed) exactly once.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { request } from 'node:http';
import { closeSync, openSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { query, type DnsServer } from '../../src/challenges/dns01/dns-client.js';
import { resolveBinary } from './paths.js';

const setpriv = resolveBinary('setpriv');

/** A started server process and its files. */
export interface ServerProcess {
  readonly child: ChildProcess;
  /** Everything it printed so far. */
  logs(): Promise<string>;
  /** SIGTERM (SIGKILL after 5 s), wait for the exit, remove its folder; idempotent. */
  stop(): Promise<void>;
}

/** Options of {@link startServerProcess}. */
export interface ServerProcessOptions {
  /** What the errors call it, e.g. `knotd`. */
  label: string;
  /** Its temporary folder: removed on stop and on a failed start. */
  dir: string;
  /** Where stdout and stderr go. */
  logFile: string;
  env?: NodeJS.ProcessEnv;
  /** Resolves true once the server answers. */
  ready: () => Promise<boolean>;
  timeoutMs?: number;
  intervalMs?: number;
}

/** Spawns `binary args`, waits until `ready()`, and hands out the running process. */
export async function startServerProcess(binary: string, args: readonly string[], options: ServerProcessOptions): Promise<ServerProcess> {
  const fd = openSync(options.logFile, 'w');
  let child: ChildProcess;
  try {
    const stdio: ['ignore', number, number] = ['ignore', fd, fd];
    const spawnOptions = { stdio, ...(options.env ? { env: options.env } : {}) };
    child = setpriv ? spawn(setpriv, ['--pdeathsig', 'SIGKILL', '--', binary, ...args], spawnOptions) : spawn(binary, [...args], spawnOptions);
  } finally {
    closeSync(fd);
  }
  const logs = (): Promise<string> => readFile(options.logFile, 'utf8').catch(() => '');
  const deadline = Date.now() + (options.timeoutMs ?? 20_000);
  for (;;) {
    if (await options.ready().catch(() => false)) break;
    if (child.exitCode !== null || child.signalCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      const log = await logs();
      await rm(options.dir, { recursive: true, force: true });
      throw new Error(`harness: ${options.label} did not start:\n${log.split('\n').slice(-20).join('\n')}`);
    }
    await new Promise((r) => setTimeout(r, options.intervalMs ?? 100));
  }
  let stopped: Promise<void> | undefined;
  return {
    child,
    logs,
    stop: () => {
      stopped ??= (async () => {
        if (child.exitCode === null && child.signalCode === null) {
          const exited = new Promise((r) => child.once('exit', r));
          child.kill('SIGTERM');
          const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
          await exited;
          clearTimeout(timer);
        }
        await rm(options.dir, { recursive: true, force: true });
      })();
      return stopped;
    },
  };
}

/** True once `server` answers `zone`'s SOA authoritatively. */
export async function answersSoa(server: DnsServer, zone: string): Promise<boolean> {
  const soa = await query(server, zone, 'SOA', { recursive: false, timeoutMs: 300, tries: 1 });
  return soa.rcode === 'NOERROR' && (soa.answers ?? []).length > 0;
}

/** Every TXT value at `fqdn` as `server` answers it now (no recursion, no cache). */
export async function txtAt(server: DnsServer, fqdn: string): Promise<string[]> {
  const answer = await query(server, fqdn, 'TXT', { recursive: false });
  return (answer.answers ?? []).flatMap((rr) => (rr.type === 'TXT' ? [(Array.isArray(rr.data) ? rr.data : [rr.data]).map((d) => d.toString()).join('')] : []));
}

/** True once `GET http://host:port/path` answers 200. */
export function answersHttp(host: string, port: number, path = '/index.html'): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const req = request({ host, port, path, agent: false, timeout: 500 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}
