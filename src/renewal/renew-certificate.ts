/**
 * One renewal run for one certificate: refresh ARI when allowed → plan → (lock → plan again →
 * issue → save → deploy) → record the outcome in the renewal state. A failure leaves the previous
 * certificate live and is recorded for backoff; a `rateLimited` answer is persisted, never slept
 * through. A deploy that failed is retried by the next run, due or not, without a new order.
 *
 * Nothing-due runs stay cheap: no lock, no account, no CA request unless ARI must be fetched, and
 * no deployer built unless one lacks the live version.
 */
import type { CertificateIssuer } from '../acme/issuer.js';
import type { RenewalInfoResult } from '../acme/acme-client.js';
import type { ChallengeSolver } from '../challenges/challenge-solver.js';
import type { Deployer, DeployVerifier } from '../deploy/deployer.js';
import { lostDeployers, pendingDeployers, runDeployChain, unheldDeployers, type DeployReport } from '../deploy/deploy-chain.js';
import type { Clock } from '../clock.js';
import type { ResolvedCertificate } from '../config/load-config.js';
import { catalogHint, CertpilotError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Lock, Locker } from '../coordination/locker.js';
import type { CertificatePaths, CertificateStore, PendingOrder, PendingOrderStore, RenewalState, RenewalStateStore, StoredCertificate } from '../storage/certificate-store.js';
import type { FencedWrites } from '../storage/state-store.js';
import { RateLimitedError } from '../acme/protocol/problem.js';
import { applyRenewalInfo, ariHoldAfterError, ARI_UNSUPPORTED_REFETCH_MS, configFingerprint, needsRenewalInfo, planRenewal, recordFailure, recordSuccess, type AriHold, type RenewalDecision } from './planner.js';
import { failureCost } from './failure-cost.js';
import { eventFromResult, type LifecycleEvent } from '../notify/lifecycle-event.js';

/** An issuer bound to an account, opened on first need. */
export interface AccountSession {
  issuer: CertificateIssuer;
  directoryUrl: string;
  accountUrl: string;
}

/** Where ARI answers come from (RFC 9773 §4.1; the ACME client is one). */
export interface RenewalInfoSource {
  getRenewalInfo(certPem: string, options: { signal?: AbortSignal | undefined }): Promise<RenewalInfoResult>;
}

/**
 * What a renewal run needs; built by `cli/compose.ts`. Only seams: the run never sees how the
 * account, the solvers or the deployers are made.
 */
export interface RenewalContext {
  /** The domain stores; while the run holds its lock it uses `store.fenced(lock.lost)`. */
  store: CertificateStore & RenewalStateStore & PendingOrderStore & FencedWrites;
  locker: Locker;
  /** Opens (once) the account on the production directory, or on the staging one for dry runs. */
  session(which: 'production' | 'staging', signal?: AbortSignal): Promise<AccountSession>;
  /**
   * A source of ARI answers (no account needed: renewalInfo is a plain GET), or undefined when
   * the CA's directory offers no renewalInfo (remembered for a day, so such CAs cost no request).
   */
  renewalInfo(signal?: AbortSignal): Promise<RenewalInfoSource | undefined>;
  /** The solver of each of the certificate's names (keyed as in `spec.solvers`), built on first use. */
  solvers(spec: ResolvedCertificate): Promise<ReadonlyMap<string, ChallengeSolver>>;
  /** The certificate's deployers, in order, built on first use. */
  deployers(spec: ResolvedCertificate): Promise<readonly Deployer[]>;
  /**
   * Optional: those of the certificate's deployers that check their target cheaply
   * ({@link DeployVerifier}, the `files` deployer), in order, built on first use. A run with
   * nothing due asks them, so a target that lost the live version is deployed again.
   */
  verifiers?(spec: ResolvedCertificate): Promise<readonly (Deployer & DeployVerifier)[]>;
  /**
   * Optional: the checks across the certificate's plug-ins that no schema can make (a reload `key`
   * no Secret deployer writes, a `secretFile` that is missing); rejects with a ConfigError. Run
   * before the order, so such a mistake costs the CA nothing.
   */
  preflight?(spec: ResolvedCertificate): Promise<void>;
  ari: boolean;
  preferredChain?: string;
  /** How long the archive keeps versions (`renewal.retention`); unset: every version is kept. */
  retention?: { keepVersions: number; keepDays: number };
  lockTtlSeconds: number;
  /** How often renew runs, when known: renewals due before the next run are done now. */
  runIntervalMs?: number;
  clock: Clock;
  logger: Logger;
  /**
   * Optional: where each run's lifecycle event goes (notifiers, metrics, the daemon's log). Called
   * exactly once per {@link renewCertificate} / {@link deployCertificate} call (not for a dry run),
   * from its one exit, after the result is final. It must not throw; when it does (or returns a
   * promise that rejects) the error is logged and the result is unchanged.
   */
  events?: (event: LifecycleEvent) => void;
}

/**
 * How one certificate's run ended. `deployed`: nothing was due (or `certpilot deploy`), a deployer
 * lacked the live version and the deploy stage ran and completed; `deploy-failed`: the same, but a
 * deployer failed (`deploy.ok` false). An `issued`/`renewed` whose deploy failed stays that (the
 * new version is saved), with `deploy.ok` false.
 */
export type RenewalOutcome = 'issued' | 'renewed' | 'deployed' | 'deploy-failed' | 'not-due' | 'held' | 'locked' | 'failed' | 'dry-run' | 'interrupted';

/** The result of one certificate's run, for the CLI summary and the exit code. */
export interface RenewalResult {
  name: string;
  outcome: RenewalOutcome;
  message: string;
  reason?: string;
  version?: number;
  notAfter?: string;
  /** The start of validity of the certificate {@link notAfter} is of (its lifetime: an `expiring` notice scales with it). */
  notBefore?: string;
  /** When the certificate becomes due, or when it may be tried again. */
  next?: Date;
  error?: CertpilotError;
  /** Where the live files are (from the store), once there is a live version. */
  paths?: CertificatePaths;
  /** The deploy stage, when it ran. */
  deploy?: DeployReport;
  /**
   * For a failed renewal: whether it holds the next run back (failure backoff) and why — only a
   * failure the CA counted does (see `failure-cost.ts`).
   */
  backoff?: { held: boolean; why: string };
  /**
   * For a failed or interrupted renewal: the version that stays live, or `null` when none was
   * ever issued (a first issuance); absent when the run failed before it could tell.
   */
  previousLive?: number | null;
  /** With {@link previousLive}: when that version expired, if it has (it stays deployed, expired). */
  previousExpired?: string;
  /**
   * The run wanted an ARI answer for the live certificate and none is in the store (the CA offers
   * no renewalInfo, the fetch failed, the answer could not be saved): not to be asked again before
   * this. The daemon keeps it and passes it back ({@link RenewOptions.ariHolds}).
   */
  ariHold?: AriHold;
  /**
   * For a `held` or `not-due` run whose last renewal attempt failed (the renewal is failing): that
   * error's code, message and hint, from the renewal state.
   */
  lastError?: { code: string; message: string; hint: string };
}

/** True when the run failed: the renewal, or its deploy stage. */
export function resultFailed(result: RenewalResult): boolean {
  return result.outcome === 'failed' || result.deploy?.ok === false;
}

/** Options of a run. */
export interface RenewOptions {
  force?: boolean;
  dryRun?: boolean;
  signal?: AbortSignal;
  /** By certificate name: the holds earlier runs reported ({@link RenewalResult.ariHold}); no renewalInfo fetch before them. */
  ariHolds?: ReadonlyMap<string, AriHold>;
}

/**
 * The planning call `renew` and `status` share: the policy chain plus backoff and the CA's holds,
 * with the next run's time when the run interval is known.
 */
export function decideRenewal(
  spec: ResolvedCertificate,
  stored: StoredCertificate | undefined,
  state: RenewalState,
  now: Date,
  options: { force?: boolean; runIntervalMs?: number | undefined } = {},
): RenewalDecision {
  return planRenewal({
    spec,
    stored,
    state,
    now,
    ...(options.force ? { force: true } : {}),
    ...(options.runIntervalMs ? { nextRunAt: new Date(now.getTime() + options.runIntervalMs) } : {}),
  });
}

/**
 * Renews one certificate if due, then deploys. Never throws: every read, plan, write and deploy
 * of this certificate ends in its own result, so a broken file or a failing plug-in of one
 * certificate never stops the others (DESIGN.md §4). Every path ends in {@link settle}, the run's
 * one exit, which emits the lifecycle event.
 */
export async function renewCertificate(spec: ResolvedCertificate, ctx: RenewalContext, options: RenewOptions = {}): Promise<RenewalResult> {
  return oneRun(spec, ctx, options.signal, (run) => renewOne(spec, ctx, options, run));
}

/** One run of `spec`: what `body` throws becomes the run's failed (or interrupted) result, and every result leaves through {@link settle}. */
async function oneRun(spec: ResolvedCertificate, ctx: RenewalContext, signal: AbortSignal | undefined, body: (run: RunFacts) => Promise<RenewalResult>): Promise<RenewalResult> {
  const run = startRun(ctx);
  let result: RenewalResult;
  try {
    result = await body(run);
  } catch (err) {
    result = crashed(spec.name, err, ctx, signal);
  }
  if (run.ariHold) result = { ...result, ariHold: run.ariHold };
  return settle(spec, ctx, result, run);
}

/** What a run learns on its way that its one exit needs: when it started, the live expiry. */
interface RunFacts {
  startedAt: Date;
  /** The live certificate's validity, once read. */
  live?: { notBefore: string; notAfter: string };
  /** Set when the run wanted an ARI answer and has none in the store ({@link RenewalResult.ariHold}). */
  ariHold?: AriHold;
}

function startRun(ctx: RenewalContext): RunFacts {
  return { startedAt: ctx.clock.now() };
}

/** The result of a run that threw: interrupted when its signal fired, else failed (logged). */
function crashed(name: string, err: unknown, ctx: RenewalContext, signal: AbortSignal | undefined): RenewalResult {
  const error = err instanceof CertpilotError ? err : new CertpilotError('ERR_INTERNAL', `renew ${name}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  if (signal?.aborted) return { name, outcome: 'interrupted', message: `interrupted: ${error.message}`, error };
  ctx.logger.error({ certificate: name, outcome: 'failed', code: error.code, err: error.message }, 'certificate skipped; the others go on');
  return { name, outcome: 'failed', message: error.message, error };
}

/**
 * The one exit of every run (renew, deploy, a run not started): the result is final here, and its
 * lifecycle event (reason, version, timings) goes to `ctx.events`. A sink that throws is logged
 * and changes nothing.
 */
function settle(spec: ResolvedCertificate, ctx: RenewalContext, result: RenewalResult, run: RunFacts): RenewalResult {
  const sink = ctx.events;
  if (!sink) return result;
  const failed = (err: unknown): void => {
    ctx.logger.warn({ certificate: spec.name, err: err instanceof Error ? err.message : String(err) }, 'lifecycle event not delivered; the result stands');
  };
  try {
    const event = eventFromResult(result, { domains: spec.domains, timing: { startedAt: run.startedAt, finishedAt: ctx.clock.now() }, notAfter: run.live?.notAfter, notBefore: run.live?.notBefore });
    if (event) {
      const returned: unknown = sink(event);
      if (returned instanceof Promise) returned.catch(failed);
    }
  } catch (err) {
    failed(err);
  }
  return result;
}

/** A resume of `pending` only makes sense for the same names, key type and CA. */
function pendingMatches(pending: PendingOrder, spec: ResolvedCertificate): boolean {
  return pending.keyType === spec.keyType && [...pending.domains].sort().join(' ') === [...spec.domains].sort().join(' ');
}

/** True when the store offers a view for a plan's reads (`StateStore.forPlanning`). */
function hasPlanningView<T extends object>(store: T): store is T & { forPlanning(): T } {
  return typeof (store as { forPlanning?: unknown }).forPlanning === 'function';
}

/** True when `err` is a lost lock's reason. */
function isLockLost(err: unknown): boolean {
  return err instanceof CertpilotError && err.code === 'ERR_LOCK_LOST';
}

async function renewOne(spec: ResolvedCertificate, ctx: RenewalContext, options: RenewOptions, run: RunFacts): Promise<RenewalResult> {
  const log = ctx.logger.child({ certificate: spec.name });
  // The plan's reads may share one read of the certificate's state (a Secret): all are read again under the lock.
  const planning = hasPlanningView(ctx.store) ? ctx.store.forPlanning() : ctx.store;
  let stored = await planning.load(spec.name);
  if (stored) run.live = { notBefore: stored.metadata.notBefore, notAfter: stored.metadata.notAfter };
  let state = await planning.loadState(spec.name);
  if (state.oneOff && !spec.oneOff) {
    // Said once per run: the record stays (it is used again once the certificate leaves the configuration).
    log.warn(`a one-off record of the same name (from \`certpilot issue -d\`) is ignored: the configured certificate ${spec.name} wins; \`certpilot forget ${spec.name}\` removes the record`);
  }
  // An order an earlier run left between finalize and save is finished first, whatever is due:
  // the CA has issued (or is issuing) that certificate already.
  let pending = options.dryRun ? undefined : await planning.loadPendingOrder(spec.name);

  if (ctx.ari && !options.dryRun) state = await refreshRenewalInfo(spec.name, stored, state, ctx, log, options, run);

  const plan = (): RenewalDecision => {
    const now = ctx.clock.now();
    if (pending) {
      const retryAfter = state.retryAfter ? Date.parse(state.retryAfter) : NaN;
      if (retryAfter > now.getTime()) {
        return { due: false, reason: 'resume-order', message: `an order awaits completion; held until ${state.retryAfter}: the CA asked us to wait`, heldUntil: new Date(retryAfter), heldBy: 'retry-after' };
      }
      return { due: true, reason: 'resume-order', message: `resuming order ${pending.orderUrl} left by an earlier run` };
    }
    return decideRenewal(spec, stored, state, now, { ...(options.force ? { force: true } : {}), runIntervalMs: ctx.runIntervalMs });
  };
  let decision = plan();
  const deployPending = (): boolean => !options.dryRun && stored !== undefined && pendingDeployers(spec.deploy, stored, state.deployments).length > 0;
  // The records say every deployer holds the live version: those that can check their target
  // cheaply (a files deployer's directory, one read; a kubernetes-secret deployer's Secret, one GET)
  // confirm it, so a target emptied, replaced or moved since is deployed again. A target that cannot
  // be checked now (API server down, forbidden) keeps its record: a warning, no deploy.
  const targetLost = async (): Promise<boolean> => {
    if (options.dryRun || stored === undefined || ctx.verifiers === undefined) return false;
    let verifiers: Awaited<ReturnType<NonNullable<RenewalContext['verifiers']>>>;
    try {
      verifiers = await ctx.verifiers(spec);
    } catch (err) {
      // A deployer that cannot be built (a kubeconfig gone) cannot check either; the deploy, when
      // one is due, reports it as its failure.
      const e = err instanceof CertpilotError ? err : undefined;
      log.warn({ code: e?.code, err: err instanceof Error ? err.message : String(err), hint: e?.hint }, 'could not check that the deployers still hold the live version; trusting their deploy records');
      return false;
    }
    const unheld = await unheldDeployers(stored, verifiers, state.deployments, options.signal);
    for (const u of unheld) {
      if (u.unchecked) log.warn({ deployer: u.deployer, code: u.unchecked.code, err: u.reason, hint: u.unchecked.hint }, `could not check that deployer ${u.deployer} still holds version ${stored.version}; trusting its deploy record`);
    }
    return lostDeployers(unheld).length > 0;
  };
  if (!decision.due && !deployPending() && !(await targetLost())) return undecided(spec.name, decision, stored, state);

  const acquired = await ctx.locker.acquire(spec.name, { ttlSeconds: ctx.lockTtlSeconds, ...(options.signal ? { signal: options.signal } : {}) });
  if (!acquired) return { name: spec.name, outcome: 'locked', message: 'another certpilot process is renewing it' };
  const lock = acquired;
  // From here on the run's signal is joined with the lock's: work stops, and no write happens,
  // once another run may hold the lock.
  ({ ctx, options } = underLock(ctx, options, lock));
  try {
    // Another process may have renewed (or deployed) it between our plan and the lock.
    stored = await ctx.store.load(spec.name);
    if (stored) run.live = { notBefore: stored.metadata.notBefore, notAfter: stored.metadata.notAfter };
    state = await ctx.store.loadState(spec.name);
    if (spec.fromRecord && state.oneOff === undefined) {
      // `certpilot forget` between this run's reading of the one-offs and the lock: not renewed.
      return { name: spec.name, outcome: 'not-due', message: 'forgotten (certpilot forget) after this run read it: not renewed' };
    }
    pending = options.dryRun ? undefined : await ctx.store.loadPendingOrder(spec.name);
    if (pending && !pendingMatches(pending, spec)) {
      log.warn({ order: pending.orderUrl }, 'a pending order for other names or another key type is dropped: the configuration changed');
      await ctx.store.clearPendingOrder(spec.name);
      pending = undefined;
    }
    decision = plan();
    if (!decision.due) {
      if (!stored || (!deployPending() && !(await targetLost()))) return undecided(spec.name, decision, stored, state);
      // Nothing to renew, but a deployer lacks the live version (a failed or new deployer, or a target that lost it).
      const deploy = await deployStage(spec, stored, state, ctx, options, log);
      const base = undecided(spec.name, decision, stored, state);
      return interruptedDeploy(base, deploy, options.signal) ?? { ...base, outcome: deployOutcome(deploy), message: `${deploySentence(deploy)}; ${base.message}`, deploy };
    }
    log.info({ reason: decision.reason, message: decision.message }, options.dryRun ? 'dry run' : 'renewing');
    const result = await issueAndSave(spec, stored, state, pending, decision.reason ?? 'forced', ctx, options, log);
    if ((result.outcome !== 'issued' && result.outcome !== 'renewed') || spec.deploy.length === 0) return result;
    const saved = await ctx.store.load(spec.name);
    if (!saved) return result;
    const deploy = await deployStage(spec, saved, await ctx.store.loadState(spec.name), ctx, options, log);
    return lostDuring(spec.name, lock, result) ?? interruptedDeploy(result, deploy, options.signal) ?? { ...result, deploy };
  } catch (err) {
    const lost = lostDuring(spec.name, lock);
    if (lost) return lost;
    throw err;
  } finally {
    await lock.release();
  }
}

/** Options of a run that holds its lock: the joined signal, and the lock's own `lost`. */
interface HeldOptions extends RenewOptions {
  lost?: AbortSignal;
}

/**
 * The context and options of the part of a run that holds `lock`: the signal is the run's joined
 * with the lock's `lost`, and the store is fenced by it: every write the domain stores make (each
 * backend write of a save, the renewal state, the pending order, a set-aside) first checks the
 * lock, and under a lost lock rejects with the `ERR_LOCK_LOST` reason and writes nothing.
 */
function underLock(ctx: RenewalContext, options: RenewOptions, lock: Lock): { ctx: RenewalContext; options: HeldOptions } {
  const signal = options.signal ? AbortSignal.any([options.signal, lock.lost]) : lock.lost;
  return { ctx: { ...ctx, store: ctx.store.fenced(lock.lost) }, options: { ...options, signal, lost: lock.lost } };
}

/**
 * The result of a run whose lock was lost: `locked` (another run holds the certificate now and
 * finishes it), with the `ERR_LOCK_LOST` error; nothing was written after the loss. Undefined
 * while the lock is held.
 */
function lostDuring(name: string, lock: Lock, done?: RenewalResult): RenewalResult | undefined {
  if (!lock.lost.aborted) return undefined;
  const reason: unknown = lock.lost.reason;
  const error = reason instanceof CertpilotError ? reason : new CertpilotError('ERR_LOCK_LOST', `renew ${name}: the lock was lost`);
  const before = done && (done.outcome === 'issued' || done.outcome === 'renewed') ? ` after it ${done.message}` : '';
  return { name, outcome: 'locked', message: `lost its lock to another certpilot process${before}; nothing was written after that, and the holder finishes the work (${error.message})`, error, ...(done?.version !== undefined ? { version: done.version } : {}) };
}

/**
 * `certpilot deploy`: runs the certificate's deploy chain for its live version (every deployer
 * with `force`, else those that lack it), under the certificate's lock. No CA request.
 */
export async function deployCertificate(spec: ResolvedCertificate, ctx: RenewalContext, options: { force?: boolean; signal?: AbortSignal } = {}): Promise<RenewalResult> {
  return oneRun(spec, ctx, options.signal, (run) => deployOne(spec, ctx, options, run));
}

async function deployOne(spec: ResolvedCertificate, ctx: RenewalContext, options: { force?: boolean; signal?: AbortSignal }, run: RunFacts): Promise<RenewalResult> {
  const log = ctx.logger.child({ certificate: spec.name });
  if (spec.deploy.length === 0) return { name: spec.name, outcome: 'not-due', message: 'no deployers configured (see `deploy` in the certificate)' };
  const acquired = await ctx.locker.acquire(spec.name, { ttlSeconds: ctx.lockTtlSeconds, ...(options.signal ? { signal: options.signal } : {}) });
  if (!acquired) return { name: spec.name, outcome: 'locked', message: 'another certpilot process is renewing or deploying it' };
  const lock = acquired;
  ({ ctx, options } = underLock(ctx, options, lock));
  try {
    const stored = await ctx.store.load(spec.name);
    if (stored) run.live = { notBefore: stored.metadata.notBefore, notAfter: stored.metadata.notAfter };
    if (!stored) {
      const error = new CertpilotError('ERR_DEPLOY_NO_CERTIFICATE', `deploy ${spec.name}: no certificate is stored yet`);
      return { name: spec.name, outcome: 'failed', message: error.message, error };
    }
    const deploy = await deployStage(spec, stored, await ctx.store.loadState(spec.name), ctx, options, log);
    const base: RenewalResult = { name: spec.name, outcome: deployOutcome(deploy), message: deploySentence(deploy), version: stored.version, paths: stored.paths, deploy };
    return lostDuring(spec.name, lock) ?? interruptedDeploy(base, deploy, options.signal) ?? base;
  } catch (err) {
    const lost = lostDuring(spec.name, lock);
    if (lost) return lost;
    throw err;
  } finally {
    await lock.release();
  }
}

/**
 * Runs the certificate's deploy chain for `stored` under the caller's lock and records each
 * deployer's outcome. A deployer that cannot even be built fails the stage like a failed deploy.
 */
export async function deployStage(
  spec: ResolvedCertificate,
  stored: StoredCertificate,
  state: RenewalState,
  ctx: RenewalContext,
  options: { force?: boolean; signal?: AbortSignal },
  log: Logger,
): Promise<DeployReport> {
  let report: DeployReport;
  let records = state.deployments;
  try {
    const deployers = await ctx.deployers(spec);
    const ran = await runDeployChain(stored, deployers, state.deployments, {
      ...(options.force ? { force: true } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
      clock: ctx.clock,
      logger: log,
    });
    report = ran.report;
    records = ran.records;
  } catch (err) {
    const error = err instanceof CertpilotError ? err : new CertpilotError('ERR_DEPLOY_FAILED', `deploy ${spec.name}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    log.error({ outcome: 'failed', stage: 'deploy', code: error.code, err: error.message }, 'deployers could not be built');
    report = { ok: false, version: stored.version, steps: spec.deploy.map((d, i) => ({ deployer: d, status: i === 0 ? 'failed' : 'not-run', message: i === 0 ? error.message : 'not run: an earlier deployer failed', ...(i === 0 ? { error } : {}) })) };
  }
  try {
    await ctx.store.saveState(spec.name, { ...(await ctx.store.loadState(spec.name)), ...(records ? { deployments: records } : {}) });
  } catch (err) {
    if (isLockLost(err)) return report; // under a lost lock nothing is written; the holder deploys
    log.error({ err: err instanceof Error ? err.message : String(err) }, 'could not record the deploy');
  }
  return report;
}

/**
 * A deploy stopped by SIGINT/SIGTERM is an interruption, not a failure: the new version is saved,
 * and the next run deploys it (the deployers that did not finish have no success record).
 */
function interruptedDeploy(base: RenewalResult, deploy: DeployReport, signal: AbortSignal | undefined): RenewalResult | undefined {
  if (!signal?.aborted || deploy.ok) return undefined;
  const error = signal.reason instanceof CertpilotError ? signal.reason : new CertpilotError('ERR_INTERRUPTED', `deploy ${base.name}: interrupted`);
  return { ...base, outcome: 'interrupted', message: `interrupted while deploying version ${deploy.version}: it is saved, and the next run deploys it`, error, deploy };
}

/** The outcome of a run that only deployed: `deployed`, or `deploy-failed` when a deployer failed. */
function deployOutcome(report: DeployReport): RenewalOutcome {
  return report.ok ? 'deployed' : 'deploy-failed';
}

/** One clause for the CLI line: `deployed to files, hook` / `deploy failed at hook: …`. */
export function deploySentence(report: DeployReport): string {
  const failed = report.steps.find((s) => s.status === 'failed');
  if (failed) return `deploy failed at ${failed.deployer}: ${failed.message}`;
  const done = report.steps.filter((s) => s.status === 'deployed').map((s) => (s.reason ? `${s.deployer} (${s.reason})` : s.deployer));
  return done.length ? `deployed version ${report.version} to ${done.join(', ')}` : `every deployer already holds version ${report.version}`;
}

/** Renews every certificate, at most `concurrency` at once, in configured order of results. */
export async function renewAll(
  specs: readonly ResolvedCertificate[],
  ctx: RenewalContext,
  options: RenewOptions & { concurrency: number },
): Promise<RenewalResult[]> {
  const results: RenewalResult[] = new Array<RenewalResult>(specs.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < specs.length) {
      const index = next++;
      const spec = specs[index] as ResolvedCertificate;
      results[index] = options.signal?.aborted
        ? settle(spec, ctx, { name: spec.name, outcome: 'interrupted', message: 'not started: interrupted' }, startRun(ctx))
        : await renewCertificate(spec, ctx, options);
    }
  };
  await Promise.all(Array.from({ length: Math.min(options.concurrency, specs.length) }, worker));
  return results;
}

function undecided(name: string, decision: RenewalDecision, stored: StoredCertificate | undefined, state: RenewalState): RenewalResult {
  const held = decision.heldUntil !== undefined;
  const failing = state.lastAttempt?.result === 'failure' ? state.lastAttempt : undefined;
  return {
    ...(failing?.code ? { lastError: { code: failing.code, message: failing.message ?? '', hint: failing.hint ?? catalogHint(failing.code) ?? '' } } : {}),
    name,
    ...(stored ? { paths: stored.paths, version: stored.version } : {}),
    outcome: held ? 'held' : 'not-due',
    message: decision.message,
    ...(decision.reason ? { reason: decision.reason } : {}),
    ...(held ? { next: decision.heldUntil } : decision.dueAt ? { next: decision.dueAt } : {}),
  };
}

/**
 * Fetches and saves the live certificate's ARI answer when one is due. When the run wanted one and
 * none reaches the store, `run.ariHold` says when to ask again (an {@link AriHold}): without it the
 * certificate would look "never asked" after every run, and the daemon would wake for it at once.
 */
async function refreshRenewalInfo(
  name: string,
  stored: StoredCertificate | undefined,
  state: RenewalState,
  ctx: RenewalContext,
  log: Logger,
  options: RenewOptions,
  run: RunFacts,
): Promise<RenewalState> {
  const { signal } = options;
  const now = ctx.clock.now();
  const certId = stored?.metadata.ariCertId;
  if (!stored || !certId) return state;
  const hold = options.ariHolds?.get(name);
  if (!needsRenewalInfo(stored, state, now, hold)) {
    // Still held: say so again, so the caller keeps the hold rather than forgetting it.
    if (hold && hold.certId === certId && hold.until.getTime() > now.getTime()) run.ariHold = hold;
    return state;
  }
  let info: RenewalInfoResult;
  let planned: RenewalState;
  try {
    const source = await ctx.renewalInfo(signal);
    if (!source) {
      // The CA's directory has no renewalInfo: the lifetime rule decides, and nothing is asked until the directory is looked at again.
      run.ariHold = { certId, until: new Date(now.getTime() + ARI_UNSUPPORTED_REFETCH_MS) };
      return state;
    }
    info = await source.getRenewalInfo(stored.certPem, { signal });
    // What this run plans with when the answer cannot be saved (it also refuses a window that ends before it starts).
    planned = applyRenewalInfo(state, info, now);
  } catch (err) {
    // ARI is advice: without it the lifetime rule still renews in time.
    log.warn({ err: err instanceof Error ? err.message : String(err) }, 'renewal info unavailable; using the lifetime rule');
    if (!signal?.aborted) run.ariHold = ariHoldAfterError(certId, now, err instanceof RateLimitedError ? err.retryAfter : undefined);
    return state;
  }
  // RFC 9773 §4.2: an explanation URL means the CA wants this renewal noticed (e.g. a revocation event).
  if (info.explanationURL) log.warn({ explanationURL: info.explanationURL, window: info.suggestedWindow }, 'the CA explains its renewal window');
  // An answer that does not reach the store is not asked for again before its own Retry-After.
  const unsaved: AriHold = { certId, until: new Date(planned.ari?.nextFetchAt ?? now.getTime() + ARI_UNSUPPORTED_REFETCH_MS) };
  try {
    // Undefined when another run holds the certificate (or has just replaced it): this run plans
    // with the answer and saves nothing; a re-plan under the lock reads the state again.
    const saved = await saveRenewalInfo(name, stored, info, ctx, log, signal);
    if (!saved) run.ariHold = unsaved;
    return saved ?? planned;
  } catch (err) {
    // A full disk, a store that cannot be written: the answer still plans this run; the next fetch waits for its Retry-After.
    log.warn({ err: err instanceof Error ? err.message : String(err) }, 'renewal info fetched but not saved; this run plans with it');
    run.ariHold = unsaved;
    return planned;
  }
}

/**
 * Records an ARI answer in the renewal state, under the certificate's lock and over the state as
 * it is then: the state this run read before may be stale by now (another run renewing it records
 * its success, failure or deployments there), and writing the answer over it would lose that.
 * Returns the state written, or undefined (nothing written) when another run holds the lock or
 * the live certificate is no longer the one the answer is about.
 */
async function saveRenewalInfo(
  name: string,
  asked: StoredCertificate,
  info: RenewalInfoResult,
  ctx: RenewalContext,
  log: Logger,
  signal: AbortSignal | undefined,
): Promise<RenewalState | undefined> {
  const lock = await ctx.locker.acquire(name, { ttlSeconds: ctx.lockTtlSeconds, ...(signal ? { signal } : {}) });
  if (!lock) {
    log.debug('renewal info not saved: another certpilot process holds the certificate');
    return undefined;
  }
  try {
    const store = ctx.store.fenced(lock.lost);
    const live = await store.load(name);
    // The same certificate, by its content (another run may have renewed it since it was read).
    if (!live || live.certPem !== asked.certPem) return undefined;
    const updated = applyRenewalInfo(await store.loadState(name), info, ctx.clock.now());
    await store.saveState(name, updated);
    log.debug({ window: info.suggestedWindow, selected: updated.ari?.selectedTime }, 'renewal info fetched');
    return updated;
  } finally {
    await lock.release();
  }
}

async function issueAndSave(
  spec: ResolvedCertificate,
  stored: StoredCertificate | undefined,
  state: RenewalState,
  pending: PendingOrder | undefined,
  reason: string,
  ctx: RenewalContext,
  options: HeldOptions,
  log: Logger,
): Promise<RenewalResult> {
  const now = ctx.clock.now();
  try {
    // Before anything costs the CA an issuance: prove the new version will fit (a full disk fails
    // here, with no order placed).
    if (!options.dryRun) await ctx.store.checkWritable(spec.name);
    await ctx.preflight?.(spec);
    const session = await ctx.session(options.dryRun ? 'staging' : 'production', options.signal);
    const reuse = spec.reuseKey && stored && stored.metadata.keyType === spec.keyType ? stored.privateKeyPem : undefined;
    const solvers = await ctx.solvers(spec);
    const resume = pending && pending.directoryUrl === session.directoryUrl && pending.accountUrl === session.accountUrl ? pending : undefined;
    const replaces = ctx.ari && stored && !options.dryRun ? stored.metadata.ariCertId : undefined;
    const checkpoint = async (c: { orderUrl: string; privateKeyPem: string; certificateUrl?: string }): Promise<void> => {
      if (options.dryRun) return;
      await ctx.store.savePendingOrder(spec.name, {
        orderUrl: c.orderUrl,
        directoryUrl: session.directoryUrl,
        accountUrl: session.accountUrl,
        domains: [...spec.domains],
        keyType: spec.keyType,
        ...(spec.profile ? { profile: spec.profile } : {}),
        privateKeyPem: c.privateKeyPem,
        ...(c.certificateUrl ? { certificateUrl: c.certificateUrl } : {}),
        ...(resume?.replaces ? { replaces: resume.replaces } : replaces ? { replaces } : {}),
        createdAt: resume?.createdAt ?? ctx.clock.now().toISOString(),
        reason: resume?.reason ?? reason,
      });
    };
    const issued = await session.issuer.issue(
      {
        identifiers: spec.identifiers,
        solvers,
        checkpoint,
        ...(resume ? { resume: { orderUrl: resume.orderUrl, privateKeyPem: resume.privateKeyPem, ...(resume.certificateUrl ? { certificateUrl: resume.certificateUrl } : {}) } } : {}),
        keyType: spec.keyType,
        ...(reuse ? { privateKeyPem: reuse } : {}),
        ...(spec.profile ? { profile: spec.profile } : {}),
        ...(replaces ? { replaces } : {}),
        ...(ctx.preferredChain ? { preferredChain: ctx.preferredChain } : {}),
      },
      { ...(options.signal ? { signal: options.signal } : {}) },
    );
    if (options.dryRun) {
      return { name: spec.name, outcome: 'dry-run', reason, message: `dry run: issued by ${session.directoryUrl} and discarded`, notAfter: issued.notAfter.toISOString() };
    }
    if (resume) {
      // An earlier run may have saved this very certificate and been stopped before it cleared the
      // order: recognize it (by fingerprint) instead of saving a duplicate version and deploying it again.
      const known = await ctx.store.findVersion?.(spec.name, issued.certPem);
      if (known !== undefined) return await recognized(spec, stored, state, known, resume, reason, ctx, log);
    }
    const saved = await ctx.store.save(spec.name, {
      certPem: issued.certPem,
      chainPem: issued.chainPem,
      fullchainPem: issued.fullchainPem,
      privateKeyPem: issued.privateKeyPem,
      metadata: {
        domains: spec.domains,
        keyType: spec.keyType,
        ...(spec.profile ? { profile: spec.profile } : {}),
        notBefore: issued.notBefore.toISOString(),
        notAfter: issued.notAfter.toISOString(),
        serialNumber: issued.serialNumber,
        issuer: issued.issuer,
        ariCertId: issued.ariCertId,
        ...(issued.replaces || resume?.replaces ? { replaces: issued.replaces ?? resume?.replaces } : {}),
        issuedAt: ctx.clock.now().toISOString(),
        directoryUrl: session.directoryUrl,
        accountUrl: session.accountUrl,
      },
    });
    await ctx.store.clearPendingOrder(spec.name);
    await ctx.store.saveState(spec.name, recordSuccess(state, ctx.clock.now(), reason));
    log.info({ version: saved.version, notAfter: saved.metadata.notAfter }, stored ? 'renewed' : 'issued');
    await pruneArchive(spec.name, state, ctx, log);
    return {
      name: spec.name,
      outcome: stored ? 'renewed' : 'issued',
      reason,
      message: `${stored ? 'renewed' : 'issued'} version ${saved.version}, valid until ${saved.metadata.notAfter}`,
      version: saved.version,
      notAfter: saved.metadata.notAfter,
      notBefore: saved.metadata.notBefore,
      paths: saved.paths,
    };
  } catch (err) {
    // A lost lock: no failure recorded (the store refuses writes anyway); the caller reports it.
    if (options.lost?.aborted) throw options.lost.reason;
    if (options.signal?.aborted) {
      // Stopped by the operator or the orchestrator, not refused by the CA: no failure, no backoff.
      const error = options.signal.reason instanceof CertpilotError ? options.signal.reason : new CertpilotError('ERR_INTERRUPTED', `renew ${spec.name}: interrupted`);
      log.warn({ outcome: 'interrupted', reason }, stored ? 'renewal interrupted; the previous certificate stays live' : 'issuance interrupted; no certificate is live yet');
      return { name: spec.name, outcome: 'interrupted', reason, message: `interrupted: ${error.message}${stored ? '; the previous certificate stays live' : ''}`, error, previousLive: stored?.version ?? null };
    }
    const error = err instanceof CertpilotError ? err : new CertpilotError('ERR_INTERNAL', `renew ${spec.name}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    if (options.dryRun) return { name: spec.name, outcome: 'failed', reason, message: error.message, error, previousLive: stored?.version ?? null };
    // The one rule of what holds the next run (failure-cost.ts): only what the CA counted.
    const cost = failureCost(err);
    const retryAfter = cost.held ? cost.retryAfter : undefined;
    const lifetimeMs = stored ? Date.parse(stored.metadata.notAfter) - Date.parse(stored.metadata.notBefore) : undefined;
    const local = !cost.held;
    const failed = recordFailure(
      state,
      now,
      { code: error.code, message: error.message, hint: error.hint, reason, local, fingerprint: configFingerprint(spec), ...(retryAfter ? { retryAfter } : {}) },
      lifetimeMs,
    );
    try {
      await ctx.store.saveState(spec.name, failed);
    } catch (saveErr) {
      log.error({ err: saveErr instanceof Error ? saveErr.message : String(saveErr) }, 'could not record the failure');
    }
    // "Stays live" is no comfort for a version that has expired: say that instead.
    const expired = stored && Date.parse(stored.metadata.notAfter) <= now.getTime() ? stored.metadata.notAfter : undefined;
    log.error(
      { outcome: 'failed', code: error.code, err: error.message, held: cost.held, why: cost.why },
      !stored ? 'issuance failed; no certificate is live yet' : expired ? `renewal failed; the previous certificate stays deployed, EXPIRED since ${expired}` : 'renewal failed; the previous certificate stays live',
    );
    const next = retryAfter ?? (cost.held && failed.backoffUntil ? new Date(failed.backoffUntil) : undefined);
    return { name: spec.name, outcome: 'failed', reason, message: error.message, error, previousLive: stored?.version ?? null, ...(expired ? { previousExpired: expired } : {}), backoff: { held: cost.held, why: cost.why }, ...(next ? { next } : {}) };
  }
}

/**
 * The pending order's certificate is already stored as version `known` (an earlier run saved it,
 * then was stopped before it cleared the order): the order is cleared, nothing is saved again,
 * and the deploy stage then runs only for deployers that lack the live version.
 */
async function recognized(
  spec: ResolvedCertificate,
  stored: StoredCertificate | undefined,
  state: RenewalState,
  known: number,
  pending: PendingOrder,
  reason: string,
  ctx: RenewalContext,
  log: Logger,
): Promise<RenewalResult> {
  await ctx.store.clearPendingOrder(spec.name);
  log.info({ order: pending.orderUrl, version: known, live: stored?.version }, 'the pending order\'s certificate is already stored; the order is cleared, nothing saved again');
  if (stored && stored.version === known) {
    if (state.lastAttempt?.result !== 'success' || state.failureCount > 0) await ctx.store.saveState(spec.name, recordSuccess(state, ctx.clock.now(), reason));
    return {
      name: spec.name,
      outcome: 'renewed',
      reason,
      message: `version ${known} already holds the certificate of order ${pending.orderUrl} (an earlier run saved it and was stopped before it finished); nothing saved again, valid until ${stored.metadata.notAfter}`,
      version: known,
      notAfter: stored.metadata.notAfter,
      notBefore: stored.metadata.notBefore,
      ...(stored.paths ? { paths: stored.paths } : {}),
    };
  }
  return {
    name: spec.name,
    outcome: 'not-due',
    reason,
    message: `the certificate of order ${pending.orderUrl} is archived version ${known}; the order is cleared${stored ? `, version ${stored.version} stays live` : ''}`,
    ...(stored ? { version: stored.version, ...(stored.paths ? { paths: stored.paths } : {}) } : {}),
  };
}

/** Prunes the archive by `ctx.retention`, keeping every version a deploy record names. Never fails the run. */
async function pruneArchive(name: string, state: RenewalState, ctx: RenewalContext, log: Logger): Promise<void> {
  if (!ctx.retention || !ctx.store.removeOldVersions) return;
  const held = new Set(Object.values(state.deployments ?? {}).map((d) => d.version));
  try {
    await ctx.store.removeOldVersions(name, ctx.retention, ctx.clock.now(), held);
  } catch (err) {
    log.warn({ err: err instanceof Error ? err.message : String(err) }, 'could not prune the archive; it is tried again after the next save');
  }
}
