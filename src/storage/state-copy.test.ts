import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { makeTestBundle } from '../testing/certificate-fixtures.js';
import { tempDir } from '../testing/temp-dir.js';
import { FilesystemStateBackend } from './backends/filesystem/filesystem-state-backend.js';
import { MemoryStateBackend } from './backends/memory/memory-state-backend.js';
import { copyState } from './state-copy.js';
import { stateKeys } from './state-keys.js';
import { StateStore } from './state-store.js';

describe('copyState', () => {
  it('copies a certbot directory (no metadata files) into a bounded store and back: the live version and the newest earlier ones, byte for byte', async () => {
    const root = await tempDir();
    const bundles = [1, 2, 3].map((i) => makeTestBundle({ domains: ['old.example.test', `v${i}.old.example.test`] }));
    mkdirSync(join(root, 'archive', 'old'), { recursive: true });
    mkdirSync(join(root, 'live', 'old'), { recursive: true });
    bundles.forEach((b, i) => {
      for (const [file, pem] of Object.entries({ cert: b.certPem, chain: b.chainPem, fullchain: b.fullchainPem, privkey: b.privateKeyPem })) writeFileSync(join(root, 'archive', 'old', `${file}${i + 1}.pem`), pem);
    });
    for (const file of ['cert', 'chain', 'fullchain', 'privkey']) symlinkSync(`../../archive/old/${file}3.pem`, join(root, 'live', 'old', `${file}.pem`));
    const source = new FilesystemStateBackend({ stateDir: root });
    await new StateStore(source).saveState('old', { failureCount: 2 });

    const bounded = new MemoryStateBackend(1);
    const report = await copyState(source, bounded);
    assert.deepEqual(report.certificates, [{ name: 'old', live: 3, versions: [2, 3], leftOut: [1], renewalState: true, pendingOrder: false, unchanged: false }]);
    const loaded = await new StateStore(bounded).load('old');
    assert.equal(loaded?.version, 3);
    assert.equal(loaded?.certPem, bundles[2]?.certPem);
    assert.deepEqual(loaded?.metadata.domains, ['old.example.test', 'v3.old.example.test'], 'metadata derived from the certificate, as for the directory');
    assert.deepEqual(await new StateStore(bounded).loadState('old'), { failureCount: 2 });

    const back = await tempDir();
    const again = await copyState(bounded, new FilesystemStateBackend({ stateDir: back }));
    assert.deepEqual(again.certificates[0]?.versions, [2, 3]);
    for (const f of ['cert3.pem', 'privkey3.pem', 'chain2.pem']) assert.equal(readFileSync(join(back, 'archive', 'old', f), 'utf8'), readFileSync(join(root, 'archive', 'old', f), 'utf8'), f);
    assert.equal(readFileSync(join(back, 'live', 'old', 'fullchain.pem'), 'utf8'), bundles[2]?.fullchainPem);
    assert.equal(readFileSync(join(back, 'renewal-state', 'old.json'), 'utf8'), readFileSync(join(root, 'renewal-state', 'old.json'), 'utf8'));
  });

  it('never overwrites a version the target holds with other content; copying the same state twice is a no-op', async () => {
    const source = new MemoryStateBackend();
    await new StateStore(source).save('a', makeTestBundle({ domains: ['a.example.test'] }));
    const target = new MemoryStateBackend();
    const first = await copyState(source, target);
    assert.equal(first.certificates[0]?.error, undefined);
    assert.equal(first.certificates[0]?.unchanged, false);
    const second = await copyState(source, target);
    assert.equal(second.certificates[0]?.error, undefined, 'the same content again is fine');
    assert.equal(second.certificates[0]?.unchanged, true, 'and reported as unchanged');
    const other = new MemoryStateBackend();
    const theirs = makeTestBundle({ domains: ['a.example.test'] });
    await new StateStore(other).save('a', theirs);
    const refused = await copyState(source, other);
    assert.match(refused.certificates[0]?.error ?? '', /holds another version 1 of a/);
    assert.equal((await new StateStore(other).load('a'))?.certPem, theirs.certPem, 'the target keeps its own version');
    assert.ok(await other.get(stateKeys.live('a')));
  });

  it('copies certpilot accounts (unchanged the second time); an account folder of no known layout is a failed account, never dropped in silence', async () => {
    const root = await tempDir();
    const source = new FilesystemStateBackend({ stateDir: root });
    const account = { directoryUrl: 'https://acme.test/dir', privateKeyPem: 'KEY', url: 'https://acme.test/acct/1', createdAt: '2026-01-01T00:00:00.000Z' };
    await new StateStore(source).saveAccount(account);
    mkdirSync(join(root, 'accounts', 'strange', 'deeper'), { recursive: true });
    writeFileSync(join(root, 'accounts', 'strange', 'deeper', 'key.json'), '{}');
    const target = new MemoryStateBackend();
    const report = await copyState(source, target);
    assert.deepEqual(report.accounts, [
      { name: 'acme.test_dir', format: 'certpilot', status: 'copied', detail: 'https://acme.test/acct/1 on https://acme.test/dir' },
      { name: 'strange', format: 'unknown', status: 'failed', error: 'accounts/strange holds no account certpilot can read (no account.json; not certbot\'s layout either): not copied' },
    ]);
    assert.deepEqual(await new StateStore(target).loadAccount(account.directoryUrl), account);
    assert.deepEqual((await copyState(source, target)).accounts.map((a) => a.status), ['unchanged', 'failed']);
    // A folder a foreign layout's reader covers is left to it.
    const foreign = { folders: new Set(['strange']), copy: () => Promise.resolve([{ name: 'strange/deeper', format: 'certbot' as const, status: 'copied' as const }]) };
    assert.deepEqual((await copyState(source, new MemoryStateBackend(), { foreignAccounts: foreign })).accounts.map((a) => `${a.name} ${a.status}`), ['acme.test_dir copied', 'strange/deeper copied']);
  });
});
