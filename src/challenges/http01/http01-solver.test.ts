import { readFileSync } from 'node:fs';
import { tokenStoreSolverOptionsShape } from './token-store-options.js';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pendingHttp01Challenge } from '../../testing/pending-challenge.js';
import { FakeClock } from '../../testing/fake-clock.js';
import type { ChallengeTokenStore } from './challenge-token-store.js';
import { DEFAULT_TOKEN_TTL_SECONDS, Http01Solver } from './http01-solver.js';
import { MemoryTokenStore } from './memory-token-store.js';

const challenge = pendingHttp01Challenge;

/** Records every store call. */
class RecordingStore implements ChallengeTokenStore {
  readonly calls: string[] = [];
  readonly inner = new MemoryTokenStore({ clock: new FakeClock() });
  async put(token: string, keyAuthorization: string, ttlSeconds: number): Promise<void> {
    this.calls.push(`put ${token} ${ttlSeconds}`);
    await this.inner.put(token, keyAuthorization, ttlSeconds);
  }
  async get(token: string): Promise<string | undefined> {
    this.calls.push(`get ${token}`);
    return this.inner.get(token);
  }
  async delete(token: string): Promise<void> {
    this.calls.push(`delete ${token}`);
    await this.inner.delete(token);
  }
}

void test('Http01Solver presents into the store with the one documented default TTL, 3600 s', async () => {
  const store = new RecordingStore();
  const solver = new Http01Solver({ store });
  assert.equal(solver.type, 'http-01');
  assert.equal(DEFAULT_TOKEN_TTL_SECONDS, 3600);
  // The config option's default and its documentation say the same.
  assert.equal(tokenStoreSolverOptionsShape().ttlSeconds.parse(undefined), DEFAULT_TOKEN_TTL_SECONDS);
  assert.match(readFileSync(new URL('../../../../docs/config-reference.md', import.meta.url), 'utf8'), /`solvers\.<name>\.ttlSeconds` \| integer \(60\.\.86400\) \| `3600` \|/);
  const ch = challenge('tokenAAAAAAAAAAAAAAA');
  await solver.present(ch, {});
  assert.deepEqual(store.calls, ['put tokenAAAAAAAAAAAAAAA 3600']);
  assert.equal(await store.inner.get(ch.token), ch.keyAuthorization);
});

void test('Http01Solver present is idempotent and honours a custom TTL', async () => {
  const clock = new FakeClock();
  const store = new MemoryTokenStore({ clock });
  const solver = new Http01Solver({ store, ttlSeconds: 30 });
  const ch = challenge('tokenBBBBBBBBBBBBBBB');
  await solver.present(ch, {});
  await solver.present(ch, {});
  assert.equal(store.size, 1);
  clock.advance(29_000);
  assert.equal(await store.get(ch.token), ch.keyAuthorization);
  clock.advance(1_000);
  assert.equal(await store.get(ch.token), undefined);
});

void test('Http01Solver cleanUp deletes only its own token and tolerates one already gone', async () => {
  const store = new RecordingStore();
  const solver = new Http01Solver({ store });
  const mine = challenge('tokenMINEMINEMINEMINE');
  const other = challenge('tokenOTHEROTHEROTHER');
  await solver.present(mine, {});
  await solver.present(other, {});
  await solver.cleanUp(mine, {});
  await solver.cleanUp(mine, {});
  assert.equal(await store.inner.get(mine.token), undefined);
  assert.equal(await store.inner.get(other.token), other.keyAuthorization);
  assert.deepEqual(store.calls.filter((c) => c.startsWith('delete')), ['delete tokenMINEMINEMINEMINE', 'delete tokenMINEMINEMINEMINE']);
});

void test('Http01Solver refuses a token that is not base64url before it reaches the store', async () => {
  const store = new RecordingStore();
  const solver = new Http01Solver({ store });
  for (const token of ['../../etc/passwd', 'short', 'token with spaces!!', 'a'.repeat(257), 'tok%2e%2eAAAAAAAAAAAAAA']) {
    await assert.rejects(solver.present(challenge(token), {}), { code: 'ERR_ACME_BAD_RESPONSE' });
    await solver.cleanUp(challenge(token), {});
  }
  assert.deepEqual(store.calls, []);
});

void test('Http01Solver rejects with the abort reason when the signal is aborted', async () => {
  const store = new RecordingStore();
  const solver = new Http01Solver({ store });
  const controller = new AbortController();
  const reason = new Error('stop');
  controller.abort(reason);
  await assert.rejects(solver.present(challenge('tokenCCCCCCCCCCCCCCC'), { signal: controller.signal }), (err) => err === reason);
  await assert.rejects(solver.cleanUp(challenge('tokenCCCCCCCCCCCCCCC'), { signal: controller.signal }), (err) => err === reason);
  assert.deepEqual(store.calls, []);
});
