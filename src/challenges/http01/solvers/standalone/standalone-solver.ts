/**
 * The embedded default http-01 solver, certbot `--standalone` style: certpilot itself listens on
 * port 80 and answers the CA from its own {@link MemoryTokenStore} while the order runs.
 */
import type { Server } from 'node:http';
import { createServer } from 'node:http';
import type { ChallengeSolver, ClosableSolver, PendingChallenge, PreparedSolver, SolverCallOptions } from '../../../challenge-solver.js';
import { CertpilotError } from '../../../../errors.js';
import type { Logger } from '../../../../logger.js';
import type { Clock } from '../../../../clock.js';
import { Http01Solver, DEFAULT_TOKEN_TTL_SECONDS } from '../../http01-solver.js';
import { listenAnyHost } from '../../../listen-any.js';
import { MemoryTokenStore } from '../../memory-token-store.js';
import { createChallengeResponder } from '../../responder.js';
import type { NodeRequestListener } from '../../middleware/node.js';
import { challengeRequestListener } from '../../middleware/node.js';

/** Options for {@link StandaloneHttp01Solver}. */
export interface StandaloneHttp01SolverOptions {
  /** TCP port; defaults to 80. `0` picks a free port (see {@link StandaloneHttp01Solver.address}). */
  port?: number;
  /** Address to bind; defaults to all interfaces (`::`, falling back to `0.0.0.0` without IPv6). */
  host?: string;
  /** Optional Host check passed to the responder. */
  allowedHosts?: string[];
  /** How long a presented token stays answerable; defaults to {@link DEFAULT_TOKEN_TTL_SECONDS} (3600 s). */
  ttlSeconds?: number;
  logger?: Logger;
  clock?: Clock;
}

/** Where the standalone listener is bound. */
export interface ListenAddress {
  host: string;
  port: number;
}

/**
 * Starts a `node:http` listener on the first `present` and serves the responder over its own memory
 * store. `cleanUp` removes only that challenge's token, and stops the listener once no presented
 * challenge is left (so port 80 is free again before the deploy stage, where a web server may want
 * it); `close` stops it too (idempotent) and drops its (keep-alive) connections so the process can
 * exit at once. Presenting after either listens again. `prepare` (called by the Issuer before it
 * places the order) binds the port and, with no challenge presented, frees it again: a port in use
 * fails the run before the CA is asked anything, and a web server sharing port 80 is not kept out
 * between runs.
 */
export class StandaloneHttp01Solver implements ChallengeSolver, ClosableSolver, PreparedSolver {
  /** Always `http-01`. */
  readonly type = 'http-01' as const;
  private readonly port: number;
  private readonly host: string | undefined;
  private readonly logger: Logger | undefined;
  private readonly solver: Http01Solver;
  private readonly listener: NodeRequestListener;
  private starting: Promise<{ server: Server; address: ListenAddress }> | undefined;
  /** A close in progress: a new listen waits for it, so the port is free to bind again. */
  private closing: Promise<void> = Promise.resolve();
  /** Challenges presented and not yet cleaned up (by URL). */
  private readonly active = new Set<string>();

  constructor(options: StandaloneHttp01SolverOptions = {}) {
    this.port = options.port ?? 80;
    this.host = options.host;
    this.logger = options.logger;
    const store = new MemoryTokenStore({ clock: options.clock });
    this.solver = new Http01Solver({ store, ttlSeconds: options.ttlSeconds ?? DEFAULT_TOKEN_TTL_SECONDS });
    this.listener = challengeRequestListener(createChallengeResponder({ store, allowedHosts: options.allowedHosts, logger: options.logger }));
  }

  /** Starts listening if not already; resolves to the bound address. */
  async listen(): Promise<ListenAddress> {
    const starting = (this.starting ??= this.start());
    try {
      return (await starting).address;
    } catch (err) {
      // Forget the failed attempt so a later present can try again, unless one already has.
      if (this.starting === starting) this.starting = undefined;
      throw err;
    }
  }

  /** The bound address, or `undefined` before the listener is up. */
  async address(): Promise<ListenAddress | undefined> {
    if (this.starting === undefined) return undefined;
    try {
      return (await this.starting).address;
    } catch {
      return undefined;
    }
  }

  /** Checks that the port can be bound (binds it, and frees it again while no challenge is presented). */
  async prepare(options: SolverCallOptions = {}): Promise<void> {
    options.signal?.throwIfAborted();
    await this.listen();
    // A present since (another certificate of this run) keeps it; else port 80 is free again.
    if (this.active.size === 0) await this.close();
  }

  /** Starts the listener if needed, then makes the key authorization answerable. */
  async present(challenge: PendingChallenge, options: SolverCallOptions = {}): Promise<void> {
    options.signal?.throwIfAborted();
    this.active.add(challenge.url);
    await this.listen();
    await this.solver.present(challenge, options);
  }

  /** Removes this challenge's token; stops the listener when it was the last one presented. */
  async cleanUp(challenge: PendingChallenge, options: SolverCallOptions = {}): Promise<void> {
    await this.solver.cleanUp(challenge, options);
    this.active.delete(challenge.url);
    if (this.active.size === 0) await this.close();
  }

  /** Stops the listener and drops its connections; does nothing when not listening. */
  async close(): Promise<void> {
    const closing = this.stop();
    this.closing = closing;
    await closing;
  }

  private async stop(): Promise<void> {
    const starting = this.starting;
    if (starting === undefined) return;
    this.starting = undefined;
    let server: Server;
    try {
      ({ server } = await starting);
    } catch {
      return;
    }
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      // close() alone waits for open connections, and the CA's keep-alive sockets would hold the
      // process; every token is cleaned up by now, so nothing in flight is worth waiting for.
      server.closeAllConnections();
    });
    this.logger?.debug('http-01 standalone: stopped listening');
  }

  private async start(): Promise<{ server: Server; address: ListenAddress }> {
    await this.closing;
    // No host named: every interface, or every IPv4 one on a host without IPv6.
    return listenAnyHost(this.host, (host) => this.bind(host));
  }

  private bind(host: string): Promise<{ server: Server; address: ListenAddress }> {
    const server = createServer(this.listener);
    return new Promise((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException): void => {
        server.close();
        const where = host.includes(':') ? `[${host}]:${this.port}` : `${host}:${this.port}`;
        reject(new CertpilotError('ERR_CHALLENGE_LISTEN', `http-01 standalone: cannot listen on ${where}: ${err.code ?? err.message}`, {
          cause: err,
          retryable: err.code === 'EADDRINUSE',
        }));
      };
      server.once('error', onError);
      server.listen(this.port, host, () => {
        server.off('error', onError);
        server.on('error', (err) => this.logger?.warn({ err: { message: err.message } }, 'http-01 standalone: server error'));
        const bound = server.address();
        const port = typeof bound === 'object' && bound !== null ? bound.port : this.port;
        this.logger?.info({ host, port }, 'http-01 standalone: listening');
        resolve({ server, address: { host, port } });
      });
    });
  }
}
