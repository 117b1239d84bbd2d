/**
 * Fuzz test of the http-01 responder: thousands of random and mutated request paths against a store
 * that also holds "secret" values under keys that are not tokens. Deterministic for a seed; set
 * FUZZ_SEED to replay a failure (the seed is printed as a test diagnostic) and FUZZ_RUNS for more cases.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
import { test } from 'node:test';
import type { ChallengeTokenStore } from './challenge-token-store.js';
import { TOKEN_PATTERN } from './challenge-token-store.js';
import { challengeRequestListener } from './middleware/node.js';
import { CHALLENGE_PATH_PREFIX, NOT_FOUND_BODY, createChallengeResponder } from './responder.js';
import { mulberry32 } from '../../testing/prng.js';

const SEED = process.env.FUZZ_SEED === undefined ? 0x5eed_2026 : Number.parseInt(process.env.FUZZ_SEED, 10) >>> 0;
const RUNS = process.env.FUZZ_RUNS === undefined ? 5000 : Number.parseInt(process.env.FUZZ_RUNS, 10);
const RAW_RUNS = Math.max(1, Math.min(400, Math.floor(RUNS / 10)));

const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

class Gen {
  constructor(readonly next: () => number) {}
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)] as T;
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  string(length: number, alphabet: string): string {
    let out = '';
    for (let i = 0; i < length; i++) out += alphabet.charAt(this.int(alphabet.length));
    return out;
  }
  codeUnits(length: number, max: number): string {
    let out = '';
    for (let i = 0; i < length; i++) out += String.fromCharCode(this.int(max));
    return out;
  }
  unicode(length: number): string {
    let out = '';
    for (let i = 0; i < length; i++) {
      const kind = this.int(4);
      if (kind === 0) out += String.fromCodePoint(0x80 + this.int(0x780));
      else if (kind === 1) out += String.fromCodePoint(0x10000 + this.int(0xfffff));
      else if (kind === 2) out += String.fromCharCode(0xd800 + this.int(0x800)); // lone surrogate
      else out += this.pick(['\u2215', '\u2044', '\uff0f', '\uff0e', '\u2024', '\u00a0', '\u200b', 'ſ', 'K', 'ı']);
    }
    return out;
  }
}

/** A store over arbitrary keys that records every key asked for. */
class KeyedStore implements ChallengeTokenStore {
  readonly asked: string[] = [];
  constructor(readonly values: ReadonlyMap<string, string>) {}
  async put(): Promise<void> {
    throw new Error('the responder must never write');
  }
  async get(key: string): Promise<string | undefined> {
    this.asked.push(key);
    return this.values.get(key);
  }
  async delete(): Promise<void> {
    throw new Error('the responder must never delete');
  }
}

interface World {
  store: KeyedStore;
  /** Canonical path → key authorization, for every stored valid token. */
  canonical: Map<string, string>;
  tokens: string[];
  secretKeys: string[];
  secretValues: string[];
}

function makeWorld(gen: Gen): World {
  const values = new Map<string, string>();
  const canonical = new Map<string, string>();
  const tokens: string[] = [];
  for (let i = 0; i < 24; i++) {
    const length = i === 0 ? 16 : i === 1 ? 256 : 16 + gen.int(120);
    const token = gen.string(length, B64URL);
    const keyAuthorization = `${token}.${gen.string(43, B64URL)}`;
    tokens.push(token);
    values.set(token, keyAuthorization);
    canonical.set(`${CHALLENGE_PATH_PREFIX}${token}`, keyAuthorization);
  }
  const first = tokens[0] as string;
  const secretKeys = [
    'secret', '../secret', '../../etc/passwd', 'config:db:password', 'session/abc', '', '.', '..', '/',
    `${first}/x`, `${first}?a=1`, `${first}%2e`, `../${first}`, `.well-known/acme-challenge/${first}`,
    `${CHALLENGE_PATH_PREFIX}${first}`, 'a'.repeat(15), 'b'.repeat(257), 'token with space xx', 'tok\u0000enAAAAAAAAAAAAA',
    'ACME-Sécret-ÄÖÜ-0000', '%2e%2e', 'a.b.c.d.e.f.g.h.i', 'evil\\secret\\key',
  ];
  const secretValues: string[] = [];
  for (const key of secretKeys) {
    assert.ok(!TOKEN_PATTERN.test(key), `secret key ${JSON.stringify(key)} must not look like a token`);
    const value = `SECRET-${gen.string(24, B64URL)}`;
    values.set(key, value);
    secretValues.push(value);
  }
  return { store: new KeyedStore(values), canonical, tokens, secretKeys, secretValues };
}

const SEGMENTS = ['', '.', '..', '.well-known', 'acme-challenge', '%2e', '%2E%2e', '%2f', '%2F', '%5c', '%00', '...', 'secret',
  '..;', ';', '%252e', '~', '\\', '..\\', '.%2e', '%c0%ae', '%u002e', 'acme-challenge%2f', '.well-known%2facme-challenge'];

function percentEncode(gen: Gen, s: string): string {
  let out = '';
  for (const ch of s) {
    if (gen.chance(0.3)) {
      for (const byte of Buffer.from(ch, 'utf8')) {
        const hex = byte.toString(16).padStart(2, '0');
        out += `%${gen.chance(0.5) ? hex.toUpperCase() : hex}`;
      }
    } else {
      out += ch;
    }
  }
  return out;
}

function mutate(gen: Gen, world: World, path: string): string {
  const at = gen.int(path.length + 1);
  switch (gen.int(16)) {
    case 0: return path.slice(0, at) + gen.codeUnits(1, 128) + path.slice(at);
    case 1: return path.slice(0, at) + path.slice(at + 1);
    case 2: return path.slice(0, at) + gen.string(1, B64URL + '/.%?#\\') + path.slice(at + 1);
    case 3: return path.slice(0, at) + (path.charAt(at).toUpperCase() === path.charAt(at) ? path.charAt(at).toLowerCase() : path.charAt(at).toUpperCase()) + path.slice(at + 1);
    case 4: return path.replace('/', '//');
    case 5: return path.slice(0, at) + gen.pick(['../', './', '/..', '%2e%2e/', '..%2f', '%2e', '/%2F']) + path.slice(at);
    case 6: return path + gen.pick(['?', '?a=b', '#', '#x', '/', '.', '%00', '%20', ' ', '\t', '=', '==', ';jsessionid=1']);
    case 7: return gen.pick(['http://example.com', 'https://a', '//', '/', 'HTTP://x:80', '*']) + path;
    case 8: return path.slice(0, Math.max(0, path.length - 1 - gen.int(8)));
    case 9: return path + gen.string(1 + gen.int(8), B64URL);
    case 10: return `${CHALLENGE_PATH_PREFIX}${gen.pick(world.secretKeys)}`;
    case 11: return `/${gen.pick(world.secretKeys)}`;
    case 12: return percentEncode(gen, path);
    case 13: return path.slice(0, at) + gen.unicode(1 + gen.int(3)) + path.slice(at);
    case 14: return path.replace('acme-challenge', gen.pick(['acme-challenge/', 'acme_challenge', 'ACME-CHALLENGE', 'acme-challenge/.', 'acme-challenge/..']));
    default: return path.replaceAll('/', gen.pick(['\\', '%2f', '%2F', '//', '/./']));
  }
}

function randomPath(gen: Gen, world: World): string {
  const valid = `${CHALLENGE_PATH_PREFIX}${gen.pick(world.tokens)}`;
  switch (gen.int(10)) {
    case 0: return valid;
    case 1: return gen.codeUnits(gen.int(80), 128);
    case 2: return gen.codeUnits(gen.int(80), 256);
    case 3: return gen.unicode(gen.int(20));
    case 4: {
      const parts = Array.from({ length: 1 + gen.int(7) }, () => (gen.chance(0.2) ? gen.pick(world.tokens) : gen.pick(SEGMENTS)));
      return `/${parts.join(gen.chance(0.8) ? '/' : '\\')}`;
    }
    case 5: return `${CHALLENGE_PATH_PREFIX}${gen.string(16 + gen.int(60), B64URL)}`;
    case 6: return gen.chance(0.5) ? percentEncode(gen, valid) : `${CHALLENGE_PATH_PREFIX}${percentEncode(gen, gen.pick(world.tokens))}`;
    default: {
      let path = valid;
      for (let i = 1 + gen.int(3); i > 0; i--) path = mutate(gen, world, path);
      return path;
    }
  }
}

const HOSTS: [string | undefined, boolean][] = [
  ['www.example.com', true], ['WWW.EXAMPLE.COM:80', true], ['a.b.example.net', true], ['example.net', false],
  ['evil.example', false], ['www.example.com.evil.example', false], [undefined, false], ['', false],
];

/** Header names a responder answer may carry; node:http adds the last three on a real socket. */
const ALLOWED_HEADERS = new Set(['content-type', 'content-length', 'cache-control', 'x-content-type-options', 'allow', 'date', 'connection', 'keep-alive']);

/**
 * The response headers leak nothing: no secret value and no key authorization (not even the one
 * answered: it belongs in the body only) in any header name or value, no CR/LF/NUL that could split
 * the response, only the expected header names, and a Content-Length that is the GET body's length.
 */
function checkHeaders(world: World, status: number, headers: Record<string, string>, rawHead: string, label: string): void {
  for (const text of [rawHead, ...Object.entries(headers).flat()]) {
    for (const secret of world.secretValues) assert.ok(!text.includes(secret), `${label}: a secret value leaked into a header`);
    for (const keyAuthorization of world.canonical.values()) assert.ok(!text.includes(keyAuthorization), `${label}: a key authorization leaked into a header`);
  }
  for (const [name, value] of Object.entries(headers)) {
    assert.ok(ALLOWED_HEADERS.has(name.toLowerCase()), `${label}: unexpected header ${JSON.stringify(name)}`);
    assert.doesNotMatch(value, /[\r\n\0]/, `${label}: header ${name} holds a control character`);
  }
  if (status === 405) assert.equal(headers.allow, 'GET, HEAD', `${label}: Allow on 405`);
  else assert.equal(headers.allow, undefined, `${label}: Allow only on 405`);
}

function checkCommon(world: World, status: number, headers: Record<string, string>, body: string, label: string, rawHead = ''): void {
  assert.ok(status < 500, `${label}: no 5xx, got ${status}`);
  for (const secret of world.secretValues) assert.ok(!body.includes(secret), `${label}: a secret value leaked`);
  checkHeaders(world, status, headers, rawHead, label);
  if (status !== 200) {
    assert.ok(body === '' || body === NOT_FOUND_BODY || body === 'Method Not Allowed\n', `${label}: constant body, got ${JSON.stringify(body)}`);
  }
  assert.equal(headers['cache-control'], 'no-store', `${label}: Cache-Control`);
}

function checkAsked(world: World, seedNote: string): void {
  for (const key of world.store.asked) {
    assert.ok(TOKEN_PATTERN.test(key), `${seedNote}: the store was asked for ${JSON.stringify(key)}, which is not a token`);
  }
}

void test('responder fuzz: only canonical paths of stored tokens are ever answered, and only with their value', async (t) => {
  t.diagnostic(`FUZZ_SEED=${SEED} FUZZ_RUNS=${RUNS}`);
  const gen = new Gen(mulberry32(SEED));
  const world = makeWorld(gen);
  const open = createChallengeResponder({ store: world.store });
  const guarded = createChallengeResponder({ store: world.store, allowedHosts: ['www.example.com', '*.example.net'] });
  const statuses = new Map<number, number>();

  for (let run = 0; run < RUNS; run++) {
    const path = randomPath(gen, world);
    const method = gen.chance(0.85) ? 'GET' : gen.pick(['HEAD', 'POST', 'PUT', 'DELETE', 'get', 'OPTIONS']);
    const withHost = gen.chance(0.3);
    const [host, hostOk] = withHost ? gen.pick(HOSTS) : ['www.example.com', true];
    const responder = withHost ? guarded : open;
    const asked = world.store.asked.length;
    const res = await responder.handle({ method, path, host });
    const label = `seed ${SEED} run ${run} ${method} ${JSON.stringify(path)} host ${String(host)}`;
    statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);

    const expected = world.canonical.get(path);
    const should200 = expected !== undefined && (method === 'GET' || method === 'HEAD') && hostOk;
    assert.equal(res.status === 200, should200, `${label}: 200 if and only if canonical, got ${res.status}`);
    if (res.status === 200) assert.equal(res.body, method === 'HEAD' ? '' : expected, `${label}: body is that token's key authorization`);
    if (res.status === 200) assert.equal(res.headers['content-length'], String(Buffer.byteLength(expected ?? '')), `${label}: Content-Length of the GET body`);
    checkCommon(world, res.status, res.headers, res.body, label);
    const newKeys = world.store.asked.slice(asked);
    assert.ok(newKeys.length <= 1, `${label}: at most one store lookup`);
    if (newKeys.length === 1) assert.equal(`${CHALLENGE_PATH_PREFIX}${newKeys[0]}`, path, `${label}: looked up exactly the path's token`);
  }
  checkAsked(world, `seed ${SEED}`);
  t.diagnostic(`statuses: ${JSON.stringify(Object.fromEntries(statuses))}`);
  assert.ok((statuses.get(200) ?? 0) > RUNS / 50, 'the generator exercises the success path');
  assert.ok((statuses.get(404) ?? 0) > RUNS / 2, 'the generator exercises the rejection path');
});

interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** The status line and header lines as received. */
  head: string;
}

/** Sends one request with `path` written byte for byte, bypassing any client-side URL normalisation. */
function rawRequest(port: number, method: string, path: string): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1' });
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('end', () => {
      const text = Buffer.concat(chunks).toString('latin1');
      const split = text.indexOf('\r\n\r\n');
      const head = split === -1 ? text : text.slice(0, split);
      const [statusLine = '', ...lines] = head.split('\r\n');
      const match = /^HTTP\/1\.1 (\d{3})/.exec(statusLine);
      if (match === null) {
        reject(new Error(`no HTTP status line in ${JSON.stringify(text.slice(0, 200))}`));
        return;
      }
      const headers: Record<string, string> = {};
      for (const line of lines) {
        const colon = line.indexOf(':');
        if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
      }
      resolve({ status: Number(match[1]), headers, body: split === -1 ? '' : text.slice(split + 4), head });
    });
    socket.end(Buffer.concat([
      Buffer.from(`${method} `, 'latin1'),
      Buffer.from(path, /[\u0100-\uffff]/.test(path) ? 'utf8' : 'latin1'),
      Buffer.from(' HTTP/1.1\r\nHost: www.example.com\r\nConnection: close\r\n\r\n', 'latin1'),
    ]));
  });
}

void test('responder fuzz over a real node:http server with raw socket requests', { timeout: 120_000 }, async (t) => {
  const seed = (SEED ^ 0x9e3779b9) >>> 0;
  t.diagnostic(`FUZZ_SEED=${SEED} (raw stream ${seed}) raw cases=${RAW_RUNS}`);
  const gen = new Gen(mulberry32(seed));
  const world = makeWorld(gen);
  const server = createServer(challengeRequestListener(createChallengeResponder({ store: world.store })));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const statuses = new Map<number, number>();
  try {
    const cases = Array.from({ length: RAW_RUNS }, () => {
      // CR, LF and space would end the request line: that tests the socket, not the responder.
      const path = randomPath(gen, world).replace(/[\r\n ]/g, '');
      return { path, method: gen.chance(0.9) ? 'GET' : 'HEAD' };
    });
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < cases.length) {
        const index = next++;
        const { path, method } = cases[index] as { path: string; method: string };
        const res = await rawRequest(port, method, path);
        const label = `seed ${SEED} raw case ${index} ${method} ${JSON.stringify(path)}`;
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        const expected = world.canonical.get(path);
        assert.equal(res.status === 200, expected !== undefined, `${label}: 200 if and only if canonical, got ${res.status}`);
        if (res.status === 200) assert.equal(res.body, method === 'HEAD' ? '' : expected, `${label}: exact key authorization`);
        if (res.status === 400) {
          // Rejected by node's own parser before the listener ran: no responder headers, but no leak either.
          for (const secret of world.secretValues) assert.ok(!res.body.includes(secret), `${label}: a secret value leaked`);
          checkHeaders(world, res.status, res.headers, res.head, label);
          continue;
        }
        checkCommon(world, res.status, res.headers, res.body, label, res.head);
      }
    };
    await Promise.all(Array.from({ length: 6 }, worker));
  } finally {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
  checkAsked(world, `seed ${SEED} raw`);
  t.diagnostic(`statuses: ${JSON.stringify(Object.fromEntries(statuses))}`);
  assert.ok((statuses.get(200) ?? 0) > 0, 'some raw requests hit stored tokens');
  assert.ok((statuses.get(404) ?? 0) > 0, 'some raw requests were refused by the responder');
});
