/**
 * The deploy stage of a renewal run: a certificate's deployers, in order, for its live version.
 *
 * - A deployer whose last recorded deploy is this version (same number and serial) and succeeded
 *   is skipped, unless forced: a nothing-due run redeploys nothing, and after a failure only the
 *   failed deployer and those after it run again. A record is not taken on trust where the
 *   deployer can check its target ({@link DeployVerifier}: the `files` deployer reads its
 *   directory's marker, `kubernetes-secret` GETs its Secret): a target that lost the version
 *   (files missing, another version, a moved `dir`, a Secret deleted or holding another
 *   certificate) is deployed again, and the log says why; the deployers after it run again too (a
 *   `kubernetes-reload` after its Secret). A target that cannot be checked now (an API server down
 *   or refusing the read) keeps its record, with a warning: never a redeploy.
 * - The first failure stops the chain: the deployers after it do not run (a Secret that could not
 *   be written never triggers a pod reload). The store is never rolled back.
 * - Every deployer's outcome is returned as a record for the renewal state.
 */
import type { Clock } from '../clock.js';
import { CertpilotError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { DeploymentRecord, StoredCertificate } from '../storage/certificate-store.js';
import { isDeployVerifier, type Deployer, type DeployVerifier } from './deployer.js';

/** What one deployer did in a run. */
export interface DeployStep {
  /** The deployer instance name. */
  deployer: string;
  status: 'deployed' | 'up-to-date' | 'failed' | 'not-run';
  message: string;
  /** Why a deployer whose record said it held the version deployed again ("files missing in /certs"). */
  reason?: string;
  error?: CertpilotError;
}

/** What the deploy stage did for one certificate. */
export interface DeployReport {
  /** True when every deployer holds the live version now. */
  ok: boolean;
  /** The version deployed. */
  version: number;
  steps: DeployStep[];
}

/** True when `record` says this deployer already holds `stored`. */
export function isDeployed(record: DeploymentRecord | undefined, stored: StoredCertificate): boolean {
  return record?.result === 'success' && record.version === stored.version && record.serialNumber === stored.metadata.serialNumber;
}

/** The deployers of `names` that do not hold `stored` yet, in order. */
export function pendingDeployers(names: readonly string[], stored: StoredCertificate, records: Readonly<Record<string, DeploymentRecord>> | undefined): string[] {
  return names.filter((name) => !isDeployed(records?.[name], stored));
}

/**
 * Why a deployer whose record says it holds `stored` no longer does; or, with `unchecked`, why its
 * target could not be checked (the record then stands: not lost, nothing to deploy).
 */
export interface UnheldDeployer {
  deployer: string;
  reason: string;
  /** The target could not be looked at (API server down, a 403): the error's code and hint. */
  unchecked?: { code: string; hint?: string };
}

/** The rejection of a {@link DeployVerifier.verify} that could not look at its target, as an error (the signal's reason is rethrown). */
/** How long one check of a deploy target may take: a silent API server is "not checked", not a 30 s wait per target. */
export const VERIFY_DEADLINE_MS = 3_000;

/** `deployer.verify` under `signal` and {@link VERIFY_DEADLINE_MS}; a check past the deadline rejects with a CertpilotError saying so. */
async function verifyTarget(deployer: Deployer & DeployVerifier, stored: StoredCertificate, signal: AbortSignal | undefined): Promise<string | undefined> {
  // A timer of our own (AbortSignal.timeout's does not keep the process alive while it waits).
  const deadline = new AbortController();
  const late = new CertpilotError('ERR_DEPLOY_FAILED', `deploy: ${deployer.id}: its target did not answer within ${VERIFY_DEADLINE_MS / 1000} s`, { retryable: true });
  const timer = setTimeout(() => deadline.abort(late), VERIFY_DEADLINE_MS);
  // Raced too, for a check that does not heed its signal.
  const expired = new Promise<never>((_resolve, reject) => deadline.signal.addEventListener('abort', () => reject(late), { once: true }));
  try {
    return await Promise.race([deployer.verify(stored, { signal: signal ? AbortSignal.any([signal, deadline.signal]) : deadline.signal }), expired]);
  } finally {
    clearTimeout(timer);
    expired.catch(() => undefined);
  }
}

function uncheckable(err: unknown, signal: AbortSignal | undefined): CertpilotError {
  if (signal?.aborted) throw signal.reason;
  return err instanceof CertpilotError ? err : new CertpilotError('ERR_DEPLOY_FAILED', err instanceof Error ? err.message : String(err), { cause: err });
}

/**
 * The deployers among `deployers` whose record says they hold `stored` but whose target, checked
 * ({@link DeployVerifier}), does not, each with the reason; and those whose target could not be
 * checked (`unchecked`, not lost). Deployers that cannot check are trusted.
 */
export async function unheldDeployers(
  stored: StoredCertificate,
  deployers: readonly Deployer[],
  records: Readonly<Record<string, DeploymentRecord>> | undefined,
  signal?: AbortSignal,
): Promise<UnheldDeployer[]> {
  const unheld: UnheldDeployer[] = [];
  for (const deployer of deployers) {
    if (!isDeployVerifier(deployer) || !isDeployed(records?.[deployer.id], stored)) continue;
    try {
      const reason = await verifyTarget(deployer, stored, signal);
      if (reason !== undefined) unheld.push({ deployer: deployer.id, reason });
    } catch (err) {
      const e = uncheckable(err, signal);
      unheld.push({ deployer: deployer.id, reason: e.message, unchecked: { code: e.code, ...(e.hint ? { hint: e.hint } : {}) } });
    }
  }
  return unheld;
}

/** The entries of {@link unheldDeployers} that lost the version (not those that could not be checked). */
export function lostDeployers(unheld: readonly UnheldDeployer[]): UnheldDeployer[] {
  return unheld.filter((u) => u.unchecked === undefined);
}

/** Options of {@link runDeployChain}. */
export interface DeployChainOptions {
  /** Deploy even to deployers that already hold this version. */
  force?: boolean;
  signal?: AbortSignal;
  clock: Clock;
  logger: Logger;
}

/** Runs the chain; never throws for a deployer's failure (it is in the report). */
export async function runDeployChain(
  stored: StoredCertificate,
  deployers: readonly Deployer[],
  records: Readonly<Record<string, DeploymentRecord>> | undefined,
  options: DeployChainOptions,
): Promise<{ report: DeployReport; records: Record<string, DeploymentRecord> }> {
  const next: Record<string, DeploymentRecord> = { ...records };
  const steps: DeployStep[] = [];
  let failed = false;
  // Once a deployer deploys again because its target lost the version, the ones after it run too
  // (a hook reloads the server that reads the directory it wrote).
  let again = false;
  for (const deployer of deployers) {
    const log = options.logger.child({ deployer: deployer.id, version: stored.version });
    if (failed) {
      steps.push({ deployer: deployer.id, status: 'not-run', message: 'not run: an earlier deployer failed' });
      continue;
    }
    const base = { version: stored.version, serialNumber: stored.metadata.serialNumber };
    let why: string | undefined;
    try {
      if (!options.force && !again && isDeployed(next[deployer.id], stored)) {
        // The record says so; a deployer that can look at its target checks it is still so. One
        // that cannot look now (API server down, forbidden) keeps its record: deploying blind
        // would fail the same way, and a redeploy on every unanswered check is a storm.
        let unchecked: CertpilotError | undefined;
        if (isDeployVerifier(deployer)) {
          why = await verifyTarget(deployer, stored, options.signal).catch((err: unknown) => {
            unchecked = uncheckable(err, options.signal);
            return undefined;
          });
        }
        if (unchecked !== undefined) {
          log.warn({ code: unchecked.code, err: unchecked.message, hint: unchecked.hint }, `could not check that the target still holds version ${stored.version}; trusting the deploy record`);
        }
        if (why === undefined) {
          steps.push({ deployer: deployer.id, status: 'up-to-date', message: `already holds version ${stored.version}${unchecked !== undefined ? ` (by its record: not checked, ${unchecked.code})` : ''}` });
          continue;
        }
        log.warn({ reason: why }, `deployed before, but ${why}: deploying version ${stored.version} again`);
        again = true;
      }
      options.signal?.throwIfAborted();
      const result = await deployer.deploy(stored, options.signal ? { signal: options.signal } : {});
      const message = why === undefined ? result.message : `${why}, so deployed again: ${result.message}`;
      next[deployer.id] = { ...base, at: options.clock.now().toISOString(), result: 'success', message };
      steps.push({ deployer: deployer.id, status: 'deployed', message, ...(why !== undefined ? { reason: why } : {}) });
      log.info({ details: result.details }, `deployed: ${result.message}`);
    } catch (err) {
      const error =
        err instanceof CertpilotError
          ? err
          : new CertpilotError('ERR_DEPLOY_FAILED', `deploy ${deployer.id}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
      steps.push({ deployer: deployer.id, status: 'failed', message: error.message, ...(why !== undefined ? { reason: why } : {}), error });
      failed = true;
      if (error.code === 'ERR_INTERRUPTED' || options.signal?.aborted) {
        // Stopped by SIGINT/SIGTERM, not failed: the deployer's record stays what it was (a forced
        // redeploy of the version it holds still holds it), and the next run deploys what is missing.
        log.warn({ outcome: 'interrupted', code: error.code }, 'deploy interrupted; the certificate stays saved, the next run deploys it');
        continue;
      }
      next[deployer.id] = { ...base, at: options.clock.now().toISOString(), result: 'failure', message: error.message.slice(0, 500), code: error.code };
      log.error({ outcome: 'failed', code: error.code, err: error.message }, 'deploy failed; the certificate stays saved, later deployers do not run, the next run retries');
    }
  }
  return { report: { ok: !failed, version: stored.version, steps }, records: next };
}
