// Redaction by one list, checked against what can hold a secret: every field name of the config
// schema (every plug-in's zod schema, through its JSON Schema) and every property declared in the
// source's interfaces and types. A new field whose name says "secret" fails this test until it is
// either in SECRET_FIELD_NAMES or listed below as not a secret, with the reason.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import * as z from 'zod/mini';
import { configSchema } from './config/schema.js';
import { PLUGINS } from './plugins/registry.js';
import { isSecretFieldName, redactSecrets, redactText, REDACTED, SECRET_MAP_FIELD_NAMES } from './redact.js';

/** Names that look like secrets but are not, and why. */
const NOT_SECRET: Readonly<Record<string, string>> = {
  keyauthorization: 'the http-01 key authorization is public: the CA fetches it over plain HTTP',
  tokenstore: 'names a token store instance',
  tokenttlseconds: 'a duration',
  secretname: 'the name of a Kubernetes Secret, not its content',
  secrets: 'the manifests generator\'s list of Secret references (names and keys the user creates), never a value',
  keyauthorizationfor: 'a method name',
  tokenpattern: 'a regular expression',
  cachehitsms: 'a duration',
  sessions: 'a map of ACME account sessions (URLs and key references), logged nowhere',
  passenv: 'the names of variables passed to a hook, not their values',
  credentialoptions: 'a plug-in declaration: option names (url → urlFile), never a value',
  'token-store': 'a plug-in kind',
  authorizations: 'ACME authorization URLs (RFC 8555 §7.1.3), public to the account',
  untilsecretexists: 'the name of a Kubernetes Secret whose existence makes an RBAC rule unneeded, not its content',
  untilsecretsexist: 'the names of Kubernetes Secrets whose existence makes an RBAC rule unneeded, not their content',
};

const SECRET_LOOKING = /pass(word)?|secret|token|hmac|private.?key|privkey|credential|api.?key|session|bearer|authoriz|cookie/i;
/** References to where a secret is (a file, a variable, an id), not the secret itself. */
const REFERENCE = /(File|Env|Id|Ids|Name|Names|Path|Paths|Dir|Seconds|Ms|Count|Type|Types|Url|Pattern|Prefix|Mode)$/;

function covered(name: string): boolean {
  return isSecretFieldName(name) || SECRET_MAP_FIELD_NAMES.has(name.toLowerCase()) || NOT_SECRET[name.toLowerCase()] !== undefined || REFERENCE.test(name);
}

function jsonSchemaFieldNames(schema: unknown, out = new Set<string>()): Set<string> {
  if (Array.isArray(schema)) for (const s of schema) jsonSchemaFieldNames(s, out);
  else if (schema !== null && typeof schema === 'object') {
    for (const [k, v] of Object.entries(schema)) {
      if (k === 'properties' && v !== null && typeof v === 'object') for (const name of Object.keys(v)) out.add(name);
      jsonSchemaFieldNames(v, out);
    }
  }
  return out;
}

void test('every secret-looking field of the config schema and of every plug-in schema is redacted', () => {
  const names = jsonSchemaFieldNames(z.toJSONSchema(configSchema(), { io: 'input', unrepresentable: 'any' }));
  for (const p of PLUGINS) jsonSchemaFieldNames(z.toJSONSchema(p.schema, { io: 'input', unrepresentable: 'any' }), names);
  assert.ok(names.has('secret') && names.has('env') && names.has('hmacKeyFile'), `the walk reaches plug-in fields: ${[...names].join(', ')}`);
  const missed = [...names].filter((n) => SECRET_LOOKING.test(n) && !covered(n));
  assert.deepEqual(missed, [], 'add these to SECRET_FIELD_NAMES in src/redact.ts (or to NOT_SECRET here, with the reason)');
  assert.ok(SECRET_MAP_FIELD_NAMES.has('env'), 'a hook\'s env values are redacted');
});

void test('every secret-looking property declared in the source\'s interfaces and types is redacted', () => {
  const root = fileURLToPath(new URL('../../src/', import.meta.url));
  const files = (readdirSync(root, { recursive: true }) as string[]).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts') && !f.includes('testing/'));
  assert.ok(files.length > 50, `read the sources from ${root}`);
  const missed = new Set<string>();
  let properties = 0;
  for (const file of files) {
    const text = readFileSync(join(root, file), 'utf8');
    // Bodies of `interface X {…}` and `type X = {…}` declarations, one level of nesting deep.
    for (const m of text.matchAll(/(?:interface\s+\w+(?:<[^>]*>)?(?:\s+extends\s+[^{]+)?|type\s+\w+(?:<[^>]*>)?\s*=)\s*\{((?:[^{}]|\{[^{}]*\})*)\}/g)) {
      for (const p of (m[1] ?? '').matchAll(/^\s*(?:readonly\s+)?['"]?([A-Za-z_][\w-]*)['"]?\??\s*:/gm)) {
        properties++;
        const name = p[1] ?? '';
        if (SECRET_LOOKING.test(name) && !covered(name)) missed.add(`${name} (${file})`);
      }
    }
  }
  assert.ok(properties > 300, `parsed the declared properties (${properties})`);
  assert.deepEqual([...missed], [], 'add these to SECRET_FIELD_NAMES in src/redact.ts (or to NOT_SECRET here, with the reason)');
  // The fields the issue named, by the interfaces that hold them.
  for (const name of ['privateKeyPem', 'nextPrivateKeyPem', 'sentinelPassword', 'sessionToken', 'hmacKey', 'secretAccessKey', 'Authorization']) assert.ok(isSecretFieldName(name), name);
});

void test('redactText: in free text (a hook\'s output, an error) an Authorization header, credential parameters and curl -u lose their secret; what names them stays', () => {
  const cases: [string, string][] = [
    ['> Authorization: Bearer eyJhbGciOi.abc.def', '> Authorization: Bearer [redacted]'],
    ['proxy-authorization: Basic dXNlcjpwYXNz, next', 'proxy-authorization: Basic [redacted], next'],
    ['GET https://api.example.com/reload?token=tok-123&mode=x', 'GET https://api.example.com/reload?token=[redacted]&mode=x'],
    ['curl -d "client_secret=cs-9&grant_type=x" https://idp', 'curl -d "client_secret=[redacted]&grant_type=x" https://idp'],
    ['password=hunter2 user=ops', 'password=[redacted] user=ops'],
    ['mysql --password=my5ql-pw -e "FLUSH"', 'mysql --password=[redacted] -e "FLUSH"'],
    ['PGPASSWORD=pg-pw psql -c reload; GITHUB_TOKEN=ghp_x AWS_SECRET_ACCESS_KEY=abc/def x', 'PGPASSWORD=[redacted] psql -c reload; GITHUB_TOKEN=[redacted] AWS_SECRET_ACCESS_KEY=[redacted] x'],
    ['+ curl -fsS -u ops:pa55word https://lb.example.com/reload', '+ curl -fsS -u ops:[redacted] https://lb.example.com/reload'],
    ["curl --user 'ops:pa55word' x", "curl --user 'ops:[redacted]' x"],
    ['https://bucket.s3.amazonaws.com/k?X-Amz-Credential=AKIA/x&X-Amz-Signature=abcdef', 'https://bucket.s3.amazonaws.com/k?X-Amz-Credential=AKIA/x&X-Amz-Signature=[redacted]'],
  ];
  for (const [input, expected] of cases) assert.equal(redactText(input), expected);
  // Nothing else is touched: times, key types, ACME URLs, a -u flag without a password.
  for (const kept of ['renewed www v3 (ec-p256) at 2026-01-01T00:00:00Z', 'keyType=ec-p256', 'https://acme.example/chall/abc?x=1', 'sort -u names.txt', 'token: see the log']) {
    assert.equal(redactText(kept), kept);
  }
});

void test('redactSecrets: any depth, any case, hook env values, Secret data, PEM keys anywhere; other fields kept', () => {
  const pem = '-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIL\n-----END EC PRIVATE KEY-----\n';
  const input = {
    name: 'www',
    a: { b: { c: { d2: { privateKeyPem: pem, nextPrivateKeyPem: pem, hmacKey: 'h', certPem: 'CERT' } } } },
    request: { headers: { Authorization: 'Bearer k8s-token', AUTHORIZATION: 'x', accept: 'json' } },
    redis: { sentinel: { sentinelPassword: 'sp' }, password: 'p' },
    aws: { credentials: { accessKeyId: 'AKIA', secretAccessKey: 'sk', sessionToken: 'st' } },
    hook: { command: ['reload'], env: { DB_PASSWORD: 'hunter2', MODE: 'x' } },
    k8s: { kind: 'Secret', metadata: { name: 's' }, data: { 'tls.key': 'a2V5' } },
    v1secret: { metadata: { name: 's' }, type: 'kubernetes.io/tls', data: { 'tls.key': 'a2V5' } },
    note: `oops ${pem}`,
    url: 'redis://user:url-pass-9@redis:6379/0',
    list: [{ password: 'p2' }],
    err: Object.assign(new Error(`failed with ${pem}`), { code: 'E' }),
  };
  const out = redactSecrets(input);
  const text = JSON.stringify(out);
  for (const s of ['MHcCAQEEIL', 'k8s-token', 'hunter2', 'sp"', '"p"', '"sk"', '"st"', 'a2V5', '"h"', 'p2', 'url-pass-9']) assert.ok(!text.includes(s), `${s} leaked: ${text}`);
  assert.equal(out.a.b.c.d2.certPem, 'CERT');
  assert.equal(out.request.headers.accept, 'json');
  assert.equal(out.aws.credentials.accessKeyId, 'AKIA');
  assert.deepEqual(out.hook, { command: ['reload'], env: { DB_PASSWORD: REDACTED, MODE: REDACTED } });
  assert.equal(out.k8s.metadata.name, 's');
  assert.equal(out.v1secret.type, 'kubernetes.io/tls');
  assert.match(String((out.err as unknown as { message: string }).message), /failed with \[private key redacted\]/);
  assert.equal(input.redis.password, 'p', 'the input is not changed');
});
