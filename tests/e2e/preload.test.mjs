// Round trips at start-up (docs/startup.md). index.html preloads every module the page's script
// imports, so a visit fetches them in one round trip rather than one per level of imports; the
// list is written by hand: this keeps it whole, and free of modules nothing imports. The wasm
// builds are loaded by content (`?v=`, builds.json), so a reload takes them from the browser's
// cache without asking the server; without builds.json the page loads the plain URLs.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join, dirname, relative } from 'node:path';
import { startServer } from '../../tools/serve.mjs';
import { launch } from './support/browser.mjs';
import { waitFrames, waitReady } from './support/page.mjs';
import { ROOT } from './support/server.mjs';

const LONG = { timeout: 300_000 };
const WEIGHTS_DIR = process.env.WEIGHTS_DIR ?? join(ROOT, 'target/e2e-weights');
const BUILD = /^\/pkg[^/]*\//;

/** The www/ modules reachable from `entry` through static imports, as paths from the root. */
function graph(entry, seen = new Set()) {
  if (seen.has(entry)) return seen;
  seen.add(entry);
  const source = readFileSync(join(ROOT, entry), 'utf8');
  for (const [, spec] of source.matchAll(/^import\s[^'"]*['"](\.[^'"]+)['"]/gm)) {
    const target = relative(ROOT, join(ROOT, dirname(entry), spec));
    if (target.startsWith('www/')) graph(target, seen);
  }
  return seen;
}

test('index.html preloads exactly the modules the page imports', () => {
  const html = readFileSync(join(ROOT, 'index.html'), 'utf8');
  const preloaded = new Set([...html.matchAll(/<link rel="modulepreload" href="([^"]+)">/g)].map((m) => m[1]));
  const imported = graph('www/app.js');
  assert.ok(imported.size > 5, `found the imports: ${[...imported]}`);
  assert.deepEqual([...preloaded].sort(), [...imported].sort());
});

/** A server of its own whose requests (URL, status, Cache-Control) the test reads. */
async function recordingServer() {
  const server = await startServer({ root: ROOT, mounts: { weights: WEIGHTS_DIR } });
  const seen = [];
  server.server.on('request', (req, res) => {
    res.on('finish', () => seen.push({ url: req.url, status: res.statusCode, cache: String(res.getHeader('Cache-Control')) }));
  });
  return { server, seen };
}

/**
 * Opens the page until it classifies: two CPU threads, on pkg-threads-relaxed/ and its pool
 * workers (Chromium has relaxed SIMD).
 */
async function classify(page, url, logs) {
  await page.goto(url);
  await waitReady(page).catch((err) => assert.fail(`${err.message}\n${logs.join('\n')}`));
  await waitFrames(page, 1, { from: 0 });
}

test('the wasm builds are loaded by content: immutable, and a reload does not ask for them again', LONG, async () => {
  const builds = JSON.parse(readFileSync(join(ROOT, 'builds.json'), 'utf8'));
  const { server, seen } = await recordingServer();
  const browser = await launch({ camera: 'fake', webgpu: false });
  const logs = [];
  try {
    // No routes: Playwright turns the HTTP cache off for a context that has any.
    const context = await browser.newContext({ serviceWorkers: 'block' });
    const page = await context.newPage();
    page.on('console', (m) => logs.push(`[${m.type()}] ${m.text()}`));
    const url = `${server.url}/?width=0.5&backend=cpu&threads=2`;
    await classify(page, url, logs);
    const first = seen.filter((r) => BUILD.test(r.url));
    const wasm = first.find((r) => r.url.startsWith('/pkg-threads-relaxed/shufflenet_web_bg.wasm'));
    const sha256 = builds['pkg-threads-relaxed']['shufflenet_web_bg.wasm'];
    assert.equal(wasm?.url, `/pkg-threads-relaxed/shufflenet_web_bg.wasm?v=${sha256.slice(0, 16)}`, JSON.stringify(first));
    assert.equal(wasm.status, 200);
    assert.match(wasm.cache, /\bimmutable\b/);
    // The module, its snippet (the pool's worker script) too: every build file, by content.
    assert.ok(first.some((r) => r.url.startsWith('/pkg-threads-relaxed/snippets/')), JSON.stringify(first));
    for (const r of first) assert.match(r.cache, /\bimmutable\b/, `${r.url}: ${r.cache}`);

    seen.length = 0;
    await page.reload();
    await waitReady(page);
    await waitFrames(page, 1, { from: 0 });
    assert.ok(seen.some((r) => r.url === '/builds.json'), 'builds.json is asked again (no-cache)');
    assert.deepEqual(seen.filter((r) => BUILD.test(r.url)), [], 'the builds come from the cache');
    assert.match(await page.$eval('[data-testid="backend"]', (b) => b.textContent), /x2/, logs.join('\n'));
    await context.close();
  } finally {
    await browser.close();
    await server.close();
  }
});

test('without builds.json the page loads the plain URLs', LONG, async () => {
  const { server, seen } = await recordingServer();
  const browser = await launch({ camera: 'fake', webgpu: false });
  const logs = [];
  try {
    const context = await browser.newContext({ serviceWorkers: 'block' });
    await context.route('**/builds.json', (route) => route.fulfill({ status: 404, body: 'an old export' }));
    const page = await context.newPage();
    page.on('console', (m) => logs.push(`[${m.type()}] ${m.text()}`));
    await classify(page, `${server.url}/?width=0.5&backend=cpu&threads=2`, logs);
    const files = seen.filter((r) => BUILD.test(r.url)).map((r) => r.url);
    assert.ok(files.includes('/pkg-threads-relaxed/shufflenet_web_bg.wasm'), JSON.stringify(files));
    assert.ok(files.includes('/pkg-threads-relaxed/shufflenet_web.js'), JSON.stringify(files));
    await context.close();
  } finally {
    await browser.close();
    await server.close();
  }
});
