import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../../testing/temp-dir.js';
import { EXIT, main } from '../main.js';
import type { Output } from '../output.js';
import { parseListen } from './serve.js';

function capture(): Output & { stderr: string[] } {
  const stderr: string[] = [];
  return { stderr, out: () => undefined, err: (l) => stderr.push(l) };
}

void test('--listen takes host:port, [ipv6]:port and :port', () => {
  assert.deepEqual(parseListen('127.0.0.2:8080'), { host: '127.0.0.2', port: 8080 });
  assert.deepEqual(parseListen(':80'), { host: '0.0.0.0', port: 80 });
  assert.deepEqual(parseListen('[::]:8080'), { host: '::', port: 8080 });
  assert.deepEqual(parseListen('[::1]:0'), { host: '::1', port: 0 });
  for (const bad of ['8080', 'host', 'host:', 'a:b:80', '[::1]', 'h:99999', '']) {
    assert.throws(() => parseListen(bad), { code: 'ERR_CLI_USAGE' }, bad);
  }
});

void test('serve --solver refuses an unknown solver and a solver that is not a token store, naming them', async () => {
  const dir = await tempDir();
  const config = join(dir, 'certpilot.yaml');
  await writeFile(config, `stateDir: ${JSON.stringify(join(dir, 'state'))}\nsolvers:\n  web: { type: standalone, port: 8080 }\n  pods: { type: redis, url: "redis://127.0.0.1:1" }\ncertificates: []\n`);
  const unknown = capture();
  assert.equal(await main(['serve', '--config', config, '--solver', 'nope', '--listen', '127.0.0.1:0'], {}, unknown), EXIT.usage);
  assert.match(unknown.stderr[0] ?? '', /no solver named "nope" in the configuration/);
  assert.match(unknown.stderr[1] ?? '', /Configured solvers: .*web.*pods|Configured solvers: .*pods.*web/);
  const wrong = capture();
  assert.equal(await main(['serve', '--config', config, '--solver', 'web', '--listen', '127.0.0.1:0'], {}, wrong), EXIT.usage);
  assert.match(wrong.stderr[0] ?? '', /solver "web" is of type standalone, not a token store serve can read/);
  const two = capture();
  assert.equal(await main(['serve', '--solver', 'pods', '--thumbprint', 'x'.repeat(43)], {}, two), EXIT.usage);
  assert.match(two.stderr[0] ?? '', /exactly one of --solver NAME, --redis-url URL or --thumbprint T/);
  // A thumbprint is base64url and starts with "-" one time in 64: the = form that `account show` prints takes it.
  const dashed = capture();
  assert.equal(await main(['serve', '--solver', 'pods', `--thumbprint=-${'x'.repeat(42)}`], {}, dashed), EXIT.usage);
  assert.match(dashed.stderr[0] ?? '', /exactly one of --solver NAME, --redis-url URL or --thumbprint T/, 'read as the value, not as a missing one');
  const prefixAlone = capture();
  assert.equal(await main(['serve', '--thumbprint', 'x'.repeat(43), '--redis-prefix', 'p/'], {}, prefixAlone), EXIT.usage);
});
