/**
 * Environment variables in configuration values, so one file serves dev, staging and production:
 *
 * - `${NAME}`: the variable's value; an error naming the field when it is unset or empty.
 * - `${NAME:-default}`: the default when the variable is unset or empty (`${NAME:-}` gives "").
 * - `${NAME[]}` as a whole list item: the variable split on commas and white space into list items,
 *   none when it is unset or empty — like the shell's `${ALIASES:+,$ALIASES}` in the deck.
 * - `$$` is a literal `$`.
 *
 * A value that is one whole `${NAME}` (or `${NAME:-default}`) and nothing else is noted in `whole`
 * (its path → the variable): where the schema wants a number or a boolean, the loader reads the
 * expanded text as one (`timeoutSeconds: ${HOOK_TIMEOUT}`), and says which variable a bad one is.
 *
 * A shell hook's `command` (`type: hook` with `shell: true`) is the shell's, not ours: it is left
 * as written, so a certbot deploy hook's `${RENEWED_LINEAGE}` reaches `/bin/sh` and is expanded
 * there from the hook's own environment, not from certpilot's (or refused) when the file is read.
 */
import type { ConfigIssue } from '../errors.js';

const REFERENCE = /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;
const LIST_ITEM = /^\$\{([A-Za-z_][A-Za-z0-9_]*)\[\]\}$/;
const WHOLE = /^\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-[^}]*)?\}$/;

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
  shellHooks: ReadonlySet<object> = path.length === 0 ? shellHooksOf(value) : new Set(),
  whole?: Map<string, string>,
): unknown {
  if (typeof value === 'string') {
    const ref = whole ? WHOLE.exec(value.trim()) : null;
    if (ref) whole?.set(formatPath(path), ref[1] as string);
    return expandString(value, env, issues, path);
  }
  if (Array.isArray(value)) {
    const out: unknown[] = [];
    value.forEach((item, index) => {
      const list = typeof item === 'string' ? LIST_ITEM.exec(item.trim()) : null;
      if (list) {
        const raw = env[list[1] as string] ?? '';
        out.push(...raw.split(/[\s,]+/).filter((s) => s.length > 0));
      } else {
        out.push(interpolateEnv(item, env, issues, [...path, index], shellHooks, whole));
      }
    });
    return out;
  }
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) {
      out[key] = key === 'command' && shellHooks.has(value) ? item : interpolateEnv(item, env, issues, [...path, key], shellHooks, whole);
    }
    return out;
  }
  return value;
}

/** The deployers of a configuration file whose `command` is a string for `/bin/sh -c`. */
function shellHooksOf(file: unknown): Set<object> {
  const hooks = new Set<object>();
  const deployers = isRecord(file) ? file['deployers'] : undefined;
  if (!isRecord(deployers)) return hooks;
  for (const deployer of Object.values(deployers)) {
    if (isRecord(deployer) && deployer['type'] === 'hook' && deployer['shell'] === true && typeof deployer['command'] === 'string') hooks.add(deployer);
  }
  return hooks;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
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
      message: `environment variable ${name} is not set; set it, write \${${name}:-default} for a default, or $\${${name}} for the text \${${name}} itself`,
    });
    return '';
  });
}
