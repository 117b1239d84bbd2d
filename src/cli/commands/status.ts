/** `certpilot status`: one row per certificate, from the state directory; no CA request. */
import { readPersistNote } from '../../challenges/dns-persist01/persist-notes.js';
import { isDeployed } from '../../deploy/deploy-chain.js';
import { CertpilotError } from '../../errors.js';
import { decideRenewal } from '../../renewal/renew-certificate.js';
import type { CommandContext } from '../main.js';
import { EXIT } from '../main.js';
import { formatDuration, formatTime, table } from '../output.js';
import { openRuntime } from '../runtime.js';
import type { DeploymentRecord, RenewalState } from '../../storage/certificate-store.js';

/** `fn` over `items`, at most `limit` at once, results in the order of `items`. */
async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      out[index] = await fn(items[index] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/** Entry point of `certpilot status`. */
export async function run(ctx: CommandContext): Promise<number> {
  const runtime = await openRuntime(ctx, true);
  try {
    const { config, store, clock } = runtime;
    const now = clock.now();
    // A mistyped --state-dir (or a machine where nothing ran yet) is not "all is well": say so.
    if (!(await store.exists())) {
      throw new CertpilotError('ERR_STORAGE_MISSING', `status: the state ${store.backend.description} does not exist: nothing was issued or renewed here yet`, {
        hint: 'Check --state-dir (or stateDir in the configuration); a first `certpilot issue` creates it.',
      });
    }
    // Stored certificates, and the names with only a renewal state: a one-off whose first issuance failed.
    const listed = await store.listWithStates();
    const names = [...new Set([...config.certificates.map((c) => c.name), ...listed.certificates, ...listed.states])];
    const specs = new Map(config.certificates.map((c) => [c.name, c]));
    const selected = ctx.values.name?.length && !ctx.values.domain?.length ? names.filter((n) => ctx.values.name?.includes(n)) : names;
    // At most 16 certificates read at once: all 1000 at once queued 6000 file reads and held every
    // row's files in memory together (peak RSS 150 MiB; bench/findings.md).
    const rows = await mapLimit(
      selected,
      16,
      async (name) => {
        const spec = specs.get(name);
        // One certificate's unreadable files make its own row a problem, never the whole table.
        let stored: Awaited<ReturnType<typeof store.load>>;
        let state: Awaited<ReturnType<typeof store.loadState>>;
        try {
          [stored, state] = await Promise.all([store.load(name), store.loadState(name)]);
        } catch (err) {
          const error = err instanceof CertpilotError ? err : new CertpilotError('ERR_INTERNAL', String(err));
          return { name, configured: spec !== undefined, domains: spec?.domains ?? [], problem: { code: error.code, message: error.message, hint: error.hint } };
        }
        // The same planning call `renew` makes, with the next run's time when the interval is known.
        const runIntervalMs = config.renewal.runIntervalHours ? config.renewal.runIntervalHours * 3_600_000 : undefined;
        const decision = spec ? decideRenewal(spec, stored, state, now, { runIntervalMs }) : undefined;
        const deployers = (spec?.deploy ?? []).map((deployer) => {
          const record = state.deployments?.[deployer];
          return {
            deployer,
            version: record?.version,
            result: record?.result,
            at: record?.at,
            current: stored ? isDeployed(record, stored) : false,
            ...(record?.result === 'failure' ? { code: record.code, message: record.message } : {}),
          };
        });
        // dns-persist-01 names: the standing record as the solver last saw it (no DNS lookup here).
        const dnsPersist = await Promise.all(
          Object.entries(spec?.solvers ?? {})
            .filter(([, solver]) => config.solvers[solver]?.type === 'dns-persist')
            .map(async ([domain, solver]) => {
              const note = await readPersistNote(config.stateDir, domain);
              const entry = config.solvers[solver];
              const warnDays = entry?.type === 'dns-persist' ? entry.options.warnDays : 30;
              const leftMs = note?.persistUntil ? Date.parse(note.persistUntil) - now.getTime() : undefined;
              return {
                name: domain,
                record: note?.record ?? `_validation-persist.${domain.replace(/^\*\./, '')}.`,
                checkedAt: note?.checkedAt,
                persistUntil: note?.persistUntil,
                warning: leftMs === undefined ? undefined : leftMs <= 0 ? 'persistUntil has passed' : leftMs < warnDays * 86_400_000 ? `persistUntil in ${formatDuration(leftMs)}` : undefined,
              };
            }),
        );
        const notAfter = stored ? new Date(stored.metadata.notAfter) : undefined;
        const next = decision?.due ? (decision.heldUntil ?? now) : (decision?.heldUntil ?? decision?.dueAt);
        return {
          name,
          configured: spec !== undefined,
          domains: spec?.domains ?? stored?.metadata.domains ?? [],
          version: stored?.version,
          notBefore: stored?.metadata.notBefore,
          notAfter: stored?.metadata.notAfter,
          remainingMs: notAfter ? notAfter.getTime() - now.getTime() : undefined,
          profile: stored?.metadata.profile,
          issuer: stored?.metadata.issuer,
          ariWindow: state.ari
            ? { start: state.ari.windowStart, end: state.ari.windowEnd, selected: state.ari.selectedTime, ...(state.ari.explanationUrl ? { explanationUrl: state.ari.explanationUrl } : {}) }
            : undefined,
          due: decision?.due ?? false,
          reason: decision?.reason,
          decision: decision?.message ?? 'not in the configuration',
          nextRenewal: next?.toISOString(),
          lastResult: lastResultOf(state, spec?.deploy ?? []),
          failureCount: state.failureCount,
          files: stored?.paths,
          deployers,
          dnsPersist,
          problem: undefined as { code: string; message: string; hint: string } | undefined,
        };
      },
    );
    const problems = rows.filter((r) => r.problem !== undefined);
    if (ctx.values.json) {
      ctx.output.out(JSON.stringify(rows, null, 2));
      return problems.length ? EXIT.failed : EXIT.ok;
    }
    if (rows.length === 0) {
      ctx.output.out('No certificates configured or stored.');
      return EXIT.ok;
    }
    ctx.output.out(
      table(
        ['NAME', 'VERSION', 'DOMAINS', 'EXPIRES', 'LEFT', 'ARI WINDOW', 'NEXT RENEWAL', 'LAST RESULT', 'DEPLOYED'],
        rows.map((r) => (r.problem || !('due' in r) ? [r.configured ? r.name : `${r.name} (not configured)`, '-', r.domains.join(','), '-', '-', '-', '-', `PROBLEM ${r.problem?.code ?? ''}`, '-'] : [
          r.configured ? r.name : `${r.name} (not configured)`,
          r.version === undefined ? '-' : `v${r.version}`,
          r.domains.join(','),
          formatTime(r.notAfter),
          r.remainingMs === undefined ? '-' : formatDuration(r.remainingMs),
          r.ariWindow ? `${formatTime(r.ariWindow.start)} .. ${formatTime(r.ariWindow.end)}` : '-',
          r.due ? (r.nextRenewal && Date.parse(r.nextRenewal) > now.getTime() ? `held until ${formatTime(r.nextRenewal)}` : `now (${r.reason})`) : formatTime(r.nextRenewal),
          r.lastResult ? `${r.lastResult.stage === 'deploy' ? 'deploy ' : ''}${r.lastResult.result} ${formatTime(r.lastResult.at)}${r.lastResult.code ? ` ${r.lastResult.code}` : ''}` : '-',
          // e.g. `volume:v3 reload:v2(failed)`: which version each deployer holds.
          (r.deployers ?? []).length === 0
            ? '-'
            : (r.deployers ?? [])
                .map((d) => `${d.deployer}:${d.version === undefined ? 'never' : `v${d.version}`}${d.result === 'failure' ? '(failed)' : d.current ? '' : '(behind)'}`)
                .join(' '),
        ])),
      ).join('\n'),
    );
    for (const r of rows) {
      for (const p of ('dnsPersist' in r ? r.dnsPersist : undefined) ?? []) {
        const until = p.persistUntil ? `persistUntil ${formatTime(p.persistUntil)}` : p.checkedAt ? 'no persistUntil' : 'not checked yet';
        ctx.output.out(`${r.name}: ${p.name} by dns-persist-01: ${p.record} ${until}${p.checkedAt ? ` (checked ${formatTime(p.checkedAt)})` : ''}`);
        if (p.warning) ctx.output.err(`warning: ${r.name}: ${p.record} ${p.warning}: publish a new record (certpilot dns-persist record ${p.name} --persist-until DATE --apply --solver DNS-SOLVER)`);
      }
    }
    for (const r of problems) ctx.output.err(`${r.name}: error ${r.problem?.code}: ${r.problem?.message}\n  hint: ${r.problem?.hint}`);
    return problems.length ? EXIT.failed : EXIT.ok;
  } finally {
    await runtime.close();
  }
}

/**
 * The last result a person should see: the last renewal attempt, unless a deployer of the
 * certificate failed since (then `success` would hide that the new version is not where it
 * should be): that failure, with `stage: 'deploy'` and the deployer's name.
 */
export function lastResultOf(
  state: RenewalState,
  deploy: readonly string[],
): (NonNullable<RenewalState['lastAttempt']> & { stage: 'renewal' | 'deploy'; deployer?: string }) | undefined {
  const attempt = state.lastAttempt;
  const since = attempt ? Date.parse(attempt.at) : -Infinity;
  const failed = deploy
    .map((name) => [name, state.deployments?.[name]] as const)
    .filter((e): e is readonly [string, DeploymentRecord] => e[1]?.result === 'failure' && Date.parse(e[1].at) >= since)
    .sort((a, b) => Date.parse(b[1].at) - Date.parse(a[1].at))[0];
  if (failed) {
    const [deployer, record] = failed;
    return { at: record.at, result: 'failure', stage: 'deploy', deployer, message: record.message, ...(record.code ? { code: record.code } : {}) };
  }
  return attempt ? { ...attempt, stage: 'renewal' } : undefined;
}
