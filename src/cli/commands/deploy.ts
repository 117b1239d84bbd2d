/**
 * `certpilot deploy [NAME…] [--force]`: runs each certificate's deployers for its live version,
 * without asking the CA anything. Without --force only deployers that lack the live version run
 * (as `renew` would retry them); with it, every deployer runs again.
 */
import { deployCertificate, resultFailed } from '../../renewal/renew-certificate.js';
import { CertpilotError } from '../../errors.js';
import { EXIT, type CommandContext } from '../main.js';
import { openRuntime, selectCertificates } from '../runtime.js';
import { describe, toJson } from './renew.js';
import { observeEvents, reportRun } from '../run-report.js';

/** Entry point of `certpilot deploy`. */
export async function run(ctx: CommandContext): Promise<number> {
  const runtime = await openRuntime(ctx, false, { printsResults: true });
  try {
    const names = [...ctx.positionals, ...(ctx.values.name ?? [])];
    const specs = selectCertificates({ ...ctx, values: { ...ctx.values, name: names } }, runtime.config);
    if (specs.length === 0) {
      throw new CertpilotError('ERR_CLI_USAGE', 'cli: no certificates to deploy', { hint: 'List certificates (with their deploy: deployers) in the configuration file.' });
    }
    const observer = observeEvents(runtime, undefined, ctx.signal);
    const context = { ...runtime.renewalContext(), events: observer.sink };
    const results = [];
    for (const spec of specs) {
      results.push(await deployCertificate(spec, context, { ...(ctx.values.force ? { force: true } : {}), ...(ctx.signal ? { signal: ctx.signal } : {}) }));
    }
    if (ctx.values.json) ctx.output.out(JSON.stringify(results.map(toJson), null, 2));
    else for (const r of results) ctx.output.out(describe(r, ctx.values.verbose === true));
    await reportRun(ctx, runtime, undefined, observer);
    if (ctx.signal?.aborted) return EXIT.interrupted;
    if (results.some(resultFailed)) return EXIT.failed;
    return results.some((r) => r.outcome === 'locked') ? EXIT.tempFail : EXIT.ok;
  } finally {
    await runtime.close();
  }
}
