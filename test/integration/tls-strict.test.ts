// TLS is verified whatever the environment says (issue 19): with NODE_TLS_REJECT_UNAUTHORIZED=0 set,
// an issuance through the built CLI against Pebble, whose listener certificate the configuration
// does not trust (no acme.caBundle), still fails on the certificate, and a warning names the variable.
// The same configuration with the CA bundle issues, so the failure is the trust check and nothing else.
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { test } from 'node:test';
import { runCli, tempDir, writeConfig } from '../harness/certpilot.js';
import { startPebble } from '../harness/pebble.js';
import { requirePebble } from '../harness/servers.js';

test('NODE_TLS_REJECT_UNAUTHORIZED=0 does not make certpilot trust an unknown CA, and is named in a warning', { timeout: 120_000 }, async (t) => {
  if (!requirePebble(t, '2.4')) return;
  const pebble = await startPebble({ version: '2.4' });
  t.after(() => pebble.stop());
  const dir = await tempDir();
  const trusted = await writeConfig(dir, { directoryUrl: pebble.directoryUrl, httpPort: pebble.httpPort, certificates: [{ name: 'www', domains: ['www.strict.test'] }] });
  const untrusted = trusted.replace(/\.yaml$/, '-untrusted.yaml');
  await writeFile(untrusted, (await readFile(trusted, 'utf8')).split('\n').filter((l) => !l.trimStart().startsWith('caBundle:')).join('\n'));

  const env = { NODE_TLS_REJECT_UNAUTHORIZED: '0' };
  const refused = await runCli(['issue', '--name', 'www', '--config', untrusted], { env });
  const out = refused.stdout + refused.stderr;
  assert.notEqual(refused.code, 0, `issued against an untrusted CA:\n${out}`);
  assert.match(out, /NODE_TLS_REJECT_UNAUTHORIZED=0 is set to turn TLS certificate verification off; certpilot ignores it/);
  assert.match(out, /ERR_ACME_NETWORK/);
  assert.match(out, /self[- ]signed|unable to verify|unable to get local issuer|certificate/i);
  // Node's own warning would say verification is disabled; certpilot's clients never disable it.

  const issued = await runCli(['issue', '--name', 'www', '--config', trusted], { env });
  assert.equal(issued.code, 0, `the trusted configuration issues:\n${issued.stdout}\n${issued.stderr}`);
});
