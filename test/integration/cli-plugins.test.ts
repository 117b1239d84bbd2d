// Solvers chosen per certificate and per name, through the built CLI against Pebble 2.4: one
// `renew` of certificates proven by different solvers (standalone and webroot), and one
// certificate whose names use two solvers.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdir, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { runCli, tempDir, writeConfig } from '../harness/certpilot.js';
import { startPebble } from '../harness/pebble.js';
import { requirePebble } from '../harness/servers.js';
import { serveDirectory } from '../harness/static-server.js';

async function sans(dir: string, name: string): Promise<string[]> {
  const cert = new X509Certificate(await readFile(join(dir, 'state', 'live', name, 'cert.pem')));
  return (cert.subjectAltName ?? '').split(', ').map((s) => s.replace(/^DNS:/, '')).sort();
}

test('one renew: certificates and names proven by different solvers', { timeout: 120_000 }, async (t) => {
  if (!requirePebble(t, '2.4')) return;
  const pebble = await startPebble({ version: '2.4', noSleep: true, authzReuse: 0 });
  t.after(() => pebble.stop());
  const dir = await tempDir();
  // The webroot names resolve to 127.0.0.2, where "the user's web server" serves ./www; the
  // standalone names stay on 127.0.0.1, where certpilot listens itself. Same port: Pebble's.
  await mkdir(join(dir, 'www'));
  const web = await serveDirectory(join(dir, 'www'), pebble.httpPort, '127.0.0.2');
  t.after(() => web.close());
  for (const host of ['beta.plug.test', 'static.mixed.plug.test']) await pebble.setA(host, '127.0.0.2');

  const config = await writeConfig(dir, {
    directoryUrl: pebble.directoryUrl,
    httpPort: pebble.httpPort,
    solvers: { site: { type: 'webroot', path: './www' } }, // relative: against the config file's folder
    certificates: [
      { name: 'alpha', domains: ['alpha.plug.test'] },
      { name: 'beta', domains: ['beta.plug.test'], solver: 'site' },
      { name: 'mixed', domains: ['mixed.plug.test', 'static.mixed.plug.test'], solvers: [{ names: ['static.mixed.plug.test'], solver: 'site' }] },
    ],
  });

  const check = await runCli(['config', 'check', '--config', config]);
  assert.equal(check.code, 0, check.stderr);
  assert.match(check.stdout, /cert +mixed: .*solver mixed\.plug\.test→default static\.mixed\.plug\.test→site/);

  const renew = await runCli(['renew', '--config', config]);
  assert.equal(renew.code, 0, `${renew.stdout}\n${renew.stderr}\n${await pebble.logs()}`);
  for (const name of ['alpha', 'beta', 'mixed']) assert.match(renew.stdout, new RegExp(`issued +${name}: .*files in ${join(dir, 'state', 'live', name)}/`));
  assert.deepEqual(await sans(dir, 'alpha'), ['alpha.plug.test']);
  assert.deepEqual(await sans(dir, 'beta'), ['beta.plug.test']);
  assert.deepEqual(await sans(dir, 'mixed'), ['mixed.plug.test', 'static.mixed.plug.test']);

  // The webroot server answered exactly the two webroot names' challenges (Pebble validates each
  // challenge several times, so count distinct tokens), and the token files are gone again.
  const tokens = new Set(web.served.filter((p) => p.startsWith('/.well-known/acme-challenge/')));
  assert.equal(tokens.size, 2, `webroot tokens served: ${[...tokens].join(', ')}`);
  assert.deepEqual(await readdir(join(dir, 'www', '.well-known', 'acme-challenge')), []);
});

test('webroot the web server does not serve: the failed validation names the solver, the file and the webroot; selfCheck finds it before the CA is told', { timeout: 120_000 }, async (t) => {
  if (!requirePebble(t, '2.4')) return;
  const pebble = await startPebble({ version: '2.4', noSleep: true, authzReuse: 0 });
  t.after(() => pebble.stop());
  const dir = await tempDir();
  // The web server serves ./served; the solver writes under ./www, which nobody serves.
  await mkdir(join(dir, 'www'));
  await mkdir(join(dir, 'served'));
  const web = await serveDirectory(join(dir, 'served'), pebble.httpPort, '127.0.0.2');
  t.after(() => web.close());
  await pebble.setA('wrong.plug.test', '127.0.0.2');
  const www = join(dir, 'www');

  const plain = await writeConfig(dir, {
    directoryUrl: pebble.directoryUrl,
    httpPort: pebble.httpPort,
    solvers: { site: { type: 'webroot', path: './www' } },
    certificates: [{ name: 'wrong', domains: ['wrong.plug.test'], solver: 'site' }],
  });
  const failed = await runCli(['issue', '--config', plain]);
  assert.equal(failed.code, 1, `${failed.stdout}\n${failed.stderr}`);
  assert.match(failed.stdout, /ERR_ACME_AUTHORIZATION_FAILED/);
  const hint = /hint: (.*)/.exec(failed.stdout)?.[1] ?? '';
  assert.match(hint, new RegExp(`webroot solver "site" wrote ${join(www, '.well-known', 'acme-challenge')}/[A-Za-z0-9_-]+`), failed.stdout);
  assert.match(hint, new RegExp(`serves ${www} as its document root`), failed.stdout);
  assert.match(hint, /selfCheck\.urls/);

  // With a self-check through the web server, the mistake is found before the CA is told to validate.
  const checked = await writeConfig(dir, {
    directoryUrl: pebble.directoryUrl,
    httpPort: pebble.httpPort,
    solvers: { site: { type: 'webroot', path: './www', selfCheck: { urls: [`http://127.0.0.2:${pebble.httpPort}`], timeoutSeconds: 2 } } },
    certificates: [{ name: 'wrong', domains: ['wrong.plug.test'], solver: 'site' }],
  });
  const before = web.served.length;
  const early = await runCli(['issue', '--force', '--config', checked]);
  assert.equal(early.code, 1, `${early.stdout}\n${early.stderr}`);
  assert.match(early.stdout, /ERR_CHALLENGE_SELF_CHECK/, early.stdout);
  assert.match(early.stdout, /not held: it failed before the CA was asked to validate/, early.stdout);
  assert.equal(web.served.length, before, 'nothing was served (and the CA was not asked)');
  assert.deepEqual(await readdir(join(www, '.well-known', 'acme-challenge')), [], 'the token file is removed');
});
