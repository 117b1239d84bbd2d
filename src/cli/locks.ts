/**
 * The locks other runs hold, as `certpilot status` shows them and `certpilot unlock` breaks them:
 * read through the configured locker's inspection (`coordination/locker.ts` LockInspector), with
 * the verbs and files its `acquire` already uses.
 */
import { isLockInspector, type InspectedLock, type LockInspector } from '../coordination/locker.js';
import { CertpilotError } from '../errors.js';
import { shellName } from '../challenges/dns-persist01/record.js';
import type { RenewalState } from '../storage/certificate-store.js';
import type { Runtime } from './compose.js';
import type { CommandContext } from './main.js';

/** The configured locker's inspection, or an error saying that locker cannot show its locks. */
export async function lockInspector(runtime: Runtime): Promise<LockInspector> {
  const locker = await runtime.locker();
  if (!isLockInspector(locker)) {
    throw new CertpilotError('ERR_INTERNAL', `locks: the ${runtime.config.locker.type} locker cannot show or break its locks`);
  }
  return locker;
}

/** The held locks of `names`, or the error that kept them from being read (status goes on without them). */
export async function readLocks(runtime: Runtime, names: readonly string[], signal?: AbortSignal): Promise<{ locks: Map<string, InspectedLock>; error?: CertpilotError }> {
  try {
    return { locks: await (await lockInspector(runtime)).inspect(names, signal ? { signal } : {}) };
  } catch (err) {
    if (signal?.aborted) throw err;
    const error = err instanceof CertpilotError ? err : new CertpilotError('ERR_INTERNAL', String(err), { cause: err });
    return { locks: new Map(), error };
  }
}

/** The `certpilot unlock NAME` line for `name`, with the --config and --state-dir this run was given. */
export function unlockCommand(ctx: CommandContext, name: string): string {
  const flags = [
    ...(ctx.values.config ? ['--config', shellName(ctx.values.config)] : []),
    ...(ctx.values['state-dir'] ? ['--state-dir', shellName(ctx.values['state-dir'])] : []),
  ];
  return ['certpilot unlock', shellName(name), ...flags].join(' ');
}

/**
 * Of the certificates a run found `locked`, those no live holder is working on: their lock is stale
 * (its holder stopped renewing it: killed, frozen), expired, or could not be read. Each gets a
 * warning on stderr naming what to do. A lock released since (its holder finished) or renewed by a
 * live holder is work in other hands: not listed.
 */
export async function lockedWithoutLiveHolder(ctx: CommandContext, runtime: Runtime, locked: readonly string[]): Promise<string[]> {
  // An interrupted run exits 130 whatever its locks say (and reads nothing more).
  if (locked.length === 0 || ctx.signal?.aborted) return [];
  const read = await readLocks(runtime, locked, ctx.signal);
  if (read.error) {
    ctx.output.err(`warning: ${locked.join(', ')}: locked, and the locks could not be read to tell whether a live run holds them: error ${read.error.code}: ${read.error.message}`);
    return [...locked];
  }
  const stuck: string[] = [];
  for (const name of locked) {
    const lock = read.locks.get(name);
    if (!lock || lock.state === 'live') continue;
    stuck.push(name);
    ctx.output.err(
      lock.state === 'stale'
        ? `warning: ${name}: not renewed: its lock is stale (${lock.holder}, ${lock.where}): ${lock.why}; if that run is gone, \`${unlockCommand(ctx, name)}\` breaks it`
        : `warning: ${name}: not renewed: its lock (${lock.holder}) ${lock.why.replace(/^it /, '')}`,
    );
  }
  return stuck;
}

/**
 * Changes `name`'s renewal state under its lock, as every state write is made (read, `change`,
 * write through the lock's fence): `false` when another run holds the lock (nothing written);
 * throws what the lock or the store threw.
 */
export async function updateStateUnderLock(runtime: Runtime, name: string, change: (state: RenewalState) => RenewalState, signal?: AbortSignal): Promise<boolean> {
  const context = runtime.renewalContext();
  const lock = await context.locker.acquire(name, { ttlSeconds: context.lockTtlSeconds, ...(signal ? { signal } : {}) });
  if (!lock) return false;
  try {
    const store = runtime.store.fenced(lock.lost);
    await store.saveState(name, change(await store.loadState(name)));
    return true;
  } finally {
    await lock.release();
  }
}
