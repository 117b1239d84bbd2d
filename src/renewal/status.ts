/**
 * The one status snapshot (DESIGN.md §1): per certificate what is live, when it renews and why,
 * what the last attempt did and what each deployer holds. `certpilot status` (text and --json),
 * the metrics (src/notify/metrics.ts) and the status page (src/notify/status-page.ts) all read it,
 * so they can never disagree. Built from the state store alone (and the dns-persist notes under
 * stateDir): no CA request, no DNS lookup, no plug-in.
 *
 * One certificate's unreadable files make its own entry a `problem`, never the whole snapshot.
 */
import { readPersistNote } from '../challenges/dns-persist01/persist-notes.js';
import { formatDuration } from '../duration.js';
import { isDeployed } from '../deploy/deploy-chain.js';
import { catalogHint, CertpilotError } from '../errors.js';
import type { ResolvedCertificate, ResolvedConfig } from '../config/load-config.js';
import type { LockStatus } from '../coordination/locker.js';
import { canListVersions, type CertificatePaths, type DeploymentRecord, type NotificationRecord, type RenewalState, type StoredCertificate } from '../storage/certificate-store.js';
import { versionsUpTo, type CertpilotStore, type ListedCertificates } from '../storage/state-store.js';
import { checkCadence, type CadenceWarning } from './cadence.js';
import { currentRenewalInfo } from './policies.js';
import { activeHold } from './planner.js';
import { decideRenewal } from './renew-certificate.js';

/** What one deployer holds of a certificate. */
export interface DeployerStatus {
  deployer: string;
  /** The version it last deployed (or tried to); undefined: never ran. */
  version: number | undefined;
  /** That version's serial (lowercase hex). */
  serial?: string;
  result: 'success' | 'failure' | undefined;
  at: string | undefined;
  /** True when it holds the live version. */
  current: boolean;
  code?: string;
  message?: string;
  /** Its record says it holds the live version, but its target does not (files removed, moved, a Secret deleted): why. */
  lost?: string;
  /** Its target could not be checked now (API server down, the read forbidden): why, and the hint. The record stands. */
  unchecked?: { reason: string; code: string; hint?: string };
}

/** A dns-persist-01 name's standing record, as the solver last saw it (no DNS lookup). */
export interface PersistStatus {
  name: string;
  /** `_validation-persist.<name>.` */
  record: string;
  checkedAt: string | undefined;
  persistUntil: string | undefined;
  /** Set when persistUntil has passed or falls within the solver's `warnDays`. */
  warning: string | undefined;
}

/** The last result a person should see: a renewal attempt, or a deployer's failure since. */
export type LastResult = NonNullable<RenewalState['lastAttempt']> & { stage: 'renewal' | 'deploy'; deployer?: string };

/** A certificate whose state could not be read. */
export interface StatusProblem {
  code: string;
  message: string;
  hint: string;
}

/** One certificate in the snapshot. Timestamps are ISO 8601 strings. */
export interface CertificateStatus {
  name: string;
  /** In the configuration (false: only stored, or a one-off). */
  configured: boolean;
  /** A one-off certificate `issue -d` issued, which `renew` renews from its record (planned like a configured one). */
  oneOff?: boolean;
  /** When `certpilot forget` retired it (neither configured nor a one-off): left out of snapshots unless named. */
  retired?: string;
  domains: string[];
  /** The live version N (`archive/<name>/certN.pem`). */
  version?: number | undefined;
  /** Every version kept, ascending (an imported certbot lineage keeps all of certbot's). */
  versions?: number[] | undefined;
  /** The live leaf's serial number, lowercase hex. */
  serial?: string | undefined;
  notBefore?: string | undefined;
  notAfter?: string | undefined;
  /** notAfter − now. */
  remainingMs?: number | undefined;
  profile?: string | undefined;
  issuer?: string | undefined;
  /** The CA's current ARI window and the time chosen inside it. */
  ariWindow?: { start: string; end: string; selected: string; explanationUrl?: string } | undefined;
  /** Due now (and not held). */
  due?: boolean;
  /** Why it is, would be or will be due (`ari-window`, `lifetime`, `missing`…). */
  reason?: string | undefined;
  /** The planner's sentence. */
  decision?: string;
  /** When the next renewal happens: now when due, the end of a hold, else the chosen time. */
  nextRenewal?: string | undefined;
  /** What sets {@link nextRenewal}: the renewal reason, or `backoff` / `retry-after` while held. */
  nextRenewalReason?: string | undefined;
  /**
   * A hold that sets {@link nextRenewal}: our failure backoff or the CA's Retry-After, until when.
   * Also for a certificate not due yet, when the hold outlasts its renewal time.
   */
  heldBy?: 'backoff' | 'retry-after' | undefined;
  heldUntil?: string | undefined;
  /**
   * When our failure backoff ends, whenever one holds the certificate (due or not; `--force` or a
   * changed configuration lifts it); absent when none does.
   */
  backoffUntil?: string | undefined;
  /** The last attempt to issue or renew, or a deployer's failure since ({@link lastResultOf}). */
  lastResult?: LastResult | undefined;
  /** The last successful issuance (the last attempt's time, else when the live version was saved). */
  lastSuccessAt?: string | undefined;
  /** The last failed attempt, when the last attempt failed. */
  lastFailureAt?: string | undefined;
  /** Consecutive failures. */
  failureCount?: number;
  files?: CertificatePaths | undefined;
  deployers?: DeployerStatus[];
  /** Its dns-persist-01 names' standing records. */
  dnsPersist?: PersistStatus[];
  /** The run cadence cannot land inside this certificate's renewal window. */
  cadence?: CadenceWarning | undefined;
  problem?: StatusProblem | undefined;
  /** What each notifier last did with this certificate's events. */
  notifications?: Record<string, NotificationRecord> | undefined;
  /**
   * Its lock, while one is held (or left by a run that stopped): who, since when, until when, and
   * whether its holder still renews it; only where the caller read the locker ({@link withLocks}:
   * `certpilot status`).
   */
  lock?: CertificateLock | undefined;
}

/** A certificate's held lock in the snapshot: the locker's view, and the command that breaks a stale one. */
export interface CertificateLock extends LockStatus {
  /** For a stale lock: the command that breaks it (`certpilot unlock NAME`). */
  unlock?: string | undefined;
}

/** What a configured notifier last did, for any certificate's event (from the renewal states). */
export interface NotifierStatus {
  notifier: string;
  at: string;
  result: 'sent' | 'failed';
  /** The certificate whose event it was. */
  certificate: string;
  code?: string;
}

/** The snapshot of every certificate at one instant. */
export interface StatusSnapshot {
  generatedAt: string;
  /** Each configured notifier that was ever tried: its last attempt (absent: none was). */
  notifiers?: NotifierStatus[];
  /** How often renew runs (renewal.runIntervalHours, or the cron schedule's), when known. */
  runIntervalMs?: number | undefined;
  /** Made by `certpilot daemon`, which renews each certificate at its time (no run interval). */
  daemon?: boolean;
  certificates: CertificateStatus[];
}

/** What {@link buildStatusSnapshot} reads. */
export interface StatusInput {
  config: Pick<ResolvedConfig, 'certificates' | 'renewal' | 'solvers' | 'stateDir'> & Partial<Pick<ResolvedConfig, 'notifiers'>>;
  store: Pick<CertpilotStore, 'load' | 'list' | 'listStates' | 'loadState'> & Partial<Pick<CertpilotStore, 'listWithStates'>>;
  now: Date;
  /** Only these certificates (default: every configured or stored one). */
  names?: readonly string[] | undefined;
  /** The run cadence, when the caller knows it better than the configuration (`cron install`). */
  runIntervalMs?: number | undefined;
  /**
   * The caller is `certpilot daemon`, which wakes at each certificate's own time: there is no run
   * interval (the configuration's `renewal.runIntervalHours` is for cron and CronJob runs), so no
   * cadence warning and no renewing early for a late next run, as the daemon's own plans.
   */
  daemon?: boolean;
  /**
   * Optional: the deployers whose record says they hold the live version but whose target does
   * not, by the deployers' own cheap check (a files directory's marker, a Secret's GET;
   * `unheldDeployers`); an entry with `unchecked` could not be checked (its record stands). Without
   * it the records are taken as they are.
   */
  unheld?: (spec: ResolvedCertificate, stored: StoredCertificate, records: RenewalState['deployments']) => Promise<readonly { deployer: string; reason: string; unchecked?: { code: string; hint?: string } }[]>;
}

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

/**
 * Builds the snapshot: configured certificates first, then stored ones no longer configured, then
 * names with only a renewal state (a one-off whose first issuance failed).
 */
export async function buildStatusSnapshot(input: StatusInput): Promise<StatusSnapshot> {
  const { config, store, now } = input;
  // One listing of certificates and states together (bench/findings.md: two full listings cost
  // a second read of every folder).
  const listed: { certificates: string[]; states: string[]; versions?: ListedCertificates['versions'] } = store.listWithStates
    ? await store.listWithStates()
    : await Promise.all([store.list(), store.listStates()]).then(([certificates, states]) => ({ certificates, states }));
  const all = [...new Set([...config.certificates.map((c) => c.name), ...listed.certificates, ...listed.states])];
  const selected = input.names?.length ? all.filter((n) => input.names?.includes(n)) : all;
  const configured = !input.daemon && config.renewal.runIntervalHours ? config.renewal.runIntervalHours * 3_600_000 : undefined;
  const runIntervalMs = input.runIntervalMs ?? configured;
  const specs = new Map(config.certificates.map((c) => [c.name, c]));
  // At most 16 certificates read at once: all 1000 at once queued 6000 file reads and held every
  // row's files in memory together (peak RSS 150 MiB; bench/findings.md).
  const rows = await mapLimit(selected, 16, (name) => certificateStatus(name, specs.get(name), input, now, configured, runIntervalMs, listed.versions));
  // A retired certificate (`certpilot forget`) is shown only when asked for by name: no row, no
  // metric, so its coming expiry raises no alert.
  const certificates = rows.filter((c) => c.retired === undefined || input.names?.includes(c.name));
  const notifiers = notifierStatuses(Object.keys(config.notifiers ?? {}), certificates);
  return {
    generatedAt: now.toISOString(),
    ...(runIntervalMs !== undefined ? { runIntervalMs } : {}),
    ...(input.daemon ? { daemon: true } : {}),
    ...(notifiers.length > 0 ? { notifiers } : {}),
    certificates,
  };
}

/**
 * Each configured notifier's latest attempt over the certificates certpilot renews (a certificate
 * removed from the configuration, or a notifier removed, says nothing any more).
 */
function notifierStatuses(names: readonly string[], certificates: readonly CertificateStatus[]): NotifierStatus[] {
  const out: NotifierStatus[] = [];
  for (const notifier of names) {
    let latest: NotifierStatus | undefined;
    for (const c of certificates) {
      const r = c.configured || c.oneOff ? c.notifications?.[notifier] : undefined;
      if (r && (!latest || Date.parse(r.at) > Date.parse(latest.at))) latest = { notifier, at: r.at, result: r.result, certificate: c.name, ...(r.code ? { code: r.code } : {}) };
    }
    if (latest) out.push(latest);
  }
  return out;
}

async function certificateStatus(
  name: string,
  spec: ResolvedCertificate | undefined,
  input: StatusInput,
  now: Date,
  plannedIntervalMs: number | undefined,
  runIntervalMs: number | undefined,
  listedVersions: ListedCertificates['versions'] | undefined,
): Promise<CertificateStatus> {
  const { config, store } = input;
  let stored: Awaited<ReturnType<typeof store.load>>;
  let state: RenewalState;
  let versions: number[] | undefined;
  try {
    [stored, state] = await Promise.all([store.load(name), store.loadState(name)]);
    // The versions come from the snapshot's one listing when the store gave it: a listing per row
    // read the whole state folder once per certificate (status of 1000: 5 s of CPU; findings.md).
    if (canListVersions(store)) versions = !listedVersions ? await store.listVersions(name) : stored ? versionsUpTo(listedVersions.get(name) ?? [], stored.version) : [];
  } catch (err) {
    const error = err instanceof CertpilotError ? err : new CertpilotError('ERR_INTERNAL', String(err));
    return { name, configured: spec !== undefined && spec.oneOff !== true, ...(spec?.oneOff ? { oneOff: true } : {}), domains: spec?.domains ?? [], problem: { code: error.code, message: error.message, hint: error.hint } };
  }
  // The same planning call `renew` makes, with the next run's time when the interval is configured.
  const decision = spec ? decideRenewal(spec, stored, state, now, { runIntervalMs: plannedIntervalMs }) : undefined;
  const deployers = (spec?.deploy ?? []).map((deployer): DeployerStatus => {
    const record = state.deployments?.[deployer];
    return {
      deployer,
      version: record?.version,
      ...(record?.serialNumber ? { serial: record.serialNumber } : {}),
      result: record?.result,
      at: record?.at,
      current: stored ? isDeployed(record, stored) : false,
      ...(record?.result === 'failure' ? { code: record.code ?? 'ERR_INTERNAL', message: record.message } : {}),
    };
  });
  if (input.unheld && spec && stored) {
    // A check that cannot run says nothing new: the records stand.
    const lost = await input.unheld(spec, stored, state.deployments).catch(() => []);
    for (const l of lost) {
      const d = deployers.find((x) => x.deployer === l.deployer);
      if (d && l.unchecked) d.unchecked = { reason: l.reason, ...l.unchecked };
      else if (d) Object.assign(d, { current: false, lost: l.reason });
    }
  }
  const dnsPersist = await persistStatuses(spec?.solvers ?? {}, config, now);
  const notAfter = stored ? new Date(stored.metadata.notAfter) : undefined;
  // A failure (or the CA's Retry-After) can hold a certificate whose renewal time has not come: when
  // the hold ends later than that time, the hold's end is its next renewal, as the planner will find.
  const hold = spec ? activeHold(spec, state, now) : undefined;
  const holdsLater = decision && !decision.due && !decision.heldUntil && hold && decision.dueAt && hold.until > decision.dueAt ? hold : undefined;
  const heldBy = decision?.heldBy ?? holdsLater?.by;
  const heldUntil = decision?.heldUntil ?? holdsLater?.until;
  const next = decision?.due ? now : (heldUntil ?? decision?.dueAt);
  const ari = stored ? currentRenewalInfo(stored, state) : undefined;
  const reason = decision?.reason ?? (stored && decision ? (ari ? 'ari-window' : 'lifetime') : undefined);
  const last = state.lastAttempt;
  const lastResult = lastResultOf(state, spec?.deploy ?? []);
  const ariWindow = state.ari
    ? { start: state.ari.windowStart, end: state.ari.windowEnd, selected: state.ari.selectedTime, ...(state.ari.explanationUrl ? { explanationUrl: state.ari.explanationUrl } : {}) }
    : undefined;
  const cadence = spec
    ? checkCadence({ name, notBefore: stored?.metadata.notBefore, notAfter: stored?.metadata.notAfter, ariWindow: ari ? ariWindow : undefined, profile: spec.profile }, runIntervalMs)
    : undefined;
  const retired = spec === undefined ? state.retired?.at : undefined;
  return {
    name,
    configured: spec !== undefined && spec.oneOff !== true,
    ...(spec?.oneOff ? { oneOff: true } : {}),
    ...(retired !== undefined ? { retired } : {}),
    domains: spec?.domains ?? stored?.metadata.domains ?? [],
    version: stored?.version,
    ...(versions !== undefined ? { versions } : {}),
    serial: stored?.metadata.serialNumber,
    notBefore: stored?.metadata.notBefore,
    notAfter: stored?.metadata.notAfter,
    remainingMs: notAfter ? notAfter.getTime() - now.getTime() : undefined,
    profile: stored?.metadata.profile,
    issuer: stored?.metadata.issuer,
    ariWindow,
    due: decision?.due ?? false,
    reason: decision?.reason,
    decision: decision ? `${decision.message}${holdsLater ? `; ${holdsLater.by === 'backoff' ? 'a failure backoff' : "the CA's Retry-After"} holds it until ${holdsLater.until.toISOString()}` : ''}` : retired !== undefined
          ? `forgotten on ${retired} (certpilot forget): not renewed, not watched`
          : stored === undefined
            ? `never issued: its first \`issue\` failed${last?.code ? ` (${last.code})` : ''} and nothing renews it; run that \`issue -d\` line again once fixed, or \`certpilot forget ${name}\` to clear it`
            : `not in the configuration; \`certpilot forget ${name}\` stops watching it`,
    nextRenewal: next?.toISOString(),
    nextRenewalReason: heldBy ?? reason,
    heldBy,
    heldUntil: heldUntil?.toISOString(),
    backoffUntil: hold?.backoffUntil?.toISOString(),
    lastResult,
    // The live version's save counts as a success too: a run killed after saving it and before
    // recording its attempt leaves the previous version's success as the last attempt.
    lastSuccessAt: last?.result === 'success' && (!stored || Date.parse(last.at) >= Date.parse(stored.metadata.issuedAt)) ? last.at : stored?.metadata.issuedAt,
    lastFailureAt: last?.result === 'failure' ? last.at : undefined,
    failureCount: state.failureCount,
    files: stored?.paths,
    deployers,
    dnsPersist,
    cadence,
    problem: undefined,
    ...(state.notifications ? { notifications: state.notifications } : {}),
  };
}

/** The dns-persist-01 names of a certificate: each standing record as the solver last noted it. */
async function persistStatuses(solvers: Readonly<Record<string, string>>, config: StatusInput['config'], now: Date): Promise<PersistStatus[]> {
  return Promise.all(
    Object.entries(solvers)
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
}

/**
 * The last result a person should see: the last renewal attempt, unless a deployer of the
 * certificate failed since (then `success` would hide that the new version is not where it
 * should be): that failure, with `stage: 'deploy'` and the deployer's name.
 */
export function lastResultOf(state: RenewalState, deploy: readonly string[]): LastResult | undefined {
  const attempt = state.lastAttempt;
  const since = attempt ? Date.parse(attempt.at) : -Infinity;
  const failed = deploy
    .map((name) => [name, state.deployments?.[name]] as const)
    .filter((e): e is readonly [string, DeploymentRecord] => e[1]?.result === 'failure' && Date.parse(e[1].at) >= since)
    .sort((a, b) => Date.parse(b[1].at) - Date.parse(a[1].at))[0];
  if (failed) {
    const [deployer, record] = failed;
    const hint = catalogHint(record.code);
    return { at: record.at, result: 'failure', stage: 'deploy', deployer, message: record.message, ...(record.code ? { code: record.code } : {}), ...(hint ? { hint } : {}) };
  }
  if (!attempt) return undefined;
  // A failure recorded before hints were kept: the catalog's hint of its code.
  const hint = attempt.result === 'failure' ? (attempt.hint ?? catalogHint(attempt.code)) : undefined;
  return { ...attempt, stage: 'renewal', ...(hint ? { hint } : {}) };
}

/**
 * The snapshot with each certificate's held lock (`locks` by certificate name, as the locker's
 * inspection gave them). The snapshot itself reads no locker (it is built from the state store
 * alone); `certpilot status` reads the locks and adds them here.
 */
export function withLocks(snapshot: StatusSnapshot, locks: ReadonlyMap<string, LockStatus>, unlockCommand: (name: string) => string): StatusSnapshot {
  return {
    ...snapshot,
    certificates: snapshot.certificates.map((c) => {
      const l = locks.get(c.name);
      if (!l) return c;
      const lock: CertificateLock = {
        name: l.name,
        where: l.where,
        holder: l.holder,
        ...(l.acquiredAt ? { acquiredAt: l.acquiredAt } : {}),
        ...(l.renewedAt ? { renewedAt: l.renewedAt } : {}),
        expiresAt: l.expiresAt,
        ...(l.ttlSeconds !== undefined ? { ttlSeconds: l.ttlSeconds } : {}),
        state: l.state,
        why: l.why,
        ...(l.state === 'stale' ? { unlock: unlockCommand(c.name) } : {}),
      };
      return { ...c, lock };
    }),
  };
}

/** The snapshot's problems: unreadable certificates. */
export function snapshotProblems(snapshot: StatusSnapshot): CertificateStatus[] {
  return snapshot.certificates.filter((c) => c.problem !== undefined);
}
