/**
 * Starts a real PowerDNS Authoritative Server (Debian `pdns-server` with `pdns-backend-sqlite3`)
 * for one test: an SQLite database made from the Debian schema, one zone, a TSIG key allowed to
 * update it (`TSIG-ALLOW-DNSUPDATE`), on 127.0.0.1 and a free port. Ready once it answers the
 * zone's SOA. PowerDNS grants updates per zone, not per name.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { DnsServer } from '../../src/challenges/dns01/dns-client.js';
import type { BindKey } from './bind.js';
import { resolveBinary } from './paths.js';
import { freePort } from './ports.js';
import { answersSoa, startServerProcess, txtAt } from './server-process.js';

const run = promisify(execFile);

function sqlText(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}

/** Runs SQL through sqlite3's standard input. */
function sqlOnStdin(db: string, sql: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = execFile('sqlite3', [db], (err) => (err ? reject(err) : resolve()));
    child.stdin?.end(sql);
  });
}

/** pdns_server from Debian's pdns-server (in /usr/sbin). */
export const pdnsBinary: string = resolveBinary('pdns_server') ?? '/usr/sbin/pdns_server';
/** The SQLite schema shipped by pdns-backend-sqlite3. */
export const pdnsSchema = '/usr/share/doc/pdns-backend-sqlite3/schema.sqlite3.sql';

/** True when PowerDNS, its SQLite backend and the sqlite3 CLI are installed. */
export function havePowerDns(): boolean {
  return resolveBinary(pdnsBinary) !== undefined && resolveBinary('pdnsutil') !== undefined && resolveBinary('sqlite3') !== undefined && existsSync(pdnsSchema);
}

/** A running pdns_server. */
export interface PowerDnsInstance {
  readonly server: DnsServer;
  readonly key: BindKey;
  txt(fqdn: string): Promise<string[]>;
  stop(): Promise<void>;
}

/** Starts pdns_server with `zone`, updatable by `key`. */
export async function startPowerDns(options: { zone: string; key: BindKey }): Promise<PowerDnsInstance> {
  const dir = await mkdtemp(join(tmpdir(), 'certpilot-pdns-'));
  const port = await freePort({ udp: true });
  const db = join(dir, 'pdns.db');
  await run('sqlite3', [db, `.read ${pdnsSchema}`]);
  await writeFile(
    join(dir, 'pdns.conf'),
    [
      'launch=gsqlite3',
      `gsqlite3-database=${db}`,
      'local-address=127.0.0.1',
      `local-port=${port}`,
      'dnsupdate=yes',
      'allow-dnsupdate-from=127.0.0.0/8',
      `socket-dir=${dir}`,
      'guardian=no',
      'daemon=no',
      'disable-syslog=yes',
      'distributor-threads=1',
      'receiver-threads=1',
      'webserver=no',
      'api=no',
      '',
    ].join('\n'),
  );
  const pdnsutil = (...args: string[]): Promise<unknown> => run('pdnsutil', [`--config-dir=${dir}`, ...args]);
  await pdnsutil('create-zone', options.zone, `ns1.${options.zone}`);
  await pdnsutil('add-record', options.zone, 'ns1', 'A', '127.0.0.1');
  // The key goes in through sqlite3's stdin, never on a command line (`pdnsutil import-tsig-key` takes it as an argument).
  await sqlOnStdin(db, `INSERT INTO tsigkeys (name, algorithm, secret) VALUES (${sqlText(options.key.name)}, ${sqlText(options.key.algorithm)}, ${sqlText(options.key.secret)});`);
  await pdnsutil('set-meta', options.zone, 'TSIG-ALLOW-DNSUPDATE', options.key.name);

  const logFile = join(dir, 'pdns.log');
  const server = { host: '127.0.0.1', port };
  const proc = await startServerProcess(pdnsBinary, [`--config-dir=${dir}`], { label: 'pdns_server', dir, logFile, ready: () => answersSoa(server, options.zone) });
  return { server, key: options.key, txt: (fqdn) => txtAt(server, fqdn), stop: proc.stop };
}
