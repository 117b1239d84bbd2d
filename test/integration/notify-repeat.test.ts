// A failure the CA did not count is retried by every run (every 5 minutes in the daemon, every cron
// line), and each retry used to e-mail the same news again. The built CLI against Pebble behind
// the fault proxy, with a webhook receiver of the test's own on loopback and a failure-only
// notifier (the default `repeatHours` 24): two runs that fail alike send one notice, a run that
// fails with another error sends another at once, and the success after them is sent as RESOLVED,
// though the notifier's `on` lacks `success`. Every decision is the record in the renewal state,
// read by a new process each run, as a cron line's.
import assert from 'node:assert/strict';
import { appendFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { test } from 'node:test';
import { runCli, startCliScenario } from '../harness/certpilot.js';
import { freePort } from '../harness/ports.js';
import { requirePebble } from '../harness/servers.js';

test('the same failure is notified once, another error at once, and the next success as RESOLVED', { timeout: 120_000 }, async (t) => {
  if (!requirePebble(t)) return;
  const { pebble, proxy, config } = await startCliScenario(t, { pebble: { noSleep: true }, certificates: [{ name: 'shop', domains: ['shop.repeat.test'] }] });
  const calls: { event: string; text: string }[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      calls.push({ event: String(req.headers['x-certpilot-event']), text: (JSON.parse(Buffer.concat(chunks).toString()) as { text: string }).text });
      res.writeHead(204).end();
    });
  });
  const port = await freePort();
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  t.after(() => server.close());
  await appendFile(config, [`notifiers: { oncall: { type: webhook, url: "http://127.0.0.1:${port}/hook", on: [failure], retries: 0 } }`, 'defaults: { notify: [oncall] }', ''].join('\n'));

  // The CA cannot be reached (a network error: the CA counted nothing, so every run tries again).
  let mode: 'unreachable' | 'refused' | 'up' = 'unreachable';
  proxy.failNext({ match: () => mode === 'unreachable', status: 0, resetConnection: true, count: 100_000 });
  // Then it refuses the order (a 4xx answer: counted nothing either).
  proxy.failNext({ match: (r) => mode === 'refused' && r.kind === 'POST /order-plz', status: 400, problem: { type: 'urn:ietf:params:acme:error:rejectedIdentifier', detail: 'not today' }, count: 100_000 });

  const first = await runCli(['renew', '--config', config]);
  assert.equal(first.code, 1, first.stdout + first.stderr);
  assert.equal(calls.length, 1, first.stderr);
  assert.equal(calls[0]?.event, 'failed');
  const code = /renewal FAILED \((ERR_[A-Z_]+)\)/.exec(calls[0]?.text ?? '')?.[1];
  assert.ok(code, calls[0]?.text);

  const second = await runCli(['renew', '--config', config, '--log-level', 'info']);
  assert.equal(second.code, 1, second.stdout + second.stderr);
  assert.match(second.stdout, new RegExp(code), 'the run failed alike');
  assert.equal(calls.length, 1, 'the same failure is not sent again');
  assert.match(second.stderr, /notification not repeated/);
  assert.match(second.stderr, /shop/);

  mode = 'refused';
  const third = await runCli(['renew', '--config', config]);
  assert.equal(third.code, 1, third.stdout + third.stderr);
  assert.equal(calls.length, 2, 'another error is news');
  const other = /renewal FAILED \((ERR_[A-Z_]+)\)/.exec(calls[1]?.text ?? '')?.[1];
  assert.ok(other && other !== code, `${code} then ${calls[1]?.text}`);

  mode = 'up';
  const fixed = await runCli(['renew', '--config', config]);
  assert.equal(fixed.code, 0, fixed.stdout + fixed.stderr + (await pebble.logs()));
  assert.equal(calls.length, 3, 'the success is sent to the failure-only notifier');
  assert.equal(calls[2]?.event, 'issued');
  assert.match(calls[2]?.text ?? '', new RegExp(`^certpilot: shop issued v1 RESOLVED \\(was ${other}\\)`));

  // Nothing more to say: the next run is not due, and a success resolves once.
  const quiet = await runCli(['renew', '--config', config]);
  assert.equal(quiet.code, 0, quiet.stderr);
  assert.equal(calls.length, 3);
});
