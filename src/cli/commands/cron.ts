/**
 * `certpilot cron install | remove | show [-u USER] [--log-file FILE] [--metrics-file FILE]`: keeps one `renew` line in a
 * user's crontab through the real `crontab` command (`crontab -l`, `crontab -` on stdin), twice a
 * day at a minute and hour hashed from the host name and the state directory (or kept in an earlier
 * version's `<stateDir>/cron.json`). Other lines of the crontab are never changed; `show` writes
 * nothing at all. The line logic is src/scheduling/crontab.ts.
 */
import { spawn } from 'node:child_process';
import { realpathSync } from 'node:fs';
import { hostname } from 'node:os';
import { chown, mkdir } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { CertpilotError, ConfigError } from '../../errors.js';
import { buildCronLine, cronLineId, cronLogFile, cronSchedule, findCronLine, mergeCronLine, nextRunTimes, otherCronLines, parseCronSchedule, removeCronLine, shellQuote, type CronLineOwner } from '../../scheduling/crontab.js';
import { cronAccessProblems, lookupCronUser, systemFacts, type CronAccessNeed, type CronAccessProblem, type CronUser } from '../../scheduling/cron-access.js';
import { EXIT, type CommandContext } from '../main.js';
import { formatTime } from '../output.js';
import { configFile, loadCommandConfig } from '../runtime.js';
import { compose } from '../compose.js';
import { createLogger } from '../../logger.js';
import { ioError } from '../../fs/atomic-write.js';

const ACTIONS = ['install', 'remove', 'show'] as const;

/** The one-offs `issue -d` remembered in the configured state (none when the state cannot be read). */
async function oneOffsIn(ctx: CommandContext, config: Awaited<ReturnType<typeof loadCommandConfig>>): Promise<string[]> {
  const { createStateStore } = await import('../compose.js');
  const { rememberedOneOffs } = await import('../one-offs.js');
  const store = await createStateStore(config.stateStore, { logger: createLogger({ level: 'silent' }), baseDir: config.baseDir, stateDir: config.stateDir, env: ctx.env });
  return rememberedOneOffs(store).catch(() => []);
}

/** Entry point of `certpilot cron`. */
export async function run(ctx: CommandContext): Promise<number> {
  const action = ctx.positionals[0] ?? 'show';
  if (!(ACTIONS as readonly string[]).includes(action) || ctx.positionals.length > 1) {
    throw new CertpilotError('ERR_CLI_USAGE', `cli: cron takes one of ${ACTIONS.join(', ')}, not "${ctx.positionals.join(' ')}"`, { hint: 'Run `certpilot cron install`, `certpilot cron show` or `certpilot cron remove`.' });
  }
  const config = await loadCommandConfig(ctx, false);
  const user = ctx.values.user;
  const crontab = new Crontab(user);
  const current = await crontab.read();
  const file = configFile(ctx);
  const logFile = resolve(ctx.cwd, ctx.values['log-file'] ?? join(config.stateDir, 'renew.log'));
  // One line per state directory: another configuration's line is never replaced nor removed. A
  // line of an earlier version (no id) is this one's when it names this configuration or this log.
  const owner: CronLineOwner = {
    id: cronLineId(config.stateDir),
    legacy: (l) => l.includes(` >> ${shellQuote(logFile)} `) || (file !== undefined && l.includes(` --config ${shellQuote(resolve(ctx.cwd, file))} `)),
  };
  const others = otherCronLines(current, owner);

  if (action === 'remove') {
    const merged = removeCronLine(current, owner);
    if (merged.action === 'absent') {
      ctx.output.out(`No certpilot line for the state directory ${config.stateDir} in ${crontab.owner}; nothing to remove.${others.length > 0 ? ` (${others.length} certpilot line${others.length > 1 ? 's' : ''} of other state directories left alone: \`certpilot cron remove\` with that configuration removes it.)` : ''}`);
      return EXIT.ok;
    }
    await crontab.write(merged.text);
    ctx.output.out(`Removed the certpilot line of the state directory ${config.stateDir} from ${crontab.owner}.`);
    return EXIT.ok;
  }

  // `renew` renews the configured certificates and the one-offs `issue -d` remembered in the state;
  // with neither, the line would exit 2 on every run.
  if (config.certificates.length === 0 && (await oneOffsIn(ctx, config)).length === 0) {
    const problem = 'the configuration lists no certificates and the state holds no one-off certificate, so the cron line\'s `certpilot renew` would fail on every run';
    const hint = 'List the certificates under `certificates:` in certpilot.yaml (docs/getting-started.md), or issue one with `certpilot issue -d NAME …` into the same state directory (`renew` renews it from then on), then install the line.';
    if (action === 'install') throw new CertpilotError('ERR_CLI_USAGE', `cli: cron: ${problem}`, { hint });
    ctx.output.err(`warning: ${problem}.\n  hint: ${hint}`);
  }
  await warnCronEnvironment(ctx, current, configFile(ctx));

  const now = new Date();
  // The same time for show and install, and nothing written to find it (show may run read-only).
  const { schedule } = await cronSchedule(config.stateDir, hostname());
  // The line must name a script that exists: a certpilot started from stdin or `node -e` has none.
  const script = runningScript();
  if (script === undefined) {
    throw new CertpilotError('ERR_CLI_USAGE', "cli: cron writes the path of certpilot's own script into the crontab, and this process runs from none on disk", {
      hint: 'Run `certpilot cron install` from the installed certpilot (npm install -g certpilot), not through node -e or a pipe.',
    });
  }
  const argv = [
    process.execPath,
    script,
    'renew',
    ...(file ? ['--config', resolve(ctx.cwd, file)] : []),
    ...(ctx.values['state-dir'] ? ['--state-dir', resolve(ctx.cwd, ctx.values['state-dir'])] : []),
    // Part of the managed line, so the next `cron install` keeps it (an edit of the line is replaced).
    ...(ctx.values['metrics-file'] ? ['--metrics-file', resolve(ctx.cwd, ctx.values['metrics-file'])] : []),
  ];
  const line = buildCronLine(schedule, { argv, logFile }, owner.id);
  // The user the line runs as, when not this process's own (checked before installing for it).
  const other = user === undefined ? undefined : await lookupCronUser(user);
  const runAs = other !== undefined && other.uid !== process.getuid?.() ? other : undefined;
  let shown = line;
  if (action === 'install') {
    await checkAccess(ctx, runAs, { file, stateDir: config.stateDir, logFile, script, metricsFile: ctx.values['metrics-file'] ? resolve(ctx.cwd, ctx.values['metrics-file']) : undefined }, 'install');
    // sh opens `>> LOG` before certpilot starts: in a folder that does not exist, every run would fail unseen.
    const made = await mkdir(dirname(logFile), { recursive: true, mode: 0o700 }).catch((err: unknown) => {
      throw ioError(`creating ${dirname(logFile)} for the cron line's log`, err);
    });
    // Folders made here for another user's line are that user's: the line runs as it.
    if (made !== undefined && runAs !== undefined) await giveFolders(made, dirname(logFile), runAs);
    const previous = findCronLine(current, owner);
    if (previous !== undefined && /\s--metrics-file[\s=]/.test(previous) && !ctx.values['metrics-file']) {
      ctx.output.err(
        'warning: the certpilot line installed had --metrics-file, which this line has not: node_exporter\'s textfile stops moving (CertpilotMetricsStale).\n' +
          '  hint: Run `certpilot cron install --metrics-file FILE` with the same FILE to keep it on the line.',
      );
    }
    const merged = mergeCronLine(current, line, owner);
    if (merged.action !== 'unchanged') await crontab.write(merged.text);
    ctx.output.out(merged.action === 'unchanged' ? `Already installed in ${crontab.owner}:` : `${merged.action === 'added' ? 'Installed in' : 'Updated in'} ${crontab.owner}:`);
  } else {
    await checkAccess(ctx, runAs, { file, stateDir: config.stateDir, logFile, script, metricsFile: ctx.values['metrics-file'] ? resolve(ctx.cwd, ctx.values['metrics-file']) : undefined }, 'show');
    const installed = findCronLine(current, owner);
    shown = installed ?? line;
    ctx.output.out(installed ? `Installed in ${crontab.owner}:` : `Not installed in ${crontab.owner}; \`certpilot cron install\` would add:`);
  }
  ctx.output.out(`  ${shown}`);
  const parsed = parseCronSchedule(shown);
  ctx.output.out(parsed ? `Next runs: ${nextRunTimes(parsed, now, 3).map((t) => formatTime(t)).join(', ')}` : 'Next runs: (the line\'s schedule is not a daily minute/hour one; see crontab(5))');
  // The log the line itself names (an installed line may have another --log-file than this run's).
  ctx.output.out(`Output goes to ${cronLogFile(shown) ?? logFile}.`);
  if (others.length > 0) ctx.output.out(`${others.length} certpilot line${others.length > 1 ? 's' : ''} of other state directories stay${others.length > 1 ? '' : 's'} as ${others.length > 1 ? 'they are' : 'it is'}.`);
  if (parsed) await warnCadence(ctx, config, parsed.hours.length * Math.max(parsed.minutes.length, 1), now);
  return EXIT.ok;
}

/**
 * Warns (stderr) when the configuration needs variables of this shell's environment that cron will
 * not pass: cron runs the line with HOME, LOGNAME, PATH and SHELL, plus the `NAME=value` lines of
 * the crontab itself, so a `${VHOST}` exported in the shell is unset there and every run would fail.
 */
async function warnCronEnvironment(ctx: CommandContext, crontab: string, file: string | undefined): Promise<void> {
  const env: Record<string, string | undefined> = { HOME: ctx.env.HOME, LOGNAME: ctx.env.LOGNAME ?? ctx.env.USER, PATH: '/usr/bin:/bin', SHELL: '/bin/sh' };
  for (const line of crontab.split('\n')) {
    const assignment = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$/.exec(line);
    if (assignment) env[assignment[1] as string] = (assignment[2] as string).replace(/^(["'])(.*)\1$/, '$2');
  }
  // Settings taken from CERTPILOT_* variables (the state directory, the CA…) would silently differ.
  const missing = Object.keys(ctx.env).filter((n) => /^CERTPILOT_/.test(n) && n !== 'CERTPILOT_CONFIG' && n !== 'CERTPILOT_LOG_FORMAT' && env[n] === undefined);
  try {
    // The same file the line names with --config, read as cron's run of it would read it.
    await loadCommandConfig({ ...ctx, env, values: { ...ctx.values, ...(file ? { config: file } : {}) } }, false);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    for (const issue of err.issues) {
      const name = /environment variable (\S+) is not set/.exec(issue.message)?.[1];
      if (name) missing.push(name);
    }
  }
  const names = [...new Set(missing)];
  if (names.length === 0) return;
  ctx.output.err(
    `warning: the configuration reads ${names.join(', ')} from this shell's environment, which cron does not pass: the line's \`certpilot renew\` would fail or use other settings.\n` +
      `  hint: Put ${names.map((n) => `${n}=…`).join(', ')} in the crontab above the certpilot line (\`crontab -e\`), or write the values in the file.`,
  );
}

/** Warns (stderr) about certificates whose renewal window the schedule's runs cannot land in. */
async function warnCadence(ctx: CommandContext, config: Awaited<ReturnType<typeof loadCommandConfig>>, runsPerDay: number, now: Date): Promise<void> {
  if (runsPerDay <= 0) return;
  const runtime = await compose(config, { logger: createLogger({ level: 'silent' }) });
  try {
    const { buildStatusSnapshot } = await import('../../renewal/status.js');
    const snapshot = await buildStatusSnapshot({ config, store: runtime.store, now, runIntervalMs: (24 * 3_600_000) / runsPerDay });
    for (const c of snapshot.certificates) if (c.cadence) ctx.output.err(`warning: ${c.cadence.message}`);
  } finally {
    await runtime.close();
  }
}

/** Gives the folders `mkdir -p` made (`first` down to `last`) to `user`. */
async function giveFolders(first: string, last: string, user: CronUser): Promise<void> {
  const folders: string[] = [];
  for (let dir = last; ; dir = dirname(dir)) {
    folders.unshift(dir);
    if (dir === first || dirname(dir) === dir) break;
  }
  for (const dir of folders) {
    await chown(dir, user.uid, user.gid).catch((err: unknown) => {
      throw ioError(`giving ${dir} to ${user.name} for the cron line's log`, err);
    });
  }
}

/**
 * Before a line is installed for another user: that user must be able to read the configuration
 * and certpilot's script, read and write the state directory (everything in it), and append to the
 * log; else every run fails where nobody looks. `install` refuses (`--force` installs anyway, with a
 * warning); `show` warns.
 */
async function checkAccess(ctx: CommandContext, user: CronUser | undefined, paths: { file: string | undefined; stateDir: string; logFile: string; script: string; metricsFile: string | undefined }, action: 'install' | 'show'): Promise<void> {
  if (user === undefined) return;
  let needs: CronAccessNeed[] = [
    ...(paths.file !== undefined ? [{ path: resolve(ctx.cwd, paths.file), what: 'the configuration file', access: 'read' as const }] : []),
    { path: paths.script, what: "certpilot's script", access: 'read' },
    { path: resolve(paths.stateDir), what: 'the state directory', access: 'state' },
    { path: paths.logFile, what: 'the log file', access: 'append' },
    ...(paths.metricsFile !== undefined ? [{ path: paths.metricsFile, what: 'the metrics file', access: 'replace' as const }] : []),
  ];
  // The log's folder, when missing, is made by install and given to the user.
  const logDir = dirname(paths.logFile);
  if ((await systemFacts.stat(logDir)) === undefined) needs = needs.map((n) => (n.path === logDir || n.path.startsWith(`${logDir}/`) ? { ...n, madeForUser: true } : n));
  const problems = await cronAccessProblems(user, needs, systemFacts);
  if (problems.length === 0) return;
  const list = problems.map((p) => `${p.need.what} ${p.need.path}: ${p.path === p.need.path ? '' : `${p.path}: `}${p.why}`).join('; ');
  const message = `cron: the line would run as ${user.name} (uid ${user.uid}), who cannot use what each run needs: ${list}`;
  const hint = accessHint(user, problems, paths.stateDir);
  if (action === 'install' && !ctx.values.force) throw new CertpilotError('ERR_CRON_USER_ACCESS', message, { hint });
  ctx.output.err(`warning: ${message}${action === 'install' ? ' (installed anyway: --force)' : ''}.\n  hint: ${hint}`);
}

/** The fix of each problem: open a folder on the way, give the state or the log to the user, let it read a file; or install the line as the owner. */
function accessHint(user: CronUser, problems: readonly CronAccessProblem[], stateDir: string): string {
  const fixes: string[] = [];
  const state = resolve(stateDir);
  for (const p of problems) {
    const inState = p.path === state || p.path.startsWith(`${state}/`);
    if (inState && p.kind !== 'missing') fixes.push(`\`chown -R ${user.name} ${shellQuote(state)}\``);
    else if (p.kind === 'enter') fixes.push(`\`chmod o+x ${shellQuote(p.path)}\` (or a group of ${user.name} and g+x)`);
    else if (p.kind === 'missing') fixes.push(`create ${p.need.path}`);
    else if (p.need.access === 'state') fixes.push(`\`chown -R ${user.name} ${shellQuote(state)}\``);
    else if (p.need.access === 'replace') fixes.push(`\`chown ${user.name} ${shellQuote(p.path)}\` (or --metrics-file in a folder ${user.name} may write)`);
    else if (p.need.access === 'append') fixes.push(`\`touch ${shellQuote(p.need.path)} && chown ${user.name} ${shellQuote(p.need.path)}\` (or --log-file in a folder ${user.name} may write)`);
    else fixes.push(`\`chmod o+r ${shellQuote(p.path)}\` (or a group of ${user.name} and g+r)`);
  }
  return `Run ${[...new Set(fixes)].join(', ')}; or install the line in the crontab of the user that owns them (\`certpilot cron install\` without -u, as that user). \`cron install --force\` installs it anyway.`;
}

/** One user's crontab, through the `crontab` binary. */
class Crontab {
  constructor(private readonly user: string | undefined) {}

  /** How messages name it. */
  get owner(): string {
    return this.user ? `the crontab of ${this.user}` : 'your crontab';
  }

  /** The crontab's text; empty when the user has none. */
  async read(): Promise<string> {
    const res = await crontabCommand([...this.userArgs(), '-l']);
    if (res.code === 0) return res.stdout;
    if (/no crontab for/i.test(res.stderr)) return '';
    throw this.failed('reading', res);
  }

  /** Replaces the crontab with `text` (`crontab -`, which checks the syntax). */
  async write(text: string): Promise<void> {
    const res = await crontabCommand([...this.userArgs(), '-'], text);
    if (res.code !== 0) throw this.failed('writing', res);
  }

  private userArgs(): string[] {
    return this.user ? ['-u', this.user] : [];
  }

  private failed(what: string, res: { code: number | null; stderr: string; error?: NodeJS.ErrnoException }): CertpilotError {
    const why = res.error ? (res.error.code ?? res.error.message) : res.stderr.trim().split('\n').slice(-2).join(' | ') || `exit code ${res.code}`;
    return new CertpilotError('ERR_CRON_CRONTAB', `cron: ${what} ${this.owner} with crontab failed: ${why}`, { cause: res.error });
  }
}

function crontabCommand(args: string[], input?: string): Promise<{ code: number | null; stdout: string; stderr: string; error?: NodeJS.ErrnoException }> {
  return new Promise((done) => {
    const child = spawn('crontab', args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    child.once('error', (error: NodeJS.ErrnoException) => done({ code: null, stdout, stderr, error }));
    child.once('close', (code) => done({ code, stdout, stderr }));
    child.stdin.on('error', () => undefined);
    child.stdin.end(input ?? '');
  });
}

/** The real path of the script this certpilot runs from (a symlinked bin resolved), or undefined when there is none on disk. */
function runningScript(): string | undefined {
  const script = process.argv[1];
  if (script === undefined) return undefined;
  try {
    return realpathSync(script);
  } catch {
    return undefined;
  }
}
