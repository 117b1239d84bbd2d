// Secrets end to end through the built CLI at its most talkative (`--log-level trace`, and
// `--verbose` with its stack traces and causes): registration with external account binding,
// issuance, a forced renewal, an account key rollover, a CA failure mid-order and a dead CA. No byte
// of any private key (account keys under state/accounts, every certificate key under archive/, the
// rolled-over key included) nor of the EAB HMAC key may appear in stdout, stderr, or any file
// certpilot writes besides the key files themselves. Keys are looked for by their content, in the
// forms code could print them: the base64 body of the PEM (every 16-character piece of its private part), the
// JWK private members (`d`, and `p`, `q`, `dp`, `dq`, `qi` for RSA) and their hex, and the HMAC key
// as configured (base64url), as raw bytes in hex and in standard base64.
import assert from 'node:assert/strict';
import { createPrivateKey } from 'node:crypto';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { runCli, tempDir, writeConfig, type CliResult } from '../harness/certpilot.js';
import { startFaultProxy } from '../harness/fault-proxy.js';
import { startPebble } from '../harness/pebble.js';
import { requirePebble } from '../harness/servers.js';

const WINDOW = 16;

/** Every file below `dir`, recursively (links not followed). */
async function filesBelow(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

/** Key files: what holds a private key on purpose. */
const isKeyFile = (path: string): boolean => /(?:^|\/)(?:private_key(?:\.next)?\.pem|privkey\d*\.pem)$/.test(path) || /\.tmp$/.test(path);

const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi'];

/**
 * The fingerprints of one private key: strings of which none may appear anywhere. From the PEM
 * body, the 16-character pieces (within one PEM line) whose bytes lie wholly inside a private
 * member of the DER (the public parts also appear, legitimately, in certificates and JWKs); and the
 * private JWK members in base64url, hex and base64.
 */
function pemFingerprints(pem: string): string[] {
  const lines = pem.split('\n').filter((l) => l !== '' && !l.startsWith('-----'));
  const body = lines.join('');
  const der = Buffer.from(body, 'base64');
  const jwk = createPrivateKey(pem).export({ format: 'jwk' }) as Record<string, string | undefined>;
  const pieces: string[] = [];
  const ranges: [number, number][] = [];
  for (const member of PRIVATE_MEMBERS) {
    const value = jwk[member];
    if (!value) continue;
    const bytes = Buffer.from(value, 'base64url');
    const at = der.indexOf(bytes);
    assert.ok(at >= 0, `JWK ${member} found in the DER`);
    ranges.push([at, at + bytes.length]);
    pieces.push(value.slice(0, WINDOW), value.slice(-WINDOW), bytes.toString('hex').slice(0, 2 * WINDOW), bytes.toString('base64').slice(0, WINDOW));
  }
  const lineLength = lines[0]?.length ?? 64;
  for (let i = 0; i + WINDOW <= body.length; i += 2) {
    if ((i % lineLength) + WINDOW > lineLength) continue;
    const from = Math.floor((i * 3) / 4);
    const to = Math.ceil(((i + WINDOW) * 3) / 4);
    if (ranges.some(([a, b]) => from >= a && to <= b)) pieces.push(body.slice(i, i + WINDOW));
  }
  // The detector must see the key itself, as a file and JSON-escaped.
  assert.ok(pieces.length >= 8 && pieces.some((p) => pem.includes(p)) && pieces.some((p) => JSON.stringify(pem).includes(p) && /[A-Za-z0-9+/]{16}/.test(p)), 'fingerprints detect the key');
  return pieces;
}

function hmacFingerprints(hmacKey: string): string[] {
  const raw = Buffer.from(hmacKey, 'base64url');
  return [hmacKey, hmacKey.slice(0, WINDOW), raw.toString('hex').slice(0, 2 * WINDOW), raw.toString('base64').slice(0, WINDOW)];
}

test('no private key or HMAC key byte in output or written files, at trace level and with --verbose, through EAB, issue, renew, rollover and failures', { timeout: 180_000 }, async (t) => {
  if (!requirePebble(t, '2.4')) return;
  const hmacKey = Buffer.from('certpilot-secrets-test-hmac-key-0123456789abcdef').toString('base64url');
  const kid = 'kid-secrets';
  const pebble = await startPebble({ version: '2.4', strict: true, noSleep: true, eab: { [kid]: hmacKey } });
  t.after(() => pebble.stop());
  const proxy = await startFaultProxy(pebble);
  t.after(() => proxy.stop());

  const dir = await tempDir('certpilot-secrets-');
  const hmacKeyFile = join(dir, 'eab-hmac.key');
  await writeFile(hmacKeyFile, `${hmacKey}\n`, { mode: 0o600 });
  const stateDir = join(dir, 'state');
  const config = await writeConfig(dir, {
    directoryUrl: proxy.directoryUrl,
    httpPort: pebble.httpPort,
    eab: { kid, hmacKeyFile },
    certificates: [
      { name: 'ec', domains: ['ec.secrets.test'] },
      { name: 'rsa', domains: ['rsa.secrets.test'], keyType: 'rsa-2048' },
    ],
  });

  // Every key that ever exists in the state directory, collected after each step (a rollover
  // replaces the account key file, a renewal adds a certificate key).
  const keys = new Map<string, string>();
  const collectKeys = async (): Promise<void> => {
    for (const file of await filesBelow(stateDir)) {
      if (!/(?:private_key(?:\.next)?|privkey\d*)\.pem$/.test(file)) continue;
      const pem = await readFile(file, 'utf8');
      keys.set(pem, relative(stateDir, file));
    }
  };
  const runs: { args: string[]; result: CliResult }[] = [];
  const cli = async (expected: number, ...args: string[]): Promise<CliResult> => {
    const result = await runCli([...args, '--config', config]);
    runs.push({ args, result });
    assert.equal(result.code, expected, `certpilot ${args.join(' ')}: exit ${result.code}\n${result.stdout}\n${result.stderr}`);
    await collectKeys();
    return result;
  };

  // Registration with EAB (the CA requires it) and the first issuance, at trace level.
  const issued = await cli(0, 'issue', '--log-level', 'trace', '--log-format', 'json');
  assert.match(issued.stdout, /^issued +ec/m);
  assert.ok(issued.stderr.split('\n').filter((l) => l.startsWith('{')).length > 10, 'trace logging really is on');
  await cli(0, 'account', 'show', '--json', '--verbose');
  await cli(0, 'renew', '--force', '--verbose');
  // Key rollover: the old and the new account key both go through the process.
  const before = new Set(keys.keys());
  await cli(0, 'account', 'rollover', '--log-level', 'trace');
  await cli(0, 'account', 'rollover', '--verbose');
  assert.ok([...keys.keys()].filter((k) => !before.has(k)).length >= 2, 'the rollovers made new account keys');
  await cli(0, 'renew', '--force', '--name', 'rsa', '--log-level', 'trace');

  // A CA failure mid-order (finalize answered 500), then a dead CA: errors with causes and stacks.
  proxy.failNext({ match: (r) => r.kind === 'POST /finalize-order', status: 500, count: 10 });
  const midOrder = await cli(1, 'renew', '--force', '--name', 'ec', '--verbose');
  assert.match(midOrder.stdout + midOrder.stderr, /ERR_ACME/);
  await cli(1, 'renew', '--force', '--name', 'ec', '--log-level', 'trace');
  proxy.failNext({ match: () => true, status: 0, resetConnection: true, count: 10_000 });
  const dead = await cli(1, 'renew', '--force', '--verbose');
  assert.match(dead.stdout + dead.stderr, /ERR_ACME_NETWORK/);
  assert.match(dead.stderr + dead.stdout, /caused by:|"level":|at /, 'the verbose failure printed its details');
  await cli(1, 'renew', '--force', '--log-level', 'trace');

  // Keys: two account creations' worth (initial + 2 rollovers) and at least 2 per certificate.
  const accountKeys = [...keys.values()].filter((p) => p.startsWith('accounts/'));
  const certKeys = [...keys.values()].filter((p) => p.startsWith('archive/'));
  assert.ok(new Set([...keys.entries()].filter(([, p]) => p.startsWith('accounts/')).map(([k]) => k)).size >= 3, `account keys seen: ${accountKeys.join(', ')}`);
  assert.ok(certKeys.some((p) => p.startsWith('archive/rsa/')) && certKeys.some((p) => p.startsWith('archive/ec/')), `certificate keys seen: ${certKeys.join(', ')}`);

  const secrets: { what: string; pieces: string[] }[] = [
    ...[...keys.entries()].map(([pem, path]) => ({ what: `private key ${path}`, pieces: pemFingerprints(pem) })),
    { what: 'EAB HMAC key', pieces: hmacFingerprints(hmacKey) },
  ];
  const texts: { where: string; text: string }[] = runs.flatMap(({ args, result }) => [
    { where: `stdout of certpilot ${args.join(' ')}`, text: result.stdout },
    { where: `stderr of certpilot ${args.join(' ')}`, text: result.stderr },
  ]);
  // Every file certpilot wrote that is not a key file: state records, metadata, account records.
  for (const file of await filesBelow(stateDir)) {
    if (isKeyFile(relative(stateDir, file))) continue;
    texts.push({ where: `file ${relative(stateDir, file)}`, text: await readFile(file, 'utf8') });
  }
  assert.ok(texts.some((x) => x.where.startsWith('file renewal-state/')), 'the state records were scanned');

  const leaks: string[] = [];
  for (const { what, pieces } of secrets) {
    for (const { where, text } of texts) {
      const piece = pieces.find((p) => text.includes(p));
      if (piece) leaks.push(`${what} in ${where} (${JSON.stringify(piece)})`);
    }
  }
  assert.deepEqual(leaks, [], 'secret material leaked');
});
