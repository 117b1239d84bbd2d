/**
 * `certpilot serve`: the http-01 responder any pod can run (issue 7). Answers
 * `/.well-known/acme-challenge/<token>` from the shared token store (a `redis` solver of the
 * configuration, or `--redis-url`), or statelessly from the account thumbprint (`--thumbprint`);
 * `/healthz` checks the store, `/metrics` is Prometheus (answers by hit, miss, error; see
 * docs/metrics.md). Logs on stderr (`--log-format json` for a log collector); SIGTERM stops it
 * gracefully (exit 0).
 *
 *   certpilot serve --listen 0.0.0.0:8080 --solver pods [--allow-host www.example.com]...
 *   certpilot serve --redis-url redis://redis:6379 [--redis-prefix .well-known/acme-challenge/]
 *   certpilot serve --thumbprint <from certpilot account show>
 *
 * A Redis password never comes from argv: `passwordFile` in the solver entry, or the file named by
 * CERTPILOT_REDIS_PASSWORD_FILE with --redis-url.
 */
import { resolve } from 'node:path';
import type { ChallengeTokenStore } from '../../challenges/http01/challenge-token-store.js';
import { createChallengeResponder } from '../../challenges/http01/responder.js';
import { startResponderServer } from '../../challenges/http01/responder-server.js';
import { HitCacheTokenStore } from '../../challenges/http01/hit-cache-token-store.js';
import { CertpilotError } from '../../errors.js';
import { EXIT, type CommandContext } from '../main.js';
import type { Runtime } from '../compose.js';
import { commandLogger, openRuntime } from '../runtime.js';

const DEFAULT_LISTEN = '0.0.0.0:8080';
/** How long `serve` keeps a token it found (see hit-cache-token-store.ts for the trade). */
const DEFAULT_HIT_CACHE_MS = 1000;

/** Parses `host:port`, `[v6]:port` or `:port` (all addresses). */
export function parseListen(value: string): { host: string; port: number } {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]]*)):([0-9]{1,5})$/.exec(value);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) {
    throw new CertpilotError('ERR_CLI_USAGE', `cli: --listen must be host:port, [ipv6]:port or :port, not "${value}"`);
  }
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port };
}

/** Entry point of `certpilot serve`. */
export async function run(ctx: CommandContext): Promise<number> {
  const v = ctx.values;
  const { host, port } = parseListen(v.listen ?? DEFAULT_LISTEN);
  const modes = [v.solver !== undefined, v['redis-url'] !== undefined, v.thumbprint !== undefined].filter(Boolean).length;
  if (modes !== 1) {
    throw new CertpilotError('ERR_CLI_USAGE', 'cli: serve needs exactly one of --solver NAME, --redis-url URL or --thumbprint T', {
      hint: 'Use --solver with the name of a redis solver in the configuration, or --thumbprint from `certpilot account show` for stateless mode.',
    });
  }
  const level = v.verbose ? 'debug' : (v['log-level'] ?? 'info');
  const logger = commandLogger(ctx, level);
  const runtime = v.thumbprint === undefined ? await openRuntime(ctx, false, { logger }) : undefined;
  let server: Awaited<ReturnType<typeof startResponderServer>> | undefined;
  try {
    const shared = runtime ? await openStore(ctx, runtime) : undefined;
    // The CA validates each token several times at once: one store read serves the burst.
    const store = shared ? new HitCacheTokenStore({ store: shared, ttlMs: v['cache-hits-ms'] ?? DEFAULT_HIT_CACHE_MS, missTtlMs: v['cache-misses-ms'] ?? 0 }) : undefined;
    const responder = createChallengeResponder({
      ...(store !== undefined ? { store } : { thumbprint: v.thumbprint }),
      ...(v['allow-host']?.length ? { allowedHosts: v['allow-host'] } : {}),
      logger,
    });
    if (store !== undefined && !(await responder.healthy())) {
      // Not fatal: the store may come up after us; /healthz says so until then.
      logger.warn('http-01 responder: the token store does not answer yet; /healthz fails and lookups answer 503 until it does');
    }
    // /metrics beside the answers: hits, misses, errors and the process (prom-client loaded only
    // here); no status snapshot, so none of its series (docs/metrics.md).
    const { CertpilotMetrics } = await import('../../notify/metrics.js');
    const metrics = new CertpilotMetrics({ processMetrics: true, snapshot: false });
    server = await startResponderServer({ responder, host, port, logger, metrics });
    logger.info(
      { listen: `${server.address.address}:${server.address.port}`, mode: store === undefined ? 'stateless' : 'store', allowedHosts: v['allow-host'] ?? [] },
      'http-01 responder: listening',
    );
    await new Promise<void>((done) => {
      if (ctx.signal === undefined) return; // no signal: serve until the process is killed
      if (ctx.signal.aborted) done();
      else ctx.signal.addEventListener('abort', () => done(), { once: true });
    });
    logger.info('http-01 responder: stopping (signal)');
  } finally {
    // Also when the listen fails: an open Redis connection would keep the process from exiting.
    await server?.close();
    await runtime?.close();
  }
  logger.info('http-01 responder: stopped');
  logger.flush();
  return EXIT.ok;
}

/**
 * The token store, built by the composition root: a `solvers.<name>` entry of the configuration,
 * or an entry made of the --redis-url flags (validated by the redis plug-in's schema).
 */
async function openStore(ctx: CommandContext, runtime: Runtime): Promise<ChallengeTokenStore> {
  const v = ctx.values;
  if (v.solver !== undefined) {
    if (runtime.config.solvers[v.solver]?.type === 'stateless') {
      throw new CertpilotError('ERR_CLI_USAGE', `cli: serve --solver ${v.solver}: that solver is stateless: it stores nothing for serve to read`, {
        hint: 'Run `certpilot serve --thumbprint T` instead, with T the thumbprint `certpilot account show` prints: it answers every token as <token>.<T>.',
      });
    }
    return runtime.tokenStore(v.solver);
  }
  // Never echoed: the URL's password is the secret.
  if (hasUrlPassword(v['redis-url'] ?? '')) {
    throw new CertpilotError('ERR_CLI_USAGE', 'cli: serve --redis-url carries a password: a secret on the command line is visible to every user of the machine (ps, /proc)', {
      hint: 'Give --redis-url without it (redis://host:6379) and put the password in a file named by CERTPILOT_REDIS_PASSWORD_FILE, or use --solver NAME with a redis solver whose passwordFile holds it.',
    });
  }
  return runtime.tokenStore('redis-url', {
    type: 'redis',
    url: v['redis-url'],
    ...(v['redis-prefix'] !== undefined ? { prefix: v['redis-prefix'] } : {}),
    ...(ctx.env.CERTPILOT_REDIS_PASSWORD_FILE ? { passwordFile: resolve(ctx.cwd, ctx.env.CERTPILOT_REDIS_PASSWORD_FILE) } : {}),
  });
}

/** Whether a Redis URL has a password (`redis://:secret@host`, `redis://user:secret@host`). */
function hasUrlPassword(url: string): boolean {
  try {
    return new URL(url).password !== '';
  } catch {
    return false;
  }
}
