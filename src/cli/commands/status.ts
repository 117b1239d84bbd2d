/**
 * `certpilot status`: one row per certificate, from the state store; no CA request. The rows are
 * the status snapshot (src/renewal/status.ts) that metrics and the status page read too.
 * `--html FILE` writes the status page, `--metrics-file FILE` the metrics; a run cadence that
 * cannot land inside a certificate's renewal window is warned about on stderr. Each certificate's
 * held lock is read from the configured locker (a lock file, a Lease: the verbs `renew` already
 * uses) and shown with its holder and state; a stale one (its holder stopped renewing it) gets a
 * warning naming `certpilot unlock NAME`. Locks that cannot be read leave a warning, not a failure.
 */
import { resolve } from 'node:path';
import { CertpilotError } from '../../errors.js';
import { buildStatusSnapshot, snapshotProblems, withLocks, type CertificateStatus, type StatusSnapshot } from '../../renewal/status.js';
import { readLocks, unlockCommand } from '../locks.js';
import type { CommandContext } from '../main.js';
import { EXIT } from '../main.js';
import { formatDuration, formatTime, table } from '../output.js';
import { shellName } from '../../challenges/dns-persist01/record.js';
import { openObservedRuntime, unheldOf, writeSnapshotMetrics } from '../run-report.js';
import { DEPLOY_CHECK_MS } from '../../renewal/scheduler.js';

/** Entry point of `certpilot status`. */
export async function run(ctx: CommandContext): Promise<number> {
  // Without -d, the one-offs `issue -d` remembered are planned as `renew` plans them.
  const { runtime, metrics, problems: records } = await openObservedRuntime(ctx, true, ctx.values.domain?.length ? false : 'status');
  try {
    const { config, store, clock } = runtime;
    const now = clock.now();
    // A mistyped --state-dir (or a machine where nothing ran yet) is not "all is well": say so.
    if (!(await store.exists())) {
      throw new CertpilotError('ERR_STORAGE_MISSING', `status: the state ${store.backend.description} does not exist: nothing was issued or renewed here yet`, {
        hint: 'Check --state-dir (or stateDir in the configuration); a first `certpilot issue` creates it.',
      });
    }
    const names = ctx.values.name?.length && !ctx.values.domain?.length ? ctx.values.name : undefined;
    const runIntervalHours = ctx.values['run-interval-hours'];
    const built = await buildStatusSnapshot({ config, store, now, names, unheld: unheldOf(runtime), ...(runIntervalHours ? { runIntervalMs: runIntervalHours * 3_600_000 } : {}) });
    // The locks of the certificates runs renew (configured, one-offs): the ones a Role's Lease rules name.
    const read = await readLocks(runtime, built.certificates.filter((c) => c.configured || c.oneOff).map((c) => c.name), ctx.signal);
    if (read.error) ctx.output.err(`warning: the locks could not be read, so held locks are not shown: error ${read.error.code}: ${read.error.message}\n  hint: ${read.error.hint}`);
    const snapshot = withLocks(built, read.locks, (name) => unlockCommand(ctx, name));
    const rows = snapshot.certificates;
    // A mistyped --name is not "no certificates": say which names exist, as renew and deploy do.
    const missing = (names ?? []).filter((n) => !rows.some((r) => r.name === n));
    if (missing.length > 0) {
      const all = await buildStatusSnapshot({ config, store, now });
      throw new CertpilotError('ERR_CERT_UNKNOWN', `status: no certificate named ${missing.map((n) => `"${n}"`).join(', ')}, configured or stored`, {
        hint: `Certificates: ${all.certificates.map((c) => c.name).join(', ') || 'none'}.`,
      });
    }
    const problems = snapshotProblems(snapshot);
    let failed = problems.length > 0 || records.length > 0;
    // One-offs whose record cannot be used (named on stderr below): one-offs still, not "not configured".
    const damaged = new Set(records.map((p) => p.name));
    for (const p of records) ctx.output.err(`${p.name}: error ${p.error.code}: ${p.error.message}\n  hint: ${p.error.hint}`);
    if (ctx.values.html) failed = !(await writePage(ctx, snapshot)) || failed;
    // The snapshot of every certificate is the textfile's too (one check of each target); a --name
    // selection is not: the textfile always holds them all.
    if (metrics) failed = !(await writeSnapshotMetrics(ctx, runtime, metrics, names === undefined ? built : undefined)) || failed;
    for (const r of rows) if (r.cadence) ctx.output.err(`warning: ${r.cadence.message}`);
    for (const r of rows) {
      if (r.lock?.state === 'stale') ctx.output.err(`warning: ${r.name}: its lock is stale: ${r.lock.why}; if no run holds it any more (${r.lock.holder}), \`${r.lock.unlock}\` breaks it`);
    }
    // A notifier that cannot reach its receiver is how an expiry goes unnoticed: say so here too.
    for (const n of snapshot.notifiers ?? []) {
      if (n.result === 'failed') ctx.output.err(`warning: notifier ${n.notifier} is failing: its last attempt (${formatTime(n.at)}, ${n.certificate}'s event) failed${n.code ? ` with ${n.code}` : ''}; what it should have said may not have arrived (run \`certpilot config check\` and read that run's log)`);
    }
    if (ctx.values.json) {
      ctx.output.out(JSON.stringify(rows, null, 2));
      return failed ? EXIT.failed : EXIT.ok;
    }
    if (rows.length === 0) {
      // Only forgotten certificates left (`certpilot forget`): they are stored, just not watched.
      const states = names ? [] : await store.listStates();
      const retired = (await Promise.all(states.map((n) => store.loadState(n).then((st) => st.retired !== undefined, () => false)))).filter(Boolean).length;
      ctx.output.out(retired > 0 ? `No certificates configured or watched (${retired} forgotten with \`certpilot forget\`: \`certpilot status --name NAME\` shows one).` : 'No certificates configured or stored.');
      return failed ? EXIT.failed : EXIT.ok;
    }
    ctx.output.out(table(['NAME', 'VERSION', 'DOMAINS', 'EXPIRES', 'LEFT', 'ARI WINDOW', 'NEXT RENEWAL', 'LAST RESULT', 'DEPLOYED'], rows.map((r) => textRow(r, rowKind(r, damaged)))).join('\n'));
    for (const r of rows) {
      for (const p of r.dnsPersist ?? []) {
        const until = p.persistUntil ? `persistUntil ${formatTime(p.persistUntil)}` : p.checkedAt ? 'no persistUntil' : 'not checked yet';
        ctx.output.out(`${r.name}: ${p.name} by dns-persist-01: ${p.record} ${until}${p.checkedAt ? ` (checked ${formatTime(p.checkedAt)})` : ''}`);
        if (p.warning) ctx.output.err(`warning: ${r.name}: ${p.record} ${p.warning}: publish a new record (certpilot dns-persist record ${shellName(p.name)} --persist-until DATE --apply --solver DNS-SOLVER)`);
      }
    }
    for (const r of rows) if (r.lock) ctx.output.out(lockLine(r.name, r.lock));
    for (const r of rows) {
      for (const d of r.deployers ?? []) {
        if (d.lost !== undefined) ctx.output.err(`warning: ${r.name}: deployer ${d.deployer} no longer holds v${r.version ?? '?'}: ${d.lost}; the next \`certpilot renew\` or \`deploy\` deploys it again (a running \`certpilot daemon\` within ${DEPLOY_CHECK_MS / 60_000} minutes)`);
        // Not lost: shown as its record says, with why it could not be looked at.
        if (d.unchecked !== undefined) ctx.output.err(`warning: ${r.name}: deployer ${d.deployer}: could not check that its target holds v${r.version ?? '?'} (shown as its record says): error ${d.unchecked.code}: ${d.unchecked.reason}${d.unchecked.hint ? `\n  hint: ${d.unchecked.hint}` : ''}`);
      }
    }
    // Stored but not configured: a live certificate is still watched; one whose first issue failed has nothing to watch.
    const unwatched = rows.filter((r) => rowKind(r, damaged) === 'not configured').map((r) => r.name);
    for (const r of rows) {
      if (rowKind(r, damaged) === 'not issued') ctx.output.out(`not issued: ${r.name}: ${r.decision ?? ''}`);
    }
    if (unwatched.length > 0) {
      ctx.output.out(`not configured: ${unwatched.join(', ')} (still watched: its expiry is exported and alerts; \`certpilot forget NAME\` stops that, the files stay)`);
    }
    for (const r of problems) ctx.output.err(`${r.name}: error ${r.problem?.code}: ${r.problem?.message}\n  hint: ${r.problem?.hint}`);
    return failed ? EXIT.failed : EXIT.ok;
  } finally {
    await runtime.close();
  }
}

/** What a row is, as its NAME column says after the name (`configured`: nothing). */
type RowKind = 'configured' | 'one-off' | 'one-off, record damaged' | 'forgotten' | 'not issued' | 'not configured';

/**
 * One reading of a row for every place that labels it: a one-off whose record cannot be used
 * (`damaged`, named on stderr) is still a one-off; a stored one with no version is a one-off whose
 * first issue failed; the rest no longer configured still has a live certificate to watch.
 */
function rowKind(r: CertificateStatus, damaged: ReadonlySet<string>): RowKind {
  if (r.configured) return 'configured';
  if (r.oneOff) return 'one-off';
  if (damaged.has(r.name)) return 'one-off, record damaged';
  if (r.retired !== undefined) return 'forgotten';
  return r.version === undefined && !r.problem ? 'not issued' : 'not configured';
}

function textRow(r: CertificateStatus, kind: RowKind): string[] {
  const name = kind === 'configured' ? r.name : `${r.name} (${kind})`;
  if (r.problem) return [name, '-', r.domains.join(','), '-', '-', '-', '-', `PROBLEM ${r.problem.code}`, '-'];
  return [
    name,
    r.version === undefined ? '-' : `v${r.version}${r.versions && r.versions.length > 1 ? ` (${r.versions.length} kept)` : ''}`,
    r.domains.join(','),
    formatTime(r.notAfter),
    r.remainingMs === undefined ? '-' : formatDuration(r.remainingMs),
    r.ariWindow ? `${formatTime(r.ariWindow.start)} .. ${formatTime(r.ariWindow.end)}` : '-',
    nextRenewalCell(r),
    r.lastResult ? `${r.lastResult.stage === 'deploy' ? 'deploy ' : ''}${r.lastResult.result} ${formatTime(r.lastResult.at)}${r.lastResult.code ? ` ${r.lastResult.code}` : ''}` : '-',
    // e.g. `volume:v3 reload:v2(failed)`: which version each deployer holds.
    (r.deployers ?? []).length === 0
      ? '-'
      : (r.deployers ?? []).map((d) => `${d.deployer}:${d.version === undefined ? 'never' : `v${d.version}`}${d.result === 'failure' ? '(failed)' : d.lost !== undefined ? '(lost)' : d.current ? '' : '(behind)'}`).join(' '),
  ];
}

/** One line per held lock: who holds it, since when, until when, and whether its holder still renews it. */
function lockLine(name: string, l: NonNullable<CertificateStatus['lock']>): string {
  const times = `${l.acquiredAt ? `since ${formatTime(l.acquiredAt)}, ` : ''}${l.renewedAt ? `renewed ${formatTime(l.renewedAt)}, ` : ''}expires ${formatTime(l.expiresAt)}`;
  // An expired lock's why says which: its time passed, or (a lock file) its holder's process is gone.
  const state = l.state === 'live' ? 'live: a run is at work' : l.state === 'stale' ? `STALE: its holder stopped renewing it; \`${l.unlock}\` breaks it` : `free: ${l.why}`;
  return `${name}: locked by ${l.holder} (${l.where}; ${times}): ${state}`;
}

/** When it renews next, and what holds it back: `held until … (backoff)`, or a backoff that ends before its time. */
function nextRenewalCell(r: CertificateStatus): string {
  // A stale lock holds a due certificate until it expires (or is broken); a live one: a run is at it.
  if (r.due && r.lock?.state === 'stale') return `locked until ${formatTime(r.lock.expiresAt)} (stale lock)`;
  if (r.due && r.lock?.state === 'live') return `now (${r.reason}; a run holds its lock)`;
  if (r.due) return `now (${r.reason})`;
  if (r.heldUntil) return `held until ${formatTime(r.heldUntil)} (${r.heldBy})`;
  if (r.backoffUntil) return `${formatTime(r.nextRenewal)} (backoff until ${formatTime(r.backoffUntil)})`;
  return formatTime(r.nextRenewal);
}

async function writePage(ctx: CommandContext, snapshot: StatusSnapshot): Promise<boolean> {
  const file = resolve(ctx.cwd, ctx.values.html as string);
  const [{ renderStatusPage }, { atomicWrite, writeFailureReason }] = await Promise.all([import('../../notify/status-page.js'), import('../../fs/atomic-write.js')]);
  try {
    await atomicWrite(file, renderStatusPage(snapshot), { mode: 0o644 });
    return true;
  } catch (cause) {
    const err = new CertpilotError('ERR_STATUS_PAGE_WRITE', `status: writing the page ${file} failed: ${writeFailureReason(file, cause)}`, { cause });
    ctx.output.err(`error ${err.code}: ${err.message}\n  hint: ${err.hint}`);
    return false;
  }
}
