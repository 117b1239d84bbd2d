import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FakeClock } from '../../testing/fake-clock.js';
import type { ChallengeTokenStore } from './challenge-token-store.js';
import { MemoryTokenStore } from './memory-token-store.js';
import type { ResponderRequest } from './responder.js';
import { CHALLENGE_PATH_PREFIX, NOT_FOUND_BODY, createChallengeResponder } from './responder.js';

const TOKEN = 'evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA';
const KEY_AUTHORIZATION = `${TOKEN}.9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI`;
const PATH = `${CHALLENGE_PATH_PREFIX}${TOKEN}`;

async function responderWith(options: { allowedHosts?: string[] } = {}): Promise<ReturnType<typeof createChallengeResponder>> {
  const store = new MemoryTokenStore({ clock: new FakeClock() });
  await store.put(TOKEN, KEY_AUTHORIZATION, 600);
  return createChallengeResponder({ store, ...options });
}

function assertSafeHeaders(headers: Record<string, string>): void {
  assert.equal(headers['cache-control'], 'no-store');
  assert.equal(headers['x-content-type-options'], 'nosniff');
}

void test('a stored token is answered 200 with exactly its key authorization as text/plain', async () => {
  const responder = await responderWith();
  const res = await responder.handle({ method: 'GET', path: PATH, host: 'www.example.com' });
  assert.equal(res.status, 200);
  assert.equal(res.body, KEY_AUTHORIZATION);
  assert.equal(res.headers['content-type'], 'text/plain');
  assert.equal(res.headers['content-length'], String(KEY_AUTHORIZATION.length));
  assertSafeHeaders(res.headers);
});

void test('HEAD gets the GET status and headers with no body', async () => {
  const responder = await responderWith();
  const res = await responder.handle({ method: 'HEAD', path: PATH });
  assert.equal(res.status, 200);
  assert.equal(res.body, '');
  assert.equal(res.headers['content-length'], String(KEY_AUTHORIZATION.length));
  assertSafeHeaders(res.headers);
  const missing = await responder.handle({ method: 'HEAD', path: `${CHALLENGE_PATH_PREFIX}${'x'.repeat(43)}` });
  assert.equal(missing.status, 404);
  assert.equal(missing.body, '');
});

void test('methods other than GET and HEAD under the prefix answer 405 with Allow', async () => {
  const responder = await responderWith();
  for (const method of ['POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'TRACE', 'get', 'CONNECT', '']) {
    const res = await responder.handle({ method, path: PATH });
    assert.equal(res.status, 405, method);
    assert.equal(res.headers.allow, 'GET, HEAD');
    assert.ok(!res.body.includes(KEY_AUTHORIZATION), method);
    assertSafeHeaders(res.headers);
  }
});

const notFoundPaths: [string, string][] = [
  ['unknown token', `${CHALLENGE_PATH_PREFIX}${'Q'.repeat(43)}`],
  ['traversal', `${CHALLENGE_PATH_PREFIX}../${TOKEN}`],
  ['traversal out', `${CHALLENGE_PATH_PREFIX}../x`],
  ['encoded dots', `${CHALLENGE_PATH_PREFIX}%2e%2e/${TOKEN}`],
  ['encoded dots upper', `${CHALLENGE_PATH_PREFIX}%2E%2E%2F${TOKEN}`],
  ['encoded slash', `/.well-known%2Facme-challenge%2F${TOKEN}`],
  ['encoded token char', `${CHALLENGE_PATH_PREFIX}%65${TOKEN.slice(1)}`],
  ['encoded prefix', `/.well-known/acme%2Dchallenge/${TOKEN}`],
  ['double slash', `/.well-known/acme-challenge//${TOKEN}`],
  ['leading double slash', `//.well-known/acme-challenge/${TOKEN}`],
  ['dot segment', `/.well-known/./acme-challenge/${TOKEN}`],
  ['trailing slash', `${PATH}/`],
  ['trailing dot', `${PATH}.`],
  ['extra segment', `${PATH}/x`],
  ['backslash', `/.well-known/acme-challenge\\${TOKEN}`],
  ['query string', `${PATH}?x=1`],
  ['empty query', `${PATH}?`],
  ['fragment', `${PATH}#frag`],
  ['too short token', `${CHALLENGE_PATH_PREFIX}${'a'.repeat(15)}`],
  ['too long token', `${CHALLENGE_PATH_PREFIX}${'a'.repeat(257)}`],
  ['padding', `${CHALLENGE_PATH_PREFIX}${TOKEN}=`],
  ['non-base64url char', `${CHALLENGE_PATH_PREFIX}${TOKEN.slice(0, -1)}+`],
  ['unicode look-alike', `${CHALLENGE_PATH_PREFIX}${TOKEN.slice(0, -1)}ᴀ`],
  ['newline', `${PATH}\n`],
  ['nul byte', `${PATH}\0`],
  ['other prefix', `/.well-known/other/${TOKEN}`],
  ['upper-case prefix', `/.WELL-KNOWN/ACME-CHALLENGE/${TOKEN}`],
  ['root', '/'],
  ['bare prefix', '/.well-known/acme-challenge'],
  ['prefix with slash', CHALLENGE_PATH_PREFIX],
  ['no leading slash', PATH.slice(1)],
  ['absolute form', `http://www.example.com${PATH}`],
  ['token as top-level path', `/${TOKEN}`],
  ['empty', ''],
];

for (const [name, path] of notFoundPaths) {
  void test(`404 for ${name}`, async () => {
    const responder = await responderWith();
    const res = await responder.handle({ method: 'GET', path });
    assert.equal(res.status, 404);
    assert.equal(res.body, NOT_FOUND_BODY);
    assertSafeHeaders(res.headers);
  });
}

void test('matches() claims exactly the paths under the challenge prefix', async () => {
  const responder = await responderWith();
  for (const path of [PATH, CHALLENGE_PATH_PREFIX, '/.well-known/acme-challenge', '/.well-known/acme-challenge?x', `${PATH}/../x`]) {
    assert.equal(responder.matches(path), true, path);
  }
  for (const path of ['/', '/index.html', '/.well-known/acme-challengeX/t', '/.well-known/other', `/.well-known%2Facme-challenge/${TOKEN}`, `http://h${PATH}`]) {
    assert.equal(responder.matches(path), false, path);
  }
});

void test('the host check answers only allowed hosts, case-insensitively, ignoring the port', async () => {
  const responder = await responderWith({ allowedHosts: ['www.example.com', '*.apps.example.com', '[2001:db8::1]'] });
  const cases: [string | undefined, number][] = [
    ['www.example.com', 200],
    ['WWW.Example.COM', 200],
    ['www.example.com:80', 200],
    ['www.example.com.', 200],
    ['a.apps.example.com', 200],
    ['x.y.apps.example.com:8080', 200],
    ['[2001:db8::1]:80', 200],
    ['[2001:DB8::1]', 200],
    ['apps.example.com', 404],
    ['example.com', 404],
    ['evil.com', 404],
    ['www.example.com.evil.com', 404],
    ['evilapps.example.com', 404],
    ['', 404],
    [undefined, 404],
  ];
  for (const [host, status] of cases) {
    const res = await responder.handle({ method: 'GET', path: PATH, host });
    assert.equal(res.status, status, `host ${String(host)}`);
    assert.equal(res.body, status === 200 ? KEY_AUTHORIZATION : NOT_FOUND_BODY);
  }
});

void test('a failing store answers 503 with a constant body and logs without the key authorization', async () => {
  const logged: unknown[] = [];
  const logger = {
    warn: (...args: unknown[]) => logged.push(args),
    debug: () => undefined,
  } as unknown as NonNullable<Parameters<typeof createChallengeResponder>[0]['logger']>;
  const store: ChallengeTokenStore = {
    put: async () => undefined,
    get: async () => {
      // A client library's error may carry what it was handling: the value, the command, a cause
      // holding the password. The log keeps the kind and message only.
      throw Object.assign(new Error('connection refused'), {
        value: KEY_AUTHORIZATION,
        command: { name: 'get', args: ['acme:token', KEY_AUTHORIZATION] },
        // Plain objects, so JSON.stringify below would show them if they reached the log.
        cause: { message: 'AUTH hunter2-password rejected' },
        options: { password: 'hunter2-password' },
      });
    },
    delete: async () => undefined,
  };
  const responder = createChallengeResponder({ store, logger });
  const res = await responder.handle({ method: 'GET', path: PATH });
  assert.equal(res.status, 503);
  assert.equal(res.body, 'Service Unavailable\n');
  assert.ok(!res.body.includes('connection refused'), 'no error detail in the response');
  assertSafeHeaders(res.headers);
  assert.equal(logged.length, 1);
  const line = JSON.stringify(logged);
  assert.match(line, /connection refused/);
  assert.ok(!line.includes(KEY_AUTHORIZATION.split('.')[1] ?? KEY_AUTHORIZATION), 'no key authorization in the log');
  assert.ok(!line.includes('hunter2-password'), 'nothing from the cause in the log');
});

void test('the store is asked for the token only, and only for well-formed requests', async () => {
  const asked: string[] = [];
  const store: ChallengeTokenStore = {
    put: async () => undefined,
    get: async (token) => {
      asked.push(token);
      return undefined;
    },
    delete: async () => undefined,
  };
  const responder = createChallengeResponder({ store, allowedHosts: ['www.example.com'] });
  const requests: ResponderRequest[] = [
    { method: 'GET', path: PATH, host: 'www.example.com' },
    { method: 'GET', path: PATH, host: 'other.example.com' },
    { method: 'POST', path: PATH, host: 'www.example.com' },
    ...notFoundPaths.map(([, path]) => ({ method: 'GET', path, host: 'www.example.com' })),
  ];
  for (const request of requests) await responder.handle(request);
  assert.deepEqual(asked, [TOKEN, 'Q'.repeat(43)]);
});

void test('a value that is not a string (a misbehaving store) is a 404, not a crash', async () => {
  const store = {
    put: async () => undefined,
    get: async () => null,
    delete: async () => undefined,
  } as unknown as ChallengeTokenStore;
  const res = await createChallengeResponder({ store }).handle({ method: 'GET', path: PATH });
  assert.equal(res.status, 404);
});

void test('a value under a token key that is not that token\'s key authorization is never served', async () => {
  const store = new MemoryTokenStore({ clock: new FakeClock() });
  const other = 'xN4p3dkqXQ0mm8aP2cMvb7sLZ1e9YtRf5uWjHgKoIcA';
  await store.put(TOKEN, 'redis-password-or-session-blob', 60); // a colliding key in a shared store
  await store.put(other, `${TOKEN}.9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI`, 60); // another token's answer
  const responder = createChallengeResponder({ store });
  for (const token of [TOKEN, other]) {
    const res = await responder.handle({ method: 'GET', path: `${CHALLENGE_PATH_PREFIX}${token}` });
    assert.equal(res.status, 404, token);
    assert.equal(res.body, NOT_FOUND_BODY);
  }
});

void test('stateless mode answers <token>.<thumbprint> for any well-formed token and 404 for anything else', async () => {
  const thumbprint = '9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI';
  const responder = createChallengeResponder({ thumbprint });
  const other = 'Xz'.repeat(20);
  for (const token of [TOKEN, other]) {
    const res = await responder.handle({ method: 'GET', path: `${CHALLENGE_PATH_PREFIX}${token}` });
    assert.equal(res.status, 200);
    assert.equal(res.body, `${token}.${thumbprint}`);
    assertSafeHeaders(res.headers);
  }
  for (const [, path] of notFoundPaths.filter(([name]) => name !== 'unknown token')) {
    const res = await responder.handle({ method: 'GET', path });
    assert.equal(res.status, 404, path);
  }
  assert.equal(await responder.healthy(), true);
});

void test('a responder needs exactly one of store and thumbprint, and a thumbprint of the right shape', async () => {
  const store = new MemoryTokenStore({ clock: new FakeClock() });
  assert.throws(() => createChallengeResponder({}), { code: 'ERR_INTERNAL' });
  assert.throws(() => createChallengeResponder({ store, thumbprint: 'x'.repeat(43) }), { code: 'ERR_INTERNAL' });
  assert.throws(() => createChallengeResponder({ thumbprint: 'not a thumbprint!' }), { code: 'ERR_CLI_USAGE' });
});

void test('healthy() follows the store check, and a store without one is healthy', async () => {
  let up = true;
  const checked = Object.assign(new MemoryTokenStore({ clock: new FakeClock() }), {
    check: async () => {
      if (!up) throw new Error('down');
    },
  });
  const responder = createChallengeResponder({ store: checked });
  assert.equal(await responder.healthy(), true);
  up = false;
  assert.equal(await responder.healthy(), false);
  assert.equal(await createChallengeResponder({ store: new MemoryTokenStore() }).healthy(), true);
});

void test('a malformed stored value answers 404 like a missing token and is logged once per token, naming the token and what is wrong, never the value', async () => {
  const logged: { fields: Record<string, unknown>; msg: string }[] = [];
  const logger = {
    warn: (fields: Record<string, unknown>, msg: string) => logged.push({ fields, msg }),
    debug: () => undefined,
  } as unknown as NonNullable<Parameters<typeof createChallengeResponder>[0]['logger']>;
  const store = new MemoryTokenStore({ clock: new FakeClock() });
  const other = 'Zq9ym3X_aK2pLw7RtVb0cNdEfGhIjKlMnOpQrStUvWx';
  const secretish = 'v4lue-that-must-not-be-logged';
  await store.put(TOKEN, `${TOKEN}.${secretish}!`, 600);
  await store.put(other, `{"keyAuthorization":"${secretish}"}`, 600);
  const responder = createChallengeResponder({ store, logger });
  for (let i = 0; i < 20; i++) {
    for (const token of [TOKEN, other]) {
      const res = await responder.handle({ method: 'GET', path: `${CHALLENGE_PATH_PREFIX}${token}` });
      assert.equal(res.status, 404);
      assert.equal(res.body, NOT_FOUND_BODY);
    }
  }
  assert.deepEqual(logged.map((l) => l.fields.challengeToken), [TOKEN, other], 'one warning per token, not one per request');
  assert.match(String(logged[0]?.fields.problem), /after "<token>\." is not a base64url account thumbprint/);
  assert.match(String(logged[1]?.fields.problem), /does not start with this token/);
  assert.match(logged[0]?.msg ?? '', /not its key authorization/);
  assert.ok(!JSON.stringify(logged).includes(secretish), 'the stored value is never logged');
  // A well-formed token that is simply absent logs nothing.
  assert.equal((await responder.handle({ method: 'GET', path: `${CHALLENGE_PATH_PREFIX}${'Q'.repeat(43)}` })).status, 404);
  assert.equal(logged.length, 2);
});
