// Stateless http-01 end to end against real Pebble 2.4: `certpilot account show` prints the account
// thumbprint and the nginx and apache lines; a three-name certificate ordered through the
// `stateless` solver validates with one name answered by `certpilot serve --thumbprint`, one by real
// nginx with the printed line, and one by real apache2 with the printed lines. No store anywhere.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { startApache } from '../harness/apache.js';
import { runCli, tempDir, writeConfig } from '../harness/certpilot.js';
import { fetchBuffered } from '../harness/http.js';
import { startNginx } from '../harness/nginx.js';
import { startPebble } from '../harness/pebble.js';
import { startServe } from '../harness/serve.js';
import { requirePebble, requireServer } from '../harness/servers.js';

const PODS: [string, string][] = [['serve.stateless.test', '127.0.0.8'], ['nginx.stateless.test', '127.0.0.9'], ['apache.stateless.test', '127.0.0.10']];

test('stateless: account show prints thumbprint and web server lines; serve, nginx and apache answer Pebble with them', { timeout: 150_000 }, async (t) => {
  if (!requirePebble(t) || !requireServer(t, 'nginx', 'Debian package nginx-light') || !requireServer(t, 'apache2', 'Debian package apache2')) return;
  const pebble = await startPebble({ noSleep: true, authzReuse: 0 });
  t.after(() => pebble.stop());
  for (const [name, address] of PODS) {
    const res = await fetchBuffered(`${pebble.challtestsrvUrl}/add-a`, { method: 'POST', body: JSON.stringify({ host: `${name}.`, addresses: [address] }) });
    assert.equal(res.status, 200);
  }
  const dir = await tempDir();
  const config = await writeConfig(dir, {
    directoryUrl: pebble.directoryUrl,
    httpPort: pebble.httpPort,
    // Self-check every responder (each URL is asked with Host: <name>) before the CA is told.
    solvers: { sl: { type: 'stateless', selfCheck: { urls: PODS.map(([, a]) => `http://${a}:${pebble.httpPort}`) } } },
    certificates: [{ name: 'sl', domains: PODS.map(([n]) => n), solver: 'sl' }],
  });
  assert.equal((await runCli(['account', 'create', '--config', config])).code, 0);
  const shown = await runCli(['account', 'show', '--config', config, '--json']);
  assert.equal(shown.code, 0, shown.stderr);
  const info = JSON.parse(shown.stdout) as { thumbprint: string; stateless: { nginx: string; apache: string[] } };
  assert.match(info.thumbprint, /^[A-Za-z0-9_-]{43}$/);
  assert.ok(info.stateless.nginx.includes(info.thumbprint) && info.stateless.apache.join('\n').includes(info.thumbprint));
  const text = await runCli(['account', 'show', '--config', config]);
  assert.match(text.stdout, new RegExp(`thumbprint +${info.thumbprint}`));
  // The = form: a base64url thumbprint starts with "-" one time in 64, which a flag's separate value may not.
  assert.match(text.stdout, new RegExp(`certpilot serve --thumbprint=${info.thumbprint}\n`));

  const serve = await startServe(['--listen', `${PODS[0]?.[1]}:${pebble.httpPort}`, `--thumbprint=${info.thumbprint}`]);
  t.after(() => serve.stop());
  const nginx = await startNginx({ host: PODS[1]?.[1] as string, port: pebble.httpPort, serverLines: [info.stateless.nginx], accessLog: true });
  t.after(() => nginx.stop());
  const apache = await startApache({ host: PODS[2]?.[1] as string, port: pebble.httpPort, modules: ['rewrite', 'headers'], lines: info.stateless.apache });
  t.after(() => apache.stop());

  const run = await runCli(['issue', '--config', config]);
  assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}\n${await nginx.logs()}\n${await apache.logs()}`);
  const san = new X509Certificate(await readFile(join(dir, 'state', 'live', 'sl', 'cert.pem'), 'utf8')).subjectAltName ?? '';
  for (const [name] of PODS) assert.ok(san.includes(`DNS:${name}`), san);
  assert.match(serve.logs(), /"http-01 responder: answered"/);
});
