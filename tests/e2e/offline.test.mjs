// Offline after one visit to the project's own server (./run.sh: isolated by its headers, so
// no service-worker reload). The weights' cache entry is keyed on the server's ETag, which an
// offline HEAD cannot fetch: the engine must find the kept copy that matches the manifest's
// SHA-256 (src/web/load.rs), and the service worker must have kept the shell from the first
// visit alone.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { launch } from './support/browser.mjs';
import { waitReady, waitFrames, predictions, testImageBmp } from './support/page.mjs';
import { ROOT, freePort, serveWeights } from './support/server.mjs';
import { join } from 'node:path';

test('a reload offline after one visit to the project server still classifies', { timeout: 300_000 }, async () => {
  const server = await serveWeights(process.env.WEIGHTS_DIR ?? join(ROOT, 'target/e2e-weights'), await freePort());
  const browser = await launch({ camera: 'fake', webgpu: false });
  const logs = [];
  try {
    const context = await browser.newContext({ serviceWorkers: 'allow' });
    const page = await context.newPage();
    page.on('console', (m) => logs.push(`[${m.type()}] ${m.text()}`));
    page.on('pageerror', (e) => logs.push(`[pageerror] ${e.message}`));
    await page.goto(`${server.base}?width=0.5&backend=cpu`);
    await waitReady(page);
    await waitFrames(page, 1);
    assert.equal(await page.evaluate(() => crossOriginIsolated), true, 'the server sends COOP/COEP');

    await context.setOffline(true);
    await page.reload();
    await waitReady(page).catch((err) => assert.fail(`${err.message}\n${logs.join('\n')}`));
    const from = await waitFrames(page, 0);
    await page.setInputFiles('#upload', { name: 'disc.bmp', mimeType: 'image/bmp', buffer: testImageBmp() });
    await waitFrames(page, 1, { from });
    assert.equal((await predictions(page)).length, 5, logs.join('\n'));
    await context.close();
  } finally {
    await browser.close();
    server.kill();
  }
});
