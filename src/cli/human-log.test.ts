import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { createLogger } from '../logger.js';
import { chooseLogFormat, formatLogLine, humanLogDestination } from './human-log.js';

void test('a pino line becomes one line of text, redaction kept', async () => {
  const out: string[] = [];
  const sink = new Writable({ write: (c: Buffer, _e, cb) => (out.push(c.toString()), cb()) });
  const logger = createLogger({ level: 'info', destination: humanLogDestination(sink) }).child({ certificate: 'www' });
  logger.warn({ code: 'ERR_X', err: 'it broke: badly', privateKey: '-----BEGIN PRIVATE KEY-----x' }, 'renewal failed');
  logger.debug('not at info');
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(out.join('').split('\n').filter(Boolean), ['warn: renewal failed (certificate=www code=ERR_X err="it broke: badly" privateKey=[redacted])']);
  assert.equal(formatLogLine('{"level":50,"time":1,"msg":"x","err":{"code":"E","message":"m","stack":"s"}}'), 'error: x (err="E: m")');
  assert.equal(formatLogLine('not json'), 'not json');
});

void test('the format: the flag, else the environment, else JSON only for --json without a terminal', () => {
  assert.equal(chooseLogFormat({ json: false, stderrIsTty: false }), 'human');
  assert.equal(chooseLogFormat({ json: true, stderrIsTty: true }), 'human');
  assert.equal(chooseLogFormat({ json: true, stderrIsTty: false }), 'json');
  assert.equal(chooseLogFormat({ env: 'json', json: false, stderrIsTty: true }), 'json');
  assert.equal(chooseLogFormat({ flag: 'human', env: 'json', json: true, stderrIsTty: false }), 'human');
  assert.throws(() => chooseLogFormat({ flag: 'xml', json: false, stderrIsTty: true }), { code: 'ERR_CLI_USAGE', message: /--log-format must be human or json, not "xml"/ });
});

void test('for a command that prints each result, lines restating a result (outcome) are left out; other lines stay', async () => {
  const out: string[] = [];
  const sink = new Writable({ write: (c: Buffer, _e, cb) => (out.push(c.toString()), cb()) });
  const logger = createLogger({ level: 'info', destination: humanLogDestination(sink, { omitOutcomes: true }) }).child({ certificate: 'www' });
  logger.error({ outcome: 'failed', code: 'ERR_X', err: 'it broke' }, 'renewal failed; the previous certificate stays live');
  logger.error({ err: 'disk' }, 'could not record the failure');
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(out.join('').split('\n').filter(Boolean), ['error: could not record the failure (certificate=www err=disk)']);
  const line = '{"level":50,"time":1,"msg":"deploy failed","outcome":"failed","code":"E"}';
  assert.equal(formatLogLine(line, { omitOutcomes: true }), undefined);
  assert.equal(formatLogLine(line), 'error: deploy failed (outcome=failed code=E)', 'kept where no result line says it');
});
