import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CertpilotError } from '../errors.js';
import { makeTestBundle } from '../testing/certificate-fixtures.js';
import { MemoryStateBackend } from './backends/memory/memory-state-backend.js';
import { EMPTY_RENEWAL_STATE, type PendingOrder } from './certificate-store.js';
import { StateStore } from './state-store.js';

const ACCOUNT = { directoryUrl: 'https://ca.test/dir', privateKeyPem: '-----BEGIN PRIVATE KEY-----\nk\n-----END PRIVATE KEY-----\n', createdAt: '2026-01-01T00:00:00.000Z' };

test('a fenced store refuses every write once its signal aborted, with the signal\'s reason, and writes nothing; reads pass', async () => {
  const store = new StateStore(new MemoryStateBackend());
  const bundle = makeTestBundle({ domains: ['www.example.test'] });
  await store.save('www', bundle);
  const order: PendingOrder = { orderUrl: 'https://ca.test/order/1', directoryUrl: ACCOUNT.directoryUrl, accountUrl: 'https://ca.test/acct/1', domains: ['www.example.test'], keyType: 'ec-p256', privateKeyPem: bundle.privateKeyPem, createdAt: '2026-01-01T00:00:00.000Z' };
  await store.savePendingOrder('www', order);
  const lock = new AbortController();
  const fenced = store.fenced(lock.signal);
  // Before the loss the fenced view writes through to the same state.
  await fenced.saveState('www', { ...EMPTY_RENEWAL_STATE, failureCount: 1 });
  assert.equal((await store.loadState('www')).failureCount, 1);

  const reason = new CertpilotError('ERR_LOCK_LOST', 'lock: lost www');
  lock.abort(reason);
  const writes: [string, () => Promise<unknown>][] = [
    ['save', () => fenced.save('www', makeTestBundle({ domains: ['www.example.test'] }))],
    ['saveState', () => fenced.saveState('www', { ...EMPTY_RENEWAL_STATE, failureCount: 7 })],
    ['savePendingOrder', () => fenced.savePendingOrder('www', { ...order, orderUrl: 'https://ca.test/order/2' })],
    ['clearPendingOrder', () => fenced.clearPendingOrder('www')],
    ['saveAccount', () => fenced.saveAccount(ACCOUNT)],
  ];
  for (const [name, write] of writes) await assert.rejects(write(), (e) => e === reason, `${name} is refused with the lock's reason`);
  assert.equal((await store.load('www'))?.version, 1, 'no version saved');
  assert.equal((await store.loadState('www')).failureCount, 1, 'no renewal state written');
  assert.equal((await store.loadPendingOrder('www'))?.orderUrl, 'https://ca.test/order/1', 'the pending order neither replaced nor cleared');
  assert.equal(await store.loadAccount(ACCOUNT.directoryUrl), undefined, 'no account written');
  // Reads through the fenced view still work, and the store itself is not fenced.
  assert.equal((await fenced.load('www'))?.version, 1);
  await store.saveState('www', { ...EMPTY_RENEWAL_STATE, failureCount: 2 });
  assert.equal((await fenced.loadState('www')).failureCount, 2);
});
