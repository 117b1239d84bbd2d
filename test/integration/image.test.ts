// The container image as CI builds it (scripts/image.sh: buildah, vfs storage, chroot isolation,
// a base made locally with mmdebstrap, DESIGN.md §5), run as users run it: as user 65532 with the
// root read-only and the state on a mounted volume. The build is reused while the build context
// (Dockerfile, .dockerignore, package files, src/) and the base are unchanged, and shared with
// kubernetes-cronjob.test.ts, whose Jobs run in this image (test/harness/container-image.ts).
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { chmod, chown, mkdir, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { repoRoot, tempDir, testCaFile } from '../harness/certpilot.js';
import { buildImage, imageCommand, type ImageRun } from '../harness/container-image.js';
import { startPebble } from '../harness/pebble.js';
import { POD_CONTAINER_PREFIX } from '../harness/pod-runner.js';
import { requirePebble, requireRoot, requireServer } from '../harness/servers.js';

const USER = '65532:65532';

type Run = ImageRun;
const image = imageCommand;

/** Runs a command in a new container of `tag`, as user 65532, the root read-only, with `volumes`. */
function inImage(tag: string, volumes: string[], command: string[]): Promise<Run> {
  return image(['run', '--read-only', '--user', USER, ...volumes.flatMap((v) => ['--volume', v]), '--', ...command], tag);
}

/** The ids of buildah containers made from `tag`, but the CronJob test's pod containers (kept while it runs). */
async function containersOf(tag: string): Promise<string[]> {
  const listed = await image(['buildah', 'containers', '--json']);
  assert.equal(listed.code, 0, listed.stderr);
  const all = (JSON.parse(listed.stdout || 'null') ?? []) as { id: string; imagename: string; containername: string }[];
  return all.filter((c) => c.imagename === tag && !c.containername.startsWith(POD_CONTAINER_PREFIX)).map((c) => c.id);
}

test('the container image: built by buildah, runs as 65532 with a read-only root, issues from Pebble', { timeout: 900_000 }, async (t) => {
  if (!requireServer(t, 'buildah', 'Debian package buildah; run `bash scripts/setup.sh`')) return;
  if (!requireServer(t, 'mmdebstrap', 'Debian package mmdebstrap; run `bash scripts/setup.sh`')) return;
  if (!requireRoot(t, 'buildah with vfs storage and chroot isolation needs root here')) return;

  // The one build of this test run (test/harness/container-image.ts), shared with the CronJob test.
  const { tag, run: built } = await buildImage();
  assert.match(tag, /^localhost\/certpilot:ctx-[0-9a-f]{16}$/, built.stdout);
  const version = (JSON.parse(await readFile(join(repoRoot, 'package.json'), 'utf8')) as { version: string }).version;
  const before = await containersOf(tag);
  // image.sh run removes its container however the command ends; should the test itself be cut
  // short (a timeout kills the script before its trap), nothing it made is left either.
  t.after(async () => {
    for (const id of (await containersOf(tag)).filter((c) => !before.includes(c))) await image(['buildah', 'rm', id]);
  });

  await t.test('the image says how it runs: user 65532, ENTRYPOINT certpilot, OCI labels', async () => {
    const inspected = await image(['buildah', 'inspect', '--type', 'image', tag]);
    assert.equal(inspected.code, 0, inspected.stderr);
    const config = (JSON.parse(inspected.stdout) as { OCIv1: { config: { User: string; Entrypoint: string[]; WorkingDir: string; Labels: Record<string, string> } } }).OCIv1.config;
    assert.equal(config.User, USER);
    assert.deepEqual(config.Entrypoint, ['certpilot']);
    assert.equal(config.WorkingDir, '/etc/certpilot');
    assert.equal(config.Labels['org.opencontainers.image.title'], 'certpilot');
    assert.equal(config.Labels['org.opencontainers.image.version'], version);
    assert.equal(config.Labels['org.opencontainers.image.licenses'], 'Apache-2.0');
    assert.match(config.Labels['org.opencontainers.image.revision'] ?? '', /^[0-9a-f]{40}$|^unknown$/);
  });

  await t.test('`certpilot --version` runs as 65532 with the root read-only', async () => {
    const dir = await tempDir('certpilot-image-');
    const run = await inImage(tag, [`${dir}:/var/lib/certpilot`], ['certpilot', '--version']);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout.trim(), version);
  });

  await t.test('the two writable directories are 65532\'s, so an empty named volume mounted there is too', async () => {
    const run = await inImage(tag, [], ['stat', '-c', '%u:%g %a %n', '/var/lib/certpilot', '/certs', '/etc/certpilot', '/app']);
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(run.stdout.trim().split('\n'), ['65532:65532 700 /var/lib/certpilot', '65532:65532 755 /certs', '0:0 755 /etc/certpilot', '0:0 755 /app']);
  });

  await t.test('only the mounted volume is writable: / , HOME, the working directory and /tmp are not', async () => {
    const state = await tempDir('certpilot-image-');
    await chown(state, 65532, 65532);
    const probe = join(await tempDir('certpilot-image-'), 'probe.cjs');
    // Errno codes tell a read-only mount (EROFS) from a permission (EACCES): /tmp is 1777, so a
    // write there can only fail because its mount is read-only.
    await writeFile(
      probe,
      [
        "const fs = require('node:fs');",
        "const where = ['/tmp', '/var/tmp', process.cwd(), process.env.HOME || '/', '/app', '/usr/local/bin', '/var/lib/certpilot'];",
        "const result = { uid: process.getuid(), gid: process.getgid(), cwd: process.cwd(), writes: {} };",
        "for (const d of where) { try { fs.writeFileSync(d + '/probe', 'x'); result.writes[d] = 'ok'; } catch (e) { result.writes[d] = e.code; } }",
        'console.log(JSON.stringify(result));',
        '',
      ].join('\n'),
    );
    const run = await inImage(tag, [`${state}:/var/lib/certpilot`, `${probe}:/probe.cjs:ro`], ['node', '/probe.cjs']);
    assert.equal(run.code, 0, run.stderr);
    const result = JSON.parse(run.stdout) as { uid: number; gid: number; cwd: string; writes: Record<string, string> };
    assert.equal(result.uid, 65532);
    assert.equal(result.gid, 65532);
    assert.equal(result.cwd, '/etc/certpilot');
    assert.deepEqual(result.writes, {
      '/tmp': 'EROFS',
      '/var/tmp': 'EROFS',
      '/etc/certpilot': 'EROFS',
      '/': 'EACCES', // HOME: no passwd entry for 65532; the root directory is root's (0755)
      '/app': 'EROFS',
      '/usr/local/bin': 'EROFS',
      '/var/lib/certpilot': 'ok',
    });
    assert.equal((await stat(join(state, 'probe'))).uid, 65532);
  });

  await t.test('issues a certificate from Pebble with the state on a mounted volume, and a second container finds it', async (t) => {
    if (!requirePebble(t, '2.4')) return;
    // Pebble's own defaults otherwise (5% nonce rejection): only the validation sleep is off.
    const pebble = await startPebble({ version: '2.4', noSleep: true });
    t.after(() => pebble.stop());
    const dir = await tempDir('certpilot-image-');
    const config = join(dir, 'config');
    const state = join(dir, 'state');
    await mkdir(config);
    await mkdir(state);
    await chown(state, 65532, 65532);
    await chmod(state, 0o700);
    await writeFile(join(config, 'pebble-ca.pem'), await readFile(testCaFile));
    // No stateDir: the default /var/lib/certpilot is the volume. No --config: the working
    // directory /etc/certpilot holds certpilot.yaml.
    await writeFile(
      join(config, 'certpilot.yaml'),
      [
        'acme:',
        `  directoryUrl: ${JSON.stringify(pebble.directoryUrl)}`,
        '  caBundle: /etc/certpilot/pebble-ca.pem',
        '  email: test@example.com',
        '  termsOfServiceAgreed: true',
        `solvers: ${JSON.stringify({ default: { type: 'standalone', port: pebble.httpPort, host: '127.0.0.1' } })}`,
        'certificates:',
        '  - name: img',
        '    domains: ["img.image.test"]',
        '',
      ].join('\n'),
    );
    const volumes = [`${config}:/etc/certpilot:ro`, `${state}:/var/lib/certpilot`];

    const issued = await inImage(tag, volumes, ['certpilot', 'issue']);
    assert.equal(issued.code, 0, `${issued.stdout}\n${issued.stderr}\n${await pebble.logs()}`);
    const certFile = join(state, 'live', 'img', 'cert.pem');
    const cert = new X509Certificate(await readFile(certFile));
    assert.equal(cert.subjectAltName, 'DNS:img.image.test');
    const [intermediate] = await pebble.intermediateCertificates();
    assert.ok(intermediate && cert.verify(new X509Certificate(intermediate).publicKey), 'signed by this Pebble');
    for (const entry of await readdir(state)) assert.equal((await stat(join(state, entry))).uid, 65532, `${entry} is owned by the image's user`);

    // A new container (as each CronJob run or `docker run` is) reads the state from the volume.
    const renewed = await inImage(tag, volumes, ['certpilot', 'renew']);
    assert.equal(renewed.code, 0, `${renewed.stdout}\n${renewed.stderr}`);
    assert.equal(new X509Certificate(await readFile(certFile)).serialNumber, cert.serialNumber, 'not due: the same certificate');
  });

  await t.test('every container is removed after its run', async () => {
    assert.deepEqual(await containersOf(tag), before);
  });

  await t.test('a second build with nothing changed reuses the image', async () => {
    const again = await image(['build']);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(again.stdout.trim().split('\n').pop(), tag);
    assert.match(again.stderr, /image current/);
  });
});
