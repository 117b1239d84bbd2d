/**
 * The one-off certificates `certpilot issue -d` issued, remembered in the state store
 * (`RenewalState.oneOff`, src/config/one-off.ts): `issue -d` writes the record
 * ({@link rememberOneOff}), `renew`, the daemon and `status` add the remembered ones to the run's
 * configuration ({@link openWithOneOffs}), `forget` removes a record, and `cron install` accepts a
 * state that holds some ({@link rememberedOneOffs}).
 *
 * A configured certificate of the same name wins (the renewal run says so). The run's machinery
 * holds one CA (the renewal context opens its account and asks renewalInfo at the configured
 * directory), so a one-off issued from another CA is left out of the run with a warning naming the
 * command that renews it.
 */
import { join } from 'node:path';
import { CertpilotError, ConfigError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { AcmeRequestObserver } from '../acme/protocol/transport.js';
import type { ResolvedConfig } from '../config/load-config.js';
import { oneOffRecordOf, otherCa, resolveOneOff } from '../config/one-off.js';
import type { RenewalResult } from '../renewal/renew-certificate.js';
import { describeStateEntry } from '../storage/backends/kubernetes-secret/secret-name.js';
import { RENEWAL_STATE_FIELD, stateKeys } from '../storage/state-keys.js';
import type { CertpilotStore } from '../storage/state-store.js';
import { updateStateUnderLock } from './locks.js';
import { compose, createStateStore, type Runtime } from './compose.js';
import type { CommandContext } from './main.js';
import { commandLogger, configFile, loadCommandConfig } from './runtime.js';

/** A remembered one-off whose record cannot be used: it fails alone, as a failed result. */
export interface OneOffProblem {
  name: string;
  error: CertpilotError;
}

/** Where a certificate's one-off record is, for messages: its file, its Secret's data entry, or its key in the store. */
export function oneOffWhere(config: ResolvedConfig, store: CertpilotStore, name: string): string {
  if (config.stateStore.type === 'filesystem') return `${join(config.stateDir, 'renewal-state', `${name}.json`)} ("oneOff")`;
  if (config.stateStore.type === 'kubernetes-secret') {
    // The Secret and the data entry a person edits (`kubectl edit secret`), not the store's internal key.
    const { secretPrefix } = config.stateStore.options as { secretPrefix: string };
    return `${describeStateEntry(secretPrefix, stateKeys.renewalState(name), RENEWAL_STATE_FIELD)} (${store.backend.description}; "oneOff")`;
  }
  return `${stateKeys.renewalState(name)} of ${store.backend.description} ("oneOff")`;
}

/** A remembered one-off as read from its renewal state, before it is checked. */
interface StoredOneOff {
  name: string;
  raw: unknown;
}

/**
 * The one-off records of this state (`names`: only those; a configured certificate's state is not
 * read, a configured one wins anyway), and the names whose state could not be read.
 */
async function readOneOffs(store: CertpilotStore, configured: ReadonlySet<string>, names: ReadonlySet<string> | undefined): Promise<{ records: StoredOneOff[]; problems: OneOffProblem[] }> {
  const records: StoredOneOff[] = [];
  const problems: OneOffProblem[] = [];
  for (const name of (await store.listStates()).filter((n) => !configured.has(n) && (!names || names.has(n)))) {
    try {
      const state = await store.loadState(name);
      if (state.oneOff !== undefined) records.push({ name, raw: state.oneOff });
    } catch (err) {
      problems.push({ name, error: asError(name, err) });
    }
  }
  return { records, problems };
}

function asError(name: string, err: unknown): CertpilotError {
  return err instanceof CertpilotError ? err : new CertpilotError('ERR_INTERNAL', `renew ${name}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
}

/**
 * The run's configuration with the remembered one-offs added (those no configured certificate
 * shadows, of the run's CA), the records that could not be used, and the names left out because
 * they are of another CA (each warned about; `anyCa`, for `status` and `deploy`, which ask no CA:
 * none is left out).
 */
function withOneOffs(ctx: CommandContext, config: ResolvedConfig, store: CertpilotStore, logger: Logger, read: { records: StoredOneOff[]; problems: OneOffProblem[] }, options: { anyCa?: boolean } = {}): { config: ResolvedConfig; problems: OneOffProblem[]; otherCa: string[] } {
  const problems = [...read.problems];
  const skipped: string[] = [];
  const certificates = [...config.certificates];
  const solvers: Record<string, ResolvedConfig['solvers'][string]> = { ...config.solvers };
  for (const { name, raw } of read.records) {
    try {
      const resolved = resolveOneOff(name, raw, config, oneOffWhere(config, store, name));
      const why = options.anyCa ? undefined : otherCa(resolved.record, config);
      if (why) {
        logger.warn({ certificate: name }, `one-off certificate ${name} is not renewed by this run: ${why}; renew it with: ${renewCommand(ctx, name, resolved.record)}`);
        skipped.push(name);
        continue;
      }
      if (resolved.solver) solvers[resolved.solver.name] = resolved.solver.entry;
      certificates.push(resolved.spec);
    } catch (err) {
      problems.push({ name, error: asError(name, err) });
    }
  }
  if (certificates.length === config.certificates.length) return { config, problems, otherCa: skipped };
  return { config: Object.freeze({ ...config, solvers: Object.freeze(solvers), certificates }), problems, otherCa: skipped };
}

/** The CA a one-off record names (what `recordedCa` compares). */
interface RecordedCa {
  directoryUrl: string;
  caBundle?: string;
  email?: string;
}

/**
 * The CA of the remembered one-offs, for a run that names none itself (no configuration file, no
 * --directory, no CERTPILOT_DIRECTORY_URL): `certpilot issue -d … --directory X` then a plain
 * `certpilot renew` (a cron line) renews from X, as certbot's renewal configuration does. When the
 * one-offs came from several CAs, the one most of them share (the others are named with the command
 * that renews them). Undefined when the run names its CA, or no record names one.
 */
function recordedCa(ctx: CommandContext, records: readonly StoredOneOff[]): RecordedCa | undefined {
  if (configFile(ctx) || ctx.values.directory || ctx.env.CERTPILOT_DIRECTORY_URL) return undefined;
  const counts = new Map<string, { ca: RecordedCa; n: number }>();
  for (const { raw } of records) {
    const r = (raw ?? {}) as { directoryUrl?: unknown; caBundle?: unknown; email?: unknown };
    if (typeof r.directoryUrl !== 'string') continue;
    const ca: RecordedCa = { directoryUrl: r.directoryUrl, ...(typeof r.caBundle === 'string' ? { caBundle: r.caBundle } : {}), ...(typeof r.email === 'string' ? { email: r.email } : {}) };
    const key = `${ca.directoryUrl} ${ca.caBundle ?? ''}`;
    const seen = counts.get(key);
    if (seen) seen.n += 1;
    else counts.set(key, { ca, n: 1 });
  }
  let best: { ca: RecordedCa; n: number } | undefined;
  for (const c of counts.values()) if (!best || c.n > best.n) best = c;
  return best?.ca;
}

/** The command that renews a one-off of another CA: this run's configuration and state, that CA. */
function renewCommand(ctx: CommandContext, name: string, record: { directoryUrl: string; caBundle?: string }): string {
  const file = configFile(ctx);
  const words = [
    'certpilot', 'renew', '--name', name, '--directory', record.directoryUrl,
    ...(record.caBundle ? ['--ca-bundle', record.caBundle] : []),
    ...(file ? ['--config', file] : []),
    ...(ctx.values['state-dir'] ? ['--state-dir', ctx.values['state-dir']] : []),
  ];
  return words.map((w) => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(w) ? w : `'${w.replace(/'/g, `'\\''`)}'`)).join(' ');
}

/**
 * Opens the runtime of a renewal command (`renew`, `daemon`, `status`): the configuration from file,
 * environment and flags, plus the remembered one-offs (see {@link withOneOffs}). The caller must
 * `close()` the runtime.
 */
export async function openWithOneOffs(
  ctx: CommandContext,
  options: { logger?: Logger; acmeObserver?: AcmeRequestObserver | undefined; anyCa?: boolean; printsResults?: boolean; names?: readonly string[] } = {},
): Promise<{ runtime: Runtime; problems: OneOffProblem[]; otherCa: string[] }> {
  let base = await loadCommandConfig(ctx, false);
  const logger = options.logger ?? commandLogger(ctx, base.logLevel, options.printsResults ? { printsResults: true } : {});
  const store = await createStateStore(base.stateStore, { logger, baseDir: base.baseDir, stateDir: base.stateDir, env: ctx.env });
  const names = options.names ?? ctx.values.name;
  const read = await readOneOffs(store, new Set(base.certificates.map((c) => c.name)), names?.length ? new Set(names) : undefined);
  const ca = recordedCa(ctx, read.records);
  if (ca && (ca.directoryUrl !== base.acme.directoryUrl || (ca.caBundle !== undefined && ca.caBundle !== base.acme.caBundle))) {
    // Only the CA changes: the state directory (and so the store) is the same.
    const values = { ...ctx.values, directory: ca.directoryUrl, ...(ca.caBundle && !ctx.values['ca-bundle'] ? { 'ca-bundle': ca.caBundle } : {}), ...(ca.email && !ctx.values.email ? { email: ca.email } : {}) };
    try {
      base = await loadCommandConfig({ ...ctx, values }, false);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      const where = read.records.filter((r) => (r.raw as { directoryUrl?: unknown }).directoryUrl === ca.directoryUrl).map((r) => oneOffWhere(base, store, r.name));
      throw new CertpilotError('ERR_ONE_OFF_INVALID', `renew: the CA the one-offs were issued from cannot be used: ${err.issues.map((i) => `${i.path}: ${i.message.replace(/ \(given on the command line\)$/, '')}`).join('; ')}`, {
        hint: `The records in ${where.join(', ')} name it. Restore what is named, or name the CA for this run (--directory, --ca-bundle or a configuration file), or run \`certpilot forget NAME\` for each.`,
      });
    }
    logger.debug({ directoryUrl: ca.directoryUrl }, "no CA named by the configuration, flags or environment: the one-offs' own CA");
  }
  const { config, problems, otherCa } = withOneOffs(ctx, base, store, logger, read, options.anyCa ? { anyCa: true } : {});
  const runtime = await compose(config, { logger, env: ctx.env, store, ...(options.acmeObserver ? { acmeObserver: options.acmeObserver } : {}) });
  return { runtime, problems, otherCa };
}

/** The failed result of a one-off whose record cannot be used. */
export function problemResult(problem: OneOffProblem): RenewalResult {
  return { name: problem.name, outcome: 'failed', message: problem.error.message, error: problem.error };
}

/**
 * After `issue -d`: records (or updates) how the one-off was issued in its renewal state, under
 * its lock, when the run left a live certificate; `renew` renews it from then on. Never fails the
 * run: a record that could not be written is a warning.
 */
export async function rememberOneOff(runtime: Runtime, result: RenewalResult): Promise<void> {
  const spec = runtime.config.certificates[0];
  const kept = result.version !== undefined && result.outcome !== 'failed' && result.outcome !== 'interrupted' && result.outcome !== 'locked';
  if (!spec?.oneOff || spec.name !== result.name || !kept) return;
  const record = oneOffRecordOf(runtime.config, spec, runtime.clock.now());
  const log = runtime.logger.child({ certificate: spec.name });
  try {
    if (!(await updateStateUnderLock(runtime, spec.name, (state) => ({ ...state, oneOff: record })))) {
      log.warn(`not remembered for \`renew\`: another certpilot process holds ${spec.name}; run the same \`issue -d\` line again`);
      return;
    }
    log.info({ record }, '`renew` renews this one-off certificate from now on (`certpilot forget` stops it)');
  } catch (err) {
    log.warn({ err: err instanceof Error ? err.message : String(err) }, 'not remembered for `renew`: the record could not be written; run the same `issue -d` line again');
  }
}

/** Names of the one-offs remembered in `store`, sorted (`cron install` accepts a state holding some). */
export async function rememberedOneOffs(store: CertpilotStore, except: ReadonlySet<string> = new Set()): Promise<string[]> {
  const names: string[] = [];
  for (const name of await store.listStates()) {
    if (except.has(name)) continue;
    const state = await store.loadState(name).catch(() => undefined);
    if (state?.oneOff !== undefined) names.push(name);
  }
  return names;
}
