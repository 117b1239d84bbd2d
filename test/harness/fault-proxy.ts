/**
 * An HTTPS-terminating reverse proxy in front of a Pebble (or any ACME server) that counts every
 * request and injects faults by rule: a 429 with Retry-After, a 503, a dropped connection.
 *
 * The client talks only to the proxy. The Host header is passed through untouched, so Pebble
 * builds its URLs (directory, Location, Link, the JWS `url` it expects) on the proxy's origin;
 * any upstream origin left in a body or in Location/Link headers is rewritten to the proxy's
 * origin as well, so a client never leaves the proxy.
 *
 * Every request is logged with what the CA received and answered: the decoded JWS of a POST
 * (protected header and payload, RFC 8555 §6.2), the problem type of an error answer, and the
 * `Replay-Nonce` handed out, so tests can assert on the wire instead of on certpilot's own records.
 */
import { createServer, type Server } from 'node:https';
import { Agent, request as httpsRequest } from 'node:https';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { TestContext } from 'node:test';
import { readTestPki } from './paths.js';
import { startPebble, type PebbleInstance, type PebbleOptions } from './pebble.js';

/** What a fault rule's `match` sees of a request. */
export interface FaultRequest {
  method: string;
  /** Path and query as sent by the client, e.g. `/order-plz`. */
  path: string;
  /** `METHOD /first-segment`, the key of {@link RequestCounts.byPath}, e.g. `POST /finalize-order`. */
  kind: string;
  headers: IncomingHttpHeaders;
  /** The request body (a JWS for ACME POSTs). */
  body: Buffer;
}

/** One fault to inject into the next matching request(s). */
export interface FaultRule {
  /** Which requests the rule hits. */
  match: (req: FaultRequest) => boolean;
  /** HTTP status to answer with (429, 503, ...); ignored when `resetConnection` is set. */
  status: number;
  /** Problem document body (RFC 7807); defaults to rateLimited for 429, serverInternal otherwise. */
  problem?: { type: string; detail?: string; [key: string]: unknown };
  /** Retry-After header value: seconds (`"3"`) or an HTTP date. */
  retryAfter?: string;
  /** Extra response headers. */
  headers?: Record<string, string>;
  /** Destroy the connection instead of answering (a network error for the client). */
  resetConnection?: boolean;
  /** Never answer (until the proxy stops): a CA that hangs, to interrupt a client mid-request. */
  hang?: boolean;
  /** How many matching requests the rule hits (default 1). */
  count?: number;
}

/** One proxied request, in arrival order. */
export interface RequestLogEntry {
  method: string;
  path: string;
  kind: string;
  /** Status the client got (0 when the connection was reset or the upstream failed). */
  status: number;
  /** True when a fault rule answered instead of the upstream. */
  injected: boolean;
  /** The request's flattened JWS, decoded (POSTs only; `payload` is undefined for POST-as-GET). */
  jws?: DecodedJws;
  /** The `type` of the problem document the client got, e.g. `urn:ietf:params:acme:error:badNonce`. */
  problem?: string;
  /** The `Replay-Nonce` header of the answer. */
  replayNonce?: string;
  /** The `Location` header of the answer (as the client saw it): a new order's or account's URL. */
  location?: string;
}

/**
 * The orders the CA created, by their distinct URLs (the `Location` of each successful newOrder).
 * Counting `POST /order-plz` requests instead counts a request again whenever the CA rejected its
 * nonce (Pebble does 5 % by default) and the client retried it; the URLs count each order once.
 */
export function orderUrls(log: readonly RequestLogEntry[]): string[] {
  return [...new Set(log.filter((r) => r.kind === 'POST /order-plz' && r.status === 201 && r.location).map((r) => r.location as string))];
}

/**
 * {@link orderUrls} by the first identifier each newOrder asked for (RFC 8555 §7.4: the payload's
 * `identifiers`), so a test can say "one order per certificate".
 */
export function orderUrlsByIdentifier(log: readonly RequestLogEntry[]): Record<string, string[]> {
  const by: Record<string, Set<string>> = {};
  for (const r of log) {
    if (r.kind !== 'POST /order-plz' || r.status !== 201 || !r.location) continue;
    const first = (r.jws?.payload as { identifiers?: { value?: string }[] } | undefined)?.identifiers?.[0]?.value ?? '?';
    (by[first] ??= new Set()).add(r.location);
  }
  return Object.fromEntries(Object.entries(by).map(([k, v]) => [k, [...v]]));
}

/** A flattened JWS (RFC 7515 §7.2.2) as the CA received it, decoded. */
export interface DecodedJws {
  /** The protected header: `alg`, `nonce`, `url`, and `jwk` or `kid`. */
  protected: { nonce?: string; url?: string; kid?: string; [key: string]: unknown };
  /** The payload; undefined for an empty payload (POST-as-GET, RFC 8555 §6.3). */
  payload?: unknown;
}

/** Decodes the flattened JWS of an ACME POST body; undefined when the body is not one. */
export function decodeJws(body: Buffer): DecodedJws | undefined {
  try {
    const jws = JSON.parse(body.toString('utf8')) as { protected?: string; payload?: string };
    if (typeof jws.protected !== 'string' || typeof jws.payload !== 'string') return undefined;
    const decode = (part: string): unknown => JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    return { protected: decode(jws.protected) as DecodedJws['protected'], ...(jws.payload === '' ? {} : { payload: decode(jws.payload) }) };
  } catch {
    return undefined;
  }
}

function problemType(contentType: string, body: Buffer): string | undefined {
  if (!contentType.includes('problem+json')) return undefined;
  try {
    const type = (JSON.parse(body.toString('utf8')) as { type?: unknown }).type;
    return typeof type === 'string' ? type : undefined;
  } catch {
    return undefined;
  }
}

/** Request counters; the object is live (updated as requests arrive). */
export interface RequestCounts {
  /** Every request the proxy received, injected faults included. */
  total: number;
  /** Counts per `METHOD /first-path-segment`, e.g. `HEAD /nonce-plz`, `POST /order-plz`. */
  byPath: Record<string, number>;
  /** Requests answered by a fault rule. */
  injected: number;
  /** Every request in order. */
  log: RequestLogEntry[];
}

/** Where the proxy forwards to: anything with a directory URL and the CA of its HTTPS listener. */
export interface FaultProxyTarget {
  directoryUrl: string;
  caCertificates: readonly string[];
}

/** Options for {@link startFaultProxy}. */
export interface FaultProxyOptions {
  /** Port to listen on (default: a free one). */
  port?: number;
}

/** A running fault proxy. */
export interface FaultProxy {
  /** The upstream's directory URL on the proxy's origin: point the client here. */
  readonly directoryUrl: string;
  /** `https://127.0.0.1:<port>`. */
  readonly origin: string;
  readonly port: number;
  /** PEMs to trust for the proxy's listener (the test CA). */
  readonly caCertificates: string[];
  /** Live request counters. */
  readonly requests: RequestCounts;
  /** Injects a fault into the next `rule.count` (default 1) requests that match. */
  failNext(rule: FaultRule): void;
  /** Number of rule hits still pending across all rules. */
  pendingFaults(): number;
  /** Zeroes the counters (e.g. between two certificates of a benchmark). */
  resetCounts(): void;
  /** Stops listening, drops connections; idempotent. */
  stop(): Promise<void>;
}

// Hop-by-hop headers (RFC 9110 §7.6.1) plus content-length, which is recomputed after rewriting.
const HOP_BY_HOP = new Set([
  'connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'content-length',
]);

/** `METHOD /first-segment` of a request path. */
export function requestKind(method: string, path: string): string {
  const segment = path.split('?')[0]?.split('/').filter(Boolean)[0] ?? '';
  return `${method} /${segment}`;
}

function defaultProblem(status: number): { type: string; detail: string } {
  return status === 429
    ? { type: 'urn:ietf:params:acme:error:rateLimited', detail: 'fault proxy: injected rate limit' }
    : { type: 'urn:ietf:params:acme:error:serverInternal', detail: `fault proxy: injected HTTP ${status}` };
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** Starts a proxy on 127.0.0.1 in front of `target` (a PebbleInstance or any {@link FaultProxyTarget}). */
export async function startFaultProxy(target: FaultProxyTarget, options: FaultProxyOptions = {}): Promise<FaultProxy> {
  const pki = readTestPki();
  const upstream = new URL(target.directoryUrl);
  const upstreamOrigin = upstream.origin;
  const agent = new Agent({ keepAlive: true, ca: [...target.caCertificates] });
  const rules: { rule: FaultRule; remaining: number }[] = [];
  const requests: RequestCounts = { total: 0, byPath: {}, injected: 0, log: [] };
  const sockets = new Set<Socket>();
  let origin = '';

  const rewrite = (text: string): string => text.split(upstreamOrigin).join(origin);

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? 'GET';
    const path = req.url ?? '/';
    const kind = requestKind(method, path);
    const body = await readBody(req);
    requests.total++;
    requests.byPath[kind] = (requests.byPath[kind] ?? 0) + 1;
    const entry: RequestLogEntry = { method, path, kind, status: 0, injected: false };
    const jws = method === 'POST' ? decodeJws(body) : undefined;
    if (jws) entry.jws = jws;
    requests.log.push(entry);

    const hit = rules.find((r) => r.remaining > 0 && r.rule.match({ method, path, kind, headers: req.headers, body }));
    if (hit !== undefined) {
      hit.remaining--;
      requests.injected++;
      entry.injected = true;
      if (hit.rule.resetConnection === true) {
        req.socket.destroy();
        return;
      }
      if (hit.rule.hang === true) return; // stop() destroys the socket
      const problem = JSON.stringify({ ...defaultProblem(hit.rule.status), ...hit.rule.problem, status: hit.rule.status });
      res.writeHead(hit.rule.status, {
        'Content-Type': 'application/problem+json',
        'Content-Length': Buffer.byteLength(problem),
        'Cache-Control': 'no-store',
        ...(hit.rule.retryAfter !== undefined ? { 'Retry-After': hit.rule.retryAfter } : {}),
        ...hit.rule.headers,
      });
      entry.status = hit.rule.status;
      entry.problem = problemType('application/problem+json', Buffer.from(problem));
      res.end(problem);
      return;
    }

    const headers: string[] = [];
    for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
      const name = req.rawHeaders[i] ?? '';
      if (!HOP_BY_HOP.has(name.toLowerCase())) headers.push(name, req.rawHeaders[i + 1] ?? '');
    }
    if (body.length > 0 || method === 'POST') headers.push('Content-Length', String(body.length));

    const upstreamRes = await new Promise<IncomingMessage>((resolve, reject) => {
      const out = httpsRequest(
        { host: upstream.hostname, port: upstream.port, method, path, headers, agent },
        resolve,
      );
      out.on('error', reject);
      out.end(body);
    });
    const upstreamBody = await readBody(upstreamRes);
    const contentType = String(upstreamRes.headers['content-type'] ?? '');
    const outBody = /json|text/.test(contentType) ? Buffer.from(rewrite(upstreamBody.toString('utf8'))) : upstreamBody;
    const outHeaders: string[] = [];
    for (let i = 0; i + 1 < upstreamRes.rawHeaders.length; i += 2) {
      const name = upstreamRes.rawHeaders[i] ?? '';
      const value = upstreamRes.rawHeaders[i + 1] ?? '';
      const lower = name.toLowerCase();
      if (HOP_BY_HOP.has(lower)) continue;
      outHeaders.push(name, lower === 'location' || lower === 'link' ? rewrite(value) : value);
    }
    outHeaders.push('Content-Length', String(outBody.length));
    entry.status = upstreamRes.statusCode ?? 0;
    const problem = problemType(contentType, upstreamBody);
    if (problem) entry.problem = problem;
    const replayNonce = upstreamRes.headers['replay-nonce'];
    if (typeof replayNonce === 'string') entry.replayNonce = replayNonce;
    const location = upstreamRes.headers.location;
    if (typeof location === 'string') entry.location = rewrite(location);
    res.writeHead(entry.status, upstreamRes.statusMessage, outHeaders);
    res.end(outBody);
  }

  const server: Server = createServer({ cert: pki.certPem, key: pki.keyPem }, (req, res) => {
    handle(req, res).catch((error: unknown) => {
      const message = error instanceof Error ? error.message : String(error);
      if (!res.headersSent) {
        const problem = JSON.stringify({ type: 'urn:ietf:params:acme:error:serverInternal', detail: `fault proxy: upstream failed: ${message}`, status: 502 });
        res.writeHead(502, { 'Content-Type': 'application/problem+json', 'Content-Length': Buffer.byteLength(problem) });
        res.end(problem);
      } else {
        res.destroy();
      }
    });
  });
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: options.port ?? 0 }, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  origin = `https://127.0.0.1:${port}`;
  let stopped: Promise<void> | undefined;

  return {
    directoryUrl: `${origin}${upstream.pathname}${upstream.search}`,
    origin,
    port,
    caCertificates: [pki.caPem],
    requests,
    failNext(rule) {
      rules.push({ rule, remaining: rule.count ?? 1 });
    },
    pendingFaults: () => rules.reduce((sum, r) => sum + r.remaining, 0),
    resetCounts() {
      requests.total = 0;
      requests.injected = 0;
      for (const key of Object.keys(requests.byPath)) delete requests.byPath[key];
      requests.log.length = 0;
    },
    stop() {
      stopped ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
        agent.destroy();
      });
      return stopped;
    },
  };
}

/** What {@link nonceRejections} found in a request log. */
export interface NonceRejections {
  /** Signed requests the CA answered with `badNonce` (RFC 8555 §6.5). */
  rejected: RequestLogEntry[];
  /** Those the client sent again to the same URL with the nonce that the rejection carried. */
  retried: RequestLogEntry[];
  /** Signed requests in the log (the denominator). */
  signed: number;
}

/** Finds the CA's `badNonce` answers in `log` and the client's retries of each (same URL, the rejection's fresh nonce). */
export function nonceRejections(log: readonly RequestLogEntry[]): NonceRejections {
  const rejected = log.filter((e) => e.jws && e.problem === 'urn:ietf:params:acme:error:badNonce');
  const retried = rejected.filter((e) => {
    const at = log.indexOf(e);
    return log.slice(at + 1).some((later) => later.jws?.protected.url === e.jws?.protected.url && e.replayNonce !== undefined && later.jws?.protected.nonce === e.replayNonce);
  });
  return { rejected, retried, signed: log.filter((e) => e.jws).length };
}

/**
 * A Pebble started with `options` and a fault proxy in front of it, both stopped after the test:
 * the set-up of every test that counts or breaks what the client sends the CA.
 */
export async function startProxiedPebble(t: TestContext, options: PebbleOptions = {}, proxyOptions: FaultProxyOptions = {}): Promise<{ pebble: PebbleInstance; proxy: FaultProxy }> {
  const pebble = await startPebble(options);
  t.after(() => pebble.stop());
  const proxy = await startFaultProxy(pebble, proxyOptions);
  t.after(() => proxy.stop());
  return { pebble, proxy };
}
