import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NoncePool } from './nonce-pool.js';

function counting(): { fetch: () => Promise<string>; calls: () => number } {
  let n = 0;
  return { fetch: () => Promise.resolve(`fetched${++n}`), calls: () => n };
}

test('fetches (HEAD newNonce) only when the pool is empty', async () => {
  const f = counting();
  const pool = new NoncePool(f.fetch);
  assert.equal(await pool.take(), 'fetched1');
  pool.add('fromResponse1');
  pool.add('fromResponse2');
  assert.equal(await pool.take(), 'fromResponse2');
  assert.equal(await pool.take(), 'fromResponse1');
  assert.equal(f.calls(), 1);
  assert.equal(await pool.take(), 'fetched2');
  assert.equal(f.calls(), 2);
});

test('each pooled nonce is handed out once', async () => {
  const f = counting();
  const pool = new NoncePool(f.fetch);
  pool.add('only');
  const got = await Promise.all([pool.take(), pool.take()]);
  assert.deepEqual(got.sort(), ['fetched1', 'only']);
});

test('ignores missing and malformed Replay-Nonce values', async () => {
  const pool = new NoncePool(counting().fetch);
  pool.add(undefined);
  pool.add(null);
  pool.add('');
  pool.add('not a nonce!');
  assert.equal(pool.size, 0);
  pool.add(['first', 'second']);
  assert.equal(await pool.take(), 'first');
});

test('stays bounded, dropping the oldest', async () => {
  const pool = new NoncePool(counting().fetch, { maxSize: 2 });
  pool.add('a');
  pool.add('b');
  pool.add('c');
  assert.equal(pool.size, 2);
  assert.equal(await pool.take(), 'c');
  assert.equal(await pool.take(), 'b');
  assert.equal(await pool.take(), 'fetched1');
});
