// The file locker passes the locker contract (src/testing/locker-contract.ts) on a temp directory.
import { randomBytes } from 'node:crypto';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { FakeClock } from '../../testing/fake-clock.js';
import { lockerContract } from '../../testing/locker-contract.js';
import { tempDir } from '../../testing/temp-dir.js';
import { FileLocker, type LockRecord } from './file-locker.js';

lockerContract('file locker', async () => {
  const dir = await tempDir('certpilot-locker-');
  const clock = new FakeClock('2026-05-01T00:00:00Z');
  const locker = new FileLocker({ dir: dir, clock });
  const path = (name: string): string => locker.lockPath(name);
  return {
    locker,
    other: new FileLocker({ dir: dir, clock }),
    clock,
    held: async (name) => {
      try {
        const record = JSON.parse(await readFile(path(name), 'utf8')) as LockRecord;
        return Date.parse(record.expiresAt) > clock.now().getTime();
      } catch {
        return false;
      }
    },
    steal: async (name) => {
      const record: LockRecord = { pid: process.pid, hostname: hostname(), token: randomBytes(12).toString('hex'), acquiredAt: clock.now().toISOString(), expiresAt: new Date(clock.now().getTime() + 3_600_000).toISOString() };
      const tmp = `${path(name)}.steal`;
      await writeFile(tmp, JSON.stringify(record));
      await rename(tmp, path(name));
    },
  };
});
