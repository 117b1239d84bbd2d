// Crash safety of FilesystemCertificateStore.save: a child process is SIGKILLed before each durable
// step of a save in turn; whatever step it dies at, a fresh store must load one complete set.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import type { CertificateBundle, StoredCertificate } from '../certificate-store.js';
import { makeTestBundle } from '../../testing/certificate-fixtures.js';
import { FilesystemCertificateStore } from './filesystem-certificate-store.js';

const CHILD = fileURLToPath(new URL('./fixtures/crash-child.js', import.meta.url));
const NAME = 'site.example';

interface ChildResult {
  status: number | null;
  signal: NodeJS.Signals | null;
  steps: string[] | undefined;
  stderr: string;
}

function runChild(input: { stateDir: string; bundlesFile: string; killAt: number; saveFirst: boolean }): ChildResult {
  const res = spawnSync(process.execPath, [CHILD], { input: JSON.stringify(input), encoding: 'utf8', timeout: 60_000 });
  let steps: string[] | undefined;
  if (res.status === 0) steps = JSON.parse(res.stdout) as string[];
  return { status: res.status, signal: res.signal, steps, stderr: res.stderr };
}

/** What a web server would read: the four files through `live/<name>/`. */
function readThroughLive(stateDir: string): Record<'cert' | 'chain' | 'fullchain' | 'privkey', string> {
  const dir = join(stateDir, 'live', NAME);
  return {
    cert: readFileSync(join(dir, 'cert.pem'), 'utf8'),
    chain: readFileSync(join(dir, 'chain.pem'), 'utf8'),
    fullchain: readFileSync(join(dir, 'fullchain.pem'), 'utf8'),
    privkey: readFileSync(join(dir, 'privkey.pem'), 'utf8'),
  };
}

/** Which bundle `loaded` is, asserting it is that bundle in every file (and its metadata when `withMeta`). */
function identify(loaded: StoredCertificate | undefined, candidates: Record<string, CertificateBundle>, withMeta: Record<string, boolean>): string {
  assert.ok(loaded, 'load() returned undefined after a crash');
  const which = Object.keys(candidates).find((k) => candidates[k]?.certPem === loaded.certPem);
  assert.ok(which, 'the loaded certificate is none of the saved versions');
  const expected = candidates[which] as CertificateBundle;
  assert.equal(loaded.chainPem, expected.chainPem, `${which}: chain is from another version`);
  assert.equal(loaded.fullchainPem, expected.fullchainPem, `${which}: fullchain is from another version`);
  assert.equal(loaded.privateKeyPem, expected.privateKeyPem, `${which}: private key is from another version`);
  if (withMeta[which]) assert.deepEqual(loaded.metadata, expected.metadata, `${which}: metadata is from another version`);
  else assert.equal(loaded.metadata.serialNumber, new X509Certificate(expected.certPem).serialNumber.toLowerCase());
  assert.ok(new X509Certificate(loaded.certPem).checkPrivateKey(createPrivateKey(loaded.privateKeyPem)), `${which}: key does not match certificate`);
  return which;
}

/** Lays out a certbot-style `live/<name>/` directory of links to `archive/<name>/…1.pem`. */
function makeCertbotLayout(stateDir: string, bundle: CertificateBundle): void {
  const archive = join(stateDir, 'archive', NAME);
  const live = join(stateDir, 'live', NAME);
  mkdirSync(archive, { recursive: true, mode: 0o700 });
  mkdirSync(live, { recursive: true, mode: 0o700 });
  const files = { cert: bundle.certPem, chain: bundle.chainPem, fullchain: bundle.fullchainPem, privkey: bundle.privateKeyPem };
  for (const [file, pem] of Object.entries(files)) {
    writeFileSync(join(archive, `${file}1.pem`), pem, { mode: file === 'privkey' ? 0o600 : 0o644 });
    symlinkSync(`../../archive/${NAME}/${file}1.pem`, join(live, `${file}.pem`));
  }
}

describe('FilesystemCertificateStore crash safety (SIGKILL at every step of a save)', () => {
  let root: string;
  let bundlesFile: string;
  let v1: CertificateBundle;
  let v2: CertificateBundle;
  let v3: CertificateBundle;

  before(() => {
    root = mkdtempSync(join(tmpdir(), 'certpilot-crash-'));
    v1 = makeTestBundle({ domains: ['site.example', 'www.site.example'] });
    v2 = makeTestBundle({ domains: ['site.example'], keyType: 'ec-p384', metadata: { profile: 'shortlived' } });
    v3 = makeTestBundle({ domains: ['site.example'] });
    bundlesFile = join(root, 'bundles.json');
    writeFileSync(bundlesFile, JSON.stringify({ v1, v2 }), { mode: 0o600 });
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  for (const mode of ['after a certpilot save', 'over a certbot directory'] as const) {
    it(`leaves v1 or v2 live, never a mix, ${mode}`, async () => {
      const legacy = mode === 'over a certbot directory';
      const prepare = (stateDir: string): void => {
        if (legacy) makeCertbotLayout(stateDir, v1);
      };

      // A run without a kill lists the steps of one save.
      const dryDir = join(root, `${legacy ? 'legacy' : 'plain'}-dry`);
      prepare(dryDir);
      const dry = runChild({ stateDir: dryDir, bundlesFile, killAt: -1, saveFirst: !legacy });
      assert.equal(dry.status, 0, `dry run failed: ${dry.stderr}`);
      const steps = dry.steps ?? [];
      const switchStep = steps.indexOf(`rename live/${NAME}`);
      assert.ok(switchStep > 0, `the save has a switch step: ${steps.join(', ')}`);
      assert.ok(steps.length > 20, `expected every durable step to be hooked, got ${steps.length}`);

      const outcomes: string[] = [];
      for (let k = 0; k <= steps.length; k++) {
        const stateDir = join(root, `${legacy ? 'legacy' : 'plain'}-${k}`);
        prepare(stateDir);
        const child = runChild({ stateDir, bundlesFile, killAt: k, saveFirst: !legacy });
        if (k < steps.length) assert.equal(child.signal, 'SIGKILL', `k=${k} (${steps[k]}): child was not killed: ${child.stderr}`);
        else assert.equal(child.status, 0, `k=${k}: child failed: ${child.stderr}`);

        const store = new FilesystemCertificateStore({ stateDir });
        const loaded = await store.load(NAME);
        const which = identify(loaded, { v1, v2 }, { v1: !legacy, v2: true });
        outcomes.push(which);
        // What a server reads through live/<name>/ is the same complete set.
        const served = readThroughLive(stateDir);
        assert.deepEqual(served, { cert: loaded?.certPem, chain: loaded?.chainPem, fullchain: loaded?.fullchainPem, privkey: loaded?.privateKeyPem }, `k=${k}`);
        assert.deepEqual(await store.list(), [NAME], `k=${k}: list`);

        // The next save works over whatever the crash left, and becomes live.
        const next = await store.save(NAME, v3);
        assert.ok(next.version > (loaded?.version ?? 0), `k=${k}: version ${next.version} after ${loaded?.version}`);
        const reloaded = await new FilesystemCertificateStore({ stateDir }).load(NAME);
        assert.equal(identify(reloaded, { v3 }, { v3: true }), 'v3', `k=${k}`);
        assert.equal(reloaded?.version, next.version);
        assert.equal(readThroughLive(stateDir).fullchain, v3.fullchainPem, `k=${k}: served after the next save`);
        const leftovers = readdirSync(join(stateDir, 'live')).filter((e) => e !== NAME && e !== `.${NAME}.v${next.version}`);
        assert.deepEqual(leftovers, [], `k=${k}: leftovers in live/`);
        assert.deepEqual(readdirSync(join(stateDir, 'archive', NAME)).filter((e) => e.startsWith('.')), [], `k=${k}: temp files in archive/`);
        rmSync(stateDir, { recursive: true, force: true });
      }

      // One switch point: the old set up to and including a kill before the rename, the new one after.
      const expected = steps.map((_, k) => (k <= switchStep ? 'v1' : 'v2')).concat('v2');
      assert.deepEqual(outcomes, expected, `outcome per step: ${steps.map((s, k) => `${k}:${s}=${outcomes[k]}`).join(', ')}`);
      assert.ok(outcomes.includes('v1') && outcomes.at(-1) === 'v2');
    });
  }
});
