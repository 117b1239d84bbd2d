/**
 * The daemon loop: one process that, cycle after cycle, runs the certificates whose wake has come
 * (through the same `renewCertificate` as `renew`, so each takes its lock: two replicas are safe),
 * then sleeps on the {@link Clock} until the earliest next wake (renewal/scheduler.ts). Unit tests
 * drive it on a fake clock: nothing here reads the time or sleeps any other way.
 *
 * Contract:
 * - One timer at a time: the cycle's sleep. It is what keeps the process alive, so it is not
 *   unref'd; nothing else is scheduled by the loop.
 * - Memory stays flat: per cycle only local values; the lasting structures are two maps keyed by
 *   configured certificate names, the floors and the ARI holds runs reported (no renewalInfo fetch
 *   before them: a CA without ARI, a failed fetch), both cleared when the configuration changes (a
 *   new configuration may be the fix, so every certificate is looked at again at once).
 * - {@link RenewalDaemon.replace} swaps the configuration at the next cycle (the sleep is cut
 *   short); the old setup's `close()` runs once nothing uses it any more.
 * - `run(signal)` returns once `signal` aborts: the sleep ends at once, and a renewal in flight
 *   stops through the same signal (an order is resumed by the next start: the pending order is in
 *   the state).
 */
import type { Clock } from '../clock.js';
import type { ResolvedCertificate } from '../config/load-config.js';
import type { Logger } from '../logger.js';
import { renewAll, type RenewalContext, type RenewalResult } from '../renewal/renew-certificate.js';
import type { AriHold } from '../renewal/planner.js';
import { certificateWake, earliestWake, floorAfter, sleepFor, type CertificateWake } from '../renewal/scheduler.js';

/** What one configuration gives the daemon. */
export interface DaemonSetup {
  /** The certificates it renews; a one-off forgotten since (`certpilot forget`) is dropped at the next look. */
  certificates: readonly ResolvedCertificate[];
  /** The renewal context (without `runIntervalMs`: the daemon wakes on time, it never renews early). */
  context: RenewalContext;
  concurrency: number;
  /** Releases what the setup holds (plug-ins, clients); called once, after it is replaced and idle. */
  close?(): Promise<void>;
}

/** What one cycle did. */
export interface CycleReport {
  /** The results of the certificates run in this cycle, in configured order. */
  results: RenewalResult[];
  /** The next wake, when any certificate has one. */
  next: CertificateWake | undefined;
  /** How long the daemon sleeps now. */
  sleepMs: number;
}

/** Options of {@link RenewalDaemon}. */
export interface DaemonOptions {
  clock: Clock;
  logger: Logger;
  /** Jitter source in [0, 1) (default Math.random). */
  random?: () => number;
}

/** The long-running renewal loop of `certpilot daemon`. */
export class RenewalDaemon {
  private setup: DaemonSetup;
  private incoming: DaemonSetup | undefined;
  /** Per certificate name: no run before this time (ms), after its own last run. */
  private readonly floors = new Map<string, number>();
  /** Per certificate name: no ARI fetch before this, as its last run reported (RenewalResult.ariHold). */
  private readonly ariHolds = new Map<string, AriHold>();
  private nap: AbortController | undefined;
  private cycles = 0;
  private stopped = false;

  constructor(setup: DaemonSetup, private readonly options: DaemonOptions) {
    this.setup = setup;
  }

  /** Cycles run so far. */
  get cycleCount(): number {
    return this.cycles;
  }

  /** The configuration the next cycle uses; cuts the current sleep short. */
  replace(setup: DaemonSetup): void {
    if (this.stopped) {
      void this.retire(setup); // run() is over: nothing will use it
      return;
    }
    const dropped = this.incoming;
    this.incoming = setup;
    if (dropped) void this.retire(dropped);
    this.nap?.abort();
  }

  /** Runs cycles until `signal` aborts; then closes every setup it was given. */
  async run(signal: AbortSignal): Promise<void> {
    try {
      while (!signal.aborted) {
        const report = await this.cycle(signal);
        if (signal.aborted) break;
        await this.sleep(report.sleepMs, signal);
      }
    } finally {
      this.stopped = true;
      if (this.incoming) await this.retire(this.incoming);
      this.incoming = undefined;
      await this.retire(this.setup);
    }
  }

  /** One cycle: runs what is due now, then says when to wake. */
  async cycle(signal?: AbortSignal): Promise<CycleReport> {
    if (this.incoming) {
      const old = this.setup;
      this.setup = this.incoming;
      this.incoming = undefined;
      // A new configuration may be the fix: every certificate is looked at again at once.
      this.floors.clear();
      this.ariHolds.clear();
      void this.retire(old);
    }
    this.cycles++;
    const { clock, logger } = this.options;
    const setup = this.setup;
    const now = clock.now();
    let wakes = await this.wakes(setup, now);
    const due = setup.certificates.filter((_, i) => (wakes[i] as CertificateWake).at.getTime() <= now.getTime());
    let results: RenewalResult[] = [];
    if (due.length > 0 && !signal?.aborted) {
      results = await renewAll(due, setup.context, { concurrency: setup.concurrency, ariHolds: this.ariHolds, ...(signal ? { signal } : {}) });
      const after = clock.now();
      for (const r of results) {
        this.floors.set(r.name, floorAfter(r, after).getTime());
        // A run that reports no hold has its ARI answer in the store (or needs none): the state says when to fetch.
        if (r.ariHold) this.ariHolds.set(r.name, r.ariHold);
        else this.ariHolds.delete(r.name);
      }
      wakes = await this.wakes(setup, after);
    }
    const at = clock.now();
    const next = earliestWake(wakes);
    const sleepMs = sleepFor(next, at, this.options.random);
    logger.info(
      {
        cycle: this.cycles,
        ran: results.map((r) => `${r.name}:${r.outcome}`).join(' ') || undefined,
        next: next ? { certificate: next.name, at: next.at.toISOString(), why: next.why } : undefined,
        sleepSeconds: Math.round(sleepMs / 1000),
      },
      results.length > 0 ? 'daemon cycle: ran certificates; sleeping' : 'daemon cycle: nothing due; sleeping',
    );
    return { results, next, sleepMs };
  }

  /** Each configured certificate's next wake, in configured order. A state that cannot be read makes it due (its run reports why). */
  private async wakes(setup: DaemonSetup, now: Date): Promise<CertificateWake[]> {
    const { context } = setup;
    const store = context.store as typeof context.store & { forPlanning?(): typeof context.store };
    const out: CertificateWake[] = [];
    const forgotten = new Set<string>();
    for (const spec of setup.certificates) {
      const floorMs = this.floors.get(spec.name);
      if (floorMs !== undefined && floorMs <= now.getTime()) this.floors.delete(spec.name);
      const floor = floorMs !== undefined && floorMs > now.getTime() ? new Date(floorMs) : undefined;
      const ariHold = this.ariHolds.get(spec.name);
      if (ariHold && ariHold.until.getTime() <= now.getTime()) this.ariHolds.delete(spec.name);
      try {
        const view = typeof store.forPlanning === 'function' ? store.forPlanning() : store;
        const [stored, state, pending] = await Promise.all([view.load(spec.name), view.loadState(spec.name), view.loadPendingOrder(spec.name)]);
        if (spec.fromRecord && state.oneOff === undefined) {
          // `certpilot forget` since the setup was read: no longer renewed, without waiting for a SIGHUP.
          forgotten.add(spec.name);
          continue;
        }
        out.push(certificateWake({ spec, stored, state, pendingOrder: pending !== undefined, now, ari: context.ari, floor, ariHold }));
      } catch (err) {
        this.options.logger.warn({ certificate: spec.name, err: err instanceof Error ? err.message : String(err) }, 'daemon: could not read the certificate\'s state; its run reports why');
        out.push({ name: spec.name, at: floor ?? now, why: floor ? 'floor' : 'due' });
      }
    }
    if (forgotten.size > 0) {
      setup.certificates = setup.certificates.filter((c) => !forgotten.has(c.name));
      for (const name of forgotten) this.options.logger.warn({ certificate: name }, `daemon: the one-off ${name} was forgotten (certpilot forget): no longer renewed`);
      if (setup.certificates.length === 0) this.options.logger.warn('daemon: no certificate left to renew; it renews nothing until a SIGHUP finds one');
    }
    return out;
  }

  /** Sleeps `ms` on the clock; ends early on `signal` or {@link replace}. One timer, no listener left behind. */
  private async sleep(ms: number, signal: AbortSignal): Promise<void> {
    const nap = new AbortController();
    this.nap = nap;
    const stop = (): void => nap.abort();
    signal.addEventListener('abort', stop, { once: true });
    if (this.incoming) nap.abort();
    try {
      await this.options.clock.sleep(ms, nap.signal);
    } catch {
      // cut short: a new configuration or the stop signal
    } finally {
      signal.removeEventListener('abort', stop);
      this.nap = undefined;
    }
  }

  private async retire(setup: DaemonSetup): Promise<void> {
    try {
      await setup.close?.();
    } catch (err) {
      this.options.logger.warn({ err: err instanceof Error ? err.message : String(err) }, 'daemon: closing the previous configuration failed');
    }
  }
}
