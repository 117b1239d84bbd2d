/**
 * The one heartbeat every locker's {@link Lock} uses: renews the lock every third of its TTL and
 * turns "this lock is no longer ours" into the lock's `lost` signal.
 *
 * The lock is lost when
 * - a renewal finds another holder (the file's token or the Lease's holderIdentity changed: it
 *   expired and was taken over), at once; or
 * - renewals keep failing (the API server or the file system unreachable) until one interval
 *   before the TTL runs out since the last good renewal: from then on another process may take it
 *   over, so we stop first rather than after.
 *
 * Renewals never overlap each other (nor the release that follows `stop`). The timer is unref'd:
 * a heartbeat never keeps the process alive. Tests drive it with {@link Heartbeat.beat} and a
 * fake clock; the timer only matters in real runs.
 */
import type { Clock } from '../clock.js';
import { CertpilotError } from '../errors.js';
import type { Logger } from '../logger.js';
import { heartbeatIntervalMs } from './locker.js';

/** Options of {@link Heartbeat}. */
export interface HeartbeatOptions {
  /** The locker, for messages (`file-locker`, `lease-locker`). */
  component: string;
  /** The lock's name. */
  name: string;
  /** How long the lock lives without a renewal. */
  ttlMs: number;
  /**
   * Renews the lock once: resolves true when it is still ours and now lasts a TTL more, false when
   * another holder has it; throws when it could not tell (retried at the next beat).
   */
  renew(): Promise<boolean>;
  clock: Clock;
  logger: Logger;
  /** Time between renewals; default a third of the TTL (at least 1 s). */
  intervalMs?: number;
}

/** Renews a held lock in the background and says, by {@link Heartbeat.lost}, when it is lost. */
export class Heartbeat {
  private readonly controller = new AbortController();
  /** Aborts, with an `ERR_LOCK_LOST` reason, once the lock may be another process's. */
  readonly lost: AbortSignal = this.controller.signal;
  private lastRenewed: number;
  private chain: Promise<void> = Promise.resolve();
  private stopped = false;
  private readonly timer: NodeJS.Timeout;
  private readonly intervalMs: number;

  constructor(private readonly o: HeartbeatOptions) {
    this.lastRenewed = o.clock.now().getTime();
    this.intervalMs = o.intervalMs ?? heartbeatIntervalMs(o.ttlMs);
    this.timer = setInterval(() => void this.beat(), this.intervalMs);
    this.timer.unref();
  }

  /** One renewal now (the timer's tick); resolves when it is done. Never rejects. */
  beat(): Promise<void> {
    this.chain = this.chain.then(async () => {
      if (this.stopped || this.lost.aborted) return;
      try {
        if (await this.o.renew()) {
          this.lastRenewed = this.o.clock.now().getTime();
          return;
        }
        this.lose('another holder has it now (it expired and was taken over)');
      } catch (err) {
        const why = err instanceof Error ? err.message : String(err);
        const left = this.lastRenewed + this.o.ttlMs - this.o.clock.now().getTime();
        if (left <= this.intervalMs) this.lose(`not renewed for ${Math.round((this.o.ttlMs - left) / 1000)} s (${why}); another process may take it over`);
        else this.o.logger.warn({ name: this.o.name, err: why }, `${this.o.component}: could not renew the lock; retrying`);
      }
    });
    return this.chain;
  }

  /** Marks the lock lost now (a locker that finds it taken over outside a beat). */
  lose(why: string): void {
    if (this.lost.aborted) return;
    clearInterval(this.timer);
    this.o.logger.warn({ name: this.o.name }, `${this.o.component}: lost the lock: ${why}`);
    this.controller.abort(
      new CertpilotError('ERR_LOCK_LOST', `${this.o.component}: lock ${this.o.name}: lost: ${why}`, {
        hint: 'Nothing to do: this run stopped before writing anything more, and the process that holds the lock now finishes the work. If it recurs, raise renewal.lockTtlSeconds or check the lock backend.',
        retryable: true,
      }),
    );
  }

  /** Stops renewing; resolves once a renewal in progress is done (call before releasing). */
  stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    return this.chain;
  }
}
