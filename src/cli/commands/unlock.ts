/**
 * `certpilot unlock NAME`: breaks the lock another run left on a certificate (a run killed with
 * `kill -9`, a pod lost with its node), so the next run need not wait for the lock's TTL
 * (`renewal.lockTtlSeconds`). Safe by default: a live lock (its holder renewed it within two
 * heartbeats) is refused unless `--force`, and the lock is broken only while it is still the one
 * inspected (Lease: its resourceVersion as precondition; lock file: the same inode and content),
 * so a lock a new run has just taken, or that its holder renewed meanwhile, is never broken.
 * Says whose lock it broke. Nothing else is changed: no state, no certificate, nothing at the CA.
 */
import type { InspectedLock } from '../../coordination/locker.js';
import { CertpilotError } from '../../errors.js';
import { EXIT, type CommandContext } from '../main.js';
import { formatTime } from '../output.js';
import { lockInspector, unlockCommand } from '../locks.js';
import { openRuntime } from '../runtime.js';

/** Entry point of `certpilot unlock`. */
export async function run(ctx: CommandContext): Promise<number> {
  const names = [...ctx.positionals, ...(ctx.values.name ?? [])];
  if (names.length !== 1) {
    throw new CertpilotError('ERR_CLI_USAGE', `cli: unlock takes one certificate name, ${names.length === 0 ? 'and none was given' : `not ${names.length}`}`, {
      hint: 'Run `certpilot unlock NAME`; `certpilot status` shows which certificates are locked, by whom, and whether the lock is stale.',
    });
  }
  const name = names[0] as string;
  const runtime = await openRuntime(ctx, false);
  try {
    const inspector = await lockInspector(runtime);
    const lock = (await inspector.inspect([name], ctx.signal ? { signal: ctx.signal } : {})).get(name);
    if (!lock) {
      const { store, config } = runtime;
      const known = [...new Set([...config.certificates.map((c) => c.name), ...(await store.list()), ...(await store.listStates())])];
      if (!known.includes(name)) {
        throw new CertpilotError('ERR_CERT_UNKNOWN', `unlock: no certificate named "${name}", configured or stored, and no lock of that name`, { hint: `Certificates: ${known.join(', ') || 'none'}.` });
      }
      return done(ctx, name, 'not-locked', undefined, `not locked: ${name}: no run holds its lock`);
    }
    if (lock.state === 'live' && ctx.values.force !== true) {
      throw new CertpilotError('ERR_LOCK_LIVE', `unlock ${name}: its lock is live: held by ${lock.holder} (${lock.where}), renewed ${lock.renewedAt ? formatTime(lock.renewedAt) : 'recently'}, expires ${formatTime(lock.expiresAt)}; nothing was changed`, {
        hint: `A run is at work under it: let it finish (\`certpilot status --name ${name}\` shows when its holder stops renewing it). If you know that holder is gone (a frozen process, a node cut off), \`${unlockCommand(ctx, name)} --force\` breaks it; the holder stops writing at its next heartbeat.`,
      });
    }
    const result = await inspector.breakLock(lock);
    if (result === 'changed') {
      throw new CertpilotError('ERR_LOCK_CHANGED', `unlock ${name}: the lock changed after it was read (its holder renewed it, or a run released or took it): nothing was broken`, {
        hint: `Run \`certpilot status --name ${name}\` to see who holds it now, then unlock again if it is still stale.`,
      });
    }
    if (result === 'absent') return done(ctx, name, 'not-locked', undefined, `not locked: ${name}: its lock was released before it could be broken`);
    const times = `${lock.acquiredAt ? `acquired ${formatTime(lock.acquiredAt)}, ` : ''}${lock.renewedAt ? `last renewed ${formatTime(lock.renewedAt)}, ` : ''}expiring ${formatTime(lock.expiresAt)}`;
    return done(ctx, name, 'broken', lock, `unlocked ${name}: broke the ${lock.state} lock of ${lock.holder} (${lock.where}; ${times}); the next run takes the certificate${lock.state === 'live' ? '; its holder stops writing at its next heartbeat' : ''}`);
  } finally {
    await runtime.close();
  }
}

function done(ctx: CommandContext, name: string, result: 'broken' | 'not-locked', lock: InspectedLock | undefined, line: string): number {
  if (ctx.values.json) {
    const { seen: _seen, ...shown } = lock ?? ({} as Partial<InspectedLock>);
    ctx.output.out(JSON.stringify({ name, result, ...(lock ? { lock: shown } : {}) }, null, 2));
  } else {
    ctx.output.out(line);
  }
  return EXIT.ok;
}
