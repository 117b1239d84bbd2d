/**
 * The contract suite every {@link Deployer} must pass (DESIGN.md §5, the seam in
 * `deploy/deployer.ts`): a deploy makes the target hold the version; deploying the same version
 * again succeeds and leaves the target as it was (idempotence); a newer version replaces it; an
 * aborted deploy rejects with the signal's reason and changes nothing. Call it from a test file of
 * each implementation, against a real (or stand-in) target.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Deployer } from '../deploy/deployer.js';
import type { StoredCertificate } from '../storage/certificate-store.js';

/** A fresh target for one test and the deployer aimed at it. */
export interface DeployerFixture {
  deployer: Deployer;
  /** Version `n` of the certificate the target gets (the same object for the same `n`). */
  certificate(version: number): StoredCertificate;
  /** What the target holds now, as a comparable value (e.g. serial per pod, the Secret's data). */
  observe(): Promise<unknown>;
  /** What {@link observe} shows once the target holds `certificate`. */
  expected(certificate: StoredCertificate): unknown;
  close?: () => Promise<void>;
}

/** Registers the deployer contract tests under `name`; `make` is called once per test. */
export function deployerContract(name: string, make: () => Promise<DeployerFixture | undefined>, options: { timeout?: number } = {}): void {
  const timeout = options.timeout ?? 60_000;
  const withFixture = async (fn: (f: DeployerFixture) => Promise<void>): Promise<void> => {
    const f = await make();
    if (f === undefined) return; // the fixture skipped (a missing server)
    try {
      await fn(f);
    } finally {
      await f.close?.();
    }
  };

  void test(`${name}: deploy makes the target hold the version, and deploying it again changes nothing`, { timeout }, () =>
    withFixture(async (f) => {
      const v1 = f.certificate(1);
      await f.deployer.deploy(v1, {});
      const after = await f.observe();
      assert.deepEqual(after, f.expected(v1));
      const again = await f.deployer.deploy(v1, {});
      assert.equal(typeof again.message, 'string');
      assert.deepEqual(await f.observe(), after);
    }));

  void test(`${name}: a newer version replaces the older one`, { timeout }, () =>
    withFixture(async (f) => {
      await f.deployer.deploy(f.certificate(1), {});
      const v2 = f.certificate(2);
      await f.deployer.deploy(v2, {});
      assert.deepEqual(await f.observe(), f.expected(v2));
    }));

  void test(`${name}: an aborted deploy rejects with the signal's reason and changes nothing`, { timeout }, () =>
    withFixture(async (f) => {
      const before = await f.observe();
      const reason = new Error('contract: aborted');
      await assert.rejects(f.deployer.deploy(f.certificate(1), { signal: AbortSignal.abort(reason) }), (e) => e === reason);
      assert.deepEqual(await f.observe(), before);
    }));
}
