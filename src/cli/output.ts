/** Human output helpers of the CLI: plain text tables and durations. Only cli/ prints. */

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

/** Formats a duration like `29d 3h`, `5h 12m`, `-2d 1h` (negative: in the past). */
export function formatDuration(ms: number): string {
  const sign = ms < 0 ? '-' : '';
  let rest = Math.abs(ms);
  const d = Math.floor(rest / 86_400_000);
  rest -= d * 86_400_000;
  const h = Math.floor(rest / 3_600_000);
  rest -= h * 3_600_000;
  const m = Math.floor(rest / 60_000);
  if (d > 0) return `${sign}${d}d ${h}h`;
  if (h > 0) return `${sign}${h}h ${m}m`;
  return `${sign}${m}m`;
}

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
