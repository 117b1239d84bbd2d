/**
 * Environment variables in configuration values, so one file serves dev, staging and production:
 *
 * - `${NAME}`: the variable's value; an error naming the field when it is unset or empty.
 * - `${NAME:-default}`: the default when the variable is unset or empty (`${NAME:-}` gives "").
 * - `${NAME[]}` as a whole list item: the variable split on commas and white space into list items,
 *   none when it is unset or empty — like the shell's `${ALIASES:+,$ALIASES}` in the deck.
 * - `$$` is a literal `$`.
 */
import type { ConfigIssue } from '../errors.js';

const REFERENCE = /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;
const LIST_ITEM = /^\$\{([A-Za-z_][A-Za-z0-9_]*)\[\]\}$/;

/** Formats a path like `certificates[0].domains[1]`. */
export function formatPath(path: readonly (string | number | symbol)[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out ? `.${String(part)}` : String(part);
  }
  return out;
}

/**
 * Returns a copy of `value` with every reference expanded from `env`; problems are appended to
 * `issues` (all of them, not only the first).
 */
export function interpolateEnv(
  value: unknown,
  env: Readonly<Record<string, string | undefined>>,
  issues: ConfigIssue[],
  path: (string | number)[] = [],
): unknown {
  if (typeof value === 'string') return expandString(value, env, issues, path);
  if (Array.isArray(value)) {
    const out: unknown[] = [];
    value.forEach((item, index) => {
      const list = typeof item === 'string' ? LIST_ITEM.exec(item.trim()) : null;
      if (list) {
        const raw = env[list[1] as string] ?? '';
        out.push(...raw.split(/[\s,]+/).filter((s) => s.length > 0));
      } else {
        out.push(interpolateEnv(item, env, issues, [...path, index]));
      }
    });
    return out;
  }
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) out[key] = interpolateEnv(item, env, issues, [...path, key]);
    return out;
  }
  return value;
}

function expandString(
  text: string,
  env: Readonly<Record<string, string | undefined>>,
  issues: ConfigIssue[],
  path: (string | number)[],
): string {
  if (LIST_ITEM.test(text.trim())) {
    issues.push({
      path: formatPath(path),
      message: `${text.trim()} expands to a list and may only stand as a whole list item (e.g. under domains:)`,
    });
    return text;
  }
  return text.replace(REFERENCE, (match, name: string | undefined, fallback: string | undefined) => {
    if (match === '$$') return '$';
    const raw = env[name as string];
    if (raw !== undefined && raw !== '') return raw;
    if (fallback !== undefined) return fallback;
    issues.push({
      path: formatPath(path),
      message: `environment variable ${name} is not set; set it, or write \${${name}:-default} for a default`,
    });
    return '';
  });
}
