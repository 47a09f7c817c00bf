// `./run.sh --export DIR` on a host that sends no headers at all (`python3 -m http.server`): the
// page classifies, becomes cross-origin isolated after the service worker's one reload and runs
// the CPU on two threads; then, offline, a reload still classifies.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportSite } from '../../tools/export.mjs';
import { launch } from './support/browser.mjs';
import { freePort } from './support/server.mjs';
import { waitReady, waitFrames, backend, predictions, testImageBmp } from './support/page.mjs';

const LONG = { timeout: 300_000 };
let dir;
let host;
let browser;
let base;

before(async () => {
  assert.ok(process.env.WEIGHTS_DIR, 'WEIGHTS_DIR names the weights the page server uses');
  dir = mkdtempSync(join(tmpdir(), 'export-test-'));
  exportSite(dir, process.env.WEIGHTS_DIR);
  const port = await freePort();
  host = spawn('python3', ['-m', 'http.server', String(port), '--bind', '127.0.0.1', '--directory', dir], { stdio: 'ignore' });
  base = `http://127.0.0.1:${port}/`;
  for (let i = 0; i < 100 && !(await fetch(base).then((r) => r.ok, () => false)); i++) {
    await new Promise((r) => setTimeout(r, 100));
  }
  browser = await launch({ camera: 'fake', webgpu: false });
});

after(async () => {
  await browser?.close();
  host?.kill();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('the exported folder: hash-named weights, precompressed files, a _headers file', () => {
  const manifest = JSON.parse(readFileSync(join(dir, 'weights/manifest.json'), 'utf8'));
  for (const [width, entry] of Object.entries(manifest.widths)) {
    assert.match(entry.url, /^weights\/shufflenetv2_x[\d.]+-[0-9a-f]{16}\.safetensors$/, width);
    assert.ok(entry.sha256.startsWith(entry.url.match(/-([0-9a-f]{16})\./)[1]), width);
    assert.ok(existsSync(join(dir, entry.url)), entry.url);
  }
  for (const f of ['pkg/shufflenet_web_bg.wasm.br', 'pkg/shufflenet_web.js.gz', 'www/app.js.br', 'index.html', 'sw.js', 'examples/embed/embed.js']) {
    assert.ok(existsSync(join(dir, f)), f);
  }
  assert.ok(!existsSync(join(dir, 'pkg/package.json')), 'only what runs is exported');
  // builds.json names the exported builds by content (the page's `?v=`).
  const builds = JSON.parse(readFileSync(join(dir, 'builds.json'), 'utf8'));
  for (const pkg of ['pkg', 'pkg-threads', 'pkg-threads-relaxed', 'pkg-relaxed']) {
    for (const file of ['shufflenet_web.js', 'shufflenet_web_bg.wasm']) {
      const sha256 = createHash('sha256').update(readFileSync(join(dir, pkg, file))).digest('hex');
      assert.equal(builds[pkg]?.[file], sha256, `${pkg}/${file}`);
    }
  }
  for (const pkg of ['pkg-threads', 'pkg-threads-relaxed']) {
    assert.match(readFileSync(join(dir, pkg, 'shufflenet_web.js'), 'utf8'), /\/worker\.js\?v=[0-9a-f]{16}'/);
  }
  assert.match(readFileSync(join(dir, '_headers'), 'utf8'), /Cross-Origin-Embedder-Policy: require-corp/);
});

test('no headers from the host: isolated after one reload, two CPU threads, then offline', LONG, async () => {
  const context = await browser.newContext({ serviceWorkers: 'allow' });
  const page = await context.newPage();
  const logs = [];
  page.on('console', (m) => logs.push(`[${m.type()}] ${m.text()}`));
  page.on('pageerror', (e) => logs.push(`[pageerror] ${e.message}`));
  try {
    await page.goto(`${base}?width=0.5&backend=cpu&threads=2`);
    await page.waitForFunction(() => crossOriginIsolated, null, { timeout: 60_000 });
    await waitReady(page);
    await waitFrames(page, 2);
    const badge = await backend(page);
    assert.equal(badge.kind, 'cpu', logs.join('\n'));
    assert.match(badge.text, / x2$/, `two CPU threads: ${badge.text}\n${logs.join('\n')}`);

    // Offline: the shell from the service worker's cache, the weights from the engine's.
    await context.setOffline(true);
    await page.reload();
    await waitReady(page);
    const from = await waitFrames(page, 0);
    await page.setInputFiles('#upload', { name: 'disc.bmp', mimeType: 'image/bmp', buffer: testImageBmp() });
    await waitFrames(page, 1, { from });
    assert.equal((await predictions(page)).length, 5, logs.join('\n'));
    assert.equal(await page.evaluate(() => crossOriginIsolated), true);
    // The service worker keeps one copy of each build file, whatever its `?v=`.
    const kept = await page.evaluate(async () => (await (await caches.open('shufflenet-shell-v1')).keys()).map((r) => r.url));
    // Chromium has relaxed SIMD: the threads run pkg-threads-relaxed/.
    assert.ok(kept.includes(`${base}pkg-threads-relaxed/shufflenet_web_bg.wasm`), kept.join('\n'));
    assert.deepEqual(kept.filter((url) => /[?&]v=/.test(url)), []);
  } finally {
    await context.close();
  }
});

test('the embed example works from the exported folder (relative paths only)', LONG, async () => {
  const context = await browser.newContext({ serviceWorkers: 'block' });
  const page = await context.newPage();
  const logs = [];
  page.on('console', (m) => logs.push(`[${m.type()}] ${m.text()}`));
  page.on('pageerror', (e) => logs.push(`[pageerror] ${e.message}`));
  try {
    await page.goto(`${base}examples/embed/`);
    await page.waitForFunction(() => /^Ready/.test(document.getElementById('status').textContent), null, { timeout: 120_000 })
      .catch((err) => assert.fail(`${err.message}\n${logs.join('\n')}`));
    await page.setInputFiles('#file', { name: 'test.bmp', mimeType: 'image/bmp', buffer: testImageBmp() });
    await page.waitForFunction(() => /^Classified/.test(document.getElementById('status').textContent), null, { timeout: 120_000 });
    assert.equal((await page.$$eval('#top li', (li) => li.length)), 3, logs.join('\n'));
  } finally {
    await context.close();
  }
});
