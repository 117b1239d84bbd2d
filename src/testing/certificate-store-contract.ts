/**
 * The contract every {@link CertificateStore} + {@link RenewalStateStore} implementation must pass
 * (DESIGN.md §5, certmagic's storage tests). Call it from the implementation's test file:
 * `certificateStoreContract('filesystem', async () => new FilesystemCertificateStore({ stateDir }))`.
 * Each test gets a fresh, empty store from `makeStore`.
 */
import assert from 'node:assert/strict';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { before, describe, it } from 'node:test';
import { CertpilotError } from '../errors.js';
import { EMPTY_RENEWAL_STATE } from '../storage/certificate-store.js';
import type { CertificateBundle, CertificateStore, RenewalState, RenewalStateStore, StoredCertificate } from '../storage/certificate-store.js';
import { makeTestBundle } from './certificate-fixtures.js';

/** Names no store may accept: traversal, hidden, separators, spaces, empty and too long. */
export const UNSAFE_NAMES: readonly string[] = ['', '.', '..', '../etc', 'a/b', 'a\\b', '.hidden', 'a..b', 'a b', 'a\nb', 'é', 'x'.repeat(201)];

function assertSameSet(actual: StoredCertificate | undefined, bundle: CertificateBundle, message: string): void {
  assert.ok(actual, `${message}: load returned undefined`);
  assert.equal(actual.certPem, bundle.certPem, `${message}: cert`);
  assert.equal(actual.chainPem, bundle.chainPem, `${message}: chain`);
  assert.equal(actual.fullchainPem, bundle.fullchainPem, `${message}: fullchain`);
  assert.equal(actual.privateKeyPem, bundle.privateKeyPem, `${message}: private key`);
  assert.deepEqual(actual.metadata, bundle.metadata, `${message}: metadata`);
}

function assertNameError(err: unknown): true {
  assert.ok(err instanceof CertpilotError, `expected a CertpilotError, got ${String(err)}`);
  assert.equal(err.code, 'ERR_STORAGE_NAME');
  return true;
}

/** Registers the store contract tests under `describe(<name> store contract)`. */
export function certificateStoreContract(name: string, makeStore: () => Promise<CertificateStore & RenewalStateStore>): void {
  describe(`${name} store contract`, () => {
    let a1: CertificateBundle;
    let a2: CertificateBundle;
    let b1: CertificateBundle;
    before(() => {
      a1 = makeTestBundle({ domains: ['a.example.test', 'www.a.example.test'] });
      a2 = makeTestBundle({ domains: ['a.example.test'], keyType: 'rsa-2048', metadata: { profile: 'shortlived' } });
      b1 = makeTestBundle({ domains: ['b.example.test'] });
    });

    it('loads undefined for a name never saved, and lists nothing', async () => {
      const store = await makeStore();
      assert.equal(await store.load('never-saved.example'), undefined);
      assert.deepEqual(await store.list(), []);
    });

    it('returns what it saved, from save and from a later load', async () => {
      const store = await makeStore();
      const saved = await store.save('a.example.test', a1);
      assertSameSet(saved, a1, 'save result');
      assert.equal(saved.name, 'a.example.test');
      assert.equal(saved.version, 1);
      const loaded = await store.load('a.example.test');
      assertSameSet(loaded, a1, 'load');
      assert.equal(loaded?.version, 1);
      assert.deepEqual(loaded?.paths, saved.paths);
      const cert = new X509Certificate(loaded?.certPem ?? '');
      assert.ok(cert.checkPrivateKey(createPrivateKey(loaded?.privateKeyPem ?? '')), 'loaded key matches loaded certificate');
    });

    it('numbers versions upward and loads the newest', async () => {
      const store = await makeStore();
      const first = await store.save('a.example.test', a1);
      const second = await store.save('a.example.test', a2);
      assert.ok(second.version > first.version, `version ${second.version} should exceed ${first.version}`);
      const loaded = await store.load('a.example.test');
      assertSameSet(loaded, a2, 'after second save');
      assert.equal(loaded?.version, second.version);
      const third = await store.save('a.example.test', a1);
      assert.ok(third.version > second.version);
      assertSameSet(await store.load('a.example.test'), a1, 'after third save');
    });

    it('keeps names apart', async () => {
      const store = await makeStore();
      await store.save('a.example.test', a1);
      await store.save('b.example.test', b1);
      assertSameSet(await store.load('a.example.test'), a1, 'a');
      assertSameSet(await store.load('b.example.test'), b1, 'b');
    });

    it('lists saved names sorted', async () => {
      const store = await makeStore();
      for (const n of ['zeta', 'alpha', 'Mid.example', 'beta_2']) await store.save(n, b1);
      await store.save('alpha', a1);
      assert.deepEqual(await store.list(), ['Mid.example', 'alpha', 'beta_2', 'zeta']);
    });

    it('reads absent renewal state as EMPTY_RENEWAL_STATE', async () => {
      const store = await makeStore();
      assert.deepEqual(await store.loadState('never-saved'), { ...EMPTY_RENEWAL_STATE });
    });

    it('round-trips renewal state and overwrites it', async () => {
      const store = await makeStore();
      const state: RenewalState = {
        ari: {
          certId: 'aki.serial',
          windowStart: '2026-03-01T00:00:00.000Z',
          windowEnd: '2026-03-03T00:00:00.000Z',
          explanationUrl: 'https://ca.example/why',
          fetchedAt: '2026-02-01T00:00:00.000Z',
          nextFetchAt: '2026-02-01T06:00:00.000Z',
          selectedTime: '2026-03-02T01:02:03.000Z',
        },
        retryAfter: '2026-02-01T01:00:00.000Z',
        lastAttempt: { at: '2026-02-01T00:00:00.000Z', result: 'failure', code: 'ERR_ACME_PROBLEM', message: 'boom', reason: 'lifetime' },
        failureCount: 3,
        backoffUntil: '2026-02-01T00:20:00.000Z',
        deployments: { volume: { version: 4, serialNumber: '0c', at: '2026-02-01T00:00:01.000Z', result: 'success', message: 'wrote 5 files' } },
      };
      await store.saveState('a.example.test', state);
      assert.deepEqual(await store.loadState('a.example.test'), state);
      assert.deepEqual(await store.loadState('b.example.test'), { ...EMPTY_RENEWAL_STATE }, 'state of another name is untouched');
      await store.saveState('a.example.test', { failureCount: 0 });
      assert.deepEqual(await store.loadState('a.example.test'), { failureCount: 0 });
    });

    it('refuses unsafe names on every method', async () => {
      const store = await makeStore();
      for (const bad of UNSAFE_NAMES) {
        await assert.rejects(store.load(bad), assertNameError, `load(${JSON.stringify(bad)})`);
        await assert.rejects(store.save(bad, a1), assertNameError, `save(${JSON.stringify(bad)})`);
        await assert.rejects(store.loadState(bad), assertNameError, `loadState(${JSON.stringify(bad)})`);
        await assert.rejects(store.saveState(bad, { failureCount: 0 }), assertNameError, `saveState(${JSON.stringify(bad)})`);
      }
      assert.deepEqual(await store.list(), []);
    });
  });
}
