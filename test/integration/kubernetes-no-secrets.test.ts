// The private key never leaves the request body: through a forbidden Secret update, a successful
// one, a failing reload and a successful rollout (run by the deploy chain, logging at trace level),
// no process argv, exec command, API request line, log line or error text (message, hint, causes,
// stacks) holds any part of it, and the applied Secret holds it only under `data`.
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { systemClock } from '../../src/clock.js';
import { runDeployChain } from '../../src/deploy/deploy-chain.js';
import { createLogger } from '../../src/logger.js';
import type { DeploymentRecord } from '../../src/storage/certificate-store.js';
import { makeDeployer, reloadOptions } from '../harness/kube-deployers.js';
import { requireApache, startStandinWithPods, storedCertificate } from '../harness/kube-fixtures.js';

function errorTexts(e: unknown, depth = 0): string[] {
  if (e === undefined || e === null || depth > 5) return [];
  const err = e as { message?: unknown; hint?: unknown; stack?: unknown; cause?: unknown; body?: unknown };
  return [String(err.message ?? e), String(err.hint ?? ''), String(err.stack ?? ''), JSON.stringify(err.body ?? ''), ...errorTexts(err.cause, depth + 1)];
}

void test('no private key in any argv, exec, request, log line or error of a deploy', { timeout: 90_000 }, async (t) => {
  if (!requireApache(t)) return;
  const lines: string[] = [];
  const logger = createLogger({ level: 'trace', destination: new Writable({ write: (c: Buffer, _e, cb) => (lines.push(c.toString()), cb()) }) });
  const rules = [
    { verbs: ['get'], resources: ['secrets'], resourceNames: ['www-certificate'] },
    { verbs: ['list'], resources: ['pods'] },
    { verbs: ['get', 'create'], resources: ['pods/exec'] },
  ];
  const standin = await startStandinWithPods({ pods: 2, initial: storedCertificate(1), rules, projectionDelayMs: () => 150 });
  try {
    const deployers = [await makeDeployer('kubernetes-secret', standin, { secretName: 'www-certificate' }, logger), await makeDeployer('kubernetes-reload', standin, reloadOptions(standin), logger)];
    const cert = storedCertificate(2);
    const texts: string[] = [];
    let records: Record<string, DeploymentRecord> = {};
    const chain = async (): Promise<boolean> => {
      const out = await runDeployChain(cert, deployers, records, { clock: systemClock, logger });
      records = out.records;
      for (const s of out.report.steps) texts.push(s.message, ...errorTexts(s.error));
      return out.report.ok;
    };
    assert.equal(await chain(), false, 'patch forbidden');
    standin.rules = [...rules, { verbs: ['patch'], resources: ['secrets'], resourceNames: ['www-certificate'] }];
    await standin.podApache('www-1').breakConfig(true);
    assert.equal(await chain(), false, 'www-1 fails its reload');
    await standin.podApache('www-1').breakConfig(false);
    assert.equal(await chain(), true);
    texts.push(JSON.stringify(records));

    const key = cert.privateKeyPem;
    const body = key.split('\n').filter((l) => l && !l.startsWith('-----')).join('');
    const needles = [body.slice(0, 32), body.slice(32, 64), body.slice(-32), Buffer.from(key).toString('base64').slice(16, 56), Buffer.from(cert.fullchainPem + key).toString('base64').slice(-48, -8)];
    // The whole Secret as applied, except `data` (where the key belongs): metadata, annotations,
    // labels, managedFields, type, stringData — an annotation holding the key must fail here.
    const applied = standin.secret('www-certificate');
    assert.ok(applied && typeof applied.data === 'object', 'the Secret was applied');
    const { data: _data, ...outsideData } = applied;
    const haystacks = {
      secret: [JSON.stringify(outsideData)],
      argv: standin.spawned.map((a) => a.join(' ')),
      exec: standin.execs.map((e) => e.argv.join(' ')),
      requests: standin.requests.map((r) => `${r.method} ${r.path} ${r.status}`),
      logs: lines,
      errors: texts,
    };
    assert.ok(haystacks.argv.length > 4 && haystacks.logs.length > 5 && haystacks.errors.some((x) => /ERR_|forbidden/.test(x)), 'the record is not empty');
    for (const [where, list] of Object.entries(haystacks)) {
      for (const text of list) for (const n of needles) assert.ok(!text.includes(n), `private key material in ${where}: ${text.slice(0, 160)}`);
    }
  } finally {
    await standin.stop();
  }
});
