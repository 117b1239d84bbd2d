// dns-01 through the built CLI: Pebble 2.4 resolving through a recursive BIND in front of an
// authoritative BIND 9 that takes DNS UPDATE with a TSIG key (secret from a file). One `issue` run
// of three certificates: wildcard plus apex through `rfc2136`; the same through a CNAME delegated
// into a second zone; and one certificate whose wildcard goes through dns-01 while its other name
// uses http-01 (certpilot's standalone listener). No TXT value is left afterwards.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { formatDnsServer } from '../../src/challenges/dns01/dns-client.js';
import { namedBinary, rfc2136Solver, startBind, writeTsigSecret } from '../harness/bind.js';
import { runCli, tempDir, writeConfig } from '../harness/certpilot.js';
import { startPebble } from '../harness/pebble.js';
import { requirePebble, requireServer } from '../harness/servers.js';

async function sans(dir: string, name: string): Promise<string[]> {
  const cert = new X509Certificate(await readFile(join(dir, 'state', 'live', name, 'cert.pem')));
  return (cert.subjectAltName ?? '').split(', ').map((s) => s.replace(/^DNS:/, '')).sort();
}

test('certpilot issue: wildcard+apex via rfc2136, via a delegated CNAME, and dns-01 next to http-01', { timeout: 150_000 }, async (t) => {
  if (!requireServer(t, namedBinary, 'Debian package bind9') || !requirePebble(t, '2.4')) return;
  const bind = await startBind({
    zones: [
      { name: 'cli.test', records: ['@ A 127.0.0.1', '* A 127.0.0.1'], updateNames: ['_acme-challenge.cli.test'] },
      { name: 'cname.test', records: ['@ A 127.0.0.1', '_acme-challenge CNAME _acme-challenge.cname.validation.test.'] },
      { name: 'mixed.test', records: ['@ A 127.0.0.1', 'www A 127.0.0.1'], updateNames: ['_acme-challenge.mixed.test'] },
      { name: 'validation.test', updateNames: ['_acme-challenge.cname.validation.test'] },
    ],
  });
  t.after(() => bind.stop());
  const resolver = await startBind({ zones: [], forward: { zones: ['cli.test', 'cname.test', 'mixed.test', 'validation.test'], to: bind.server } });
  t.after(() => resolver.stop());
  const pebble = await startPebble({ version: '2.4', noSleep: true, authzReuse: 0, dnsServer: formatDnsServer(resolver.server) });
  t.after(() => pebble.stop());

  const dir = await tempDir();
  await writeTsigSecret(dir, bind);
  const config = await writeConfig(dir, {
    directoryUrl: pebble.directoryUrl,
    httpPort: pebble.httpPort,
    solvers: {
      dns: rfc2136Solver(bind),
    },
    certificates: [
      { name: 'wild', domains: ['cli.test', '*.cli.test'], solver: 'dns' },
      { name: 'delegated', domains: ['cname.test', '*.cname.test'], solver: 'dns' },
      { name: 'mixed', domains: ['www.mixed.test', '*.mixed.test'], solvers: [{ names: ['*.mixed.test'], solver: 'dns' }] },
    ],
  });

  const issue = await runCli(['issue', '--config', config]);
  assert.equal(issue.code, 0, `${issue.stdout}\n${issue.stderr}\n${await pebble.logs()}`);
  assert.ok(!issue.stdout.includes(bind.key.secret) && !issue.stderr.includes(bind.key.secret), 'the TSIG secret is never printed');
  assert.deepEqual(await sans(dir, 'wild'), ['*.cli.test', 'cli.test']);
  assert.deepEqual(await sans(dir, 'delegated'), ['*.cname.test', 'cname.test']);
  assert.deepEqual(await sans(dir, 'mixed'), ['*.mixed.test', 'www.mixed.test']);
  for (const fqdn of ['_acme-challenge.cli.test.', '_acme-challenge.cname.validation.test.', '_acme-challenge.mixed.test.']) {
    assert.deepEqual(await bind.txt(fqdn), [], `no TXT value left at ${fqdn}`);
  }
  assert.deepEqual(await bind.txt('_acme-challenge.www.mixed.test.'), [], 'the http-01 name wrote no TXT');
  // The values were journalled (a kill -9 would have left them for the next run to remove), and the
  // journal is empty again after cleanup.
  assert.deepEqual(await readdir(join(dir, 'state', 'dns01-records', 'dns')), [], 'the journal of the solver "dns" is empty');
});
