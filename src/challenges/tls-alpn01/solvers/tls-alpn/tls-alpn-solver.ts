/**
 * tls-alpn-01 (RFC 8737) answered by certpilot on its own TLS listener, lego/certmagic style.
 *
 * - `prepare`, which the Issuer calls before it places the order, binds the port and, with no
 *   challenge presented, frees it again: a port in use is `ERR_CHALLENGE_LISTEN` naming the address
 *   and port before the CA is asked anything (no order is placed), and port 443 is not held between
 *   runs (a daemon's idle hours, a web server that restarts). The first `present` listens; the
 *   last `cleanUp` stops listening, as does `close` (idempotent).
 * - It answers only connections that negotiate ALPN `acme-tls/1` (RFC 8737 §3) for a name with a
 *   presented challenge, with that name's validation certificate; a handshake offering other
 *   protocols, or naming no presented challenge, is refused (no_application_protocol /
 *   unrecognized_name), and a connection without ALPN is closed right after its handshake. It
 *   never reads or writes application data.
 * - `cleanUp` removes only that challenge's certificate. Several challenges (names) may be
 *   presented at once; a name's latest `present` wins.
 */
import { createSecureContext, createServer, type SecureContext, type Server, type TLSSocket } from 'node:tls';
import type { KeyObject } from 'node:crypto';
import { CertpilotError } from '../../../../errors.js';
import type { Clock } from '../../../../clock.js';
import type { Logger } from '../../../../logger.js';
import type { ChallengeSolver, ClosableSolver, PendingChallenge, PreparedSolver, SolverCallOptions } from '../../../challenge-solver.js';
import { ACME_TLS_1, createValidationCertificate, serverNameOf, validationKey } from '../../validation-certificate.js';
import { listenAnyHost } from '../../../listen-any.js';
import { createHash } from 'node:crypto';

/** Options of {@link TlsAlpnSolver}. */
export interface TlsAlpnSolverOptions {
  /** Port to listen on (0: any free port, for tests). */
  port: number;
  /** Address to listen on; default all interfaces (`::`, else `0.0.0.0`). */
  host?: string;
  clock: Clock;
  logger?: Logger;
}

/** Answers tls-alpn-01 challenges on its own TLS listener. */
export class TlsAlpnSolver implements ChallengeSolver, ClosableSolver, PreparedSolver {
  readonly type = 'tls-alpn-01' as const;
  private readonly port: number;
  private readonly host: string | undefined;
  private readonly clock: Clock;
  private readonly logger: Logger | undefined;
  private readonly key: KeyObject = validationKey();
  /** server name → [challenge url, context] */
  private readonly contexts = new Map<string, { url: string; context: SecureContext }>();
  private server: Promise<{ server: Server; port: number }> | undefined;
  /** A close in progress: a new listen waits for it, so the port is free to bind again. */
  private closing: Promise<void> = Promise.resolve();

  constructor(options: TlsAlpnSolverOptions) {
    this.port = options.port;
    this.host = options.host;
    this.clock = options.clock;
    this.logger = options.logger;
  }

  /** Starts the listener if needed; resolves to the bound port. */
  async listen(): Promise<number> {
    this.server ??= this.start();
    const current = this.server;
    try {
      return (await current).port;
    } catch (err) {
      if (this.server === current) this.server = undefined;
      throw err;
    }
  }

  /** Checks before the order is placed that the port can be bound (binds it; frees it again while no challenge is presented). */
  async prepare(options: SolverCallOptions = {}): Promise<void> {
    options.signal?.throwIfAborted();
    await this.listen();
    // A present since (another certificate of this run) keeps it; else the port is free again.
    if (this.contexts.size === 0) await this.close();
  }

  async present(challenge: PendingChallenge, options: SolverCallOptions = {}): Promise<void> {
    options.signal?.throwIfAborted();
    const digest = createHash('sha256').update(challenge.keyAuthorization).digest();
    const cert = createValidationCertificate({ identifier: challenge.identifier, digest, key: this.key, now: this.clock.now() });
    this.contexts.set(serverNameOf(challenge.identifier), { url: challenge.url, context: createSecureContext({ cert: cert.certPem, key: cert.keyPem }) });
    await this.listen();
  }

  async cleanUp(challenge: PendingChallenge): Promise<void> {
    const name = serverNameOf(challenge.identifier);
    if (this.contexts.get(name)?.url === challenge.url) this.contexts.delete(name);
    if (this.contexts.size === 0) await this.close();
  }

  /** Stops the listener; does nothing when not listening. */
  async close(): Promise<void> {
    const closing = this.stop();
    this.closing = closing;
    await closing;
  }

  private async stop(): Promise<void> {
    const current = this.server;
    this.server = undefined;
    if (!current) return;
    const started = await current.catch(() => undefined);
    if (!started) return;
    await new Promise<void>((resolve) => started.server.close(() => resolve()));
    this.logger?.debug('tls-alpn-01: stopped listening');
  }

  private async start(): Promise<{ server: Server; port: number }> {
    await this.closing;
    return listenAnyHost(this.host, (host) => this.bind(host));
  }

  private bind(host: string): Promise<{ server: Server; port: number }> {
    const sockets = new Set<TLSSocket>();
    const server = createServer({
      // Only acme-tls/1, and only for a name with a presented challenge: nothing else is answered.
      ALPNCallback: ({ servername, protocols }) => (protocols.includes(ACME_TLS_1) && this.contexts.has(servername?.toLowerCase() ?? '') ? ACME_TLS_1 : undefined),
      SNICallback: (servername, cb) => {
        const entry = this.contexts.get(servername.toLowerCase());
        if (entry) cb(null, entry.context);
        else cb(new Error(`no tls-alpn-01 challenge for ${servername}`));
      },
    });
    server.on('secureConnection', (socket: TLSSocket) => {
      // RFC 8737 §3: nothing is exchanged after the handshake; a client without ALPN gets nothing more either.
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
      socket.on('error', () => undefined);
      if (socket.alpnProtocol !== ACME_TLS_1) socket.destroy();
      else socket.end();
    });
    server.on('tlsClientError', (err) => this.logger?.debug({ err: err.message }, 'tls-alpn-01: handshake refused'));
    const where = host.includes(':') ? `[${host}]:${this.port}` : `${host}:${this.port}`;
    return new Promise((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException): void => {
        server.close();
        const why = err.code === 'EADDRINUSE' ? 'the port is already in use (EADDRINUSE)' : err.code === 'EACCES' ? 'permission denied (EACCES: ports below 1024 need root or CAP_NET_BIND_SERVICE)' : (err.code ?? err.message);
        reject(
          new CertpilotError('ERR_CHALLENGE_LISTEN', `tls-alpn-01: cannot listen on ${where}: ${why}`, {
            cause: err,
            hint:
              err.code === 'EADDRINUSE'
                ? `Stop what listens on port ${this.port} for the renewal (or have it pass acme-tls/1 connections through), or set the tls-alpn solver's port to a free one and forward the CA's port 443 to it.`
                : 'Run certpilot as a user that may bind the port, or set the tls-alpn solver\'s port and forward port 443 to it.',
            retryable: err.code === 'EADDRINUSE',
          }),
        );
      };
      server.once('error', onError);
      server.listen(this.port, host, () => {
        server.off('error', onError);
        server.on('error', (err) => this.logger?.warn({ err: { message: err.message } }, 'tls-alpn-01: server error'));
        const bound = server.address();
        const port = typeof bound === 'object' && bound !== null ? bound.port : this.port;
        this.logger?.info({ host, port }, 'tls-alpn-01: listening');
        resolve({ server, port });
      });
    });
  }
}
