import assert from 'node:assert/strict';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { CertpilotError } from '../../errors.js';
import { silentLogger } from '../../logger.js';
import { makeTestBundle } from '../../testing/certificate-fixtures.js';
import { FakeClock } from '../../testing/fake-clock.js';
import { tempDir } from '../../testing/temp-dir.js';
import { eventFromResult } from '../lifecycle-event.js';
import { SIGNATURE_HEADER, WebhookNotifier } from './webhook-notifier.js';

const SIGNING_KEY = 'whsec-test-key-that-must-never-leave';

interface Received {
  headers: IncomingMessage['headers'];
  body: string;
}

async function receiver(statuses: number[]): Promise<{ url: string; received: Received[]; server: Server }> {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (c: string) => (body += c));
    req.on('end', () => {
      received.push({ headers: req.headers, body });
      res.writeHead(statuses[Math.min(received.length - 1, statuses.length - 1)] ?? 200).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/T000/SECRETPATH`, received, server };
}

const failedEvent = () => {
  const e = eventFromResult(
    { name: 'site', outcome: 'failed', message: 'acme: order failed: unauthorized', reason: 'ari-window' },
    { domains: ['site.example'], timing: { startedAt: new Date(0), finishedAt: new Date(1500) } },
  );
  assert.ok(e);
  return e;
};

async function notifier(url: string, clock: FakeClock, retries = 3): Promise<WebhookNotifier> {
  const dir = await tempDir();
  const secretFile = join(dir, 'key');
  await writeFile(secretFile, `${SIGNING_KEY}\n`, { mode: 0o600 });
  return new WebhookNotifier({ name: 'hooks', url, secretFile, timeoutMs: 5000, retries, retryDelayMs: 2000, clock, logger: silentLogger });
}

test('webhook: a JSON body with a Slack/Mattermost text, signed HMAC-SHA256 over the exact body; the key itself never sent', async (t) => {
  const r = await receiver([200]);
  t.after(() => r.server.close());
  const clock = new FakeClock();
  await (await notifier(r.url, clock)).notify(failedEvent());
  assert.equal(r.received.length, 1);
  const [got] = r.received;
  assert.ok(got);
  const expected = `sha256=${createHmac('sha256', SIGNING_KEY).update(got.body).digest('hex')}`;
  const signature = String(got.headers[SIGNATURE_HEADER]);
  assert.ok(signature.length === expected.length && timingSafeEqual(Buffer.from(signature), Buffer.from(expected)), 'signature verifies');
  const body = JSON.parse(got.body) as { text: string; event: { type: string; certificate: string } };
  assert.match(body.text, /^certpilot: site renewal FAILED/);
  assert.equal(body.event.type, 'failed');
  assert.equal(got.headers['x-certpilot-event'], 'failed');
  assert.equal(got.headers['content-type'], 'application/json');
  assert.equal(JSON.stringify(got).includes(SIGNING_KEY), false);
});

test('webhook: the body goes through the one redaction (src/redact.ts): a URL password or a key quoted in an error never reaches the receiver', async (t) => {
  const r = await receiver([200]);
  t.after(() => r.server.close());
  const e = eventFromResult(
    {
      name: 'site',
      outcome: 'failed',
      message: 'http-01: token store redis://:hunter2-redis-pw@redis.internal:6379 unreachable',
      error: new CertpilotError('ERR_INTERNAL', 'connect to redis://user:hunter2-redis-pw@redis.internal failed', { hint: 'check the store' }),
    },
    { domains: ['site.example'], timing: { startedAt: new Date(0), finishedAt: new Date(1) } },
  );
  assert.ok(e);
  await (await notifier(r.url, new FakeClock())).notify(e);
  const body = r.received[0]?.body ?? '';
  assert.match(body, /redis\.internal/, 'the rest of the message is kept');
  assert.doesNotMatch(body, /hunter2/);
  assert.match(body, /\[redacted\]@redis\.internal/);
});

test('webhook: text escapes &, < and > for Slack and Mattermost (a hook\'s stderr cannot ping <!channel> or link); the event keeps the raw text', async (t) => {
  const r = await receiver([200]);
  t.after(() => r.server.close());
  const raw = 'hook deployer "reload": sh -c \'x\' exited with code 1; last stderr: <!channel> <https://evil.example|click> a && b';
  const e = eventFromResult({ name: 'site', outcome: 'failed', message: raw }, { domains: ['site.example'], timing: { startedAt: new Date(0), finishedAt: new Date(1) } });
  assert.ok(e);
  await (await notifier(r.url, new FakeClock())).notify(e);
  const body = JSON.parse(r.received[0]?.body ?? '{}') as { text: string; event: { message: string } };
  assert.match(body.text, /last stderr: &lt;!channel&gt; &lt;https:\/\/evil\.example\|click&gt; a &amp;&amp; b/);
  assert.doesNotMatch(body.text, /<|>/);
  assert.equal(body.event.message, raw);
});

test('webhook: 503 then 429 then 200 is three attempts, waits doubling through the clock', async (t) => {
  const r = await receiver([503, 429, 200]);
  t.after(() => r.server.close());
  const clock = new FakeClock();
  await (await notifier(r.url, clock)).notify(failedEvent());
  assert.equal(r.received.length, 3);
  assert.deepEqual(clock.sleeps, [2000, 4000]);
});

test('webhook: a 400 is final (no retry); a receiver that is down fails after every retry, naming only the origin', async (t) => {
  const r = await receiver([400]);
  t.after(() => r.server.close());
  const clock = new FakeClock();
  await assert.rejects((await notifier(r.url, clock)).notify(failedEvent()), (err: Error & { code?: string }) => err.code === 'ERR_NOTIFY_FAILED' && /HTTP 400/.test(err.message));
  assert.equal(r.received.length, 1);
  assert.deepEqual(clock.sleeps, []);

  const down = await receiver([200]);
  await new Promise((done) => down.server.close(done));
  const clock2 = new FakeClock();
  await assert.rejects((await notifier(down.url, clock2, 2)).notify(failedEvent()), (err: Error & { code?: string }) => {
    assert.equal(err.code, 'ERR_NOTIFY_FAILED');
    assert.match(err.message, /ECONNREFUSED/);
    assert.doesNotMatch(err.message, /SECRETPATH|whsec/, 'the URL path (a Slack secret) and the key stay out of the message');
    return true;
  });
  assert.deepEqual(clock2.sleeps, [2000, 4000], 'two retries after the first attempt');
});

test('webhook: a missing key file is ERR_NOTIFY_SECRET naming the file', async () => {
  const n = new WebhookNotifier({ name: 'hooks', url: 'http://127.0.0.1:9/', secretFile: '/nonexistent/key', timeoutMs: 1000, retries: 0, retryDelayMs: 1, clock: new FakeClock(), logger: silentLogger });
  await assert.rejects(n.notify(failedEvent()), (err: Error & { code?: string }) => err.code === 'ERR_NOTIFY_SECRET' && /\/nonexistent\/key cannot be read: ENOENT/.test(err.message));
});

test('webhook urlFile: the URL comes from the file; a missing or wrong file is ERR_NOTIFY_SECRET naming the file, never its content, and is read again at the next event', async (t) => {
  const r = await receiver([200]);
  t.after(() => r.server.close());
  const dir = await tempDir();
  const urlFile = join(dir, 'url');
  const n = new WebhookNotifier({ name: 'hooks', urlFile, timeoutMs: 5000, retries: 0, retryDelayMs: 1, clock: new FakeClock(), logger: silentLogger });
  await assert.rejects(n.notify(failedEvent()), (err: Error & { code?: string }) => err.code === 'ERR_NOTIFY_SECRET' && err.message.includes(`${urlFile} cannot be read: ENOENT`));
  await writeFile(urlFile, 'hooks.slack.example/services/T000/SECRETPATH\n', { mode: 0o600 });
  await assert.rejects(n.notify(failedEvent()), (err: Error & { code?: string }) => {
    assert.equal(err.code, 'ERR_NOTIFY_SECRET');
    assert.match(err.message, /urlFile: .* does not hold an http\(s\) URL on one line/);
    assert.doesNotMatch(err.message, /SECRETPATH/, 'the file content stays out of the message');
    return true;
  });
  assert.equal(r.received.length, 0);
  await writeFile(urlFile, `${r.url}\n`, { mode: 0o600 });
  await n.notify(failedEvent());
  assert.equal(r.received.length, 1, 'the fixed file is read at the next event');
  assert.match(JSON.parse(r.received[0]?.body ?? '{}').text as string, /^certpilot: site renewal FAILED/);
});

test('webhook urlFile: after a failed delivery the file is read again, so a rotated URL (a Secret updated in place) is used at the next event', async (t) => {
  const dead = await receiver([200]);
  await new Promise((done) => dead.server.close(done));
  const live = await receiver([200]);
  t.after(() => live.server.close());
  const urlFile = join(await tempDir(), 'url');
  await writeFile(urlFile, `${dead.url}\n`, { mode: 0o600 });
  const n = new WebhookNotifier({ name: 'hooks', urlFile, timeoutMs: 5000, retries: 0, retryDelayMs: 1, clock: new FakeClock(), logger: silentLogger });
  await assert.rejects(n.notify(failedEvent()), (err: Error & { code?: string }) => err.code === 'ERR_NOTIFY_FAILED');
  await writeFile(urlFile, `${live.url}\n`, { mode: 0o600 });
  await n.notify(failedEvent());
  assert.equal(live.received.length, 1, 'the rotated URL got the next event');
});

test('webhook caFile: missing at the first event, read again at the next one', async (t) => {
  const r = await receiver([200]);
  t.after(() => r.server.close());
  const caFile = join(await tempDir(), 'ca.pem');
  const n = new WebhookNotifier({ name: 'hooks', url: r.url, caFile, timeoutMs: 5000, retries: 0, retryDelayMs: 1, clock: new FakeClock(), logger: silentLogger });
  await assert.rejects(n.notify(failedEvent()), (err: Error & { code?: string }) => err.code === 'ERR_NOTIFY_FAILED' && err.message.includes(`caFile ${caFile} cannot be read: ENOENT`));
  await writeFile(caFile, makeTestBundle({ domains: ['ca.example'] }).chainPem);
  await n.notify(failedEvent());
  assert.equal(r.received.length, 1);
});
