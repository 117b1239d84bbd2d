import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createPublicKey, sign, verify } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { newPrivateKeySync } from './private-key-sync.js';

test('newPrivateKeySync makes the key asked for, usable at once', () => {
  const ec = newPrivateKeySync({ type: 'ec', namedCurve: 'P-384' });
  assert.equal(ec.asymmetricKeyType, 'ec');
  assert.equal(ec.asymmetricKeyDetails?.namedCurve, 'secp384r1');
  const rsa = newPrivateKeySync({ type: 'rsa', modulusLength: 2048 });
  assert.equal(rsa.asymmetricKeyDetails?.modulusLength, 2048);
  assert.equal(newPrivateKeySync({ type: 'ed25519' }).asymmetricKeyType, 'ed25519');
  const data = Buffer.from('certpilot');
  assert.equal(verify('sha256', data, createPublicKey(ec), sign('sha256', data, ec)), true);
  assert.notEqual(newPrivateKeySync({ type: 'ec', namedCurve: 'P-256' }).export({ format: 'jwk' }).d, newPrivateKeySync({ type: 'ec', namedCurve: 'P-256' }).export({ format: 'jwk' }).d);
});

// Node 20: a key from generateKeyPairSync, exported while the collector frees the job that made it,
// deadlocks the process (src/acme/private-key-sync.ts). A small young generation makes collections
// frequent; with plain generateKeyPairSync this loop hangs within about 600 keys here (it exports each one a few times).
test('generating and exporting 4000 keys under constant garbage collection never hangs (Node 20 keygen deadlock)', { timeout: 120_000 }, () => {
  const helper = fileURLToPath(new URL('./private-key-sync.js', import.meta.url));
  const script = `
    const { createPublicKey } = await import('node:crypto');
    const { newPrivateKeySync } = await import(${JSON.stringify(helper)});
    for (let i = 0; i < 4000; i++) {
      const key = newPrivateKeySync({ type: 'ec', namedCurve: 'P-256' });
      for (let j = 0; j < 4; j++) key.export({ format: 'jwk' });
      key.export({ format: 'pem', type: 'pkcs8' });
      createPublicKey(key).export({ format: 'jwk' });
    }
    process.stdout.write('done');`;
  const run = spawnSync(process.execPath, ['--max-semi-space-size=1', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 90_000, killSignal: 'SIGKILL' });
  assert.equal(run.signal, null, `the loop hung (killed after 90 s): keys made by generateKeyPairSync deadlock on export; stderr: ${run.stderr}`);
  assert.equal(run.status, 0, run.stderr);
  assert.equal(run.stdout, 'done');
});
