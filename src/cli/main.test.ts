import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { CertpilotError } from '../errors.js';
import { tempDir } from '../testing/temp-dir.js';
import { EXIT, main, report } from './main.js';
import type { Output } from './output.js';

function capture(): Output & { stdout: string[]; stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return { stdout, stderr, out: (l) => stdout.push(l), err: (l) => stderr.push(l) };
}

test('usage errors exit 2 with a code and a hint, never a stack trace', async () => {
  const o = capture();
  assert.equal(await main(['frobnicate'], {}, o), EXIT.usage);
  assert.match(o.stderr[0] ?? '', /^error ERR_CLI_USAGE: cli: unknown command "frobnicate"/);
  assert.match(o.stderr[1] ?? '', /^ {2}hint: Use one of: issue, renew/);
  assert.equal(o.stderr.some((l) => /\n\s+at /.test(l)), false);

  const bad = capture();
  assert.equal(await main(['renew', '--no-such-flag'], {}, bad), EXIT.usage);
  assert.match(bad.stderr.join('\n'), /ERR_CLI_USAGE/);
});

test('a bad configuration names the field and the fix and exits 2', async () => {
  const dir = await tempDir('certpilot-cli-');
  const file = join(dir, 'c.yaml');
  await writeFile(file, 'acme: { directoryUrl: nope }\ncertificates: [{ domains: ["${VHOST}"] }]\n');
  const o = capture();
  assert.equal(await main(['config', 'check', '--config', file], {}, o), EXIT.usage);
  const text = o.stderr.join('\n');
  assert.match(text, /acme\.directoryUrl: "nope" is neither an http\(s\) URL/);
  assert.match(text, /certificates\[0\]\.domains\[0\]: environment variable VHOST is not set/);

  const ok = capture();
  assert.equal(await main(['config', 'check', '--config', file], { VHOST: 'example.com', CERTPILOT_DIRECTORY_URL: 'letsencrypt-staging' }, ok), EXIT.ok);
  assert.match(ok.stdout.join('\n'), /cert +example\.com: example\.com \(ec-p256; solver default; deploy none\)/);
});

test('--help and --version', async () => {
  const o = capture();
  assert.equal(await main(['--version'], {}, o), EXIT.ok);
  assert.match(o.stdout[0] ?? '', /^\d+\.\d+\.\d+$/);
  const h = capture();
  assert.equal(await main(['--help'], {}, h), EXIT.ok);
  assert.match(h.stdout[0] ?? '', /Usage: certpilot <command>/);
  assert.equal(await main([], {}, capture()), EXIT.usage);
});

test('exit codes: rate limits are "try later" (75), other failures 1; --verbose adds causes', () => {
  const o = capture();
  assert.equal(report(new CertpilotError('ERR_ACME_RATE_LIMITED', 'acme: slow down'), false, o), EXIT.tempFail);
  assert.equal(report(new CertpilotError('ERR_ACME_NETWORK', 'acme: down', { cause: new Error('ECONNREFUSED') }), true, o), EXIT.failed);
  assert.ok(o.stderr.some((l) => l.startsWith('caused by: Error: ECONNREFUSED')));
  assert.equal(report(new Error('boom'), false, o), EXIT.failed);
  assert.ok(o.stderr.includes('error ERR_INTERNAL: boom'));
});
