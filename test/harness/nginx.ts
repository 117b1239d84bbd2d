/**
 * Starts Debian's real nginx with its own config, pid, logs and temp paths in a temp folder, on a
 * loopback address (never the system service); health-checked by an HTTP request. For the stateless
 * http-01 snippet and the benchmark's static-file baseline.
 */
import { chmod, mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveBinary } from './paths.js';
import { answersHttp, startServerProcess } from './server-process.js';

/** A running nginx. */
export interface NginxServer {
  readonly host: string;
  readonly port: number;
  /** Its document root (files served as is). */
  readonly root: string;
  logs(): Promise<string>;
  stop(): Promise<void>;
}


/** Starts nginx on `host:port`; `serverLines` go inside its one `server {}` block. */
export async function startNginx(options: { host: string; port: number; serverLines?: string[]; workers?: number; accessLog?: boolean }): Promise<NginxServer> {
  const binary = resolveBinary('nginx') ?? resolveBinary('/usr/sbin/nginx');
  if (binary === undefined) throw new Error('harness: nginx not installed (Debian package nginx-light; run `bash scripts/setup.sh`)');
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
  const proc = await startServerProcess(binary, ['-p', dir, '-c', conf, '-g', 'daemon off;'], {
    label: 'nginx',
    dir,
    logFile: join(dir, 'stderr.log'),
    timeoutMs: 10_000,
    ready: () => answersHttp(options.host, options.port),
  });
  return {
    host: options.host,
    port: options.port,
    root,
    logs: () => readFile(join(dir, 'error.log'), 'utf8').catch(() => ''),
    stop: proc.stop,
  };
}
