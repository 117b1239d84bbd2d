/**
 * The log format for people: pino's JSON lines turned into one plain line each, e.g.
 * `warn: renewal failed (certificate=web code=ERR_DNS_UPDATE_REFUSED)`. The logger's redaction
 * runs before a line reaches here, so this only changes the shape, never what is shown.
 * `--log-format json` (or `--json` with stderr not a terminal) keeps pino's JSON lines instead.
 *
 * A line with an `outcome` field restates a certificate's result (its renewal, or one deployer,
 * failed or was interrupted). `issue`, `renew` and `deploy` print that result themselves, with its
 * code and hint, so for people they leave such lines out ({@link HumanLogOptions.omitOutcomes}):
 * each error is seen once. JSON lines always keep them.
 */
import { Writable } from 'node:stream';
import { CertpilotError } from '../errors.js';

/** The two log formats the CLI offers. */
export type LogFormat = 'human' | 'json';

const LEVELS: Readonly<Record<number, string>> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };
/** Fields every line has, or that the line already shows. */
const SKIPPED = new Set(['level', 'time', 'msg', 'pid', 'hostname']);

/** Options of {@link humanLogDestination}. */
export interface HumanLogOptions {
  /** Leave out lines that restate a certificate's result (an `outcome` field): the command prints the result. */
  omitOutcomes?: boolean;
}

/**
 * Formats one pino JSON line for a person; a line that is not JSON is returned as it was. Returns
 * undefined for a line {@link HumanLogOptions.omitOutcomes} leaves out.
 */
export function formatLogLine(line: string, options: HumanLogOptions = {}): string | undefined {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) return line;
  if (options.omitOutcomes && entry.outcome !== undefined) return undefined;
  const level = typeof entry.level === 'number' ? (LEVELS[entry.level] ?? `level ${entry.level}`) : String(entry.level ?? 'log');
  const fields = Object.entries(entry)
    .filter(([k, v]) => !SKIPPED.has(k) && v !== undefined)
    .map(([k, v]) => `${k}=${formatValue(v)}`);
  const msg = typeof entry.msg === 'string' ? entry.msg : '';
  return `${level}: ${msg}${fields.length ? ` (${fields.join(' ')})` : ''}`;
}

function formatValue(v: unknown): string {
  if (typeof v === 'string') return /^[^\s"=()]+$/.test(v) ? v : JSON.stringify(v);
  // An error serialized by pino: its code and message say enough; the stack is for --verbose.
  if (typeof v === 'object' && v !== null && !Array.isArray(v) && typeof (v as { message?: unknown }).message === 'string') {
    const e = v as { code?: unknown; message: string };
    return JSON.stringify(`${typeof e.code === 'string' ? `${e.code}: ` : ''}${e.message}`);
  }
  return JSON.stringify(v) ?? String(v);
}

/** A pino destination that writes {@link formatLogLine} lines to `out`. */
export function humanLogDestination(out: NodeJS.WritableStream, options: HumanLogOptions = {}): Writable {
  let partial = '';
  const format = (l: string): string => {
    const text = formatLogLine(l, options);
    return text === undefined ? '' : `${text}\n`;
  };
  return new Writable({
    write(chunk: Buffer | string, _encoding, callback) {
      const lines = (partial + chunk.toString()).split('\n');
      partial = lines.pop() ?? '';
      const text = lines.filter((l) => l !== '').map(format).join('');
      if (text === '') callback();
      else out.write(text, () => callback());
    },
    final(callback) {
      const text = partial !== '' ? format(partial) : '';
      if (text !== '') out.write(text);
      callback();
    },
  });
}

/**
 * Which log format a run uses: `--log-format`, else CERTPILOT_LOG_FORMAT, else JSON only when the
 * user asked for machine output (`--json`) and stderr is not a terminal; human text otherwise.
 */
export function chooseLogFormat(input: { flag?: string | undefined; env?: string | undefined; json: boolean; stderrIsTty: boolean }): LogFormat {
  const explicit = input.flag ?? (input.env !== '' ? input.env : undefined);
  if (explicit === 'json' || explicit === 'human') return explicit;
  if (explicit !== undefined) {
    const from = input.flag !== undefined ? '--log-format' : 'CERTPILOT_LOG_FORMAT';
    throw new CertpilotError('ERR_CLI_USAGE', `cli: ${from} must be human or json, not "${explicit}"`, { hint: `Use ${from === '--log-format' ? '--log-format human or --log-format json' : 'CERTPILOT_LOG_FORMAT=human or =json'}.` });
  }
  return input.json && !input.stderrIsTty ? 'json' : 'human';
}
