/**
 * The contract suite every {@link ChallengeTokenStore} must pass (DESIGN.md §5): round trip,
 * overwrite, idempotent delete, absence, and expiry after the TTL. Call it from a test file of each
 * implementation; the Redis store runs it against a real server with real expiry.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ChallengeTokenStore } from '../challenges/http01/challenge-token-store.js';
import type { FakeClock } from './fake-clock.js';

/** A fresh store for one test, with a way to move its time forward and to release it. */
export interface TokenStoreFixture {
  store: ChallengeTokenStore;
  /** The store's clock, when it expires by a clock; `advance` defaults to moving it. */
  clock?: FakeClock;
  /** Moves the store's time forward by `ms` (a real store may simply wait). */
  advance?: (ms: number) => Promise<void>;
  /** Releases the store (connections, keys) after the test. */
  close?: () => Promise<void>;
}

let counter = 0;

/** A distinct valid token per call, so runs against a shared server never collide. */
function token(label: string): string {
  counter += 1;
  return `contract_${label}_${process.pid}_${Date.now().toString(36)}_${counter}`.replace(/[^A-Za-z0-9_-]/g, '-').slice(0, 200);
}

/** Registers the token-store contract tests under `name`; `make` is called once per test. */
export function tokenStoreContract(name: string, make: () => Promise<TokenStoreFixture>): void {
  const withStore = async (fn: (fixture: TokenStoreFixture) => Promise<void>): Promise<void> => {
    const fixture = await make();
    try {
      await fn(fixture);
    } finally {
      await fixture.close?.();
    }
  };

  const advancer = (fixture: TokenStoreFixture): ((ms: number) => Promise<void>) | undefined => {
    if (fixture.advance !== undefined) return fixture.advance;
    const clock = fixture.clock;
    if (clock === undefined) return undefined;
    return async (ms) => clock.advance(ms);
  };

  void test(`${name}: put then get returns the key authorization exactly`, () =>
    withStore(async ({ store }) => {
      const t = token('roundtrip');
      const keyAuthorization = `${t}.thumbprint-AbC_09-xyz`;
      await store.put(t, keyAuthorization, 600);
      assert.equal(await store.get(t), keyAuthorization);
      assert.equal(await store.get(t), keyAuthorization, 'a read does not consume the token');
    }));

  void test(`${name}: get of an absent token returns undefined`, () =>
    withStore(async ({ store }) => {
      assert.equal(await store.get(token('absent')), undefined);
    }));

  void test(`${name}: put overwrites the value`, () =>
    withStore(async ({ store }) => {
      const t = token('overwrite');
      await store.put(t, `${t}.first`, 600);
      await store.put(t, `${t}.second`, 600);
      assert.equal(await store.get(t), `${t}.second`);
    }));

  void test(`${name}: tokens are independent; delete removes only its own`, () =>
    withStore(async ({ store }) => {
      const a = token('a');
      const b = token('b');
      await store.put(a, `${a}.ka`, 600);
      await store.put(b, `${b}.kb`, 600);
      assert.equal(await store.get(a), `${a}.ka`);
      assert.equal(await store.get(b), `${b}.kb`);
      await store.delete(a);
      assert.equal(await store.get(a), undefined);
      assert.equal(await store.get(b), `${b}.kb`, 'deleting one token keeps the others');
      await store.delete(b);
    }));

  void test(`${name}: delete is idempotent`, () =>
    withStore(async ({ store }) => {
      const t = token('delete');
      await store.delete(t);
      await store.put(t, `${t}.k`, 600);
      await store.delete(t);
      await store.delete(t);
      assert.equal(await store.get(t), undefined);
    }));

  void test(`${name}: every base64url character and the longest token round trip`, () =>
    withStore(async ({ store }) => {
      const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
      const t = (token('alphabet') + alphabet + alphabet + alphabet + alphabet).slice(0, 256);
      assert.equal(t.length, 256);
      await store.put(t, `${t}.k`, 600);
      assert.equal(await store.get(t), `${t}.k`);
      await store.delete(t);
    }));

  void test(`${name}: concurrent puts of different tokens all land`, () =>
    withStore(async ({ store }) => {
      const tokens = Array.from({ length: 25 }, (_, i) => token(`par${i}`));
      await Promise.all(tokens.map((t) => store.put(t, `${t}.k`, 600)));
      const values = await Promise.all(tokens.map((t) => store.get(t)));
      assert.deepEqual(values, tokens.map((t) => `${t}.k`));
      await Promise.all(tokens.map((t) => store.delete(t)));
    }));

  void test(`${name}: a token expires after its TTL`, async (t) => {
    await withStore(async (fixture) => {
      const advance = advancer(fixture);
      if (advance === undefined) {
        t.skip('the fixture gives neither clock nor advance, so expiry cannot be checked');
        return;
      }
      const tok = token('ttl');
      await fixture.store.put(tok, `${tok}.k`, 2);
      await advance(1000);
      assert.equal(await fixture.store.get(tok), `${tok}.k`, 'still readable before the TTL');
      await advance(1500);
      assert.equal(await fixture.store.get(tok), undefined, 'gone after the TTL');
    });
  });

  void test(`${name}: an overwrite restarts the TTL`, async (t) => {
    await withStore(async (fixture) => {
      const advance = advancer(fixture);
      if (advance === undefined) {
        t.skip('the fixture gives neither clock nor advance, so expiry cannot be checked');
        return;
      }
      const tok = token('ttl2');
      await fixture.store.put(tok, `${tok}.first`, 2);
      await advance(1000);
      await fixture.store.put(tok, `${tok}.second`, 4);
      await advance(1500);
      assert.equal(await fixture.store.get(tok), `${tok}.second`, 'the new TTL applies');
      await fixture.store.delete(tok);
    });
  });
}
