import assert from 'node:assert/strict';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { makeTestBundle } from '../testing/certificate-fixtures.js';
import { tempDir } from '../testing/temp-dir.js';
import { FilesystemCertificateStore } from './backends/filesystem/filesystem-certificate-store.js';
import { MemoryStateBackend } from './backends/memory/memory-state-backend.js';
import { StateStore, versionsUpTo } from './state-store.js';

const DAY = 86_400_000;

test('a partial version a killed save left (cert8.pem without chain8.pem or meta8.json) is swept by the next save', async () => {
  const store = new FilesystemCertificateStore({ stateDir: join(await tempDir('certpilot-sweep-'), 'state') });
  const bundle = makeTestBundle({ domains: ['site.test'] });
  await store.save('site', bundle);
  const archive = join(store.stateDir, 'archive', 'site');
  // What a kill mid-writeVersion leaves: the first files of a version, never made live.
  writeFileSync(join(archive, 'cert2.pem'), bundle.certPem);
  writeFileSync(join(archive, 'chain2.pem'), bundle.chainPem);
  // And one killed right before its metadata.
  for (const f of ['cert', 'chain', 'fullchain', 'privkey']) writeFileSync(join(archive, `${f}3.pem`), f === 'privkey' ? bundle.privateKeyPem : bundle.certPem);
  const saved = await store.save('site', bundle);
  assert.equal(saved.version, 4, 'a leftover number is never reused');
  const files = readdirSync(archive).sort();
  assert.deepEqual(files.filter((f) => /[23]\.(pem|json)$/.test(f)), [], `partial versions swept: ${files.join(' ')}`);
  assert.ok(files.includes('cert1.pem') && files.includes('meta1.json'), 'a whole earlier version stays');
  assert.equal((await store.load('site'))?.version, 4);
});

test('findVersion recognizes a stored certificate by its fingerprint, live or archived, never by serial', async () => {
  const store = new StateStore(new MemoryStateBackend());
  const a = makeTestBundle({ domains: ['a.test'] });
  const b = makeTestBundle({ domains: ['a.test'] });
  await store.save('a', a);
  await store.save('a', b);
  assert.equal(await store.findVersion('a', b.fullchainPem), 2, 'the live one');
  assert.equal(await store.findVersion('a', a.certPem), 1, 'an archived one');
  const other = makeTestBundle({ domains: ['a.test'], metadata: { serialNumber: a.metadata.serialNumber } });
  assert.equal(await store.findVersion('a', other.certPem), undefined, 'the same serial in metadata is not the same certificate');
});

test('retention keeps the last N, every version younger than D days, and every version a deployer holds', async () => {
  const store = new FilesystemCertificateStore({ stateDir: join(await tempDir('certpilot-retain-'), 'state') });
  const bundle = makeTestBundle({ domains: ['r.test'] });
  const t0 = Date.parse('2026-01-01T00:00:00Z');
  // 60 versions, one every 6 days (a short-lived certificate's year).
  for (let i = 0; i < 60; i++) await store.save('r', { ...bundle, metadata: { ...bundle.metadata, issuedAt: new Date(t0 + i * 6 * DAY).toISOString() } });
  const now = new Date(t0 + 59 * 6 * DAY);
  const removed = await store.removeOldVersions('r', { keepVersions: 10, keepDays: 30 }, now, new Set([7]));
  const left = [...new Set(readdirSync(join(store.stateDir, 'archive', 'r')).map((f) => Number(/(\d+)\./.exec(f)?.[1])))].sort((x, y) => x - y);
  assert.deepEqual(left, [7, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60], 'the last 10, and version 7 a deployer holds');
  assert.equal(removed.length, 49);
  assert.equal((await store.load('r'))?.version, 60);
  // 30 days keeps more than 10 when versions come faster.
  const daily = new FilesystemCertificateStore({ stateDir: join(await tempDir('certpilot-retain-'), 'state') });
  for (let i = 0; i < 40; i++) await daily.save('d', { ...bundle, metadata: { ...bundle.metadata, issuedAt: new Date(t0 + i * DAY).toISOString() } });
  await daily.removeOldVersions('d', { keepVersions: 10, keepDays: 30 }, new Date(t0 + 39 * DAY), new Set());
  const kept = readdirSync(join(daily.stateDir, 'archive', 'd')).filter((f) => f.startsWith('cert')).length;
  assert.equal(kept, 30, 'every version younger than 30 days (issued on days 10..39)');
  assert.ok(!existsSync(join(daily.stateDir, 'archive', 'd', 'cert1.pem')));
});

test('listWithStates lists, from one backend listing, the certificates with a live version and the names with a renewal state', async () => {
  for (const store of [new StateStore(new MemoryStateBackend()), new FilesystemCertificateStore({ stateDir: join(await tempDir('certpilot-listall-'), 'state') })]) {
    await store.save('b', makeTestBundle({ domains: ['b.test'] }));
    await store.save('a', makeTestBundle({ domains: ['a.test'] }));
    await store.saveState('a', { failureCount: 0 });
    // A one-off whose first issuance failed: a state and no version.
    await store.saveState('failed-once', { failureCount: 1 });
    let listings = 0;
    const list = store.backend.list.bind(store.backend);
    store.backend.list = async (prefix: string) => {
      listings++;
      return list(prefix);
    };
    const listed = await store.listWithStates();
    assert.deepEqual(listed, { certificates: ['a', 'b'], states: ['a', 'failed-once'], versions: new Map([['a', [1]], ['b', [1]]]) });
    assert.equal(listings, 1, 'one listing of the backend');
    const { versions, ...names } = listed;
    assert.deepEqual(names, { certificates: await store.list(), states: await store.listStates() }, 'the same as list and listStates');
    for (const name of ['a', 'b']) assert.deepEqual(versionsUpTo(versions.get(name) ?? [], 1), await store.listVersions(name), 'the same versions as listVersions');
  }
});

test('listStates on the filesystem reads renewal-state/ alone (no certificate\'s versions), with the names a full listing finds', async () => {
  const store = new FilesystemCertificateStore({ stateDir: join(await tempDir('certpilot-statenames-'), 'state') });
  for (const name of ['b', 'a', 'c']) await store.save(name, makeTestBundle({ domains: [`${name}.test`] }));
  await store.saveState('a', { failureCount: 0 });
  await store.saveState('failed-once', { failureCount: 1 });
  writeFileSync(join(store.stateDir, 'renewal-state', 'notes.txt'), 'not a state');
  const full = (await store.backend.list('certificates/')).map((k) => /^certificates\/([^/]+)\/renewal-state$/.exec(k)?.[1]).filter((n) => n !== undefined);
  let listings = 0;
  const list = store.backend.list.bind(store.backend);
  store.backend.list = async (prefix: string) => {
    listings++;
    return list(prefix);
  };
  assert.deepEqual(await store.listStates(), ['a', 'failed-once']);
  assert.deepEqual(await store.listStates(), full);
  assert.equal(listings, 0, 'no full listing of the backend (it reads every certificate\'s archive)');
  // Through the fence a renewal writes with, the same.
  assert.deepEqual(await store.fenced(new AbortController().signal).listStates(), ['a', 'failed-once']);
  assert.equal(listings, 0);
});

test('versionsUpTo keeps the listed versions up to the live one (a higher one is a save that never completed) and always the live one', () => {
  assert.deepEqual(versionsUpTo([3, 1, 2, 5], 3), [1, 2, 3]);
  assert.deepEqual(versionsUpTo([], 2), [2]);
  assert.deepEqual(versionsUpTo([1, 1, 2], 2), [1, 2]);
});
