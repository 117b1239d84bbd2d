/**
 * A stand-in "pod" for the Kubernetes stand-in: a real Debian apache2 with mod_ssl serving HTTPS
 * on its own loopback address, from its own config in a temp dir (never the system service), with
 * a "mounted Secret" directory laid out as the kubelet's AtomicWriter does (DESIGN.md §6.11;
 * kubernetes `pkg/volume/util/atomic_writer.go`): the files live in a timestamped `..<ts>`
 * directory, `..data` points at it, and each key is a symlink `<key> -> ..data/<key>`; an update
 * writes a new directory and switches `..data` with one `rename()`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, readlinkSync, rmSync, symlinkSync } from 'node:fs';
import { mkdir, readdir, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/** The apache2 binary (Debian `apache2`). */
export const APACHE_BINARY = '/usr/sbin/apache2';
const MODULES = '/usr/lib/apache2/modules';

/** Options of {@link ApachePod}. */
export interface ApachePodOptions {
  /** The pod's own directory (config, logs, document root, mounts). */
  root: string;
  /** Loopback address, e.g. `127.42.0.11`. */
  ip: string;
  port: number;
  /** The vhost's ServerName. */
  serverName: string;
  /** Directory of the mounted Secret on the host (see {@link projectSecret}). */
  mountDir: string;
  /** Records the argv of every process started (the secrets-never-in-argv test reads it). */
  onSpawn?: (argv: string[]) => void;
}

/**
 * Writes one projection of a Secret's data into `dir`, the kubelet's way (atomic `..data` switch).
 * Returns when the switch happened (ms since the epoch): from then on readers see the new files.
 */
export async function projectSecret(dir: string, data: Record<string, Buffer>): Promise<number> {
  await mkdir(dir, { recursive: true });
  const stamp = `..${new Date().toISOString().replace(/[:.]/g, '_')}.${process.hrtime.bigint().toString(36)}`;
  const tsDir = join(dir, stamp);
  await mkdir(tsDir);
  for (const [key, value] of Object.entries(data)) await writeFile(join(tsDir, key), value, { mode: 0o644 });
  const dataLink = join(dir, '..data');
  let old: string | undefined;
  try {
    old = readlinkSync(dataLink);
  } catch {
    old = undefined;
  }
  const tmp = join(dir, '..data_tmp');
  await rm(tmp, { force: true });
  await symlink(stamp, tmp);
  await rename(tmp, dataLink);
  const switchedAt = Date.now();
  const keys = new Set(Object.keys(data));
  for (const entry of await readdir(dir)) {
    if (entry.startsWith('..')) continue;
    if (!keys.has(entry)) await rm(join(dir, entry), { force: true });
  }
  for (const key of keys) {
    if (!existsSync(join(dir, key))) symlinkSync(join('..data', key), join(dir, key));
  }
  if (old !== undefined && old !== stamp) await rm(join(dir, old), { recursive: true, force: true });
  return switchedAt;
}

/** Waits until something accepts TCP connections on ip:port. */
async function waitListening(ip: string, port: number, timeoutMs: number, alive: () => boolean): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect({ host: ip, port }, () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    if (!alive()) throw new Error(`harness: apache2 on ${ip}:${port} exited during start-up`);
    if (Date.now() > deadline) throw new Error(`harness: apache2 on ${ip}:${port} not listening after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** One apache2 "pod". */
export class ApachePod {
  private process: ChildProcess | undefined;
  readonly confFile: string;
  private readonly docRoot: string;

  constructor(readonly options: ApachePodOptions) {
    this.confFile = join(options.root, 'httpd.conf');
    this.docRoot = join(options.root, 'www');
  }

  /** The config; `broken` adds a line apache rejects (a reload that fails). */
  private config(broken = false): string {
    const { root, ip, port, serverName, mountDir } = this.options;
    return [
      `ServerRoot "${root}"`,
      `ServerName ${serverName}`,
      ...['mpm_event', 'authz_core', 'socache_shmcb', 'ssl', 'dir'].map((m) => `LoadModule ${m}_module ${MODULES}/mod_${m}.so`),
      'User www-data',
      'Group www-data',
      `PidFile ${root}/httpd.pid`,
      `Mutex file:${root} default`,
      `ErrorLog ${root}/error.log`,
      'LogLevel warn',
      // Short grace so a test's stop is quick; graceful reloads keep serving in-flight requests.
      'GracefulShutdownTimeout 5',
      `Listen ${ip}:${port} https`,
      `DocumentRoot "${this.docRoot}"`,
      'DirectoryIndex index.html',
      `<Directory "${this.docRoot}">`,
      '  Require all granted',
      '</Directory>',
      `SSLSessionCache shmcb:${root}/ssl_scache(512000)`,
      `<VirtualHost ${ip}:${port}>`,
      `  ServerName ${serverName}`,
      '  SSLEngine on',
      `  SSLCertificateFile ${mountDir}/tls.crt`,
      `  SSLCertificateKeyFile ${mountDir}/tls.key`,
      '</VirtualHost>',
      ...(broken ? ['ThisDirectiveDoesNotExist on'] : []),
      '',
    ].join('\n');
  }

  /** Starts apache2 in the foreground (a child of the test process) and waits until it listens. */
  async start(): Promise<void> {
    const { root } = this.options;
    await mkdir(this.docRoot, { recursive: true });
    // apache's children run as www-data: the document root must be readable and its parents
    // traversable (only traversable: the mounted keys stay private to root).
    for (let dir = root; dir !== dirname(dir) && dir.length > 4; dir = dirname(dir)) {
      if (dir === tmpdir()) break;
      chmodSync(dir, 0o711);
    }
    chmodSync(this.docRoot, 0o755);
    await writeFile(join(this.docRoot, 'index.html'), `${this.options.serverName}\n`);
    await writeFile(this.confFile, this.config());
    const argv = [APACHE_BINARY, '-f', this.confFile, '-DFOREGROUND'];
    this.options.onSpawn?.(argv);
    const child = spawn(argv[0] as string, argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
    this.process = child;
    let stderr = '';
    child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
    const kill = (): void => {
      child.kill('SIGKILL');
    };
    process.once('exit', kill);
    child.once('exit', () => process.removeListener('exit', kill));
    try {
      await waitListening(this.options.ip, this.options.port, 15_000, () => child.exitCode === null);
    } catch (e) {
      const log = existsSync(join(root, 'error.log')) ? readFileSync(join(root, 'error.log'), 'utf8') : '';
      throw new Error(`${(e as Error).message}: ${stderr}${log}`);
    }
  }

  /** Makes the next reload fail (apache's config check rejects the file), or mends it. */
  async breakConfig(broken: boolean): Promise<void> {
    await writeFile(this.confFile, this.config(broken));
  }

  /** The argv of a graceful restart of this pod's apache (what `apachectl graceful` runs). */
  gracefulArgv(): string[][] {
    return [
      [APACHE_BINARY, '-t', '-f', this.confFile],
      [APACHE_BINARY, '-f', this.confFile, '-k', 'graceful'],
    ];
  }

  /** Stops apache (SIGTERM, then SIGKILL after 5 s) and removes nothing. */
  async stop(): Promise<void> {
    const child = this.process;
    this.process = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      child.once('exit', () => {
        clearTimeout(t);
        resolve();
      });
      child.kill('SIGTERM');
    });
  }
}

/** Removes a pod's directory (after {@link ApachePod.stop}). */
export function removePodDir(root: string): void {
  rmSync(root, { recursive: true, force: true });
}
