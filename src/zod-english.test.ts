/**
 * zod/mini speaks English in certpilot. Classic zod set its English messages itself; zod/mini sets
 * no locale, so without ./zod-english.js every message a user sees in a config error would be a
 * bare "Invalid input".
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import * as z from 'zod/mini';
import './zod-english.js';

const src = fileURLToPath(new URL('../../src/', import.meta.url));

test('zod/mini gives zod\'s English messages', () => {
  const r = z.strictObject({ port: z.number().check(z.int(), z.gte(1)), mode: z.enum(['a', 'b']) }).safeParse({ port: 'x', mode: 'c', extra: 1 });
  assert.deepEqual(
    r.error?.issues.map((i) => i.message),
    ['Invalid input: expected number, received string', 'Invalid option: expected one of "a"|"b"', 'Unrecognized key: "extra"'],
  );
  assert.equal(z.number().check(z.gte(5)).safeParse(1).error?.issues[0]?.message, 'Too small: expected number to be >=5');
});

test('every module that imports zod/mini imports zod-english.js, so no parse runs without English', () => {
  const files = readdirSync(src, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts') && !f.startsWith('testing/'));
  const users = files.filter((f) => /^import \* as z from 'zod\/mini';$/m.test(readFileSync(join(src, f), 'utf8')));
  assert.ok(users.length >= 20, `the schema modules are found (${users.length})`);
  for (const f of users) {
    const want = `${relative(join(src, f, '..'), join(src, 'zod-english.js')).replace(/^(?!\.)/, './')}`;
    assert.match(readFileSync(join(src, f), 'utf8'), new RegExp(`^import '${want.replace(/[.]/g, '\\.')}';$`, 'm'), `src/${f} imports ${want}`);
  }
  for (const f of files) assert.doesNotMatch(readFileSync(join(src, f), 'utf8'), /from 'zod'|import\('zod'\)/, `src/${f} imports classic zod`);
});
