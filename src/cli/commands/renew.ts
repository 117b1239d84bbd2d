/** `certpilot renew`: renews every configured certificate that is due, and every one-off `issue -d` remembered. */
import { CertpilotError } from '../../errors.js';
import { deploySentence, renewAll, resultFailed, type RenewalResult } from '../../renewal/renew-certificate.js';
import { EXIT, isTemporaryError, type CommandContext } from '../main.js';
import { formatTime } from '../output.js';
import { shellName } from '../../challenges/dns-persist01/record.js';
import { selectCertificates } from '../runtime.js';
import type { RenewalReason } from '../../renewal/policies.js';
import { problemResult, rememberOneOff } from '../one-offs.js';
import { observeEvents, openObservedRuntime, reportRun } from '../run-report.js';
import { lockedWithoutLiveHolder } from '../locks.js';

/** Runs renewals for the selected certificates and prints one line each; returns the exit code. */
export async function runRenewals(ctx: CommandContext, mode: { explicit: boolean }): Promise<number> {
  const oneOff = mode.explicit && (ctx.values.domain?.length ?? 0) > 0;
  // `renew` also renews the one-offs `issue -d` remembered; `issue` acts on what it is given.
  const { runtime, metrics, problems, otherCa } = await openObservedRuntime(ctx, mode.explicit, mode.explicit ? false : 'renew', true);
  try {
    const specs = selectCertificates(ctx, runtime.config, problems.map((p) => p.name));
    if (specs.length === 0 && problems.length === 0) {
      throw new CertpilotError('ERR_CLI_USAGE', 'cli: no certificates to act on', {
        hint: mode.explicit
          ? 'List certificates in the configuration file, or give names with -d (certpilot issue -d example.com).'
          : otherCa.length > 0
            ? `The one-offs in this state (${otherCa.join(', ')}) were issued from another CA than this run's: run the command each warning above names.`
            : `\`renew\` renews the certificates listed in the configuration file (docs/getting-started.md) and the one-offs \`certpilot issue -d NAME …\` issued into this state (${runtime.config.stateDir}); there are none: issue one, or list certificates under \`certificates:\`.`,
      });
    }
    const { acme } = runtime.config;
    if (ctx.values['dry-run'] && acme.stagingDirectoryUrl === acme.directoryUrl) {
      // Only Let's Encrypt's staging directory is known; any other CA's dry run is a real issuance.
      ctx.output.err(`warning: --dry-run: no staging directory is known for ${acme.directoryUrl}, so this dry run orders real certificates from it (discarded afterwards, but issued and counted by its rate limits).\n  hint: Set acme.stagingDirectoryUrl to the CA's staging or test directory.`);
    }
    const concurrency = ctx.values.concurrency ?? runtime.config.renewal.concurrency;
    const observer = observeEvents(runtime, metrics, ctx.signal);
    const renewed = await renewAll(specs, { ...runtime.renewalContext(), events: observer.sink }, {
      concurrency,
      ...(ctx.signal ? { signal: ctx.signal } : {}),
      ...(ctx.values.force ? { force: true } : {}),
      ...(ctx.values['dry-run'] ? { dryRun: true } : {}),
    });
    // A one-off whose record cannot be used fails alone, after the others ran.
    const results = [...renewed, ...problems.map(problemResult)];
    if (oneOff && renewed[0]) await rememberOneOff(runtime, renewed[0]);
    if (ctx.values.json) ctx.output.out(JSON.stringify(results.map(toJson), null, 2));
    else for (const r of results) ctx.output.out(describe(r, ctx.values.verbose === true));
    const reported = await reportRun(ctx, runtime, metrics, observer);
    const stuck = await lockedWithoutLiveHolder(ctx, runtime, results.filter((r) => r.outcome === 'locked').map((r) => r.name));
    const code = exitCode(results, mode.explicit, ctx, ctx.values.json !== true, stuck);
    return code === EXIT.ok && !reported ? EXIT.failed : code;
  } finally {
    await runtime.close();
  }
}

/** The JSON form of one result (renew, issue and deploy share it). */
export function toJson(r: RenewalResult): Record<string, unknown> {
  return {
    name: r.name,
    outcome: r.outcome,
    message: r.message,
    ...(r.reason ? { reason: r.reason } : {}),
    ...(r.version !== undefined ? { version: r.version } : {}),
    ...(r.notAfter ? { notAfter: r.notAfter } : {}),
    ...(r.next ? { next: r.next.toISOString() } : {}),
    ...(r.error ? { error: { code: r.error.code, message: r.error.message, hint: r.error.hint } } : {}),
    ...(r.backoff ? { backoff: r.backoff } : {}),
    ...(r.lastError ? { lastError: r.lastError } : {}),
    ...(r.previousLive !== undefined ? { previousLive: r.previousLive } : {}),
    ...(r.paths ? { files: r.paths } : {}),
    ...(r.deploy
      ? {
          deploy: {
            ok: r.deploy.ok,
            version: r.deploy.version,
            steps: r.deploy.steps.map((s) => ({ deployer: s.deployer, status: s.status, message: s.message, ...(s.error ? { code: s.error.code, hint: s.error.hint } : {}) })),
          },
        }
      : {}),
  };
}

/** The human lines of one result (renew, issue and deploy share them); `verbose` adds the failure's causes and stack. */
export function describe(r: RenewalResult, verbose = false): string {
  const lines = headline(r);
  const failure = r.outcome === 'failed' ? r.error : r.deploy?.steps.find((s) => s.status === 'failed')?.error;
  return verbose && failure ? `${lines}\n${causeLines(failure)}` : lines;
}

/** The stack of `err` and of each of its causes, indented under the result line. */
function causeLines(err: Error): string {
  const out: string[] = [];
  for (let e: unknown = err, depth = 0; e && depth < 8; e = e instanceof Error ? e.cause : undefined, depth++) {
    const text = e instanceof Error ? (e.stack ?? e.message) : String(e);
    out.push(`${depth === 0 ? '' : 'caused by: '}${text}`.replace(/^/gm, '         '));
  }
  return out.join('\n');
}

/** Why a version was issued, as the headline says it (a first issue, `missing`, says nothing more). */
const WHY: Readonly<Record<RenewalReason, string>> = {
  missing: 'none stored',
  'domains-changed': 'its names changed',
  'key-type-changed': 'its key type changed',
  'profile-changed': 'its profile changed',
  expired: 'the stored one had expired',
  'ari-window': "due: inside the CA's renewal window (ARI)",
  lifetime: 'due: its renewal time by lifetime',
  forced: '--force',
  'resume-order': 'an interrupted order, completed',
  revoked: 'the live one was revoked',
};

function headline(r: RenewalResult): string {
  const head = `${r.outcome.padEnd(8)} ${r.name}`;
  const failedStep = r.deploy?.steps.find((s) => s.status === 'failed');
  const deployHint = failedStep?.error ? `\n         hint: ${failedStep.error.hint}` : '';
  // The failed deployer's code leads its clause, as a failed renewal's code leads its line.
  const deployed = r.deploy ? `; ${failedStep?.error ? `${failedStep.error.code}: ` : ''}${deploySentence(r.deploy)}` : '';
  switch (r.outcome) {
    case 'issued':
    case 'renewed':
      return `${head}: ${r.message}${r.reason && r.reason !== 'missing' ? ` (${WHY[r.reason as RenewalReason] ?? r.reason})` : ''}${r.paths ? `; files in ${r.paths.dir}/` : ''}${deployed}${deployHint}`;
    case 'deployed':
    case 'deploy-failed':
      return `${head}: ${failedStep?.error ? `${failedStep.error.code}: ` : ''}${r.message}${deployHint}`;
    case 'not-due':
    case 'held':
      return `${head}: ${r.message}`; // the planner's sentence already says when
    case 'locked':
      // Who holds it is one `status` away; a run killed with its lock held blocks it until the TTL.
      if (r.error) return `${head}: ${r.message}`; // lost mid-run: the new holder finishes it
      return `${head}: ${r.message}\n         hint: \`certpilot status --name ${shellName(r.name)}\` shows who holds its lock; if that run is gone (the lock is stale), \`certpilot unlock ${shellName(r.name)}\` breaks it`;
    case 'failed':
      return `${head}: ${r.error ? `${r.error.code}: ` : ''}${r.message}${r.error ? `\n         hint: ${r.error.hint}` : ''}${holdLine(r)}`;
    default:
      return `${head}: ${r.message}`;
  }
}

/** Whether a failure holds the next run, and why (failure-cost.ts): people must know whether their fix is tried at once. */
function holdLine(r: RenewalResult): string {
  if (r.backoff && !r.backoff.held) return `\n         not held: ${r.backoff.why}`;
  const why = r.backoff ? ` (${r.backoff.why})` : '';
  return r.next ? `\n         next attempt after ${formatTime(r.next)}${why}` : '';
}

/**
 * The exit code, and (for people: `summary`) one closing line on stderr. It promises that earlier
 * certificates stay live only when the failed ones had one: a first issuance that fails has none.
 */
function exitCode(results: readonly RenewalResult[], explicit: boolean, ctx: CommandContext, summary: boolean, stuck: readonly string[]): number {
  const say = (line: string): void => {
    if (summary) ctx.output.err(line);
  };
  if (results.some((r) => r.outcome === 'interrupted')) {
    say(`Interrupted: challenges cleaned up, locks released${liveClause(results.filter((r) => r.outcome === 'interrupted'))}.`);
    return EXIT.interrupted;
  }
  const failed = results.filter(resultFailed);
  if (failed.length > 0) {
    // Only "try again later" failures (the CA's rate limit, a CA that does not answer, an unreachable
    // Kubernetes API server): exit 75, nothing to fix here.
    const laterOnly = failed.every((r) => r.outcome === 'failed' && r.error !== undefined && isTemporaryError(r.error));
    const deploys = failed.filter((r) => r.outcome !== 'failed').length;
    const renewals = failed.filter((r) => r.outcome === 'failed');
    say(
      `${failed.length} of ${results.length} certificate(s) failed${deploys ? ` (${deploys} in the deploy stage: saved, not fully deployed; the next run retries)` : ''}${liveClause(renewals)}.`,
    );
    // Only configuration problems the CA's answers revealed (its terms of service not agreed to): a
    // configuration error, like the ones found before any request.
    const configOnly = failed.every((r) => r.outcome === 'failed' && r.error?.code === 'ERR_CONFIG_INVALID');
    return laterOnly ? EXIT.tempFail : configOnly ? EXIT.usage : EXIT.failed;
  }
  // Another run's lock kept due work from this run, whatever the flags (names, --force, or a renew
  // of everything from cron or a CronJob): while a live holder renews that lock the work is in its
  // hands and it reports its own result (0); a lock no live holder renews (stale: a run killed
  // with it held; expired; unreadable) blocks the certificate with nobody at work, so "try later"
  // (75): a CronJob retries the pod, cron and systemd show it, the warning names `certpilot unlock`.
  if (stuck.length > 0) {
    say(`${stuck.length} certificate(s) not renewed: locked by a run that no longer renews its lock (${stuck.join(', ')}).`);
    return EXIT.tempFail;
  }
  // Asked for explicitly (names, or --force), a renewal held back by backoff or the CA's Retry-After
  // is "try later"; so is one held with no certificate live yet, even in a renew of everything: a
  // CronJob must not show success while the certificate does not exist. In a renew of everything, a
  // backoff is this state's own decision about a failure already reported: exit 0.
  const explicitly = explicit || ctx.values.force === true;
  if (explicitly && results.some((r) => r.outcome === 'held')) return EXIT.tempFail;
  if (results.some((r) => r.outcome === 'held' && r.version === undefined)) return EXIT.tempFail;
  return EXIT.ok;
}

/** `; the previous certificates stay live` when true of the failed results, else what is true instead. */
function liveClause(failed: readonly RenewalResult[]): string {
  if (failed.length === 0) return '';
  const expired = failed.filter((r) => r.previousExpired !== undefined);
  if (expired.length > 0) return `; ${expired.length === failed.length && failed.length === 1 ? 'the previous certificate stays deployed but EXPIRED' : `${expired.map((r) => r.name).join(', ')}: the previous certificate stays deployed but EXPIRED`}: renew it now`;
  const withLive = failed.filter((r) => typeof r.previousLive === 'number').length;
  const none = failed.filter((r) => r.previousLive === null).length;
  if (withLive === failed.length) return `; the previous certificate${failed.length > 1 ? 's stay' : ' stays'} live`;
  if (none === failed.length) return `; no certificate was issued${failed.length > 1 ? ' for them' : ''} yet, so none is live`;
  if (withLive + none === failed.length) return `; ${withLive} keep their previous certificate live, ${none} had none yet`;
  return '; any certificate issued before stays live';
}

/** Entry point of `certpilot renew`. */
export async function run(ctx: CommandContext): Promise<number> {
  return runRenewals(ctx, { explicit: false });
}
