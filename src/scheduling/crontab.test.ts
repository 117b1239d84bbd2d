import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { tempDir } from '../testing/temp-dir.js';
import {
  CRON_MARKER,
  buildCronLine,
  chooseSchedule,
  cronLineId,
  cronLogFile,
  cronSchedule,
  findCronLine,
  mergeCronLine,
  nextRunTimes,
  parseCronSchedule,
  removeCronLine,
  scheduleFromSeed,
  shellQuote,
} from './crontab.js';

const LINE = buildCronLine({ minute: 17, hours: [5, 17] }, { argv: ['/usr/bin/node', '/opt/certpilot/certpilot.js', 'renew', '--config', '/etc/certpilot/certpilot.yaml'], logFile: '/var/lib/certpilot/renew.log' });
const OTHERS = '# m h dom mon dow command\nMAILTO=ops@example.com\n\n0 3 * * * /usr/local/bin/backup.sh --all  # nightly\n*/5 * * * * echo "100%" > /dev/null\n';

describe('crontab line', () => {
  it('runs renew at the minute, twice a day, output appended to the log, with the marker', () => {
    assert.equal(LINE, `17 5,17 * * * /usr/bin/node /opt/certpilot/certpilot.js renew --config /etc/certpilot/certpilot.yaml >> /var/lib/certpilot/renew.log 2>&1 ${CRON_MARKER}`);
  });

  it('quotes words for sh and escapes % for cron', () => {
    assert.equal(shellQuote('/srv/my certs/c.yaml'), `'/srv/my certs/c.yaml'`);
    assert.equal(shellQuote("it's"), `'it'\\''s'`);
    assert.equal(shellQuote('/x/50%.yaml'), '/x/50\\%.yaml');
    assert.equal(shellQuote('$HOME'), `'$HOME'`);
  });

  it('a minute and an hour of the first half-day, and twelve hours later', () => {
    assert.deepEqual(chooseSchedule((max) => max - 1), { minute: 59, hours: [11, 23] });
    assert.deepEqual(chooseSchedule(() => 0), { minute: 0, hours: [0, 12] });
    const seen = new Set<string>();
    for (let i = 0; i < 50; i++) {
      const s = scheduleFromSeed(`host-${i}\n/var/lib/certpilot`);
      assert.ok(s.minute >= 0 && s.minute < 60 && s.hours[0]! >= 0 && s.hours[0]! < 12 && s.hours[1] === s.hours[0]! + 12);
      seen.add(`${s.minute} ${s.hours[0]}`);
    }
    assert.ok(seen.size > 30, `hosts spread over the day: ${seen.size} distinct times of 50`);
  });

  it('is the time kept in an earlier <stateDir>/cron.json, else a hash of host and state directory; never written', async () => {
    const stateDir = join(await tempDir(), 'state');
    // No state directory yet: the hashed time, and nothing created.
    const fresh = await cronSchedule(stateDir, 'web-1');
    assert.deepEqual(fresh, { schedule: scheduleFromSeed(`web-1\n${stateDir}`), kept: false });
    assert.deepEqual(await cronSchedule(stateDir, 'web-1'), fresh, 'the same host and directory, the same time');
    assert.notDeepEqual((await cronSchedule(stateDir, 'web-2')).schedule, fresh.schedule, 'another host, another time');
    assert.notDeepEqual((await cronSchedule(`${stateDir}-b`, 'web-1')).schedule, fresh.schedule, 'another state directory, another time');
    mkdirSync(stateDir);
    assert.deepEqual(readdirSync(stateDir), [], 'nothing written');
    writeFileSync(join(stateDir, 'cron.json'), JSON.stringify({ minute: 42, hour: 4, chosenAt: '2026-12-01T10:00:00.000Z' }));
    assert.deepEqual(await cronSchedule(stateDir, 'web-1'), { schedule: { minute: 42, hours: [4, 16] }, kept: true });
    writeFileSync(join(stateDir, 'cron.json'), '{not json');
    assert.deepEqual(await cronSchedule(stateDir, 'web-1'), fresh, 'a corrupt file: the hashed time');
    assert.deepEqual(readdirSync(stateDir), ['cron.json']);
  });
});

describe('merging into a crontab', () => {
  it('adds the line after the other lines, which stay byte for byte', () => {
    const merged = mergeCronLine(OTHERS, LINE);
    assert.equal(merged.action, 'added');
    assert.equal(merged.text, `${OTHERS}${LINE}\n`);
    assert.equal(mergeCronLine('', LINE).text, `${LINE}\n`);
    assert.equal(mergeCronLine('0 1 * * * x', LINE).text, `0 1 * * * x\n${LINE}\n`, 'a missing final newline is added');
  });

  it('is idempotent: a second install changes nothing', () => {
    const once = mergeCronLine(OTHERS, LINE);
    const twice = mergeCronLine(once.text, LINE);
    assert.equal(twice.action, 'unchanged');
    assert.equal(twice.text, once.text);
    assert.equal(twice.text.split('\n').filter((l) => l.endsWith(CRON_MARKER)).length, 1);
  });

  it('replaces an older certpilot line in place and drops duplicates', () => {
    const old = LINE.replace(/^17 5,17/, '3 1,13');
    const text = `0 1 * * * a\n${old}\n0 2 * * * b\n${old}\n`;
    const merged = mergeCronLine(text, LINE);
    assert.equal(merged.action, 'replaced');
    assert.equal(merged.text, `0 1 * * * a\n${LINE}\n0 2 * * * b\n`);
  });

  it('a commented-out certpilot line is the user\'s, not ours', () => {
    const text = `# ${LINE}\n`;
    assert.equal(findCronLine(text), undefined);
    assert.equal(mergeCronLine(text, LINE).text, `# ${LINE}\n${LINE}\n`);
  });

  it('remove takes only certpilot lines away', () => {
    const installed = mergeCronLine(OTHERS, LINE).text;
    const removed = removeCronLine(installed);
    assert.equal(removed.action, 'removed');
    assert.equal(removed.text, OTHERS);
    assert.equal(removeCronLine(OTHERS).action, 'absent');
    assert.equal(removeCronLine(`${LINE}\n`).text, '');
  });
});

describe('run times', () => {
  it('parses minute and hour fields (lists, ranges, steps) of a daily line', () => {
    assert.deepEqual(parseCronSchedule(LINE), { minutes: [17], hours: [5, 17] });
    assert.deepEqual(parseCronSchedule('0,30 */6 * * * x'), { minutes: [0, 30], hours: [0, 6, 12, 18] });
    assert.deepEqual(parseCronSchedule('5 1-3 * * * x'), { minutes: [5], hours: [1, 2, 3] });
    assert.equal(parseCronSchedule('5 1 * * 1 x'), undefined, 'not daily');
    assert.equal(parseCronSchedule('61 1 * * * x'), undefined);
    assert.equal(parseCronSchedule('@daily x'), undefined);
  });

  it('gives the next three runs after now, in local time', () => {
    const now = new Date(2026, 11, 1, 10, 0, 0);
    assert.deepEqual(nextRunTimes({ minutes: [17], hours: [5, 17] }, now, 3), [new Date(2026, 11, 1, 17, 17), new Date(2026, 11, 2, 5, 17), new Date(2026, 11, 2, 17, 17)]);
    assert.deepEqual(nextRunTimes({ minutes: [17], hours: [5, 17] }, new Date(2026, 11, 1, 17, 17), 1), [new Date(2026, 11, 2, 5, 17)], 'now itself is not next');
    assert.deepEqual(nextRunTimes({ minutes: [59], hours: [23] }, new Date(2026, 11, 31, 23, 59, 30), 1), [new Date(2027, 0, 1, 23, 59)], 'across a year');
  });
});

describe('cronLogFile and owners', () => {
  it('reads back the log a line was built with, quoted or not', () => {
    for (const logFile of ['/var/lib/certpilot/renew.log', "/srv/it's here/100% log.txt"]) {
      const line = buildCronLine({ minute: 1, hours: [2, 14] }, { argv: ['/usr/bin/node', '/x/certpilot.js', 'renew'], logFile }, cronLineId('/srv/a'));
      assert.equal(cronLogFile(line), logFile, line);
    }
  });
  it('each state directory its own line: another owner\'s is kept, an unowned (older) line is taken only when it names this owner', () => {
    const a = { id: cronLineId('/srv/a'), legacy: (l: string) => l.includes('/srv/a/') };
    const b = { id: cronLineId('/srv/b'), legacy: () => false };
    const lineA = buildCronLine({ minute: 1, hours: [2] }, { argv: ['renew'], logFile: '/srv/a/renew.log' }, a.id);
    const lineB = buildCronLine({ minute: 3, hours: [4] }, { argv: ['renew'], logFile: '/srv/b/renew.log' }, b.id);
    const legacyA = buildCronLine({ minute: 1, hours: [2] }, { argv: ['renew'], logFile: '/srv/a/renew.log' });
    const both = mergeCronLine(mergeCronLine('', legacyA, a).text, lineB, b).text;
    assert.equal(both, `${legacyA}\n${lineB}\n`, 'b added beside the older line');
    assert.equal(mergeCronLine(both, lineA, a).text, `${lineA}\n${lineB}\n`, 'a takes over its older line');
    assert.equal(findCronLine(both, b), lineB);
  });
});
