import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { pendingHttp01Challenge } from '../../../../testing/pending-challenge.js';
import { WebrootHttp01Solver } from './webroot-solver.js';

const challenge = pendingHttp01Challenge;

async function withWebroot(fn: (webroot: string) => Promise<void>): Promise<void> {
  const webroot = await mkdtemp(join(tmpdir(), 'certpilot-webroot-'));
  try {
    await fn(webroot);
  } finally {
    await rm(webroot, { recursive: true, force: true });
  }
}

void test('WebrootHttp01Solver writes the key authorization with modes 0644/0755 and no leftovers', async () => {
  await withWebroot(async (webroot) => {
    const solver = new WebrootHttp01Solver({ webroot });
    assert.equal(solver.type, 'http-01');
    const ch = challenge('tokenAAAAAAAAAAAAAAAAAAAA');
    await solver.present(ch, {});
    const dir = join(webroot, '.well-known', 'acme-challenge');
    const file = join(dir, ch.token);
    assert.equal(await readFile(file, 'utf8'), ch.keyAuthorization);
    assert.equal((await stat(file)).mode & 0o777, 0o644);
    assert.equal((await stat(dir)).mode & 0o777, 0o755);
    assert.equal((await stat(join(webroot, '.well-known'))).mode & 0o777, 0o755);
    assert.deepEqual(await readdir(dir), [ch.token], 'no temporary file left behind');
  });
});

void test('WebrootHttp01Solver present is idempotent and overwrites atomically', async () => {
  await withWebroot(async (webroot) => {
    const solver = new WebrootHttp01Solver({ webroot });
    await solver.present(challenge('tokenAAAAAAAAAAAAAAAAAAAA', 'first'), {});
    await solver.present(challenge('tokenAAAAAAAAAAAAAAAAAAAA', 'second'), {});
    const dir = join(webroot, '.well-known', 'acme-challenge');
    assert.deepEqual(await readdir(dir), ['tokenAAAAAAAAAAAAAAAAAAAA']);
    assert.equal(await readFile(join(dir, 'tokenAAAAAAAAAAAAAAAAAAAA'), 'utf8'), 'tokenAAAAAAAAAAAAAAAAAAAA.second');
  });
});

void test('WebrootHttp01Solver cleanUp removes only its own file and ignores one already gone', async () => {
  await withWebroot(async (webroot) => {
    const solver = new WebrootHttp01Solver({ webroot });
    const mine = challenge('tokenMINEMINEMINEMINEMINE');
    const other = challenge('tokenOTHEROTHEROTHEROTHER');
    await solver.present(mine, {});
    await solver.present(other, {});
    const dir = join(webroot, '.well-known', 'acme-challenge');
    await writeFile(join(dir, 'index.html'), 'keep me');
    await solver.cleanUp(mine, {});
    await solver.cleanUp(mine, {});
    assert.deepEqual((await readdir(dir)).sort(), ['index.html', other.token].sort());
  });
});

void test('WebrootHttp01Solver refuses a hostile token before building any path', async () => {
  await withWebroot(async (webroot) => {
    const solver = new WebrootHttp01Solver({ webroot });
    for (const token of ['../../../../tmp/evilAAAAAAAA', '..', 'short', 'a/bbbbbbbbbbbbbbbbbbbb', 'x'.repeat(257)]) {
      await assert.rejects(solver.present(challenge(token), {}), { code: 'ERR_ACME_BAD_RESPONSE' });
      await solver.cleanUp(challenge(token), {});
    }
    assert.deepEqual(await readdir(webroot), [], 'nothing was created');
  });
});

void test('WebrootHttp01Solver reports a missing webroot as ERR_CHALLENGE_WEBROOT', async () => {
  await withWebroot(async (webroot) => {
    const missing = join(webroot, 'does-not-exist');
    const solver = new WebrootHttp01Solver({ webroot: missing });
    await assert.rejects(solver.present(challenge('tokenAAAAAAAAAAAAAAAAAAAA'), {}), (err: unknown) => {
      assert.equal((err as { code?: string }).code, 'ERR_CHALLENGE_WEBROOT');
      assert.match((err as Error).message, /^http-01 webroot: cannot use webroot .*does-not-exist: ENOENT$/);
      return true;
    });
    const notDir = join(webroot, 'file');
    await writeFile(notDir, '');
    await assert.rejects(new WebrootHttp01Solver({ webroot: notDir }).present(challenge('tokenAAAAAAAAAAAAAAAAAAAA'), {}), /not a directory/);
  });
});

void test('WebrootHttp01Solver reports an unwritable challenge directory as ERR_CHALLENGE_WEBROOT', async () => {
  await withWebroot(async (webroot) => {
    // A file where the .well-known directory should be makes mkdir fail whatever the user's privileges.
    await writeFile(join(webroot, '.well-known'), 'in the way');
    const solver = new WebrootHttp01Solver({ webroot });
    await assert.rejects(solver.present(challenge('tokenAAAAAAAAAAAAAAAAAAAA'), {}), { code: 'ERR_CHALLENGE_WEBROOT' });
    assert.deepEqual(await readdir(webroot), ['.well-known']);
  });
});

void test('WebrootHttp01Solver leaves existing directory modes alone', async () => {
  await withWebroot(async (webroot) => {
    const { mkdir, chmod } = await import('node:fs/promises');
    const wellKnown = join(webroot, '.well-known');
    await mkdir(wellKnown);
    await chmod(wellKnown, 0o750);
    await new WebrootHttp01Solver({ webroot }).present(challenge('tokenAAAAAAAAAAAAAAAAAAAA'), {});
    assert.equal((await stat(wellKnown)).mode & 0o777, 0o750);
    assert.equal((await stat(join(wellKnown, 'acme-challenge'))).mode & 0o777, 0o755);
  });
});

void test('WebrootHttp01Solver: certificates sharing a fresh webroot present at once, and every token is written (no false race)', async () => {
  // Two certificates of one run, each with its own solver on one webroot, creating
  // .well-known/acme-challenge together: one's token in the new directory must not look to the
  // other like a swapped-in directory (CI saw ERACE here once).
  for (let round = 0; round < 50; round++) {
    await withWebroot(async (webroot) => {
      const solvers = Array.from({ length: 16 }, () => new WebrootHttp01Solver({ webroot }));
      const challenges = solvers.map((_, i) => challenge(`token${round}x${i}AAAAAAAAAAAAAAAAAAAA`));
      await Promise.all(solvers.map((s, i) => s.present(challenges[i] as ReturnType<typeof challenge>, {})));
      const dir = join(webroot, '.well-known', 'acme-challenge');
      assert.deepEqual((await readdir(dir)).sort(), challenges.map((c) => c.token).sort());
    });
  }
});
