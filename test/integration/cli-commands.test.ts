// The CLI's other commands end to end against Pebble 2.4: account create/show/rollover, revoke,
// renew --dry-run, the webroot solver, reuseKey, a held lock, and two renewals racing.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
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
    const renewed = await cli('renew', '--force', '--name', 'site');
    assert.equal(renewed.code, 0, renewed.stderr);
    assert.notEqual(await serial(dir, 'site'), revokedSerial);
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
    await held.release();
    assert.equal(locked.code, 75, locked.stdout + locked.stderr);
    assert.match(locked.stdout, /^locked +site/m);
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
