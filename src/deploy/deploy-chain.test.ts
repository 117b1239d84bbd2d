import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { StoredCertificate } from '../storage/certificate-store.js';
import { unheldDeployers, VERIFY_DEADLINE_MS } from './deploy-chain.js';
import type { Deployer, DeployVerifier } from './deployer.js';

const stored = { name: 'www', version: 1, metadata: { serialNumber: '01' } } as unknown as StoredCertificate;
const records = { silent: { version: 1, serialNumber: '01', at: '2026-12-01T00:00:00Z', result: 'success' as const, message: 'written' } };

test('a target that does not answer (a silent API server) is "not checked" after the deadline, not a wait of the client\'s own timeout, and not lost', async () => {
  let aborted = false;
  // One that heeds its signal, as the kubernetes-secret deployer's GET does.
  const heeds: Deployer & DeployVerifier = {
    id: 'silent',
    deploy: () => Promise.reject(new Error('not here')),
    verify: (_s, { signal } = {}) => new Promise((_resolve, reject) => signal?.addEventListener('abort', () => ((aborted = true), reject(signal.reason as Error)))),
  };
  const started = Date.now();
  const [unheld] = await unheldDeployers(stored, [heeds], records);
  assert.equal(aborted, true, 'the check was told to stop');
  assert.match(unheld?.reason ?? '', new RegExp(`^deploy: silent: its target did not answer within ${VERIFY_DEADLINE_MS / 1000} s$`));
  assert.equal(unheld?.unchecked?.code, 'ERR_DEPLOY_FAILED', 'not checked: its record stands');
  assert.ok(Date.now() - started < VERIFY_DEADLINE_MS + 2_000);
  // One that ignores it is raced: the same answer.
  const ignores: Deployer & DeployVerifier = { ...heeds, verify: () => new Promise(() => undefined) };
  const [raced] = await unheldDeployers(stored, [ignores], records);
  assert.ok(raced?.unchecked !== undefined, 'not lost');
});
