/**
 * Starts a real Knot DNS `knotd` (Debian `knot`) for one test: its own config, zone file and TSIG
 * key in a temporary folder, on 127.0.0.1 and a free port, one worker of each kind. An ACL lets the
 * key update TXT records of the listed names only (`update-owner: name`). Ready once it answers
 * the zone's SOA. The second server the rfc2136 provider is checked against, besides BIND.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DnsServer } from '../../src/challenges/dns01/dns-client.js';
import type { BindKey } from './bind.js';
import { resolveBinary } from './paths.js';
import { freePort } from './ports.js';
import { answersSoa, startServerProcess, txtAt } from './server-process.js';

/** knotd from Debian's knot (in /usr/sbin). */
export const knotdBinary: string = resolveBinary('knotd') ?? '/usr/sbin/knotd';

/** A running knotd. */
export interface KnotInstance {
  readonly server: DnsServer;
  readonly key: BindKey;
  /** Every TXT value at `fqdn` as the server answers it now. */
  txt(fqdn: string): Promise<string[]>;
  logs(): Promise<string>;
  stop(): Promise<void>;
}

/** Starts knotd with one zone whose listed names the key may update (TXT only). */
export async function startKnot(options: { zone: string; updateNames: string[]; key: BindKey; records?: string[] }): Promise<KnotInstance> {
  const dir = await mkdtemp(join(tmpdir(), 'certpilot-knot-'));
  const port = await freePort({ udp: true });
  const zoneFile = join(dir, `${options.zone}.zone`);
  await writeFile(
    zoneFile,
    [`$ORIGIN ${options.zone}.`, '$TTL 60', '@ SOA ns1 hostmaster 1 3600 3600 86400 1', '@ NS ns1', 'ns1 A 127.0.0.1', ...(options.records ?? []), ''].join('\n'),
  );
  const conf = [
    'server:',
    `  rundir: "${dir}"`,
    `  listen: 127.0.0.1@${port}`,
    '  background-workers: 1',
    '  udp-workers: 1',
    '  tcp-workers: 1',
    'log:',
    '  - target: stderr',
    '    any: info',
    'database:',
    `  storage: "${dir}"`,
    'key:',
    `  - id: ${options.key.name}`,
    `    algorithm: ${options.key.algorithm}`,
    `    secret: ${options.key.secret}`,
    'acl:',
    '  - id: acme',
    `    key: ${options.key.name}`,
    '    action: update',
    '    update-type: [TXT]',
    '    update-owner: name',
    '    update-owner-match: equal',
    `    update-owner-name: [${options.updateNames.map((n) => `${n}.`).join(', ')}]`,
    'zone:',
    `  - domain: ${options.zone}`,
    `    storage: "${dir}"`,
    `    file: "${zoneFile}"`,
    '    acl: acme',
    '',
  ].join('\n');
  await writeFile(join(dir, 'knot.conf'), conf);
  const logFile = join(dir, 'knot.log');
  const server = { host: '127.0.0.1', port };
  const proc = await startServerProcess(knotdBinary, ['-c', join(dir, 'knot.conf')], { label: 'knotd', dir, logFile, ready: () => answersSoa(server, options.zone) });
  return { server, key: options.key, txt: (fqdn) => txtAt(server, fqdn), logs: proc.logs, stop: proc.stop };
}
