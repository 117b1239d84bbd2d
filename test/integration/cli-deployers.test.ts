// The files and hook deployers through the built CLI against Pebble 2.4: a renew issues and
// deploys into a docker-volume-like folder (atomic layout, fullbundle.pem) and a plain folder with
// a HAProxy bundle, runs a hook with the CERTPILOT_*/certbot environment, and a TLS server started
// on the deployed files serves the issued serial. A nothing-due renew deploys nothing again; a
// forced deploy finds the files already there and runs the hook again.
import assert from 'node:assert/strict';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { cpSync, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer } from 'node:https';
import { connect } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { runCli, tempDir, writeConfig } from '../harness/certpilot.js';
import { orderUrls, startFaultProxy } from '../harness/fault-proxy.js';
import { startPebble } from '../harness/pebble.js';
import { requirePebble } from '../harness/servers.js';

/** The serial number (lowercase hex) a TLS server on 127.0.0.1:port presents for `servername`. */
function servedSerial(port: number, servername: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, servername, rejectUnauthorized: false }, () => {
      resolve(socket.getPeerX509Certificate()?.serialNumber.toLowerCase() ?? '');
      socket.end();
    });
    socket.once('error', reject);
  });
}

test('renew deploys with files (atomic and plain) and a hook; the deployed files serve TLS', { timeout: 180_000 }, async (t) => {
  if (!requirePebble(t, '2.4')) return;
  const pebble = await startPebble({ version: '2.4', noSleep: true });
  t.after(() => pebble.stop());
  const dir = await tempDir();
  const config = await writeConfig(dir, {
    directoryUrl: pebble.directoryUrl,
    httpPort: pebble.httpPort,
    deployers: {
      volume: { type: 'files', dir: './volume' },
      haproxy: { type: 'files', dir: './haproxy', layout: 'plain', bundle: 'key-cert-chain', files: { 'chain.pem': false } },
      reload: { type: 'hook', command: ['sh', '-c', 'env | grep -E "^(CERTPILOT|RENEWED)_" | sort > hook.env; echo reloaded "$CERTPILOT_NAME"'] },
    },
    certificates: [{ name: 'web', domains: ['web.deploy.test', 'www.web.deploy.test'], deploy: ['volume', 'haproxy', 'reload'] }],
  });
  const live = join(dir, 'state', 'live', 'web');

  const renew = await runCli(['renew', '--config', config]);
  assert.equal(renew.code, 0, `${renew.stdout}\n${renew.stderr}`);
  assert.match(renew.stdout, /issued +web: /);
  const cert = readFileSync(join(live, 'cert.pem'), 'utf8');
  const chain = readFileSync(join(live, 'chain.pem'), 'utf8');
  const key = readFileSync(join(live, 'privkey.pem'), 'utf8');
  const serial = new X509Certificate(cert).serialNumber.toLowerCase();

  // volume: the kubelet layout with the deck's fullbundle.pem.
  const volume = join(dir, 'volume');
  const version = readlinkSync(join(volume, '..data'));
  assert.match(version, /^\.\..*-v1$/);
  for (const f of ['cert.pem', 'chain.pem', 'fullchain.pem', 'privkey.pem', 'fullbundle.pem']) assert.ok(lstatSync(join(volume, f)).isSymbolicLink(), f);
  assert.equal(readFileSync(join(volume, 'fullbundle.pem'), 'utf8'), cert + chain + key);
  assert.equal(statSync(join(volume, 'privkey.pem')).mode & 0o777, 0o600);
  // haproxy: plain files, key first, no chain.pem.
  const haproxy = join(dir, 'haproxy');
  assert.deepEqual(readdirSync(haproxy).sort(), ['..certpilot', 'cert.pem', 'fullbundle.pem', 'fullchain.pem', 'privkey.pem']);
  assert.equal(readFileSync(join(haproxy, 'fullbundle.pem'), 'utf8'), key + cert + chain);
  assert.ok(lstatSync(join(haproxy, 'fullbundle.pem')).isFile());
  // reload: the hook's environment, in the config file's folder.
  const hookEnv = readFileSync(join(dir, 'hook.env'), 'utf8');
  assert.equal(
    hookEnv,
    [
      `CERTPILOT_DOMAINS=web.deploy.test www.web.deploy.test`,
      `CERTPILOT_LIVE_DIR=${live}`,
      `CERTPILOT_NAME=web`,
      `CERTPILOT_NOT_AFTER=${new Date(new X509Certificate(cert).validTo).toISOString()}`,
      `CERTPILOT_SERIAL=${serial}`,
      `CERTPILOT_VERSION=1`,
      `RENEWED_DOMAINS=web.deploy.test www.web.deploy.test`,
      `RENEWED_LINEAGE=${live}`,
      '',
    ].join('\n'),
  );
  assert.doesNotMatch(hookEnv, /PRIVATE KEY/);

  // A TLS server on the deployed files serves the issued certificate.
  const server = createServer({ key: readFileSync(join(volume, 'privkey.pem')), cert: readFileSync(join(volume, 'fullchain.pem')) }, (_req, res) => res.end('ok'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => server.close());
  assert.equal(await servedSerial((server.address() as AddressInfo).port, 'web.deploy.test'), serial);
  assert.ok(new X509Certificate(readFileSync(join(haproxy, 'fullbundle.pem'))).checkPrivateKey(createPrivateKey(readFileSync(join(haproxy, 'fullbundle.pem')))));

  // status: every deployer holds v1.
  const status = await runCli(['status', '--json', '--config', config]);
  assert.equal(status.code, 0, status.stderr);
  const row = (JSON.parse(status.stdout) as { name: string; deployers: { deployer: string; version?: number; result?: string }[] }[]).find((r) => r.name === 'web');
  assert.deepEqual(row?.deployers.map((d) => [d.deployer, d.version, d.result]), [['volume', 1, 'success'], ['haproxy', 1, 'success'], ['reload', 1, 'success']]);

  // A nothing-due renew deploys nothing again: same version directory, hook not run.
  const hookMtime = statSync(join(dir, 'hook.env')).mtimeMs;
  const again = await runCli(['renew', '--config', config]);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /not-due +web/);
  assert.equal(readlinkSync(join(volume, '..data')), version);
  assert.equal(statSync(join(dir, 'hook.env')).mtimeMs, hookMtime);

  // deploy --force: the files deployers find their files in place; the hook runs again.
  const forced = await runCli(['deploy', 'web', '--force', '--json', '--config', config]);
  assert.equal(forced.code, 0, `${forced.stdout}\n${forced.stderr}`);
  const steps = (JSON.parse(forced.stdout) as { deploy: { steps: { deployer: string; message: string }[] } }[])[0]?.deploy.steps ?? [];
  assert.match(steps.find((s) => s.deployer === 'volume')?.message ?? '', /version 1 is already in .*volume .*nothing to do/);
  assert.match(steps.find((s) => s.deployer === 'haproxy')?.message ?? '', /already in .*nothing to do/);
  assert.match(steps.find((s) => s.deployer === 'reload')?.message ?? '', /^sh -c "env \| grep .*… exited 0/);
  assert.equal(readlinkSync(join(volume, '..data')), version);
  assert.ok(statSync(join(dir, 'hook.env')).mtimeMs >= hookMtime);
});

test('a config with a bad files or hook option is refused naming the field', { timeout: 60_000 }, async () => {
  const dir = await tempDir();
  const config = await writeConfig(dir, {
    directoryUrl: 'https://127.0.0.1:9/dir',
    httpPort: 5002,
    deployers: {
      volume: { type: 'files', dir: './v', keyMode: 640 },
      reload: { type: 'hook', command: 'apache2ctl graceful' },
    },
    certificates: [{ name: 'web', domains: ['web.deploy.test'], deploy: ['volume', 'reload'] }],
  });
  const check = await runCli(['config', 'check', '--config', config]);
  assert.equal(check.code, 2, check.stdout);
  assert.match(check.stderr, /deployers\.volume\.keyMode/);
  assert.match(check.stderr, /deployers\.reload\.command: .*shell: true/);
});

test('a failing hook fails the run; the next nothing-due renew retries only the deploy, with no new order', { timeout: 180_000 }, async (t) => {
  if (!requirePebble(t, '2.4')) return;
  const pebble = await startPebble({ version: '2.4', noSleep: true });
  t.after(() => pebble.stop());
  const proxy = await startFaultProxy(pebble);
  t.after(() => proxy.stop());
  const dir = await tempDir();
  const config = await writeConfig(dir, {
    directoryUrl: proxy.directoryUrl,
    httpPort: pebble.httpPort,
    deployers: {
      volume: { type: 'files', dir: './volume' },
      // Fails until the "server" is fixed (the flag file exists), like a reload of a broken config.
      reload: { type: 'hook', command: ['sh', '-c', 'test -e fixed || { echo "AH00526: Syntax error" >&2; exit 1; }; echo "$CERTPILOT_VERSION" >> reloaded'] },
    },
    certificates: [{ name: 'web', domains: ['retry.deploy.test'], deploy: ['volume', 'reload'] }],
  });

  const first = await runCli(['renew', '--config', config]);
  assert.equal(first.code, 1, `${first.stdout}\n${first.stderr}`);
  assert.match(first.stdout + first.stderr, /ERR_DEPLOY_HOOK_FAILED|AH00526/);
  const version = readlinkSync(join(dir, 'volume', '..data'));
  // One order, counted by its URL: Pebble's default nonce rejection makes a retried POST count twice.
  assert.equal(orderUrls(proxy.requests.log).length, 1, `one order: ${JSON.stringify(proxy.requests.byPath)}`);

  writeFileSync(join(dir, 'fixed'), '');
  const seen = proxy.requests.log.length;
  const second = await runCli(['renew', '--config', config]);
  assert.equal(second.code, 0, `${second.stdout}\n${second.stderr}`);
  assert.equal(readFileSync(join(dir, 'reloaded'), 'utf8'), '1\n', 'the hook ran once, for version 1');
  assert.equal(readlinkSync(join(dir, 'volume', '..data')), version, 'the files were not written again');
  // Not one request about an order, authorization, challenge or finalize (nonce retries included).
  const acmeWork = proxy.requests.log.slice(seen).filter((r) => /order|finalize|chal|authz|certz/i.test(r.kind));
  assert.deepEqual(acmeWork.map((r) => `${r.method} ${r.path}`), [], 'no new order, authorization or challenge');
  const status = await runCli(['status', '--json', '--config', config]);
  const row = (JSON.parse(status.stdout) as { name: string; deployers: { deployer: string; version?: number; result?: string }[] }[])[0];
  assert.deepEqual(row?.deployers.map((d) => [d.deployer, d.version, d.result]), [['volume', 1, 'success'], ['reload', 1, 'success']]);
});

test('a failing hook: its stderr is printed redacted (result line and --json), the key it prints without armour is hidden, and the failed deploy is `deploy-failed` on the line and to the webhook', { timeout: 180_000 }, async (t) => {
  if (!requirePebble(t, '2.4')) return;
  const pebble = await startPebble({ version: '2.4', noSleep: true });
  t.after(() => pebble.stop());
  const posts: { event: string | undefined; body: string }[] = [];
  const receiver = createHttpServer((req, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (c: string) => (body += c));
    req.on('end', () => {
      posts.push({ event: req.headers['x-certpilot-event'] as string | undefined, body });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  t.after(() => receiver.close());
  const dir = await tempDir();
  const config = await writeConfig(dir, {
    directoryUrl: pebble.directoryUrl,
    httpPort: pebble.httpPort,
    deployers: {
      // A reload that quotes a URL with its password, and a tool that prints the key without its armour.
      reload: { type: 'hook', command: ['sh', '-c', 'echo "could not reach redis://:SuperSecretRedis@10.0.0.1:6379/0" >&2; echo "> Authorization: Bearer HookBearerTok3n; + curl -u ops:HookPa55word https://lb/reload?token=HookQueryTok3n" >&2; grep -v -- ----- "$CERTPILOT_LIVE_DIR/privkey.pem" | tr -d "\\n" >&2; echo >&2; exit 1'] },
    },
    certificates: [{ name: 'www', domains: ['leak.deploy.test'], deploy: ['reload'] }],
  });
  // `repeatHours: 0`: each run's notice is sent, also the same deploy failure again, so every body is checked.
  writeFileSync(config, `${readFileSync(config, 'utf8')}notifiers: ${JSON.stringify({ chat: { type: 'webhook', url: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`, retries: 0, on: ['failure'], repeatHours: 0 } })}\ndefaults: { notify: [chat] }\n`);

  const issued = await runCli(['issue', '--config', config]);
  assert.equal(issued.code, 1, `${issued.stdout}\n${issued.stderr}`);
  const key = readFileSync(join(dir, 'state', 'live', 'www', 'privkey.pem'), 'utf8');
  const body = key.split('\n').filter((l) => l && !l.startsWith('-----')).join('');
  const human = await runCli(['deploy', 'www', '--force', '--config', config]);
  const json = await runCli(['deploy', 'www', '--force', '--json', '--config', config]);
  assert.equal(human.code, 1, `${human.stdout}\n${human.stderr}`);
  assert.equal(json.code, 1, `${json.stdout}\n${json.stderr}`);
  assert.match(issued.stdout, /^issued +www: .*ERR_DEPLOY_HOOK_FAILED: deploy failed at reload: .*redis:\/\/:\[redacted\]@10\.0\.0\.1/m);
  assert.match(human.stdout, /^deploy-failed www: ERR_DEPLOY_HOOK_FAILED: deploy failed at reload: .*redis:\/\/:\[redacted\]@10\.0\.0\.1.* \| \[private key material hidden\]/m);
  assert.match(human.stdout, /Authorization: Bearer \[redacted\]; \+ curl -u ops:\[redacted\] https:\/\/lb\/reload\?token=\[redacted\]/, 'a header, curl -u and a token parameter in a hook\'s output');
  const [result] = JSON.parse(json.stdout) as { outcome: string; message: string; deploy: { ok: boolean; steps: { message: string }[] } }[];
  assert.equal(result?.outcome, 'deploy-failed');
  assert.equal(result?.deploy.ok, false);
  assert.match(result?.deploy.steps[0]?.message ?? '', /redis:\/\/:\[redacted\]@/);
  await new Promise((r) => setTimeout(r, 200)); // the CLI waits for its notifications; the receiver's last 'end' may still be queued
  assert.deepEqual(posts.map((p) => p.event), ['issued', 'deploy-failed', 'deploy-failed'], 'each failure is announced, the deploys as deploy-failed');
  for (const [where, text] of [['issue', issued.stdout + issued.stderr], ['deploy', human.stdout + human.stderr], ['deploy --json', json.stdout + json.stderr], ['webhook', posts.map((p) => p.body).join('\n')]] as const) {
    assert.equal(text.includes('SuperSecretRedis'), false, `${where}: the password in the URL is printed:\n${text}`);
    for (const secret of ['HookBearerTok3n', 'HookPa55word', 'HookQueryTok3n']) assert.equal(text.includes(secret), false, `${where}: ${secret} is printed:\n${text}`);
    assert.equal(text.includes(body.slice(0, 40)) || text.includes(body.slice(-40)), false, `${where}: the key's body is printed:\n${text}`);
  }
});

/** SHA-256 fingerprint of the certificate in a PEM file. */
const fingerprintOf = (file: string): string => new X509Certificate(readFileSync(file)).fingerprint256;

test('two certificates in one files directory: config check names both and the fix; another run\'s deploy into a directory holding another certificate is refused', { timeout: 180_000 }, async (t) => {
  if (!requirePebble(t, '2.4')) return;
  const pebble = await startPebble({ version: '2.4', noSleep: true });
  t.after(() => pebble.stop());
  const dir = await tempDir();
  const shared = join(dir, 'shared-vol');
  const both = join(dir, 'both');
  mkdirSync(both);
  const config = await writeConfig(both, {
    directoryUrl: pebble.directoryUrl,
    httpPort: pebble.httpPort,
    deployers: { volume: { type: 'files', dir: `${shared}/` } },
    certificates: [
      { name: 'dev', domains: ['dev.shared.test'], deploy: ['volume'] },
      { name: 'api', domains: ['api.shared.test'], deploy: ['volume'] },
    ],
  });
  const check = await runCli(['config', 'check', '--config', config]);
  assert.equal(check.code, 2, `${check.stdout}\n${check.stderr}`);
  assert.match(check.stdout + check.stderr, /deployers\.volume\.dir.*certificates "dev" and "api" both deploy into .*shared-vol .*put \{name\} in dir .*or give each certificate its own files deployer/);
  // Each certificate's own check before its order says the same: no order is placed.
  const refused = await runCli(['renew', '--name', 'api', '--config', config]);
  assert.notEqual(refused.code, 0, `${refused.stdout}\n${refused.stderr}`);
  assert.match(refused.stdout + refused.stderr, /certificates "dev" and "api" both deploy into/);
  assert.equal(readdirSync(join(both, 'state')).includes('live') && readdirSync(join(both, 'state', 'live')).includes('api'), false, 'nothing issued for api');

  // Two configurations (two states) sharing the directory: each passes its check alone, and the
  // second one's deploy, in a later run, meets the first one's certificate there.
  const one = join(dir, 'one');
  const two = join(dir, 'two');
  mkdirSync(one);
  mkdirSync(two);
  const devConfig = await writeConfig(one, { directoryUrl: pebble.directoryUrl, httpPort: pebble.httpPort, deployers: { volume: { type: 'files', dir: shared } }, certificates: [{ name: 'dev', domains: ['dev.shared.test'], deploy: ['volume'] }] });
  const apiConfig = await writeConfig(two, { directoryUrl: pebble.directoryUrl, httpPort: pebble.httpPort, deployers: { volume: { type: 'files', dir: shared } }, certificates: [{ name: 'api', domains: ['api.shared.test'], deploy: ['volume'] }] });
  const dev = await runCli(['renew', '--config', devConfig]);
  assert.equal(dev.code, 0, `${dev.stdout}\n${dev.stderr}`);
  const devFingerprint = fingerprintOf(join(one, 'state', 'live', 'dev', 'cert.pem'));
  assert.equal(fingerprintOf(join(shared, 'cert.pem')), devFingerprint);
  const api = await runCli(['renew', '--force', '--config', apiConfig]);
  assert.equal(api.code, 1, `${api.stdout}\n${api.stderr}`);
  assert.match(api.stdout + api.stderr, /shared-vol already holds certificate "dev", so it cannot hold "api" too/);
  assert.equal(fingerprintOf(join(shared, 'cert.pem')), devFingerprint, 'dev\'s files stay');
  const forced = await runCli(['deploy', '--force', '--config', apiConfig]);
  assert.equal(forced.code, 1, `${forced.stdout}\n${forced.stderr}`);
  assert.equal(fingerprintOf(join(shared, 'cert.pem')), devFingerprint, 'dev\'s files stay after a forced deploy');
  const idle = await runCli(['renew', '--config', devConfig]);
  assert.equal(idle.code, 0, `${idle.stdout}\n${idle.stderr}`);
  assert.match(idle.stdout, /not-due +dev/);
});

test('a nothing-due run redeploys a files directory that lost its files, holds another version, or moved', { timeout: 180_000 }, async (t) => {
  if (!requirePebble(t, '2.4')) return;
  const pebble = await startPebble({ version: '2.4', noSleep: true });
  t.after(() => pebble.stop());
  const dir = await tempDir();
  const options = (volume: string): Parameters<typeof writeConfig>[1] => ({
    directoryUrl: pebble.directoryUrl,
    httpPort: pebble.httpPort,
    deployers: { volume: { type: 'files', dir: volume }, reload: { type: 'hook', command: ['sh', '-c', 'echo "$CERTPILOT_VERSION" >> reloaded'] } },
    certificates: [{ name: 'web', domains: ['lost.deploy.test'], deploy: ['volume', 'reload'] }],
  });
  const config = await writeConfig(dir, options('./volume'));
  const live = join(dir, 'state', 'live', 'web', 'cert.pem');
  const volume = join(dir, 'volume');
  const first = await runCli(['renew', '--config', config]);
  assert.equal(first.code, 0, `${first.stdout}\n${first.stderr}`);
  cpSync(volume, join(dir, 'backup'), { recursive: true, verbatimSymlinks: true });
  const idle = await runCli(['renew', '--config', config]);
  assert.match(idle.stdout, /not-due +web/);
  assert.equal(readFileSync(join(dir, 'reloaded'), 'utf8'), '1\n');

  // `docker compose down -v`: the volume is gone.
  rmSync(volume, { recursive: true });
  // Before any run repairs it, status and the metrics say so (not what the deploy record says).
  const metricsFile = join(dir, 'certpilot.prom');
  const seen = await runCli(['status', '--config', config, '--metrics-file', metricsFile]);
  assert.equal(seen.code, 0, `${seen.stdout}\n${seen.stderr}`);
  assert.match(seen.stdout, /volume:v1\(lost\) reload:v1/, seen.stdout);
  assert.match(seen.stderr, /warning: web: deployer volume no longer holds v1: files missing in .*volume; the next `certpilot renew` or `deploy` deploys it again/);
  assert.match(readFileSync(metricsFile, 'utf8'), /^certpilot_deployer_up_to_date\{name="web",deployer="volume"\} 0$/m);
  const again = await runCli(['renew', '--config', config]);
  assert.equal(again.code, 0, `${again.stdout}\n${again.stderr}`);
  assert.match(again.stdout, /deployed version 1 to volume \(files missing in .*volume\), reload/);
  assert.match(again.stderr, /files missing in .*volume.*deploying version 1 again/);
  assert.equal(fingerprintOf(join(volume, 'cert.pem')), fingerprintOf(live));
  assert.equal(readFileSync(join(dir, 'reloaded'), 'utf8'), '1\n1\n', 'the hook after it ran again');
  const deploy = await runCli(['deploy', '--config', config]);
  assert.equal(deploy.code, 0, `${deploy.stdout}\n${deploy.stderr}`);
  assert.match(deploy.stdout, /every deployer already holds version 1/);

  // The deployer's dir corrected: the new directory gets the files.
  await writeConfig(dir, options('./volume-new'));
  const moved = await runCli(['renew', '--config', config]);
  assert.equal(moved.code, 0, `${moved.stdout}\n${moved.stderr}`);
  assert.match(moved.stdout, /files missing in .*volume-new/);
  assert.equal(fingerprintOf(join(dir, 'volume-new', 'cert.pem')), fingerprintOf(live));

  // A backup of version 1 restored over version 2: the directory holds another version.
  const renewed = await runCli(['renew', '--force', '--config', config]);
  assert.equal(renewed.code, 0, `${renewed.stdout}\n${renewed.stderr}`);
  assert.notEqual(fingerprintOf(join(dir, 'backup', 'cert.pem')), fingerprintOf(live));
  rmSync(join(dir, 'volume-new'), { recursive: true });
  cpSync(join(dir, 'backup'), join(dir, 'volume-new'), { recursive: true, verbatimSymlinks: true });
  const restored = await runCli(['deploy', '--config', config]);
  assert.equal(restored.code, 0, `${restored.stdout}\n${restored.stderr}`);
  assert.match(restored.stdout, /volume-new holds another version/);
  assert.equal(fingerprintOf(join(dir, 'volume-new', 'cert.pem')), fingerprintOf(live));
});
