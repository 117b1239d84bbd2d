/**
 * Reads certbot's `renewal/<name>.conf`: a ConfigObj file (certbot `storage.py`) with top-level
 * `key = value` lines (paths of the lineage), a `[renewalparams]` section (how it was issued:
 * server, account, authenticator, key type, hooks…) and a `[[webroot_map]]` subsection (name →
 * webroot). Only what certbot writes is read; anything else is kept as text for the report.
 */

/** The parsed file. Keys keep certbot's spelling (`webroot_path`, `certbot-redis:redis_redis_url`). */
export interface RenewalConf {
  /** Top-level values: `version`, `archive_dir`, `cert`, `privkey`, `chain`, `fullchain`. */
  top: Record<string, string>;
  /** `[renewalparams]`. */
  params: Record<string, string>;
  /** `[[webroot_map]]`: name → webroot directory. */
  webrootMap: Record<string, string>;
}

/** Why a line could not be read, with its number, for the report. */
export class RenewalConfSyntaxError extends Error {}

/** Parses the text of a renewal conf; throws {@link RenewalConfSyntaxError} naming the line. */
export function parseRenewalConf(text: string): RenewalConf {
  const conf: RenewalConf = { top: {}, params: {}, webrootMap: {} };
  let section: Record<string, string> | undefined = conf.top;
  for (const [index, raw] of text.split(/\r?\n/).entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const header = /^(\[+)\s*([^\]]+?)\s*(\]+)$/.exec(line);
    if (header) {
      const [, open = '', name = ''] = header;
      if (open.length === 1) section = name === 'renewalparams' ? conf.params : undefined;
      else section = name === 'webroot_map' ? conf.webrootMap : undefined;
      continue;
    }
    const eq = line.indexOf('=');
    if (eq <= 0) throw new RenewalConfSyntaxError(`line ${index + 1} is neither "key = value" nor a [section]`);
    if (section === undefined) continue; // a section certbot does not write: ignored
    section[line.slice(0, eq).trim()] = unquote(line.slice(eq + 1).trim());
  }
  return conf;
}

/** A ConfigObj list value (`a, b,` — a trailing comma makes a one-item list) as its items. */
export function listValue(value: string | undefined): string[] {
  if (value === undefined) return [];
  return value
    .split(',')
    .map((item) => unquote(item.trim()))
    .filter((item) => item !== '');
}

/** ConfigObj booleans: True/False, yes/no, on/off, 1/0. */
export function boolValue(value: string | undefined): boolean | undefined {
  if (value === undefined) return undefined;
  if (/^(true|yes|on|1)$/i.test(value)) return true;
  if (/^(false|no|off|0)$/i.test(value)) return false;
  return undefined;
}

function unquote(value: string): string {
  const m = /^(["'])(.*)\1$/.exec(value);
  return m ? (m[2] ?? '') : value;
}
