import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EXIT, main } from '../../../../cli/main.js';
import type { Output } from '../../../../cli/output.js';
import { RedisTokenStore } from './redis-token-store.js';
import { redisSchema } from './schema.js';

void test('the Redis prefix is non-empty and ends with "/"; the default and acme/ pass', () => {
  for (const bad of ['', 'acme', 'acme:', '/.well-known/acme-challenge']) {
    const r = redisSchema().safeParse({ prefix: bad });
    assert.equal(r.success, false, JSON.stringify(bad));
    assert.match(r.error?.issues[0]?.message ?? '', /non-empty key prefix ending in "\/"/);
    assert.throws(() => new RedisTokenStore({ prefix: bad }), { code: 'ERR_CONFIG_INVALID' });
  }
  assert.equal(redisSchema().parse({}).prefix, '.well-known/acme-challenge/');
  assert.equal(redisSchema().parse({ prefix: 'acme/' }).prefix, 'acme/');
});

void test('serve --redis-prefix with an empty prefix is refused before any Redis is asked', async () => {
  const stderr: string[] = [];
  const output: Output = { out: () => undefined, err: (l) => stderr.push(l) };
  const code = await main(['serve', '--redis-url', 'redis://127.0.0.1:1', '--redis-prefix=', '--listen', '127.0.0.1:0'], {}, output);
  assert.equal(code, EXIT.usage, stderr.join('\n'));
  assert.match(stderr.join('\n'), /prefix.*non-empty key prefix ending in "\/"/);
});
