/**
 * A state directory with certificates in several conditions, written through the real filesystem
 * store (real PEMs from openssl), and a configuration naming them: for `status --html`, the
 * metrics textfile and the page in Chromium. No CA involved.
 */
import { appendFile } from 'node:fs/promises';
import { join } from 'node:path';
import { silentLogger } from '../../src/logger.js';
import { FilesystemCertificateStore } from '../../src/storage/filesystem/filesystem-certificate-store.js';
import { makeTestBundle } from '../../src/testing/certificate-fixtures.js';
import { runCli, writeConfig } from './certpilot.js';

/** What the fixture made. */
export interface StatusFixture {
  config: string;
  stateDir: string;
  /** A failure message the "CA" sent, with markup in it. */
  hostileMessage: string;
}

const H = 3_600_000;

/** Writes `site` (90 days, deployed to files, hook failed), `short` (6 days, ARI window) and `pending` (never issued) into `dir`. */
export async function makeStatusFixture(dir: string, now = new Date()): Promise<StatusFixture> {
  const config = await writeConfig(dir, {
    directoryUrl: 'https://127.0.0.1:1/dir',
    httpPort: 80,
    deployers: { files: { type: 'files', dir: join(dir, 'out') }, reload: { type: 'hook', command: ['true'] } },
    certificates: [
      { name: 'site', domains: ['site.example.test', 'www.site.example.test'], deploy: ['files', 'reload'] },
      { name: 'short', domains: ['short.example.test'], profile: 'shortlived' },
      { name: 'pending', domains: ['pending.example.test'] },
    ],
  });
  await appendFile(config, 'renewal: { runIntervalHours: 12 }\n');
  const stateDir = join(dir, 'state');
  const store = new FilesystemCertificateStore({ stateDir, logger: silentLogger });
  const site = await store.save('site', makeTestBundle({ domains: ['site.example.test', 'www.site.example.test'], days: 90 }));
  const short = await store.save('short', makeTestBundle({ domains: ['short.example.test'], days: 6, metadata: { profile: 'shortlived' } }));
  // The files deployer really holds site's version (status checks its directory, not only the record).
  const deployed = await runCli(['deploy', 'site', '--config', config]);
  if (deployed.code !== 0) throw new Error(`status fixture: deploy failed: ${deployed.stdout}${deployed.stderr}`);
  const hostileMessage = 'acme: finalize failed: <script>alert("pwned")</script> & <img src=x onerror=alert(1)>';
  await store.saveState('site', {
    failureCount: 1,
    lastAttempt: { at: new Date(now.getTime() - H).toISOString(), result: 'failure', code: 'ERR_ACME_PROBLEM', message: hostileMessage },
    deployments: {
      // Before the failed renewal attempt: the CA's message is the last result, the hook's failure stays on its deployer.
      files: { version: site.version, serialNumber: site.metadata.serialNumber, at: new Date(now.getTime() - 2 * H).toISOString(), result: 'success', message: 'written' },
      reload: { version: site.version, serialNumber: site.metadata.serialNumber, at: new Date(now.getTime() - 2 * H).toISOString(), result: 'failure', message: 'exit 1', code: 'ERR_DEPLOY_HOOK_FAILED' },
    },
  });
  const start = Date.parse(short.metadata.notBefore) + 3 * 24 * H;
  await store.saveState('short', {
    failureCount: 0,
    lastAttempt: { at: short.metadata.issuedAt, result: 'success' },
    ari: {
      certId: short.metadata.ariCertId,
      windowStart: new Date(start).toISOString(),
      windowEnd: new Date(start + 3.2 * H).toISOString(),
      selectedTime: new Date(start + H).toISOString(),
      fetchedAt: now.toISOString(),
      nextFetchAt: new Date(now.getTime() + 6 * H).toISOString(),
    },
  });
  return { config, stateDir, hostileMessage };
}
