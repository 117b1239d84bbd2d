/**
 * The one list of secret-bearing field names and the redaction every output path uses: log lines
 * (the logger's formatter), `config check --json`, printed errors, and notifications (the webhook
 * and e-mail notifiers pass each lifecycle event through {@link redactSecrets} before sending).
 *
 * Rules, at any depth and in any case (`Authorization`, `authorization`):
 * - a field whose name is in {@link SECRET_FIELD_NAMES} has its value replaced by `[redacted]`;
 * - every value of a hook's `env` map (any field named `env` holding an object), and the `data` and
 *   `stringData` of a Kubernetes Secret (an object with `kind: Secret` or with `metadata`);
 * - any string holding a PEM private key or a URL with a password, whatever its field name, and in
 *   free text (a hook's output, an error): an `Authorization:` header's credentials, a credential
 *   query or form parameter (`?token=…`, `&password=…`), and curl's `-u user:password`.
 * Names ending in `File`, `Env` or `Id` name where a secret is, not the secret, and are kept.
 *
 * `redact.test.ts` walks the config schema (every plug-in's zod schema) and the interfaces of the
 * source, so a new field whose name says "secret" cannot be added without being covered here.
 */

/** The text a redacted value becomes. */
export const REDACTED = '[redacted]';

/** Lower-case field names whose values are secrets wherever they appear. */
export const SECRET_FIELD_NAMES: ReadonlySet<string> = new Set([
  // private keys (StoredCertificate, CertificateBundle, pending orders, accounts)
  'privatekey', 'privatekeypem', 'nextprivatekeypem', 'privkey', 'accountkey', 'accountkeypem', 'jwk', 'd',
  // shared secrets
  'secret', 'tsigsecret', 'hmackey', 'password', 'sentinelpassword', 'secretaccesskey', 'sessiontoken', 'accesstoken', 'refreshtoken', 'bearertoken', 'apikey', 'clientsecret', 'token',
  // HTTP credentials
  'authorization', 'proxy-authorization', 'cookie', 'set-cookie', 'x-amz-security-token',
]);

/** Field names that hold a map whose every value may be a secret (a hook's `env:`). */
export const SECRET_MAP_FIELD_NAMES: ReadonlySet<string> = new Set(['env']);

const PRIVATE_KEY_PEM = /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|$)/g;

/** True when a field of this name holds a secret (case-insensitive; `…File`/`…Env`/`…Id` names are references, kept). */
export function isSecretFieldName(name: string): boolean {
  return SECRET_FIELD_NAMES.has(name.toLowerCase());
}

const URL_PASSWORD = /\b([a-z][a-z0-9+.-]*:\/\/[^\s/:@]*:)[^\s/@]+@/gi;
/** `Authorization: Bearer x`, `proxy-authorization: Basic x` (curl -v, a hook echoing its request). */
const AUTH_HEADER = /\b((?:proxy-)?authorization:[ \t]*)(?:(bearer|basic|token|digest|negotiate|aws4-hmac-sha256)[ \t]+)?[^\s,;"']+/gi;
/** A credential in a query string or a form body: `?token=x`, `&client_secret=x`, `password=x`. */
const CREDENTIAL_PARAMETER = /((?:^|[?&;\s"'-])(?:access_token|refresh_token|id_token|token|password|passwd|pwd|secret|client_secret|api_key|apikey|api-key|auth|x-amz-signature|x-amz-security-token|signature|sig)=)[^&\s"';]+/gi;
/** An environment assignment of a credential in a command line: `PGPASSWORD=x psql`, `GITHUB_TOKEN=x`. */
const ENV_CREDENTIAL = /\b([A-Z][A-Z0-9_]*(?:PASSWORD|PASSWD|TOKEN|SECRET|API_?KEY)[A-Z0-9_]*=)[^\s"';&]+/g;
/** curl's `-u user:password` / `--user user:password` (also `--proxy-user`). */
const USER_OPTION = /((?:^|\s)(?:-u|--user|--proxy-user|-U)[ \t]*=?[ \t]*['"]?[^\s:'"]*:)[^\s'"]+/g;
/** Whether a string can hold anything {@link redactText} replaces (a cheap test before the replaces). */
const MAY_HOLD_SECRET = /PRIVATE KEY-----|@|=|uthorization|-u|--user|-U/;

/**
 * `text` with every PEM private key, every password in a URL (`redis://:pw@host`), an
 * `Authorization` header's credentials, credential parameters (`?token=…`) and curl's `-u user:pw`
 * password replaced.
 */
export function redactText(text: string): string {
  if (!MAY_HOLD_SECRET.test(text)) return text;
  return text
    .replace(PRIVATE_KEY_PEM, '[private key redacted]')
    .replace(URL_PASSWORD, `$1${REDACTED}@`)
    .replace(AUTH_HEADER, (_m, head: string, scheme: string | undefined) => `${head}${scheme ? `${scheme} ` : ''}${REDACTED}`)
    .replace(CREDENTIAL_PARAMETER, `$1${REDACTED}`)
    .replace(ENV_CREDENTIAL, `$1${REDACTED}`)
    .replace(USER_OPTION, `$1${REDACTED}`);
}

/** A copy of `value` with every secret replaced by {@link REDACTED} (see the module comment); cycles become `[circular]`. */
export function redactSecrets<T>(value: T): T {
  return walk(value, new WeakSet(), 0) as T;
}

function walk(value: unknown, seen: WeakSet<object>, depth: number): unknown {
  if (typeof value === 'string') return redactText(value);
  if (value === null || typeof value !== 'object') return value;
  if (depth > 32) return '[too deep]';
  if (seen.has(value)) return '[circular]';
  seen.add(value);
  try {
    if (Array.isArray(value)) return value.map((v) => walk(v, seen, depth + 1));
    if (Buffer.isBuffer(value) || value instanceof Uint8Array) return value;
    if (value instanceof Date) return value;
    const source = value as Record<string, unknown>;
    const out: Record<string, unknown> = {};
    if (value instanceof Error) {
      // An Error's own fields are not enumerable: keep what a log line shows, redacted.
      out.type = value.name;
      out.message = redactText(value.message);
      if (value.stack !== undefined) out.stack = redactText(value.stack);
      if ((value as { code?: unknown }).code !== undefined) out.code = (value as { code?: unknown }).code;
    }
    const secretObject = source.kind === 'Secret' || (typeof source.metadata === 'object' && source.metadata !== null && ('data' in source || 'stringData' in source));
    for (const [key, v] of Object.entries(source)) {
      const lower = key.toLowerCase();
      if (SECRET_FIELD_NAMES.has(lower) && v !== undefined && v !== null && v !== '') out[key] = REDACTED;
      else if (SECRET_MAP_FIELD_NAMES.has(lower) && typeof v === 'object' && v !== null && !Array.isArray(v)) out[key] = Object.fromEntries(Object.keys(v).map((k) => [k, REDACTED]));
      else if (secretObject && (lower === 'data' || lower === 'stringdata') && typeof v === 'object' && v !== null) out[key] = Object.fromEntries(Object.keys(v).map((k) => [k, REDACTED]));
      else out[key] = walk(v, seen, depth + 1);
    }
    return out;
  } finally {
    seen.delete(value);
  }
}
