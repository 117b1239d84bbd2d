import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PromiseCache } from './promise-cache.js';

test('PromiseCache: one load per key while it holds; a rejected load is forgotten; clear() forgets all, and an old load that rejects later never drops its replacement', async () => {
  const cache = new PromiseCache<string>();
  let loads = 0;
  const ok = (): Promise<string> => Promise.resolve(`v${++loads}`);
  assert.equal(await cache.get('a', ok), 'v1');
  assert.equal(await cache.get('a', ok), 'v1', 'kept');
  await assert.rejects(cache.get('b', () => Promise.reject(new Error('down'))));
  assert.equal(await cache.get('b', ok), 'v2', 'a failed load is tried again');

  let fail: (err: Error) => void = () => undefined;
  const slow = cache.get('c', () => new Promise<string>((_, reject) => (fail = reject)));
  cache.clear();
  assert.equal(await cache.get('a', ok), 'v3', 'cleared: loaded again');
  const replacement = cache.get('c', ok);
  fail(new Error('late'));
  await assert.rejects(slow);
  assert.equal(await cache.get('c', ok), await replacement, 'the replacement is still the cached one');
  assert.equal(cache.values().length, 2, 'a and c; b went with the clear');
});
