// The dns-01 solver over a recording provider and a stand-in propagation checker: CNAME targets are
// written and cleaned at the target; a wildcard and its base add and remove their own values in one
// record set; presents run at once (nothing serializes); wait asks the checker for the target.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { PendingChallenge } from '../challenge-solver.js';
import type { DnsCallOptions, DnsProvider, TxtRecord } from './dns-provider.js';
import { Dns01Solver } from './dns01-solver.js';
import type { PropagationChecker } from './propagation.js';

function challenge(name: string, wildcard: boolean, value: string): PendingChallenge {
  return {
    type: 'dns-01',
    identifier: { type: 'dns', value: name },
    wildcard,
    url: `https://ca.test/chall/${wildcard ? 'w' : 'b'}-${name}`,
    token: 'tok',
    keyAuthorization: 'tok.thumb',
    dnsRecordName: `_acme-challenge.${name}.`,
    dnsValue: value,
  };
}

class MemoryProvider implements DnsProvider {
  readonly sets = new Map<string, Set<string>>();
  readonly calls: string[] = [];
  inFlight = 0;
  maxInFlight = 0;
  async addTxtRecord(r: TxtRecord, _o: DnsCallOptions): Promise<void> {
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    await new Promise((resolve) => setImmediate(resolve));
    this.inFlight--;
    this.calls.push(`add ${r.fqdn} ${r.value} ${r.ttl}`);
    const set = this.sets.get(r.fqdn) ?? new Set();
    set.add(r.value);
    this.sets.set(r.fqdn, set);
  }
  async removeTxtRecord(r: Omit<TxtRecord, 'ttl'>, _o: DnsCallOptions): Promise<void> {
    this.calls.push(`remove ${r.fqdn} ${r.value}`);
    this.sets.get(r.fqdn)?.delete(r.value);
  }
}

function checker(cnames: Record<string, string>, waited: string[]): PropagationChecker {
  return {
    resolveTarget: async (fqdn: string) => cnames[fqdn] ?? fqdn,
    waitFor: async (fqdn: string, value: string) => {
      waited.push(`${fqdn} ${value}`);
      return [];
    },
  } as unknown as PropagationChecker;
}

void test('a wildcard and its base share the record set; each cleanUp removes only its own value', async () => {
  const provider = new MemoryProvider();
  const waited: string[] = [];
  const solver = new Dns01Solver({ provider, ttlSeconds: 30, propagation: checker({}, waited) });
  const wild = challenge('example.test', true, 'value-wild');
  const base = challenge('example.test', false, 'value-base');
  await Promise.all([solver.present(wild, {}), solver.present(base, {})]);
  assert.equal(provider.maxInFlight, 2, 'both presented at once');
  assert.deepEqual([...(provider.sets.get('_acme-challenge.example.test.') ?? [])].sort(), ['value-base', 'value-wild']);
  await Promise.all([solver.wait(wild, {}), solver.wait(base, {})]);
  assert.deepEqual(waited.sort(), ['_acme-challenge.example.test. value-base', '_acme-challenge.example.test. value-wild']);
  await solver.cleanUp(wild, {});
  assert.deepEqual([...(provider.sets.get('_acme-challenge.example.test.') ?? [])], ['value-base']);
  await solver.cleanUp(base, {});
  assert.equal(provider.sets.get('_acme-challenge.example.test.')?.size, 0);
  assert.ok(provider.calls.every((c) => !c.startsWith('add') || c.endsWith(' 30')), 'the configured TTL');
});

void test('a CNAME-delegated name is written, checked and cleaned at the target', async () => {
  const provider = new MemoryProvider();
  const waited: string[] = [];
  const target = '_acme-challenge.www.validation.test.';
  const solver = new Dns01Solver({ provider, propagation: checker({ '_acme-challenge.www.example.test.': target }, waited) });
  const ch = challenge('www.example.test', false, 'v1');
  await solver.present(ch, {});
  await solver.wait(ch, {});
  await solver.cleanUp(ch, {});
  assert.deepEqual(provider.calls, [`add ${target} v1 60`, `remove ${target} v1`]);
  assert.deepEqual(waited, [`${target} v1`]);
});

void test('followCname: false writes at _acme-challenge.<name> itself; no checker means no wait', async () => {
  const provider = new MemoryProvider();
  const waited: string[] = [];
  const solver = new Dns01Solver({ provider, followCname: false, propagation: checker({ '_acme-challenge.a.test.': 'elsewhere.' }, waited) });
  await solver.present(challenge('a.test', false, 'v'), {});
  assert.deepEqual(provider.calls, ['add _acme-challenge.a.test. v 60']);
  const bare = new Dns01Solver({ provider });
  await bare.wait(challenge('a.test', false, 'v'), {});
  assert.deepEqual(waited, []);
});

void test('propagationCheck off still follows the CNAME, and wait returns at once', async () => {
  const provider = new MemoryProvider();
  const waited: string[] = [];
  const solver = new Dns01Solver({ provider, checkPropagation: false, propagation: checker({ '_acme-challenge.a.test.': '_acme-challenge.a.validation.test.' }, waited) });
  const ch = challenge('a.test', false, 'v');
  await solver.present(ch, {});
  await solver.wait(ch, {});
  assert.deepEqual(provider.calls, ['add _acme-challenge.a.validation.test. v 60']);
  assert.deepEqual(waited, []);
});
