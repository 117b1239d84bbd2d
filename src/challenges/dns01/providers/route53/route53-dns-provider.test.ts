// Unit tests of the route53 provider against recorded Route 53 API exchanges (fixtures/), replayed by
// a local HTTP server behind the SDK's endpoint override, on a fake clock (nothing sleeps): what the
// emulator cannot show — a change PENDING before INSYNC, a DELETE of a set that is already gone,
// Throttling and PriorRequestNotComplete backoff, and an AccessDenied that names the permission.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { Route53Client } from '@aws-sdk/client-route-53';
import { CertpilotError } from '../../../../errors.js';
import { FakeClock } from '../../../../testing/fake-clock.js';
import { Route53DnsProvider } from './route53-dns-provider.js';

interface Exchange {
  request: { method: string; path: string; bodyIncludes?: string[] };
  response: { status: number; body: string };
}

function fixture(name: string): Exchange[] {
  const url = new URL(`../../../../../../src/challenges/dns01/providers/route53/fixtures/${name}`, import.meta.url);
  return (JSON.parse(readFileSync(url, 'utf8')) as { exchanges: Exchange[] }).exchanges;
}

/** Replays `exchanges` in order, checking each request against the recording. */
async function replay(exchanges: Exchange[]): Promise<{ endpoint: string; seen: string[]; problems: string[]; close: () => Promise<void> }> {
  const seen: string[] = [];
  const problems: string[] = [];
  let next = 0;
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const path = (req.url ?? '').split('?')[0] ?? '';
      seen.push(`${req.method} ${path}`);
      const ex = exchanges[next++];
      if (!ex) {
        problems.push(`unexpected request ${req.method} ${path}`);
        res.writeHead(500).end();
        return;
      }
      if (ex.request.method !== req.method || ex.request.path !== path) problems.push(`expected ${ex.request.method} ${ex.request.path}, got ${req.method} ${path}`);
      for (const part of ex.request.bodyIncludes ?? []) if (!body.includes(part)) problems.push(`request ${next} lacks ${part}: ${body}`);
      res.writeHead(ex.response.status, { 'Content-Type': 'text/xml', 'x-amzn-RequestId': 'fixture' }).end(ex.response.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { endpoint: `http://127.0.0.1:${port}`, seen, problems, close: () => new Promise((r) => server.close(() => r())) };
}

function provider(endpoint: string, clock: FakeClock, hostedZoneId: string | null = 'Z0EXAMPLE', maxRetries?: number): Route53DnsProvider {
  const client = new Route53Client({ region: 'us-east-1', endpoint, maxAttempts: 1, credentials: { accessKeyId: 'AKIDFIXTURE', secretAccessKey: 'fixture-secret' } });
  return new Route53DnsProvider({ client, ...(hostedZoneId ? { hostedZoneId } : {}), clock, pollMs: 2000, ...(maxRetries !== undefined ? { maxRetries } : {}) });
}

void test('an UPSERT keeps the existing value and waits PENDING → PENDING → INSYNC', async () => {
  const server = await replay(fixture('pending-then-insync.json'));
  try {
    const clock = new FakeClock();
    await provider(server.endpoint, clock).addTxtRecord({ fqdn: '_acme-challenge.example.com.', value: 'new-value', ttl: 60 }, {});
    assert.deepEqual(server.problems, []);
    assert.deepEqual(server.seen, [
      'GET /2013-04-01/hostedzone/Z0EXAMPLE/rrset',
      'POST /2013-04-01/hostedzone/Z0EXAMPLE/rrset',
      'GET /2013-04-01/change/C2682N5HXP0BZ4',
      'GET /2013-04-01/change/C2682N5HXP0BZ4',
    ]);
    assert.deepEqual(clock.sleeps, [2000, 2000], 'one poll interval before each GetChange');
  } finally {
    await server.close();
  }
});

void test('removing the last value DELETEs the set; "not found" (already gone) is success', async () => {
  const server = await replay(fixture('delete-missing.json'));
  try {
    await provider(server.endpoint, new FakeClock()).removeTxtRecord({ fqdn: '_acme-challenge.example.com.', value: 'our-value' }, {});
    assert.deepEqual(server.problems, []);
    assert.equal(server.seen.length, 2);
  } finally {
    await server.close();
  }
});

void test('Throttling and PriorRequestNotComplete are retried with a doubling backoff', async () => {
  const server = await replay(fixture('throttling.json'));
  try {
    const clock = new FakeClock();
    await provider(server.endpoint, clock).addTxtRecord({ fqdn: '_acme-challenge.example.com.', value: 'v', ttl: 60 }, {});
    assert.deepEqual(server.problems, []);
    assert.equal(server.seen.length, 4);
    assert.deepEqual(clock.sleeps, [500, 500], 'each call backs off from 500 ms');
  } finally {
    await server.close();
  }
});

void test('consecutive throttles double the wait; past maxRetries the Throttling error surfaces', async () => {
  const server = await replay(fixture('throttling-thrice.json'));
  try {
    const clock = new FakeClock();
    await provider(server.endpoint, clock).addTxtRecord({ fqdn: '_acme-challenge.example.com.', value: 'v', ttl: 60 }, {});
    assert.deepEqual(server.problems, []);
    assert.deepEqual(clock.sleeps, [500, 1000, 2000]);
  } finally {
    await server.close();
  }
  const again = await replay(fixture('throttling-thrice.json'));
  try {
    const clock = new FakeClock();
    await assert.rejects(provider(again.endpoint, clock, 'Z0EXAMPLE', 2).addTxtRecord({ fqdn: '_acme-challenge.example.com.', value: 'v', ttl: 60 }, {}), (err: unknown) => {
      assert.ok(err instanceof CertpilotError);
      assert.match(err.message, /Throttling|rate/i);
      return true;
    });
    assert.deepEqual(clock.sleeps, [500, 1000], 'two retries, then the error');
    assert.equal(again.seen.length, 3);
  } finally {
    await again.close();
  }
});

void test('an AccessDenied names the missing permission', async () => {
  const server = await replay(fixture('access-denied.json'));
  try {
    await assert.rejects(provider(server.endpoint, new FakeClock(), null).addTxtRecord({ fqdn: '_acme-challenge.example.com.', value: 'v', ttl: 60 }, {}), (err: unknown) => {
      assert.ok(err instanceof CertpilotError);
      assert.equal(err.code, 'ERR_ROUTE53_ACCESS_DENIED');
      assert.match(err.message, /ListHostedZonesByName denied: the credentials lack route53:ListHostedZonesByName/);
      assert.ok(!err.message.includes('fixture-secret'));
      return true;
    });
  } finally {
    await server.close();
  }
});

void test('a wildcard and its base at once: the second change is submitted while the first is still PENDING', async () => {
  const seen: string[] = [];
  let values: string[] = [];
  let changes = 0;
  const NS = 'xmlns="https://route53.amazonaws.com/doc/2013-04-01/"';
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const path = (req.url ?? '').split('?')[0] ?? '';
      let xml: string;
      if (req.method === 'GET' && path.endsWith('/rrset')) {
        seen.push('list');
        const recs = values.map((v) => `<ResourceRecord><Value>"${v}"</Value></ResourceRecord>`).join('');
        const set = values.length ? `<ResourceRecordSet><Name>_acme-challenge.example.com.</Name><Type>TXT</Type><TTL>60</TTL><ResourceRecords>${recs}</ResourceRecords></ResourceRecordSet>` : '';
        xml = `<ListResourceRecordSetsResponse ${NS}><ResourceRecordSets>${set}</ResourceRecordSets><IsTruncated>false</IsTruncated><MaxItems>1</MaxItems></ListResourceRecordSetsResponse>`;
      } else if (req.method === 'POST') {
        changes++;
        seen.push(`change ${changes}`);
        values = [...body.matchAll(/<Value>(?:"|&quot;)([^<"&]+)(?:"|&quot;)<\/Value>/g)].map((m) => m[1] as string);
        xml = `<ChangeResourceRecordSetsResponse ${NS}><ChangeInfo><Id>/change/C${changes}</Id><Status>PENDING</Status><SubmittedAt>2026-01-01T00:00:00Z</SubmittedAt></ChangeInfo></ChangeResourceRecordSetsResponse>`;
      } else {
        seen.push(`poll ${path.split('/').pop()}`);
        // The first change stays PENDING until the second is submitted: had the second waited
        // for the first's INSYNC, the first would time out.
        const status = changes < 2 ? 'PENDING' : 'INSYNC';
        xml = `<GetChangeResponse ${NS}><ChangeInfo><Id>${path.replace('/2013-04-01', '')}</Id><Status>${status}</Status><SubmittedAt>2026-01-01T00:00:00Z</SubmittedAt></ChangeInfo></GetChangeResponse>`;
      }
      res.writeHead(200, { 'Content-Type': 'text/xml' }).end(`<?xml version="1.0"?>\n${xml}`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const p = provider(endpoint, new FakeClock());
    await Promise.all([
      p.addTxtRecord({ fqdn: '_acme-challenge.example.com.', value: 'wild', ttl: 60 }, {}),
      p.addTxtRecord({ fqdn: '_acme-challenge.example.com.', value: 'base', ttl: 60 }, {}),
    ]);
    assert.deepEqual(values.sort(), ['base', 'wild'], 'the second UPSERT kept the first value');
    assert.ok(seen.includes('change 2'), seen.join(', '));
  } finally {
    await new Promise((r) => server.close(r));
  }
});
