// The three attacks of issue 19, each raced by an unprivileged user (a uid of the test's own) from
// another process for 1,000 operations, against the real FilesDeployer and WebrootHttp01Solver
// running as root: no file outside the target may change owner, mode or existence.
//   1. files deployer: version directories, staged links and temporary files swapped for symlinks
//      to a root-only file or directory while the deployer chmods/chowns (`owner:` set to the
//      attacker, so it may also write inside each version directory once it is handed over).
//   2. files deployer prune: directories that look like old versions, whose subdirectory keeps
//      turning into a link to a root-only directory while old versions are removed.
//   3. webroot solver: `.well-known`, `acme-challenge` and every file in it swapped for links.
// Then each refused shared directory: a target, a parent, a docroot, and a symlink in a shared parent.
import assert from 'node:assert/strict';
import { chmodSync, chownSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { WebrootHttp01Solver } from '../../src/challenges/http01/solvers/webroot/webroot-solver.js';
import { FilesDeployer, fileSet } from '../../src/deploy/files/files-deployer.js';
import { CertpilotError } from '../../src/errors.js';
import { silentLogger } from '../../src/logger.js';
import type { StoredCertificate } from '../../src/storage/certificate-store.js';
import { makeTestBundle } from '../../src/testing/certificate-fixtures.js';
import { pendingHttp01Challenge } from '../../src/testing/pending-challenge.js';
import { attackWorld, attackerDir, requireAttackRoot, snapshot, startAttacker, type AttackWorld } from '../harness/attacker.js';

const ITERATIONS = 1000;
const bundles = [makeTestBundle({ domains: ['attack.test'] }), makeTestBundle({ domains: ['attack.test'] })];
const at = (version: number): StoredCertificate => ({
  ...(bundles[version % 2] as (typeof bundles)[number]),
  name: 'attack',
  version,
  paths: { dir: '/unused', cert: '', chain: '', fullchain: '', privkey: '' },
});

/**
 * Runs `op` ITERATIONS times under attack, then once more after the attacker's leftovers are
 * removed (that one must succeed); returns how many succeeded under attack (failures there are the
 * attack's doing and fine).
 */
async function underAttack(world: AttackWorld, kind: 'files-swap' | 'files-prune' | 'webroot', dir: string, op: (i: number) => Promise<void>): Promise<{ ok: number; errors: Map<string, number>; ops: number }> {
  const before = snapshot(world.outside);
  const attacker = await startAttacker(world, kind, dir);
  let ok = 0;
  const errors = new Map<string, number>();
  let ops = 0;
  try {
    for (let i = 0; i < ITERATIONS; i++) {
      try {
        await op(i);
        ok++;
      } catch (err) {
        const key = err instanceof CertpilotError ? err.code : String((err as NodeJS.ErrnoException).code ?? err);
        errors.set(key, (errors.get(key) ?? 0) + 1);
      }
    }
  } finally {
    ops = await attacker.stop();
  }
  // The one assertion that matters: nothing outside the target changed owner, mode or existence.
  assert.deepEqual(snapshot(world.outside), before, 'a file outside the target changed owner, mode or existence');
  assert.ok(ops > ITERATIONS, `the attacker really raced (${ops} hostile operations)`);
  // Refusing is right while the attacker's links stand; the feature must still work once they are
  // gone. How many rounds succeed DURING the attack depends on scheduling (on a loaded machine the
  // attacker can win every one), so the proof that it still works is a round after the owner
  // removes what the attacker left (never a timing-dependent count).
  for (const entry of readdirSync(dir)) rmSync(join(dir, entry), { recursive: true, force: true });
  await op(ITERATIONS);
  return { ok, errors, ops };
}

describe('symlink races by another local user (issue 19)', { timeout: 600_000 }, () => {
  it(`files deployer: ${ITERATIONS} deploys while version directories, links and temporaries are swapped for symlinks`, async (t) => {
    if (!requireAttackRoot(t)) return;
    const world = attackWorld();
    try {
      const dir = attackerDir(world, 'target');
      const deployer = new FilesDeployer({ id: 'volume', dir, files: fileSet({ bundle: 'cert-chain-key' }), owner: world.uid, group: world.uid, allowSharedDir: true, logger: silentLogger });
      const r = await underAttack(world, 'files-swap', dir, async (i) => {
        await deployer.deploy(at(i + 1));
      });
      t.diagnostic(`files-swap: ${r.ok}/${ITERATIONS} deploys succeeded, attacker made ${r.ops} swaps; errors ${JSON.stringify([...r.errors])}`);
    } finally {
      world.cleanup();
    }
  });

  it(`files deployer prune: ${ITERATIONS} deploys while planted "old versions" swap a subdirectory for a link to a root-only directory`, async (t) => {
    if (!requireAttackRoot(t)) return;
    const world = attackWorld();
    try {
      const dir = attackerDir(world, 'target');
      const deployer = new FilesDeployer({ id: 'volume', dir, files: fileSet({ bundle: 'cert-chain-key' }), allowSharedDir: true, logger: silentLogger });
      const r = await underAttack(world, 'files-prune', dir, async (i) => {
        await deployer.deploy(at(i + 1));
      });
      t.diagnostic(`files-prune: ${r.ok}/${ITERATIONS} deploys succeeded, attacker made ${r.ops} operations; errors ${JSON.stringify([...r.errors])}`);
      // The certificate is still deployed and readable through the links.
      assert.equal(readFileSync(join(dir, 'privkey.pem'), 'utf8').includes('PRIVATE KEY'), true);
    } finally {
      world.cleanup();
    }
  });

  it(`webroot solver: ${ITERATIONS} present/cleanUp rounds while .well-known, acme-challenge and the token are swapped for symlinks`, async (t) => {
    if (!requireAttackRoot(t)) return;
    const world = attackWorld();
    try {
      const docroot = attackerDir(world, 'docroot');
      const solver = new WebrootHttp01Solver({ webroot: docroot, allowSharedDir: true, logger: silentLogger });
      const r = await underAttack(world, 'webroot', docroot, async (i) => {
        const ch = pendingHttp01Challenge(`token${String(i).padStart(6, '0')}AAAAAAAAAAAAAAAAAAAA`);
        try {
          await solver.present(ch, {});
        } finally {
          await solver.cleanUp(ch, {});
        }
      });
      t.diagnostic(`webroot: ${r.ok}/${ITERATIONS} rounds succeeded, attacker made ${r.ops} swaps; errors ${JSON.stringify([...r.errors])}`);
    } finally {
      world.cleanup();
    }
  });
});

describe('shared directories are refused unless allowSharedDir (sshd StrictModes)', () => {
  const refused = (dir: string) => (err: unknown) => {
    assert.ok(err instanceof CertpilotError, String(err));
    assert.equal(err.code, 'ERR_FS_SHARED_DIR');
    assert.ok(err.message.includes(`refusing to work in ${dir}:`), err.message);
    assert.match(err.hint ?? '', /allowSharedDir: true/);
    assert.match(err.hint ?? '', /chmod go-w|chown root/);
    return true;
  };

  it('files deployer: a target owned by another user, a world-writable parent, a symlink in a shared parent', async (t) => {
    if (!requireAttackRoot(t)) return;
    const world = attackWorld();
    try {
      const files = fileSet({ bundle: 'cert-chain-key' });
      const owned = attackerDir(world, 'owned');
      await assert.rejects(new FilesDeployer({ id: 'volume', dir: owned, files }).deploy(at(1)), refused(owned));
      assert.deepEqual(readdirSync(owned), [], 'nothing written into the refused directory');

      const open = join(world.base, 'open');
      mkdirSync(open);
      chmodSync(open, 0o777);
      await assert.rejects(new FilesDeployer({ id: 'volume', dir: join(open, 'certs'), files }).deploy(at(1)), refused(open));
      assert.deepEqual(readdirSync(open), [], 'not even the target was created under a world-writable parent');

      const groupy = join(world.base, 'groupy');
      mkdirSync(groupy);
      chownSync(groupy, 0, world.uid);
      chmodSync(groupy, 0o775);
      await assert.rejects(new FilesDeployer({ id: 'volume', dir: groupy, files }).deploy(at(1)), refused(groupy));

      // A link planted in a shared parent is not followed, even to a good directory.
      const good = join(world.base, 'good');
      mkdirSync(good, { mode: 0o755 });
      const shared = attackerDir(world, 'shared');
      symlinkSync(good, join(shared, 'certs'));
      await assert.rejects(new FilesDeployer({ id: 'volume', dir: join(shared, 'certs'), files }).deploy(at(1)), refused(shared));

      // The sticky, world-writable /tmp style parent is fine; so is the opt-in.
      const sticky = join(world.base, 'sticky');
      mkdirSync(sticky);
      chmodSync(sticky, 0o1777);
      await new FilesDeployer({ id: 'volume', dir: join(sticky, 'certs'), files }).deploy(at(1));
      await new FilesDeployer({ id: 'volume', dir: owned, files, allowSharedDir: true }).deploy(at(1));
      assert.ok(readdirSync(owned).includes('privkey.pem'));
    } finally {
      world.cleanup();
    }
  });

  it('webroot solver: a docroot owned by another user, a world-writable parent', async (t) => {
    if (!requireAttackRoot(t)) return;
    const world = attackWorld();
    try {
      const ch = pendingHttp01Challenge('tokenAAAAAAAAAAAAAAAAAAAAAAAA');
      const docroot = attackerDir(world, 'docroot');
      await assert.rejects(new WebrootHttp01Solver({ webroot: docroot }).present(ch, {}), refused(docroot));
      assert.deepEqual(readdirSync(docroot), []);

      const open = join(world.base, 'open');
      mkdirSync(open);
      chmodSync(open, 0o777);
      mkdirSync(join(open, 'www'), { mode: 0o755 });
      await assert.rejects(new WebrootHttp01Solver({ webroot: join(open, 'www') }).present(ch, {}), refused(open));
      assert.deepEqual(readdirSync(join(open, 'www')), []);

      const solver = new WebrootHttp01Solver({ webroot: docroot, allowSharedDir: true });
      await solver.present(ch, {});
      assert.equal(readFileSync(join(docroot, '.well-known', 'acme-challenge', ch.token), 'utf8'), ch.keyAuthorization);
    } finally {
      world.cleanup();
    }
  });

  it('webroot solver: a symlinked .well-known or acme-challenge is refused, never followed', async (t) => {
    if (!requireAttackRoot(t)) return;
    const world = attackWorld();
    try {
      const ch = pendingHttp01Challenge('tokenBBBBBBBBBBBBBBBBBBBBBBBB');
      const before = snapshot(world.outside);
      const docroot = join(world.base, 'www');
      mkdirSync(docroot, { mode: 0o755 });
      symlinkSync(world.outside, join(docroot, '.well-known'));
      await assert.rejects(new WebrootHttp01Solver({ webroot: docroot }).present(ch, {}), /\.well-known: it is a symbolic link/);
      const docroot2 = join(world.base, 'www2');
      mkdirSync(join(docroot2, '.well-known'), { recursive: true, mode: 0o755 });
      symlinkSync(world.outside, join(docroot2, '.well-known', 'acme-challenge'));
      await assert.rejects(new WebrootHttp01Solver({ webroot: docroot2 }).present(ch, {}), /acme-challenge: it is a symbolic link/);
      assert.deepEqual(snapshot(world.outside), before);
    } finally {
      world.cleanup();
    }
  });
});
