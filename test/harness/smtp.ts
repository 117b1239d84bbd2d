/**
 * A real SMTP server for the e-mail notifier: Debian's python3-aiosmtpd on loopback, STARTTLS with
 * the test PKI's localhost certificate (required before MAIL, as a submission server does), each
 * message stored in a Maildir in its own temp dir. Debian's Python is called by its full path
 * (another python3 may come first on PATH).
 */
import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports.js';
import { readTestPki } from './paths.js';
import { startServerProcess, type ServerProcess } from './server-process.js';

/** Debian's Python, which has aiosmtpd. */
export const DEBIAN_PYTHON = '/usr/bin/python3';

/** A running aiosmtpd. */
export interface SmtpServer {
  port: number;
  /** Every message received so far, concatenated (the Maildir's files in arrival order). */
  mbox(): Promise<string>;
  stop(): Promise<void>;
}

/** True when Debian's aiosmtpd can run here. */
export async function aiosmtpdAvailable(): Promise<boolean> {
  const { spawnSync } = await import('node:child_process');
  return spawnSync(DEBIAN_PYTHON, ['-c', 'import aiosmtpd'], { stdio: 'ignore' }).status === 0;
}

/** Starts aiosmtpd; `starttls: false` runs a plain server that offers no STARTTLS. */
export async function startSmtp(options: { starttls?: boolean } = {}): Promise<SmtpServer> {
  const dir = await mkdtemp(join(tmpdir(), 'certpilot-smtp-'));
  const port = await freePort();
  const maildir = join(dir, 'maildir');
  const pki = readTestPki();
  const tls = options.starttls === false ? [] : ['--tlscert', pki.certFile, '--tlskey', pki.keyFile];
  const server: ServerProcess = await startServerProcess(DEBIAN_PYTHON, ['-m', 'aiosmtpd', '-n', '-l', `127.0.0.1:${port}`, ...tls, '-c', 'aiosmtpd.handlers.Mailbox', maildir], {
    label: 'aiosmtpd',
    dir,
    logFile: join(dir, 'aiosmtpd.log'),
    ready: () =>
      new Promise<boolean>((resolve) => {
        const socket = connect(port, '127.0.0.1');
        socket.once('data', (d) => {
          socket.destroy();
          resolve(d.toString().startsWith('220'));
        });
        socket.once('error', () => resolve(false));
      }),
  });
  const mbox = async (): Promise<string> => {
    const names = (await readdir(join(maildir, 'new')).catch(() => [])).sort();
    return (await Promise.all(names.map((n) => readFile(join(maildir, 'new', n), 'utf8')))).join('\n');
  };
  return { port, mbox, stop: () => server.stop() };
}
