// examples/compose, the deck's dev flow as a runnable Compose project: valid against the Compose
// Specification's JSON Schema (vendored in fixtures/compose-spec), the deck's shape (the
// `certificate` volume written by certpilot and mounted read-only by the web service), no secret
// value in the file, a certpilot configuration the CLI accepts, and a renew loop that keeps going
// after a failed run and stops on SIGTERM.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { Ajv } from 'ajv';
import { parse } from 'yaml';
import { repoRoot, runCli, tempDir } from '../harness/certpilot.js';

const exampleDir = join(repoRoot, 'examples', 'compose');
const schemaFile = join(repoRoot, 'test', 'integration', 'fixtures', 'compose-spec', 'compose-spec.json');

interface Service {
  build?: { context: string; dockerfile?: string };
  image?: string;
  entrypoint?: string[];
  command?: string[];
  environment?: Record<string, string | null>;
  volumes?: string[];
  user?: string;
  read_only?: boolean;
}
interface ComposeFile {
  services: Record<string, Service>;
  volumes: Record<string, unknown>;
}

/** A short-syntax volume entry `source:target[:mode]`. */
function mount(entry: string): { source: string; target: string; readOnly: boolean } {
  const [source = '', target = '', mode = ''] = entry.split(':');
  return { source, target: target.replace(/\/$/, ''), readOnly: mode.split(',').includes('ro') };
}

async function loadCompose(): Promise<ComposeFile> {
  return parse(await readFile(join(exampleDir, 'compose.yaml'), 'utf8')) as ComposeFile;
}

test('examples/compose/compose.yaml is valid under the Compose Specification schema', async () => {
  const schema = JSON.parse(await readFile(schemaFile, 'utf8')) as Record<string, unknown>;
  // The schema is draft-07 with Compose's own annotations (`deprecated`); strict mode would
  // reject those annotations, not the compose file. It names the draft-07 meta-schema by its https
  // address, which Ajv knows by the http one: the schema itself is checked against it too.
  const ajv = new Ajv({ strict: false, allErrors: true });
  const draft07 = createRequire(import.meta.url)('ajv/dist/refs/json-schema-draft-07.json') as Record<string, unknown>;
  ajv.addMetaSchema({ ...draft07, $id: 'https://json-schema.org/draft-07/schema' });
  const validate = ajv.compile(schema);
  const compose = await loadCompose();
  assert.equal(validate(compose), true, JSON.stringify(validate.errors, null, 2));
  // The schema is not a rubber stamp: a misspelt key fails it.
  const broken = structuredClone(compose) as unknown as { services: Record<string, Record<string, unknown>> };
  broken.services.web = { ...broken.services.web, volume: broken.services.web?.volumes };
  delete broken.services.web.volumes;
  assert.equal(validate(broken), false, 'a service with `volume:` is rejected');
});

test('the deck\'s shape: certpilot writes the `certificate` volume, the web service mounts it read-only', async () => {
  const compose = await loadCompose();
  const { certpilot, web } = compose.services;
  assert.ok(certpilot && web);
  assert.ok('certificate' in compose.volumes, 'the named volume `certificate`');

  // certpilot is built from the repository's Dockerfile.
  assert.ok(certpilot.build, 'certpilot is built, not pulled');
  const context = resolve(exampleDir, certpilot.build.context);
  assert.ok(existsSync(join(context, certpilot.build.dockerfile ?? 'Dockerfile')), `a Dockerfile in ${context}`);
  assert.equal(context, repoRoot);

  const webMounts = (web.volumes ?? []).map(mount);
  const webCert = webMounts.find((m) => m.source === 'certificate');
  assert.ok(webCert, 'web mounts `certificate`');
  assert.equal(webCert.readOnly, true, 'read-only in the web service');
  assert.equal(webCert.target, '/cert');

  const ours = (certpilot.volumes ?? []).map(mount);
  const certificate = ours.find((m) => m.source === 'certificate');
  const state = ours.find((m) => m.target === '/var/lib/certpilot');
  assert.ok(certificate && !certificate.readOnly, 'certpilot writes `certificate`');
  assert.ok(state && !state.readOnly && state.source !== 'certificate', 'the state (account and private keys of every version) is a volume of its own');
  assert.ok(!webMounts.some((m) => m.source === state.source), 'the web service never sees the state');

  // The files deployer writes where the `certificate` volume is mounted.
  const config = parse(await readFile(join(exampleDir, 'certpilot.yaml'), 'utf8')) as {
    deployers: Record<string, { type: string; dir: string }>;
    certificates: { deploy: string[] }[];
  };
  const deployers = config.certificates.flatMap((c) => c.deploy).map((name) => config.deployers[name]);
  assert.ok(deployers.some((d) => d?.type === 'files' && d.dir === certificate.target), `a files deployer writes ${certificate.target}`);
  // And the web server reads what that deployer writes.
  const nginx = await readFile(join(exampleDir, 'nginx.conf'), 'utf8');
  assert.match(nginx, new RegExp(`ssl_certificate\\s+${webCert.target}/fullchain\\.pem;`));
  assert.match(nginx, new RegExp(`ssl_certificate_key\\s+${webCert.target}/privkey\\.pem;`));

  // Run as the image runs: user 65532, read-only root.
  assert.equal(certpilot.user, '65532:65532');
  assert.equal(certpilot.read_only, true);
});

test('no secret value in the compose file: AWS keys are passed by name only', async () => {
  const compose = await loadCompose();
  for (const [name, service] of Object.entries(compose.services)) {
    for (const [key, value] of Object.entries(service.environment ?? {})) {
      if (/KEY|SECRET|TOKEN|PASSWORD/i.test(key)) assert.equal(value, null, `${name}: ${key} has no value in the file`);
    }
  }
});

test('the example certpilot.yaml passes `certpilot config check` with the variables compose.yaml passes', async () => {
  const compose = await loadCompose();
  const env = compose.services.certpilot?.environment ?? {};
  assert.ok('VHOST' in env && 'ACME_EMAIL' in env);
  const ok = await runCli(['--config', join(exampleDir, 'certpilot.yaml'), 'config', 'check'], {
    env: { VHOST: 'dev.project.com', ACME_EMAIL: 'dev@project.com' },
  });
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /is valid/);
  assert.match(ok.stdout, /dev: dev\.project\.com, www\.dev\.project\.com .*solver dev-dns; deploy certificate/);
  // Without VHOST the check names the variable.
  const missing = await runCli(['--config', join(exampleDir, 'certpilot.yaml'), 'config', 'check'], { env: { ACME_EMAIL: 'dev@project.com' } });
  assert.notEqual(missing.code, 0);
  assert.match(missing.stderr, /VHOST/);
});

test('the certpilot service\'s loop runs `certpilot renew` again after a failure and stops on SIGTERM', { timeout: 30_000 }, async () => {
  const compose = await loadCompose();
  const service = compose.services.certpilot;
  assert.deepEqual(service?.entrypoint, ['/bin/sh', '-c']);
  // Compose turns `$$` into `$` before the container sees the script.
  const script = (service.command ?? [])[0]?.replaceAll('$$', '$');
  assert.ok(script);

  // A stand-in `certpilot` on PATH that records its arguments and fails every other run.
  const dir = await tempDir('certpilot-compose-');
  const calls = join(dir, 'calls');
  const fake = join(dir, 'certpilot');
  await writeFile(fake, `#!/bin/sh\necho "$*" >>'${calls}'\n[ $(wc -l <'${calls}') -eq 1 ] && exit 1\nexit 0\n`);
  await chmod(fake, 0o755);
  const child = spawn('/bin/sh', ['-c', script], {
    env: { PATH: `${dir}:/usr/bin:/bin`, RENEW_EVERY: '0.05' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((done) => child.on('exit', (code) => done(code)));
  // Wait (without a deadline of our own: the test's timeout is the limit) for three runs.
  for (;;) {
    const lines = existsSync(calls) ? (await readFile(calls, 'utf8')).trim().split('\n') : [];
    if (lines.length >= 3) {
      assert.deepEqual(new Set(lines), new Set(['renew']));
      break;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.match(stderr, /renew failed \(exit 1\); next try in 0\.05/);
  child.kill('SIGTERM');
  assert.equal(await exited, 0, 'SIGTERM ends the loop cleanly');
});
