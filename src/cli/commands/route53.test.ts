// `certpilot route53 policy` for the zone admin's solver of `dns-persist record --apply` (named by
// no certificate, docs/challenges.md's dev case): its policy names the dns-persist-01 records, not
// nothing; a route53 solver nothing uses at all says its policy allows no change.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../../testing/temp-dir.js';
import { main } from '../main.js';

async function policy(yaml: string): Promise<{ code: number; doc: { Statement: { Sid: string; Condition?: Record<string, Record<string, string[]>> }[] } | undefined; err: string }> {
  const dir = await tempDir('certpilot-route53-policy-');
  await writeFile(join(dir, 'certpilot.yaml'), yaml);
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(['route53', 'policy', '--config', join(dir, 'certpilot.yaml')], {}, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, doc: code === 0 ? (JSON.parse(out.join('\n')) as never) : undefined, err: err.join('\n') };
}

const names = (doc: Awaited<ReturnType<typeof policy>>['doc'], sid: string): string[] | undefined =>
  doc?.Statement.find((s) => s.Sid === sid)?.Condition?.['ForAllValues:StringEquals']?.['route53:ChangeResourceRecordSetsNormalizedRecordNames'];

void test('the --apply solver of dns-persist-01 (named by no certificate) may change the _validation-persist records of the persist names', async () => {
  const { code, doc, err } = await policy(`
acme: { directoryUrl: "https://127.0.0.1:1/dir" }
solvers:
  persist: { type: dns-persist }
  zone-admin: { type: route53, hostedZoneId: Z0DEVPROJECT }
certificates:
  - { name: dev, domains: [dev.example.test, "*.dev.example.test", Api.Example.TEST], solver: persist }
`);
  assert.equal(code, 0, err);
  assert.deepEqual(names(doc, 'ChangeAcmeChallengeTxtZoneadmin'), ['_validation-persist.api.example.test', '_validation-persist.dev.example.test']);
  assert.match(err, /route53 zone-admin: no certificate names this solver: its policy is for `certpilot dns-persist record --apply --solver zone-admin`/);
});

void test('a route53 solver no certificate names, with no dns-persist-01 name, says its policy allows no change', async () => {
  const { code, doc, err } = await policy(`
acme: { directoryUrl: "https://127.0.0.1:1/dir" }
solvers:
  idle: { type: route53, hostedZoneId: Z0IDLE, followCname: false }
certificates:
  - { name: web, domains: [www.example.test] }
`);
  assert.equal(code, 0, err);
  assert.deepEqual(names(doc, 'ChangeAcmeChallengeTxtIdle'), []);
  assert.match(err, /route53 idle: no certificate names this solver and no name is proved by dns-persist-01: its policy allows no record change/);
});
