// A CA that forgot the account (Pebble restarted, as a Let's Encrypt staging reset looks): renew
// and issue fail ERR_ACME_ACCOUNT_NOT_FOUND with a hint that works, `account create` asks the CA
// and registers the same key again, and the renewal then succeeds. With an EAB CA, registering again
// needs the credentials, and the error says so.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { cp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { runCli, tempDir, writeConfig } from '../harness/certpilot.js';
import { startPebble } from '../harness/pebble.js';
import { requirePebble } from '../harness/servers.js';

interface ShownAccount {
  url: string;
  publicKeySha256: string;
  thumbprint: string;
}

test('after the CA forgot the account: renew fails with a hint to account create, which registers the same key again; renew then works', { timeout: 180_000 }, async (t) => {
  if (!requirePebble(t, '2.4')) return;
  const pebble = await startPebble({ version: '2.4', strict: true, noSleep: true, nonceRejectPercent: 0 });
  t.after(() => pebble.stop());
  const dir = await tempDir();
  const config = await writeConfig(dir, { directoryUrl: pebble.directoryUrl, httpPort: pebble.httpPort, certificates: [{ name: 'site', domains: ['site.reset.test'] }] });
  const cli = (...args: string[]): ReturnType<typeof runCli> => runCli([...args, '--config', config]);

  const issued = await cli('issue');
  assert.equal(issued.code, 0, issued.stdout + issued.stderr);
  const before = JSON.parse((await cli('account', 'show', '--json')).stdout) as ShownAccount;
  // The CA knows it: create says so, having asked.
  const known = await cli('account', 'create');
  assert.equal(known.code, 0, known.stderr);
  assert.equal(known.stdout.trim(), `exists   ${before.url} (the CA knows it)`);

  await pebble.restart();

  // What the tryout saw: the stored account URL is unknown to the CA.
  const failed = await cli('renew', '--force');
  assert.equal(failed.code, 1, failed.stdout + failed.stderr);
  assert.match(failed.stdout + failed.stderr, /ERR_ACME_ACCOUNT_NOT_FOUND/);
  assert.match(failed.stdout + failed.stderr, /hint: The CA no longer knows the stored account .*run `certpilot account create`, which asks the CA and registers the same key again/);

  // The way out the hint names.
  const created = await cli('account', 'create');
  assert.equal(created.code, 0, created.stdout + created.stderr);
  const newUrl = /^created +(\S+)$/m.exec(created.stdout)?.[1];
  assert.ok(newUrl?.startsWith(`${pebble.directoryUrl.replace(/\/dir$/, '')}/`), created.stdout);
  assert.notEqual(newUrl, before.url);
  assert.ok(created.stdout.includes(`no longer knew the stored account ${before.url}: registered the same key again`), created.stdout);
  assert.match(created.stdout, /The account URL changed: update CAA accounturi and dns-persist-01 records/);
  const after = JSON.parse((await cli('account', 'show', '--json')).stdout) as ShownAccount;
  assert.equal(after.url, newUrl);
  assert.equal(after.publicKeySha256, before.publicKeySha256, 'the same key');
  assert.equal(after.thumbprint, before.thumbprint, 'stateless http-01 responders keep working');
  const record = JSON.parse(await readFile(await accountRecord(dir), 'utf8')) as { url: string; forgottenUrls?: string[] };
  assert.deepEqual(record.forgottenUrls, [before.url], 'the forgotten URL is kept in the record');

  const renewed = await cli('renew', '--force');
  assert.equal(renewed.code, 0, renewed.stdout + renewed.stderr);
  assert.match(renewed.stdout, /renewed +site/);
  // And again: the CA knows the new account.
  assert.equal((await cli('account', 'create')).stdout.trim(), `exists   ${newUrl} (the CA knows it)`);
});

test('an EAB CA that forgot the account: account create without the credentials says they are needed and changes nothing; with them it registers again', { timeout: 120_000 }, async (t) => {
  if (!requirePebble(t, '2.4')) return;
  const kid = 'kid-reset';
  const hmac = randomBytes(32).toString('base64url');
  const pebble = await startPebble({ version: '2.4', strict: true, noSleep: true, nonceRejectPercent: 0, eab: { [kid]: hmac } });
  t.after(() => pebble.stop());
  const dir = await tempDir();
  const hmacFile = join(dir, 'eab.key');
  await writeFile(hmacFile, hmac, { mode: 0o600 });
  const withEab = await writeConfig(dir, { directoryUrl: pebble.directoryUrl, httpPort: pebble.httpPort, certificates: [{ name: 'site', domains: ['eab.reset.test'] }], eab: { kid, hmacKeyFile: hmacFile } });
  const text = await readFile(withEab, 'utf8');
  const withoutEab = join(dir, 'no-eab.yaml');
  await writeFile(withoutEab, text.split('\n').filter((l) => !/^\s*eab:/.test(l)).join('\n'));
  assert.doesNotMatch(await readFile(withoutEab, 'utf8'), /eab:/);

  const first = await runCli(['account', 'create', '--config', withEab]);
  assert.equal(first.code, 0, first.stderr);
  const url = /created +(\S+)/.exec(first.stdout)?.[1] ?? assert.fail(first.stdout);
  await pebble.restart();

  const stored = await readFile(await accountRecord(dir), 'utf8');
  const refused = await runCli(['account', 'create', '--config', withoutEab]);
  assert.equal(refused.code, 1, refused.stdout + refused.stderr);
  assert.match(refused.stderr, new RegExp(`error ERR_ACME_EAB_REQUIRED: account: \\S+ requires external account binding, and registering the stored key again after it forgot ${url.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} needs it too`));
  assert.equal(await readFile(await accountRecord(dir), 'utf8'), stored, 'the record is unchanged');

  const again = await runCli(['account', 'create', '--config', withEab]);
  assert.equal(again.code, 0, again.stdout + again.stderr);
  assert.match(again.stdout, /^created +https:\/\/\S+$/m);
  assert.match(again.stdout, /no longer knew the stored account/);
});

/** The account.json of the one account in the state directory under `dir`. */
async function accountRecord(dir: string): Promise<string> {
  const [folder] = await readdir(join(dir, 'state', 'accounts'));
  return join(dir, 'state', 'accounts', folder as string, 'account.json');
}

test('account deactivate is for good: renew stops without asking the CA, account create registers a new account with a new key, renew then works; an account deactivated by another client is replaced the same way', { timeout: 180_000 }, async (t) => {
  if (!requirePebble(t, '2.4')) return;
  const pebble = await startPebble({ version: '2.4', strict: true, noSleep: true, nonceRejectPercent: 0 });
  t.after(() => pebble.stop());
  const dir = await tempDir();
  const config = await writeConfig(dir, { directoryUrl: pebble.directoryUrl, httpPort: pebble.httpPort, certificates: [{ name: 'site', domains: ['site.deactivate.test'] }] });
  const cli = (...args: string[]): ReturnType<typeof runCli> => runCli([...args, '--config', config]);
  assert.equal((await cli('issue')).code, 0);
  const before = JSON.parse((await cli('account', 'show', '--json')).stdout) as ShownAccount;
  // The account as it was before the deactivation: what a second client with this key still holds.
  const folder = dirname(await accountRecord(dir));
  const copy = join(dir, 'account-copy');
  await cp(folder, copy, { recursive: true });

  const deactivated = await cli('account', 'deactivate');
  assert.equal(deactivated.code, 0, deactivated.stdout + deactivated.stderr);
  assert.match(deactivated.stdout, new RegExp(`^deactivated ${before.url.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: the CA refuses it from now on, .*\`certpilot account create\` registers a new account with a new key`, 'm'));

  // Nothing is signed with it again: the renewal stops here with the way out.
  const stopped = await cli('renew', '--force');
  assert.equal(stopped.code, 1, stopped.stdout + stopped.stderr);
  assert.match(stopped.stdout + stopped.stderr, /ERR_ACME_ACCOUNT_DEACTIVATED: account: the account \S+ of \S+ was deactivated on \S+; nothing was sent to the CA/);
  assert.match(stopped.stdout + stopped.stderr, /hint: The CA refuses a deactivated account for good\. Run `certpilot account create`/);
  assert.equal((await cli('account', 'deactivate')).code, 1, 'deactivating again is refused locally too');

  const created = await cli('account', 'create');
  assert.equal(created.code, 0, created.stdout + created.stderr);
  const newUrl = /^created +(\S+)$/m.exec(created.stdout)?.[1] ?? assert.fail(created.stdout);
  assert.ok(created.stdout.includes(`The stored account ${before.url} is deactivated: registered a new account with a new key`), created.stdout);
  const after = JSON.parse((await cli('account', 'show', '--json')).stdout) as ShownAccount & { deactivatedUrls?: string[]; deactivatedAt?: string };
  assert.equal(after.url, newUrl);
  assert.notEqual(after.url, before.url);
  assert.notEqual(after.publicKeySha256, before.publicKeySha256, 'a new key: the CA refuses the old one for good');
  assert.deepEqual(after.deactivatedUrls, [before.url]);
  assert.equal(after.deactivatedAt, undefined);
  const renewed = await cli('renew', '--force');
  assert.equal(renewed.code, 0, renewed.stdout + renewed.stderr);
  // The headline says why in words (the reason code was `(forced)`).
  assert.match(renewed.stdout, /^renewed +site: renewed version 2, valid until \S+ \(--force\); files in /m);

  // Deactivated by another client (the record here is not marked): the CA says so, with the way
  // out, and create replaces it the same way.
  await rm(folder, { recursive: true });
  await cp(copy, folder, { recursive: true });
  const refused = await cli('renew', '--force');
  assert.equal(refused.code, 1, refused.stdout + refused.stderr);
  assert.match(refused.stdout + refused.stderr, /ERR_ACME_ACCOUNT_DEACTIVATED: acme: newOrder: /);
  assert.match(refused.stdout + refused.stderr, /hint: The CA refuses a deactivated account for good\. Run `certpilot account create`/);
  const replaced = await cli('account', 'create');
  assert.equal(replaced.code, 0, replaced.stdout + replaced.stderr);
  assert.ok(replaced.stdout.includes(`The stored account ${before.url} is deactivated: registered a new account with a new key`), replaced.stdout);
  const third = JSON.parse((await cli('account', 'show', '--json')).stdout) as ShownAccount;
  assert.ok(third.url !== before.url && third.url !== newUrl, third.url);
  assert.equal((await cli('renew', '--force')).code, 0);
});
