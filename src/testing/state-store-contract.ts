/**
 * The contract every state backend passes under the domain stores (DESIGN.md §5): the store
 * contract (versions, names, renewal state), plus all-or-nothing saves, version conflicts, corrupt
 * entries set aside and reported, pending orders and accounts. Call it from the backend's test:
 * `stateStoreContract('memory', async () => ({ store: new StateStore(new MemoryStateBackend()) }))`.
 * Each test gets a fresh, empty store.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { CertpilotError } from '../errors.js';
import { EMPTY_RENEWAL_STATE, type CertificateBundle, type PendingOrder, type StoredAccount } from '../storage/certificate-store.js';
import { StateConflictError, type StateBackend } from '../storage/state-backend.js';
import { stateKeys } from '../storage/state-keys.js';
import { StateStore, type CorruptEntryReport } from '../storage/state-store.js';
import { makeTestBundle } from './certificate-fixtures.js';
import { certificateStoreContract } from './certificate-store-contract.js';

/** What a backend's test gives the suite. */
export interface StateStoreFixture {
  /** A fresh, empty backend. */
  backend: StateBackend;
  /** Reads what was set aside at `where` (a file path or a state key), for the "never lost" check. */
  readAside?: (where: string) => Promise<string | undefined>;
}

/** A backend that fails the first write of a key matching `fails`, to prove a save is all or nothing. */
function failingOn(backend: StateBackend, fails: RegExp): StateBackend {
  let armed = true;
  const wrapped: StateBackend = Object.create(backend) as StateBackend;
  wrapped.put = async (key, value, options) => {
    if (armed && fails.test(key)) {
      armed = false;
      throw new CertpilotError('ERR_STORAGE_IO', `storage: writing ${key} failed: injected`);
    }
    return backend.put(key, value, options);
  };
  return wrapped;
}

/** Reads a value kept aside: a state key through the backend, else through the fixture. */
async function readAside(fixture: StateStoreFixture, where: string): Promise<string | undefined> {
  if (where.startsWith('certificates/')) {
    const entry = await fixture.backend.get(where);
    return entry === undefined ? undefined : Object.values(entry.value).join('\n');
  }
  return fixture.readAside?.(where);
}

/** Registers the state store contract tests under `describe(<name> state store contract)`. */
export function stateStoreContract(name: string, makeFixture: () => Promise<StateStoreFixture>): void {
  certificateStoreContract(name, async () => new StateStore((await makeFixture()).backend));

  describe(`${name} state store contract`, () => {
    let a1: CertificateBundle;
    let a2: CertificateBundle;
    before(() => {
      a1 = makeTestBundle({ domains: ['a.example.test'] });
      a2 = makeTestBundle({ domains: ['a.example.test'], keyType: 'ec-p384' });
    });

    it('a save that fails before its switch leaves the old version live and no trace of the new one', async () => {
      const { backend } = await makeFixture();
      await new StateStore(backend).save('a', a1);
      const before = await backend.list(stateKeys.versionsPrefix('a'));
      await assert.rejects(new StateStore(failingOn(backend, /\/live$/)).save('a', a2), /injected/);
      const loaded = await new StateStore(backend).load('a');
      assert.equal(loaded?.certPem, a1.certPem, 'the old version stays live');
      assert.equal(loaded?.privateKeyPem, a1.privateKeyPem);
      assert.deepEqual(await backend.list(stateKeys.versionsPrefix('a')), before, 'the version that never went live is removed');
      const next = await new StateStore(backend).save('a', a2);
      assert.equal((await new StateStore(backend).load('a'))?.certPem, a2.certPem);
      assert.ok(next.version > (loaded?.version ?? 0));
    });

    it('a save that fails writing its version changes nothing', async () => {
      const { backend } = await makeFixture();
      await assert.rejects(new StateStore(failingOn(backend, /\/versions\//)).save('a', a1), /injected/);
      assert.equal(await new StateStore(backend).load('a'), undefined);
      assert.deepEqual(await new StateStore(backend).list(), []);
    });

    it('every value carries its version; a stale or wrong ifVersion is a conflict that writes nothing', async () => {
      const { backend } = await makeFixture();
      const key = stateKeys.renewalState('a');
      assert.equal(await backend.get(key), undefined);
      const v1 = await backend.put(key, { 'state.json': '{"failureCount":1}\n' }, { ifVersion: null });
      assert.equal((await backend.get(key))?.version, v1);
      await assert.rejects(backend.put(key, { 'state.json': '{"failureCount":9}\n' }, { ifVersion: null }), (e) => e instanceof StateConflictError && e.code === 'ERR_STORAGE_CONFLICT');
      const v2 = await backend.put(key, { 'state.json': '{"failureCount":2}\n' }, { ifVersion: v1 });
      assert.notEqual(v2, v1, 'a put changes the version');
      await assert.rejects(backend.put(key, { 'state.json': '{"failureCount":9}\n' }, { ifVersion: v1 }), StateConflictError);
      await assert.rejects(backend.delete(key, { ifVersion: v1 }), StateConflictError);
      assert.equal((await backend.get(key))?.value['state.json'], '{"failureCount":2}\n', 'no conflicting write got through');
      await backend.delete(key, { ifVersion: v2 });
      assert.equal(await backend.get(key), undefined);
      await backend.delete(key);
      await assert.rejects(backend.put(key, { 'state.json': '{}' }, { ifVersion: v2 }), StateConflictError, 'a version of an absent key is stale');
    });

    it('lists keys by prefix', async () => {
      const { backend } = await makeFixture();
      const store = new StateStore(backend);
      await store.save('a', a1);
      await store.saveState('a', { failureCount: 0 });
      await store.saveState('b', { failureCount: 0 });
      assert.deepEqual(await backend.list('certificates/a/'), [stateKeys.live('a'), stateKeys.renewalState('a'), stateKeys.version('a', 1)].sort());
      assert.deepEqual(await backend.list('certificates/b/'), [stateKeys.renewalState('b')]);
      assert.deepEqual(await backend.list('accounts/'), []);
    });

    it('sets an unreadable renewal state aside, reports it, and starts from an empty state', async () => {
      const fixture = await makeFixture();
      const reports: CorruptEntryReport[] = [];
      const store = new StateStore(fixture.backend, { onCorrupt: (r) => reports.push(r) });
      await fixture.backend.put(stateKeys.renewalState('a'), { 'state.json': '{"failureCount": tru' });
      assert.deepEqual(await store.loadState('a'), { ...EMPTY_RENEWAL_STATE });
      assert.equal(reports.length, 1, 'reported once');
      assert.equal(reports[0]?.key, stateKeys.renewalState('a'));
      assert.match((await readAside(fixture, reports[0]?.where ?? '')) ?? '', /"failureCount": tru/, 'the unreadable bytes are kept, not deleted');
      assert.equal(await fixture.backend.get(stateKeys.renewalState('a')), undefined);
      await store.saveState('a', { failureCount: 1 });
      assert.deepEqual(await store.loadState('a'), { failureCount: 1 });
      assert.equal(reports.length, 1);
    });

    it('keeps a pending order until cleared; an order without its key is set aside and reported', async () => {
      const fixture = await makeFixture();
      const reports: CorruptEntryReport[] = [];
      const store = new StateStore(fixture.backend, { onCorrupt: (r) => reports.push(r) });
      const order: PendingOrder = {
        orderUrl: 'https://ca.test/order/1',
        directoryUrl: 'https://ca.test/dir',
        accountUrl: 'https://ca.test/acct/1',
        domains: ['a.example.test'],
        keyType: 'ec-p256',
        privateKeyPem: a1.privateKeyPem,
        createdAt: '2026-01-01T00:00:00.000Z',
      };
      assert.equal(await store.loadPendingOrder('a'), undefined);
      await store.savePendingOrder('a', order);
      assert.deepEqual(await store.loadPendingOrder('a'), order);
      await store.savePendingOrder('a', { ...order, certificateUrl: 'https://ca.test/cert/1' });
      assert.equal((await store.loadPendingOrder('a'))?.certificateUrl, 'https://ca.test/cert/1');
      assert.equal(await store.loadPendingOrder('b'), undefined, 'another name has none');
      await store.clearPendingOrder('a');
      await store.clearPendingOrder('a');
      assert.equal(await store.loadPendingOrder('a'), undefined);

      await fixture.backend.put(stateKeys.pendingOrder('a'), { 'order.json': JSON.stringify({ ...order, privateKeyPem: undefined }), 'privkey.pem': 'truncated' });
      assert.equal(await store.loadPendingOrder('a'), undefined);
      assert.equal(reports.length, 1);
      assert.match((await readAside(fixture, reports[0]?.where ?? '')) ?? '', /order\/1/);
    });

    it('saves and loads accounts per directory, with a rollover key while one is pending', async () => {
      const { backend } = await makeFixture();
      const store = new StateStore(backend);
      const account: StoredAccount = { directoryUrl: 'https://ca.test/dir', privateKeyPem: a1.privateKeyPem, url: 'https://ca.test/acct/1', contact: ['mailto:a@example.com'], createdAt: '2026-01-01T00:00:00.000Z' };
      assert.equal(await store.loadAccount(account.directoryUrl), undefined);
      await store.saveAccount({ ...account, nextPrivateKeyPem: a2.privateKeyPem });
      assert.deepEqual(await store.loadAccount(account.directoryUrl), { ...account, nextPrivateKeyPem: a2.privateKeyPem });
      await store.saveAccount({ ...account, privateKeyPem: a2.privateKeyPem });
      assert.deepEqual(await store.loadAccount(account.directoryUrl), { ...account, privateKeyPem: a2.privateKeyPem }, 'the rollover key is gone once promoted');
      assert.equal(await store.loadAccount('https://other.test/dir'), undefined, 'accounts are per directory');
      assert.deepEqual(await backend.list('accounts/'), [stateKeys.account(account.directoryUrl)]);
    });

    it('creates an account only where none is stored (two runs registering at once share one)', async () => {
      const { backend } = await makeFixture();
      const store = new StateStore(backend);
      const first: StoredAccount = { directoryUrl: 'https://ca.test/dir', privateKeyPem: a1.privateKeyPem, createdAt: '2026-01-01T00:00:00.000Z' };
      assert.equal(await store.createAccount(first), true);
      assert.equal(await store.createAccount({ ...first, privateKeyPem: a2.privateKeyPem }), false, 'the second run is told one exists');
      assert.equal((await store.loadAccount(first.directoryUrl))?.privateKeyPem, a1.privateKeyPem, 'the first key is kept');
    });

    it('refuses an account record without its key (never rebuilt silently)', async () => {
      const { backend } = await makeFixture();
      await backend.put(stateKeys.account('https://ca.test/dir'), { 'account.json': '{"createdAt":"2026-01-01T00:00:00.000Z"}' });
      await assert.rejects(new StateStore(backend).loadAccount('https://ca.test/dir'), (e) => e instanceof CertpilotError && e.code === 'ERR_STORAGE_CORRUPT');
    });
  });
}
