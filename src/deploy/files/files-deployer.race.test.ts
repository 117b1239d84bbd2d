// A consumer process keeps reading the deployed files during 50 deploys of alternating versions:
// it must never get a key that does not match its certificate from one version directory, through
// one ..data resolution, or from fullbundle.pem.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { X509Certificate } from 'node:crypto';
import { silentLogger } from '../../logger.js';
import type { StoredCertificate } from '../../storage/certificate-store.js';
import { makeTestBundle } from '../../testing/certificate-fixtures.js';
import { tempDir } from '../../testing/temp-dir.js';
import { FilesDeployer, fileSet } from './files-deployer.js';

const READER = fileURLToPath(new URL('./fixtures/reader-child.js', import.meta.url));
const DEPLOYS = 50;

interface ReaderResult {
  rounds: number;
  pairs: number;
  straddles: number;
  vanished: number;
  pairMismatches: string[];
  dataPairs: number;
  dataMismatches: number;
  bundles: number;
  bundleMismatches: number;
  serials: string[];
}

test(`a reader never sees a key of one version with the certificate of another during ${DEPLOYS} deploys`, { timeout: 120_000 }, async (t) => {
  const dir = await tempDir();
  const bundles = [makeTestBundle({ domains: ['race.test'] }), makeTestBundle({ domains: ['race.test'], keyType: 'ec-p384' })];
  const serial = (i: number): string => new X509Certificate(bundles[i % 2]?.certPem ?? '').serialNumber.toLowerCase();
  const deployer = new FilesDeployer({ id: 'volume', dir, files: fileSet({ bundle: 'cert-chain-key' }), logger: silentLogger });
  const at = (version: number): StoredCertificate => ({
    ...(bundles[version % 2] as (typeof bundles)[number]),
    name: 'race',
    version,
    paths: { dir: '/unused', cert: '', chain: '', fullchain: '', privkey: '' },
  });
  await deployer.deploy(at(0));

  const reader = spawn(process.execPath, [READER], { stdio: ['pipe', 'pipe', 'inherit'] });
  const exited = new Promise<number | null>((resolve) => reader.once('exit', resolve));
  const seen: string[] = [];
  const waiters: { resolve: () => void }[] = [];
  let result: ReaderResult | undefined;
  createInterface({ input: reader.stdout }).on('line', (line) => {
    const message = JSON.parse(line) as { serial?: string; result?: ReaderResult };
    if (message.result) result = message.result;
    if (message.serial) {
      seen.push(message.serial);
      for (const w of waiters.splice(0)) w.resolve();
    }
  });
  // Resolves once the reader has read `s` from the bundle (after the deploy that made it live).
  const sawSerial = (s: string, since: number): Promise<void> =>
    new Promise((resolve) => {
      const check = (): void => {
        if (seen.slice(since).includes(s)) resolve();
        else waiters.push({ resolve: check });
      };
      check();
    });
  reader.stdin.write(`${JSON.stringify({ dir })}\n`);
  await sawSerial(serial(0), 0);

  for (let version = 1; version <= DEPLOYS; version++) {
    const mark = seen.length;
    const r = await deployer.deploy(at(version));
    assert.equal(r.details?.unchanged, false, `deploy ${version} switched`);
    // The reader is racing every step of the next deploy; wait only until it has seen this version.
    await sawSerial(serial(version), mark);
  }
  reader.stdin.end();
  assert.equal(await exited, 0, 'the reader exited cleanly');
  assert.ok(result, 'the reader reported');
  t.diagnostic(`reader: ${JSON.stringify({ ...result, serials: result.serials.length })}`);
  assert.deepEqual(result.pairMismatches, [], 'a key/cert pair from one version directory did not match');
  assert.equal(result.dataMismatches, 0, 'a pair read through one ..data resolution did not match');
  assert.equal(result.bundleMismatches, 0, 'fullbundle.pem held a key that is not its certificate\'s');
  assert.ok(result.bundles >= DEPLOYS && result.pairs >= DEPLOYS && result.dataPairs >= DEPLOYS, 'the reader read throughout');
  assert.equal(seen.length >= DEPLOYS + 1, true, `the reader saw every switch (${seen.length} serial changes)`);
  assert.deepEqual(new Set(result.serials.map((s) => s.toLowerCase())), new Set([serial(0), serial(1)]));
});
