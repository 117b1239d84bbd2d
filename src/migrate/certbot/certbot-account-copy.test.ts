import assert from 'node:assert/strict';
import { mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { FilesystemStateBackend } from '../../storage/backends/filesystem/filesystem-state-backend.js';
import { MemoryStateBackend } from '../../storage/backends/memory/memory-state-backend.js';
import { copyState } from '../../storage/state-copy.js';
import { StateStore } from '../../storage/state-store.js';
import { CERTBOT_TEST_SERVER, writeCertbotAccount, writeCertbotLineage } from '../../testing/certbot-tree.js';
import { makeTestBundle } from '../../testing/certificate-fixtures.js';
import { FakeClock } from '../../testing/fake-clock.js';
import { tempDir } from '../../testing/temp-dir.js';
import { certbotAccountsIn } from './certbot-account-copy.js';

const clock = new FakeClock(new Date('2026-12-01T00:00:00Z'));

describe('certbotAccountsIn (state copy from a certbot directory)', () => {
  it('copies the account the renewal confs use for a CA, reports a second one for that CA as failed, skips certbot\'s ACMEv1 alias quietly', async () => {
    const root = join(await tempDir(), 'le');
    writeCertbotAccount(root, { id: 'old', url: 'https://acme.test:14000/my-account/1' });
    writeCertbotAccount(root, { id: 'abc', url: 'https://acme.test:14000/my-account/2' }); // the renewal conf names abc
    writeCertbotAccount(root, { id: 'stg', server: 'https://staging.test/directory', url: 'https://staging.test/acct/3' });
    writeCertbotLineage(root, 'a', [makeTestBundle({ domains: ['a.test'] })]);
    // certbot links the ACMEv1 server's folder to the ACMEv2 one: nothing of its own.
    mkdirSync(join(root, 'accounts', 'acme-v01.test'));
    symlinkSync('../staging.test/directory', join(root, 'accounts', 'acme-v01.test', 'directory'));

    const foreign = await certbotAccountsIn(root, clock);
    assert.ok(foreign);
    const target = new MemoryStateBackend();
    const report = await copyState(new FilesystemStateBackend({ stateDir: root }), target, { foreignAccounts: foreign });
    assert.deepEqual(
      report.accounts.map((a) => [a.name, a.status]),
      [
        ['acme.test:14000/dir/abc', 'copied'],
        ['staging.test/directory/stg', 'copied'],
        ['acme.test:14000/dir/old', 'failed'],
      ],
    );
    assert.match(report.accounts[2]?.error ?? '', /another account for https:\/\/acme\.test:14000\/dir \(https:\/\/acme\.test:14000\/my-account\/2\)/);
    assert.equal(JSON.stringify(report).includes('PRIVATE KEY'), false, 'no key in the report');
    const store = new StateStore(target);
    assert.equal((await store.loadAccount(CERTBOT_TEST_SERVER))?.url, 'https://acme.test:14000/my-account/2');
    assert.equal((await store.loadAccount('https://staging.test/directory'))?.createdAt, '2025-01-02T03:04:05.000Z');
    assert.deepEqual(report.certificates.map((c) => [c.name, c.live]), [['a', 1]]);
  });

  it('opens nothing when accounts/ holds only certpilot\'s accounts', async () => {
    const root = await tempDir();
    await new StateStore(new FilesystemStateBackend({ stateDir: root })).saveAccount({ directoryUrl: 'https://acme.test/dir', privateKeyPem: 'KEY', createdAt: '2026-01-01T00:00:00.000Z' });
    assert.equal(await certbotAccountsIn(root, clock), undefined);
    assert.equal(await certbotAccountsIn(join(root, 'missing'), clock), undefined);
  });
});
