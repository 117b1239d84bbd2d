/**
 * Starts the Route 53 emulator of DESIGN.md §5 for one test file: Debian trixie's python3-moto,
 * unpacked by scripts/setup.sh under `$CERTPILOT_TEST_OPT/moto`, run by the system python
 * (`/usr/bin/python3 -m moto.server`) on 127.0.0.1 and a free port; ready once its API answers.
 * moto reports every change INSYNC at once and accepts deletes of missing records, so the unit
 * tests with recorded fixtures cover those paths.
 */
import { existsSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { fetchBuffered } from './http.js';
import { resolveBinary, testOptDir } from './paths.js';
import { freePort } from './ports.js';
import { startServerProcess } from './server-process.js';
import { serversRequired } from './servers.js';

/** Where setup.sh unpacks python3-moto's modules. */
export const motoPythonPath: string = join(testOptDir, 'moto', 'usr', 'lib', 'python3', 'dist-packages');
/** Debian's python (not a pyenv shim on PATH): the bookworm python3-* packages are its. */
const python = '/usr/bin/python3';

/** True when the emulator can run here; else skips loudly (or fails under CERTPILOT_REQUIRE_SERVERS). */
export function requireMoto(t: TestContext): boolean {
  if (resolveBinary(python) !== undefined && existsSync(join(motoPythonPath, 'moto', 'server.py'))) return true;
  const message = `missing Route 53 emulator (python3-moto in ${motoPythonPath}; run \`bash scripts/setup.sh\`)`;
  if (serversRequired()) throw new Error(`${message}; CERTPILOT_REQUIRE_SERVERS is set, so this is a failure`);
  console.error(`\n!!! SKIPPED ${t.name}: ${message}\n`);
  t.skip(message);
  return false;
}

/** A running emulator. */
export interface MotoInstance {
  /** `http://127.0.0.1:<port>`: the Route 53 endpoint override. */
  readonly endpoint: string;
  logs(): Promise<string>;
  /** Kills it and removes its folder; idempotent. */
  stop(): Promise<void>;
}

/** Starts `python3 -m moto.server` and waits until it answers. */
export async function startMoto(options: { startTimeoutMs?: number } = {}): Promise<MotoInstance> {
  const dir = await mkdtemp(join(tmpdir(), 'certpilot-moto-'));
  const logFile = join(dir, 'moto.log');
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  const args = ['-m', 'moto.server', '-H', '127.0.0.1', '-p', String(port)];
  const env = { PATH: '/usr/bin:/bin', HOME: dir, PYTHONPATH: motoPythonPath, PYTHONDONTWRITEBYTECODE: '1' };
  const proc = await startServerProcess(python, args, {
    label: 'moto',
    dir,
    logFile,
    env,
    timeoutMs: options.startTimeoutMs ?? 30_000,
    intervalMs: 200,
    ready: async () => (await fetchBuffered(`${endpoint}/moto-api/`, { timeoutMs: 1000 })).status === 200,
  });
  return { endpoint, logs: proc.logs, stop: proc.stop };
}
