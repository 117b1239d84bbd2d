// The sync spy for the store: the crash tests record step labels whether or not the sync ran, so
// this test reads the real syscalls (strace) of a save and proves every file and directory of the
// new version is fsynced before the one rename that makes it live.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { makeTestBundle } from '../../../testing/certificate-fixtures.js';
import { durableBeforeSwitch, straceAvailable, traceSyncs } from '../../../testing/sync-trace.js';
import { tempDir } from '../../../testing/temp-dir.js';

const CHILD = fileURLToPath(new URL('./fixtures/crash-child.js', import.meta.url));

test('a save fsyncs every file and directory of the new version before the live switch', { timeout: 120_000 }, async (t) => {
  if (!straceAvailable()) {
    if (process.env.CERTPILOT_REQUIRE_SERVERS === '1') throw new Error('strace is missing (Debian package strace; scripts/setup.sh installs it)');
    process.stderr.write(`\n!!! SKIPPED ${t.name}: strace is missing\n`);
    t.skip('strace is missing');
    return;
  }
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
