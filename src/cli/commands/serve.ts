/**
 * `certpilot serve`: the http-01 responder any pod can run (issue 7). Answers
 * `/.well-known/acme-challenge/<token>` from the shared token store (a `redis` solver of the
 * configuration, or `--redis-url`), or statelessly from the account thumbprint (`--thumbprint`);
 * `/healthz` checks the store. Structured logs on stderr; SIGTERM stops it gracefully (exit 0).
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
import { systemClock } from '../../clock.js';
import { CertpilotError } from '../../errors.js';
import { createLogger } from '../../logger.js';
import { isClosablePlugin } from '../../plugins/plugin.js';
import { findPlugin } from '../../plugins/registry.js';
import { EXIT, type CommandContext } from '../main.js';
import { loadCommandConfig } from '../runtime.js';

const DEFAULT_LISTEN = '0.0.0.0:8080';

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
  const logger = createLogger({ level });
  const store = v.thumbprint === undefined ? await openStore(ctx, logger) : undefined;
  const responder = createChallengeResponder({
    ...(store !== undefined ? { store } : { thumbprint: v.thumbprint }),
    ...(v['allow-host']?.length ? { allowedHosts: v['allow-host'] } : {}),
    logger,
  });
  if (store !== undefined && !(await responder.healthy())) {
    // Not fatal: the store may come up after us; /healthz says so until then.
    logger.warn('http-01 responder: the token store does not answer yet; /healthz fails and lookups answer 503 until it does');
  }
  const server = await startResponderServer({ responder, host, port, logger });
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
  await server.close();
  if (store !== undefined && isClosablePlugin(store)) await store.close();
  logger.info('http-01 responder: stopped');
  logger.flush();
  return EXIT.ok;
}

/** The token store: a `solvers.<name>` entry of the configuration, or --redis-url flags. */
async function openStore(ctx: CommandContext, logger: ReturnType<typeof createLogger>): Promise<ChallengeTokenStore> {
  const v = ctx.values;
  const plugin = findPlugin('redis');
  if (plugin === undefined || plugin.kind !== 'token-store') throw new CertpilotError('ERR_INTERNAL', 'cli: the redis token store is not registered');
  if (v.solver !== undefined) {
    const config = await loadCommandConfig(ctx, false);
    const entry = config.solvers[v.solver];
    if (entry === undefined) {
      throw new CertpilotError('ERR_CLI_USAGE', `cli: no solver named "${v.solver}" in the configuration`, {
        hint: `Configured solvers: ${Object.keys(config.solvers).join(', ')}.`,
      });
    }
    const entryPlugin = findPlugin(entry.type);
    if (entryPlugin?.kind !== 'token-store') {
      throw new CertpilotError('ERR_CLI_USAGE', `cli: solver "${v.solver}" is of type ${entry.type}, not a token store serve can read`, {
        hint: 'Point --solver at a solver of type redis.',
      });
    }
    // Only the store's own options (the solver's ttlSeconds/selfCheck are the ordering side's).
    const own = Object.fromEntries(Object.keys(entryPlugin.schema.shape).filter((k) => k in entry).map((k) => [k, entry[k]]));
    const deps = { name: v.solver, logger, clock: systemClock, baseDir: config.baseDir, stateDir: config.stateDir };
    return (await entryPlugin.create(entryPlugin.schema.parse(own), deps)) as ChallengeTokenStore;
  }
  const raw = {
    url: v['redis-url'],
    ...(v['redis-prefix'] !== undefined ? { prefix: v['redis-prefix'] } : {}),
    ...(ctx.env.CERTPILOT_REDIS_PASSWORD_FILE ? { passwordFile: ctx.env.CERTPILOT_REDIS_PASSWORD_FILE } : {}),
  };
  const parsed = plugin.schema.safeParse(raw);
  if (!parsed.success) {
    throw new CertpilotError('ERR_CLI_USAGE', `cli: --redis-url/--redis-prefix: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  }
  // The responder only reads: no journal directory is needed, the state dir is never written.
  const { RedisTokenStore } = await import('../../challenges/http01/token-stores/redis/redis-token-store.js');
  const o = parsed.data as { passwordFile?: string } & ConstructorParameters<typeof RedisTokenStore>[0];
  return new RedisTokenStore({ ...o, ...(o?.passwordFile ? { passwordFile: resolve(ctx.cwd, o.passwordFile) } : {}), logger });
}
