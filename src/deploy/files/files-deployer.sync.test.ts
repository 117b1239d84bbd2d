// The sync spy for the files deployer (atomic layout): the crash test records step labels whether
// or not the sync ran, so this test reads the real syscalls (strace) of a deploy and proves every
// file of the new version directory, the directory itself and the deploy directory are fsynced
// before the one rename of `..data` that switches the set.
import assert from 'node:assert/strict';
import { readdirSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { makeTestBundle } from '../../testing/certificate-fixtures.js';
import { durableBeforeSwitch, requireStrace, traceSyncs } from '../../testing/sync-trace.js';
import { tempDir } from '../../testing/temp-dir.js';

const CHILD = fileURLToPath(new URL('./fixtures/crash-child.js', import.meta.url));

test('a files deploy fsyncs every file and directory of the new version before the ..data switch', { timeout: 120_000 }, async (t) => {
  if (!requireStrace(t)) return;
  const work = await tempDir('certpilot-files-sync-');
  const dir = join(work, 'out');
  const bundlesFile = join(work, 'bundles.json');
  writeFileSync(bundlesFile, JSON.stringify({ v1: makeTestBundle({ domains: ['crash.test'] }), v2: makeTestBundle({ domains: ['crash.test'] }) }), { mode: 0o600 });
  const { events } = traceSyncs(CHILD, JSON.stringify({ dir, bundlesFile, killAt: -1, layout: 'atomic', first: false }));
  const version = readlinkSync(join(dir, '..data'));
  assert.match(version, /-v2$/);
  const versionDir = join(dir, version);
  const files = readdirSync(versionDir).map((f) => join(versionDir, f));
  assert.ok(files.length >= 3, `the version holds the files: ${files.join(' ')}`);
  assert.deepEqual(durableBeforeSwitch(events, join(dir, '..data'), files, [versionDir, dir]), []);
  const switchAt = events.filter((e) => e.kind === 'rename' && e.to === join(dir, '..data')).pop()?.at ?? Infinity;
  assert.ok(events.some((e) => e.kind === 'fsync' && e.path === dir && e.at > switchAt), 'the switch itself is made durable');
});
