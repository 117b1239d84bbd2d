/**
 * Options of the `redis` token store (`solvers.<name>: { type: redis, ... }`): where the shared
 * Redis is and how keys are named. The store-backed http-01 solver's own options (`ttlSeconds`,
 * `selfCheck`) are merged in by the registry from `../../token-store-options.ts`.
 */
import * as z from 'zod/mini';
import '../../../../zod-english.js';

/** The default key prefix: the request path without its leading slash, as the deck's `WellKnown` controller reads it. */
export const DEFAULT_REDIS_PREFIX = '.well-known/acme-challenge/';

/**
 * A prefix is non-empty and ends with `/`: with an empty one every token-shaped key of the database
 * would be answered, and `acme` + token could run into another application's keys.
 */
export const REDIS_PREFIX_PATTERN = /^[\x21-\x7e]{0,199}\/$/;
/** The rule of {@link REDIS_PREFIX_PATTERN} in words. */
export const REDIS_PREFIX_RULE = 'a non-empty key prefix ending in "/" (printable ASCII without spaces, at most 200 characters), e.g. .well-known/acme-challenge/ or acme/';

const hostPort = z
  .string()
  .check(z.regex(/^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):[0-9]{1,5}$/, 'expected host:port, e.g. redis-sentinel:26379'), z.describe('host:port'));

/** Builds the schema of the `redis` token store's options (a new one per call; the plug-in definition builds its own on first use). */
export const redisSchema = () => z.strictObject({
  url: z
    ._default(
      z.string().check(
        z.regex(/^rediss?:\/\/[^/?#]*(\/[0-9]{0,2})?$/, 'expected redis://[user@]host[:port][/db] or rediss://… (TLS)'),
        z.refine((u) => !/^rediss?:\/\/[^@/]*:[^@/]*@/.test(u), 'do not put a password in the URL: use password or passwordFile'),
      ),
      'redis://127.0.0.1:6379',
    )
    .check(z.describe('redis://[user@]host[:port][/db], or rediss://… for TLS. With sentinel or cluster only its scheme, user and db count. No password here: use passwordFile.')),
  username: z.optional(z.string().check(z.minLength(1))).check(z.describe('Redis ACL user (Redis 6+); overrides the URL user.')),
  password: z.optional(z.string().check(z.minLength(1))).check(z.describe('Redis password. Prefer passwordFile, or ${REDIS_PASSWORD} interpolation; never logged.')),
  passwordFile: z.optional(z.string().check(z.minLength(1))).check(z.describe('File holding the Redis password (a mounted Secret); trailing newline ignored. Relative to the config file.')),
  db: z.optional(z.number().check(z.int(), z.gte(0), z.lte(65535))).check(z.describe('Database number; overrides the URL path. Redis Cluster has only 0.')),
  prefix: z
    ._default(z.string().check(z.regex(REDIS_PREFIX_PATTERN, REDIS_PREFIX_RULE)), DEFAULT_REDIS_PREFIX)
    .check(z.describe('Key prefix: key = prefix + token, value = key authorization. Non-empty, ending in `/` (so no other key of the database is ever read as a token). The default is what the deck\'s WellKnown controller reads.')),
  tls: z
    .optional(z.strictObject({
      caFile: z.optional(z.string().check(z.minLength(1))).check(z.describe('PEM file of the CA that signed the Redis server certificate (private CA).')),
      servername: z.optional(z.string().check(z.minLength(1))).check(z.describe('Name to verify in the server certificate, when it differs from the host.')),
    }))
    .check(z.describe('TLS settings for rediss:// (the system roots are trusted by default).')),
  sentinel: z
    .optional(z.strictObject({
      sentinels: z.array(hostPort).check(z.minLength(1), z.describe('Sentinel addresses, host:port.')),
      masterName: z.string().check(z.minLength(1), z.describe('The monitored master group name.')),
      username: z.optional(z.string().check(z.minLength(1))).check(z.describe('ACL user for the sentinels.')),
      passwordFile: z.optional(z.string().check(z.minLength(1))).check(z.describe('File holding the sentinels\' password.')),
    }))
    .check(z.describe('Redis Sentinel: find the master through these sentinels (writes and reads go to the master).')),
  cluster: z
    .optional(z.strictObject({
      nodes: z.array(hostPort).check(z.minLength(1), z.describe('Some cluster nodes, host:port; the rest are discovered.')),
    }))
    .check(z.describe('Redis Cluster: the startup nodes. Each token is one key, so no cross-slot command is needed.')),
  connectTimeoutMs: z._default(z.number().check(z.int(), z.gte(100), z.lte(60_000)), 5000).check(z.describe('How long to wait for a connection.')),
  commandTimeoutMs: z._default(z.number().check(z.int(), z.gte(50), z.lte(60_000)), 2000).check(z.describe('How long one command may take before it fails.')),
});

/** The `redis` token store's options after defaults. */
export type RedisTokenStoreConfig = z.output<ReturnType<typeof redisSchema>>;
