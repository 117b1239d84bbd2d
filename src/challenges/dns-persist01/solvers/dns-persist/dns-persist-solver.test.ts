// The dns-persist solver over a stand-in of the propagation checker's two calls: it writes and
// removes nothing, waits while a record is missing, fails at once (no waiting) on a record that is
// there but wrong, follows a CNAME, warns ahead of persistUntil and notes it for `status`.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CertpilotError } from '../../../../errors.js';
import type { Logger } from '../../../../logger.js';
import { FakeClock } from '../../../../testing/fake-clock.js';
import { tempDir } from '../../../../testing/temp-dir.js';
import type { PendingChallenge } from '../../../challenge-solver.js';
import type { PropagationChecker, TxtJudgement } from '../../../dns01/propagation.js';
import { readPersistNote } from '../../persist-notes.js';
import { DnsPersistSolver } from './dns-persist-solver.js';

const accountUrl = 'https://ca.test/acct/1';
const challenge = (wildcard = false): PendingChallenge => ({
  type: 'dns-persist-01',
  identifier: { type: 'dns', value: 'example.com' },
  wildcard,
  url: 'https://ca.test/chall/1',
  token: '',
  keyAuthorization: '',
  dnsRecordName: '_validation-persist.example.com.',
  persist: { issuerDomainNames: ['ca.test'], accountUri: accountUrl, accountUrl },
});

/** Serves `rounds[i]` as the TXT set of one nameserver at round i (the last one repeats). */
function checker(rounds: string[][], cname?: string): { checker: PropagationChecker; asked: string[]; rounds: () => number } {
  const asked: string[] = [];
  let round = 0;
  const fake = {
    resolveTarget: async (fqdn: string) => (cname && fqdn === '_validation-persist.example.com.' ? cname : fqdn),
    waitForTxt: async (fqdn: string, judge: (v: string[]) => TxtJudgement) => {
      asked.push(fqdn);
      const server = { nameserver: 'ns1.example.com.', server: { host: '192.0.2.53', port: 53 } };
      for (;;) {
        const values = rounds[Math.min(round, rounds.length - 1)] ?? [];
        round++;
        const verdict = judge(values);
        if (verdict.ok) return { zone: 'example.com.', servers: [server], waiting: [] };
        if (verdict.final || round >= 5) return { zone: 'example.com.', servers: [server], waiting: [{ server, why: verdict.why, final: verdict.final === true }] };
      }
    },
  };
  return { checker: fake as unknown as PropagationChecker, asked, rounds: () => round };
}

function recordingLogger(): { logger: Logger; warnings: string[] } {
  const warnings: string[] = [];
  const logger = { info: () => undefined, debug: () => undefined, warn: (_o: unknown, msg: string) => warnings.push(msg), error: () => undefined, child: () => logger } as unknown as Logger;
  return { logger, warnings };
}

test('a record proving the name: nothing written or removed, a note for status, a warning ahead of persistUntil', async () => {
  const clock = new FakeClock('2027-01-01T00:00:00Z');
  const until = Date.parse('2027-01-11T00:00:00Z') / 1000;
  const fake = checker([[], [`ca.test; accounturi=${accountUrl}; policy=wildcard; persistUntil=${until}`]], '_validation-persist.example.com.validation.test.');
  const { logger, warnings } = recordingLogger();
  const stateDir = await tempDir();
  const solver = new DnsPersistSolver({ propagation: fake.checker, timeoutSeconds: 60, clock, warnDays: 30, stateDir, logger });
  await solver.present();
  await solver.wait(challenge(true), {});
  await solver.cleanUp();
  assert.deepEqual(fake.asked, ['_validation-persist.example.com.validation.test.'], 'the CNAME target is checked');
  assert.equal(fake.rounds(), 2, 'a missing record is waited for');
  assert.equal(warnings.length, 1, 'ten days left is inside the 30-day warning');
  const note = await readPersistNote(stateDir, '*.example.com');
  assert.equal(note?.persistUntil, '2027-01-11T00:00:00.000Z');
  assert.equal(note?.record, '_validation-persist.example.com.');
});

test('a record that is there but wrong fails at once, naming the record, why, and the fix', async () => {
  for (const [value, why] of [
    ['ca.test; accounturi=https://ca.test/acct/2', /is for another account/],
    [`ca.test; accounturi=${accountUrl}; policy=wildcard; persistUntil=1`, /persistUntil 1970-01-01T00:00:01\.000Z, which has passed/],
    [`ca.test; accounturi=${accountUrl}`, /lacks policy=wildcard/],
  ] as const) {
    const fake = checker([[value]]);
    const solver = new DnsPersistSolver({ propagation: fake.checker, timeoutSeconds: 60, clock: new FakeClock('2027-01-01T00:00:00Z') });
    await assert.rejects(solver.wait(challenge(true), {}), (err: unknown) => {
      assert.ok(err instanceof CertpilotError);
      assert.equal(err.code, 'ERR_DNS_PERSIST_RECORD');
      assert.match(err.message, /^dns-persist-01: TXT _validation-persist\.example\.com\. does not prove \*\.example\.com for this account: /);
      assert.match(err.message, why);
      assert.ok(!err.message.includes(' after 60 s'), 'no waiting for a wrong record');
      assert.match(err.hint ?? '', /certpilot dns-persist record '\*\.example\.com'`/, 'the wildcard quoted for the shell');
      return true;
    });
    assert.equal(fake.rounds(), 1, 'one look is enough');
  }
});

test('a record still missing after the timeout: says so, retryable', async () => {
  const solver = new DnsPersistSolver({ propagation: checker([[]]).checker, timeoutSeconds: 60, clock: new FakeClock() });
  await assert.rejects(solver.wait(challenge(), {}), (err: unknown) => err instanceof CertpilotError && /no TXT record after 60 s/.test(err.message) && err.retryable === true);
});
