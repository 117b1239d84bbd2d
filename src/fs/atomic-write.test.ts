import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { setAside } from './atomic-write.js';

describe('setAside', () => {
  const dir = mkdtempSync(join(tmpdir(), 'certpilot-aside-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('keeps every copy when files are set aside within the same millisecond', async () => {
    const file = join(dir, 'state.json');
    const now = new Date('2026-12-01T21:49:07.204Z');
    const names: (string | undefined)[] = [];
    for (const content of ['first', 'second', 'third']) {
      writeFileSync(file, content);
      names.push(await setAside(file, now));
    }
    assert.equal(new Set(names).size, 3, `three distinct names: ${names.join(', ')}`);
    const kept = readdirSync(dir).filter((f) => f.startsWith('state.json.corrupt-2026-12-01T21-49-07-204Z'));
    assert.deepEqual(kept.map((f) => readFileSync(join(dir, f), 'utf8')).sort(), ['first', 'second', 'third']);
    assert.ok(!readdirSync(dir).includes('state.json'), 'the bad file itself is gone');
  });

  it('returns undefined when the file is already gone', async () => {
    assert.equal(await setAside(join(dir, 'missing.json')), undefined);
  });
});
