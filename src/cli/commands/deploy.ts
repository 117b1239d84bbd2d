/**
 * `certpilot deploy [NAME…] [--force]`: runs each certificate's deployers for its live version,
 * without asking the CA anything. Without --force only deployers that lack the live version run
 * (as `renew` would retry them); with it, every deployer runs again.
 */
import { deployCertificate, resultFailed } from '../../renewal/renew-certificate.js';
import { CertpilotError } from '../../errors.js';
import { lockedWithoutLiveHolder } from '../locks.js';
import { EXIT, type CommandContext } from '../main.js';
import { openWithOneOffs, problemResult } from '../one-offs.js';
import { selectCertificates } from '../runtime.js';
import { describe, toJson } from './renew.js';
import { observeEvents, reportRun } from '../run-report.js';

/** Entry point of `certpilot deploy`. */
export async function run(ctx: CommandContext): Promise<number> {
  const names = [...ctx.positionals, ...(ctx.values.name ?? [])];
  // The one-offs `issue -d` remembered deploy like configured certificates (no CA is asked: any CA's).
  const { runtime, problems } = await openWithOneOffs(ctx, { printsResults: true, anyCa: true, names });
  try {
    const specs = selectCertificates({ ...ctx, values: { ...ctx.values, name: names } }, runtime.config, problems.map((p) => p.name));
    if (specs.length === 0 && problems.length === 0) {
      throw new CertpilotError('ERR_CLI_USAGE', 'cli: no certificates to deploy', { hint: 'List certificates (with their deploy: deployers) in the configuration file.' });
    }
    const observer = observeEvents(runtime, undefined, ctx.signal);
    const context = { ...runtime.renewalContext(), events: observer.sink };
    const results = [];
    for (const spec of specs) {
      results.push(await deployCertificate(spec, context, { ...(ctx.values.force ? { force: true } : {}), ...(ctx.signal ? { signal: ctx.signal } : {}) }));
    }
    results.push(...problems.map(problemResult));
    if (ctx.values.json) ctx.output.out(JSON.stringify(results.map(toJson), null, 2));
    else for (const r of results) ctx.output.out(describe(r, ctx.values.verbose === true));
    await reportRun(ctx, runtime, undefined, observer);
    if (ctx.signal?.aborted) return EXIT.interrupted;
    if (results.some(resultFailed)) return EXIT.failed;
    // As renew: a lock a live run renews is work in its hands; one nobody renews is "try later".
    const stuck = await lockedWithoutLiveHolder(ctx, runtime, results.filter((r) => r.outcome === 'locked').map((r) => r.name));
    return stuck.length > 0 ? EXIT.tempFail : EXIT.ok;
  } finally {
    await runtime.close();
  }
}
