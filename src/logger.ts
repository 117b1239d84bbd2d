/**
 * The structured logger (pino) with secret redaction. Components take a {@link Logger} and log
 * objects, never secrets: redaction is the safety net, not the plan.
 */
import { pino } from 'pino';

/** The logger type every component takes. */
export type Logger = pino.Logger;

/** Field paths whose values are always replaced by `[redacted]`. */
export const REDACTED_PATHS: readonly string[] = [
  'privateKey', '*.privateKey', 'privkey', '*.privkey', 'key', '*.key', 'accountKey', '*.accountKey',
  'secret', '*.secret', 'secretAccessKey', '*.secretAccessKey', 'hmacKey', '*.hmacKey', '*.*.hmacKey',
  'tsigSecret', '*.tsigSecret', 'password', '*.password', 'token', '*.token', 'authorization',
  '*.authorization', 'headers.authorization', '*.headers.authorization',
];

/** Options for {@link createLogger}. */
export interface LoggerOptions {
  /** pino level: trace, debug, info, warn, error, fatal or silent. */
  level?: string;
  /** Where log lines go; defaults to standard error so standard output stays for results. */
  destination?: NodeJS.WritableStream;
}

/** Creates the process logger: JSON lines on stderr with secrets redacted. */
export function createLogger(options: LoggerOptions = {}): Logger {
  return pino(
    {
      level: options.level ?? 'info',
      base: undefined,
      redact: { paths: [...REDACTED_PATHS], censor: '[redacted]' },
    },
    (options.destination ?? process.stderr) as pino.DestinationStream,
  );
}

/** A logger that drops everything, for tests and library use. */
export const silentLogger: Logger = pino({ level: 'silent' });
