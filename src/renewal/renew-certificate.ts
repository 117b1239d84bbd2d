/**
 * One renewal run for one certificate: refresh ARI when allowed → plan → (lock → plan again →
 * issue → save) → record the outcome in the renewal state. A failure leaves the previous certificate
 * live and is recorded for backoff; a `rateLimited` answer is persisted, never slept through.
 *
 * Nothing-due runs stay cheap: no lock, no account, no CA request unless ARI must be fetched.
 */
import type { AcmeClient } from '../acme/acme-client.js';
import type { Issuer } from '../acme/issuer.js';
import { RateLimitedError } from '../acme/protocol/problem.js';
import type { Clock } from '../clock.js';
import type { ResolvedCertificate } from '../config/load-config.js';
import { CertpilotError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Locker } from '../coordination/locker.js';
import type { CertificateStore, RenewalState, RenewalStateStore, StoredCertificate } from '../storage/certificate-store.js';
import { applyRenewalInfo, needsRenewalInfo, planRenewal, recordFailure, recordSuccess } from './planner.js';

/** An ACME client and issuer bound to an account, opened on first need. */
export interface AccountSession {
  client: AcmeClient;
  issuer: Issuer;
  directoryUrl: string;
  accountUrl: string;
}

/** What a renewal run needs; built by `cli/compose.ts`. */
export interface RenewalContext {
  store: CertificateStore & RenewalStateStore;
  locker: Locker;
  /** Opens (once) the account on the production directory, or on the staging one for dry runs. */
  session(which: 'production' | 'staging', signal?: AbortSignal): Promise<AccountSession>;
  /**
   * A client for ARI look-ups (no account needed: renewalInfo is a plain GET), or undefined when
   * the CA's directory offers no renewalInfo (remembered for a day, so such CAs cost no request).
   */
  renewalInfoClient(signal?: AbortSignal): Promise<AcmeClient | undefined>;
  ari: boolean;
  preferredChain?: string;
  lockTtlSeconds: number;
  /** How often renew runs, when known: renewals due before the next run are done now. */
  runIntervalMs?: number;
  clock: Clock;
  logger: Logger;
}

/** How one certificate's run ended. */
export type RenewalOutcome = 'issued' | 'renewed' | 'not-due' | 'held' | 'locked' | 'failed' | 'dry-run' | 'interrupted';

/** The result of one certificate's run, for the CLI summary and the exit code. */
export interface RenewalResult {
  name: string;
  outcome: RenewalOutcome;
  message: string;
  reason?: string;
  version?: number;
  notAfter?: string;
  /** When the certificate becomes due, or when it may be tried again. */
  next?: Date;
  error?: CertpilotError;
}

/** Options of a run. */
export interface RenewOptions {
  force?: boolean;
  dryRun?: boolean;
  signal?: AbortSignal;
}

/** Renews one certificate if due. Never throws for a renewal failure: it is in the result. */
export async function renewCertificate(spec: ResolvedCertificate, ctx: RenewalContext, options: RenewOptions = {}): Promise<RenewalResult> {
  const log = ctx.logger.child({ certificate: spec.name });
  let stored = await ctx.store.load(spec.name);
  let state = await ctx.store.loadState(spec.name);

  if (ctx.ari && !options.dryRun) state = await refreshRenewalInfo(spec.name, stored, state, ctx, log, options.signal);

  const plan = (): ReturnType<typeof planRenewal> => {
    const now = ctx.clock.now();
    return planRenewal({
      spec,
      stored,
      state,
      now,
      ...(options.force ? { force: true } : {}),
      ...(ctx.runIntervalMs ? { nextRunAt: new Date(now.getTime() + ctx.runIntervalMs) } : {}),
    });
  };
  let decision = plan();
  if (!decision.due) return undecided(spec.name, decision);

  const lock = await ctx.locker.acquire(spec.name, { ttlSeconds: ctx.lockTtlSeconds, ...(options.signal ? { signal: options.signal } : {}) });
  if (!lock) return { name: spec.name, outcome: 'locked', message: 'another certpilot process is renewing it' };
  try {
    // Another process may have renewed it between our plan and the lock.
    stored = await ctx.store.load(spec.name);
    state = await ctx.store.loadState(spec.name);
    decision = plan();
    if (!decision.due) return undecided(spec.name, decision);
    log.info({ reason: decision.reason, message: decision.message }, options.dryRun ? 'dry run' : 'renewing');
    return await issueAndSave(spec, stored, state, decision.reason ?? 'forced', ctx, options, log);
  } finally {
    await lock.release();
  }
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
        ? { name: spec.name, outcome: 'interrupted', message: 'not started: interrupted' }
        : await renewCertificate(spec, ctx, options);
    }
  };
  await Promise.all(Array.from({ length: Math.min(options.concurrency, specs.length) }, worker));
  return results;
}

function undecided(name: string, decision: ReturnType<typeof planRenewal>): RenewalResult {
  const held = decision.heldUntil !== undefined;
  return {
    name,
    outcome: held ? 'held' : 'not-due',
    message: decision.message,
    ...(decision.reason ? { reason: decision.reason } : {}),
    ...(held ? { next: decision.heldUntil } : decision.dueAt ? { next: decision.dueAt } : {}),
  };
}

async function refreshRenewalInfo(
  name: string,
  stored: StoredCertificate | undefined,
  state: RenewalState,
  ctx: RenewalContext,
  log: Logger,
  signal: AbortSignal | undefined,
): Promise<RenewalState> {
  const now = ctx.clock.now();
  if (!stored || !needsRenewalInfo(stored, state, now)) return state;
  try {
    const client = await ctx.renewalInfoClient(signal);
    if (!client) return state;
    const info = await client.getRenewalInfo(stored.certPem, { signal });
    const updated = applyRenewalInfo(state, info, now);
    await ctx.store.saveState(name, updated);
    log.debug({ window: info.suggestedWindow, selected: updated.ari?.selectedTime }, 'renewal info fetched');
    // RFC 9773 §4.2: an explanation URL means the CA wants this renewal noticed (e.g. a revocation event).
    if (info.explanationURL) log.warn({ explanationURL: info.explanationURL, window: info.suggestedWindow }, 'the CA explains its renewal window');
    return updated;
  } catch (err) {
    // ARI is advice: without it the lifetime rule still renews in time.
    log.warn({ err: err instanceof Error ? err.message : String(err) }, 'renewal info unavailable; using the lifetime rule');
    return state;
  }
}

async function issueAndSave(
  spec: ResolvedCertificate,
  stored: StoredCertificate | undefined,
  state: RenewalState,
  reason: string,
  ctx: RenewalContext,
  options: RenewOptions,
  log: Logger,
): Promise<RenewalResult> {
  const now = ctx.clock.now();
  try {
    const session = await ctx.session(options.dryRun ? 'staging' : 'production', options.signal);
    const reuse = spec.reuseKey && stored && stored.metadata.keyType === spec.keyType ? stored.privateKeyPem : undefined;
    const issued = await session.issuer.issue(
      {
        identifiers: spec.identifiers,
        keyType: spec.keyType,
        ...(reuse ? { privateKeyPem: reuse } : {}),
        ...(spec.profile ? { profile: spec.profile } : {}),
        ...(ctx.ari && stored && !options.dryRun ? { replaces: stored.metadata.ariCertId } : {}),
        ...(ctx.preferredChain ? { preferredChain: ctx.preferredChain } : {}),
      },
      { ...(options.signal ? { signal: options.signal } : {}) },
    );
    if (options.dryRun) {
      return { name: spec.name, outcome: 'dry-run', reason, message: `dry run: issued by ${session.directoryUrl} and discarded`, notAfter: issued.notAfter.toISOString() };
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
        ...(issued.replaces ? { replaces: issued.replaces } : {}),
        issuedAt: ctx.clock.now().toISOString(),
        directoryUrl: session.directoryUrl,
        accountUrl: session.accountUrl,
      },
    });
    await ctx.store.saveState(spec.name, recordSuccess(state, ctx.clock.now(), reason));
    log.info({ version: saved.version, notAfter: saved.metadata.notAfter }, stored ? 'renewed' : 'issued');
    return {
      name: spec.name,
      outcome: stored ? 'renewed' : 'issued',
      reason,
      message: `${stored ? 'renewed' : 'issued'} version ${saved.version}, valid until ${saved.metadata.notAfter}`,
      version: saved.version,
      notAfter: saved.metadata.notAfter,
    };
  } catch (err) {
    if (options.signal?.aborted) {
      // Stopped by the operator or the orchestrator, not refused by the CA: no failure, no backoff.
      const error = options.signal.reason instanceof CertpilotError ? options.signal.reason : new CertpilotError('ERR_INTERRUPTED', `renew ${spec.name}: interrupted`);
      log.warn({ reason }, 'renewal interrupted; the previous certificate stays live');
      return { name: spec.name, outcome: 'interrupted', reason, message: `interrupted: ${error.message}; the previous certificate stays live`, error };
    }
    const error = err instanceof CertpilotError ? err : new CertpilotError('ERR_INTERNAL', `renew ${spec.name}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    if (options.dryRun) return { name: spec.name, outcome: 'failed', reason, message: error.message, error };
    const retryAfter = err instanceof RateLimitedError ? err.retryAfter : undefined;
    const lifetimeMs = stored ? Date.parse(stored.metadata.notAfter) - Date.parse(stored.metadata.notBefore) : undefined;
    const failed = recordFailure(state, now, { code: error.code, message: error.message, ...(retryAfter ? { retryAfter } : {}) }, lifetimeMs);
    try {
      await ctx.store.saveState(spec.name, failed);
    } catch (saveErr) {
      log.error({ err: saveErr instanceof Error ? saveErr.message : String(saveErr) }, 'could not record the failure');
    }
    log.error({ code: error.code, err: error.message }, 'renewal failed; the previous certificate stays live');
    const next = retryAfter ?? (failed.backoffUntil ? new Date(failed.backoffUntil) : undefined);
    return { name: spec.name, outcome: 'failed', reason, message: error.message, error, ...(next ? { next } : {}) };
  }
}
