import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { createLogger } from './logger.js';

test('secrets are redacted from log lines, other fields are kept', async () => {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      lines.push(chunk.toString());
      callback();
    },
  });
  const logger = createLogger({ level: 'info', destination });
  const pem = '-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg\n-----END PRIVATE KEY-----';
  logger.info({ certificate: 'www', privateKey: pem, account: { hmacKey: 's3cr3t-hmac' }, eab: { kid: 'kid-1', hmacKey: 'x' } }, 'saved');
  logger.info({ request: { headers: { authorization: 'Bearer abc.def' } }, tsigSecret: 'tsig-secret-value', secretAccessKey: 'aws-secret' }, 'call');
  await new Promise((resolve) => setImmediate(resolve));
  const text = lines.join('');
  for (const secret of ['BEGIN PRIVATE KEY', 's3cr3t-hmac', 'tsig-secret-value', 'aws-secret', 'Bearer abc']) assert.doesNotMatch(text, new RegExp(secret));
  const first = JSON.parse(lines[0] ?? '{}') as Record<string, unknown>;
  assert.equal(first.certificate, 'www');
  assert.equal(first.privateKey, '[redacted]');
  assert.deepEqual(first.eab, { kid: 'kid-1', hmacKey: '[redacted]' });
});
