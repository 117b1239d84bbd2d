/**
 * Where `scripts/setup.sh` leaves what the integration tests need: the test PKI for Pebble's own
 * listener and the side-loaded Pebble 2.10. The defaults mirror setup.sh; keep the two in step.
 */
import { accessSync, constants, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

/** Cache root: the test PKI (`pebble-tls/`) and the side apt configuration live here. */
export const testCacheDir: string =
  process.env.CERTPILOT_TEST_CACHE ??
  (isRoot
    ? '/var/cache/certpilot-test'
    : join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'certpilot-test'));

/** Where downloaded servers are unpacked (`pebble-2.10/usr/bin/pebble`). */
export const testOptDir: string =
  process.env.CERTPILOT_TEST_OPT ?? (isRoot ? '/opt/certpilot-test' : join(testCacheDir, 'opt'));

/** The test PKI folder: `ca.pem`, `ca-key.pem`, and a leaf for localhost/127.0.0.1/::1 (`cert.pem`, `key.pem`). */
export const testPkiDir: string = join(testCacheDir, 'pebble-tls');

/** The Pebble versions the harness can start. */
export type PebbleVersion = '2.4' | '2.10';

/** Paths or PATH names of one Pebble version's two binaries. */
export interface PebbleBinaries {
  /** The ACME server. */
  pebble: string;
  /** Its companion mock DNS (and challenge) server. */
  challtestsrv: string;
}

/** The binaries of a Pebble version: 2.4 is Debian bookworm's package (on PATH), 2.10 is side-loaded. */
export function pebbleBinaries(version: PebbleVersion): PebbleBinaries {
  if (version === '2.4') return { pebble: 'pebble', challtestsrv: 'pebble-challtestsrv' };
  const bin = join(testOptDir, 'pebble-2.10', 'usr', 'bin');
  return { pebble: join(bin, 'pebble'), challtestsrv: join(bin, 'pebble-challtestsrv') };
}

/** Resolves a binary path or a name on PATH to an executable path, or undefined when there is none. */
export function resolveBinary(binary: string): string | undefined {
  const candidates = binary.includes('/')
    ? [binary]
    : (process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin').split(delimiter).filter(Boolean).map((d) => join(d, binary));
  for (const candidate of candidates) {
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here; try the next PATH entry
    }
  }
  return undefined;
}

/** The test PKI as PEM text plus its file paths. */
export interface TestPki {
  /** The folder holding the files. */
  dir: string;
  /** The test CA certificate (trust this). */
  caPem: string;
  /** Leaf certificate for localhost, 127.0.0.1 and ::1. */
  certPem: string;
  /** The leaf's private key. */
  keyPem: string;
  /** Paths of the files above. */
  caFile: string;
  certFile: string;
  keyFile: string;
}

/** Reads the test PKI made by `scripts/setup.sh`; throws with a hint when it is missing. */
export function readTestPki(): TestPki {
  const caFile = join(testPkiDir, 'ca.pem');
  const certFile = join(testPkiDir, 'cert.pem');
  const keyFile = join(testPkiDir, 'key.pem');
  try {
    return {
      dir: testPkiDir,
      caPem: readFileSync(caFile, 'utf8'),
      certPem: readFileSync(certFile, 'utf8'),
      keyPem: readFileSync(keyFile, 'utf8'),
      caFile,
      certFile,
      keyFile,
    };
  } catch (cause) {
    throw new Error(`harness: test PKI missing in ${testPkiDir}: run \`bash scripts/setup.sh\` first`, { cause });
  }
}
