// What a killed run leaves, removed by the next one (src/challenges/challenge-journal.ts): a child
// process presents challenges through the real solvers and is killed with SIGKILL (no `finally`, no
// signal handler runs), then a new solver of the same name and state directory removes the
// leftovers in `prepare`, which the Issuer calls before it places an order.
// - dns-01 and dns-account-01 TXT values in a real BIND 9 (rfc2136 with a TSIG key); another value
//   at the same name stays.
// - webroot token files; a file someone else put at a journalled name stays.
// - webroot on a full volume (a small tmpfs): ENOSPC names the full volume, and no empty token
//   file is left behind.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, readdir, statfs, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as z from 'zod/mini';
import type { PendingChallenge } from '../../src/challenges/challenge-solver.js';
import { isPreparedSolver } from '../../src/challenges/challenge-solver.js';
import { formatDnsServer } from '../../src/challenges/dns01/dns-client.js';
import { createDns01Solver, dns01OptionsShape } from '../../src/challenges/dns01/dns01-options.js';
import { Rfc2136DnsProvider } from '../../src/challenges/dns01/providers/rfc2136/rfc2136-dns-provider.js';
import { WebrootHttp01Solver } from '../../src/challenges/http01/solvers/webroot/webroot-solver.js';
import { systemClock } from '../../src/clock.js';
import { CertpilotError } from '../../src/errors.js';
import { namedBinary, startBind, tsigKey, type BindInstance } from '../harness/bind.js';
import { tempDir } from '../harness/certpilot.js';
import { resolveBinary } from '../harness/paths.js';
import { requireServer, smallTmpfs } from '../harness/servers.js';

const moduleUrl = (path: string): string => new URL(path, import.meta.url).href;

/** Runs `script` (an ES module body) in a child, waits for it to print `ready`, then SIGKILLs it. */
async function presentAndKill(script: string, input: unknown): Promise<void> {
  const dir = await tempDir();
  const file = join(dir, 'child.mjs');
  await writeFile(file, `const input = JSON.parse(process.argv[2]);\n${script}\nconsole.log('ready');\nsetInterval(() => {}, 1000);\n`);
  const child = spawn(process.execPath, [file, JSON.stringify(input)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('ready')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`the child exited (${String(code)}) before presenting: ${err}`)));
  });
  child.kill('SIGKILL');
  await exited;
}

function challenge(type: PendingChallenge['type'], name: string, token: string, extra: Partial<PendingChallenge> = {}): PendingChallenge {
  return { type, identifier: { type: 'dns', value: name }, wildcard: false, url: `https://ca.test/chall/${token}`, token, keyAuthorization: `${token}.thumbprint`, ...extra };
}

describe('dns-01 and dns-account-01 values a killed run left in BIND', { timeout: 60_000 }, () => {
  let bind: BindInstance | undefined;
  before(async () => {
    if (resolveBinary(namedBinary) === undefined) return;
    bind = await startBind({ zones: [{ name: 'leftover.test', records: ['@ A 127.0.0.1'], updateSubdomains: ['_acme-challenge.leftover.test'] }] });
  });
  after(async () => {
    await bind?.stop();
  });

  test('kill -9 after present: the next run of the same solver removes the values, and only those', async (t) => {
    if (!requireServer(t, namedBinary) || !bind) return;
    const stateDir = await tempDir();
    const dnsOptions = { resolvers: [formatDnsServer(bind.server)], nameserverPort: bind.server.port, propagationTimeoutSeconds: 10 };
    const server = { host: bind.server.host, port: bind.server.port };
    const cases = [
      { type: 'dns-01', fqdn: '_acme-challenge.leftover.test.', value: 'dns01-value-of-the-killed-run-aaaaaaaaaaa' },
      { type: 'dns-account-01', fqdn: '_abcdefgh12345678._acme-challenge.leftover.test.', value: 'account-value-of-the-killed-run-aaaaaaaa' },
    ] as const;
    const provider = new Rfc2136DnsProvider({ server: bind.server, key: tsigKey(bind.key), clock: systemClock });
    // Another tool's value at the same name: kept.
    await provider.addTxtRecord({ fqdn: '_acme-challenge.leftover.test.', value: 'someone-elses-value', ttl: 60 }, {});
    await presentAndKill(
      `
      const { createDns01Solver } = await import(${JSON.stringify(moduleUrl('../../src/challenges/dns01/dns01-options.js'))});
      const { Rfc2136DnsProvider } = await import(${JSON.stringify(moduleUrl('../../src/challenges/dns01/providers/rfc2136/rfc2136-dns-provider.js'))});
      const { systemClock } = await import(${JSON.stringify(moduleUrl('../../src/clock.js'))});
      for (const c of input.cases) {
        const provider = new Rfc2136DnsProvider({ server: input.server, key: { name: input.key.name, algorithm: input.key.algorithm, secret: Buffer.from(input.key.secret, 'base64') }, clock: systemClock });
        const solver = await createDns01Solver(provider, { ...c.options, propagationCheck: false }, { stateDir: input.stateDir, name: c.type });
        const token = 'tok' + c.type.replace(/[^a-z0-9]/g, '') + 'aaaaaaaaaaaaaaaa';
        await solver.present({ type: c.type, identifier: { type: 'dns', value: 'leftover.test' }, wildcard: false, url: 'https://ca.test/chall/' + token, token, keyAuthorization: token + '.tp', dnsRecordName: c.fqdn, dnsValue: c.value }, {});
      }
      `,
      { cases: cases.map((c) => ({ ...c, options: z.object(dns01OptionsShape()).parse({ ...dnsOptions, challenge: c.type }) })), server, key: bind.key, stateDir },
    );
    for (const c of cases) assert.ok((await bind.txt(c.fqdn)).includes(c.value), `${c.type}: the killed run's value is in the zone`);

    for (const c of cases) {
      const options = z.object(dns01OptionsShape()).parse({ ...dnsOptions, challenge: c.type });
      const solver = await createDns01Solver(provider, options, { stateDir, name: c.type });
      assert.ok(isPreparedSolver(solver));
      await solver.prepare({});
      assert.ok(!(await bind.txt(c.fqdn)).includes(c.value), `${c.type}: the next run removed the killed run's value`);
      assert.deepEqual(await readdir(join(stateDir, 'dns01-records', c.type)), [], `${c.type}: the journal of the killed run is gone`);
    }
    assert.deepEqual(await bind.txt('_acme-challenge.leftover.test.'), ['someone-elses-value'], 'another value at the name stays');
  });
});

describe('webroot token files a killed run left', () => {
  test('kill -9 after present: the next run removes the file; a file someone else put at a journalled name stays', { timeout: 30_000 }, async () => {
    const dir = await tempDir();
    const webroot = join(dir, 'www');
    await mkdir(webroot);
    const journalDir = join(dir, 'state', 'http01-webroot', 'site');
    const tokens = ['killedRunTokenAAAAAAAAAAAAAAAA', 'replacedTokenBBBBBBBBBBBBBBBBBB'];
    await presentAndKill(
      `
      const { WebrootHttp01Solver } = await import(${JSON.stringify(moduleUrl('../../src/challenges/http01/solvers/webroot/webroot-solver.js'))});
      const solver = new WebrootHttp01Solver({ webroot: input.webroot, journalDir: input.journalDir });
      for (const token of input.tokens) await solver.present({ type: 'http-01', identifier: { type: 'dns', value: 'site.test' }, wildcard: false, url: 'https://ca.test/chall/' + token, token, keyAuthorization: token + '.thumbprint' }, {});
      `,
      { webroot, journalDir, tokens },
    );
    const files = join(webroot, '.well-known', 'acme-challenge');
    assert.deepEqual((await readdir(files)).sort(), [...tokens].sort(), 'the killed run left its files');
    // Someone else's content at the second name now (not the key authorization): never removed.
    await writeFile(join(files, tokens[1] as string), 'not ours');

    const solver = new WebrootHttp01Solver({ webroot, journalDir });
    await solver.prepare({});
    assert.deepEqual(await readdir(files), [tokens[1]], 'the killed run\'s file is gone; the rewritten one stays');
    assert.deepEqual(await readdir(journalDir), [], 'the journal of the killed run is gone');
  });

  test('a full volume: ENOSPC says the volume is full, and no empty token file is left', { timeout: 30_000 }, async (t) => {
    const small = await smallTmpfs(t, await tempDir(), 64);
    if (small === undefined) return;
    const webroot = join(small, 'www');
    await mkdir(join(webroot, '.well-known', 'acme-challenge'), { recursive: true });
    const info = await statfs(small);
    await writeFile(join(small, 'filler'), Buffer.alloc(info.bavail * info.bsize)).catch(() => undefined);
    const solver = new WebrootHttp01Solver({ webroot, journalDir: join(await tempDir(), 'journal') });
    const token = 'fullDiskTokenCCCCCCCCCCCCCCCCCC';
    await assert.rejects(solver.present(challenge('http-01', 'site.test', token), {}), (err: unknown) => {
      assert.ok(err instanceof CertpilotError);
      assert.equal(err.code, 'ERR_CHALLENGE_WEBROOT');
      assert.match(err.message, /ENOSPC \(the volume is full\)/);
      assert.match(err.hint, /Free space on the volume of the webroot/);
      return true;
    });
    assert.deepEqual(await readdir(join(webroot, '.well-known', 'acme-challenge')), [], 'no empty token file is left');
    await solver.cleanUp(challenge('http-01', 'site.test', token), {});
  });
});
