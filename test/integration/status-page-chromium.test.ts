/// <reference lib="dom" />
// The status page in real headless Chromium (Debian's `chromium`, driven by puppeteer-core over the
// DevTools protocol; no browser download): `certpilot status --html` for a state with a 90-day
// certificate (a failed hook, a CA error with markup in it), a 6-day one with an ARI window and
// one never issued; then the same renderer with a hostile certificate name. A screenshot is saved
// in the test's temp dir; the console stays clean; rows, bars and deployers are read from the DOM.
import assert from 'node:assert/strict';
import { mkdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { loadConfig } from '../../src/config/load-config.js';
import { silentLogger } from '../../src/logger.js';
import { renderStatusPage } from '../../src/notify/status-page.js';
import { buildStatusSnapshot } from '../../src/renewal/status.js';
import { FilesystemCertificateStore } from '../../src/storage/filesystem/filesystem-certificate-store.js';
import { runCli, tempDir } from '../harness/certpilot.js';
import { requireServer } from '../harness/servers.js';
import { makeStatusFixture } from '../harness/status-fixture.js';

const CHROMIUM = '/usr/bin/chromium';
const HOSTILE_NAME = '<img src=x onerror=alert(1)>"><script>alert(2)</script>';

async function launch(dir: string): Promise<Browser> {
  const profile = join(dir, 'chromium-profile');
  await mkdir(profile);
  return puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    userDataDir: profile,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/** Opens `file`, collecting console errors and page errors. */
async function open(browser: Browser, file: string): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage();
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('dialog', (d) => {
    errors.push(`dialog: ${d.message()}`);
    void d.dismiss();
  });
  await page.setViewport({ width: 1400, height: 900 });
  await page.goto(pathToFileURL(file).href, { waitUntil: 'load' });
  return { page, errors };
}

test('the status page in headless Chromium: rows, timeline bars, deployers, escaped values, no console errors', { timeout: 120_000 }, async (t) => {
  if (!requireServer(t, CHROMIUM, 'Debian package `chromium`')) return;
  const dir = await tempDir();
  const fixture = await makeStatusFixture(dir);
  const pageFile = join(dir, 'status.html');
  const written = await runCli(['status', '--config', fixture.config, '--html', pageFile]);
  assert.equal(written.code, 0, written.stdout + written.stderr);

  const browser = await launch(dir);
  t.after(() => browser.close());
  const { page, errors } = await open(browser, pageFile);
  const screenshot = join(dir, 'status.png');
  await page.screenshot({ path: screenshot, fullPage: true });
  assert.ok((await stat(screenshot)).size > 10_000, 'a real screenshot');

  const rows = await page.$$eval('tr.cert', (trs) => trs.map((tr) => (tr as HTMLElement).dataset.name));
  assert.deepEqual(rows, ['site', 'short', 'pending']);
  // Nothing executable on the page: no script element, no image, no inline handler.
  assert.equal(await page.$$eval('script, img, iframe, [onerror], [onload]', (els) => els.length), 0);
  assert.deepEqual(errors, [], 'no console errors');

  const geometry = await page.$eval('tr.cert[data-name="short"] .bar', (bar) => {
    const box = (sel: string): { left: number; right: number; width: number } | undefined => {
      const r = bar.querySelector(sel)?.getBoundingClientRect();
      return r ? { left: r.left, right: r.right, width: r.width } : undefined;
    };
    const b = bar.getBoundingClientRect();
    return { bar: { left: b.left, right: b.right, width: b.width }, ari: box('.ari-window'), next: box('.next-renewal'), now: box('.now') };
  });
  assert.ok(geometry.ari && geometry.next && geometry.now, 'ARI window, next renewal and now are drawn');
  assert.ok(geometry.bar.width > 100);
  // Issued just now for 6 days, window opening on day 3: "now" at the left, the window near the middle.
  assert.ok(geometry.now.left - geometry.bar.left < geometry.bar.width * 0.05, `now is at the start: ${JSON.stringify(geometry)}`);
  const mid = (geometry.ari.left + geometry.ari.right) / 2 - geometry.bar.left;
  assert.ok(mid > geometry.bar.width * 0.45 && mid < geometry.bar.width * 0.6, `ARI window in the middle (${mid} of ${geometry.bar.width})`);
  assert.ok(geometry.next.left >= geometry.ari.left && geometry.next.left <= geometry.ari.right, 'the chosen time is inside the window');
  assert.ok(geometry.ari.width >= 1, 'the window is visible');

  const site = await page.$eval('tr.cert[data-name="site"]', (tr) => ({
    text: (tr as HTMLElement).innerText,
    deployers: Array.from(tr.querySelectorAll('li.deployer')).map((li) => `${(li as HTMLElement).dataset.deployer}:${li.className.replace('deployer ', '')}`),
    lastFailed: tr.querySelector('.result.failed') !== null,
  }));
  assert.deepEqual(site.deployers, ['files:current', 'reload:failed']);
  assert.ok(site.lastFailed);
  assert.ok(site.text.includes(fixture.hostileMessage), 'the CA\'s message is shown as text, markup and all');
  assert.equal(await page.$eval('tr.cert[data-name="pending"] .bar', (b) => b.classList.contains('empty')), true);
  assert.doesNotMatch(await page.content(), /PRIVATE KEY/);

  // The same renderer with a hostile certificate name (from a stored directory or a future API).
  const config = await loadConfig({ file: fixture.config, env: {}, cwd: dir });
  const snapshot = await buildStatusSnapshot({ config, store: new FilesystemCertificateStore({ stateDir: fixture.stateDir, logger: silentLogger }), now: new Date() });
  const short = snapshot.certificates.find((c) => c.name === 'short');
  assert.ok(short);
  const hostileFile = join(dir, 'hostile.html');
  await writeFile(hostileFile, renderStatusPage({ ...snapshot, certificates: [{ ...short, name: HOSTILE_NAME, domains: [HOSTILE_NAME] }] }));
  const hostile = await open(browser, hostileFile);
  assert.deepEqual(await hostile.page.$$eval('tr.cert', (trs) => trs.map((tr) => (tr as HTMLElement).dataset.name)), [HOSTILE_NAME]);
  assert.equal(await hostile.page.$$eval('script, img, [onerror]', (els) => els.length), 0);
  assert.ok((await hostile.page.$eval('tr.cert th', (th) => (th as HTMLElement).innerText)).includes(HOSTILE_NAME), 'shown as text');
  await hostile.page.screenshot({ path: join(dir, 'hostile.png') });
  assert.deepEqual(hostile.errors, []);
});
