// "Expiring" means the renewal is not happening in time, so it scales with the certificate's
// lifetime: a 10-day certificate (Pebble 2.10 profile) 9.99 days before its end is not expiring for
// a notifier with the default `expiringDays` 14, so `renew` after `renew` sends no webhook call and
// no e-mail (the tryout got one of each per run). A certificate that is expiring gets an e-mail that
// says so (the real EmailNotifier through Debian's aiosmtpd; no clock can be moved in a CLI run).
import assert from 'node:assert/strict';
import { appendFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { test } from 'node:test';
import { EmailNotifier } from '../../src/notify/email/email-notifier.js';
import { eventFromResult } from '../../src/notify/lifecycle-event.js';
import { dispatchEvents, type NotifierRoute } from '../../src/notify/notifier.js';
import { silentLogger } from '../../src/logger.js';
import { runCli, startCliScenario, testCaFile } from '../harness/certpilot.js';
import { freePort } from '../harness/ports.js';
import { requirePebble, requireServer } from '../harness/servers.js';
import { DEBIAN_PYTHON, startSmtp } from '../harness/smtp.js';

const DAY = 86_400_000;

test('10-day certificates: renew after renew sends no "expiring" webhook call or e-mail', { timeout: 120_000 }, async (t) => {
  if (!requirePebble(t, '2.10')) return;
  if (!requireServer(t, DEBIAN_PYTHON, 'Debian package `python3-aiosmtpd`')) return;
  const { pebble, config } = await startCliScenario(t, {
    pebble: { version: '2.10', noSleep: true, profiles: { tenday: { description: 'Ten-day certificates', validityPeriod: 10 * 86_400 } } },
    certificates: [{ name: 'dev', domains: ['dev.expiring.test'], profile: 'tenday' }],
  });
  const events: string[] = [];
  const server = createServer((req, res) => {
    events.push(String(req.headers['x-certpilot-event']));
    req.resume().on('end', () => res.writeHead(204).end());
  });
  const port = await freePort();
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  t.after(() => server.close());
  const smtp = await startSmtp();
  t.after(() => smtp.stop());
  await appendFile(
    config,
    [
      'notifiers:',
      `  chat: { type: webhook, url: "http://127.0.0.1:${port}/hook", on: [success, failure, expiring], retries: 0 }`,
      `  oncall: { type: email, host: localhost, port: ${smtp.port}, caFile: ${JSON.stringify(testCaFile)}, from: certpilot@example.test, to: [ops@example.test], on: [failure, expiring] }`,
      'defaults: { notify: [chat, oncall] }',
      '',
    ].join('\n'),
  );

  const issued = await runCli(['issue', '--config', config]);
  assert.equal(issued.code, 0, issued.stdout + issued.stderr + (await pebble.logs()));
  assert.deepEqual(events, ['issued'], 'the issue is notified (the receiver works)');
  for (let run = 0; run < 2; run++) {
    const renew = await runCli(['renew', '--config', config]);
    assert.equal(renew.code, 0, renew.stdout + renew.stderr);
    assert.match(renew.stdout, /not-due/);
  }
  assert.deepEqual(events, ['issued'], 'no "expiring" call for a 10-day certificate with ~10 days left');
  assert.equal(await smtp.mbox(), '', 'no "expiring" e-mail either');
});

test('an expiring notice e-mailed through SMTP says EXPIRING in its subject', { timeout: 60_000 }, async (t) => {
  if (!requireServer(t, DEBIAN_PYTHON, 'Debian package `python3-aiosmtpd`')) return;
  const smtp = await startSmtp();
  t.after(() => smtp.stop());
  const notifier = new EmailNotifier({ name: 'oncall', host: 'localhost', port: smtp.port, tls: 'starttls', caFile: testCaFile, from: 'certpilot@example.test', to: ['ops@example.test'], timeoutMs: 5000, logger: silentLogger });
  t.after(() => notifier.close());
  const finishedAt = new Date('2026-03-01T00:00:00Z');
  // 10-day certificates of version 4: one with 9 days left (renewal not due yet), one with 36 hours (its renewal should have happened).
  const notDue = (left: number) => eventFromResult(
    { name: 'dev', outcome: 'not-due', version: 4, message: 'not due until …' },
    { domains: ['dev.example.test'], timing: { startedAt: finishedAt, finishedAt }, notAfter: new Date(finishedAt.getTime() + left).toISOString(), notBefore: new Date(finishedAt.getTime() + left - 10 * DAY).toISOString() },
  );
  const routes = (): NotifierRoute[] => [{ name: 'oncall', policy: { on: ['failure', 'expiring'], expiringDays: 14, repeatHours: 24 }, notifier: async () => notifier }];
  const fresh = await dispatchEvents([notDue(9 * DAY)!], routes, { logger: silentLogger });
  assert.deepEqual(fresh.sent, [], '9 days of 10 left: not expiring');
  const late = await dispatchEvents([notDue(1.5 * DAY)!], routes, { logger: silentLogger });
  assert.deepEqual(late.sent, [{ certificate: 'dev', notifier: 'oncall' }]);
  const mbox = (await smtp.mbox()).replace(/\r?\n[ \t]+/g, ' '); // headers unfolded
  assert.match(mbox, /^Subject: certpilot: dev not-due v4 EXPIRING: expires in 1d 12h, renewal not yet done$/m);
  assert.match(mbox, /"expiring": true/);
});
