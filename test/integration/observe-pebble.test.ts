// Notifications and metrics around real runs against Pebble 2.4 (defaults on: nonce rejection):
// with the webhook receiver and the SMTP server both down the certificate is still issued (exit 0)
// and the failures are only logged; with them up, a renewal reaches a local receiver (HMAC
// signature verified) and Debian's aiosmtpd over STARTTLS, and no key or secret is in either. The
// --metrics-file textfile parses with `promtool check metrics` and says what the run did.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { appendFile, readFile, writeFile } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { runCli, tempDir, testCaFile, writeConfig } from '../harness/certpilot.js';
import { startPebble } from '../harness/pebble.js';
import { freePort } from '../harness/ports.js';
import { requirePebble, requireServer } from '../harness/servers.js';
import { DEBIAN_PYTHON, startSmtp } from '../harness/smtp.js';

const SIGNING_KEY = 'whsec-integration-6f1d0c';
const SMTP_PASSWORD_MARKER = 'never-in-a-mail';

/** The value of one sample line of a textfile, or undefined. */
function sample(text: string, line: RegExp): number | undefined {
  const m = new RegExp(`^${line.source} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : undefined;
}

test('notifiers down: the renewal still succeeds; up: a signed webhook and a STARTTLS e-mail without secrets; the textfile parses', { timeout: 240_000 }, async (t) => {
  if (!requirePebble(t, '2.4') || !requireServer(t, 'promtool', 'Debian package `prometheus`') || !requireServer(t, DEBIAN_PYTHON, 'Debian package `python3-aiosmtpd`')) return;
  const pebble = await startPebble({ version: '2.4', noSleep: true });
  t.after(() => pebble.stop());
  const dir = await tempDir();
  const keyFile = join(dir, 'webhook.key');
  await writeFile(keyFile, `${SIGNING_KEY}\n`, { mode: 0o600 });
  const metricsFile = join(dir, 'certpilot.prom');

  const configure = async (webhookPort: number, smtpPort: number): Promise<string> => {
    const file = await writeConfig(dir, { directoryUrl: pebble.directoryUrl, httpPort: pebble.httpPort, certificates: [{ name: 'site', domains: ['site.observe.test'] }] });
    const notifiers = {
      hooks: { type: 'webhook', url: `http://127.0.0.1:${webhookPort}/hooks/T0/SECRETPATH`, secretFile: keyFile, retries: 1, retryDelaySeconds: 0.05, timeoutSeconds: 5, on: ['failure', 'success'] },
      mail: { type: 'email', host: 'localhost', port: smtpPort, caFile: testCaFile, from: 'certpilot@observe.test', to: ['ops@observe.test'], timeoutSeconds: 5, on: ['failure', 'success'] },
    };
    await appendFile(file, `notifiers: ${JSON.stringify(notifiers)}\ndefaults: { notify: [hooks, mail] }\n`);
    return file;
  };
  const cli = (config: string, ...args: string[]): ReturnType<typeof runCli> => runCli([...args, '--config', config, '--metrics-file', metricsFile]);

  await t.test('both receivers down: issued anyway, each failure logged, metrics written', async () => {
    const config = await configure(await freePort(), await freePort()); // nothing listens on either
    const issued = await cli(config, 'issue');
    assert.equal(issued.code, 0, issued.stdout + issued.stderr);
    assert.match(issued.stdout, /^issued +site/m);
    const warnings = issued.stderr.split('\n').filter((l) => l.includes('notification not delivered'));
    assert.equal(warnings.length, 2, issued.stderr);
    assert.ok(warnings.every((l) => l.includes('ERR_NOTIFY_FAILED')));
    assert.doesNotMatch(issued.stderr, /SECRETPATH|whsec/, 'neither the webhook path nor its key is logged');

    const text = await readFile(metricsFile, 'utf8');
    const check = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    assert.equal(check.status, 0, `promtool check metrics: ${check.stdout}${check.stderr}`);
    assert.equal(sample(text, /certpilot_renewals_total\{name="site",outcome="issued"\}/), 1);
    // Nonce rejection may repeat the POST; exactly one newOrder was created.
    assert.equal(sample(text, /certpilot_acme_requests_total\{endpoint="newOrder",status="201"\}/), 1, text);
    assert.equal(sample(text, /certpilot_notifications_total\{notifier="hooks",result="failed"\}/), 1);
    assert.equal(sample(text, /certpilot_notifications_total\{notifier="mail",result="failed"\}/), 1);
    const notAfter = JSON.parse((await runCli(['status', '--json', '--config', config])).stdout)[0].notAfter as string;
    assert.equal(sample(text, /certpilot_certificate_expiration_timestamp_seconds\{name="site"\}/), Date.parse(notAfter) / 1000);
    assert.equal(sample(text, /certpilot_certificate_ready_status\{name="site",condition="True"\}/), 1);
    assert.ok((sample(text, /certpilot_renewal_duration_seconds_count\{name="site",outcome="issued"\}/) ?? 0) >= 1);
  });

  await t.test('both up: the renewal reaches the webhook (signature verified) and the mailbox, with no key or secret', async (tt) => {
    const posts: { headers: IncomingHttpHeaders; body: string }[] = [];
    const receiver = createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8').on('data', (c: string) => (body += c));
      req.on('end', () => {
        posts.push({ headers: req.headers, body });
        res.writeHead(posts.length === 1 ? 503 : 204).end(); // the first attempt fails: one retry
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    tt.after(() => receiver.close());
    const smtp = await startSmtp();
    tt.after(() => smtp.stop());
    const config = await configure((receiver.address() as AddressInfo).port, smtp.port);

    const renewed = await cli(config, 'issue', '--force');
    assert.equal(renewed.code, 0, renewed.stdout + renewed.stderr);
    assert.match(renewed.stdout, /^renewed +site/m);
    assert.equal(posts.length, 2, 'one retry after the 503');
    const delivered = posts[1];
    assert.ok(delivered);
    assert.equal(delivered.headers['x-certpilot-signature-256'], `sha256=${createHmac('sha256', SIGNING_KEY).update(delivered.body).digest('hex')}`);
    const body = JSON.parse(delivered.body) as { text: string; event: { type: string; version: number; certificate: string; reason: string } };
    assert.equal(body.event.type, 'renewed');
    assert.equal(body.event.version, 2);
    assert.equal(body.event.reason, 'forced');
    assert.match(body.text, /^certpilot: site renewed v2/);

    const mbox = await smtp.mbox();
    assert.match(mbox, /^Subject: certpilot: site renewed v2/m);
    assert.match(mbox, /^X-Certpilot-Event: renewed/m);
    const key = await readFile(join(dir, 'state', 'live', 'site', 'privkey.pem'), 'utf8');
    const keyBody = key.split('\n').filter((l) => l && !l.startsWith('-----')).join('');
    for (const [where, text] of [['webhook', delivered.body], ['e-mail', mbox], ['log', renewed.stderr]] as const) {
      assert.doesNotMatch(text, /PRIVATE KEY/, `${where}: no PEM key`);
      assert.equal(text.replace(/\s/g, '').includes(keyBody.slice(0, 40)), false, `${where}: not the live key`);
      assert.equal(text.includes(SIGNING_KEY) || text.includes(SMTP_PASSWORD_MARKER), false, `${where}: no secret`);
    }
    const text = await readFile(metricsFile, 'utf8');
    assert.equal(sample(text, /certpilot_notifications_total\{notifier="hooks",result="sent"\}/), 1);
    assert.equal(sample(text, /certpilot_notifications_total\{notifier="mail",result="sent"\}/), 1);

    // Nothing due: neither a failure nor a success, so nobody is told.
    const quiet = await cli(config, 'renew');
    assert.equal(quiet.code, 0, quiet.stderr);
    assert.equal(posts.length, 2);
  });
});
