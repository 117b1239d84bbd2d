/**
 * The rule for tests that need a real server binary: on a laptop without it the test skips
 * LOUDLY (a skip, never a pass, and a line on stderr); with `CERTPILOT_REQUIRE_SERVERS=1` (set
 * by `.ci/run`) a missing binary fails the test.
 */
import { spawnSync } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { pebbleBinaries, resolveBinary, type PebbleVersion } from './paths.js';

/** True when a missing server must fail the test instead of skipping it. */
export function serversRequired(): boolean {
  const flag = process.env.CERTPILOT_REQUIRE_SERVERS;
  return flag !== undefined && flag !== '' && flag !== '0' && flag.toLowerCase() !== 'false';
}

/**
 * Checks that a server binary (a path or a name on PATH) exists and is executable. Returns true
 * when the test may go on; false after skipping the test loudly; throws (failing the test) when
 * servers are required.
 */
export function requireServer(t: TestContext, binary: string, hint = 'run `bash scripts/setup.sh`'): boolean {
  if (resolveBinary(binary) !== undefined) return true;
  const message = `missing server binary ${binary} (${hint})`;
  if (serversRequired()) {
    throw new Error(`${message}; CERTPILOT_REQUIRE_SERVERS is set, so this is a failure`);
  }
  console.error(`\n!!! SKIPPED ${t.name}: ${message}\n`);
  t.skip(message);
  return false;
}

/** {@link requireServer} for both binaries of a Pebble version (the ACME server and its challtestsrv). */
export function requirePebble(t: TestContext, version: PebbleVersion = '2.4'): boolean {
  const bins = pebbleBinaries(version);
  const hint =
    version === '2.4'
      ? 'Debian package `pebble`; run `bash scripts/setup.sh`'
      : 'Pebble 2.10 from Debian unstable, unpacked by `bash scripts/setup.sh`';
  return requireServer(t, bins.pebble, hint) && requireServer(t, bins.challtestsrv, hint);
}

/**
 * For tests that need root (e.g. buildah with vfs storage and chroot isolation): true when the
 * process runs as root; otherwise skips loudly, or fails when servers are required.
 */
export function requireRoot(t: TestContext, why: string): boolean {
  if (process.geteuid?.() === 0) return true;
  const message = `not root: ${why}`;
  if (serversRequired()) throw new Error(`${message}; CERTPILOT_REQUIRE_SERVERS is set, so this is a failure`);
  console.error(`\n!!! SKIPPED ${t.name}: ${message}\n`);
  t.skip(message);
  return false;
}

/**
 * A small tmpfs (`sizeKiB`) mounted on a fresh directory under `parent`, unmounted after the test:
 * a volume that fills up for the full-disk tests. Needs root (skips loudly, or fails under
 * CERTPILOT_REQUIRE_SERVERS); undefined when the test was skipped.
 */
export async function smallTmpfs(t: TestContext, parent: string, sizeKiB = 256): Promise<string | undefined> {
  if (!requireRoot(t, 'the full-disk test mounts a tmpfs')) return undefined;
  const mountPoint = join(parent, 'small');
  await mkdir(mountPoint);
  const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeKiB}k,mode=0700`, 'tmpfs', mountPoint]);
  if (mounted.status !== 0) throw new Error(`mount tmpfs on ${mountPoint}: ${mounted.stderr.toString()}`);
  t.after(() => void spawnSync('umount', ['-l', mountPoint]));
  return mountPoint;
}
