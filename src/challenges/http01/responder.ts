/**
 * The http-01 responder: the pure request → response logic that answers
 * `GET /.well-known/acme-challenge/<token>` (RFC 8555 §8.3) from a {@link ChallengeTokenStore}.
 * Framework-free: adapters in `middleware/` turn a server's request into {@link ResponderRequest}.
 *
 * It is deliberately dumb (DESIGN.md §6.4; certmagic `httphandlers.go`): the raw path must be
 * exactly the prefix plus a token that matches {@link TOKEN_PATTERN}, with nothing decoded or
 * normalised first. Percent-encodings, `..`, extra or trailing slashes, backslashes, absolute-form
 * targets and anything else answer 404. The store is looked up by the token alone and adds its own
 * prefix, so no request can address any other key.
 *
 * Choices:
 * - Query strings and fragments are rejected (404), not ignored: RFC 8555 §8.3 has the validator
 *   request the bare path, so `?` or `#` only ever comes from someone else.
 * - A method other than GET or HEAD under the prefix answers 405 with `Allow: GET, HEAD`; HEAD gets
 *   the GET headers (with its `Content-Length`) and no body.
 * - A failing store answers 503 with a constant body (the CA retries from other vantage points);
 *   the failure is logged without the key authorization.
 * - A value stored for a token that is not that token's key authorization (a broken writer, a
 *   wrong prefix shared with another app) answers 404 like an absent token, and is logged once per
 *   token (a warning naming the token and what is wrong, never the value), so an operator can tell
 *   a broken store from a wrong token; a flood of requests for it logs nothing more. A key of
 *   another type (a Redis hash at the token's key: `ERR_TOKEN_STORE_VALUE`) is answered the same
 *   way, not as a failing store.
 * - Token shape: {@link TOKEN_PATTERN}, 16 to 256 base64url characters, the same rule the solver
 *   applies before it stores a token. Issue 7 sketched 1 to 128; the responder answers exactly what
 *   a solver can have stored, so a shorter path can never be a hit (404 without asking the store)
 *   and a CA's longer token (RFC 8555 sets no maximum) still validates. Every miss by shape is
 *   decided before the store is touched; only a well-formed token costs one lookup.
 * - Stateless mode (RFC 8555 §8.3 permits it): with `thumbprint` instead of `store`, every
 *   well-formed token answers `<token>.<thumbprint>` and nothing is looked up at all.
 */
import type { Logger } from '../../logger.js';
import { CertpilotError } from '../../errors.js';
import type { ChallengeTokenStore } from './challenge-token-store.js';
import { TOKEN_PATTERN, isHealthCheckedStore } from './challenge-token-store.js';

/** The path prefix under which the CA fetches http-01 answers (RFC 8555 §8.3). */
export const CHALLENGE_PATH_PREFIX = '/.well-known/acme-challenge/';

/** The constant body of every 404. */
export const NOT_FOUND_BODY = 'Not Found\n';

const CHALLENGE_DIR = CHALLENGE_PATH_PREFIX.slice(0, -1);
const METHOD_NOT_ALLOWED_BODY = 'Method Not Allowed\n';
const UNAVAILABLE_BODY = 'Service Unavailable\n';

/** One incoming request, as the responder needs it. */
export interface ResponderRequest {
  /** The HTTP method, e.g. `GET`. */
  method: string;
  /** The raw request target as received (path and query), not decoded or normalised. */
  path: string;
  /** The `Host` header, if any. */
  host?: string;
}

/** The response to send. */
export interface ResponderResponse {
  status: number;
  headers: Record<string, string>;
  /** The body; empty for HEAD. */
  body: string;
}

/** Options for {@link createChallengeResponder}: exactly one of `store` and `thumbprint`. */
export interface ChallengeResponderOptions {
  /** Where the key authorizations are. */
  store?: ChallengeTokenStore;
  /**
   * Stateless mode: the ACME account's JWK thumbprint (RFC 7638, base64url). Every well-formed token
   * is answered `<token>.<thumbprint>`, so no store is needed; see docs/http01-many-pods.md.
   */
  thumbprint?: string;
  /**
   * When set, only these hosts are answered (others get 404). Case-insensitive, port and a trailing
   * dot ignored; `*.example.com` matches any name below `example.com` (not `example.com` itself).
   */
  allowedHosts?: string[];
  /** Receives a warning when the store fails or holds a malformed value (once per token); nothing else above debug. */
  logger?: Logger;
}

/** Answers http-01 validation requests. */
export interface ChallengeResponder {
  /** Answers one request; never rejects. */
  handle(request: ResponderRequest): Promise<ResponderResponse>;
  /** True when `path` is under the challenge prefix, i.e. this responder owns the answer (even a 404). */
  matches(path: string): boolean;
  /** Resolves when the store answers (`check()` of a {@link HealthCheckedStore}); stateless: at once. */
  healthy(): Promise<boolean>;
}

/** Creates a {@link ChallengeResponder} over `options.store`. */
export function createChallengeResponder(options: ChallengeResponderOptions): ChallengeResponder {
  const { store, logger, thumbprint } = options;
  if ((store === undefined) === (thumbprint === undefined)) {
    throw new CertpilotError('ERR_INTERNAL', 'http-01 responder: cannot start: give exactly one of store and thumbprint');
  }
  if (thumbprint !== undefined && !THUMBPRINT.test(thumbprint)) {
    throw new CertpilotError('ERR_CLI_USAGE', 'http-01 responder: cannot start: the thumbprint is not 16-128 base64url characters (RFC 7638)', {
      hint: 'Copy the thumbprint printed by `certpilot account show`.',
    });
  }
  const hostAllowed = options.allowedHosts === undefined ? undefined : compileHostCheck(options.allowedHosts);
  /** Tokens whose malformed value was logged (bounded: the oldest is forgotten first). */
  const reported = new Set<string>();
  const reportOnce = (token: string, warn: () => void): void => {
    if (reported.has(token)) return;
    if (reported.size >= MAX_REPORTED) reported.delete(reported.values().next().value as string);
    reported.add(token);
    warn();
  };

  const matches = (path: string): boolean => {
    if (!path.startsWith(CHALLENGE_DIR)) return false;
    const next = path.charAt(CHALLENGE_DIR.length);
    return next === '' || next === '/' || next === '?' || next === '#';
  };

  const handle = async (request: ResponderRequest): Promise<ResponderResponse> => {
    const head = request.method === 'HEAD';
    if (!matches(request.path)) return notFound(head);
    if (request.method !== 'GET' && !head) {
      return respond(405, METHOD_NOT_ALLOWED_BODY, false, { allow: 'GET, HEAD' });
    }
    // Everything after the prefix must be the token itself: TOKEN_PATTERN admits no '%', '/', '.',
    // '?', '#' or '\', so encodings, traversal, queries and extra segments all fall out here.
    const token = request.path.slice(CHALLENGE_PATH_PREFIX.length);
    if (!request.path.startsWith(CHALLENGE_PATH_PREFIX) || !TOKEN_PATTERN.test(token)) return notFound(head);
    if (hostAllowed !== undefined && !hostAllowed(request.host)) {
      logger?.debug({ host: request.host }, 'http-01 responder: host not allowed');
      return notFound(head);
    }
    if (thumbprint !== undefined) return respond(200, `${token}.${thumbprint}`, head);
    let keyAuthorization: string | undefined;
    try {
      keyAuthorization = await (store as ChallengeTokenStore).get(token);
    } catch (err) {
      // A key of the wrong type (a Redis hash at the token's key): the store works, the value is
      // not ours; answered and warned like a malformed value.
      if (err instanceof CertpilotError && err.code === 'ERR_TOKEN_STORE_VALUE') {
        reportOnce(token, () => logger?.warn({ challengeToken: token, problem: 'the key holds another type than a string value (WRONGTYPE)' }, 'http-01 responder: the token store holds something for this token that is not its key authorization; answering 404 (logged once per token)'));
        return notFound(head);
      }
      logger?.warn({ err: describeError(err) }, 'http-01 responder: token store failed');
      return respond(503, UNAVAILABLE_BODY, head, { 'retry-after': '1' });
    }
    // Serve only what has the shape of this token's key authorization (RFC 8555 §8.1:
    // token '.' base64url thumbprint): a shared store holding anything else under that key never
    // reveals it.
    if (typeof keyAuthorization !== 'string') return notFound(head);
    if (!isKeyAuthorizationFor(token, keyAuthorization)) {
      const value = keyAuthorization;
      reportOnce(token, () =>
        logger?.warn(
          { challengeToken: token, problem: malformation(token, value), length: value.length },
          'http-01 responder: the token store holds a value for this token that is not its key authorization (<token>.<account thumbprint>); answering 404 (logged once per token)',
        ),
      );
      return notFound(head);
    }
    logger?.debug('http-01 responder: served a key authorization');
    return respond(200, keyAuthorization, head);
  };

  const healthy = async (): Promise<boolean> => {
    if (store === undefined || !isHealthCheckedStore(store)) return true;
    try {
      await store.check();
      return true;
    } catch (err) {
      logger?.warn({ err: describeError(err) }, 'http-01 responder: token store health check failed');
      return false;
    }
  };

  return { handle, matches, healthy };
}

function notFound(head: boolean): ResponderResponse {
  return respond(404, NOT_FOUND_BODY, head);
}

function respond(status: number, body: string, head: boolean, extra: Record<string, string> = {}): ResponderResponse {
  return {
    status,
    headers: {
      'content-type': 'text/plain',
      'content-length': String(Buffer.byteLength(body, 'utf8')),
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
      ...extra,
    },
    body: head ? '' : body,
  };
}

/** Only the error's kind and message: a store error never carries the value it failed to read. */
function describeError(err: unknown): { name: string; message: string } {
  if (err instanceof Error) return { name: err.name, message: err.message };
  return { name: typeof err, message: String(err) };
}

/** Normalises a Host header or pattern: lower case, no port, no trailing dot, IPv6 brackets removed. */
function normalizeHost(raw: string): string {
  let host = raw.trim().toLowerCase();
  if (host.startsWith('[')) {
    const end = host.indexOf(']');
    host = end === -1 ? host : host.slice(1, end);
  } else {
    // Only a single colon is a port separator; a bare IPv6 address has several.
    const colon = host.indexOf(':');
    if (colon !== -1 && colon === host.lastIndexOf(':')) host = host.slice(0, colon);
  }
  return host.endsWith('.') ? host.slice(0, -1) : host;
}

function compileHostCheck(patterns: string[]): (host: string | undefined) => boolean {
  const exact = new Set<string>();
  const suffixes: string[] = [];
  for (const pattern of patterns) {
    const normalized = normalizeHost(pattern);
    if (normalized.startsWith('*.')) suffixes.push(normalized.slice(1));
    else if (normalized !== '') exact.add(normalized);
  }
  return (raw) => {
    if (raw === undefined) return false;
    const host = normalizeHost(raw);
    if (host === '') return false;
    if (exact.has(host)) return true;
    return suffixes.some((suffix) => host.length > suffix.length && host.endsWith(suffix));
  };
}

const THUMBPRINT = /^[A-Za-z0-9_-]{16,128}$/;
/** Tokens remembered as reported by one responder. */
const MAX_REPORTED = 1024;

/** What is wrong with `value` as `token`'s key authorization, in words that never quote it. */
function malformation(token: string, value: string): string {
  if (value === '') return 'the stored value is empty';
  if (!value.startsWith(`${token}.`)) {
    return value.trim().startsWith(token)
      ? 'the stored value has the token but not "." and the thumbprint right after it (white space or another separator?)'
      : 'the stored value does not start with this token and "." (written for another token, or not a key authorization at all)';
  }
  const rest = value.slice(token.length + 1);
  if (/\s/.test(rest) && THUMBPRINT.test(rest.trim())) return 'the thumbprint after "<token>." has white space around it (a trailing newline?)';
  return 'the part after "<token>." is not a base64url account thumbprint of 16 to 128 characters';
}

/** True when `value` is `token` '.' base64url(thumbprint), i.e. a key authorization of that token. */
export function isKeyAuthorizationFor(token: string, value: string): boolean {
  return value.startsWith(`${token}.`) && THUMBPRINT.test(value.slice(token.length + 1));
}
