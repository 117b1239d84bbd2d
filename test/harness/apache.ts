/**
 * Starts Debian's real apache2, e.g. as a reverse proxy for `/.well-known/acme-challenge/` (the
 * snippet of docs/http01-many-pods.md) or with the stateless lines, with its own config, pid and logs in a temp folder, on a loopback
 * address; never the system service. Health-checked by an HTTP request before it is handed out.
 */

import { chmod, mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveBinary } from './paths.js';
import { answersHttp, startServerProcess } from './server-process.js';

/** Where Debian keeps apache's loadable modules. */
const MODULES = '/usr/lib/apache2/modules';

/** A running apache2. */
export interface ApacheProxy {
  readonly host: string;
  readonly port: number;
  /** The error log so far. */
  logs(): Promise<string>;
  stop(): Promise<void>;
}


/** Starts apache2 on `host:port`, proxying the challenge path to `backend` (e.g. `http://127.0.0.5:8080`). */
export function startApacheProxy(options: { host: string; port: number; backend: string }): Promise<ApacheProxy> {
  return startApache({
    host: options.host,
    port: options.port,
    modules: ['proxy', 'proxy_http'],
    lines: [
      '# --- the snippet of docs/http01-many-pods.md ---',
      'ProxyPreserveHost On',
      `ProxyPass        "/.well-known/acme-challenge/" "${options.backend}/.well-known/acme-challenge/" nocanon`,
      `ProxyPassReverse "/.well-known/acme-challenge/" "${options.backend}/.well-known/acme-challenge/"`,
    ],
  });
}

/** Starts apache2 on `host:port` with these modules (`proxy` → mod_proxy.so) and config lines. */
export async function startApache(options: { host: string; port: number; modules: string[]; lines: string[] }): Promise<ApacheProxy> {
  const binary = resolveBinary('apache2') ?? resolveBinary('/usr/sbin/apache2');
  if (binary === undefined) throw new Error('harness: apache2 not installed (Debian package apache2; run `bash scripts/setup.sh`)');
  const dir = await mkdtemp(join(tmpdir(), 'certpilot-apache-'));
  // apache's workers run as nobody when started as root: they must read the document root.
  await chmod(dir, 0o755);
  await mkdir(join(dir, 'www'));
  await writeFile(join(dir, 'www', 'index.html'), '<p>site</p>\n');
  const conf = join(dir, 'apache2.conf');
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  await writeFile(
    conf,
    [
      `ServerRoot ${JSON.stringify(dir)}`,
      `PidFile ${JSON.stringify(join(dir, 'apache2.pid'))}`,
      `DefaultRuntimeDir ${JSON.stringify(dir)}`,
      `ErrorLog ${JSON.stringify(join(dir, 'error.log'))}`,
      'LogLevel warn',
      `LoadModule mpm_event_module ${MODULES}/mod_mpm_event.so`,
      `LoadModule authz_core_module ${MODULES}/mod_authz_core.so`,
      ...options.modules.map((m) => `LoadModule ${m}_module ${MODULES}/mod_${m}.so`),
      ...(root ? ['User nobody', 'Group nogroup'] : []),
      'ServerName localhost',
      `Listen ${options.host}:${options.port}`,
      'StartServers 1',
      'ServerLimit 1',
      'ThreadsPerChild 8',
      'MaxRequestWorkers 8',
      'MinSpareThreads 1',
      'MaxSpareThreads 8',
      `DocumentRoot ${JSON.stringify(join(dir, 'www'))}`,
      ...options.lines,
      '',
    ].join('\n'),
  );
  const proc = await startServerProcess(binary, ['-f', conf, '-DFOREGROUND'], {
    label: 'apache2',
    dir,
    logFile: join(dir, 'stderr.log'),
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
    timeoutMs: 10_000,
    ready: () => answersHttp(options.host, options.port),
  });
  return {
    host: options.host,
    port: options.port,
    logs: () => readFile(join(dir, 'error.log'), 'utf8').catch(() => ''),
    stop: proc.stop,
  };
}

