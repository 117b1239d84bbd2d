import assert from 'node:assert/strict';
import { dirname } from 'node:path';
import { describe, it } from 'node:test';
import { cronAccessProblems, permits, type CronAccessFacts, type CronAccessNeed, type CronUser, type PathFacts } from './cron-access.js';

const nobody: CronUser = { name: 'nobody', uid: 65534, gid: 65534, gids: [65534] };
const root: CronUser = { name: 'root', uid: 0, gid: 0, gids: [0] };

const dir = (mode: number, uid = 0, gid = 0): PathFacts => ({ uid, gid, mode, directory: true });
const file = (mode: number, uid = 0, gid = 0): PathFacts => ({ uid, gid, mode, directory: false });

/** A file system of the given paths (each folder above a path must be listed too). */
function facts(tree: Record<string, PathFacts>): CronAccessFacts {
  return {
    stat: async (path) => tree[path],
    list: async (d) => Object.entries(tree).filter(([p]) => p !== d && dirname(p) === d).map(([p, f]) => ({ name: p.slice(d.length + 1), facts: f })),
    realpath: async (path) => path,
  };
}

/** What the tryout had: a config in a world-readable folder, a state directory root made 0700. */
const TRYOUT: Record<string, PathFacts> = {
  '/': dir(0o755),
  '/tmp': dir(0o1777),
  '/tmp/try': dir(0o755),
  '/tmp/try/certpilot.yaml': file(0o644),
  '/tmp/try/state': dir(0o700),
  '/tmp/try/state/accounts': dir(0o700),
  '/usr': dir(0o755),
  '/usr/lib': dir(0o755),
  '/usr/lib/certpilot.js': file(0o644),
};

const NEEDS: CronAccessNeed[] = [
  { path: '/tmp/try/certpilot.yaml', what: 'the configuration file', access: 'read' },
  { path: '/usr/lib/certpilot.js', what: "certpilot's script", access: 'read' },
  { path: '/tmp/try/state', what: 'the state directory', access: 'state' },
  { path: '/tmp/try/state/renew.log', what: 'the log file', access: 'append' },
];

describe('cronAccessProblems', () => {
  it('a state directory root made 0700: the state directory and its log, for nobody; the configuration and script are fine', async () => {
    const problems = await cronAccessProblems(nobody, NEEDS, facts(TRYOUT));
    assert.deepEqual(problems.map((p) => [p.need.what, p.path, p.kind]), [
      ['the state directory', '/tmp/try/state', 'access'],
      ['the log file', '/tmp/try/state', 'enter'],
    ]);
    assert.match(problems[0]?.why ?? '', /the user may not read and write and search this folder \(mode 0700, owner uid 0 gid 0\)/);
  });

  it('root may do all of it; so may the owner of the state', async () => {
    assert.deepEqual(await cronAccessProblems(root, NEEDS, facts(TRYOUT)), []);
    const owned = { ...TRYOUT, '/tmp/try/state': dir(0o700, 65534, 65534), '/tmp/try/state/accounts': dir(0o700, 65534, 65534) };
    assert.deepEqual(await cronAccessProblems(nobody, NEEDS, facts(owned)), []);
  });

  it('something inside the state directory that the user may not use is named (a root-owned account folder, a key it cannot read)', async () => {
    const top = { ...TRYOUT, '/tmp/try/state': dir(0o700, 65534, 65534) };
    assert.deepEqual((await cronAccessProblems(nobody, NEEDS, facts(top))).map((p) => p.path), ['/tmp/try/state/accounts']);
    const key = { ...top, '/tmp/try/state/accounts': dir(0o700, 65534), '/tmp/try/state/accounts/private_key.pem': file(0o600) };
    assert.deepEqual((await cronAccessProblems(nobody, NEEDS, facts(key))).map((p) => p.path), ['/tmp/try/state/accounts/private_key.pem']);
  });

  it('a configuration in a folder the user may not enter (mkdtemp, root\'s home) is refused at that folder', async () => {
    const closed = { ...TRYOUT, '/tmp/try': dir(0o700), '/tmp/try/state': dir(0o700, 65534), '/tmp/try/state/accounts': dir(0o700, 65534) };
    const problems = await cronAccessProblems(nobody, NEEDS, facts(closed));
    assert.deepEqual(problems.map((p) => [p.need.what, p.path, p.kind]), [
      ['the configuration file', '/tmp/try', 'enter'],
      ['the state directory', '/tmp/try', 'enter'],
      ['the log file', '/tmp/try', 'enter'],
    ]);
    const unreadable = { ...TRYOUT, '/tmp/try/certpilot.yaml': file(0o600) };
    assert.deepEqual((await cronAccessProblems(nobody, NEEDS.slice(0, 1), facts(unreadable))).map((p) => [p.path, p.kind]), [['/tmp/try/certpilot.yaml', 'access']]);
  });

  it('a missing log file or state directory needs a folder the user may write; a log file it cannot write is named', async () => {
    const mine = { ...TRYOUT, '/tmp/try/state': dir(0o700, 65534), '/tmp/try/state/accounts': dir(0o700, 65534) };
    const log = (path: string): CronAccessNeed[] => [{ path, what: 'the log file', access: 'append' }];
    assert.deepEqual(await cronAccessProblems(nobody, log('/tmp/try/state/renew.log'), facts(mine)), []);
    const varLog = { ...mine, '/var': dir(0o755), '/var/log': dir(0o755) };
    const refused = await cronAccessProblems(nobody, log('/var/log/certpilot.log'), facts(varLog));
    assert.deepEqual(refused.map((p) => [p.path, p.kind]), [['/var/log', 'access']]);
    assert.match(refused[0]?.why ?? '', /\/var\/log\/certpilot\.log does not exist, and the user may not create it here/);
    const rootsLog = { ...mine, '/tmp/try/state/renew.log': file(0o644) };
    assert.deepEqual((await cronAccessProblems(nobody, log('/tmp/try/state/renew.log'), facts(rootsLog))).map((p) => p.path), ['/tmp/try/state/renew.log']);
    const state: CronAccessNeed[] = [{ path: '/tmp/try/new-state', what: 'the state directory', access: 'state' }];
    assert.deepEqual((await cronAccessProblems(nobody, state, facts(TRYOUT))).map((p) => p.path), ['/tmp/try']);
    // One that cron install makes for the user: only the folders above must let it through.
    assert.deepEqual(await cronAccessProblems(nobody, [{ ...state[0] as CronAccessNeed, madeForUser: true }], facts(TRYOUT)), []);
    const deep: CronAccessNeed = { path: '/root/state', what: 'the state directory', access: 'state', madeForUser: true };
    assert.deepEqual((await cronAccessProblems(nobody, [deep], facts({ ...TRYOUT, '/root': dir(0o700) }))).map((p) => [p.path, p.kind]), [['/root', 'enter']]);
  });
});

describe('permits', () => {
  it('uses the owner bits for the owner, the group bits for a member, the others\' bits otherwise (POSIX classes)', () => {
    const user: CronUser = { name: 'u', uid: 1000, gid: 1000, gids: [1000, 27] };
    assert.equal(permits(user, file(0o604, 1000), 4), true);
    // The owner class is used even when the group or others would allow more.
    assert.equal(permits(user, file(0o077, 1000, 27), 4), false);
    assert.equal(permits(user, file(0o040, 0, 27), 4), true);
    assert.equal(permits(user, file(0o704, 0, 5), 4), true);
    assert.equal(permits(user, file(0o740, 0, 5), 4), false);
    assert.equal(permits(user, dir(0o750, 0, 27), 7), false);
    assert.equal(permits(user, dir(0o770, 0, 27), 7), true);
  });
});
