/**
 * The crontab line of `certpilot cron` (the deck's `add_cron_job`, made idempotent): building it,
 * finding it again by its marker, merging it into a user's crontab text without touching any other
 * line, and the run times it gives. Pure functions, plus the read of `<stateDir>/cron.json`, where
 * earlier versions kept a randomly chosen minute and hour. The time is otherwise a hash of the host
 * name and the state directory: every machine of a fleet keeps its own time, so they do not all ask
 * the CA at once (Let's Encrypt asks clients to spread renewals), and `cron show` prints the time
 * `cron install` will use without writing anything.
 */
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { join, resolve } from 'node:path';
import { hasErrno, ioError } from '../fs/atomic-write.js';

/** The comment that ends certpilot's line; how `install` and `remove` find it again. */
export const CRON_MARKER = '# certpilot-managed';

/**
 * Whose line it is: one line per state directory (`:<id>` after the marker, a digest of the
 * directory), so a second configuration's `cron install` adds its own line instead of replacing the
 * first one's. A line an earlier version wrote has no id: it is this one's when `legacy` says so
 * (it names this configuration file or this log).
 */
export interface CronLineOwner {
  id: string;
  legacy: (line: string) => boolean;
}

/** The id of the line of the state directory `stateDir` (absolute). */
export function cronLineId(stateDir: string): string {
  return createHash('sha256').update(resolve(stateDir)).digest('hex').slice(0, 12);
}

const MARKED = /\s# certpilot-managed(?::([0-9a-f]{6,64}))?$/;

/** The owner id a certpilot line carries (undefined: written by an earlier version, or not a certpilot line). */
function lineIdOf(line: string): string | undefined {
  return MARKED.exec(line.trim())?.[1];
}

/** True when `line` is certpilot's and `owner`'s (any certpilot line without an owner). */
function owns(owner: CronLineOwner | undefined, line: string): boolean {
  if (!isCertpilotLine(line)) return false;
  if (owner === undefined) return true;
  const id = lineIdOf(line);
  return id === undefined ? owner.legacy(line) : id === owner.id;
}

/** When the line runs: one minute, at one or more hours, every day. */
export interface CronSchedule {
  minute: number;
  /** Hours of the day, ascending (default two, twelve hours apart). */
  hours: number[];
}

/** What `<stateDir>/cron.json` keeps (written by earlier versions' `cron install` and `show`). */
interface CronState {
  minute: number;
  hour: number;
  chosenAt: string;
}

/** A minute and an hour of the first half-day drawn from `random`, run at that hour and twelve hours later. */
export function chooseSchedule(random: (maxExclusive: number) => number): CronSchedule {
  const hour = random(12);
  return { minute: random(60), hours: [hour, hour + 12] };
}

/** The schedule drawn from a SHA-256 hash of `seed`: the same seed, the same time; other seeds spread over the day. */
export function scheduleFromSeed(seed: string): CronSchedule {
  const digest = createHash('sha256').update(seed).digest();
  let i = 0;
  return chooseSchedule((max) => digest.readUInt16BE((i++ * 2) % 30) % max);
}

/**
 * The schedule of `cron install` and `cron show` for `stateDir` on host `host`: the one kept in
 * `<stateDir>/cron.json` by an earlier version, else a hash of host and state directory. Reads
 * only: `show` may run as another user or against a read-only volume, and must print the time
 * `install` will use.
 */
export async function cronSchedule(stateDir: string, host: string): Promise<{ schedule: CronSchedule; kept: boolean }> {
  const kept = await readKeptSchedule(stateDir);
  return kept ? { schedule: kept, kept: true } : { schedule: scheduleFromSeed(`${host}\n${resolve(stateDir)}`), kept: false };
}

/** The schedule in `<stateDir>/cron.json`, or undefined when there is none (absent, or not a schedule). */
async function readKeptSchedule(stateDir: string): Promise<CronSchedule | undefined> {
  const file = join(stateDir, 'cron.json');
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    if (hasErrno(err, 'ENOENT') || hasErrno(err, 'ENOTDIR')) return undefined;
    throw ioError(`reading ${file}`, err);
  }
  try {
    const state = JSON.parse(text) as Partial<CronState> | null;
    if (state && isInt(state.minute, 0, 59) && isInt(state.hour, 0, 11)) return { minute: state.minute, hours: [state.hour, state.hour + 12] };
  } catch {
    // Not JSON: the hashed time, as if there were none.
  }
  return undefined;
}

/** What runs: the program's argv (absolute paths: cron's PATH is `/usr/bin:/bin`) and the log file. */
export interface CronCommand {
  argv: readonly string[];
  /** Output of each run is appended here (`>> log 2>&1`), so cron mails nothing. */
  logFile: string;
}

/** Quotes one word for /bin/sh (cron runs the command with it); `%` is escaped for cron itself. */
export function shellQuote(word: string): string {
  const quoted = /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
  // In a crontab an unescaped % ends the command (crontab(5)).
  return quoted.replace(/%/g, '\\%');
}

/** The log file a certpilot line appends to (the inverse of {@link shellQuote} on its `>> <log>`), or undefined. */
export function cronLogFile(line: string): string | undefined {
  const quoted = / >> ('(?:[^']|'\\'')*'|\S+) 2>&1 # certpilot-managed/.exec(line)?.[1];
  if (quoted === undefined) return undefined;
  const unescaped = quoted.replace(/\\%/g, '%');
  return unescaped.startsWith("'") ? unescaped.slice(1, -1).replace(/'\\''/g, "'") : unescaped;
}

/** The crontab line: `M H1,H2 * * * <argv> >> <log> 2>&1 # certpilot-managed[:<owner id>]`. */
export function buildCronLine(schedule: CronSchedule, command: CronCommand, ownerId?: string): string {
  const words = command.argv.map(shellQuote).join(' ');
  return `${schedule.minute} ${schedule.hours.join(',')} * * * ${words} >> ${shellQuote(command.logFile)} 2>&1 ${CRON_MARKER}${ownerId ? `:${ownerId}` : ''}`;
}

/** True for a line certpilot installed (ends with the marker; comments and blank lines never are). */
export function isCertpilotLine(line: string): boolean {
  const t = line.trim();
  return !t.startsWith('#') && MARKED.test(t);
}

/** `owner`'s certpilot line in a crontab's text (any certpilot line without an owner), or undefined. */
export function findCronLine(crontab: string, owner?: CronLineOwner): string | undefined {
  return crontab.split('\n').find((l) => owns(owner, l));
}

/** The certpilot lines of other owners (other state directories). */
export function otherCronLines(crontab: string, owner: CronLineOwner): string[] {
  return crontab.split('\n').filter((l) => isCertpilotLine(l) && !owns(owner, l));
}

/** What a merge did. */
export interface CronMerge {
  /** The new crontab text. */
  text: string;
  /** `added`, `replaced` (a different certpilot line was there), `unchanged` or `removed`/`absent`. */
  action: 'added' | 'replaced' | 'unchanged' | 'removed' | 'absent';
}

/**
 * Puts `line` into `crontab` in place of `owner`'s certpilot line (the first one's position;
 * duplicates go), or appends it. Every other line, other owners' certpilot lines too, stays byte
 * for byte. Idempotent.
 */
export function mergeCronLine(crontab: string, line: string, owner?: CronLineOwner): CronMerge {
  const lines = splitLines(crontab);
  const at = lines.findIndex((l) => owns(owner, l));
  if (at === -1) return { text: joinLines([...lines, line]), action: 'added' };
  const rest = lines.filter((l, i) => i === at || !owns(owner, l));
  const unchanged = lines[at] === line && rest.length === lines.length;
  rest[at] = line;
  return { text: joinLines(rest), action: unchanged ? 'unchanged' : 'replaced' };
}

/** Removes `owner`'s certpilot lines (every one without an owner); other lines stay byte for byte. */
export function removeCronLine(crontab: string, owner?: CronLineOwner): CronMerge {
  const lines = splitLines(crontab);
  const kept = lines.filter((l) => !owns(owner, l));
  return { text: joinLines(kept), action: kept.length === lines.length ? 'absent' : 'removed' };
}

/** The schedule of a cron line's minute and hour fields, or undefined when its day fields are not `* * *` or a field is not understood. */
export function parseCronSchedule(line: string): { minutes: number[]; hours: number[] } | undefined {
  const fields = line.trim().split(/\s+/);
  if (fields.length < 6 || fields[2] !== '*' || fields[3] !== '*' || fields[4] !== '*') return undefined;
  const minutes = parseField(fields[0] as string, 0, 59);
  const hours = parseField(fields[1] as string, 0, 23);
  return minutes && hours ? { minutes, hours } : undefined;
}

/** The next `count` run times after `now` (exclusive) of a daily minute/hour schedule, in the machine's local time (as cron runs). */
export function nextRunTimes(schedule: { minutes: readonly number[]; hours: readonly number[] }, now: Date, count = 3): Date[] {
  const out: Date[] = [];
  const day = new Date(now.getFullYear(), now.getMonth(), now.getDate());
  for (let d = 0; out.length < count && d < 3 + count; d++) {
    for (const h of [...schedule.hours].sort((a, b) => a - b)) {
      for (const m of [...schedule.minutes].sort((a, b) => a - b)) {
        const t = new Date(day.getFullYear(), day.getMonth(), day.getDate() + d, h, m);
        // Local times that do not exist (a DST gap) come out shifted; cron skips or shifts them too.
        if (t.getTime() > now.getTime() && out.length < count && t.getHours() === h) out.push(t);
      }
    }
  }
  return out;
}

/** Parses one cron field: `*`, `*\/n`, `a`, `a-b`, `a-b/n`, and comma lists of those. */
function parseField(field: string, min: number, max: number): number[] | undefined {
  const values = new Set<number>();
  for (const part of field.split(',')) {
    const m = /^(\*|(\d+)(?:-(\d+))?)(?:\/(\d+))?$/.exec(part);
    if (!m) return undefined;
    const from = m[1] === '*' ? min : Number(m[2]);
    const to = m[1] === '*' ? max : m[3] !== undefined ? Number(m[3]) : m[4] !== undefined ? max : from;
    const step = m[4] !== undefined ? Number(m[4]) : 1;
    if (from < min || to > max || from > to || step < 1) return undefined;
    for (let v = from; v <= to; v += step) values.add(v);
  }
  return [...values].sort((a, b) => a - b);
}

function isInt(value: unknown, min: number, max: number): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max;
}

/** Lines of a crontab text, without the final newline's empty remainder. */
function splitLines(text: string): string[] {
  if (text === '') return [];
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  return lines;
}

/** crontab(5) needs a newline after the last line. */
function joinLines(lines: readonly string[]): string {
  return lines.length === 0 ? '' : `${lines.join('\n')}\n`;
}
