// `npm run demo`: the main job for real, on this machine alone. Starts a local Pebble CA (with
// pebble-challtestsrv answering DNS so the demo names resolve to 127.0.0.1), issues a certificate
// with certpilot's embedded defaults (filesystem state, built-in standalone http-01 listener),
// prints where the files are and what the certificate says, runs `status`, and stops Pebble.
import { spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { startPebble } = await import(join(root, 'dist/test/harness/pebble.js'));
const { testPkiDir } = await import(join(root, 'dist/test/harness/paths.js'));

const stateDir = join(root, '.state', 'demo');
const cli = join(root, 'dist', 'bundle', 'certpilot.js');
const step = (text) => console.log(`\n== ${text}`);

// Each run starts a new Pebble, which knows no earlier account: start from an empty state.
rmSync(stateDir, { recursive: true, force: true });
mkdirSync(stateDir, { recursive: true, mode: 0o700 });

step('starting a local Pebble ACME CA (Debian package pebble) and pebble-challtestsrv for DNS');
const pebble = await startPebble({ version: '2.4', noSleep: true });
let code = 1;
try {
  console.log(`directory ${pebble.directoryUrl}`);
  const configFile = join(stateDir, 'certpilot.yaml');
  writeFileSync(
    configFile,
    [
      '# Written by npm run demo. The same file works against Let\'s Encrypt: drop directoryUrl and caBundle.',
      'stateDir: .',
      'acme:',
      `  directoryUrl: ${pebble.directoryUrl}`,
      `  caBundle: ${join(testPkiDir, 'ca.pem')}   # trusts Pebble's own HTTPS listener`,
      '  email: demo@example.com',
      '  termsOfServiceAgreed: true',
      'solvers:',
      '  default:',
      '    type: standalone     # the embedded default: certpilot answers http-01 itself',
      `    port: ${pebble.httpPort}         # Pebble validates on this port instead of 80`,
      '    host: 127.0.0.1',
      'certificates:',
      '  - name: demo',
      '    domains: [demo.certpilot.test, www.demo.certpilot.test]',
      '',
    ].join('\n'),
  );
  console.log(`config    ${configFile}`);

  step('certpilot issue');
  const run = (...args) => spawnSync(process.execPath, [cli, ...args, '--config', configFile], { stdio: 'inherit' }).status ?? 1;
  code = run('issue');
  if (code !== 0) throw new Error(`certpilot issue exited with ${code}`);

  step('the files (certbot layout: live/<name>/ points at the newest archive/<name>/ version)');
  const live = join(stateDir, 'live', 'demo');
  for (const f of ['cert.pem', 'chain.pem', 'fullchain.pem', 'privkey.pem']) console.log(join(live, f));

  step('the certificate');
  const cert = new X509Certificate(readFileSync(join(live, 'cert.pem')));
  console.log(`subject   ${cert.subject.replace(/\n/g, ', ')}`);
  console.log(`names     ${cert.subjectAltName}`);
  console.log(`issuer    ${cert.issuer.replace(/\n/g, ', ')}`);
  console.log(`valid     ${cert.validFrom} .. ${cert.validTo}`);
  console.log(`serial    ${cert.serialNumber.toLowerCase()}`);

  step('certpilot status');
  code = run('status');

  step('certpilot renew (nothing is due, so nothing is asked of the CA)');
  code = run('renew') || code;
} catch (err) {
  console.error(`demo failed: ${err instanceof Error ? err.message : String(err)}`);
  console.error(`Pebble's log:\n${(await pebble.logs()).split('\n').slice(-30).join('\n')}`);
  code ||= 1;
} finally {
  await pebble.stop();
}
if (code === 0) console.log(`\nDone. The certificate is in ${join(stateDir, 'live', 'demo')}/ and Pebble is stopped.`);
process.exitCode = code;
