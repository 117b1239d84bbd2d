// Property-based fuzz (fast-check) of the http-01 responder over a real redis-server: at least
// 100 000 hostile request paths per run (traversal, percent-encoding, double slashes, dot segments,
// overlong, Unicode, queries, fragments, absolute forms) against a Redis that also holds foreign keys
// outside the prefix and badly shaped values under valid tokens. Asserts that no foreign or badly
// shaped value ever appears in a body or a header, that only exact hits answer 200, and, from
// `INFO commandstats`, that Redis received exactly one GET per well-formed path and nothing for any
// other (misses by shape never reach Redis). A slice of the paths also goes over real HTTP.
//
// Seeded: the seed is printed as a test diagnostic; replay with FUZZ_SEED=<seed>. FUZZ_PATHS raises
// the count.
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import { TOKEN_PATTERN } from '../../src/challenges/http01/challenge-token-store.js';
import { CHALLENGE_PATH_PREFIX, NOT_FOUND_BODY, createChallengeResponder, type ChallengeResponder } from '../../src/challenges/http01/responder.js';
import { startResponderServer } from '../../src/challenges/http01/responder-server.js';
import { RedisTokenStore } from '../../src/challenges/http01/token-stores/redis/redis-token-store.js';
import { resolveBinary } from '../harness/paths.js';
import { startRedis, type RedisServer } from '../harness/redis.js';
import { requireServer } from '../harness/servers.js';

const SEED = process.env.FUZZ_SEED !== undefined ? Number.parseInt(process.env.FUZZ_SEED, 10) | 0 : (Date.now() ^ (process.pid << 10)) | 0;
const PATHS = Math.max(100_000, Number.parseInt(process.env.FUZZ_PATHS ?? '100000', 10));
const BATCH = 25;
const HTTP_PATHS = 1500;
const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const REDIS_PREFIX = '.well-known/acme-challenge/';

/** A deterministic token from an index (seed-independent world: the paths are what is random). */
function tokenOf(i: number, length = 43): string {
  let out = '';
  let x = (i + 1) * 2654435761;
  for (let k = 0; k < length; k++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out += B64.charAt(x % 64);
  }
  return out;
}
const THUMB = 'TH' + tokenOf(999, 41);

const HITS = Array.from({ length: 8 }, (_, i) => tokenOf(i, i === 0 ? 16 : i === 1 ? 256 : 43));
/** Valid tokens whose stored value is not that token's key authorization. */
const BAD_SHAPE: [string, string][] = [
  [tokenOf(100), `FOREIGN-not-a-key-authorization-0`],
  [tokenOf(101), `${tokenOf(102)}.${THUMB}`], // another token's key authorization
  [tokenOf(103), `${tokenOf(103)}.${THUMB} FOREIGN-trailing-1`],
  [tokenOf(104), `${tokenOf(104)}.${THUMB}\nFOREIGN-header-injection: 2`],
  [tokenOf(105), `<script>FOREIGN-html-3</script>`],
  [tokenOf(106), `${tokenOf(106)}.`],
  [tokenOf(107), `${tokenOf(107)}.${'x'.repeat(200)}FOREIGN4`],
  [tokenOf(108), `${tokenOf(108)}.FOREIGN-short`],
];
/** Keys outside the token space, with values that must never be served. */
const FOREIGN_KEYS = ['secret', '.well-known/secret', '.well-known/acme-challenge', '.well-known/acme-challenge/', 'session:abc',
  `.well-known/acme-challenge/../secret`, `.well-known/acme-challenge/${HITS[2]}/x`, `.well-known/acme-challenge/${HITS[2]}?a=1`,
  `.well-known/acme-challenge/%2e%2e`, `/.well-known/acme-challenge/${HITS[3]}`, `${HITS[4]}`, `.WELL-KNOWN/ACME-CHALLENGE/${HITS[5]}`,
  `.well-known/acme-challenge/${'a'.repeat(15)}`, `.well-known/acme-challenge/${'b'.repeat(257)}`, `.well-known/acme-challenge/é${HITS[6]}`];
const FOREIGN_VALUE = (i: number): string => `FOREIGN-${i}-${tokenOf(500 + i, 20)}`;
const HIT_VALUE = new Map(HITS.map((t) => [t, `${t}.${THUMB}`]));
const MARKERS = ['FOREIGN', '<script', ...BAD_SHAPE.map(([, v]) => v)];

const HAVE_REDIS = resolveBinary('redis-server') !== undefined;
let redis: RedisServer | undefined;
let store: RedisTokenStore | undefined;
before(async () => {
  if (!HAVE_REDIS) return;
  redis = await startRedis();
  for (const [t, v] of HIT_VALUE) await redis.command('SET', REDIS_PREFIX + t, v);
  for (const [t, v] of BAD_SHAPE) await redis.command('SET', REDIS_PREFIX + t, v);
  for (const [i, k] of FOREIGN_KEYS.entries()) await redis.command('SET', k, FOREIGN_VALUE(i));
  store = new RedisTokenStore({ url: redis.url });
});
after(async () => {
  await store?.close();
  await redis?.stop();
});

// --- the path generator ---------------------------------------------------------------------------
const knownToken = fc.constantFrom(...HITS, ...BAD_SHAPE.map(([t]) => t));
const randomToken = fc.string({ unit: fc.constantFrom(...B64), minLength: 1, maxLength: 300 });
const unicode = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 6 });
const binary = fc.string({ unit: 'binary', minLength: 0, maxLength: 40 });
const segment = fc.constantFrom('', '.', '..', '...', '%2e', '%2E%2e', '%2f', '%2F', '%5c', '%00', '%252e', '..;', ';', '~', '\\', '..\\', '.%2e', '%c0%ae',
  '.well-known', 'acme-challenge', 'ACME-CHALLENGE', 'acme-challenge%2f', '.well-known%2facme-challenge', 'secret', 'session:abc');
const prefix = fc.oneof({ weight: 6, arbitrary: fc.constant(CHALLENGE_PATH_PREFIX) }, { weight: 4, arbitrary: fc.constantFrom('//.well-known/acme-challenge/', '/.well-known//acme-challenge/',
  '/.well-known/acme-challenge//', '/.well-known/./acme-challenge/', '/.well-known/acme-challenge/./', '/.well-known/acme-challenge/../acme-challenge/',
  '/.well-known%2Facme-challenge%2F', '/.well-known/acme%2Dchallenge/', '/.WELL-KNOWN/acme-challenge/', '.well-known/acme-challenge/',
  'http://www.example.com/.well-known/acme-challenge/', '/.well-known/acme-challenge\\', '/.well-known/acme-challenge', '/', '') });
const suffix = fc.oneof({ weight: 6, arbitrary: fc.constant('') }, { weight: 4, arbitrary: fc.constantFrom('/', '.', '?', '?a=b', '#', '#x', '%00', '%20', ' ', '\t', '\r\n', '=', ';jsessionid=1', '/..', '/../secret', '%2f..%2fsecret') });
const encodeSome = (s: string, mask: number): string =>
  [...s].map((ch, i) => ((mask >> (i % 31)) & 1 ? [...Buffer.from(ch, 'utf8')].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('') : ch)).join('');

const tokenPart = fc.oneof(
  { weight: 4, arbitrary: knownToken },
  { weight: 2, arbitrary: randomToken },
  { weight: 1, arbitrary: fc.tuple(knownToken, fc.integer()).map(([t, m]) => encodeSome(t, m)) },
  { weight: 1, arbitrary: fc.tuple(knownToken, unicode, fc.nat()).map(([t, u, at]) => t.slice(0, at % (t.length + 1)) + u + t.slice(at % (t.length + 1))) },
  { weight: 1, arbitrary: fc.constantFrom(...FOREIGN_KEYS) },
  { weight: 1, arbitrary: fc.array(segment, { minLength: 1, maxLength: 5 }).map((s) => s.join('/')) },
  { weight: 1, arbitrary: binary },
);
const path = fc.oneof(
  { weight: 8, arbitrary: fc.tuple(prefix, tokenPart, suffix).map(([p, t, s]) => p + t + s) },
  { weight: 1, arbitrary: fc.tuple(fc.array(segment, { maxLength: 6 }), knownToken).map(([s, t]) => `/${[...s, t].join('/')}`) },
  { weight: 1, arbitrary: fc.oneof(binary, unicode).map((s) => (s.startsWith('/') ? s : `/${s}`)) },
);
const method = fc.constantFrom('GET', 'GET', 'GET', 'GET', 'HEAD', 'POST', 'get', 'OPTIONS');

/** Would the responder look this path up? (prefix + a token of the store's shape, exactly) */
function wellFormed(p: string): boolean {
  return p.startsWith(CHALLENGE_PATH_PREFIX) && TOKEN_PATTERN.test(p.slice(CHALLENGE_PATH_PREFIX.length));
}

function checkAnswer(p: string, m: string, status: number, headers: Record<string, string | string[] | undefined>, body: string): void {
  const text = `${body}\n${Object.entries(headers).map(([k, v]) => `${k}: ${String(v)}`).join('\n')}`;
  for (const marker of MARKERS) assert.ok(!text.includes(marker), `a foreign or badly shaped value leaked for ${JSON.stringify(p)}`);
  for (let i = 0; i < FOREIGN_KEYS.length; i++) assert.ok(!text.includes(FOREIGN_VALUE(i)), `foreign value ${i} leaked for ${JSON.stringify(p)}`);
  const token = p.slice(CHALLENGE_PATH_PREFIX.length);
  if (status === 200) {
    assert.ok(wellFormed(p) && HIT_VALUE.has(token), `only exact hits answer 200: ${JSON.stringify(p)}`);
    assert.equal(body, m === 'HEAD' ? '' : HIT_VALUE.get(token));
  } else {
    assert.ok([400, 404, 405].includes(status), `status ${status} for ${m} ${JSON.stringify(p)}`);
    assert.ok(!body.includes(THUMB), 'no key authorization outside a 200');
  }
  if (status !== 400) assert.equal(headers['cache-control'], 'no-store');
}

async function getCount(): Promise<{ get: number; other: Record<string, number> }> {
  const stats = await (redis as RedisServer).commandStats();
  const { get = 0, info: _i, 'config|resetstat': _c, ...other } = stats;
  return { get, other };
}

test(`responder fuzz over real Redis: ≥${PATHS} hostile paths, no foreign value, misses never reach Redis`, { timeout: 240_000 }, async (t) => {
  if (!requireServer(t, 'redis-server') || !redis || !store) return;
  t.diagnostic(`fuzz seed ${SEED} (replay: FUZZ_SEED=${SEED}), ${PATHS} paths`);
  const responder: ChallengeResponder = createChallengeResponder({ store });
  await store.check();
  await redis.resetStats();
  let sent = 0;
  let expectedGets = 0;
  let hits = 0;
  await fc.assert(
    fc.asyncProperty(fc.array(fc.tuple(path, method), { minLength: BATCH, maxLength: BATCH }), async (batch) => {
      for (const [p, m] of batch) {
        const res = await responder.handle({ method: m, path: p, host: 'www.example.com' });
        sent += 1;
        if ((m === 'GET' || m === 'HEAD') && wellFormed(p)) expectedGets += 1;
        if (res.status === 200) hits += 1;
        checkAnswer(p, m, res.status, res.headers, res.body);
      }
    }),
    { seed: SEED, numRuns: Math.ceil(PATHS / BATCH), endOnFailure: true },
  );
  const counts = await getCount();
  t.diagnostic(`${sent} paths, ${hits} hits, ${expectedGets} well-formed lookups, Redis GETs ${counts.get}`);
  assert.ok(sent >= PATHS);
  assert.ok(hits > 0 && expectedGets < sent / 2, 'the generator produced both hits and many misses');
  assert.equal(counts.get, expectedGets, 'exactly one GET per well-formed path: no miss by shape reached Redis');
  assert.deepEqual(counts.other, {}, 'the responder sent no other command');
});

/** One raw HTTP/1.1 request over TCP, bytes exactly as given; resolves with status, headers, body. */
function rawRequest(port: number, m: string, p: string): Promise<{ status: number; headers: Record<string, string>; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    const chunks: Buffer[] = [];
    socket.setTimeout(5000, () => socket.destroy(new Error('timeout')));
    socket.on('connect', () => socket.write(Buffer.from(`${m} ${p} HTTP/1.1\r\nHost: www.example.com\r\nConnection: close\r\n\r\n`, 'utf8')));
    socket.on('data', (d: Buffer) => chunks.push(d));
    socket.on('error', reject);
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const [head = '', ...rest] = text.split('\r\n\r\n');
      const [statusLine = '', ...lines] = head.split('\r\n');
      const headers: Record<string, string> = {};
      for (const l of lines) {
        const i = l.indexOf(':');
        if (i > 0) headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
      }
      resolve({ status: Number(statusLine.split(' ')[1] ?? 0), headers, body: rest.join('\r\n\r\n') });
    });
  });
}

test(`responder fuzz over HTTP: ${HTTP_PATHS} raw requests to the responder server, same properties`, { timeout: 120_000 }, async (t) => {
  if (!requireServer(t, 'redis-server') || !redis || !store) return;
  const seed = SEED ^ 0x5a5a;
  t.diagnostic(`http fuzz seed ${seed} (derived from FUZZ_SEED=${SEED})`);
  const server = await startResponderServer({ responder: createChallengeResponder({ store }), host: '127.0.0.1', port: 0 });
  t.after(() => server.close(100));
  await redis.resetStats();
  let expectedGets = 0;
  const samples = fc.sample(fc.tuple(path, method), { seed, numRuns: HTTP_PATHS });
  for (const [p, m] of samples) {
    // A request line cannot carry CR/LF or spaces as such: those bytes are the request's own framing.
    const line = p.replace(/[\r\n ]/g, '%20');
    const res = await rawRequest(server.address.port, m, line.length === 0 ? '/' : line);
    if ((m === 'GET' || m === 'HEAD') && wellFormed(line) && res.status !== 400) expectedGets += 1;
    checkAnswer(line, m, res.status, res.headers, res.status === 404 ? res.body.replace(NOT_FOUND_BODY, '') : res.body);
  }
  const counts = await getCount();
  assert.equal(counts.get, expectedGets, 'exactly one GET per well-formed path over HTTP too');
  assert.deepEqual(counts.other, {});
});
