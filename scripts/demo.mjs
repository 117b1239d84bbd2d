// `npm run demo`: the dev flow for real, on this machine alone. Starts a local Pebble CA (with
// pebble-challtestsrv answering DNS so the demo names resolve to 127.0.0.1), issues a certificate
// with certpilot's embedded defaults (filesystem state, built-in standalone http-01 listener),
// deploys it with the `files` deployer into a folder (what a docker named volume would be, with
// fullbundle.pem) and a `hook`, starts a real TLS server on the deployed files and proves with a
// TLS handshake that it serves the issued certificate (by its SHA-256 fingerprint), runs `status`
// and a nothing-due `renew`, and stops Pebble.
import { spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:https';
import { dirname, join } from 'node:path';
import { connect } from 'node:tls';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { startPebble } = await import(join(root, 'dist/test/harness/pebble.js'));
const { testPkiDir } = await import(join(root, 'dist/test/harness/paths.js'));

const stateDir = join(root, '.state', 'demo');
const volume = join(stateDir, 'volume');
const cli = join(root, 'dist', 'bundle', 'certpilot.js');
const step = (text) => console.log(`\n== ${text}`);

// Each run starts a new Pebble, which knows no earlier account: start from an empty state.
rmSync(stateDir, { recursive: true, force: true });
mkdirSync(stateDir, { recursive: true, mode: 0o700 });

/**
 * The SHA-256 fingerprint of the leaf a TLS server at 127.0.0.1:port presents for `servername`,
 * trusting only `ca`. A fingerprint, not the serial: a serial is public, and anyone can mint a
 * certificate that carries it (docs/security.md).
 */
function servedFingerprint(port, servername, ca) {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, servername, ca }, () => {
      const fingerprint = socket.getPeerX509Certificate()?.fingerprint256;
      socket.end();
      resolve(fingerprint);
    });
    socket.on('error', reject);
  });
}

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
      'deployers:',
      '  volume:               # the deck\'s docker named volume, mounted read-only by the web container',
      '    type: files',
      '    dir: ./volume',
      '    bundle: cert-chain-key   # fullbundle.pem for the XMPP server',
      '  reload:               # in docker-compose: [docker, compose, exec, -T, web, apache2ctl, graceful]',
      '    type: hook',
      '    command: [sh, -c, \'echo "reload: $CERTPILOT_NAME version $CERTPILOT_VERSION from $RENEWED_LINEAGE" >> hook.log\']',
      'certificates:',
      '  - name: demo',
      '    domains: [demo.certpilot.test, www.demo.certpilot.test]',
      '    deploy: [volume, reload]',
      '',
    ].join('\n'),
  );
  console.log(`config    ${configFile}`);

  const run = (...args) => spawnSync(process.execPath, [cli, ...args, '--config', configFile], { stdio: 'inherit' }).status ?? 1;
  step('certpilot issue (issue, save, then deploy: files, then the hook)');
  code = run('issue');
  if (code !== 0) throw new Error(`certpilot issue exited with ${code}`);

  step('the state (certbot layout: live/<name>/ points at the newest archive/<name>/ version)');
  const live = join(stateDir, 'live', 'demo');
  for (const f of ['cert.pem', 'chain.pem', 'fullchain.pem', 'privkey.pem']) console.log(join(live, f));

  step('the deployed folder (kubelet layout: each file links into ..data, switched in one rename)');
  for (const f of readdirSync(volume).sort()) console.log(join(volume, f));
  console.log(`hook log: ${readFileSync(join(stateDir, 'hook.log'), 'utf8').trim()}`);

  step('the certificate');
  const cert = new X509Certificate(readFileSync(join(live, 'cert.pem')));
  const serial = cert.serialNumber.toLowerCase();
  console.log(`subject   ${cert.subject.replace(/\n/g, ', ')}`);
  console.log(`names     ${cert.subjectAltName}`);
  console.log(`issuer    ${cert.issuer.replace(/\n/g, ', ')}`);
  console.log(`valid     ${cert.validFrom} .. ${cert.validTo}`);
  console.log(`serial    ${serial}`);
  console.log(`sha-256   ${cert.fingerprint256}`);

  step('a real TLS server on the deployed files, and a handshake that checks what it serves');
  const server = createServer({ key: readFileSync(join(volume, 'privkey.pem')), cert: readFileSync(join(volume, 'fullchain.pem')) }, (_req, res) => res.end('ok\n'));
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = server.address().port;
  try {
    const [pebbleRoot] = await pebble.rootCertificates();
    const served = await servedFingerprint(port, 'www.demo.certpilot.test', [pebbleRoot]);
    console.log(`https://127.0.0.1:${port} (SNI www.demo.certpilot.test) serves SHA-256 ${served}, verified against Pebble's root`);
    if (served !== cert.fingerprint256) throw new Error(`the server serves ${served}, not the issued certificate (${cert.fingerprint256})`);
    console.log('it is the issued certificate');
  } finally {
    server.close();
  }

  step('certpilot status (the DEPLOYED column: which version each deployer holds)');
  code = run('status');

  step('certpilot renew (nothing is due and every deployer holds the live version: no CA request, no redeploy)');
  code = run('renew') || code;
} catch (err) {
  console.error(`demo failed: ${err instanceof Error ? err.message : String(err)}`);
  console.error(`Pebble's log:\n${(await pebble.logs()).split('\n').slice(-30).join('\n')}`);
  code ||= 1;
} finally {
  await pebble.stop();
}
if (code === 0) {
  console.log(`\nDone. The state is in ${stateDir}/ (live/demo/), the deployed files in ${volume}/, and Pebble is stopped.`);
}
process.exitCode = code;
