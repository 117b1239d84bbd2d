/**
 * The `redis` token store (issue 7): http-01 key authorizations in a shared Redis, so every pod
 * behind the load balancer can answer the CA (certmagic's distributed solver, over Redis).
 *
 * Layout: key = `prefix + token` (default prefix `.well-known/acme-challenge/`, the request path
 * without its leading slash, which the deck's PHP `WellKnown` controller reads as is), value = the
 * key authorization (RFC 8555 §8.3), written with `SET key value EX ttl`.
 *
 * Own keys only: `delete` is a compare-and-delete (a one-key Lua script: `DEL` only while the key
 * still holds the value this store wrote), so a token someone else rewrote is never removed. The
 * tokens a process wrote are also journalled under the state directory (`challenge-journal.ts`, the
 * journal the dns-01 and webroot solvers share); a later run deletes those a dead process left
 * behind (killed, or Redis was down at its cleanup), again only while they hold its value.
 *
 * Failures: every Redis failure becomes `ERR_TOKEN_STORE_UNAVAILABLE` (retryable) or, for refused
 * credentials, `ERR_TOKEN_STORE_AUTH`; messages name the server (scheme, host, port, db) and never a
 * password. Commands fail fast while Redis is unreachable (no offline queue), so a responder answers
 * 503 at once instead of hanging; the client reconnects by itself once connected.
 */
import { STRICT_TLS } from '../../../../strict-tls.js';
import { readFileSync } from 'node:fs';
import type { Cluster, Redis, RedisOptions } from 'ioredis';
import { ChallengeJournal } from '../../../challenge-journal.js';
import { CertpilotError } from '../../../../errors.js';
import { silentLogger, type Logger } from '../../../../logger.js';
import type { ChallengeTokenStore } from '../../challenge-token-store.js';
import { TOKEN_PATTERN } from '../../challenge-token-store.js';
import { DEFAULT_REDIS_PREFIX, REDIS_PREFIX_PATTERN, REDIS_PREFIX_RULE } from './schema.js';

/** `DEL` the key only while it still holds the value we wrote (KEYS[1], ARGV[1]). */
const COMPARE_AND_DELETE = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end";

/** Options for {@link RedisTokenStore}; file paths are already absolute. */
export interface RedisTokenStoreOptions {
  /** `redis://[user@]host[:port][/db]` or `rediss://…` (TLS). Must not carry a password. */
  url?: string;
  username?: string;
  /** The password itself (never logged). */
  password?: string;
  /** Or a file holding it, read on connect. */
  passwordFile?: string;
  db?: number;
  /** Key prefix; default {@link DEFAULT_REDIS_PREFIX}. */
  prefix?: string;
  tls?: { caFile?: string; servername?: string };
  sentinel?: { sentinels: string[]; masterName: string; username?: string; passwordFile?: string };
  cluster?: { nodes: string[] };
  connectTimeoutMs?: number;
  commandTimeoutMs?: number;
  /**
   * Directory for the journal of tokens written and not yet deleted (one file per process). Unset:
   * no journal (tokens a crashed run leaves expire by their TTL).
   */
  journalDir?: string;
  logger?: Logger;
}

interface JournalEntry {
  key: string;
  value: string;
  expiresAt: number;
}

function isJournalEntry(e: unknown): e is JournalEntry {
  const r = e as Partial<JournalEntry> | null;
  return typeof r?.key === 'string' && typeof r.value === 'string' && typeof r.expiresAt === 'number';
}

/** A {@link ChallengeTokenStore} over Redis (standalone, Sentinel or Cluster) with ioredis. */
export class RedisTokenStore implements ChallengeTokenStore {
  /** The key prefix in use. */
  readonly prefix: string;
  /** Where Redis is, for messages and logs: no credentials. */
  readonly where: string;
  private readonly options: RedisTokenStoreOptions;
  private readonly logger: Logger;
  private readonly url: URL;
  private client: Promise<Redis | Cluster> | undefined;
  /** What this store wrote and has not deleted: key → value (and the journal's copy). */
  private readonly written = new Map<string, JournalEntry>();
  private readonly journal: ChallengeJournal<JournalEntry> | undefined;
  private swept = false;

  constructor(options: RedisTokenStoreOptions = {}) {
    this.options = options;
    this.logger = options.logger ?? silentLogger;
    this.prefix = options.prefix ?? DEFAULT_REDIS_PREFIX;
    if (!REDIS_PREFIX_PATTERN.test(this.prefix)) {
      throw new CertpilotError('ERR_CONFIG_INVALID', `redis token store: prefix ${JSON.stringify(this.prefix)} is not ${REDIS_PREFIX_RULE}`, { hint: 'Set prefix to a non-empty value ending in "/", e.g. acme/.' });
    }
    const raw = options.url ?? 'redis://127.0.0.1:6379';
    let url: URL;
    try {
      url = new URL(raw);
    } catch (cause) {
      throw new CertpilotError('ERR_TOKEN_STORE_UNAVAILABLE', 'redis token store: cannot use the url: it is not a redis:// or rediss:// URL', { cause });
    }
    if ((url.protocol !== 'redis:' && url.protocol !== 'rediss:') || url.password !== '') {
      throw new CertpilotError('ERR_TOKEN_STORE_UNAVAILABLE', 'redis token store: cannot use the url: expected redis:// or rediss:// without a password in it', {
        hint: 'Give the password with passwordFile (or password), never inside the URL.',
      });
    }
    this.url = url;
    this.where = describeWhere(url, options);
    this.journal =
      options.journalDir === undefined ? undefined : new ChallengeJournal({ dir: options.journalDir, component: 'redis token store', accept: isJournalEntry, logger: this.logger });
  }

  /** `SET prefix+token keyAuthorization EX ttlSeconds`: overwrites any value and restarts the TTL. */
  async put(token: string, keyAuthorization: string, ttlSeconds: number): Promise<void> {
    const key = this.key(token);
    if (!Number.isInteger(ttlSeconds) || ttlSeconds <= 0) {
      throw new CertpilotError('ERR_INTERNAL', `redis token store: cannot store token: ttlSeconds must be a positive whole number, got ${String(ttlSeconds)}`);
    }
    const entry = { key, value: keyAuthorization, expiresAt: Date.now() + ttlSeconds * 1000 };
    // Journal first: a token we may have written is one a later run can remove.
    this.written.set(key, entry);
    await this.journal?.add(key, entry);
    await this.run('store token', async (redis) => {
      await redis.set(key, keyAuthorization, 'EX', ttlSeconds);
    });
  }

  /** `GET prefix+token`; `undefined` when absent or expired. */
  async get(token: string): Promise<string | undefined> {
    const key = this.key(token);
    const value = await this.run('read token', (redis) => redis.get(key));
    return value ?? undefined;
  }

  /** Deletes the token only while it still holds the value this store wrote; idempotent. */
  async delete(token: string): Promise<void> {
    const key = this.key(token);
    const mine = this.written.get(key);
    if (mine === undefined) return;
    await this.run('delete token', async (redis) => {
      await redis.eval(COMPARE_AND_DELETE, 1, key, mine.value);
    });
    this.written.delete(key);
    await this.journal?.remove(key);
  }

  /** `PING`: resolves when Redis answers (for `/healthz` and a check before ordering). */
  async check(): Promise<void> {
    await this.run('reach Redis', async (redis) => {
      await redis.ping();
    });
  }

  /**
   * Deletes what dead processes of this host journalled and left in Redis (compare-and-delete), and
   * drops journal files whose tokens have all expired. Runs once, on the first connection.
   */
  private async sweep(redis: Redis | Cluster): Promise<number> {
    if (this.journal === undefined) return 0;
    return this.journal.sweep(async (e) => {
      if (!e.key.startsWith(this.prefix)) return;
      await redis.eval(COMPARE_AND_DELETE, 1, e.key, e.value);
    });
  }

  /** Closes the connection; later calls reconnect. Idempotent. */
  async close(): Promise<void> {
    const pending = this.client;
    this.client = undefined;
    await this.journal?.settled();
    if (pending === undefined) return;
    const redis = await pending.catch(() => undefined);
    if (redis === undefined) return;
    await redis.quit().catch(() => redis.disconnect());
  }

  private key(token: string): string {
    // The responder and solver check tokens too; the store refuses to build any other key itself.
    if (!TOKEN_PATTERN.test(token)) {
      throw new CertpilotError('ERR_ACME_BAD_RESPONSE', 'redis token store: cannot use token: it is not 16-256 base64url characters (RFC 8555 §8.3)');
    }
    return this.prefix + token;
  }

  private async run<T>(what: string, command: (redis: Redis | Cluster) => Promise<T>): Promise<T> {
    const redis = await this.connection(what);
    try {
      return await command(redis);
    } catch (err) {
      throw this.failure(what, err);
    }
  }

  private connection(what: string): Promise<Redis | Cluster> {
    if (this.client === undefined) {
      const connecting = this.connect().catch(
        (err: unknown) => {
          if (this.client === connecting) this.client = undefined;
          throw this.failure(what, err);
        },
      );
      this.client = connecting;
    }
    return this.client;
  }

  private async connect(): Promise<Redis | Cluster> {
    const loaded = await import('ioredis');
    // Node's ESM view of the CommonJS module has named exports; the bundle's sees only `default`.
    const ioredis = (loaded.Redis === undefined ? (loaded as unknown as { default: typeof loaded }).default : loaded);
    const { Redis: RedisClient, Cluster: ClusterClient } = ioredis;
    const o = this.options;
    const password = o.password ?? (o.passwordFile === undefined ? undefined : readSecret(o.passwordFile, 'passwordFile'));
    const sentinelPassword = o.sentinel?.passwordFile === undefined ? undefined : readSecret(o.sentinel.passwordFile, 'sentinel.passwordFile');
    // Read once: scrub() masks exactly what this client was given.
    this.secrets = [password, sentinelPassword].filter((v): v is string => v !== undefined && v.length > 0);
    const username = o.username ?? (this.url.username === '' ? undefined : decodeURIComponent(this.url.username));
    const dbFromUrl = this.url.pathname.length > 1 ? Number(this.url.pathname.slice(1)) : undefined;
    const db = o.db ?? dbFromUrl ?? 0;
    const tls =
      this.url.protocol === 'rediss:'
        ? {
            // Explicit, so NODE_TLS_REJECT_UNAUTHORIZED=0 cannot turn verification off.
            ...STRICT_TLS,
            ...(o.tls?.caFile !== undefined ? { ca: readSecret(o.tls.caFile, 'tls.caFile') } : {}),
            ...(o.tls?.servername !== undefined ? { servername: o.tls.servername } : {}),
          }
        : undefined;
    const common: RedisOptions = {
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      connectTimeout: o.connectTimeoutMs ?? 5000,
      commandTimeout: o.commandTimeoutMs ?? 2000,
      // Concurrent lookups (the CA's vantage points, a busy responder) share one write to Redis.
      enableAutoPipelining: true,
      // Keep reconnecting once connected (a responder outlives Redis restarts), never faster than 2 s.
      retryStrategy: (times) => Math.min(100 * 2 ** times, 2000),
      ...(username !== undefined ? { username } : {}),
      ...(password !== undefined ? { password } : {}),
      ...(tls !== undefined ? { tls } : {}),
    };
    let redis: Redis | Cluster;
    if (o.cluster !== undefined) {
      if (db !== 0) {
        throw new CertpilotError('ERR_TOKEN_STORE_UNAVAILABLE', `redis token store: cannot use db ${db}: Redis Cluster has only database 0`);
      }
      // The node connections keep their offline queue: the cluster sends CLUSTER SLOTS through them
      // while they connect. The cluster itself fails fast.
      const { lazyConnect: _l, enableOfflineQueue: _q, retryStrategy: _r, ...nodeOptions } = common;
      redis = new ClusterClient(o.cluster.nodes.map(parseHostPort), {
        lazyConnect: true,
        enableOfflineQueue: false,
        clusterRetryStrategy: (times) => Math.min(100 * 2 ** times, 2000),
        redisOptions: nodeOptions,
      });
    } else if (o.sentinel !== undefined) {
      const s = o.sentinel;
      redis = new RedisClient({
        ...common,
        db,
        sentinels: s.sentinels.map(parseHostPort),
        name: s.masterName,
        ...(s.username !== undefined ? { sentinelUsername: s.username } : {}),
        ...(sentinelPassword !== undefined ? { sentinelPassword } : {}),
        ...(tls !== undefined ? { enableTLSForSentinelMode: true, sentinelTLS: tls } : {}),
      });
    } else {
      redis = new RedisClient({ ...common, db, host: this.url.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1', port: Number(this.url.port || 6379) });
    }
    // ioredis reports connection errors as events too; they are ours to turn into errors, not to print.
    let lastError: Error | undefined;
    redis.on('error', (err: Error) => {
      lastError = err;
      this.logger.debug({ err: this.scrub(err.message), store: this.where }, 'redis token store: connection error');
    });
    let timer: NodeJS.Timeout | undefined;
    try {
      // connect() may wait for ever (a cluster that never gets its slots): bound it.
      const limit = (o.connectTimeoutMs ?? 5000) * 2;
      await Promise.race([
        redis.connect(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no connection within ${limit} ms`)), limit);
        }),
      ]);
      clearTimeout(timer);
      if (!this.swept) {
        this.swept = true;
        // A failed sweep must not fail this run's own work.
        await this.sweep(redis).catch((err: unknown) => this.logger.warn({ err: messageOf(err) }, 'redis token store: sweep of a stopped run\'s tokens failed'));
      }
      return redis;
    } catch (err) {
      clearTimeout(timer);
      redis.disconnect();
      // connect() rejects with "Connection is closed."; the error event said why (ECONNREFUSED, WRONGPASS).
      throw lastError ?? err;
    }
  }

  private failure(what: string, err: unknown): CertpilotError {
    if (err instanceof CertpilotError) return err;
    const raw = messageOf(err);
    const why = this.scrub(raw);
    // Redis answers; the key holds a hash or a list someone else wrote: not an outage.
    if (/^WRONGTYPE\b/.test(raw)) {
      return new CertpilotError('ERR_TOKEN_STORE_VALUE', `redis token store: cannot ${what}: the key on ${this.where} holds another Redis type than a string: ${why}`, {
        cause: new Error(why),
      });
    }
    if (/WRONGPASS|NOAUTH|NOPERM|invalid password|invalid username/i.test(raw)) {
      return new CertpilotError('ERR_TOKEN_STORE_AUTH', `redis token store: cannot ${what}: ${this.where} refused the credentials: ${why}`, {
        cause: new Error(why),
      });
    }
    return new CertpilotError('ERR_TOKEN_STORE_UNAVAILABLE', `redis token store: cannot ${what}: ${this.where} is unreachable or failing: ${why}`, {
      cause: new Error(why),
      retryable: true,
    });
  }

  /** The passwords this store's client was given (set when it connects). */
  private secrets: string[] = [];

  /** Removes every secret we know from a message (ioredis does not echo them; this is the safety net). */
  private scrub(message: string): string {
    let out = message;
    const secrets = this.options.password === undefined ? this.secrets : [this.options.password, ...this.secrets];
    for (const s of secrets) if (s.length > 0) out = out.split(s).join('[redacted]');
    return out;
  }
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function readSecret(file: string, field: string): string {
  try {
    return readFileSync(file, 'utf8').replace(/\r?\n$/, '');
  } catch (cause) {
    throw new CertpilotError('ERR_TOKEN_STORE_AUTH', `redis token store: cannot read ${field} ${file}: ${(cause as NodeJS.ErrnoException).code ?? 'unreadable'}`, {
      hint: `Check that ${field} names a readable file (e.g. a mounted Secret).`,
      cause,
    });
  }
}

function parseHostPort(value: string): { host: string; port: number } {
  const colon = value.lastIndexOf(':');
  return { host: value.slice(0, colon).replace(/^\[|\]$/g, ''), port: Number(value.slice(colon + 1)) };
}

function describeWhere(url: URL, o: RedisTokenStoreOptions): string {
  const scheme = url.protocol.slice(0, -1);
  const db = o.db ?? (url.pathname.length > 1 ? Number(url.pathname.slice(1)) : 0);
  if (o.cluster !== undefined) return `${scheme} cluster ${o.cluster.nodes.join(',')}`;
  if (o.sentinel !== undefined) return `${scheme} sentinel master ${o.sentinel.masterName} via ${o.sentinel.sentinels.join(',')} db ${db}`;
  return `${scheme}://${url.host || '127.0.0.1:6379'}/${db}`;
}
