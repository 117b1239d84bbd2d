/**
 * The daemon loop: one process that, cycle after cycle, runs the certificates whose wake has come
 * (through the same `renewCertificate` as `renew`, so each takes its lock: two replicas are safe),
 * then sleeps on the {@link Clock} until the earliest next wake (renewal/scheduler.ts). Unit tests
 * drive it on a fake clock: nothing here reads the time or sleeps any other way.
 *
 * Contract:
 * - One timer at a time: the cycle's sleep. It is what keeps the process alive, so it is not
 *   unref'd; nothing else is scheduled by the loop.
 * - Memory stays flat: per cycle only local values; the lasting structures are keyed by configured
 *   certificate names: the floors, the ARI holds runs reported (no renewalInfo fetch before them: a
 *   CA without ARI, a failed fetch), when each certificate's deploy targets are checked next and
 *   when a lost one last made it run; all cleared when the configuration changes (a new
 *   configuration may be the fix, so every certificate is looked at again at once).
 * - Deploy targets are checked every {@link DEPLOY_CHECK_MS} (at start first), by the deployers
 *   that can check cheaply (files, kubernetes-secret; never a CA request): a target that lost the
 *   live version makes the certificate run at once (its nothing-due run deploys it again and the
 *   reloads after it); one found held costs nothing more. {@link RenewalDaemon.deployTargetLost}
 *   (a /metrics scrape that saw it) brings the check forward, never sooner than
 *   {@link DEPLOY_RETRY_MS} after the last run a lost target caused: a redeploy that keeps failing
 *   is not a loop.
 * - {@link RenewalDaemon.replace} swaps the configuration at the next cycle (the sleep is cut
 *   short); the old setup's `close()` runs once nothing uses it any more.
 * - `run(signal)` returns once `signal` aborts: the sleep ends at once, and a renewal in flight
 *   stops through the same signal (an order is resumed by the next start: the pending order is in
 *   the state).
 */
import type { Clock } from '../clock.js';
import type { ResolvedCertificate } from '../config/load-config.js';
import type { Logger } from '../logger.js';
import { lostDeployers, unheldDeployers, type UnheldDeployer } from '../deploy/deploy-chain.js';
import { CertpilotError } from '../errors.js';
import { renewAll, type RenewalContext, type RenewalResult } from '../renewal/renew-certificate.js';
import type { AriHold } from '../renewal/planner.js';
import { certificateWake, DEPLOY_CHECK_MS, DEPLOY_RETRY_MS, earliestWake, floorAfter, sleepFor, type CertificateWake, type WakeInput } from '../renewal/scheduler.js';
import type { DeploymentRecord, RenewalState, StoredCertificate } from '../storage/certificate-store.js';

/** What one configuration gives the daemon. */
export interface DaemonSetup {
  /** The certificates it renews; a one-off forgotten since (`certpilot forget`) is dropped at the next look. */
  certificates: readonly ResolvedCertificate[];
  /** The renewal context (without `runIntervalMs`: the daemon wakes on time, it never renews early). */
  context: RenewalContext;
  concurrency: number;
  /** Releases what the setup holds (plug-ins, clients); called once, after it is replaced and idle. */
  close?(): Promise<void>;
  /**
   * Optional: the check of a certificate's deploy targets (`deploy-check`): the deployers whose
   * record says they hold `stored`, with why their target does not or could not be looked at
   * (deploy-chain.ts `unheldDeployers`). The CLI passes the one its /metrics uses, so an answer a
   * scrape just got is reused. Default: the context's verifiers, asked each time.
   */
  unheld?(spec: ResolvedCertificate, stored: StoredCertificate, records: Readonly<Record<string, DeploymentRecord>> | undefined): Promise<readonly UnheldDeployer[]>;
}

/** A deploy target a `deploy-check` found without the live version (what made its certificate run). */
export interface LostTarget {
  certificate: string;
  deployer: string;
  reason: string;
}

/** What one cycle did. */
export interface CycleReport {
  /** The results of the certificates run in this cycle, in configured order. */
  results: RenewalResult[];
  /** The next wake, when any certificate has one. */
  next: CertificateWake | undefined;
  /** The next wake for anything but a deploy-target check (a renewal, an ARI fetch, a retry), when `next` is such a check. */
  nextRenewal?: CertificateWake | undefined;
  /** The certificates whose deploy targets this cycle checked (`deploy-check`). */
  checked: string[];
  /** What those checks found lost (each such certificate then ran). */
  lost: LostTarget[];
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
  /** Per certificate name: when its deploy targets are checked next (ms); absent: at once. */
  private readonly deployChecks = new Map<string, number>();
  /** Per certificate name: when a lost deploy target last made it run (ms). */
  private readonly lostRuns = new Map<string, number>();
  /** Certificates none of whose deployers can check their target: never checked. */
  private readonly unverifiable = new Set<string>();
  /** A deploy check was brought forward since the cycle began: the next sleep is cut short. */
  private nudged = false;
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

  /**
   * A deploy target of `name` was seen without the live version elsewhere (the status snapshot of a
   * /metrics scrape or the status page): its check is due now, or {@link DEPLOY_RETRY_MS} after the
   * last run a lost target caused, whichever is later; the sleep is cut short.
   */
  deployTargetLost(name: string): void {
    if (this.stopped || this.unverifiable.has(name)) return;
    const now = this.options.clock.now().getTime();
    const at = Math.max(now, (this.lostRuns.get(name) ?? -Infinity) + DEPLOY_RETRY_MS);
    if ((this.deployChecks.get(name) ?? now) <= at) return; // due by then anyway
    this.deployChecks.set(name, at);
    this.nudged = true;
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
      this.deployChecks.clear();
      this.lostRuns.clear();
      this.unverifiable.clear();
      void this.retire(old);
    }
    this.cycles++;
    this.nudged = false;
    const { clock, logger } = this.options;
    const setup = this.setup;
    const now = clock.now();
    const looked = new Map<string, Looked>();
    let wakes = await this.wakes(setup, now, looked);
    const woke = setup.certificates.flatMap((spec, i) => {
      const wake = wakes[i] as CertificateWake;
      return wake.at.getTime() <= now.getTime() ? [{ spec, why: wake.why }] : [];
    });
    // A certificate woken only to check its deploy targets runs when one lost the live version.
    const checked = woke.filter((w) => w.why === 'deploy-check').map((w) => w.spec);
    const lost: LostTarget[] = [];
    if (checked.length > 0 && !signal?.aborted) {
      const found = await inPool(checked, setup.concurrency, (spec) => this.checkDeploys(setup, spec, looked.get(spec.name), signal));
      for (const [i, spec] of checked.entries()) {
        const targets = found[i] as readonly UnheldDeployer[];
        if (targets.length === 0) this.deployChecks.set(spec.name, now.getTime() + DEPLOY_CHECK_MS);
        for (const t of targets) lost.push({ certificate: spec.name, deployer: t.deployer, reason: t.reason });
      }
    }
    const lostNames = new Set(lost.map((l) => l.certificate));
    const due = woke.filter((w) => w.why !== 'deploy-check' || lostNames.has(w.spec.name));
    // The checked certificates that hold: their next wake is the next check, or their own.
    for (const [i, spec] of setup.certificates.entries()) {
      const seen = looked.get(spec.name);
      if (seen && !lostNames.has(spec.name) && checked.includes(spec)) wakes[i] = this.wakeOf(setup, seen);
    }
    let results: RenewalResult[] = [];
    if (due.length > 0 && !signal?.aborted) {
      results = await renewAll(due.map((w) => w.spec), setup.context, { concurrency: setup.concurrency, ariHolds: this.ariHolds, ...(signal ? { signal } : {}) });
      const after = clock.now();
      for (const r of results) {
        this.floors.set(r.name, floorAfter(r, after).getTime());
        // A run checks the deploy targets itself (or deploys): the next check is a full interval later.
        this.deployChecks.set(r.name, after.getTime() + DEPLOY_CHECK_MS);
        if (lostNames.has(r.name)) this.lostRuns.set(r.name, after.getTime());
        // A run that reports no hold has its ARI answer in the store (or needs none): the state says when to fetch.
        if (r.ariHold) this.ariHolds.set(r.name, r.ariHold);
        else this.ariHolds.delete(r.name);
      }
      looked.clear();
      wakes = await this.wakes(setup, after, looked);
    }
    const at = clock.now();
    const next = earliestWake(wakes);
    const nextRenewal = next?.why === 'deploy-check' ? earliestWake([...looked.values()].flatMap((l) => (l.work ? [l.work] : []))) : undefined;
    const sleepMs = sleepFor(next, at, this.options.random);
    // A cycle that only checked deploy targets and found them held (every 10 minutes) says so at debug.
    const quiet = results.length === 0 && checked.length > 0;
    logger[quiet ? 'debug' : 'info'](
      {
        cycle: this.cycles,
        ran: results.map((r) => `${r.name}:${r.outcome}`).join(' ') || undefined,
        woke: due.map((w) => `${w.spec.name}:${w.why}`).join(' ') || undefined,
        lost: lost.length > 0 ? lost : undefined,
        next: next ? { certificate: next.name, at: next.at.toISOString(), why: next.why } : undefined,
        nextRenewal: nextRenewal ? { certificate: nextRenewal.name, at: nextRenewal.at.toISOString(), why: nextRenewal.why } : undefined,
        sleepSeconds: Math.round(sleepMs / 1000),
      },
      lost.length > 0
        ? 'daemon cycle: a deploy target lost the live version; ran certificates; sleeping'
        : results.length > 0
          ? 'daemon cycle: ran certificates; sleeping'
          : quiet
            ? 'daemon cycle: deploy targets checked, all hold the live version; sleeping'
            : 'daemon cycle: nothing due; sleeping',
    );
    return { results, next, ...(nextRenewal ? { nextRenewal } : {}), checked: checked.map((c) => c.name), lost, sleepMs };
  }

  /** A certificate's wake from what was read of it: with its deploy check, when it has one. */
  private wakeOf(setup: DaemonSetup, seen: Looked): CertificateWake {
    const { spec, stored, now } = seen.input;
    const checks = stored !== undefined && spec.deploy.length > 0 && setup.context.verifiers !== undefined && !this.unverifiable.has(spec.name);
    return checks ? certificateWake({ ...seen.input, deployCheck: new Date(this.deployChecks.get(spec.name) ?? now.getTime()) }) : seen.work;
  }

  /**
   * The deploy targets of `spec` that lost its live version (none when nothing is stored, no
   * deployer can check, or a check cannot look: those keep their record, as in a run).
   */
  private async checkDeploys(setup: DaemonSetup, spec: ResolvedCertificate, looked: Looked | undefined, signal: AbortSignal | undefined): Promise<readonly UnheldDeployer[]> {
    const stored = looked?.stored;
    const { context } = setup;
    if (!stored || !context.verifiers) return [];
    try {
      const verifiers = await context.verifiers(spec);
      if (verifiers.length === 0) {
        this.unverifiable.add(spec.name);
        return [];
      }
      const records = looked.state.deployments;
      return lostDeployers(setup.unheld ? await setup.unheld(spec, stored, records) : await unheldDeployers(stored, verifiers, records, signal));
    } catch (err) {
      if (signal?.aborted) return [];
      const e = err instanceof CertpilotError ? err : undefined;
      this.options.logger.warn(
        { certificate: spec.name, code: e?.code, err: err instanceof Error ? err.message : String(err), hint: e?.hint },
        `daemon: could not check the certificate's deploy targets; trusting their deploy records, looking again in ${DEPLOY_CHECK_MS / 60_000} minutes`,
      );
      return [];
    }
  }

  /**
   * Each configured certificate's next wake, in configured order. A state that cannot be read makes
   * it due (its run reports why). `looked` receives what was read of each, and its wake without
   * the deploy check.
   */
  private async wakes(setup: DaemonSetup, now: Date, looked: Map<string, Looked>): Promise<CertificateWake[]> {
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
        const input = { spec, stored, state, pendingOrder: pending !== undefined, now, ari: context.ari, floor, ariHold };
        const seen: Looked = { stored, state, input, work: certificateWake(input) };
        looked.set(spec.name, seen);
        out.push(this.wakeOf(setup, seen));
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
    if (this.incoming || this.nudged) nap.abort();
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

/** What a cycle read of one certificate, and its wake leaving out the deploy check. */
interface Looked {
  stored: StoredCertificate | undefined;
  state: RenewalState;
  /** What its wake was worked out from (without the deploy check). */
  input: WakeInput;
  work: CertificateWake;
}

/** `work` over `items` with at most `concurrency` at a time; results in order. */
async function inPool<T, R>(items: readonly T[], concurrency: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await work(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, worker));
  return out;
}
