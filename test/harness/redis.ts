/**
 * Starts a real `redis-server` (Debian's) for one test file on a free loopback port, in its own temp
 * folder, health-checked with PING before it is handed out. Optional password (requirepass),
 * append-only persistence (so a restart keeps keys, like a production Redis with AOF), restart and
 * stop, and `INFO commandstats` counters for "this request never reached Redis" assertions.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveBinary } from './paths.js';
import { freePort } from './ports.js';

/** Options for {@link startRedis}. */
export interface RedisServerOptions {
  /** `requirepass`: clients must AUTH with it. */
  password?: string;
  /** `appendonly yes` with `appendfsync always`: keys survive {@link RedisServer.restart}. */
  persistent?: boolean;
  /** Loopback address to bind (default 127.0.0.1). */
  host?: string;
  /** Extra `--name value` arguments. */
  args?: string[];
  /** Run as a Sentinel monitoring this master (`sentinel monitor <name> <host> <port> 1`). */
  sentinelOf?: { name: string; host: string; port: number };
}

/** A running redis-server. */
export interface RedisServer {
  readonly host: string;
  readonly port: number;
  /** `redis://host:port` (no credentials). */
  readonly url: string;
  /** Folder with the log and data files. */
  readonly dir: string;
  /** Sends one command (RESP) and returns the raw reply text; for test setup and counters. */
  command(...args: string[]): Promise<string>;
  /** Calls per command name since the last {@link resetStats} (`INFO commandstats`). */
  commandStats(): Promise<Record<string, number>>;
  /** `CONFIG RESETSTAT`. */
  resetStats(): Promise<void>;
  /** Stops the server (SIGTERM; data kept on disk). */
  stopServer(): Promise<void>;
  /** Starts it again on the same port and data folder, health-checked. */
  start(): Promise<void>;
  /** stopServer() then start(). */
  restart(): Promise<void>;
  /** The log so far. */
  logs(): Promise<string>;
  /** Stops it and removes its folder; idempotent. */
  stop(): Promise<void>;
}

const running = new Set<ChildProcess>();
const dirs = new Set<string>();
let hooked = false;

function hook(): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', () => {
    for (const c of running) c.kill('SIGKILL');
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });
}

/** One RESP command over a fresh connection; resolves with the reply as text (errors reject). */
export function redisCommand(host: string, port: number, args: readonly string[], password?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    const encode = (a: readonly string[]): string => `*${a.length}\r\n${a.map((x) => `$${Buffer.byteLength(x)}\r\n${x}\r\n`).join('')}`;
    let buffer = '';
    let skipAuthReply = password !== undefined;
    socket.setTimeout(3000, () => socket.destroy(new Error('redis command timed out')));
    socket.on('connect', () => socket.write((password !== undefined ? encode(['AUTH', password]) : '') + encode(args)));
    socket.on('data', (d: Buffer) => {
      buffer += d.toString('utf8');
      for (;;) {
        const reply = parseReply(buffer);
        if (reply === undefined) return;
        buffer = buffer.slice(reply.length);
        if (skipAuthReply) {
          skipAuthReply = false;
          if (reply.error) {
            socket.destroy();
            reject(new Error(reply.text));
            return;
          }
          continue;
        }
        socket.end();
        if (reply.error) reject(new Error(reply.text));
        else resolve(reply.text);
        return;
      }
    });
    socket.on('error', reject);
  });
}

/** Parses one RESP2 reply at the start of `buf`: simple, error, integer, bulk (nil as ''), or a flat array joined by newlines. */
function parseReply(buf: string): { text: string; error: boolean; length: number } | undefined {
  const end = buf.indexOf('\r\n');
  if (end === -1) return undefined;
  const kind = buf[0];
  const head = buf.slice(1, end);
  if (kind === '+' || kind === ':') return { text: head, error: false, length: end + 2 };
  if (kind === '-') return { text: head, error: true, length: end + 2 };
  if (kind === '$') {
    const n = Number(head);
    if (n < 0) return { text: '', error: false, length: end + 2 };
    const bytes = Buffer.from(buf.slice(end + 2), 'utf8');
    if (bytes.length < n + 2) return undefined;
    const text = bytes.subarray(0, n).toString('utf8');
    return { text, error: false, length: end + 2 + text.length + 2 };
  }
  if (kind === '*') {
    const n = Number(head);
    let offset = end + 2;
    const parts: string[] = [];
    for (let i = 0; i < n; i++) {
      const part = parseReply(buf.slice(offset));
      if (part === undefined) return undefined;
      parts.push(part.text);
      offset += part.length;
    }
    return { text: parts.join('\n'), error: false, length: offset };
  }
  return { text: buf.slice(0, end), error: true, length: end + 2 };
}

const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Starts redis-server; guard the test with `requireServer(t, 'redis-server', …)` first. */
export async function startRedis(options: RedisServerOptions = {}): Promise<RedisServer> {
  const binary = resolveBinary('redis-server');
  if (binary === undefined) throw new Error('harness: redis-server not installed (Debian package redis-server; run `bash scripts/setup.sh`)');
  hook();
  const host = options.host ?? '127.0.0.1';
  const dir = await mkdtemp(join(tmpdir(), 'certpilot-redis-'));
  dirs.add(dir);
  const logFile = join(dir, 'redis.log');
  let port = await freePort();
  let child: ChildProcess | undefined;
  const setpriv = resolveBinary('setpriv');

  const sentinelConf = join(dir, 'sentinel.conf');
  if (options.sentinelOf !== undefined) {
    const m = options.sentinelOf;
    await writeFile(sentinelConf, `sentinel monitor ${m.name} ${m.host} ${m.port} 1\n`);
  }
  const args = (): string[] => [
    ...(options.sentinelOf !== undefined ? [sentinelConf, '--sentinel'] : []),
    '--port', String(port), '--bind', host, '--dir', dir, '--logfile', logFile, '--daemonize', 'no',
    '--protected-mode', 'no',
    ...(options.sentinelOf !== undefined ? [] : ['--save', '']),
    ...(options.sentinelOf !== undefined ? [] : options.persistent === true ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no']),
    ...(options.password !== undefined ? ['--requirepass', options.password] : []),
    ...(options.args ?? []),
  ];
  // The password goes on the command line of a test server only (the test's own secret, loopback).
  const ping = (): Promise<string> => redisCommand(host, port, ['PING'], options.password);

  const launch = async (): Promise<void> => {
    const [command, argv] = setpriv !== undefined ? [setpriv, ['--pdeathsig', 'SIGKILL', '--', binary, ...args()]] : [binary, args()];
    const c = spawn(command, argv, { stdio: 'ignore' });
    running.add(c);
    c.once('exit', () => running.delete(c));
    child = c;
    const deadline = Date.now() + 10_000;
    for (;;) {
      if (c.exitCode !== null || c.signalCode !== null) throw new Error(`redis-server exited (${c.exitCode ?? c.signalCode}) before answering`);
      try {
        if ((await ping()) === 'PONG') return;
      } catch {
        // not yet
      }
      if (Date.now() > deadline) throw new Error('redis-server did not answer PING in 10 s');
      await delay(50);
    }
  };

  const stopServer = async (): Promise<void> => {
    const c = child;
    child = undefined;
    if (c === undefined || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise<void>((r) => c.once('exit', () => r()));
    c.kill('SIGTERM');
    const timer = setTimeout(() => c.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(timer);
  };

  // A port can be taken between freePort() and the bind: retry with a fresh one.
  for (let attempt = 1; ; attempt++) {
    try {
      await launch();
      break;
    } catch (err) {
      await stopServer();
      if (attempt >= 3) throw err;
      port = await freePort();
    }
  }

  const server: RedisServer = {
    host,
    get port() {
      return port;
    },
    get url() {
      return `redis://${host}:${port}`;
    },
    dir,
    command: (...a) => redisCommand(host, port, a, options.password),
    commandStats: async () => {
      const text = await redisCommand(host, port, ['INFO', 'commandstats'], options.password);
      const stats: Record<string, number> = {};
      for (const m of text.matchAll(/^cmdstat_([a-z|_-]+):calls=(\d+)/gm)) stats[m[1] as string] = Number(m[2]);
      return stats;
    },
    resetStats: async () => {
      await redisCommand(host, port, ['CONFIG', 'RESETSTAT'], options.password);
    },
    stopServer,
    start: launch,
    restart: async () => {
      await stopServer();
      await launch();
    },
    logs: () => readFile(logFile, 'utf8').catch(() => ''),
    stop: async () => {
      await stopServer();
      await rm(dir, { recursive: true, force: true });
      dirs.delete(dir);
    },
  };
  return server;
}
