/**
 * The contract suite every {@link DnsProvider} must pass (DESIGN.md §5; cert-manager's DNS
 * conformance suite): add then see the value; add is idempotent; remove takes only its own value
 * and keeps every other one (cert-manager's "deleting one record retains others"); remove of a
 * missing value is not an error; values added at once all land; an aborted call rejects with the
 * signal's reason and changes nothing. Run it against a real server (BIND, the Route 53 emulator).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { DnsProvider } from '../challenges/dns01/dns-provider.js';

/** A provider under test and a way to read what the DNS service holds. */
export interface DnsProviderFixture {
  provider: DnsProvider;
  /**
   * Absolute `_acme-challenge` names (trailing dot) the provider may write, at least two; each test
   * uses them from a clean state and leaves them clean.
   */
  names: readonly string[];
  /** Every TXT value the service holds at `fqdn` now (the authoritative view, not a cache). */
  readTxt(fqdn: string): Promise<string[]>;
  /** Writes a value as another party would (another tool's record), bypassing the provider when it can. */
  seed?(fqdn: string, value: string): Promise<void>;
  /** Releases the fixture after the test. */
  close?(): Promise<void>;
}

let counter = 0;

/** A distinct value shaped like a dns-01 TXT value (43 base64url characters). */
function value(label: string): string {
  counter += 1;
  return `${label}-${process.pid}-${counter}-`.padEnd(43, 'x').replace(/[^A-Za-z0-9_-]/g, '-').slice(0, 43);
}

/** Registers the DNS provider contract tests under `name`; `make` is called once per test. */
export function dnsProviderContract(name: string, make: () => Promise<DnsProviderFixture>, options: { timeout?: number } = {}): void {
  const timeout = options.timeout ?? 60_000;
  const withFixture = async (fn: (f: DnsProviderFixture & { a: string; b: string }) => Promise<void>): Promise<void> => {
    const fixture = await make();
    const [a, b] = fixture.names;
    if (a === undefined || b === undefined) throw new Error('dns provider contract: the fixture needs two names');
    try {
      await fn({ ...fixture, a, b });
    } finally {
      await fixture.close?.();
    }
  };
  const sorted = (values: string[]): string[] => [...values].sort();

  void test(`${name}: an added value is served`, { timeout }, () =>
    withFixture(async ({ provider, readTxt, a }) => {
      const v = value('add');
      await provider.addTxtRecord({ fqdn: a, value: v, ttl: 60 }, {});
      assert.deepEqual(await readTxt(a), [v]);
      await provider.removeTxtRecord({ fqdn: a, value: v }, {});
      assert.deepEqual(await readTxt(a), [], 'remove leaves nothing behind');
    }));

  void test(`${name}: adding the same value twice leaves one value`, { timeout }, () =>
    withFixture(async ({ provider, readTxt, a }) => {
      const v = value('twice');
      await provider.addTxtRecord({ fqdn: a, value: v, ttl: 60 }, {});
      await provider.addTxtRecord({ fqdn: a, value: v, ttl: 60 }, {});
      assert.deepEqual(await readTxt(a), [v]);
      await provider.removeTxtRecord({ fqdn: a, value: v }, {});
      await provider.removeTxtRecord({ fqdn: a, value: v }, {});
      assert.deepEqual(await readTxt(a), [], 'a second remove is a no-op');
    }));

  void test(`${name}: removing one value keeps the others (a wildcard and its base share a name)`, { timeout }, () =>
    withFixture(async ({ provider, readTxt, seed, a }) => {
      const other = value('other');
      const mine = value('mine');
      const sibling = value('sibling');
      if (seed) await seed(a, other);
      else await provider.addTxtRecord({ fqdn: a, value: other, ttl: 60 }, {});
      await provider.addTxtRecord({ fqdn: a, value: mine, ttl: 60 }, {});
      await provider.addTxtRecord({ fqdn: a, value: sibling, ttl: 60 }, {});
      assert.deepEqual(sorted(await readTxt(a)), sorted([other, mine, sibling]), 'adding keeps earlier values');
      await provider.removeTxtRecord({ fqdn: a, value: mine }, {});
      assert.deepEqual(sorted(await readTxt(a)), sorted([other, sibling]));
      await provider.removeTxtRecord({ fqdn: a, value: sibling }, {});
      assert.deepEqual(await readTxt(a), [other], "another party's value survives our cleanup");
      await provider.removeTxtRecord({ fqdn: a, value: other }, {});
      assert.deepEqual(await readTxt(a), []);
    }));

  void test(`${name}: removing a value that was never there is not an error`, { timeout }, () =>
    withFixture(async ({ provider, readTxt, a, b }) => {
      const kept = value('kept');
      await provider.removeTxtRecord({ fqdn: a, value: value('never') }, {});
      await provider.addTxtRecord({ fqdn: b, value: kept, ttl: 60 }, {});
      await provider.removeTxtRecord({ fqdn: b, value: value('never') }, {});
      assert.deepEqual(await readTxt(b), [kept], 'a missing value removes nothing else');
      await provider.removeTxtRecord({ fqdn: b, value: kept }, {});
    }));

  void test(`${name}: values added at once on two names all land`, { timeout }, () =>
    withFixture(async ({ provider, readTxt, a, b }) => {
      const values = [value('p1'), value('p2'), value('p3')];
      await Promise.all([
        ...values.map((v) => provider.addTxtRecord({ fqdn: a, value: v, ttl: 60 }, {})),
        provider.addTxtRecord({ fqdn: b, value: values[0] as string, ttl: 60 }, {}),
      ]);
      assert.deepEqual(sorted(await readTxt(a)), sorted(values));
      assert.deepEqual(await readTxt(b), [values[0]]);
      await Promise.all([
        ...values.map((v) => provider.removeTxtRecord({ fqdn: a, value: v }, {})),
        provider.removeTxtRecord({ fqdn: b, value: values[0] as string }, {}),
      ]);
      assert.deepEqual(await readTxt(a), []);
      assert.deepEqual(await readTxt(b), []);
    }));

  void test(`${name}: an aborted call rejects with the signal's reason and writes nothing`, { timeout }, () =>
    withFixture(async ({ provider, readTxt, a }) => {
      const controller = new AbortController();
      const reason = new Error('contract: stop');
      controller.abort(reason);
      await assert.rejects(provider.addTxtRecord({ fqdn: a, value: value('abort'), ttl: 60 }, { signal: controller.signal }), (err) => err === reason);
      await assert.rejects(provider.removeTxtRecord({ fqdn: a, value: value('abort') }, { signal: controller.signal }), (err) => err === reason);
      assert.deepEqual(await readTxt(a), []);
    }));
}
