import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadConfig } from '../config/load-config.js';
import { silentLogger } from '../logger.js';
import { tempDir } from '../testing/temp-dir.js';
import { compose } from './compose.js';

test('each certificate\'s events go to its own notifiers, else to defaults.notify; a name not configured gets the defaults', async () => {
  const dir = await tempDir('certpilot-compose-');
  const file = join(dir, 'certpilot.yaml');
  await writeFile(
    file,
    `stateDir: ./state
notifiers:
  chat: { type: webhook, url: "https://hooks.example.com/x" }
  mail: { type: email, host: smtp.example.com, from: a@example.com, to: [b@example.com] }
defaults: { notify: [chat] }
certificates:
  - domains: [a.example.com]
  - domains: [b.example.com]
    notify: [mail]
  - domains: [c.example.com]
    notify: []
${Array.from({ length: 50 }, (_, i) => `  - domains: [n${i}.example.com]\n    notify: [${i % 2 === 0 ? 'mail' : 'chat, mail'}]\n`).join('')}`,
  );
  const config = await loadConfig({ file, cwd: dir, env: {} });
  const runtime = await compose(config, { logger: silentLogger });
  const names = (certificate: string): string[] => runtime.notifierRoutes(certificate).map((r) => r.name);
  assert.deepEqual(names('a.example.com'), ['chat']);
  assert.deepEqual(names('b.example.com'), ['mail']);
  assert.deepEqual(names('c.example.com'), []);
  assert.deepEqual(names('n48.example.com'), ['mail']);
  assert.deepEqual(names('n49.example.com'), ['chat', 'mail']);
  assert.deepEqual(names('gone.example.com'), ['chat'], 'a stored certificate no longer configured');
  assert.equal(runtime.notifierRoutes('b.example.com')[0]?.policy.on.includes('failure'), true);
});
