// No secret reaches the terminal (issue 19): a configuration full of secrets (a hook's env, a TSIG
// secret, an EAB HMAC key, Redis passwords in the file and in a password file (one in a URL is refused by the schema), AWS keys
// in the environment) goes through `config check --json`, `config check --log-level trace` and a
// failing `renew --log-level trace` of the built CLI; none of the secret values may appear.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { runCli, tempDir } from '../harness/certpilot.js';

const SECRETS = {
  hookEnv: 'hook-env-SECRET-4f1c',
  tsig: Buffer.from('tsig-SECRET-9b2e-0123456789abcdef').toString('base64'),
  eab: 'eab-hmac-SECRET-77aa',
  redisPassword: 'redis-SECRET-pass-1',
  redisFile: 'redis-file-SECRET-2',
  awsSecret: 'aws/SECRET+access+key+5c5c',
  awsSession: 'aws-session-SECRET-token-6d6d',
};

test('config check --json and --log-level trace print no secret of a configuration full of them', { timeout: 60_000 }, async () => {
  const dir = await tempDir();
  await writeFile(join(dir, 'eab.key'), `${SECRETS.eab}\n`);
  await writeFile(join(dir, 'redis.pass'), `${SECRETS.redisFile}\n`);
  const config = join(dir, 'certpilot.yaml');
  await writeFile(
    config,
    [
      `stateDir: ${JSON.stringify(join(dir, 'state'))}`,
      'acme:',
      '  directoryUrl: https://127.0.0.1:1/dir',
      '  email: ops@example.test',
      '  termsOfServiceAgreed: true',
      `  eab: { kid: kid-1, hmacKeyFile: ${JSON.stringify(join(dir, 'eab.key'))} }`,
      'solvers:',
      `  dns: { type: rfc2136, server: 127.0.0.1, port: 1, keyName: certpilot., secret: "${SECRETS.tsig}", zone: example.test }`,
      `  pods: { type: redis, url: "redis://127.0.0.1:1/0", password: "${SECRETS.redisPassword}" }`,
      `  pods2: { type: redis, url: "redis://127.0.0.1:1/0", passwordFile: ${JSON.stringify(join(dir, 'redis.pass'))} }`,
      '  r53: { type: route53, region: us-east-1, hostedZoneId: Z0000000000 }',
      'deployers:',
      `  reload: { type: hook, command: ["true"], env: { DB_PASSWORD: "${SECRETS.hookEnv}" } }`,
      'certificates:',
      '  - name: www',
      '    domains: [www.example.test]',
      '    solver: dns',
      '    deploy: [reload]',
      '  - name: api',
      '    domains: [api.example.test]',
      '    solver: r53',
      '',
    ].join('\n'),
  );
  const env = { AWS_ACCESS_KEY_ID: 'AKIAEXAMPLE', AWS_SECRET_ACCESS_KEY: SECRETS.awsSecret, AWS_SESSION_TOKEN: SECRETS.awsSession, CERTPILOT_LOG_LEVEL: 'trace' };
  const runs = [
    await runCli(['config', 'check', '--json', '--config', config], { env }),
    await runCli(['config', 'check', '--log-level', 'trace', '--config', config], { env }),
    await runCli(['renew', '--log-level', 'trace', '--verbose', '--config', config], { env }),
  ];
  assert.equal(runs[0]?.code, 0, runs[0]?.stderr);
  const json = JSON.parse(runs[0]?.stdout ?? '{}') as { deployers: { reload: { options: { env: Record<string, string> } } }; solvers: { dns: { options: { secret: string } } } };
  assert.deepEqual(json.deployers.reload.options.env, { DB_PASSWORD: '[redacted]' }, 'the hook env is there, its value is not');
  assert.equal(json.solvers.dns.options.secret, '[redacted]');
  assert.notEqual(runs[2]?.code, 0, 'the renew fails (no CA), and says so');
  assert.ok((runs[2]?.stderr ?? '').length > 200, 'the trace run really logged');
  for (const [i, r] of runs.entries()) {
    const text = `${r.stdout}\n${r.stderr}`;
    for (const [what, secret] of Object.entries(SECRETS)) assert.ok(!text.includes(secret), `run ${i}: the ${what} secret is printed:\n${text}`);
  }
});
