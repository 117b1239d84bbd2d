/** Runs the built certpilot CLI (the bundle users get) against a harness Pebble. */
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { tempDir } from '../../src/testing/temp-dir.js';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestContext } from 'node:test';
import { startFaultProxy, type FaultProxy } from './fault-proxy.js';
import { testPkiDir } from './paths.js';
import { startPebble, type PebbleInstance, type PebbleOptions } from './pebble.js';

/** The repository root (tests run from dist/test/harness). */
export const repoRoot: string = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
/** The CLI as installed (`bin` of package.json). */
export const cliPath: string = join(repoRoot, 'dist', 'bundle', 'certpilot.js');
/** PEM file of the test CA that signs Pebble's own HTTPS listener. */
export const testCaFile: string = join(testPkiDir, 'ca.pem');

export { tempDir } from '../../src/testing/temp-dir.js';

/** One certificate entry of a test config. */
export interface TestCertificate {
  name: string;
  domains: string[];
  profile?: string;
  keyType?: string;
  reuseKey?: boolean;
  /** The certificate's default solver (a key of `solvers`). */
  solver?: string;
  /** Per-name solver selectors. */
  solvers?: { names?: string[]; zones?: string[]; solver: string }[];
  /** Deployers, in order. */
  deploy?: string[];
}

/** Writes `certpilot.yaml` into `dir` for a CA at `directoryUrl`; returns its path. */
export async function writeConfig(
  dir: string,
  options: {
    directoryUrl: string;
    httpPort: number;
    certificates: TestCertificate[];
    ari?: boolean;
    preferredChain?: string;
    /** Named solvers besides `default` (standalone on 127.0.0.1:httpPort), or replacing it. */
    solvers?: Record<string, Record<string, unknown>>;
    /** Named deployers. */
    deployers?: Record<string, Record<string, unknown>>;
    /** External account binding: the key ID and the file holding the HMAC key. */
    eab?: { kid: string; hmacKeyFile: string };
    /** `stateStore` (default: the filesystem store in `<dir>/state`). */
    stateStore?: Record<string, unknown>;
    /** `locker` (default: the file locker). */
    locker?: Record<string, unknown>;
    /** `renewal` settings (`lockTtlSeconds`, `concurrency`…). */
    renewal?: Record<string, unknown>;
    /** More `acme` settings (`requestTimeoutSeconds`…), each a JSON value. */
    acme?: Record<string, unknown>;
  },
): Promise<string> {
  const solvers = { default: { type: 'standalone', port: options.httpPort, host: '127.0.0.1' }, ...options.solvers };
  const lines = [
    `stateDir: ${JSON.stringify(join(dir, 'state'))}`,
    ...(options.stateStore ? [`stateStore: ${JSON.stringify(options.stateStore)}`] : []),
    'acme:',
    `  directoryUrl: ${JSON.stringify(options.directoryUrl)}`,
    `  caBundle: ${JSON.stringify(testCaFile)}`,
    '  email: test@example.com',
    '  termsOfServiceAgreed: true',
    ...(options.ari === false ? ['  ari: false'] : []),
    ...(options.preferredChain ? [`  preferredChain: ${JSON.stringify(options.preferredChain)}`] : []),
    ...(options.eab ? [`  eab: ${JSON.stringify(options.eab)}`] : []),
    ...Object.entries(options.acme ?? {}).map(([key, value]) => `  ${key}: ${JSON.stringify(value)}`),
    // JSON is YAML: the nested plug-in options need no YAML writer.
    `solvers: ${JSON.stringify(solvers)}`,
    ...(options.deployers ? [`deployers: ${JSON.stringify(options.deployers)}`] : []),
    ...(options.locker ? [`locker: ${JSON.stringify(options.locker)}`] : []),
    ...(options.renewal ? [`renewal: ${JSON.stringify(options.renewal)}`] : []),
    // An empty list (only one-offs, `issue -d`): `certificates:` alone would be null.
    options.certificates.length === 0 ? 'certificates: []' : 'certificates:',
    ...options.certificates.flatMap((c) => [
      `  - name: ${c.name}`,
      `    domains: ${JSON.stringify(c.domains)}`,
      ...(c.profile ? [`    profile: ${c.profile}`] : []),
      ...(c.keyType ? [`    keyType: ${c.keyType}`] : []),
      ...(c.reuseKey ? ['    reuseKey: true'] : []),
      ...(c.solver ? [`    solver: ${c.solver}`] : []),
      ...(c.solvers ? [`    solvers: ${JSON.stringify(c.solvers)}`] : []),
      ...(c.deploy ? [`    deploy: ${JSON.stringify(c.deploy)}`] : []),
    ]),
    '',
  ];
  const file = join(dir, 'certpilot.yaml');
  await writeFile(file, lines.join('\n'));
  return file;
}

/** The result of one CLI run. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `command argv` with exactly `env` (nothing inherited) and collects its exit code and output. */
export function collectProcess(command: string, argv: readonly string[], options: { env: Record<string, string | undefined>; cwd: string }): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, [...argv], { cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

/** Runs `certpilot <args>` and collects its output; `bin` runs another executable (an installed copy) instead of the built bundle. */
export function runCli(args: readonly string[], options: { env?: Record<string, string>; cwd?: string; bin?: string } = {}): Promise<CliResult> {
  const [command, argv] = options.bin ? [options.bin, [...args]] : [process.execPath, [cliPath, ...args]];
  return collectProcess(command, argv, { cwd: options.cwd ?? repoRoot, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root', ...options.env } });
}

/** A CA for a CLI test: Pebble behind a counting fault proxy, and a config pointing at the proxy. */
export interface CliScenario {
  pebble: PebbleInstance;
  proxy: FaultProxy;
  /** The test's temporary directory; the state is in `state/` below it. */
  dir: string;
  /** The `certpilot.yaml` written for it. */
  config: string;
  stateDir: string;
}

/** Starts a {@link CliScenario}; everything is stopped when the test ends. */
export async function startCliScenario(
  t: TestContext,
  options: { pebble: PebbleOptions; certificates: TestCertificate[] },
): Promise<CliScenario> {
  const pebble = await startPebble(options.pebble);
  t.after(() => pebble.stop());
  const proxy = await startFaultProxy(pebble);
  t.after(() => proxy.stop());
  const dir = await tempDir();
  const config = await writeConfig(dir, { directoryUrl: proxy.directoryUrl, httpPort: pebble.httpPort, certificates: options.certificates });
  return { pebble, proxy, dir, config, stateDir: join(dir, 'state') };
}
