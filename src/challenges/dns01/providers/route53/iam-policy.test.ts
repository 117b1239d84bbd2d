// The generated least-privilege policy: a snapshot (fixtures/iam-policy.snapshot.json), valid JSON,
// changes limited to TXT at the _acme-challenge names by UPSERT/DELETE, and ListHostedZonesByName
// only for a solver without hostedZoneId.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { buildRoute53Policy, normalizedRecordName } from './iam-policy.js';
import { plugin } from './plugin.js';
import { route53Schema } from './schema.js';

// The actions come from the plug-in's own declaration, as `certpilot route53 policy` reads them.
const actions = (options: object) => plugin.iam?.(route53Schema().parse(options)) ?? [];
const inputs = [
  { solver: 'dev', hostedZoneId: 'Z0DEVPROJECT', names: ['dev.project.com', 'www.dev.project.com', '*.dev.project.com'], actions: actions({ hostedZoneId: 'Z0DEVPROJECT' }) },
  { solver: 'prod-dns', names: ['Project.COM.', '*.project.com'], actions: actions({}) },
];

void test('the policy matches its snapshot and is valid JSON', () => {
  const text = JSON.stringify(buildRoute53Policy(inputs), null, 2);
  const snapshot = readFileSync(new URL('../../../../../../src/challenges/dns01/providers/route53/fixtures/iam-policy.snapshot.json', import.meta.url), 'utf8');
  assert.equal(`${text}\n`, snapshot);
  assert.deepEqual(JSON.parse(snapshot), buildRoute53Policy(inputs));
});

void test('changes are limited to TXT at the _acme-challenge names; zone listing only without a zone id', () => {
  const policy = buildRoute53Policy(inputs);
  const changes = policy.Statement.filter((s) => s.Action === 'route53:ChangeResourceRecordSets');
  assert.equal(changes.length, 2);
  for (const s of changes) {
    const c = s.Condition?.['ForAllValues:StringEquals'];
    assert.deepEqual(c?.['route53:ChangeResourceRecordSetsRecordTypes'], ['TXT']);
    assert.deepEqual(c?.['route53:ChangeResourceRecordSetsActions'], ['UPSERT', 'DELETE']);
    assert.ok(c?.['route53:ChangeResourceRecordSetsNormalizedRecordNames']?.every((n) => n.startsWith('_acme-challenge.')));
  }
  assert.equal(changes[0]?.Resource, 'arn:aws:route53:::hostedzone/Z0DEVPROJECT');
  assert.deepEqual(changes[0]?.Condition?.['ForAllValues:StringEquals']?.['route53:ChangeResourceRecordSetsNormalizedRecordNames'], [
    '_acme-challenge.dev.project.com',
    '_acme-challenge.www.dev.project.com',
  ]);
  assert.ok(policy.Statement.some((s) => s.Action === 'route53:GetChange'));
  assert.equal(policy.Statement.filter((s) => s.Action === 'route53:ListHostedZonesByName').length, 1);
  assert.ok(!buildRoute53Policy([inputs[0] as (typeof inputs)[0]]).Statement.some((s) => s.Action === 'route53:ListHostedZonesByName'), 'not needed with hostedZoneId');
  assert.equal(normalizedRecordName('*.Example.COM.'), '_acme-challenge.example.com');
});
