// Crash safety of FilesDeployer: a child process is SIGKILLed before each durable step of a deploy
// in turn; whatever step it dies at, what a consumer reads is one complete version (atomic layout),
// and the next deploy completes over whatever the crash left.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { before, describe, it } from 'node:test';
import type { CertificateBundle } from '../../storage/certificate-store.js';
import { makeTestBundle } from '../../testing/certificate-fixtures.js';
import { tempDir } from '../../testing/temp-dir.js';
import { FilesDeployer, MARKER, fileSet, renderFile } from './files-deployer.js';

const CHILD = fileURLToPath(new URL('./fixtures/crash-child.js', import.meta.url));
const FILES = fileSet({ bundle: 'cert-chain-key' });

function runChild(input: { dir: string; bundlesFile: string; killAt: number; layout: 'atomic' | 'plain'; first: boolean }): { status: number | null; signal: NodeJS.Signals | null; steps: string[]; stderr: string } {
  const res = spawnSync(process.execPath, [CHILD], { input: JSON.stringify(input), encoding: 'utf8', timeout: 60_000 });
  return { status: res.status, signal: res.signal, steps: res.status === 0 ? (JSON.parse(res.stdout) as string[]) : [], stderr: res.stderr };
}

/** What a consumer reads: each visible file, or undefined when absent. */
function visible(dir: string): Record<string, string | undefined> {
  return Object.fromEntries(FILES.map((f) => [f.name, existsSync(join(dir, f.name)) ? readFileSync(join(dir, f.name), 'utf8') : undefined]));
}

/** Which version each visible file holds ('v1', 'v2', or 'absent'); throws on a torn or foreign file. */
function versionsOf(dir: string, bundles: Record<string, CertificateBundle>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, content] of Object.entries(visible(dir))) {
    if (content === undefined) {
      out[name] = 'absent';
      continue;
    }
    const spec = FILES.find((f) => f.name === name);
    const which = Object.keys(bundles).find((k) => renderFile(spec?.parts ?? [], bundles[k] as CertificateBundle).toString('utf8') === content);
    assert.ok(which, `${name} is neither version (torn?)`);
    out[name] = which;
  }
  return out;
}

describe('FilesDeployer crash safety (SIGKILL at every step of a deploy)', () => {
  let root: string;
  let bundlesFile: string;
  let bundles: { v1: CertificateBundle; v2: CertificateBundle; v3: CertificateBundle };

  before(async () => {
    root = await tempDir('certpilot-files-crash-');
    bundles = { v1: makeTestBundle({ domains: ['crash.test'] }), v2: makeTestBundle({ domains: ['crash.test'], keyType: 'ec-p384' }), v3: makeTestBundle({ domains: ['crash.test'] }) };
    bundlesFile = join(root, 'bundles.json');
    writeFileSync(bundlesFile, JSON.stringify({ v1: bundles.v1, v2: bundles.v2 }), { mode: 0o600 });
  });

  const cases = [
    { layout: 'atomic', first: false, title: 'atomic layout, an update: v1 or v2 everywhere, switching at the rename of ..data' },
    { layout: 'atomic', first: true, title: 'atomic layout, the first deploy: every file present is v1' },
    { layout: 'plain', first: false, title: 'plain layout: every file whole (a mix only inside the rename burst)' },
  ] as const;

  for (const c of cases) {
    it(c.title, { timeout: 120_000 }, async () => {
      const name = `${c.layout}-${c.first ? 'first' : 'update'}`;
      const dryDir = join(root, `${name}-dry`);
      mkdirSync(dryDir);
      const dry = runChild({ dir: dryDir, bundlesFile, killAt: -1, layout: c.layout, first: c.first });
      assert.equal(dry.status, 0, `dry run failed: ${dry.stderr}`);
      const steps = dry.steps;
      assert.ok(steps.length >= 12, `every durable step is hooked: ${steps.join(', ')}`);
      const switchStep = steps.indexOf('rename ..data');
      if (c.layout === 'atomic') assert.ok(switchStep > 8, `the switch comes after the files: ${steps.join(', ')}`);

      const outcomes: string[] = [];
      // A first deploy is the update's steps plus the links: before its switch nothing is visible, so
      // its kills start right before the rename of ..data.
      for (let k = c.first ? switchStep : 0; k <= steps.length; k++) {
        const dir = join(root, `${name}-${k}`);
        mkdirSync(dir);
        const child = runChild({ dir, bundlesFile, killAt: k, layout: c.layout, first: c.first });
        if (k < steps.length) assert.equal(child.signal, 'SIGKILL', `k=${k} (${steps[k]}): not killed: ${child.stderr}`);
        else assert.equal(child.status, 0, `k=${k}: ${child.stderr}`);

        const seen = versionsOf(dir, bundles);
        const kinds = new Set(Object.values(seen));
        if (c.layout === 'atomic') {
          // One version throughout: never a key of one with a certificate of the other.
          assert.ok(kinds.size === 1 || (c.first && !kinds.has('v2')), `k=${k} (${steps[k] ?? 'done'}): mixed set ${JSON.stringify(seen)}`);
          outcomes.push(kinds.size === 1 ? [...kinds][0] as string : 'partial-v1');
        } else {
          outcomes.push([...kinds].sort().join('+'));
        }
        const present = visible(dir);
        if (present['privkey.pem'] && present['cert.pem'] && c.layout === 'atomic') {
          assert.ok(new X509Certificate(present['cert.pem']).checkPrivateKey(createPrivateKey(present['privkey.pem'])), `k=${k}: key does not match certificate`);
        }

        // The next deploy works over whatever the crash left, and cleans it up.
        await nextDeployCompletes(dir, bundles.v3, k, c.layout);
      }
      if (c.layout === 'atomic' && !c.first) {
        const expected = steps.map((_, k) => (k <= switchStep ? 'v1' : 'v2')).concat('v2');
        assert.deepEqual(outcomes, expected, `outcome per step: ${steps.map((s, k) => `${k}:${s}=${outcomes[k]}`).join(', ')}`);
      }
      if (c.first) assert.equal(outcomes.at(-1), 'v1');
      if (c.layout === 'plain') {
        assert.equal(outcomes[0], 'v1');
        assert.equal(outcomes.at(-1), 'v2');
      }
    });
  }

  /** Deploys `bundle` as version 3 over whatever the crash left; checks the result and the clean-up. */
  async function nextDeployCompletes(dir: string, bundle: CertificateBundle, k: number, layout: 'atomic' | 'plain'): Promise<void> {
    const next = new FilesDeployer({ id: 'volume', dir, layout, files: FILES });
    await next.deploy({ ...bundle, name: 'crash', version: 3, paths: { dir: '/unused', cert: '', chain: '', fullchain: '', privkey: '' } });
    assert.deepEqual(new Set(Object.values(versionsOf(dir, { v3: bundle }))), new Set(['v3']), `k=${k}: after the next deploy`);
    const entries = readdirSync(dir);
    const names = FILES.map((f) => f.name);
    if (layout === 'atomic') {
      const versions = entries.filter((e) => e.startsWith('..') && e !== '..data' && e !== MARKER);
      assert.equal(versions.length, 1, `k=${k}: one version directory left, got ${versions.join(', ')}`);
      assert.deepEqual(entries.sort(), ['..data', MARKER, ...versions, ...names].sort(), `k=${k}: leftovers`);
    } else {
      assert.deepEqual(entries.sort(), [MARKER, ...names].sort(), `k=${k}: leftovers`);
      for (const n of names) assert.ok(lstatSync(join(dir, n)).isFile());
    }
    rmSync(dir, { recursive: true, force: true });
  }
});
