// The npm package as users get it: packed from a copy of the sources (so `prepack` must build it
// from nothing), installed globally into an empty prefix without any registry (the package has no
// runtime dependencies: the bundle inlines them), run as `certpilot` and through `npx`, imported as
// a library through its `exports`, and used for one issuance against Pebble 2.4.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { cp, mkdir, readFile, readdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { repoRoot, runCli, tempDir, writeConfig } from '../harness/certpilot.js';
import { startPebble } from '../harness/pebble.js';
import { requirePebble } from '../harness/servers.js';

const run = promisify(execFile);

/** npm with every piece of its state (cache, global prefix) inside `dir`, and no registry. */
function npm(dir: string, args: string[], cwd: string): Promise<{ stdout: string; stderr: string }> {
  return run('npm', [...args, '--offline', '--no-audit', '--no-fund', '--cache', join(dir, 'npm-cache'), '--userconfig', join(dir, 'npmrc')], {
    cwd,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir },
    maxBuffer: 16 * 1024 * 1024,
  });
}

test('npm pack → npm install -g → certpilot runs, npx runs, the library imports, and it issues', { timeout: 240_000 }, async (t) => {
  const dir = await tempDir('certpilot-package-');
  await writeFile(join(dir, 'npmrc'), '');

  // A copy of what a clean checkout has (sources, scripts, configs), with the project's own
  // node_modules for the build tools; nothing built.
  const src = join(dir, 'src-copy');
  await mkdir(src);
  for (const entry of ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.lib.json', 'README.md', 'src', 'scripts', 'docs']) {
    await cp(join(repoRoot, entry), join(src, entry), { recursive: true });
  }
  await symlink(join(repoRoot, 'node_modules'), join(src, 'node_modules'));
  const packed = await npm(dir, ['pack', '--json', '--pack-destination', dir], src);
  const [info] = JSON.parse(packed.stdout) as { filename: string; files: { path: string }[] }[];
  assert.ok(info);
  const tarball = join(dir, info.filename);

  await t.test('the tarball holds the whole bundle and no compiled tests', async () => {
    const inTarball = new Set(info.files.map((f) => f.path));
    const built = (await readdir(join(src, 'dist', 'bundle'), { recursive: true })).filter((f) => f.endsWith('.js') || f.endsWith('.mjs') || f === 'package.json');
    assert.ok(built.includes('package.json'), 'the bundle\'s package.json (it makes the launcher CommonJS) is built');
    assert.ok(built.some((f) => f.startsWith('chunk-')), 'the bundle is split into chunks');
    for (const file of built) assert.ok(inTarball.has(`dist/bundle/${file}`), `dist/bundle/${file} is in the package`);
    for (const file of ['dist/types/index.d.ts', 'dist/types/responder.d.ts', 'package.json', 'README.md']) assert.ok(inTarball.has(file), file);
    assert.equal([...inTarball].some((f) => f.endsWith('.test.js') || f.startsWith('dist/src/')), false, 'no tsc output or tests');
    const manifest = JSON.parse(await readFile(join(src, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
    assert.deepEqual(Object.keys(manifest.dependencies ?? {}), [], 'no runtime dependencies: the bundle inlines them (docs/install.md)');
  });

  const prefix = join(dir, 'prefix');
  await npm(dir, ['install', '--global', '--prefix', prefix, tarball], dir);
  const bin = join(prefix, 'bin', 'certpilot');
  const version = (JSON.parse(await readFile(join(repoRoot, 'package.json'), 'utf8')) as { version: string }).version;

  await t.test('the installed certpilot and npx certpilot print the version and per-command help', async () => {
    const v = await runCli(['--version'], { bin });
    assert.equal(v.code, 0, v.stderr);
    assert.equal(v.stdout.trim(), version);
    const help = await runCli(['renew', '--help'], { bin });
    assert.equal(help.code, 0, help.stderr);
    assert.match(help.stdout, /certpilot renew/);
    const npx = await run('npx', ['--offline', '--yes', '--cache', join(dir, 'npx-cache'), '--userconfig', join(dir, 'npmrc'), '--package', tarball, 'certpilot', '--version'], {
      cwd: dir,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir },
    });
    assert.equal(npx.stdout.trim(), version);
    // And `npx certpilot` inside a built checkout runs the checkout's own bin.
    const local = await run('npx', ['--offline', '--cache', join(dir, 'npx-cache'), '--userconfig', join(dir, 'npmrc'), 'certpilot', 'status', '--help'], {
      cwd: src,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir },
    });
    assert.match(local.stdout, /^Usage: certpilot status/);
  });

  await t.test('the library entry points load through the exports map', async () => {
    const app = join(dir, 'app');
    await mkdir(app);
    await symlink(join(prefix, 'lib', 'node_modules'), join(app, 'node_modules'));
    await writeFile(join(app, 'package.json'), '{"type":"module"}\n');
    await writeFile(
      join(app, 'probe.js'),
      [
        "import { VERSION, CertpilotError, ERROR_CATALOG } from 'certpilot';",
        "import { createChallengeResponder, MemoryTokenStore } from 'certpilot/responder';",
        'const store = new MemoryTokenStore();',
        "const token = 'abcdefghijklmnop0123456789_-';",
        "await store.put(token, token + '.thumbprint_0123456789abcdefghijklmnopqrs', 60);",
        'const responder = createChallengeResponder({ store });',
        "const res = await responder.handle({ method: 'GET', path: '/.well-known/acme-challenge/' + token });",
        "console.log(JSON.stringify({ VERSION, error: new CertpilotError('ERR_CLI_USAGE', 'x').code, codes: Object.keys(ERROR_CATALOG).length, status: res.status }));",
        '',
      ].join('\n'),
    );
    const probe = await run(process.execPath, ['probe.js'], { cwd: app });
    const out = JSON.parse(probe.stdout) as { VERSION: string; error: string; codes: number; status: number };
    assert.equal(out.VERSION, version);
    assert.equal(out.error, 'ERR_CLI_USAGE');
    assert.ok(out.codes > 10);
    assert.equal(out.status, 200, 'the responder answers a stored token');
  });

  await t.test('the installed certpilot issues a certificate from Pebble 2.4', async (t) => {
    if (!requirePebble(t, '2.4')) return;
    const pebble = await startPebble({ version: '2.4', noSleep: true });
    t.after(() => pebble.stop());
    const work = join(dir, 'issue');
    await mkdir(work);
    const config = await writeConfig(work, { directoryUrl: pebble.directoryUrl, httpPort: pebble.httpPort, certificates: [{ name: 'pkg', domains: ['pkg.package.test'] }] });
    const issued = await runCli(['issue', '--config', config], { bin, cwd: work });
    assert.equal(issued.code, 0, `${issued.stdout}\n${issued.stderr}\n${await pebble.logs()}`);
    const cert = new X509Certificate(await readFile(join(work, 'state', 'live', 'pkg', 'cert.pem')));
    assert.equal(cert.subjectAltName, 'DNS:pkg.package.test');
    const [intermediate] = await pebble.intermediateCertificates();
    assert.ok(intermediate && cert.verify(new X509Certificate(intermediate).publicKey), 'signed by this Pebble');
  });
});
