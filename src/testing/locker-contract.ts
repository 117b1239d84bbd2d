/**
 * The contract suite every {@link Locker} must pass (DESIGN.md §5; the seam in
 * `coordination/locker.ts`): one holder at a time, names independent; release lets the next one
 * in, is idempotent and never removes a successor's lock; an expired lock (its holder died) is
 * taken over, and the old holder's `lost` signal fires at its next renewal; a lock stolen by
 * another holder fires `lost` too; renewals keep a held lock alive past its TTL; `acquire` honours
 * its signal. Inspection and breaking (the optional LockInspector every certpilot locker has): a held
 * lock shows its holder, live while renewed, stale once its holder stopped renewing it, expired
 * after its TTL; a break removes only the very lock inspected (never one renewed or taken since),
 * lets the next run in at once, and the holder it was taken from finds it lost at its next renewal.
 * Call it from a test file of each implementation, against a real (or stand-in) backend.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isLockInspector, type InspectedLock, type Lock, type Locker, type LockInspector } from '../coordination/locker.js';
import type { FakeClock } from './fake-clock.js';

/** A lock the suite can renew on demand (every locker's lock has `refresh`, the heartbeat's beat). */
export interface RefreshableLock extends Lock {
  refresh(): Promise<void>;
}

/** A fresh backend for one test, and two lockers on it (two processes' views), sharing one clock. */
export interface LockerFixture {
  /** Process A's locker. */
  locker: Locker;
  /** Process B's locker on the same backend. */
  other: Locker;
  /** The clock both lockers read (advancing it expires locks without sleeping). */
  clock: FakeClock;
  /** Whether the backend holds a live lock of `name` now (as an operator would look: the lock file, the Lease's holder). */
  held(name: string): Promise<boolean>;
  /** Another holder overwrites the lock of `name` behind its holder's back (an operator, a split brain). */
  steal(name: string): Promise<void>;
  close?: () => Promise<void>;
}

/** Registers the locker contract tests under `name`; `make` is called once per test (undefined: skipped). */
export function lockerContract(name: string, make: () => Promise<LockerFixture | undefined>, options: { timeout?: number } = {}): void {
  const timeout = options.timeout ?? 30_000;
  const withFixture = async (fn: (f: LockerFixture) => Promise<void>): Promise<void> => {
    const f = await make();
    if (f === undefined) return;
    try {
      await fn(f);
    } finally {
      await f.close?.();
    }
  };
  const acquire = async (locker: Locker, lockName: string, ttlSeconds = 60): Promise<RefreshableLock | undefined> =>
    (await locker.acquire(lockName, { ttlSeconds })) as RefreshableLock | undefined;

  test(`${name}: one holder at a time, names independent`, { timeout }, () =>
    withFixture(async (f) => {
      const a = await acquire(f.locker, 'www');
      assert.ok(a, 'the first acquire gets the lock');
      assert.equal(a.lost.aborted, false);
      assert.ok(await f.held('www'));
      assert.equal(await acquire(f.other, 'www'), undefined, 'another process is refused while it is held');
      assert.equal(await acquire(f.locker, 'www'), undefined, 'and so is a second acquire in the same process');
      const b = await acquire(f.other, 'api');
      assert.ok(b, 'another name is independent');
      await a.release();
      await b.release();
    }),
  );

  test(`${name}: release (on every exit) lets the next holder in, and is idempotent`, { timeout }, () =>
    withFixture(async (f) => {
      const a = await acquire(f.locker, 'www');
      assert.ok(a);
      try {
        throw new Error('the run fails');
      } catch {
        // the run's finally
      } finally {
        await a.release();
      }
      assert.equal(await f.held('www'), false, 'nothing is held after release');
      await a.release();
      const b = await acquire(f.other, 'www');
      assert.ok(b, 'the next run gets it at once, without waiting for the TTL');
      assert.equal(a.lost.aborted, false, 'a released lock was not lost');
      await b.release();
    }),
  );

  test(`${name}: renewals keep a held lock past its TTL`, { timeout }, () =>
    withFixture(async (f) => {
      const a = await acquire(f.locker, 'www', 60);
      assert.ok(a);
      for (let i = 0; i < 4; i++) {
        f.clock.advance(30_000);
        await a.refresh();
      }
      assert.equal(a.lost.aborted, false);
      assert.equal(await acquire(f.other, 'www', 60), undefined, 'still held 120 s later, TTL 60 s, renewed every 30 s');
      await a.release();
    }),
  );

  test(`${name}: an expired lock is taken over; its old holder's lost signal fires and its release leaves the new holder's lock`, { timeout }, () =>
    withFixture(async (f) => {
      const a = await acquire(f.locker, 'www', 60);
      assert.ok(a);
      // The holder stops renewing (it hangs, or was SIGKILLed): after the TTL the lock is free.
      f.clock.advance(61_000);
      const b = await acquire(f.other, 'www', 60);
      assert.ok(b, 'the expired lock is taken over');
      await a.refresh();
      assert.equal(a.lost.aborted, true, 'the old holder learns at its next renewal that the lock is gone');
      assert.equal((a.lost.reason as { code?: string }).code, 'ERR_LOCK_LOST');
      await a.release();
      assert.ok(await f.held('www'), 'the old holder\'s release leaves the new holder\'s lock');
      assert.equal(await acquire(f.locker, 'www', 60), undefined);
      assert.equal(b.lost.aborted, false);
      await b.release();
    }),
  );

  test(`${name}: a lock stolen behind its holder's back fires lost`, { timeout }, () =>
    withFixture(async (f) => {
      const a = await acquire(f.locker, 'www', 60);
      assert.ok(a);
      await f.steal('www');
      await a.refresh();
      assert.equal(a.lost.aborted, true);
      await a.release();
      assert.ok(await f.held('www'), 'the thief\'s lock stays');
    }),
  );

  const inspector = (locker: Locker): LockInspector => {
    assert.ok(isLockInspector(locker), 'every certpilot locker can show and break its locks');
    return locker;
  };
  const inspect = async (locker: Locker, lockName: string): Promise<InspectedLock | undefined> => (await inspector(locker).inspect([lockName, 'api'])).get(lockName);

  test(`${name}: inspect shows a held lock's holder and times: live while renewed, stale once its holder stops, expired after the TTL, gone once released`, { timeout }, () =>
    withFixture(async (f) => {
      assert.equal(await inspect(f.other, 'www'), undefined, 'nothing held: nothing shown');
      const a = await acquire(f.locker, 'www', 60);
      assert.ok(a);
      const live = await inspect(f.other, 'www');
      assert.ok(live, 'another process sees the held lock');
      assert.equal(live.state, 'live', live.why);
      assert.equal(live.name, 'www');
      assert.ok(live.holder.length > 0);
      assert.equal(live.expiresAt, new Date(f.clock.now().getTime() + 60_000).toISOString());
      assert.equal(live.renewedAt, f.clock.now().toISOString());
      assert.equal(live.ttlSeconds, 60);
      // Renewed every 20 s: still live after a renewal 30 s later.
      f.clock.advance(30_000);
      await a.refresh();
      assert.equal((await inspect(f.other, 'www'))?.state, 'live');
      // Then the holder stops renewing (killed): stale after two missed beats, before it expires.
      f.clock.advance(41_000);
      const stale = await inspect(f.other, 'www');
      assert.equal(stale?.state, 'stale', stale?.why);
      assert.equal(stale?.expiresAt, new Date(f.clock.now().getTime() - 41_000 + 60_000).toISOString());
      assert.equal(await acquire(f.other, 'www', 60), undefined, 'a stale lock still holds the certificate back until it expires');
      f.clock.advance(20_000);
      assert.equal((await inspect(f.other, 'www'))?.state, 'expired');
      await a.release();
      assert.equal(await inspect(f.other, 'www'), undefined, 'a released lock is not shown');
    }),
  );

  test(`${name}: breaking a stale lock lets the next run in at once; its old holder finds it lost`, { timeout }, () =>
    withFixture(async (f) => {
      const a = await acquire(f.locker, 'www', 60);
      assert.ok(a);
      f.clock.advance(45_000);
      const stale = await inspect(f.other, 'www');
      assert.equal(stale?.state, 'stale');
      assert.equal(await inspector(f.other).breakLock(stale as InspectedLock), 'broken');
      assert.equal(await f.held('www'), false, 'nothing held after the break');
      assert.equal(await inspect(f.other, 'www'), undefined);
      const b = await acquire(f.other, 'www', 60);
      assert.ok(b, 'the next run takes it at once, without waiting for the TTL');
      await a.refresh();
      assert.equal(a.lost.aborted, true, 'the old holder learns at its next renewal that the lock is gone');
      await a.release();
      assert.ok(await f.held('www'), 'the old holder\'s release leaves the new holder\'s lock');
      assert.equal(await inspector(f.other).breakLock(stale as InspectedLock), 'changed', 'the old inspection cannot break the new holder\'s lock');
      assert.ok(await f.held('www'));
      await b.release();
      assert.equal(await inspector(f.other).breakLock(stale as InspectedLock), 'absent');
    }),
  );

  test(`${name}: a break never removes a lock renewed or taken over after it was inspected`, { timeout }, () =>
    withFixture(async (f) => {
      const a = await acquire(f.locker, 'www', 60);
      assert.ok(a);
      f.clock.advance(45_000);
      const seen = await inspect(f.other, 'www');
      assert.equal(seen?.state, 'stale');
      // The holder was only slow: it renews before the break.
      await a.refresh();
      assert.equal(await inspector(f.other).breakLock(seen as InspectedLock), 'changed');
      assert.ok(await f.held('www'), 'the renewed lock stays');
      await a.refresh();
      assert.equal(a.lost.aborted, false, 'and its holder keeps it');
      // Expired and taken over by a new run between inspection and break: the new run's lock stays.
      f.clock.advance(61_000);
      const expired = await inspect(f.other, 'www');
      assert.equal(expired?.state, 'expired');
      const b = await acquire(f.other, 'www', 60);
      assert.ok(b, 'taken over');
      assert.equal(await inspector(f.locker).breakLock(expired as InspectedLock), 'changed');
      assert.ok(await f.held('www'));
      await b.refresh();
      assert.equal(b.lost.aborted, false, 'the new run keeps its lock');
      await a.release();
      await b.release();
    }),
  );

  test(`${name}: acquire honours an aborted signal`, { timeout }, () =>
    withFixture(async (f) => {
      const controller = new AbortController();
      controller.abort(new Error('stop'));
      await assert.rejects(f.locker.acquire('www', { ttlSeconds: 60, signal: controller.signal }), /stop/);
      assert.equal(await f.held('www'), false);
    }),
  );
}
