import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../testing/temp-dir.js';
import { openDirectory } from './dir-handle.js';

const options = { create: true, createMode: 0o755, component: 'test', allowSharedField: 'allowSharedDir', errorCode: 'ERR_DEPLOY_FILES' } as const;

test('directories created at once under a new shared parent (several certificates deployed together): each opens, the parent gets its mode', async () => {
  for (let round = 0; round < 60; round++) {
    const base = await tempDir();
    // Started a few event-loop turns apart, so one walk can be a step ahead of another.
    const handles = await Promise.all(
      Array.from({ length: 8 }, async (_, i) => {
        for (let t = 0; t < ((i * 7 + round) % 5); t++) await new Promise((resolve) => setImmediate(resolve));
        return openDirectory(join(base, 'certs', `site-${i}`), options);
      }),
    );
    for (const h of handles) await h.close();
    assert.equal(statSync(join(base, 'certs')).mode & 0o777, 0o755, 'the shared parent has the mode it was created with');
    for (let i = 0; i < 8; i++) assert.equal(statSync(join(base, 'certs', `site-${i}`)).mode & 0o777, 0o755);
  }
});
