// The sync spy for the store: the crash tests record step labels whether or not the sync ran, so
// this test reads the real syscalls (strace) of a save and proves every file and directory of the
// new version is fsynced before the one rename that makes it live.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { makeTestBundle } from '../../../testing/certificate-fixtures.js';
import { durableBeforeSwitch, requireStrace, traceSyncs } from '../../../testing/sync-trace.js';
import { tempDir } from '../../../testing/temp-dir.js';

const CHILD = fileURLToPath(new URL('./fixtures/crash-child.js', import.meta.url));

test('a save fsyncs every file and directory of the new version before the live switch', { timeout: 120_000 }, async (t) => {
  if (!requireStrace(t)) return;
  const dir = await tempDir('certpilot-sync-');
  const stateDir = join(dir, 'state');
  const bundlesFile = join(dir, 'bundles.json');
  writeFileSync(bundlesFile, JSON.stringify({ v1: makeTestBundle({ domains: ['site.example'] }), v2: makeTestBundle({ domains: ['site.example'] }) }), { mode: 0o600 });
  const { events } = traceSyncs(CHILD, JSON.stringify({ stateDir, bundlesFile, killAt: -1, saveFirst: true }));
  const archive = join(stateDir, 'archive', 'site.example');
  const live = join(stateDir, 'live');
  const versionDir = join(live, '.site.example.v2');
  const files = ['cert2.pem', 'chain2.pem', 'fullchain2.pem', 'privkey2.pem', 'meta2.json'].map((f) => join(archive, f));
  const problems = durableBeforeSwitch(events, join(live, 'site.example'), [...files, join(versionDir, 'README')], [archive, versionDir, live]);
  assert.deepEqual(problems, []);
  // And the switch itself is made durable.
  const switchAt = events.filter((e) => e.kind === 'rename' && e.to === join(live, 'site.example')).pop()?.at ?? Infinity;
  assert.ok(events.some((e) => e.kind === 'fsync' && e.path === live && e.at > switchAt), 'live/ is fsynced after the switch');
});

test('a pending order is durable before finalize, and the checkpoint after finalize writes only the record', { timeout: 120_000 }, async (t) => {
  if (!requireStrace(t)) return;
  const dir = await tempDir('certpilot-sync-');
  const stateDir = join(dir, 'state');
  const keyFile = join(dir, 'key.pem');
  writeFileSync(keyFile, makeTestBundle({ domains: ['site.example'] }).privateKeyPem, { mode: 0o600 });
  const { events } = traceSyncs(CHILD, JSON.stringify({ kind: 'pending', stateDir, keyFile, killAt: -1 }));
  const pendingDir = join(stateDir, 'pending', 'site.example');
  const order = join(pendingDir, 'order.json');
  const key = join(pendingDir, 'privkey.pem');
  // Before the first marker (finalize may follow): key and record fsynced and renamed into place,
  // the order's folder and pending/ (which gained it) fsynced after.
  assert.deepEqual(durableBeforeSwitch(events, join(stateDir, 'marker1'), [key, order], [pendingDir, join(stateDir, 'pending')]), []);
  // Before the second: the new record is durable too.
  const upTo2 = durableBeforeSwitch(events, join(stateDir, 'marker2'), [order], [pendingDir]);
  assert.deepEqual(upTo2, []);
  const marker1 = events.find((e) => e.kind === 'rename' && e.to === join(stateDir, 'marker1'))?.at ?? Infinity;
  const renamesAfter = events.filter((e): e is Extract<typeof e, { kind: 'rename' }> => e.kind === 'rename' && e.at > marker1 && e.to.startsWith(`${pendingDir}/`)).map((e) => e.to);
  assert.deepEqual(renamesAfter, [order], 'the checkpoint after finalize rewrites the record, not the unchanged key');
});
