// The cadence warning where users set the cadence: `certpilot cron show` (the line `cron install`
// would write runs twice a day) and `certpilot status` warn that a 6-day certificate's 3.2-hour
// ARI window cannot be hit, and say what to run instead; a 90-day certificate gets no warning.
// `cron show` only reads the crontab (Debian's real `crontab -l`); nothing is installed.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runCli, tempDir } from '../harness/certpilot.js';
import { requireServer } from '../harness/servers.js';
import { makeStatusFixture } from '../harness/status-fixture.js';

test('cron show and status warn when the run cadence cannot land inside an ARI window', { timeout: 60_000 }, async (t) => {
  if (!requireServer(t, 'crontab', 'Debian package `cron`')) return;
  const dir = await tempDir();
  const fixture = await makeStatusFixture(dir);
  const shown = await runCli(['cron', 'show', '--config', fixture.config]);
  assert.equal(shown.code, 0, shown.stderr);
  const warnings = shown.stderr.split('\n').filter((l) => l.startsWith('warning:'));
  assert.equal(warnings.length, 1, shown.stderr);
  assert.match(warnings[0] ?? '', /^warning: short: renew runs every 12h 0m but the CA's ARI window is 3h 12m wide.*run renew at least every 1h 36m \(cron "17 \* \* \* \*"/);

  const status = await runCli(['status', '--config', fixture.config, '--run-interval-hours', '1']);
  assert.equal(status.code, 0, status.stderr);
  assert.doesNotMatch(status.stderr, /warning:/, 'hourly fits');
  const json = JSON.parse((await runCli(['status', '--config', fixture.config, '--json'])).stdout) as { name: string; cadence?: { suggestedCron: string } }[];
  assert.deepEqual(json.map((c) => [c.name, c.cadence?.suggestedCron]), [['site', undefined], ['short', '17 * * * *'], ['pending', undefined]]);
});
