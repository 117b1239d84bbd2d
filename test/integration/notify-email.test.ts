// The e-mail notifier against Debian's aiosmtpd: STARTTLS with a verified certificate, a server
// that offers no STARTTLS refused (nothing sent in clear), and a server that is down.
import assert from 'node:assert/strict';
import { copyFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { EmailNotifier } from '../../src/notify/email/email-notifier.js';
import { eventFromResult } from '../../src/notify/lifecycle-event.js';
import { silentLogger } from '../../src/logger.js';
import { tempDir, testCaFile } from '../harness/certpilot.js';
import { freePort } from '../harness/ports.js';
import { requireServer } from '../harness/servers.js';
import { DEBIAN_PYTHON, startSmtp } from '../harness/smtp.js';

const event = eventFromResult(
  { name: 'site', outcome: 'failed', message: 'acme: order failed: <urn:ietf:params:acme:error:unauthorized>' },
  { domains: ['site.example'], timing: { startedAt: new Date(0), finishedAt: new Date(1000) } },
);

const mailer = (port: number, tls: 'starttls' | 'none' = 'starttls'): EmailNotifier =>
  new EmailNotifier({ name: 'mail', host: 'localhost', port, tls, caFile: testCaFile, from: 'certpilot@example.test', to: ['ops@example.test', 'oncall@example.test'], timeoutMs: 5000, logger: silentLogger });

test('email: sent over STARTTLS to every recipient; refused without STARTTLS; a down server is ERR_NOTIFY_FAILED', { timeout: 60_000 }, async (t) => {
  if (!requireServer(t, DEBIAN_PYTHON, 'Debian package `python3-aiosmtpd`')) return;
  assert.ok(event);
  const smtp = await startSmtp();
  t.after(() => smtp.stop());
  const notifier = mailer(smtp.port);
  t.after(() => notifier.close());
  await notifier.notify(event);
  const mbox = await smtp.mbox();
  assert.match(mbox, /^Subject: certpilot: site renewal FAILED/m);
  assert.match(mbox, /^To: ops@example.test, oncall@example.test/m);
  assert.match(mbox, /acme: order failed/);

  const plain = await startSmtp({ starttls: false });
  t.after(() => plain.stop());
  await assert.rejects(mailer(plain.port).notify(event), (err: Error & { code?: string }) => err.code === 'ERR_NOTIFY_FAILED' && /STARTTLS/i.test(err.message));
  assert.equal(await plain.mbox(), '', 'nothing sent in clear');

  const down = await freePort();
  await assert.rejects(mailer(down).notify(event), (err: Error & { code?: string }) => err.code === 'ERR_NOTIFY_FAILED' && /ECONNREFUSED/.test(err.message));
});

test('email: a CA file missing at the first event is read again at the next one (a fixed file is used, no restart)', { timeout: 60_000 }, async (t) => {
  if (!requireServer(t, DEBIAN_PYTHON, 'Debian package `python3-aiosmtpd`')) return;
  assert.ok(event);
  const smtp = await startSmtp();
  t.after(() => smtp.stop());
  const caFile = join(await tempDir(), 'ca.pem');
  const notifier = new EmailNotifier({ name: 'mail', host: 'localhost', port: smtp.port, tls: 'starttls', caFile, from: 'certpilot@example.test', to: ['ops@example.test'], timeoutMs: 5000, logger: silentLogger });
  t.after(() => notifier.close());
  await assert.rejects(notifier.notify(event), (err: Error & { code?: string }) => err.code === 'ERR_NOTIFY_FAILED' && err.message.includes(`caFile ${caFile} cannot be read: ENOENT`));
  await copyFile(testCaFile, caFile);
  await notifier.notify(event);
  assert.match(await smtp.mbox(), /^Subject: certpilot: site renewal FAILED/m);
});
