/**
 * Starts Debian's real nginx with its own config, pid, logs and temp paths in a temp folder, on a
 * loopback address (never the system service); health-checked by an HTTP request. For the stateless
 * http-01 snippet and the benchmark's static-file baseline.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveBinary } from './paths.js';

/** A running nginx. */
export interface NginxServer {
  readonly host: string;
  readonly port: number;
  /** Its document root (files served as is). */
  readonly root: string;
  logs(): Promise<string>;
  stop(): Promise<void>;
}

const running = new Set<ChildProcess>();
let hooked = false;

/** Starts nginx on `host:port`; `serverLines` go inside its one `server {}` block. */
export async function startNginx(options: { host: string; port: number; serverLines?: string[]; workers?: number; accessLog?: boolean }): Promise<NginxServer> {
  const binary = resolveBinary('nginx') ?? resolveBinary('/usr/sbin/nginx');
  if (binary === undefined) throw new Error('harness: nginx not installed (Debian package nginx-light; run `bash scripts/setup.sh`)');
  if (!hooked) {
    hooked = true;
    process.on('exit', () => {
      for (const c of running) c.kill('SIGKILL');
    });
  }
  const dir = await mkdtemp(join(tmpdir(), 'certpilot-nginx-'));
  await chmod(dir, 0o755);
  const root = join(dir, 'www');
  await mkdir(root);
  await writeFile(join(root, 'index.html'), '<p>site</p>\n');
  const root0 = typeof process.getuid === 'function' && process.getuid() === 0;
  const conf = join(dir, 'nginx.conf');
  await writeFile(
    conf,
    [
      ...(root0 ? ['user nobody nogroup;'] : []),
      `worker_processes ${options.workers ?? 1};`,
      `pid ${join(dir, 'nginx.pid')};`,
      `error_log ${join(dir, 'error.log')} warn;`,
      'events { worker_connections 1024; }',
      'http {',
      `  access_log ${options.accessLog === true ? join(dir, 'access.log') : 'off'};`,
      `  client_body_temp_path ${join(dir, 'body')};`,
      `  proxy_temp_path ${join(dir, 'proxy')};`,
      `  fastcgi_temp_path ${join(dir, 'fastcgi')};`,
      `  uwsgi_temp_path ${join(dir, 'uwsgi')};`,
      `  scgi_temp_path ${join(dir, 'scgi')};`,
      '  server {',
      `    listen ${options.host}:${options.port};`,
      `    root ${root};`,
      ...(options.serverLines ?? []).map((l) => `    ${l}`),
      '  }',
      '}',
      '',
    ].join('\n'),
  );
  const child = spawn(binary, ['-p', dir, '-c', conf, '-g', 'daemon off;'], { stdio: ['ignore', 'ignore', 'pipe'] });
  running.add(child);
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  child.once('exit', () => running.delete(child));
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) {
      await rm(dir, { recursive: true, force: true });
      throw new Error(`nginx exited (${child.exitCode}): ${stderr}`);
    }
    const ok = await new Promise<boolean>((resolve) => {
      const req = request({ host: options.host, port: options.port, path: '/index.html', agent: false, timeout: 500 }, (res) => {
        res.resume();
        resolve(res.statusCode === 200);
      });
      req.on('error', () => resolve(false));
      req.on('timeout', () => req.destroy());
      req.end();
    });
    if (ok) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      await rm(dir, { recursive: true, force: true });
      throw new Error(`nginx did not answer in 10 s: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    host: options.host,
    port: options.port,
    root,
    logs: () => readFile(join(dir, 'error.log'), 'utf8').catch(() => ''),
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}
