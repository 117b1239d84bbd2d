import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { CertpilotError } from '../../errors.js';
import { FakeClock } from '../../testing/fake-clock.js';
import { FileLocker } from './file-locker.js';
import type { LockRecord } from './file-locker.js';

const roots: string[] = [];
function freshDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'certpilot-lock-'));
  roots.push(dir);
  return join(dir, 'locks');
}
after(() => {
  for (const dir of roots) rmSync(dir, { recursive: true, force: true });
});

/** The pid of a process that has exited (and been reaped), so it is certainly dead. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(child.stdout);
}

function writeLock(dir: string, name: string, record: Partial<LockRecord>): void {
  mkdirSync(dir, { recursive: true });
  const full: LockRecord = { pid: process.pid, hostname: hostname(), token: 'someone-else', acquiredAt: new Date().toISOString(), expiresAt: new Date(Date.now() + 3600_000).toISOString(), ...record };
  writeFileSync(join(dir, `${name}.lock`), JSON.stringify(full));
}

const LOCKER_URL = new URL('./file-locker.js', import.meta.url).href;

/** Runs a real second process that tries to acquire `name` in `dir` and prints "acquired" or "busy". */
function tryInChild(dir: string, name: string): Promise<string> {
  const code = `
    const { FileLocker } = await import(${JSON.stringify(LOCKER_URL)});
    const lock = await new FileLocker({ dir: ${JSON.stringify(dir)} }).acquire(${JSON.stringify(name)}, { ttlSeconds: 60 });
    process.stdout.write(lock ? 'acquired' : 'busy');
    await lock?.release();
  `;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (status) => (status === 0 ? resolve(out) : reject(new Error(`child exited ${status}: ${err}`))));
  });
}

describe('FileLocker', () => {
  it('gives the lock to one holder at a time', async () => {
    const dir = freshDir();
    const locker = new FileLocker({ dir });
    const first = await locker.acquire('site.example', { ttlSeconds: 60 });
    assert.ok(first);
    assert.equal(first.name, 'site.example');
    assert.equal(await locker.acquire('site.example', { ttlSeconds: 60 }), undefined);
    assert.equal(await new FileLocker({ dir }).acquire('site.example', { ttlSeconds: 60 }), undefined, 'another locker on the same dir');
    const other = await locker.acquire('other.example', { ttlSeconds: 60 });
    assert.ok(other, 'other names are independent');
    await first.release();
    await other.release();
  });

  it('writes an owner record with pid, host and expiry, readable only by us', async () => {
    const dir = freshDir();
    const clock = new FakeClock('2026-05-01T00:00:00Z');
    const lock = await new FileLocker({ dir, clock }).acquire('site.example', { ttlSeconds: 90 });
    assert.ok(lock);
    const file = join(dir, 'site.example.lock');
    const record = JSON.parse(readFileSync(file, 'utf8')) as LockRecord;
    assert.equal(record.pid, process.pid);
    assert.equal(record.hostname, hostname());
    assert.equal(record.expiresAt, '2026-05-01T00:01:30.000Z');
    assert.equal(statSync(file).mode & 0o777, 0o600);
    await lock.release();
  });

  it('can be acquired again after release; release is idempotent', async () => {
    const dir = freshDir();
    const locker = new FileLocker({ dir });
    const first = await locker.acquire('site.example', { ttlSeconds: 60 });
    assert.ok(first);
    await first.release();
    await first.release();
    const second = await locker.acquire('site.example', { ttlSeconds: 60 });
    assert.ok(second);
    // The first holder's second release must not delete the second holder's lock.
    await first.release();
    assert.equal(await locker.acquire('site.example', { ttlSeconds: 60 }), undefined);
    await second.release();
    assert.deepEqual(readdirSync(dir), [], 'no lock, marker or temp file left');
  });

  it('takes over a lock whose holder on this host died', async () => {
    const dir = freshDir();
    const locker = new FileLocker({ dir });
    writeLock(dir, 'site.example', { pid: deadPid() });
    const lock = await locker.acquire('site.example', { ttlSeconds: 60 });
    assert.ok(lock, 'stale lock taken over');
    const record = JSON.parse(readFileSync(join(dir, 'site.example.lock'), 'utf8')) as LockRecord;
    assert.equal(record.pid, process.pid);
    await lock.release();
  });

  it('respects a live holder on another host until its TTL passes', async () => {
    const dir = freshDir();
    const clock = new FakeClock('2026-05-01T00:00:00Z');
    const locker = new FileLocker({ dir, clock });
    writeLock(dir, 'site.example', { hostname: 'other-host.invalid', pid: 1, expiresAt: '2026-05-01T00:05:00.000Z' });
    assert.equal(await locker.acquire('site.example', { ttlSeconds: 60 }), undefined);
    clock.set('2026-05-01T00:05:00.001Z');
    const lock = await locker.acquire('site.example', { ttlSeconds: 60 });
    assert.ok(lock, 'expired lock taken over');
    await lock.release();
  });

  it('lets only one of three racing takers win a stale lock', async () => {
    const dir = freshDir();
    for (let round = 0; round < 20; round++) {
      writeLock(dir, 'site.example', { hostname: 'other-host.invalid', pid: 1, token: `stale-${round}`, expiresAt: new Date(Date.now() - 1000).toISOString() });
      const results = await Promise.all([1, 2, 3].map(() => new FileLocker({ dir }).acquire('site.example', { ttlSeconds: 60 })));
      const winners = results.filter((l) => l !== undefined);
      assert.equal(winners.length, 1, `round ${round}: ${winners.length} winners`);
      await winners[0]?.release();
    }
  });

  it('refreshes the expiry while held', async () => {
    const dir = freshDir();
    const clock = new FakeClock('2026-05-01T00:00:00Z');
    const lock = await new FileLocker({ dir, clock }).acquire('site.example', { ttlSeconds: 60 });
    assert.ok(lock);
    clock.advance(50_000);
    await lock.refresh();
    const record = JSON.parse(readFileSync(join(dir, 'site.example.lock'), 'utf8')) as LockRecord;
    assert.equal(record.expiresAt, '2026-05-01T00:01:50.000Z');
    // Another process's view: not expired at 00:01:10 thanks to the refresh.
    const later = new FakeClock('2026-05-01T00:01:10Z');
    assert.equal(await new FileLocker({ dir, clock: later }).acquire('site.example', { ttlSeconds: 60 }), undefined);
    await lock.release();
  });

  it('keeps a real second process out while held, and lets it in after release', async () => {
    const dir = freshDir();
    const lock = await new FileLocker({ dir }).acquire('site.example', { ttlSeconds: 60 });
    assert.ok(lock);
    assert.equal(await tryInChild(dir, 'site.example'), 'busy');
    await lock.release();
    assert.equal(await tryInChild(dir, 'site.example'), 'acquired');
  });

  it('shows who holds a lock: a dead process on this host as expired, an old-format file (no renewedAt) live until it expires', async () => {
    const dir = freshDir();
    const clock = new FakeClock('2026-05-01T00:00:00Z');
    const locker = new FileLocker({ dir, clock });
    writeLock(dir, 'dead.example', { pid: deadPid(), expiresAt: '2026-05-01T00:10:00.000Z' });
    writeLock(dir, 'old.example', { hostname: 'other-host.invalid', pid: 7, acquiredAt: '2026-04-30T23:00:00.000Z', expiresAt: '2026-05-01T00:10:00.000Z' });
    const seen = await locker.inspect(['dead.example', 'old.example', 'none.example']);
    assert.deepEqual([...seen.keys()].sort(), ['dead.example', 'old.example']);
    assert.equal(seen.get('dead.example')?.state, 'expired');
    assert.match(seen.get('dead.example')?.why ?? '', /no longer runs on this host/);
    assert.equal(seen.get('old.example')?.state, 'live');
    assert.equal(seen.get('old.example')?.holder, 'pid 7 on other-host.invalid');
    assert.equal(seen.get('old.example')?.where, `lock file ${join(dir, 'old.example.lock')}`);
    clock.set('2026-05-01T00:10:00.000Z');
    assert.equal((await locker.inspect(['old.example'])).get('old.example')?.state, 'expired');
    assert.equal((await new FileLocker({ dir: join(dir, 'missing') }).inspect(['old.example'])).size, 0, 'no lock directory: nothing held');
  });

  it('never breaks a lock file swapped after inspection (a copy with the same content, or a symlink to one), nor follows a link', async () => {
    const dir = freshDir();
    const clock = new FakeClock('2026-05-01T00:00:00Z');
    const locker = new FileLocker({ dir, clock });
    const lock = await locker.acquire('site.example', { ttlSeconds: 60 });
    assert.ok(lock);
    clock.advance(45_000);
    const seen = (await locker.inspect(['site.example'])).get('site.example');
    assert.equal(seen?.state, 'stale');
    const file = join(dir, 'site.example.lock');
    const content = readFileSync(file, 'utf8');
    // Same bytes, another inode (what a refresh's rename leaves): not the lock that was inspected.
    writeFileSync(`${file}.copy`, content, { mode: 0o600 });
    renameSync(`${file}.copy`, file);
    assert.equal(await locker.breakLock(seen!), 'changed');
    assert.equal(readFileSync(file, 'utf8'), content, 'the lock file stays');
    // A symlink to a file elsewhere holding the same record: never followed, never removed through.
    const outside = join(dir, '..', 'outside.lock');
    writeFileSync(outside, content);
    rmSync(file);
    symlinkSync(outside, file);
    assert.equal((await locker.inspect(['site.example'])).size, 0, 'a link is no lock file');
    assert.equal(await locker.breakLock(seen!), 'absent');
    assert.equal(readFileSync(outside, 'utf8'), content, 'the link target is untouched');
    assert.ok(statSync(file, { throwIfNoEntry: false }) !== undefined, 'and the link itself stays');
    assert.deepEqual(readdirSync(dir).sort(), ['site.example.lock'], 'no marker or temp file left');
    await lock.release();
  });

  it('refuses unsafe names', async () => {
    const locker = new FileLocker({ dir: freshDir() });
    await assert.rejects(locker.acquire('../escape', { ttlSeconds: 60 }), (err: unknown) => err instanceof CertpilotError && err.code === 'ERR_STORAGE_NAME');
  });
});
