/**
 * certpilot's container image as the tests use it: `scripts/image.sh` (buildah, vfs storage,
 * chroot isolation, a base made locally with mmdebstrap; DESIGN.md §5).
 *
 * One build per test run, shared by every test file that needs the image (image.test.ts,
 * kubernetes-cronjob.test.ts): `image.sh build` tags the image by a hash of its build context and
 * the base (`localhost/certpilot:ctx-HASH`) and holds a lock on the shared storage while it builds,
 * so files running in parallel (and other checkouts) wait for the one build and then find its tag;
 * an unchanged context is not built again. Tests name the image by that tag, never by the moving
 * `localhost/certpilot:dev`.
 */
import { join } from 'node:path';
import { collectProcess, repoRoot, type CliResult } from './certpilot.js';

/** scripts/image.sh. */
export const imageScript: string = join(repoRoot, 'scripts', 'image.sh');

/** What a command printed and how it ended. */
export type ImageRun = CliResult;

/** `bash scripts/image.sh ARGS` with the image tag in CERTPILOT_IMAGE. */
export function imageCommand(args: readonly string[], tag?: string): Promise<ImageRun> {
  return collectProcess('bash', [imageScript, ...args], { cwd: repoRoot, env: { ...process.env, ...(tag ? { CERTPILOT_IMAGE: tag } : {}) } });
}

let built: Promise<ImageRun> | undefined;

/**
 * `image.sh build`, once per process: the image's tag (`localhost/certpilot:ctx-HASH`) and the
 * build's output. Throws with the build's output when it fails.
 */
export async function buildImage(): Promise<{ tag: string; run: ImageRun }> {
  built ??= imageCommand(['build']);
  const run = await built;
  if (run.code !== 0) throw new Error(`scripts/image.sh build failed (${run.code}):\n${run.stderr.slice(-4000)}`);
  return { tag: run.stdout.trim().split('\n').pop() ?? '', run };
}
