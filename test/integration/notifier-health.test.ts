// A broken notifier can be alerted on from a cron run's textfile: the webhook's last attempt is kept
// in the certificate's renewal state, so `certpilot_notifier_last_attempt_success` stays 0 in the
// textfile of a later run that notifies nothing, and turns 1 once the receiver answers. The built
// CLI, a webhook receiver of the test's own on loopback, and a CA address where nothing listens (the
// run fails fast, which is the event notified).
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { test } from 'node:test';
import { runCli, tempDir } from '../harness/certpilot.js';
import { freePort } from '../harness/ports.js';

test('a dead webhook receiver stays visible in later textfiles until it answers again', { timeout: 60_000 }, async (t) => {
  const dir = await tempDir('certpilot-notifier-');
  const port = await freePort();
  const config = join(dir, 'certpilot.yaml');
  await writeFile(
    config,
    [
      `stateDir: ${JSON.stringify(join(dir, 'state'))}`,
      'acme: { directoryUrl: "http://127.0.0.1:9/dir" }',
      `notifiers: { hook: { type: webhook, url: "http://127.0.0.1:${port}/hook", retries: 0, timeoutSeconds: 5 } }`,
      'defaults: { notify: [hook] }',
      'certificates: [{ domains: [notify.test] }]',
      '',
    ].join('\n'),
  );
  const prom = join(dir, 'certpilot.prom');
  const gauge = async (): Promise<string | undefined> => /^certpilot_notifier_last_attempt_success\{notifier="hook"\} (\d)$/m.exec(await readFile(prom, 'utf8'))?.[1];

  // Nothing listens: the failure's notification fails.
  const failed = await runCli(['renew', '--config', config, '--metrics-file', prom]);
  assert.equal(failed.code, 1, failed.stdout + failed.stderr);
  assert.match(failed.stderr, /notification not delivered/);
  assert.equal(await gauge(), '0', await readFile(prom, 'utf8'));
  assert.match(await readFile(prom, 'utf8'), /^certpilot_notifier_last_attempt_timestamp_seconds\{notifier="hook"\} \d+/m);
  // A later run that notifies nothing (status, as a cron line of its own) still says so.
  const status = await runCli(['status', '--config', config, '--metrics-file', prom]);
  assert.equal(status.code, 0, status.stderr);
  assert.equal(await gauge(), '0', 'kept across runs');

  // The receiver answers: the next notification is delivered and the gauge turns 1.
  const bodies: string[] = [];
  const server = createServer((req, res) => {
    req.resume().on('end', () => {
      bodies.push(req.url ?? '');
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  t.after(() => server.close());
  const delivered = await runCli(['renew', '--config', config, '--metrics-file', prom]);
  assert.equal(delivered.code, 1, delivered.stderr);
  assert.deepEqual(bodies, ['/hook']);
  assert.equal(await gauge(), '1');
});
