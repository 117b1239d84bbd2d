/**
 * Starts a real BIND 9 `named` (Debian `bind9`) for one test: its own named.conf, zone files and
 * TSIG key in a temporary folder, on a loopback address and a free port (UDP and TCP), one worker
 * thread. Ready once its log says " running" (DESIGN.md §5). Zones may be primaries that accept
 * DNS UPDATE from the key (BIND 9.18's update-policy: one `grant … name <fqdn> TXT;` per name), or
 * secondaries of another instance (zone transfer signed with the key).
 *
 * Killed on {@link BindInstance.stop}, and by the kernel when the test process dies (setpriv
 * --pdeathsig), like the Pebble harness.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, openSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatDnsServer, query, type DnsServer } from '../../src/challenges/dns01/dns-client.js';
import type { TsigAlgorithm, TsigKey } from '../../src/challenges/dns01/providers/rfc2136/tsig.js';
import { resolveBinary } from './paths.js';
import { freePort } from './ports.js';

/** A TSIG key of the test server. */
export interface BindKey {
  /** Key name, no trailing dot, e.g. `certpilot-test`. */
  name: string;
  algorithm: TsigAlgorithm;
  /** base64 secret. */
  secret: string;
}

/** The key as the rfc2136 provider takes it (the secret decoded); for BIND, Knot and PowerDNS alike. */
export function tsigKey(key: BindKey, name = key.name): TsigKey {
  return { name, algorithm: key.algorithm, secret: Buffer.from(key.secret, 'base64') };
}

/** One zone of the test server. */
export interface BindZone {
  /** Zone name without trailing dot, e.g. `example.test`. */
  name: string;
  /** Zone-file lines after SOA and NS (owner names relative or absolute), e.g. `www A 127.0.0.1`. */
  records?: string[];
  /** Nameservers of the zone as `name address` (NS records plus glue); default `ns1 <this server's address>`. */
  nameservers?: { name: string; address: string }[];
  /** Absolute names (no trailing dot) the key may change TXT records of (one grant each). */
  updateNames?: string[];
  /**
   * Absolute names (no trailing dot) at and below which the key may change TXT records (`grant …
   * subdomain`): e.g. `_acme-challenge.example.test` for dns-account-01's per-account labels.
   */
  updateSubdomains?: string[];
  /** SOA refresh/retry in seconds (how soon a secondary without NOTIFY asks again); default 3600. */
  refreshSeconds?: number;
  /** Make this a secondary of the given primary instead (zone transfer with the key). */
  secondaryOf?: DnsServer;
}

/** Options of {@link startBind}. */
export interface BindOptions {
  zones: BindZone[];
  /** Loopback address to listen on: 127.0.0.1 (default) or ::1 (named binds only interface addresses). */
  address?: string;
  /** Port (default: a free one). */
  port?: number;
  /** The TSIG key (default: a fresh hmac-sha256 key named `certpilot-test`). */
  key?: BindKey;
  /** Send NOTIFY to secondaries after changes (default true). */
  notify?: boolean;
  /**
   * Make this a recursive resolver (like the CA's) that forwards the given zones to another
   * instance and follows CNAMEs across them; it caches nothing for longer than a second.
   */
  forward?: { zones: string[]; to: DnsServer };
  /** Log every query (named's querylog), e.g. for the benchmark's propagation timings. */
  querylog?: boolean;
  /** Longest wait for " running", in ms (default 20 000). */
  startTimeoutMs?: number;
}

/** A running named. */
export interface BindInstance {
  /** Where it listens. */
  readonly server: DnsServer;
  readonly key: BindKey;
  readonly dir: string;
  /** Every TXT value at `fqdn` as the server answers it now. */
  txt(fqdn: string): Promise<string[]>;
  /** named's log so far. */
  logs(): Promise<string>;
  /** Kills named and removes the folder; idempotent. */
  stop(): Promise<void>;
}

/** A fresh TSIG key with a random 256-bit secret. */
export function makeBindKey(name = 'certpilot-test', algorithm: TsigAlgorithm = 'hmac-sha256'): BindKey {
  return { name, algorithm, secret: randomBytes(32).toString('base64') };
}

const setpriv = resolveBinary('setpriv');

/** named from Debian's bind9 (in /usr/sbin, which a non-root PATH may lack); for requireServer. */
export const namedBinary: string = resolveBinary('named') ?? '/usr/sbin/named';

function zoneFile(zone: BindZone, address: string): string {
  const ns = zone.nameservers ?? [{ name: 'ns1', address }];
  const refresh = zone.refreshSeconds ?? 3600;
  return [
    `$ORIGIN ${zone.name}.`,
    '$TTL 60',
    `@ IN SOA ${ns[0]?.name ?? 'ns1'} hostmaster 1 ${refresh} ${refresh} 86400 1`,
    ...ns.map((n) => `@ IN NS ${n.name}`),
    ...ns.map((n) => `${n.name} IN ${n.address.includes(':') ? 'AAAA' : 'A'} ${n.address}`),
    ...(zone.records ?? []),
    '',
  ].join('\n');
}

function zoneStatement(zone: BindZone, dir: string, key: BindKey): string {
  const file = join(dir, `${zone.name}.db`);
  if (zone.secondaryOf) {
    const p = zone.secondaryOf;
    return [
      `zone "${zone.name}" {`,
      '  type secondary;',
      `  file "${file}";`,
      `  primaries { ${p.host} port ${p.port} key "${key.name}"; };`,
      // Without NOTIFY the zone is asked for again only after the SOA refresh.
      `  min-refresh-time ${zone.refreshSeconds ?? 3600};`,
      `  max-refresh-time ${zone.refreshSeconds ?? 3600};`,
      `  min-retry-time ${zone.refreshSeconds ?? 3600};`,
      `  max-retry-time ${zone.refreshSeconds ?? 3600};`,
      '};',
    ].join('\n');
  }
  const grants = [
    ...(zone.updateNames ?? []).map((n) => `    grant ${key.name} name ${n}. TXT;`),
    ...(zone.updateSubdomains ?? []).map((n) => `    grant ${key.name} subdomain ${n}. TXT;`),
  ];
  return [
    `zone "${zone.name}" {`,
    '  type primary;',
    `  file "${file}";`,
    `  allow-transfer { key "${key.name}"; };`,
    ...(grants.length > 0 ? ['  update-policy {', ...grants, '  };'] : []),
    '};',
  ].join('\n');
}

/** Starts named with the given zones; resolves once it logs " running". */
export async function startBind(options: BindOptions): Promise<BindInstance> {
  const named = resolveBinary(namedBinary);
  if (named === undefined) throw new Error('harness: named not installed (Debian bind9); guard the test with requireServer(t, "named")');
  const key = options.key ?? makeBindKey();
  const address = options.address ?? '127.0.0.1';
  const v6 = address.includes(':');
  const dir = await mkdtemp(join(tmpdir(), 'certpilot-bind-'));
  const logFile = join(dir, 'named.log');
  let lastError: Error | undefined;
  for (let attempt = 1; attempt <= 3; attempt++) {
    const port = options.port ?? (await freePort({ udp: true }));
    const conf = [
      'options {',
      `  directory "${dir}";`,
      `  pid-file "${join(dir, 'named.pid')}";`,
      `  session-keyfile "${join(dir, 'session.key')}";`,
      `  managed-keys-directory "${dir}";`,
      // named listens only on addresses of interfaces: 127.0.0.1 and ::1 here (not 127.0.0.2…).
      ...(v6 ? ['  listen-on { none; };', `  listen-on-v6 port ${port} { ${address}; };`] : [`  listen-on port ${port} { ${address}; };`, '  listen-on-v6 { none; };']),
      options.forward ? '  recursion yes;\n  allow-recursion { any; };\n  max-cache-ttl 1;\n  max-ncache-ttl 1;' : '  recursion no;',
      '  dnssec-validation no;',
      `  notify ${options.notify === false ? 'no' : 'yes'};`,
      ...(options.querylog ? ['  querylog yes;'] : []),
      '};',
      'controls { };',
      `key "${key.name}" { algorithm ${key.algorithm}; secret "${key.secret}"; };`,
      ...options.zones.map((z) => zoneStatement(z, dir, key)),
      ...(options.forward?.zones ?? []).map(
        (z) => `zone "${z}" { type forward; forward only; forwarders { ${options.forward?.to.host} port ${options.forward?.to.port}; }; };`,
      ),
      '',
    ].join('\n');
    await writeFile(join(dir, 'named.conf'), conf);
    for (const zone of options.zones) if (!zone.secondaryOf) await writeFile(join(dir, `${zone.name}.db`), zoneFile(zone, address));

    const fd = openSync(logFile, 'w');
    let child: ChildProcess;
    try {
      const args = ['-g', '-n', '1', '-c', join(dir, 'named.conf')];
      child = setpriv ? spawn(setpriv, ['--pdeathsig', 'SIGKILL', '--', named, ...args], { stdio: ['ignore', fd, fd] }) : spawn(named, args, { stdio: ['ignore', fd, fd] });
    } finally {
      closeSync(fd);
    }
    const deadline = Date.now() + (options.startTimeoutMs ?? 20_000);
    let log = '';
    for (;;) {
      log = await readFile(logFile, 'utf8').catch(() => '');
      if (/ running$/m.test(log)) break;
      if (child.exitCode !== null || child.signalCode !== null || Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    if (/ running$/m.test(log)) return makeInstance({ server: { host: address, port }, key, dir, logFile, child });
    child.kill('SIGKILL');
    lastError = new Error(`harness: named did not start (logs in ${dir}):\n${log.split('\n').slice(-30).join('\n')}`);
    if (!/address in use/i.test(log) || options.port !== undefined) break;
  }
  throw lastError ?? new Error('harness: named did not start');
}

function makeInstance(p: { server: DnsServer; key: BindKey; dir: string; logFile: string; child: ChildProcess }): BindInstance {
  let stopped: Promise<void> | undefined;
  return {
    server: p.server,
    key: p.key,
    dir: p.dir,
    txt: async (fqdn) => {
      const answer = await query(p.server, fqdn, 'TXT', { recursive: false });
      return (answer.answers ?? []).flatMap((rr) =>
        rr.type === 'TXT' ? [(Array.isArray(rr.data) ? rr.data : [rr.data]).map((d) => d.toString()).join('')] : [],
      );
    },
    logs: () => readFile(p.logFile, 'utf8').catch(() => ''),
    stop: () => {
      stopped ??= (async () => {
        if (p.child.exitCode === null && p.child.signalCode === null) {
          const exited = new Promise((r) => p.child.once('exit', r));
          p.child.kill('SIGTERM');
          const timer = setTimeout(() => p.child.kill('SIGKILL'), 3000);
          await exited;
          clearTimeout(timer);
        }
        await rm(p.dir, { recursive: true, force: true });
      })();
      return stopped;
    },
  };
}

/**
 * The `rfc2136` solver entry of a certpilot configuration for this BIND, which is both the
 * nameserver updated and the resolver asked for propagation. The TSIG secret is read from
 * `tsig.secret` beside the configuration ({@link writeTsigSecret}); `extra` overrides any option.
 */
export function rfc2136Solver(bind: BindInstance, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    type: 'rfc2136',
    server: bind.server.host,
    port: bind.server.port,
    keyName: bind.key.name,
    algorithm: bind.key.algorithm,
    secretFile: 'tsig.secret',
    resolvers: [formatDnsServer(bind.server)],
    nameserverPort: bind.server.port,
    propagationTimeoutSeconds: 30,
    ...extra,
  };
}

/** Writes `secret` (by default this BIND's key) as `tsig.secret` in `dir`, 0600, for {@link rfc2136Solver}. */
export async function writeTsigSecret(dir: string, bind: BindInstance, secret: string = bind.key.secret): Promise<void> {
  await writeFile(join(dir, 'tsig.secret'), `${secret}\n`, { mode: 0o600 });
}
