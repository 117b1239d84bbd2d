/** Human output helpers of the CLI: plain text tables and durations. Only cli/ prints. */
import { redactText } from '../redact.js';

/** Where a command writes results (stdout) and diagnostics (stderr). */
export interface Output {
  out(line: string): void;
  err(line: string): void;
}

/** The process's streams. */
export const processOutput: Output = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
};

/**
 * `output` with every line passed through the one redaction (src/redact.ts `redactText`: a PEM
 * private key, a password in a URL): what a command prints (result lines, `--json`, errors) may
 * quote a hook's stderr or a server's message. `main` wraps every command's output in it.
 */
export function redactedOutput(output: Output): Output {
  return { out: (line) => output.out(redactText(line)), err: (line) => output.err(redactText(line)) };
}

export { formatDuration } from '../duration.js';

/** A UTC timestamp without milliseconds, e.g. `2026-11-28 03:20Z`. */
export function formatTime(value: Date | string | undefined): string {
  if (value === undefined) return '-';
  const d = typeof value === 'string' ? new Date(value) : value;
  return `${d.toISOString().slice(0, 16).replace('T', ' ')}Z`;
}

/** Renders rows as a left-aligned text table with a header. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd();
  return [line(header), ...rows.map(line)];
}
