/**
 * The filesystem backend's {@link WritableProbe}: before an order, proves the state directory's
 * volume takes a new version now, by writing, fsyncing and removing a probe file of its size in
 * the certificate's archive directory. A full volume found here costs nothing: no order was placed.
 */
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { CertpilotError } from '../../../errors.js';
import { ensureDir, ioError, removeFile } from '../../../fs/atomic-write.js';
import type { WriteFaultHook } from '../../../fs/atomic-write.js';

/** Creates the certificate's folders and writes, fsyncs and removes a probe of `bytes` bytes. */
export async function probeDisk(stateDir: string, safe: string, bytes: number, faults?: WriteFaultHook): Promise<void> {
  const archiveDir = join(stateDir, 'archive', safe);
  try {
    await ensureDir(archiveDir, faults, `archive/${safe}`);
    await ensureDir(join(stateDir, 'live'), faults, 'live');
  } catch (err) {
    throw notWritable(stateDir, err);
  }
  const probe = join(archiveDir, `.probe-${process.pid}-${Date.now()}`);
  let handle: fs.FileHandle | undefined;
  try {
    handle = await fs.open(probe, 'wx', 0o600);
    // A full volume may take part of a write without an error: write until all of it is in.
    const block = Buffer.alloc(bytes);
    for (let done = 0; done < bytes; ) {
      const { bytesWritten } = await handle.write(block, done, bytes - done);
      if (bytesWritten === 0) throw Object.assign(new Error('no space left'), { code: 'ENOSPC' });
      done += bytesWritten;
    }
    await handle.sync();
  } catch (err) {
    throw notWritable(stateDir, err);
  } finally {
    await handle?.close().catch(() => undefined);
    await removeFile(probe).catch(() => undefined);
  }
}

function notWritable(stateDir: string, err: unknown): CertpilotError {
  if (err instanceof CertpilotError && (err.cause as NodeJS.ErrnoException | undefined)?.code !== 'ENOSPC') return err;
  const code = (err instanceof CertpilotError ? (err.cause as NodeJS.ErrnoException | undefined)?.code : (err as NodeJS.ErrnoException).code) ?? 'error';
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return new CertpilotError('ERR_STORAGE_FULL', `storage: ${stateDir} has no room for a new certificate version (${code}); no order was placed`, { cause: err });
  }
  return err instanceof CertpilotError ? err : ioError(`preparing ${stateDir} for a new version (no order was placed)`, err);
}
