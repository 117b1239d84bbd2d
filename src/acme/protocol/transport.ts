/**
 * HTTP for ACME (RFC 8555 §6): `node:http`/`node:https` with keep-alive agents (one TLS handshake
 * per run), extra trusted roots for private CAs, signed POST and POST-as-GET (§6.3) with a nonce
 * pool (§6.5), `badNonce` retried with the nonce the error carried (§6.5), and problem documents
 * (§6.7) turned into typed errors.
 *
 * Rate limits are never slept through: a `rateLimited` problem (§6.7) or a 503 with Retry-After
 * throws {@link RateLimitedError} and the caller records `retryAfter`.
 *
 * A CA that does not answer is not waited for again and again: a request with no answer within
 * `timeoutMs` fails with `ERR_ACME_NO_ANSWER`; on a fresh connection that marks the CA's origin in
 * the run's {@link CaReachability}, and every later request to it (of any client sharing it) fails
 * at once. A read is sent once more only when its connection was a reused keep-alive one (the
 * server may have dropped it while idle); on a fresh connection, silence is the CA's answer.
 *
 * Global `fetch` is not used because it cannot take per-request CA roots.
 */
import { STRICT_TLS } from '../../strict-tls.js';
import * as http from 'node:http';
import * as https from 'node:https';
import { createSecureContext, rootCertificates, type SecureContext } from 'node:tls';
import type { IncomingHttpHeaders } from 'node:http';
import { CertpilotError } from '../../errors.js';
import { VERSION } from '../../version.js';
import { monotonicMs, systemClock } from '../../clock.js';
import type { Clock } from '../../clock.js';
import { silentLogger } from '../../logger.js';
import type { Logger } from '../../logger.js';
import { NoncePool } from './nonce-pool.js';
import { signJws } from './jws.js';
import type { JwsSigner } from './jws.js';
import { AcmeProblemError, RateLimitedError, isProblemDocument, parseRetryAfter, problemToError } from './problem.js';
import { CaReachability } from './ca-reachability.js';

/** A raw HTTP response. */
export interface AcmeResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  /** The request URL. */
  url: string;
}

/** Request counters, for benchmarks ("no more ACME requests per certificate than lego"). */
export interface TransportStats {
  /** Every HTTP request sent, retries included. */
  requests: number;
  /** Requests per endpoint label (`directory`, `newNonce`, `newOrder`, `authorization`, …). */
  byEndpoint: Record<string, number>;
}

/** One ACME request as metrics see it: endpoint label, method, HTTP status (undefined: no answer), duration. */
export interface AcmeRequestRecord {
  endpoint: string;
  method: string;
  status: number | undefined;
  durationMs: number;
}

/**
 * Optional: told about every request the transport sends (retries included), after it ends. Passed
 * down from the composition root (metrics); must not throw and must not block.
 */
export interface AcmeRequestObserver {
  observe(record: AcmeRequestRecord): void;
}

/** Options for {@link AcmeTransport}. */
export interface AcmeTransportOptions {
  /** Resolves the newNonce URL (from the directory) when the pool needs a fresh nonce. */
  newNonceUrl: (signal?: AbortSignal) => Promise<string>;
  /** Extra PEM roots trusted in addition to the system roots. */
  caCertificates?: string[];
  /** Defaults to `certpilot/<version>`. */
  userAgent?: string;
  logger?: Logger;
  clock?: Clock;
  /** Attempts of one signed request when the server keeps answering `badNonce`; default 10. */
  maxNonceAttempts?: number;
  /** Socket inactivity timeout per request (connecting included); default 30 s. */
  timeoutMs?: number;
  /** The run's record of CAs that did not answer, shared by every client of the run; default: this transport's own. */
  reachability?: CaReachability | undefined;
  /** Told about each request (metrics). */
  observer?: AcmeRequestObserver | undefined;
}

/** Options of one request. */
export interface RequestOptions {
  /** Endpoint label for stats and messages, e.g. `newOrder`. */
  label: string;
  signal?: AbortSignal;
  /** Accept header; defaults to JSON. */
  accept?: string;
}

const MAX_BODY_BYTES = 16 * 1024 * 1024;

/** The HTTP layer of one ACME client. */
export class AcmeTransport {
  /** Request counters. */
  readonly stats: TransportStats = { requests: 0, byEndpoint: {} };
  /** The nonce pool fed by every response. */
  readonly nonces: NoncePool;
  private readonly httpsAgent: https.Agent;
  private readonly httpAgent: http.Agent;
  private readonly userAgent: string;
  private readonly logger: Logger;
  private readonly clock: Clock;
  private readonly maxNonceAttempts: number;
  private readonly timeoutMs: number;
  private readonly observer: AcmeRequestObserver | undefined;
  private readonly reachability: CaReachability;

  constructor(options: AcmeTransportOptions) {
    const extra = options.caCertificates ?? [];
    // One secure context for every connection: passing `ca` would parse the ~140 system roots
    // again for each new TLS connection (~40 ms each).
    this.httpsAgent = new https.Agent({
      keepAlive: true,
      // Explicit, so NODE_TLS_REJECT_UNAUTHORIZED=0 cannot turn verification of the CA off.
      ...STRICT_TLS,
      ...(extra.length > 0 ? { secureContext: systemRootsPlus(extra) } : {}),
    });
    this.httpAgent = new http.Agent({ keepAlive: true });
    // RFC 8555 §6.1 requires a User-Agent; Pebble 2.10 refuses requests without one.
    this.userAgent = options.userAgent ?? `certpilot/${VERSION}`;
    this.logger = options.logger ?? silentLogger;
    this.clock = options.clock ?? systemClock;
    this.maxNonceAttempts = options.maxNonceAttempts ?? 10;
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.observer = options.observer;
    this.reachability = options.reachability ?? new CaReachability({ clock: this.clock });
    this.nonces = new NoncePool(async (signal) => {
      const url = await options.newNonceUrl(signal);
      const call = { label: 'newNonce', ...(signal ? { signal } : {}) };
      const res = await this.retryingReads(() => this.request('HEAD', url, call, undefined, false), url, call);
      const nonce = res.headers['replay-nonce'];
      if (res.status >= 400 || typeof nonce !== 'string' || nonce === '') {
        throw new CertpilotError('ERR_ACME_BAD_RESPONSE', `acme: newNonce: ${url} answered ${res.status} without a Replay-Nonce header`);
      }
      return nonce;
    });
  }

  /**
   * Sends one request and returns the response whatever its status. Pools the response's
   * Replay-Nonce. Network failures throw `ERR_ACME_NETWORK` (retryable), no answer within the
   * timeout `ERR_ACME_NO_ANSWER` (retryable), and so does a request to an origin that did not answer
   * earlier in the run, at once and unsent; an abort rejects with the signal's reason.
   */
  request(
    method: 'GET' | 'HEAD' | 'POST',
    url: string,
    options: RequestOptions,
    body?: string,
    poolNonce = true,
  ): Promise<AcmeResponse> {
    const signal = options.signal;
    if (signal?.aborted) return Promise.reject(signal.reason as Error);
    let target: URL;
    try {
      target = new URL(url);
    } catch (cause) {
      return Promise.reject(new CertpilotError('ERR_ACME_BAD_RESPONSE', `acme: ${options.label}: invalid URL ${JSON.stringify(url)}`, { cause }));
    }
    try {
      this.reachability.check(url, options.label, method);
    } catch (err) {
      return Promise.reject(err as Error);
    }
    const isHttps = target.protocol === 'https:';
    const headers: Record<string, string | number> = {
      'user-agent': this.userAgent,
      accept: options.accept ?? 'application/json',
    };
    if (body !== undefined) {
      headers['content-type'] = 'application/jose+json';
      headers['content-length'] = Buffer.byteLength(body);
    }
    this.stats.requests += 1;
    this.stats.byEndpoint[options.label] = (this.stats.byEndpoint[options.label] ?? 0) + 1;
    const started = monotonicMs();
    const observe = (status: number | undefined): void => {
      if (!this.observer) return;
      try {
        this.observer.observe({ endpoint: options.label, method, status, durationMs: monotonicMs() - started });
      } catch {
        // metrics never break a request
      }
    };
    return new Promise<AcmeResponse>((resolve, reject) => {
      let timedOut = false;
      // Our own timer rather than the `timeout` option: over TLS that one fired only after twice
      // the time (the agent's socket timeout and the request's each ran once). It runs until the
      // answer's headers come, then again after each chunk of the body (inactivity).
      let timer: NodeJS.Timeout | undefined;
      const arm = (): void => {
        clearTimeout(timer);
        timer = setTimeout(() => {
          timedOut = true;
          req.destroy(new Error(`no answer within ${this.timeoutMs} ms`));
        }, this.timeoutMs);
      };
      const fail = (cause: Error): void => {
        clearTimeout(timer);
        observe(undefined);
        if (signal?.aborted) {
          reject(signal.reason as Error);
          return;
        }
        if (timedOut) {
          const what = `${options.label}: ${method} ${url}: no answer within ${formatMs(this.timeoutMs)}`;
          // A reused keep-alive connection may have been dropped by the server while idle: the read's
          // retry on a fresh one decides. Silence on a fresh connection is the CA's.
          if (!req.reusedSocket) this.reachability.unanswered(url, what);
          reject(new CertpilotError('ERR_ACME_NO_ANSWER', `acme: ${what}`, { cause, retryable: true }));
          return;
        }
        reject(
          new CertpilotError('ERR_ACME_NETWORK', `acme: ${options.label}: ${method} ${url} failed: ${cause.message}`, {
            cause,
            retryable: true,
          }),
        );
      };
      const req = (isHttps ? https : http).request(
        target,
        {
          method,
          headers,
          agent: isHttps ? this.httpsAgent : this.httpAgent,
          ...(signal ? { signal } : {}),
        },
        (res) => {
          arm();
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (chunk: Buffer) => {
            arm();
            size += chunk.length;
            if (size > MAX_BODY_BYTES) {
              res.destroy(new Error(`response larger than ${MAX_BODY_BYTES} bytes`));
              return;
            }
            chunks.push(chunk);
          });
          res.on('error', fail);
          res.on('end', () => {
            clearTimeout(timer);
            const status = res.statusCode ?? 0;
            if (poolNonce) this.nonces.add(res.headers['replay-nonce']);
            this.reachability.answered(url);
            observe(status);
            this.logger.debug(
              { method, url, status, ms: Math.round(monotonicMs() - started), endpoint: options.label },
              'acme request',
            );
            resolve({ status, headers: res.headers, body: Buffer.concat(chunks), url });
          });
        },
      );
      arm();
      req.on('error', fail);
      req.end(body);
    });
  }

  /** GET (directory, renewalInfo); throws the typed error for a non-2xx answer. */
  async get(url: string, options: RequestOptions): Promise<AcmeResponse> {
    const res = await this.retryingReads(() => this.request('GET', url, options), url, options);
    if (res.status >= 400) throw this.errorFor(res, options.label);
    return res;
  }

  /**
   * Sends a read once more after a network error: a keep-alive connection the server closed while
   * idle fails the next request on it (ECONNRESET) though nothing is wrong. Only reads are retried
   * (GET, HEAD, POST-as-GET): they change nothing on the server, so sending one twice is harmless.
   * A read with no answer on a fresh connection is not sent again: the origin is held (see the module comment).
   */
  private async retryingReads(send: () => Promise<AcmeResponse>, url: string, options: RequestOptions): Promise<AcmeResponse> {
    try {
      return await send();
    } catch (err) {
      if (!(err instanceof CertpilotError) || options.signal?.aborted) throw err;
      if (err.code !== 'ERR_ACME_NETWORK' && (err.code !== 'ERR_ACME_NO_ANSWER' || this.reachability.isHeld(url))) throw err;
      this.logger.debug({ endpoint: options.label, err: err.message }, 'acme read failed on the network; retrying once');
      return send();
    }
  }

  /**
   * A signed POST (RFC 8555 §6.2); `payload` undefined is POST-as-GET (§6.3). A `badNonce` answer
   * is retried with the nonce it carried, up to `maxNonceAttempts` requests in all.
   */
  async post(url: string, payload: unknown, signer: JwsSigner, options: RequestOptions): Promise<AcmeResponse> {
    for (let attempt = 1; ; attempt++) {
      const send = async (): Promise<AcmeResponse> => {
        const nonce = await this.nonces.take(options.signal);
        return this.request('POST', url, options, JSON.stringify(signJws(signer, { url, nonce, payload })));
      };
      // A POST-as-GET is a read (RFC 8555 §6.3); other POSTs are never sent twice on a network error.
      const res = payload === undefined ? await this.retryingReads(send, url, options) : await send();
      if (res.status < 400) return res;
      const error = this.errorFor(res, options.label);
      if (error instanceof AcmeProblemError && error.acmeType === 'badNonce' && attempt < this.maxNonceAttempts) {
        this.logger.debug({ url, attempt, endpoint: options.label }, 'acme badNonce, retrying with the fresh nonce');
        continue;
      }
      throw error;
    }
  }

  /** The error to throw for a non-2xx response (problem document, 503 Retry-After, or other). */
  errorFor(res: AcmeResponse, what: string): CertpilotError {
    const now = this.clock.now();
    const retryAfterHeader = res.headers['retry-after'];
    let body: unknown;
    try {
      body = res.body.length > 0 ? JSON.parse(res.body.toString('utf8')) : undefined;
    } catch {
      body = undefined;
    }
    const problem = isProblemDocument(body)
      ? body
      : { type: 'about:blank', detail: `HTTP ${res.status} from ${res.url}`, status: res.status };
    if (res.status === 503) {
      const retryAfter = parseRetryAfter(retryAfterHeader, now);
      if (retryAfter) return new RateLimitedError(`acme: ${what}: service unavailable: ${problem.detail ?? problem.type}`, problem, res.status, retryAfter);
    }
    if (!isProblemDocument(body) && res.status < 500) {
      return new CertpilotError('ERR_ACME_BAD_RESPONSE', `acme: ${what}: HTTP ${res.status} from ${res.url} without a problem document`);
    }
    return problemToError(problem, { what, status: res.status, retryAfterHeader, now });
  }

  /** Parses a JSON response body; throws `ERR_ACME_BAD_RESPONSE` when it is not JSON. */
  static json<T>(res: AcmeResponse, what: string): T {
    try {
      return JSON.parse(res.body.toString('utf8')) as T;
    } catch (cause) {
      throw new CertpilotError('ERR_ACME_BAD_RESPONSE', `acme: ${what}: ${res.url} did not return JSON`, { cause });
    }
  }

  /** Closes idle keep-alive connections. */
  close(): void {
    this.httpsAgent.destroy();
    this.httpAgent.destroy();
  }
}

/** `30 s`, `1.5 s`, `200 ms`: a timeout as people read it. */
function formatMs(ms: number): string {
  return ms >= 1000 ? `${ms / 1000} s` : `${ms} ms`;
}

/**
 * A TLS context trusting the system roots and `extra`. Node's shared root store (built once per
 * process, ~22 ms, by the first context of any kind: Node 20's `addCACert` builds it too),
 * copied with the extra certificates added (`SecureContext.addCACert` copies the already-parsed
 * roots, ~0.6 ms); `ca: [...rootCertificates, ...extra]` would parse all ~140 root PEMs again,
 * ~28 ms more (bench/findings.md, twelfth pass). `addCACert` is Node's own, not a documented API:
 * where it is missing the documented way is used. Verification is the same either way.
 */
function systemRootsPlus(extra: readonly string[]): SecureContext {
  const context = createSecureContext();
  const native = (context as unknown as { context?: { addCACert?: (pem: string) => void } }).context;
  if (typeof native?.addCACert !== 'function') return createSecureContext({ ca: [...rootCertificates, ...extra] });
  for (const pem of extra) native.addCACert(pem);
  return context;
}
