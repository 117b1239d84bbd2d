import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FakeClock } from '../../testing/fake-clock.js';
import type { ChallengeTokenStore } from './challenge-token-store.js';
import { HitCacheTokenStore } from './hit-cache-token-store.js';
import { MemoryTokenStore } from './memory-token-store.js';

/** A store that counts reads. */
function counting(inner: ChallengeTokenStore): ChallengeTokenStore & { reads: number } {
  const s = { reads: 0, put: inner.put.bind(inner), delete: inner.delete.bind(inner), get: async (t: string) => (s.reads++, inner.get(t)) };
  return s;
}

const TOKEN = 'hitcache_token_0123456789';

test('hits are served from the cache for ttlMs, then read again', async () => {
  const clock = new FakeClock(Date.now());
  const inner = counting(new MemoryTokenStore({ clock }));
  const cache = new HitCacheTokenStore({ store: inner, ttlMs: 1000, clock });
  await inner.put(TOKEN, `${TOKEN}.thumb`, 600);
  for (let i = 0; i < 5; i++) assert.equal(await cache.get(TOKEN), `${TOKEN}.thumb`);
  assert.equal(inner.reads, 1, 'a burst of validations costs one read');
  clock.advance(1001);
  assert.equal(await cache.get(TOKEN), `${TOKEN}.thumb`);
  assert.equal(inner.reads, 2);
});

test('misses are never cached: a token written a moment later is answered at once', async () => {
  const inner = counting(new MemoryTokenStore());
  const cache = new HitCacheTokenStore({ store: inner, ttlMs: 60_000 });
  assert.equal(await cache.get(TOKEN), undefined);
  await inner.put(TOKEN, `${TOKEN}.thumb`, 600);
  assert.equal(await cache.get(TOKEN), `${TOKEN}.thumb`);
  assert.equal(inner.reads, 2);
});

test('put and delete through the cache drop its entry; ttlMs 0 caches nothing', async () => {
  const inner = new MemoryTokenStore();
  const cache = new HitCacheTokenStore({ store: inner, ttlMs: 60_000 });
  await cache.put(TOKEN, `${TOKEN}.one`, 600);
  assert.equal(await cache.get(TOKEN), `${TOKEN}.one`);
  await cache.put(TOKEN, `${TOKEN}.two`, 600);
  assert.equal(await cache.get(TOKEN), `${TOKEN}.two`);
  await cache.delete(TOKEN);
  assert.equal(await cache.get(TOKEN), undefined);
  const counted = counting(new MemoryTokenStore());
  const off = new HitCacheTokenStore({ store: counted, ttlMs: 0 });
  await counted.put(TOKEN, `${TOKEN}.x`, 600);
  await off.get(TOKEN);
  await off.get(TOKEN);
  assert.equal(counted.reads, 2);
});

test('misses are cached only when asked, briefly (at most 5 s), and a put through the cache ends it', async () => {
  const clock = new FakeClock(Date.now());
  const inner = counting(new MemoryTokenStore({ clock }));
  const off = new HitCacheTokenStore({ store: inner, ttlMs: 1000, clock });
  for (let i = 0; i < 3; i++) assert.equal(await off.get('scanner_token_0123456789'), undefined);
  assert.equal(inner.reads, 3, 'by default every miss reads the store');
  const on = new HitCacheTokenStore({ store: inner, ttlMs: 1000, missTtlMs: 60_000, clock });
  for (let i = 0; i < 5; i++) assert.equal(await on.get('scanner_token_0123456789'), undefined);
  assert.equal(inner.reads, 4, 'a scanner repeating a token costs one read per period');
  clock.advance(5001);
  assert.equal(await on.get('scanner_token_0123456789'), undefined);
  assert.equal(inner.reads, 5, 'capped at 5 s whatever the option says');
  await on.put('scanner_token_0123456789', 'scanner_token_0123456789.t', 600);
  assert.equal(await on.get('scanner_token_0123456789'), 'scanner_token_0123456789.t');
});
