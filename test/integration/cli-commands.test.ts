// The CLI's other commands end to end against Pebble 2.4: account create/show/rollover, revoke,
// renew --dry-run, the webroot solver, reuseKey, a held lock, and two renewals racing.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { FileLocker } from '../../src/coordination/file/file-locker.js';
import { FilesystemCertificateStore } from '../../src/storage/backends/filesystem/filesystem-certificate-store.js';
import { runCli, tempDir, testCaFile, writeConfig } from '../harness/certpilot.js';
import { fetchBuffered } from '../harness/http.js';
import { serveDirectory } from '../harness/static-server.js';
import { startPebble, type PebbleInstance } from '../harness/pebble.js';
import { requirePebble } from '../harness/servers.js';

async function serial(dir: string, name: string): Promise<string> {
  return new X509Certificate(await readFile(join(dir, 'state', 'live', name, 'cert.pem'))).serialNumber.toLowerCase();
}

async function revocationStatus(pebble: PebbleInstance, serialHex: string): Promise<string> {
  const res = await fetchBuffered(`${pebble.managementUrl}/cert-status-by-serial/${serialHex}`, { ca: pebble.caCertificates });
  return (JSON.parse(res.text) as { Status: string }).Status;
}

test('account, revoke, dry run, webroot, reuseKey and racing renewals through the CLI', { timeout: 180_000 }, async (t) => {
  if (!requirePebble(t, '2.4')) return;
  const pebble = await startPebble({ version: '2.4', strict: true, noSleep: true });
  t.after(() => pebble.stop());
  const dir = await tempDir();
  const config = await writeConfig(dir, {
    directoryUrl: pebble.directoryUrl,
    httpPort: pebble.httpPort,
    certificates: [
      { name: 'site', domains: ['site.cli.test'] },
      { name: 'pinned', domains: ['pinned.cli.test'], reuseKey: true },
    ],
  });
  const cli = (...args: string[]): ReturnType<typeof runCli> => runCli([...args, '--config', config]);

  await t.test('account create, show and rollover', async () => {
    assert.match((await cli('account', 'show')).stdout, /No account/);
    const created = await cli('account', 'create');
    assert.equal(created.code, 0, created.stderr);
    const url = /created +(\S+)/.exec(created.stdout)?.[1];
    assert.ok(url?.startsWith('https://'), created.stdout);
    assert.match((await cli('account', 'create')).stdout, /exists/);
    const before = JSON.parse((await cli('account', 'show', '--json')).stdout) as { url: string; publicKeySha256: string; keyType: string };
    assert.equal(before.url, url);
    const updated = await cli('account', 'update', '--email', 'new@example.com');
    assert.equal(updated.code, 0, updated.stderr);
    assert.deepEqual((JSON.parse((await cli('account', 'show', '--json')).stdout) as { contact: string[] }).contact, ['mailto:new@example.com']);
    const rolled = await cli('account', 'rollover');
    assert.equal(rolled.code, 0, rolled.stderr);
    const after = JSON.parse((await cli('account', 'show', '--json')).stdout) as { url: string; publicKeySha256: string };
    assert.equal(after.url, url, 'same account');
    assert.notEqual(after.publicKeySha256, before.publicKeySha256, 'new key stored');
    // The stored key is the one the CA now knows: issuing works.
    const issued = await cli('issue', '--name', 'site');
    assert.equal(issued.code, 0, issued.stdout + issued.stderr);
  });

  await t.test('revoke with the account key, then renew replaces it', async () => {
    const revokedSerial = await serial(dir, 'site');
    const revoked = await cli('revoke', 'site', '--reason', 'keyCompromise');
    assert.equal(revoked.code, 0, revoked.stderr);
    assert.equal(await revocationStatus(pebble, revokedSerial), 'Revoked');
    const bad = await cli('revoke', 'site', '--reason', 'because');
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /ERR_CLI_USAGE/);
    assert.match(revoked.stdout, /the next `certpilot renew` \(or the daemon's next look\) replaces it; now: certpilot renew --name site/);
    // Recorded: status says it is due now, and why.
    const [status] = JSON.parse((await cli('status', '--json', '--name', 'site')).stdout) as Array<{ due: boolean; reason?: string; decision: string }>;
    assert.equal(status?.due, true);
    assert.equal(status?.reason, 'revoked');
    assert.match(status?.decision ?? '', /^version 1 was revoked on \S+ \(reason keyCompromise\): replacing it$/);
    // A plain renew (no --force) replaces it, and only once.
    const renewed = await cli('renew', '--name', 'site');
    assert.equal(renewed.code, 0, renewed.stderr);
    assert.match(renewed.stdout, /^renewed +site: renewed version 2, valid until \S+ \(the live one was revoked\)/m);
    assert.notEqual(await serial(dir, 'site'), revokedSerial);
    assert.match((await cli('renew', '--name', 'site')).stdout, /^not-due +site/m);
  });

  await t.test('renew --dry-run issues from the CA and stores nothing', async () => {
    const before = await serial(dir, 'site');
    const dry = await cli('renew', '--dry-run', '--force', '--name', 'site');
    assert.equal(dry.code, 0, dry.stdout + dry.stderr);
    assert.match(dry.stdout, /^dry-run +site/m);
    assert.match(dry.stderr, /warning: --dry-run: no staging directory is known for \S+, so this dry run orders real certificates from it/, 'Pebble has no staging directory: said');
    assert.equal(await serial(dir, 'site'), before);
    assert.equal((await new FilesystemCertificateStore({ stateDir: join(dir, 'state') }).load('site'))?.version, 2);
  });

  await t.test('reuseKey keeps the private key across renewals', async () => {
    assert.equal((await cli('issue', '--name', 'pinned')).code, 0);
    const key1 = await readFile(join(dir, 'state', 'live', 'pinned', 'privkey.pem'), 'utf8');
    const serial1 = await serial(dir, 'pinned');
    assert.equal((await cli('renew', '--force', '--name', 'pinned')).code, 0);
    assert.notEqual(await serial(dir, 'pinned'), serial1);
    assert.equal(await readFile(join(dir, 'state', 'live', 'pinned', 'privkey.pem'), 'utf8'), key1);
    const siteKey = await readFile(join(dir, 'state', 'archive', 'site', 'privkey1.pem'), 'utf8');
    assert.notEqual(await readFile(join(dir, 'state', 'archive', 'site', 'privkey2.pem'), 'utf8'), siteKey, 'without reuseKey, a fresh key');
  });

  await t.test('a certificate another process is renewing is left alone; racing renewals take turns', async () => {
    const store = new FilesystemCertificateStore({ stateDir: join(dir, 'state') });
    const before = (await store.load('site'))?.version ?? 0;
    // Another holder (a second certpilot somewhere) has the lock: this run must not touch the CA.
    const held = await new FileLocker({ dir: join(dir, 'state', 'locks') }).acquire('site', { ttlSeconds: 60 });
    assert.ok(held);
    const locked = await cli('issue', '--force', '--name', 'site');
    // Renewed by its live holder: the work is in other hands, and the holder reports it (exit 0,
    // --force or not: docs/getting-started.md, exit codes).
    const status = JSON.parse((await cli('status', '--name', 'site', '--json')).stdout) as { lock?: { state: string; holder: string; unlock?: string } }[];
    await held.release();
    assert.equal(locked.code, 0, locked.stdout + locked.stderr);
    assert.match(locked.stdout, /^locked +site/m);
    assert.match(locked.stdout, /hint: `certpilot status --name site` shows who holds its lock/);
    assert.equal(status[0]?.lock?.state, 'live');
    assert.equal(status[0]?.lock?.holder, `pid ${process.pid} on ${hostname()}`);
    assert.equal(status[0]?.lock?.unlock, undefined, 'no unlock command for a live lock');
    assert.equal((await store.load('site'))?.version, before);

    // Two real processes at once: each version is whole (the key matches its certificate).
    const [a, b] = await Promise.all([cli('renew', '--force', '--name', 'site'), cli('renew', '--force', '--name', 'site')]);
    assert.ok([a, b].every((r) => r.code === 0 || r.code === 75), `${a.stdout}\n${b.stdout}`);
    const after = (await store.load('site'))?.version ?? 0;
    assert.ok(after === before + 1 || after === before + 2, `versions ${before} → ${after}`);
    const { createPrivateKey } = await import('node:crypto');
    for (let v = before + 1; v <= after; v++) {
      const cert = new X509Certificate(await readFile(join(dir, 'state', 'archive', 'site', `cert${v}.pem`)));
      const key = createPrivateKey(await readFile(join(dir, 'state', 'archive', 'site', `privkey${v}.pem`), 'utf8'));
      assert.ok(cert.checkPrivateKey(key), `version ${v} is one certificate with its own key`);
    }
  });

  await t.test('a lock a killed run left: status shows it stale with the command that breaks it, renew exits 75, unlock breaks it; a live lock only with --force', async () => {
    const store = new FilesystemCertificateStore({ stateDir: join(dir, 'state') });
    const before = (await store.load('site'))?.version ?? 0;
    const lockFile = join(dir, 'state', 'locks', 'site.lock');
    const now = Date.now();
    // A run on this host whose process is gone, its time not passed: free, and said so (it read "expires …: expired").
    await mkdir(dirname(lockFile), { recursive: true });
    await writeFile(lockFile, JSON.stringify({ pid: 2 ** 22 + 7, hostname: hostname(), token: 'gone', acquiredAt: new Date(now - 10_000).toISOString(), renewedAt: new Date(now - 10_000).toISOString(), ttlSeconds: 900, expiresAt: new Date(now + 890_000).toISOString() }), { mode: 0o600 });
    assert.match((await cli('status', '--name', 'site')).stdout, /^site: locked by pid 4194311 on .*, expires .*\): free: process 4194311 no longer runs on this host: the next run here takes it over$/m);
    // A run on another host sharing the volume, killed 700 s after its last renewal (TTL 900 s, renewed every 300 s).
    const record = { pid: 4242, hostname: 'other-host.invalid', token: 'killed-run', acquiredAt: new Date(now - 800_000).toISOString(), renewedAt: new Date(now - 700_000).toISOString(), ttlSeconds: 900, expiresAt: new Date(now + 200_000).toISOString() };
    await writeFile(lockFile, JSON.stringify(record), { mode: 0o600 });

    const text = await cli('status', '--name', 'site');
    assert.equal(text.code, 0, text.stdout + text.stderr);
    assert.match(text.stdout, /^site: locked by pid 4242 on other-host\.invalid \(lock file .*site\.lock; since .*, renewed .*, expires .*\): STALE: its holder stopped renewing it; `certpilot unlock site --config .*` breaks it$/m);
    assert.match(text.stderr, /^warning: site: its lock is stale: its holder has not renewed it for \d+ s/m);
    const json = JSON.parse((await cli('status', '--name', 'site', '--json')).stdout) as { lock?: Record<string, unknown> }[];
    assert.deepEqual({ ...json[0]?.lock, unlock: undefined, why: undefined }, {
      name: 'site', where: `lock file ${lockFile}`, holder: 'pid 4242 on other-host.invalid', acquiredAt: record.acquiredAt, renewedAt: record.renewedAt, expiresAt: record.expiresAt, ttlSeconds: 900, state: 'stale', unlock: undefined, why: undefined,
    });
    assert.match(String(json[0]?.lock?.unlock), /^certpilot unlock site --config /);

    // A scheduled renew finds nobody at work on it: "try again later", naming the fix.
    const blocked = await cli('renew', '--force', '--name', 'site');
    assert.equal(blocked.code, 75, blocked.stdout + blocked.stderr);
    assert.match(blocked.stdout, /^locked +site/m);
    assert.match(blocked.stderr, /warning: site: not renewed: its lock is stale \(pid 4242 on other-host\.invalid, .*`certpilot unlock site --config .*` breaks it/);
    assert.equal((await store.load('site'))?.version, before);

    const unlocked = await cli('unlock', 'site');
    assert.equal(unlocked.code, 0, unlocked.stdout + unlocked.stderr);
    assert.match(unlocked.stdout, /^unlocked site: broke the stale lock of pid 4242 on other-host\.invalid \(lock file .*site\.lock; acquired .*, last renewed .*, expiring .*\); the next run takes the certificate$/m);
    assert.equal(existsSync(lockFile), false);
    assert.match((await cli('unlock', 'site')).stdout, /^not locked: site: no run holds its lock$/m, 'unlock again: nothing to do');
    const renewed = await cli('renew', '--force', '--name', 'site');
    assert.equal(renewed.code, 0, renewed.stdout + renewed.stderr);
    assert.equal((await store.load('site'))?.version, before + 1, 'the next run renewed it at once');

    // A live lock (its holder renewing it): refused, nothing changed; --force breaks it and says so.
    const held = await new FileLocker({ dir: join(dir, 'state', 'locks') }).acquire('site', { ttlSeconds: 60 });
    assert.ok(held);
    const refused = await cli('unlock', 'site');
    assert.equal(refused.code, 75, refused.stdout + refused.stderr);
    assert.match(refused.stderr, /error ERR_LOCK_LIVE: unlock site: its lock is live: held by pid \d+ on /);
    assert.match(refused.stderr, /hint: .*`certpilot unlock site --config .* --force` breaks it/);
    assert.ok(existsSync(lockFile), 'a refused unlock changes nothing');
    const forced = JSON.parse((await cli('unlock', 'site', '--force', '--json')).stdout) as { result: string; lock: { state: string; seen?: string } };
    assert.equal(forced.result, 'broken');
    assert.equal(forced.lock.state, 'live');
    assert.equal(forced.lock.seen, undefined, 'the internal identity is not printed');
    assert.equal(existsSync(lockFile), false);
    await held.refresh();
    assert.equal(held.lost.aborted, true, 'its holder finds it lost at its next heartbeat');
    await held.release();

    const unknown = await cli('unlock', 'nosuch');
    assert.equal(unknown.code, 2, unknown.stderr);
    assert.match(unknown.stderr, /ERR_CERT_UNKNOWN: unlock: no certificate named "nosuch"/);
  });

  await t.test('the webroot solver: a web server serves what certpilot writes', async () => {
    const webroot = join(dir, 'www');
    await mkdir(webroot);
    const web = await serveDirectory(webroot, pebble.httpPort);
    try {
      const result = await runCli(['issue', '-d', 'webroot.cli.test', '-w', webroot, '--directory', pebble.directoryUrl, '--ca-bundle', testCaFile, '--agree-tos', '--state-dir', join(dir, 'state')]);
      assert.equal(result.code, 0, result.stdout + result.stderr);
      assert.ok(web.served.some((p) => p.startsWith('/.well-known/acme-challenge/')), 'the CA fetched the token from the web server');
      assert.deepEqual((await import('node:fs')).readdirSync(join(webroot, '.well-known', 'acme-challenge')), [], 'token files removed');
    } finally {
      await web.close();
    }
  });
});

test('terms of service not agreed to: a configuration error (exit 2) that says how to agree, and nothing is ordered', { timeout: 60_000 }, async (t) => {
  if (!requirePebble(t, '2.4')) return;
  const pebble = await startPebble({ version: '2.4', noSleep: true });
  t.after(() => pebble.stop());
  const dir = await tempDir();
  const config = await writeConfig(dir, { directoryUrl: pebble.directoryUrl, httpPort: pebble.httpPort, certificates: [{ name: 'tos', domains: ['tos.cli.test'] }] });
  const text = await readFile(config, 'utf8');
  const unagreed = join(dir, 'unagreed.yaml');
  await writeFile(unagreed, text.replace('termsOfServiceAgreed: true', 'termsOfServiceAgreed: false'));
  const res = await runCli(['issue', '--config', unagreed]);
  assert.equal(res.code, 2, res.stdout + res.stderr);
  assert.match(res.stdout, /acme\.termsOfServiceAgreed: the CA requires agreeing to its terms of service/);
  assert.match(res.stdout, /hint: Read the terms, then pass --agree-tos or set acme\.termsOfServiceAgreed: true/);
  const agreed = await runCli(['issue', '--config', unagreed, '--agree-tos']);
  assert.equal(agreed.code, 0, agreed.stdout + agreed.stderr);
});
