// `certpilot route53 policy` and `route53 check` through the built CLI: the policy for the
// configured route53 solvers; a check against the Route 53 emulator that writes, reads and removes
// a probe and leaves nothing (credentials from the environment, as in the deck's dev flow); and a
// check against an API that denies everything names the missing permission.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { CreateHostedZoneCommand, ListResourceRecordSetsCommand, Route53Client } from '@aws-sdk/client-route-53';
import { formatDnsServer } from '../../src/challenges/dns01/dns-client.js';
import { namedBinary, startBind } from '../harness/bind.js';
import { runCli, tempDir, writeConfig } from '../harness/certpilot.js';
import { requireMoto, startMoto } from '../harness/moto.js';
import { requireServer } from '../harness/servers.js';

const env = { AWS_ACCESS_KEY_ID: 'testing', AWS_SECRET_ACCESS_KEY: 'testing' };

test('route53 policy and check through the CLI', { timeout: 90_000 }, async (t) => {
  if (!requireMoto(t) || !requireServer(t, namedBinary, 'Debian package bind9')) return;
  // The public DNS of the names: www is delegated by CNAME into the zone the key may change.
  const bind = await startBind({ zones: [{ name: 'project.test', records: ['dev A 127.0.0.1', 'www.dev A 127.0.0.1', '_acme-challenge.www.dev CNAME _acme-challenge.www.dev.validation.project.test.'] }] });
  t.after(() => bind.stop());
  const moto = await startMoto();
  t.after(() => moto.stop());
  const client = new Route53Client({ region: 'us-east-1', endpoint: moto.endpoint, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
  t.after(() => client.destroy());
  const zone = await client.send(new CreateHostedZoneCommand({ Name: 'dev.project.test', CallerReference: `cli-${Date.now()}` }));
  const zoneId = (zone.HostedZone?.Id ?? '').replace('/hostedzone/', '');
  // The validation zone the delegated name's CNAME points into: the only zone its key may change.
  const validation = await client.send(new CreateHostedZoneCommand({ Name: 'validation.project.test', CallerReference: `cli-v-${Date.now()}` }));
  const validationId = (validation.HostedZone?.Id ?? '').replace('/hostedzone/', '');

  // A server that denies every call, as Route 53 does for a key without the permission.
  const denied = createServer((req, res) => {
    req.resume();
    req.on('end', () =>
      res
        .writeHead(403, { 'Content-Type': 'text/xml' })
        .end('<?xml version="1.0"?>\n<ErrorResponse xmlns="https://route53.amazonaws.com/doc/2013-04-01/"><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>User: arn:aws:iam::123456789012:user/dev is not authorized to perform: route53:ListHostedZonesByName</Message></Error><RequestId>x</RequestId></ErrorResponse>'),
    );
  });
  await new Promise<void>((r) => denied.listen(0, '127.0.0.1', r));
  t.after(() => denied.close());

  const dir = await tempDir();
  const config = await writeConfig(dir, {
    directoryUrl: 'https://127.0.0.1:1/dir',
    httpPort: 5002,
    solvers: {
      aws: { type: 'route53', hostedZoneId: zoneId, endpoint: moto.endpoint, resolvers: [formatDnsServer(bind.server)] },
      delegated: { type: 'route53', hostedZoneId: validationId, endpoint: moto.endpoint, resolvers: [formatDnsServer(bind.server)] },
      nokey: { type: 'route53', endpoint: `http://127.0.0.1:${(denied.address() as AddressInfo).port}`, followCname: false },
    },
    certificates: [
      { name: 'dev', domains: ['dev.project.test', 'www.dev.project.test'], solver: 'aws' },
      { name: 'other', domains: ['other.project.test', '*.other.project.test'], solver: 'nokey' },
      { name: 'www', domains: ['www.dev.project.test'], solver: 'delegated' },
    ],
  });

  const policy = await runCli(['route53', 'policy', '--config', config], { env });
  assert.equal(policy.code, 0, policy.stderr);
  const doc = JSON.parse(policy.stdout) as { Statement: { Action: string; Resource: string; Condition?: Record<string, Record<string, string[]>> }[] };
  const change = doc.Statement.find((s) => s.Action === 'route53:ChangeResourceRecordSets' && s.Resource.endsWith(zoneId));
  // The delegated name is named at its CNAME target, where the solver will write.
  assert.deepEqual(change?.Condition?.['ForAllValues:StringEquals']?.['route53:ChangeResourceRecordSetsNormalizedRecordNames'], [
    '_acme-challenge.dev.project.test',
    '_acme-challenge.www.dev.validation.project.test',
  ]);
  assert.match(policy.stderr, /route53 aws: _acme-challenge\.www\.dev\.project\.test\. is delegated by CNAME to _acme-challenge\.www\.dev\.validation\.project\.test\.: its TXT record is written there/);
  const other = doc.Statement.find((s) => s.Action === 'route53:ChangeResourceRecordSets' && s.Resource.endsWith('/*'));
  assert.deepEqual(other?.Condition?.['ForAllValues:StringEquals']?.['route53:ChangeResourceRecordSetsNormalizedRecordNames'], ['_acme-challenge.other.project.test'], 'followCname: false: no lookup');
  assert.ok(doc.Statement.some((s) => s.Action === 'route53:ListHostedZonesByName'), 'the solver without hostedZoneId needs it');

  const check = await runCli(['route53', 'check', 'aws', '--config', config], { env });
  assert.equal(check.code, 0, `${check.stdout}\n${check.stderr}`);
  // The SDK's nine-line Node-version notice is not every run's (and every cron mail's) stderr.
  assert.doesNotMatch(check.stderr, /NodeVersionSupportWarning/, check.stderr);
  assert.match(check.stdout, /route53 aws: write probe TXT at _acme-challenge\.dev\.project\.test\.: ok/);
  assert.match(check.stdout, /route53 aws: nothing left: ok/);
  const sets = await client.send(new ListResourceRecordSetsCommand({ HostedZoneId: zoneId }));
  assert.deepEqual((sets.ResourceRecordSets ?? []).filter((s) => s.Type === 'TXT'), [], 'no probe left in the zone');

  // check writes its probe where the solver would: at the CNAME target, in the validation zone.
  const viaCname = await runCli(['route53', 'check', 'delegated', '--config', config], { env });
  assert.equal(viaCname.code, 0, `${viaCname.stdout}\n${viaCname.stderr}`);
  assert.match(viaCname.stdout, /route53 delegated: write probe TXT at _acme-challenge\.www\.dev\.validation\.project\.test\.: ok/);
  const validationSets = await client.send(new ListResourceRecordSetsCommand({ HostedZoneId: validationId }));
  assert.deepEqual((validationSets.ResourceRecordSets ?? []).filter((s) => s.Type === 'TXT'), [], 'no probe left in the validation zone');

  const bad = await runCli(['route53', 'check', 'nokey', '--config', config], { env });
  assert.equal(bad.code, 1);
  assert.match(bad.stdout, /route53 nokey: zone: FAILED ERR_ROUTE53_ACCESS_DENIED: route53: ListHostedZonesByName denied: the credentials lack route53:ListHostedZonesByName/);
  assert.ok(!`${bad.stdout}${check.stdout}${policy.stdout}`.includes('testing'), 'no credential is printed');
});
