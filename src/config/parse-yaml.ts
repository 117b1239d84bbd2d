/**
 * Parsing the configuration file's YAML (issue 17). `js-yaml` reads it: ~4–5× less CPU and half
 * the memory of `yaml`'s document model on a 1000-certificate file (docs/design-notes.md). Its
 * schema here is YAML 1.2's core schema exactly as `yaml` resolves it by default (the library
 * certpilot used before, and still uses to write YAML), so a file means what it meant: dates,
 * `yes`/`no`/`on`/`off` stay strings, `0o17` is 15 and `017` is 17, no `<<` merge, duplicate keys
 * are an error. When `js-yaml` refuses a file, `yaml` (imported only then) parses it again to give
 * the same line/column messages as before; a file with a `%YAML`/`%TAG` directive goes to `yaml`
 * whole (a `%YAML 1.1` header changes what scalars mean there, and `js-yaml` ignores it).
 */
import { FAILSAFE_SCHEMA, load, type Schema, Type, YAMLException } from 'js-yaml';
import { ConfigError, type ConfigIssue } from '../errors.js';

// The core schema's scalars, as `yaml` (2.x, `schema: 'core'`) tests and resolves them. js-yaml's
// own CORE_SCHEMA differs at the edges: it reads `0b101`, `-0x1F` and `+0o17` as numbers and
// `1e400` as a string, where `yaml` keeps the first three strings and reads Infinity.
const NULL = /^(?:~|[Nn]ull|NULL)?$/;
const BOOL = /^(?:[Tt]rue|TRUE|[Ff]alse|FALSE)$/;
const INT_OCT = /^0o[0-7]+$/;
const INT_DEC = /^[-+]?[0-9]+$/;
const INT_HEX = /^0x[0-9a-fA-F]+$/;
const FLOAT_SPECIAL = /^(?:[-+]?\.(?:inf|Inf|INF)|\.nan|\.NaN|\.NAN)$/;
const FLOAT_EXP = /^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)[eE][-+]?[0-9]+$/;
const FLOAT = /^[-+]?(?:\.[0-9]+|[0-9]+\.[0-9]*)$/;

const scalar = (tag: string, test: (s: string) => boolean, construct: (s: string) => unknown): Type =>
  new Type(`tag:yaml.org,2002:${tag}`, { kind: 'scalar', resolve: (s: unknown) => typeof s === 'string' && test(s), construct });

/** YAML 1.2 core, as `yaml` reads it. */
export const CORE_AS_YAML: Schema = FAILSAFE_SCHEMA.extend({
  implicit: [
    scalar('null', (s) => NULL.test(s), () => null),
    scalar('bool', (s) => BOOL.test(s), (s) => s[0] === 't' || s[0] === 'T'),
    scalar(
      'int',
      (s) => INT_OCT.test(s) || INT_DEC.test(s) || INT_HEX.test(s),
      (s) => (INT_OCT.test(s) ? parseInt(s.slice(2), 8) : INT_HEX.test(s) ? parseInt(s.slice(2), 16) : parseInt(s, 10)),
    ),
    scalar(
      'float',
      (s) => FLOAT_SPECIAL.test(s) || FLOAT_EXP.test(s) || FLOAT.test(s),
      (s) => (!FLOAT_SPECIAL.test(s) ? parseFloat(s) : s.slice(-3).toLowerCase() === 'nan' ? NaN : s[0] === '-' ? -Infinity : Infinity),
    ),
  ],
});

/**
 * The most values a file's aliases may expand to, per byte of the file. `js-yaml` shares an
 * aliased node (no copy), but everything after the parse walks the tree, so a "billion laughs"
 * file would hang the walk; `yaml` refused such files with its alias count.
 */
const EXPANSION_PER_BYTE = 10;

/** Parses the configuration file's text: the plain JavaScript value, `null` for an empty file; throws ConfigError (`ERR_CONFIG_PARSE`) with the line and column of each problem. */
export async function parseYaml(text: string, source: string): Promise<unknown> {
  // Any line starting with `%` in column 1: a directive (or a scalar's continuation line: then only slower, the same value).
  if (/^%/m.test(text)) return parseWithYaml(text, source, undefined);
  let value: unknown;
  try {
    value = load(text, { schema: CORE_AS_YAML, json: false });
  } catch (err) {
    if (!(err instanceof YAMLException)) throw err;
    return parseWithYaml(text, source, err);
  }
  // An alias is `*name` outside quotes; any `*` followed by a name character gates the check.
  if (/\*[^\s,[\]{}]/.test(text)) checkExpansion(value, EXPANSION_PER_BYTE * text.length + 10_000, source);
  return value ?? null;
}

/** `yaml`'s parse, for its messages; `refused` is js-yaml's error, reported when `yaml` finds none. */
async function parseWithYaml(text: string, source: string, refused: YAMLException | undefined): Promise<unknown> {
  const loaded = await import('yaml');
  // Node's ESM view of the CommonJS module has named exports; the bundle's sees only `default`.
  const { parseDocument } = loaded.parseDocument === undefined ? (loaded as unknown as { default: typeof loaded }).default : loaded;
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  let issues: ConfigIssue[] = doc.errors.map((e) => ({
    path: e.linePos?.[0] ? `line ${e.linePos[0].line}, column ${e.linePos[0].col}` : '',
    message: (e.message.split('\n')[0] ?? e.message).replace(/:$/, ''),
  }));
  let value: unknown;
  if (issues.length === 0) {
    try {
      value = doc.toJS();
    } catch (err) {
      // An alias to no anchor, or too many aliases: `toJS` throws rather than listing them.
      issues = [{ path: refused ? position(refused) : '', message: refused?.reason ?? (err as Error).message }];
    }
  }
  if (issues.length === 0 && refused) issues = [{ path: position(refused), message: refused.reason }];
  if (issues.length > 0) {
    // A syntax error throws the parser off for the rest of the file: the first one is the one to fix.
    const [first] = issues as [ConfigIssue, ...ConfigIssue[]];
    const more = issues.length - 1;
    const shown = more > 0 ? [{ ...first, message: `${first.message} (and ${more} more after it, most likely all caused by this one)` }] : [first];
    const braces = unquotedBraces(text, doc.errors[0]?.linePos?.[0]?.line);
    throw new ConfigError(shown, {
      code: 'ERR_CONFIG_PARSE',
      source,
      ...(braces ? { hint: `Quote a value holding { or } inside a { … } map: ${braces}. Then fix what remains at the line and column shown.` } : {}),
    });
  }
  return value;
}

/**
 * `dir: "/srv/{name}"` for a line like `vol: { type: files, dir: /srv/{name} }`: a `{name}`
 * placeholder unquoted in a flow map is the usual cause of a parse error there; undefined otherwise.
 */
function unquotedBraces(text: string, line: number | undefined): string | undefined {
  if (line === undefined) return undefined;
  const source = text.split('\n')[line - 1] ?? '';
  const m = /([\w.-]+):\s*([^\s,"'{}[\]][^\s,"']*\{[^\s,"'}]*\}[^\s,"'}]*)/.exec(source);
  return m ? `${m[1]}: "${m[2]}"` : undefined;
}

function position(err: YAMLException): string {
  // js-yaml counts lines and columns from 0; `yaml` (and every editor) from 1.
  return err.mark ? `line ${err.mark.line + 1}, column ${err.mark.column + 1}` : '';
}

/** Throws when the tree, aliases expanded, holds more than `budget` values. */
function checkExpansion(root: unknown, budget: number, source: string): void {
  let left = budget;
  const stack: unknown[] = [root];
  while (stack.length > 0) {
    const value = stack.pop();
    if (--left < 0) {
      const message = `its aliases expand to more than ${budget} values (a resource exhaustion attack?)`;
      throw new ConfigError([{ path: '', message }], { code: 'ERR_CONFIG_PARSE', source });
    }
    if (value !== null && typeof value === 'object') for (const child of Array.isArray(value) ? value : Object.values(value)) stack.push(child);
  }
}
