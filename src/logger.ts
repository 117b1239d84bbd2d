/**
 * The structured logger (pino) with secret redaction. Components take a {@link Logger} and log
 * objects, never secrets: redaction is the safety net, not the plan. Every logged object passes
 * through {@link redactSecrets} (secret field names at any depth, any case; hook `env` values;
 * Secret `data`; PEM private keys anywhere), and message strings through {@link redactText}.
 */
import { pino } from 'pino';
import { redactSecrets, redactText } from './redact.js';

/** The logger type every component takes. */
export type Logger = pino.Logger;

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
      formatters: { log: (object) => redactSecrets(object) },
      hooks: {
        logMethod(args, method) {
          method.apply(this, args.map((a) => (typeof a === 'string' ? redactText(a) : a)) as Parameters<typeof method>);
        },
      },
    },
    (options.destination ?? process.stderr) as pino.DestinationStream,
  );
}

/** A logger that drops everything, for tests and library use. */
export const silentLogger: Logger = pino({ level: 'silent' });
