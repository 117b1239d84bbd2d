import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FakeClock } from '../../testing/fake-clock.js';
import { tokenStoreContract } from '../../testing/token-store-contract.js';
import { MemoryTokenStore } from './memory-token-store.js';

tokenStoreContract('MemoryTokenStore', async () => {
  const clock = new FakeClock();
  return { store: new MemoryTokenStore({ clock }), clock };
});

void test('MemoryTokenStore prunes expired entries instead of keeping them', async () => {
  const clock = new FakeClock();
  const store = new MemoryTokenStore({ clock });
  await store.put('aaaaaaaaaaaaaaaa', 'a.k', 10);
  await store.put('bbbbbbbbbbbbbbbb', 'b.k', 100);
  assert.equal(store.size, 2);
  clock.advance(10_000);
  assert.equal(await store.get('aaaaaaaaaaaaaaaa'), undefined, 'expires exactly at the TTL');
  assert.equal(store.size, 1);
  await store.put('cccccccccccccccc', 'c.k', 10);
  clock.advance(100_000);
  assert.equal(store.size, 0);
});

void test('MemoryTokenStore rejects a TTL that is not a positive number', async () => {
  const store = new MemoryTokenStore({ clock: new FakeClock() });
  for (const ttl of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
    await assert.rejects(store.put('aaaaaaaaaaaaaaaa', 'a.k', ttl), { code: 'ERR_INTERNAL' });
  }
  assert.equal(await store.get('aaaaaaaaaaaaaaaa'), undefined);
});
