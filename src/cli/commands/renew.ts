/** `certpilot renew`: renews every configured certificate that is due. */
import { CertpilotError } from '../../errors.js';
import { deploySentence, renewAll, resultFailed, type RenewalResult } from '../../renewal/renew-certificate.js';
import { EXIT, type CommandContext } from '../main.js';
import { formatTime } from '../output.js';
import { selectCertificates } from '../runtime.js';
import { openObservedRuntime, reportRun } from '../run-report.js';
import type { RunTiming } from '../../notify/lifecycle-event.js';

/** Runs renewals for the selected certificates and prints one line each; returns the exit code. */
export async function runRenewals(ctx: CommandContext, mode: { explicit: boolean }): Promise<number> {
  const { runtime, metrics } = await openObservedRuntime(ctx, mode.explicit);
  try {
    const specs = selectCertificates(ctx, runtime.config);
    if (specs.length === 0) {
      throw new CertpilotError('ERR_CLI_USAGE', 'cli: no certificates to act on', {
        hint: 'List certificates in the configuration file, or give names with -d (certpilot issue -d example.com).',
      });
    }
    const concurrency = ctx.values.concurrency ?? runtime.config.renewal.concurrency;
    const timed: { result: RenewalResult; timing: RunTiming }[] = [];
    const results = await renewAll(specs, runtime.renewalContext(), {
      concurrency,
      onResult: (result, timing) => timed.push({ result, timing }),
      ...(ctx.signal ? { signal: ctx.signal } : {}),
      ...(ctx.values.force ? { force: true } : {}),
      ...(ctx.values['dry-run'] ? { dryRun: true } : {}),
    });
    if (ctx.values.json) ctx.output.out(JSON.stringify(results.map(toJson), null, 2));
    else for (const r of results) ctx.output.out(describe(r));
    const reported = await reportRun(ctx, runtime, metrics, timed);
    const code = exitCode(results, mode.explicit, ctx);
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
    ...(r.error ? { error: { code: r.error.code, hint: r.error.hint } } : {}),
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

/** The human lines of one result (renew, issue and deploy share them). */
export function describe(r: RenewalResult): string {
  const head = `${r.outcome.padEnd(8)} ${r.name}`;
  const failedStep = r.deploy?.steps.find((s) => s.status === 'failed');
  const deployHint = failedStep?.error ? `\n         hint: ${failedStep.error.hint}` : '';
  switch (r.outcome) {
    case 'issued':
    case 'renewed':
      return `${head}: ${r.message} (${r.reason})${r.paths ? `; files in ${r.paths.dir}/` : ''}${r.deploy ? `; ${deploySentence(r.deploy)}` : ''}${deployHint}`;
    case 'deployed':
      return `${head}: ${r.message}${deployHint}`;
    case 'not-due':
    case 'held':
      return `${head}: ${r.message}`; // the planner's sentence already says when
    case 'failed':
      return `${head}: ${r.error ? `${r.error.code}: ` : ''}${r.message}${r.error ? `\n         hint: ${r.error.hint}` : ''}${r.next ? `\n         next attempt after ${formatTime(r.next)}` : ''}`;
    default:
      return `${head}: ${r.message}`;
  }
}

function exitCode(results: readonly RenewalResult[], explicit: boolean, ctx: CommandContext): number {
  if (results.some((r) => r.outcome === 'interrupted')) {
    ctx.output.err('Interrupted: challenges cleaned up, locks released; the previous certificates stay live.');
    return EXIT.interrupted;
  }
  const failed = results.filter(resultFailed);
  if (failed.length > 0) {
    const laterOnly = failed.every((r) => r.outcome === 'failed' && r.error?.code === 'ERR_ACME_RATE_LIMITED');
    const deploys = failed.filter((r) => r.outcome !== 'failed').length;
    ctx.output.err(
      `${failed.length} of ${results.length} certificate(s) failed${deploys ? ` (${deploys} in the deploy stage: saved, not fully deployed; the next run retries)` : ''}; the previous certificates stay live.`,
    );
    return laterOnly ? EXIT.tempFail : EXIT.failed;
  }
  // Asked for explicitly, a renewal held back by backoff or the CA's Retry-After is "try later".
  if (explicit && results.some((r) => r.outcome === 'held' || r.outcome === 'locked')) return EXIT.tempFail;
  return EXIT.ok;
}

/** Entry point of `certpilot renew`. */
export async function run(ctx: CommandContext): Promise<number> {
  return runRenewals(ctx, { explicit: false });
}
