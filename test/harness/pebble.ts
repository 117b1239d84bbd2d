/**
 * Starts a real Pebble ACME server for one test file: its own config, its own free loopback ports
 * and its own `pebble-challtestsrv` as the DNS server Pebble resolves through (every name answers
 * 127.0.0.1; TXT records are set through its management API). Health-checked before it is handed
 * out; killed on {@link PebbleInstance.stop}, and in any case when the test process exits.
 *
 * Defaults are Pebble's own, on purpose: 2.4 runs `-strict`, rejects 5% of good nonces, sleeps
 * 0–15 s before each validation and reuses valid authorizations half the time. Tests that need
 * speed or determinism opt out per instance (`noSleep`, `nonceRejectPercent: 0`, `authzReuse`).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, rmSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AcmeClient } from '../../src/acme/acme-client.js';
import { generatePrivateKey } from '../../src/acme/csr.js';
import { fetchBuffered, type FetchResult } from './http.js';
import { pebbleBinaries, readTestPki, resolveBinary, type PebbleVersion } from './paths.js';
import { freePort } from './ports.js';

/** One ACME profile of Pebble 2.10 (`profiles` config key). */
export interface PebbleProfile {
  /** Shown in the directory's `meta.profiles`. */
  description: string;
  /** Certificate lifetime in seconds. */
  validityPeriod: number;
}

/** Options for {@link startPebble}; every one maps to a Pebble config key, flag or environment variable. */
export interface PebbleOptions {
  /** Which Pebble: Debian bookworm's 2.4 (default) or the side-loaded 2.10 (ARI, profiles, retryAfter). */
  version?: PebbleVersion;
  /** `-strict` (default true). */
  strict?: boolean;
  /** `PEBBLE_VA_NOSLEEP=1`: validate at once instead of after a random 0–15 s sleep. */
  noSleep?: boolean;
  /** `PEBBLE_VA_SLEEPTIME`: the longest validation sleep in seconds (when `noSleep` is not set). */
  vaSleepTime?: number;
  /** `PEBBLE_VA_ALWAYS_VALID=1`: every challenge validates without looking. */
  alwaysValid?: boolean;
  /** `PEBBLE_WFE_NONCEREJECT`: percentage of good nonces rejected as badNonce (undefined = Pebble's 5). */
  nonceRejectPercent?: number;
  /** `PEBBLE_AUTHZREUSE`: percentage of new orders that reuse valid authorizations (undefined = Pebble's 50; 0 still reuses 1 in 100). */
  authzReuse?: number;
  /** External account binding: kid → base64url HMAC key; sets `externalAccountBindingRequired`. */
  eab?: Record<string, string>;
  /** `PEBBLE_ALTERNATE_ROOTS`: number of extra root chains. */
  alternateRoots?: number;
  /** `PEBBLE_CHAIN_LENGTH`: intermediates between leaf and root (Pebble's default 1). */
  chainLength?: number;
  /** `certificateValidityPeriod` in seconds (Pebble's default is 5 years). */
  certificateValidityPeriod?: number;
  /** 2.10 only: `profiles` (replaces Pebble's built-in set; include `default` if orders without a profile matter). */
  profiles?: Record<string, PebbleProfile>;
  /** 2.10 only: `retryAfter` seconds Pebble advertises for pending authorizations and orders. */
  retryAfter?: { authz: number; order: number };
  /** 2.10 only: `keyAlgorithm` of Pebble's issuing hierarchy (`ecdsa` or `rsa`). */
  keyAlgorithm?: 'ecdsa' | 'rsa';
  /**
   * `caaIdentities`: the directory's `meta.caaIdentities`, and in 2.10 the `issuer-domain-names`
   * of every dns-persist-01 challenge (the issuer names a `_validation-persist` record may name).
   */
  caaIdentities?: string[];
  /** `domainBlocklist`: names Pebble refuses to issue for. */
  domainBlocklist?: string[];
  /** Longest wait for the servers to answer, in milliseconds (default 20 000). */
  startTimeoutMs?: number;
  /**
   * `-dnsserver`: the DNS server Pebble resolves through, `host:port` (e.g. a harness BIND).
   * Default: this instance's own challtestsrv (which still runs, for `setTxt`).
   */
  dnsServer?: string;
}

/** A running Pebble plus its challtestsrv, all on loopback. */
export interface PebbleInstance {
  /** Which Pebble this is. */
  readonly version: PebbleVersion;
  /** The ACME directory, e.g. `https://127.0.0.1:40123/dir`. */
  readonly directoryUrl: string;
  /** Pebble's management interface (roots, intermediates, cert status). */
  readonly managementUrl: string;
  /** PEMs to trust for Pebble's own HTTPS listener (the test CA; not Pebble's issuing roots). */
  readonly caCertificates: string[];
  /** Port Pebble connects to on 127.0.0.1 for http-01 validation (the test's responder listens here). */
  readonly httpPort: number;
  /** Port Pebble connects to for tls-alpn-01 validation. */
  readonly tlsPort: number;
  /** challtestsrv's DNS port on 127.0.0.1 (UDP and TCP). */
  readonly dnsPort: number;
  /** challtestsrv's management API, e.g. `http://127.0.0.1:40125`. */
  readonly challtestsrvUrl: string;
  /** Folder with `pebble.json` and the two logs (removed by stop()). */
  readonly dir: string;
  /** Pebble's log file (stdout and stderr). */
  readonly logFile: string;
  /** PEMs of Pebble's issuing roots: index 0 then each alternate root (they change every start). */
  rootCertificates(): Promise<string[]>;
  /** PEMs of the intermediates that sign leaves, in the same order as {@link rootCertificates}. */
  intermediateCertificates(): Promise<string[]>;
  /** Sets the TXT record of `host` (a trailing dot is added) in challtestsrv, replacing earlier values. */
  setTxt(host: string, value: string): Promise<void>;
  /** Removes every TXT record of `host` from challtestsrv. */
  clearTxt(host: string): Promise<void>;
  /** Makes `host` resolve to the IPv4 `address` (e.g. 127.0.0.2) instead of 127.0.0.1, so Pebble validates it there. */
  setA(host: string, address: string): Promise<void>;
  /** Pebble's and challtestsrv's logs so far (attach them to a failing test). */
  logs(): Promise<string>;
  /**
   * Stops Pebble and starts it again with the same config and ports, as a CA reset looks to a
   * client: Pebble keeps accounts, orders and certificates in memory, so it forgets them all (its
   * issuing roots change too). challtestsrv keeps running.
   */
  restart(): Promise<void>;
  /** Kills both servers and removes the folder; idempotent. */
  stop(): Promise<void>;
}

// Children still running, killed when the test process goes away however it goes.
const running = new Set<ChildProcess>();
// Folders of instances not yet stopped, removed at exit too.
const liveDirs = new Set<string>();
let exitHooked = false;

function killAllNow(): void {
  for (const child of running) child.kill('SIGKILL');
  for (const dir of liveDirs) rmSync(dir, { recursive: true, force: true });
}

function hookProcessExit(): void {
  if (exitHooked) return;
  exitHooked = true;
  process.on('exit', killAllNow);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    // Only when nobody else handles the signal: then re-raise it so the default (exit) still happens.
    if (process.listenerCount(signal) > 0) continue;
    process.once(signal, () => {
      killAllNow();
      process.kill(process.pid, signal);
    });
  }
}

// setpriv --pdeathsig has the kernel kill the server even when this process dies by SIGKILL.
const setpriv = resolveBinary('setpriv');

function spawnServer(binary: string, args: string[], env: NodeJS.ProcessEnv, logFile: string): ChildProcess {
  const fd = openSync(logFile, 'a');
  try {
    const [command, argv] =
      setpriv !== undefined ? [setpriv, ['--pdeathsig', 'SIGKILL', '--', binary, ...args]] : [binary, args];
    const child = spawn(command, argv, { env, stdio: ['ignore', fd, fd] });
    running.add(child);
    child.once('exit', () => running.delete(child));
    child.once('error', () => running.delete(child));
    return child;
  } finally {
    closeSync(fd);
  }
}

async function killServer(child: ChildProcess | undefined): Promise<void> {
  if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
  await exited;
  clearTimeout(timer);
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function readLog(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch {
    return '';
  }
}

/** Resolves once `probe` resolves; rejects when the child exits or the deadline passes (with the last probe error). */
async function waitUntil(
  what: string,
  child: ChildProcess,
  deadline: number,
  probe: () => Promise<void>,
): Promise<void> {
  let lastError: unknown;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`${what} exited (code ${child.exitCode ?? child.signalCode}) before answering`);
    }
    try {
      await probe();
      return;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      const why = lastError instanceof Error ? `: ${lastError.message}` : '';
      throw new Error(`${what} did not answer in time${why}`);
    }
    await delay(100);
  }
}

function expectOk(what: string, res: FetchResult): void {
  if (res.status !== 200) throw new Error(`${what}: HTTP ${res.status} ${res.text.slice(0, 200)}`);
}

function pebbleEnv(options: PebbleOptions): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  // Nothing PEBBLE_* leaks in from the caller's environment: each instance is exactly its options.
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith('PEBBLE_')) env[key] = value;
  if (options.noSleep === true) env.PEBBLE_VA_NOSLEEP = '1';
  if (options.vaSleepTime !== undefined) env.PEBBLE_VA_SLEEPTIME = String(options.vaSleepTime);
  if (options.alwaysValid === true) env.PEBBLE_VA_ALWAYS_VALID = '1';
  if (options.nonceRejectPercent !== undefined) env.PEBBLE_WFE_NONCEREJECT = String(options.nonceRejectPercent);
  if (options.authzReuse !== undefined) env.PEBBLE_AUTHZREUSE = String(options.authzReuse);
  if (options.alternateRoots !== undefined) env.PEBBLE_ALTERNATE_ROOTS = String(options.alternateRoots);
  if (options.chainLength !== undefined) env.PEBBLE_CHAIN_LENGTH = String(options.chainLength);
  return env;
}

function fqdn(host: string): string {
  return host.endsWith('.') ? host : `${host}.`;
}

interface Ports {
  listen: number;
  management: number;
  http: number;
  tls: number;
  dns: number;
  challtestsrvManagement: number;
}

/** Starts Pebble (and its challtestsrv) with the given options and waits until its directory answers. */
/**
 * Whether Pebble can find the certificate an order `replaces` (RFC 9773 §5). Pebble indexes issued
 * certificates by the hex of the serial's minimal unsigned bytes, but the certID carries the DER
 * INTEGER content, which starts with 00 when the first byte is 0x80 or more (a 7-byte serial with
 * its top bit set: 1 certificate in 256). Pebble then answers serverInternal "could not find an
 * order" and certpilot orders again without `replaces`, as it does for any refusal.
 */
export function pebbleFindsReplaced(certId: string): boolean {
  return Buffer.from(certId.split('.')[1] ?? '', 'base64url')[0] !== 0;
}

export async function startPebble(options: PebbleOptions = {}): Promise<PebbleInstance> {
  const version = options.version ?? '2.4';
  if (version === '2.4' && (options.profiles !== undefined || options.retryAfter !== undefined || options.keyAlgorithm !== undefined)) {
    throw new Error('harness: profiles, retryAfter and keyAlgorithm need Pebble 2.10 (version: "2.10")');
  }
  const bins = pebbleBinaries(version);
  const pebbleBin = resolveBinary(bins.pebble);
  const challtestsrvBin = resolveBinary(bins.challtestsrv);
  if (pebbleBin === undefined || challtestsrvBin === undefined) {
    throw new Error(
      `harness: Pebble ${version} not installed (${bins.pebble}, ${bins.challtestsrv}): run \`bash scripts/setup.sh\`; ` +
        'guard the test with requirePebble(t, version)',
    );
  }
  const pki = readTestPki();
  hookProcessExit();
  const dir = await mkdtemp(join(tmpdir(), `certpilot-pebble-${version}-`));
  const logFile = join(dir, 'pebble.log');
  const challtestsrvLog = join(dir, 'challtestsrv.log');
  const deadlineMs = options.startTimeoutMs ?? 20_000;

  // A free port can be taken between our probe and the server's bind: retry with fresh ports.
  let lastFailure: Error | undefined;
  for (let attempt = 1; attempt <= 3; attempt++) {
    const ports: Ports = {
      listen: await freePort(),
      management: await freePort(),
      http: await freePort(),
      tls: await freePort(),
      dns: await freePort({ udp: true }),
      challtestsrvManagement: await freePort(),
    };
    let challtestsrv: ChildProcess | undefined;
    let pebble: ChildProcess | undefined;
    try {
      const challtestsrvUrl = `http://127.0.0.1:${ports.challtestsrvManagement}`;
      // 2.10's challtestsrv renamed -dns01 to -dnsserver and added a DoH listener we switch off.
      const dnsFlags =
        version === '2.4' ? ['-dns01', `127.0.0.1:${ports.dns}`] : ['-dnsserver', `127.0.0.1:${ports.dns}`, '-doh', ''];
      challtestsrv = spawnServer(
        challtestsrvBin,
        ['-defaultIPv4', '127.0.0.1', '-defaultIPv6', '', ...dnsFlags, '-http01', '', '-https01', '', '-tlsalpn01', '',
          '-management', `127.0.0.1:${ports.challtestsrvManagement}`],
        process.env,
        challtestsrvLog,
      );
      const started = Date.now();
      await waitUntil('pebble-challtestsrv', challtestsrv, started + deadlineMs, async () => {
        const res = await fetchBuffered(`${challtestsrvUrl}/clear-txt`, {
          method: 'POST',
          body: JSON.stringify({ host: 'harness-probe.invalid.' }),
          timeoutMs: 1000,
        });
        expectOk('POST /clear-txt', res);
      });

      const config = {
        pebble: {
          listenAddress: `127.0.0.1:${ports.listen}`,
          managementListenAddress: `127.0.0.1:${ports.management}`,
          certificate: pki.certFile,
          privateKey: pki.keyFile,
          httpPort: ports.http,
          tlsPort: ports.tls,
          ocspResponderURL: '',
          externalAccountBindingRequired: options.eab !== undefined,
          ...(options.eab !== undefined ? { externalAccountMACKeys: options.eab } : {}),
          ...(options.domainBlocklist !== undefined ? { domainBlocklist: options.domainBlocklist } : {}),
          ...(options.caaIdentities !== undefined ? { caaIdentities: options.caaIdentities } : {}),
          ...(options.certificateValidityPeriod !== undefined
            ? { certificateValidityPeriod: options.certificateValidityPeriod }
            : {}),
          ...(options.retryAfter !== undefined ? { retryAfter: options.retryAfter } : {}),
          ...(options.profiles !== undefined ? { profiles: options.profiles } : {}),
          ...(options.keyAlgorithm !== undefined ? { keyAlgorithm: options.keyAlgorithm } : {}),
        },
      };
      const configFile = join(dir, 'pebble.json');
      await writeFile(configFile, `${JSON.stringify(config, null, 2)}\n`);
      const args = ['-config', configFile, '-dnsserver', options.dnsServer ?? `127.0.0.1:${ports.dns}`];
      if (options.strict ?? true) args.push('-strict');
      pebble = spawnServer(pebbleBin, args, pebbleEnv(options), logFile);

      const directoryUrl = `https://127.0.0.1:${ports.listen}/dir`;
      const managementUrl = `https://127.0.0.1:${ports.management}`;
      const ca = [pki.caPem];
      const answering = (child: ChildProcess, deadline: number): Promise<void> =>
        waitUntil('pebble', child, deadline, async () => {
          expectOk('GET /dir', await fetchBuffered(directoryUrl, { ca, timeoutMs: 1000 }));
          expectOk('GET management /roots/0', await fetchBuffered(`${managementUrl}/roots/0`, { ca, timeoutMs: 1000 }));
        });
      await answering(pebble, started + deadlineMs);
      liveDirs.add(dir);
      const respawn = async (): Promise<ChildProcess> => {
        const child = spawnServer(pebbleBin, args, pebbleEnv(options), logFile);
        await answering(child, Date.now() + deadlineMs);
        return child;
      };
      return makeInstance({ version, dir, logFile, challtestsrvLog, ports, directoryUrl, managementUrl, challtestsrvUrl, ca, options, pebble, challtestsrv, respawn });
    } catch (error) {
      await killServer(pebble);
      await killServer(challtestsrv);
      const logs = `${await readLog(challtestsrvLog)}${await readLog(logFile)}`;
      lastFailure = error instanceof Error ? error : new Error(String(error));
      if (/address already in use/i.test(logs) && attempt < 3) continue;
      throw new Error(
        `harness: Pebble ${version} failed to start: ${lastFailure.message}\n` +
          `logs kept in ${dir} (pebble.log, challtestsrv.log):\n${logs.split('\n').slice(-40).join('\n')}`,
        { cause: lastFailure },
      );
    }
  }
  throw lastFailure ?? new Error('harness: Pebble failed to start');
}

interface InstanceParts {
  version: PebbleVersion;
  dir: string;
  logFile: string;
  challtestsrvLog: string;
  ports: Ports;
  directoryUrl: string;
  managementUrl: string;
  challtestsrvUrl: string;
  ca: string[];
  options: PebbleOptions;
  pebble: ChildProcess;
  challtestsrv: ChildProcess;
  /** Starts Pebble again with the same arguments, once it answers. */
  respawn: () => Promise<ChildProcess>;
}

function makeInstance(p: InstanceParts): PebbleInstance {
  let stopped: Promise<void> | undefined;
  const chainCount = 1 + (p.options.alternateRoots ?? 0);

  async function management(path: string): Promise<string[]> {
    const pems: string[] = [];
    for (let i = 0; i < chainCount; i++) {
      const res = await fetchBuffered(`${p.managementUrl}/${path}/${i}`, { ca: p.ca });
      if (res.status !== 200) throw new Error(`harness: GET ${path}/${i} from Pebble management: HTTP ${res.status}`);
      pems.push(res.text);
    }
    return pems;
  }

  async function challtestsrv(path: string, body: unknown): Promise<void> {
    const res = await fetchBuffered(`${p.challtestsrvUrl}/${path}`, { method: 'POST', body: JSON.stringify(body) });
    if (res.status !== 200) throw new Error(`harness: challtestsrv ${path}: HTTP ${res.status} ${res.text}`);
  }

  return {
    version: p.version,
    directoryUrl: p.directoryUrl,
    managementUrl: p.managementUrl,
    caCertificates: p.ca,
    httpPort: p.ports.http,
    tlsPort: p.ports.tls,
    dnsPort: p.ports.dns,
    challtestsrvUrl: p.challtestsrvUrl,
    dir: p.dir,
    logFile: p.logFile,
    rootCertificates: () => management('roots'),
    intermediateCertificates: () => management('intermediates'),
    setTxt: (host, value) => challtestsrv('set-txt', { host: fqdn(host), value }),
    clearTxt: (host) => challtestsrv('clear-txt', { host: fqdn(host) }),
    setA: (host, address) => challtestsrv('add-a', { host: fqdn(host), addresses: [address] }),
    logs: async () =>
      `--- pebble (${p.logFile})\n${await readLog(p.logFile)}\n--- challtestsrv\n${await readLog(p.challtestsrvLog)}`,
    restart: async () => {
      if (stopped) throw new Error('harness: restart after stop');
      await killServer(p.pebble);
      p.pebble = await p.respawn();
    },
    stop: () => {
      stopped ??= (async () => {
        await Promise.all([killServer(p.pebble), killServer(p.challtestsrv)]);
        liveDirs.delete(p.dir);
        if (existsSync(p.dir)) await rm(p.dir, { recursive: true, force: true });
      })();
      return stopped;
    },
  };
}

/**
 * A client with a new account on `pebble` that pushes `CA told` into `events` each time it answers
 * a challenge, so a test can check what happened before the CA was told. The caller closes it.
 */
export async function accountClientRecordingChallenges(pebble: PebbleInstance, events: string[]): Promise<AcmeClient> {
  const { key } = await generatePrivateKey('ec-p256');
  const client = new AcmeClient({ directoryUrl: pebble.directoryUrl, accountKey: key, caCertificates: pebble.caCertificates });
  await client.createAccount({ termsOfServiceAgreed: true });
  const respond = client.respondToChallenge.bind(client);
  client.respondToChallenge = async (url, options) => {
    events.push('CA told');
    return respond(url, options);
  };
  return client;
}
