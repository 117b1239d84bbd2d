import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ResolvedCertificate } from '../config/load-config.js';
import type { StoredCertificate } from '../storage/certificate-store.js';
import type { Runtime } from './compose.js';
import { FakeClock } from '../testing/fake-clock.js';
import { unheldOf } from './run-report.js';

test('unheldOf: each status asks the targets again; the daemon\'s (reuseForMs) asks each certificate once in that time while its version and records stay', async () => {
  let asked = 0;
  let answer: string | undefined = 'Secret web/www-tls not found';
  const deployer = { id: 'secret', deploy: () => Promise.reject(new Error('not here')), verify: () => Promise.resolve((asked++, answer)) };
  const clock = new FakeClock('2026-12-01T00:00:00Z');
  const runtime = { clock, renewalContext: () => ({ verifiers: () => Promise.resolve([deployer]) }) } as unknown as Runtime;
  const spec = { name: 'www', domains: ['www.example.test'], keyType: 'ec-p256', deploy: ['secret'] } as unknown as ResolvedCertificate;
  const stored = (version: number): StoredCertificate => ({ name: 'www', version, metadata: { serialNumber: `0${version}` } }) as unknown as StoredCertificate;
  const records = (version: number) => ({ secret: { version, serialNumber: `0${version}`, at: '2026-12-01T00:00:00Z', result: 'success' as const, message: 'written' } });

  const fresh = unheldOf(runtime);
  await fresh(spec, stored(1), records(1));
  await fresh(spec, stored(1), records(1));
  assert.equal(asked, 2, 'without reuseForMs every snapshot asks');

  asked = 0;
  const daemon = unheldOf(runtime, { reuseForMs: 60_000 });
  const first = await daemon(spec, stored(1), records(1));
  assert.deepEqual(first.map((u) => u.reason), ['Secret web/www-tls not found']);
  answer = undefined;
  assert.deepEqual(await daemon(spec, stored(1), records(1)), first, 'reused within the minute');
  assert.equal(asked, 1);
  // A new version (or new records) is asked at once.
  assert.deepEqual(await daemon(spec, stored(2), records(2)), []);
  assert.equal(asked, 2);
  // Past the minute, the same version is asked again.
  clock.advance(59_000);
  await daemon(spec, stored(2), records(2));
  assert.equal(asked, 2);
  clock.advance(2_000);
  await daemon(spec, stored(2), records(2));
  assert.equal(asked, 3);
});
