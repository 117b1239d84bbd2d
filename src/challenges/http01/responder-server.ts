/**
 * The standalone responder server behind `certpilot serve`: a `node:http` server that answers
 * `/.well-known/acme-challenge/<token>` with a {@link ChallengeResponder}, `/healthz` with the state
 * of its store, and 404 for anything else. Bounded under abuse ({@link RESPONDER_LIMITS}): a client
 * that has not sent its whole header block within `headersTimeoutMs` is closed at the next
 * connection check (every `connectionsCheckingIntervalMs`; Node's default of 30 s would let a
 * slow client stay 30 s longer than the timeout says), a whole request is limited to
 * `requestTimeoutMs`, headers to 8 KiB, and at most `maxConnections` sockets are open at once
 * (beyond that a new connection is closed at once). Stopped gracefully: on
 * {@link ResponderServer.close} it stops accepting, drops idle keep-alive sockets, lets requests in
 * flight finish within the grace period, then closes what is left.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { monotonicMs } from '../../clock.js';
import { CertpilotError } from '../../errors.js';
import { silentLogger, type Logger } from '../../logger.js';
import type { ChallengeResponder } from './responder.js';
import { NOT_FOUND_BODY } from './responder.js';

/** The path of the health endpoint. */
export const HEALTH_PATH = '/healthz';

/** Options for {@link startResponderServer}. */
export interface ResponderServerOptions {
  responder: ChallengeResponder;
  /** Address to bind, e.g. `0.0.0.0`, `::` or `127.0.0.2`. */
  host: string;
  /** Port (0: any free one). */
  port: number;
  logger?: Logger;
  /** Longest time to receive the request headers (default {@link RESPONDER_LIMITS}.headersTimeoutMs). */
  headersTimeoutMs?: number;
  /** Longest time for a whole request (default {@link RESPONDER_LIMITS}.requestTimeoutMs). */
  requestTimeoutMs?: number;
  /** Idle keep-alive sockets close after this (default 5 s). */
  keepAliveTimeoutMs?: number;
  /** How often the header and request timeouts are enforced (default 1 s). */
  connectionsCheckingIntervalMs?: number;
  /** Open sockets at most; more are closed as they come (default 1024). */
  maxConnections?: number;
  /** Optional: counts challenge answers and serves `/metrics` (certpilot serve). */
  metrics?: ResponderMetrics | undefined;
}

/** Path of the Prometheus exposition when {@link ResponderServerOptions.metrics} is set. */
export const METRICS_PATH = '/metrics';

/** What the server needs of a metrics registry: count an answer, render the exposition. */
export interface ResponderMetrics {
  /** A challenge answer: `hit` (200), `miss` (4xx), `error` (5xx). */
  observeResponder(result: 'hit' | 'miss' | 'error'): void;
  text(): Promise<string>;
  readonly contentType: string;
}

/**
 * The defaults, documented in docs/security.md: a slow client is closed within
 * `headersTimeoutMs + connectionsCheckingIntervalMs` (6 s) of connecting, whatever it sends.
 */
export const RESPONDER_LIMITS = Object.freeze({
  headersTimeoutMs: 5_000,
  requestTimeoutMs: 10_000,
  keepAliveTimeoutMs: 5_000,
  connectionsCheckingIntervalMs: 1_000,
  maxConnections: 1024,
  maxHeaderSize: 8192,
});

/** A listening responder server. */
export interface ResponderServer {
  /** The bound address and port. */
  readonly address: AddressInfo;
  /** Stops accepting, waits up to `graceMs` (default 5000) for requests in flight, then closes everything. Idempotent. */
  close(graceMs?: number): Promise<void>;
}

const HEALTH_HEADERS = { 'content-type': 'text/plain', 'cache-control': 'no-store' };

/** Starts listening; rejects with `ERR_CHALLENGE_LISTEN` when the address cannot be bound. */
export async function startResponderServer(options: ResponderServerOptions): Promise<ResponderServer> {
  const { responder } = options;
  const logger = options.logger ?? silentLogger;
  const server: Server = createServer({
    maxHeaderSize: RESPONDER_LIMITS.maxHeaderSize,
    headersTimeout: options.headersTimeoutMs ?? RESPONDER_LIMITS.headersTimeoutMs,
    requestTimeout: options.requestTimeoutMs ?? RESPONDER_LIMITS.requestTimeoutMs,
    keepAliveTimeout: options.keepAliveTimeoutMs ?? RESPONDER_LIMITS.keepAliveTimeoutMs,
    connectionsCheckingInterval: options.connectionsCheckingIntervalMs ?? RESPONDER_LIMITS.connectionsCheckingIntervalMs,
  });
  server.maxConnections = options.maxConnections ?? RESPONDER_LIMITS.maxConnections;
  let dropped = 0;
  server.on('drop', () => {
    // Log the first and then every 1000th: a flood must not become a flood of log lines.
    if (dropped++ % 1000 === 0) logger.warn({ maxConnections: server.maxConnections, dropped }, 'http-01 responder: connection limit reached; new connections are closed');
  });
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const started = monotonicMs();
    const path = req.url ?? '';
    const done = (status: number): void => {
      // Hits and failures are rare and worth a line; misses (scanners) stay at debug. The entry is
      // built only when it will be written: this runs for every request.
      const level = status >= 500 ? 'warn' : status === 200 && path !== HEALTH_PATH ? 'info' : 'debug';
      if (!logger.isLevelEnabled(level)) return;
      const entry = { method: req.method, path: path.slice(0, 200), status, ms: Math.round((monotonicMs() - started) * 10) / 10 };
      if (level === 'warn') logger.warn(entry, 'http-01 responder: unavailable');
      else if (level === 'info') logger.info(entry, 'http-01 responder: answered');
      else logger.debug(entry, 'http-01 responder: request');
    };
    if (path === HEALTH_PATH && (req.method === 'GET' || req.method === 'HEAD')) {
      void responder
        .healthy()
        .catch(() => false)
        .then((ok) => {
          const body = ok ? 'ok\n' : 'token store unavailable\n';
          res.writeHead(ok ? 200 : 503, { ...HEALTH_HEADERS, 'content-length': String(body.length) });
          res.end(req.method === 'HEAD' ? '' : body);
          done(ok ? 200 : 503);
        })
        .catch(() => res.destroy());
      return;
    }
    const metrics = options.metrics;
    if (metrics && path === METRICS_PATH && (req.method === 'GET' || req.method === 'HEAD')) {
      void metrics
        .text()
        .then((body) => {
          res.writeHead(200, { 'content-type': metrics.contentType, 'cache-control': 'no-store', 'content-length': String(Buffer.byteLength(body)) });
          res.end(req.method === 'HEAD' ? '' : body);
          done(200);
        })
        .catch(() => res.destroy());
      return;
    }
    if (!responder.matches(path)) {
      res.writeHead(404, { ...HEALTH_HEADERS, 'content-length': String(NOT_FOUND_BODY.length) });
      res.end(req.method === 'HEAD' ? '' : NOT_FOUND_BODY);
      done(404);
      return;
    }
    void responder
      .handle({ method: req.method ?? '', path, host: req.headers.host })
      .then((answer) => {
        res.writeHead(answer.status, answer.headers);
        res.end(answer.body);
        metrics?.observeResponder(answer.status === 200 ? 'hit' : answer.status >= 500 ? 'error' : 'miss');
        done(answer.status);
      })
      // The responder answers store failures itself (503); anything else only closes this socket.
      .catch(() => {
        metrics?.observeResponder('error');
        res.destroy();
      });
  });
  // A malformed request gets a bare 400 and a closed socket; nothing reaches the responder.
  server.on('clientError', (_err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    else socket.destroy();
  });

  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      reject(
        new CertpilotError('ERR_CHALLENGE_LISTEN', `http-01 responder: cannot listen on ${options.host}:${options.port}: ${err.code ?? err.message}`, {
          hint: 'Pick a free port with --listen, or run as a user that may bind it.',
          cause: err,
        }),
      );
    };
    server.once('error', onError);
    server.listen({ host: options.host, port: options.port }, () => {
      server.off('error', onError);
      // Later errors (EMFILE on accept…) are logged, never an uncaught exception.
      server.on('error', (err: NodeJS.ErrnoException) => logger.warn({ code: err.code, err: err.message }, 'http-01 responder: server error'));
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  let closing: Promise<void> | undefined;
  return {
    address,
    close: (graceMs = 5000) => {
      closing ??= new Promise<void>((resolve) => {
        const timer = setTimeout(() => server.closeAllConnections(), graceMs);
        server.close(() => {
          clearTimeout(timer);
          resolve();
        });
        server.closeIdleConnections();
      });
      return closing;
    },
  };
}
