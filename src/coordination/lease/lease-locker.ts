/**
 * A {@link Locker} on Kubernetes: one `coordination.k8s.io/v1` Lease per certificate, as
 * client-go's leader election uses one (KEP-589 "efficient node heartbeats" made the Lease API;
 * `k8s.io/client-go/tools/leaderelection/resourcelock/leaselock.go`). Runs on any node of any zone
 * take turns with no shared volume.
 *
 * - The Lease holds `holderIdentity` (our identity plus a random suffix per acquisition),
 *   `leaseDurationSeconds` (the lock's TTL), `acquireTime`, `renewTime` and `leaseTransitions`
 *   (incremented on every change of holder, as client-go does).
 * - Acquire: no Lease → create it (a 409 AlreadyExists means another run created it first:
 *   busy). A Lease with an empty holder, or whose `renewTime + leaseDurationSeconds` has passed by
 *   our clock, is taken over by an update with the `resourceVersion` we read as precondition: of
 *   two takers one gets 409 Conflict and returns busy. A live holder: busy, at once.
 * - While held, the heartbeat (`../heartbeat.ts`) renews `renewTime` every third of the duration,
 *   with our last resourceVersion as precondition; a Lease whose holder is no longer us was taken
 *   over: `lost` aborts.
 * - Release (every exit of the run): clears the holder, as client-go's `ReleaseOnCancel` does
 *   (empty `holderIdentity`, `leaseDurationSeconds: 1`), only while we still hold it.
 *
 * - Inspect (`certpilot status`, `certpilot unlock`): a get per certificate, the verb `acquire`
 *   uses. Break (`certpilot unlock`): the release's update (holder cleared) with the
 *   resourceVersion seen as precondition, so a Lease renewed or taken since is a 409 and stays.
 *   No verb beyond the ones `acquire` needs (get, create, update).
 *
 * Expiry is judged by the acquirer's clock against the holder's `renewTime`: hosts' clocks must
 * agree to well within the duration (lockTtlSeconds, 900 s by default), as NTP keeps them.
 */
import { randomBytes } from 'node:crypto';
import { systemClock, type Clock } from '../../clock.js';
import { CertpilotError } from '../../errors.js';
import type { LeaseRecord } from '../../kubernetes/kubernetes-client.js';
import { silentLogger, type Logger } from '../../logger.js';
import { Heartbeat } from '../heartbeat.js';
import { lockState, type AcquireOptions, type BreakResult, type InspectedLock, type Lock, type Locker, type LockInspector } from '../locker.js';
import { leaseName } from './lease-name.js';

/** The Lease calls of the one Kubernetes adapter (`kubernetes/kubernetes-client.ts`) the locker makes. */
export interface LeaseClient {
  readonly namespace: string;
  getLease(name: string): Promise<LeaseRecord | undefined>;
  createLease(lease: LeaseRecord): Promise<LeaseRecord>;
  updateLease(lease: LeaseRecord & { resourceVersion: string }): Promise<LeaseRecord>;
}

/** Options of {@link LeaseLocker}. */
export interface LeaseLockerOptions {
  client: LeaseClient;
  /** Prefix of the Lease names (`certpilot-`). */
  prefix: string;
  /** Who we are (the pod's name); a random suffix is added per acquisition. */
  identity: string;
  clock?: Clock;
  logger?: Logger;
}

/** Labels on every Lease certpilot creates. */
export const LEASE_LABELS: Readonly<Record<string, string>> = { 'app.kubernetes.io/managed-by': 'certpilot' };

function isConflict(err: unknown): boolean {
  return err instanceof CertpilotError && err.code === 'ERR_KUBERNETES_CONFLICT';
}

/** True when the Lease has no holder or its holder did not renew it within its duration. */
export function leaseExpired(lease: LeaseRecord, now: Date): boolean {
  if (!lease.holderIdentity) return true;
  const renewed = (lease.renewTime ?? lease.acquireTime)?.getTime();
  if (renewed === undefined) return true;
  return renewed + (lease.leaseDurationSeconds ?? 0) * 1000 <= now.getTime();
}

/** Mutual exclusion by Kubernetes Leases; see the module comment. */
export class LeaseLocker implements Locker, LockInspector {
  private readonly clock: Clock;
  private readonly logger: Logger;

  constructor(private readonly o: LeaseLockerOptions) {
    this.clock = o.clock ?? systemClock;
    this.logger = o.logger ?? silentLogger;
  }

  /** The Lease name of `name`'s lock. */
  leaseName(name: string): string {
    return leaseName(this.o.prefix, name);
  }

  /** Takes the Lease of `name`, or returns `undefined` at once when a live holder has it. */
  async acquire(name: string, options: AcquireOptions): Promise<LeaseLock | undefined> {
    options.signal?.throwIfAborted();
    if (!(options.ttlSeconds > 0)) {
      throw new CertpilotError('ERR_INTERNAL', `lease-locker: acquiring ${name} failed: ttlSeconds must be positive, got ${options.ttlSeconds}`);
    }
    const lease = this.leaseName(name);
    const identity = `${this.o.identity}_${randomBytes(6).toString('hex')}`;
    const ttl = Math.ceil(options.ttlSeconds);
    const now = this.clock.now();
    const existing = await this.o.client.getLease(lease);
    options.signal?.throwIfAborted();
    const spec = { holderIdentity: identity, leaseDurationSeconds: ttl, acquireTime: now, renewTime: now };
    let held: LeaseRecord;
    try {
      if (existing === undefined) {
        held = await this.o.client.createLease({ name: lease, labels: { ...LEASE_LABELS }, ...spec, leaseTransitions: 0 });
      } else {
        if (!leaseExpired(existing, now)) {
          this.logger.debug({ name, lease, holder: existing.holderIdentity, renewTime: existing.renewTime?.toISOString() }, 'lease-locker: lock held');
          return undefined;
        }
        held = await this.o.client.updateLease({
          ...existing,
          ...spec,
          leaseTransitions: (existing.leaseTransitions ?? 0) + 1,
          resourceVersion: existing.resourceVersion ?? '',
        });
        if (existing.holderIdentity) {
          this.logger.info({ name, lease, previous: existing.holderIdentity, renewTime: existing.renewTime?.toISOString() }, 'lease-locker: took over an expired lease');
        }
      }
    } catch (err) {
      // Another run created or took it between our read and our write: it holds the lock.
      if (isConflict(err)) return undefined;
      throw err;
    }
    return new LeaseLock(name, this.o.client, held, identity, ttl * 1000, this.clock, this.logger);
  }

  /** The held Leases of `names` (a get each, at most 8 at once); a released one (no holder) is left out. */
  async inspect(names: readonly string[], options: { signal?: AbortSignal } = {}): Promise<Map<string, InspectedLock>> {
    const out = new Map<string, InspectedLock>();
    const queue = [...names];
    const worker = async (): Promise<void> => {
      for (let name = queue.shift(); name !== undefined; name = queue.shift()) {
        options.signal?.throwIfAborted();
        const lease = await this.o.client.getLease(this.leaseName(name));
        const seen = lease ? this.describe(name, lease) : undefined;
        if (seen) out.set(name, seen);
      }
    };
    await Promise.all(Array.from({ length: Math.min(8, names.length) }, worker));
    return out;
  }

  private describe(name: string, lease: LeaseRecord): InspectedLock | undefined {
    if (!lease.holderIdentity) return undefined;
    const renewed = lease.renewTime ?? lease.acquireTime;
    const ttlMs = (lease.leaseDurationSeconds ?? 0) * 1000;
    const expiresAt = new Date((renewed?.getTime() ?? 0) + ttlMs);
    return {
      name,
      where: `Lease ${this.o.client.namespace}/${lease.name}`,
      holder: lease.holderIdentity,
      acquiredAt: lease.acquireTime?.toISOString(),
      renewedAt: renewed?.toISOString(),
      expiresAt: expiresAt.toISOString(),
      ttlSeconds: lease.leaseDurationSeconds,
      ...lockState(this.clock.now(), { renewedAt: renewed, expiresAt, ttlMs }),
      seen: JSON.stringify([lease.resourceVersion ?? '', lease.holderIdentity]),
    };
  }

  /**
   * Clears the Lease's holder, as its holder's release would, only while it is the Lease `lock`
   * saw: its resourceVersion is the update's precondition (409: renewed or taken since).
   */
  async breakLock(lock: InspectedLock): Promise<BreakResult> {
    const [resourceVersion, holder] = JSON.parse(lock.seen) as [string, string];
    const current = await this.o.client.getLease(this.leaseName(lock.name));
    if (!current?.holderIdentity) return 'absent';
    if (current.resourceVersion !== resourceVersion || current.holderIdentity !== holder) return 'changed';
    try {
      await this.o.client.updateLease({ ...current, holderIdentity: '', leaseDurationSeconds: 1, renewTime: this.clock.now(), resourceVersion });
    } catch (err) {
      if (isConflict(err)) return 'changed';
      throw err;
    }
    this.logger.info({ name: lock.name, lease: current.name, previous: holder }, 'lease-locker: broke the lock');
    return 'broken';
  }
}

/** A held Lease: renewed by the heartbeat until released; `lost` once another holder has it. */
export class LeaseLock implements Lock {
  private released = false;
  private readonly heartbeat: Heartbeat;

  constructor(
    readonly name: string,
    private readonly client: LeaseClient,
    private lease: LeaseRecord,
    /** Our holderIdentity in the Lease. */
    readonly identity: string,
    ttlMs: number,
    private readonly clock: Clock,
    logger: Logger,
  ) {
    this.heartbeat = new Heartbeat({ component: 'lease-locker', name, ttlMs, renew: () => this.renew(), clock, logger });
  }

  /** Aborts once the Lease is no longer ours (or could not be renewed in time). */
  get lost(): AbortSignal {
    return this.heartbeat.lost;
  }

  /** The Lease's name. */
  get leaseName(): string {
    return this.lease.name;
  }

  /** Renews the Lease now (the heartbeat does it every third of the duration); `lost` aborts if it is no longer ours. */
  refresh(): Promise<void> {
    return this.heartbeat.beat();
  }

  /** One renewal: false when another holder has the Lease, else renewTime = now. */
  private async renew(): Promise<boolean> {
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        this.lease = await this.client.updateLease({ ...this.lease, holderIdentity: this.identity, renewTime: this.clock.now(), resourceVersion: this.lease.resourceVersion ?? '' });
        return true;
      } catch (err) {
        if (!isConflict(err)) throw err;
        // Someone wrote the Lease since our last write: still ours (a no-op write elsewhere), or taken?
        const current = await this.client.getLease(this.lease.name);
        if (current?.holderIdentity !== this.identity) return false;
        this.lease = current;
      }
    }
    throw new CertpilotError('ERR_KUBERNETES_CONFLICT', `lease-locker: renewing lease ${this.lease.name}: conflict twice`, { retryable: true });
  }

  /** Clears the holder if the Lease is still ours; idempotent. */
  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    await this.heartbeat.stop();
    if (this.lost.aborted) return; // another run holds it: not ours to clear
    try {
      const current = await this.client.getLease(this.lease.name);
      if (current?.holderIdentity !== this.identity) return;
      await this.client.updateLease({ ...current, holderIdentity: '', leaseDurationSeconds: 1, renewTime: this.clock.now(), resourceVersion: current.resourceVersion ?? '' });
    } catch (err) {
      // Not cleared: the Lease simply expires after its duration.
      if (!isConflict(err)) throw err;
    }
  }
}
