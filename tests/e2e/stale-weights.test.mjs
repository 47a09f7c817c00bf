// Weights replaced on the server by others of the same size (the offline stand-ins swapped for
// trained ones, byte count unchanged) reach a visitor whose Cache API holds the old file: the
// page runs the new weights and drops the "untrained" notice. Runs its own server on a copy of
// the e2e weights so the shared one is never changed under the other tests.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cpSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { launch } from './support/browser.mjs';
import { waitReady, predictions, messageText, testImageBmp } from './support/page.mjs';
import { scratchDir } from './support/scratch.mjs';
import { ROOT, serveWeights } from './support/server.mjs';

const CLI = join(ROOT, 'target/debug/shufflenet');
const PORT = Number(process.env.E2E_PORT ?? 8087) + 3;

/** Drops the test image and returns the top-5 it gets. */
async function classifyImage(page) {
  const dataTransfer = await page.evaluateHandle((b) => {
    const dt = new DataTransfer();
    dt.items.add(new File([new Uint8Array(b)], 'disc.bmp', { type: 'image/bmp' }));
    return dt;
  }, [...testImageBmp()]);
  await page.evaluate(() => delete document.body.dataset.frames);
  await page.dispatchEvent('#dropzone', 'drop', { dataTransfer });
  await page.waitForFunction(() => Number(document.body.dataset.frames ?? 0) >= 1, null, { timeout: 60_000 });
  return predictions(page);
}

test('weights replaced by others of the same size are downloaded again, not served from the cache', { timeout: 300_000 }, async () => {
  const dir = scratchDir('shufflenet-stale');
  const weights = join(dir, 'weights');
  cpSync(process.env.WEIGHTS_DIR ?? join(ROOT, 'target/e2e-weights'), weights, { recursive: true });
  const file = join(weights, 'shufflenetv2_x0.5.safetensors');
  const server = await serveWeights(weights, PORT);
  const browser = await launch({ camera: 'none' });
  try {
    const context = await browser.newContext({ serviceWorkers: 'block' });
    const page = await context.newPage();
    const downloads = [];
    context.on('response', (r) => {
      if (r.request().method() === 'GET' && /x0\.5\.safetensors(\?|$)/.test(r.url()) && r.status() === 200) downloads.push(r.url());
    });
    await page.goto(`${server.base}?width=0.5&backend=cpu&camera=0`);
    await waitReady(page);
    assert.equal(await page.evaluate(() => document.body.dataset.trained), 'false', 'the stand-ins say so');
    const before = await classifyImage(page);
    assert.equal(downloads.length, 1);

    // A reload with nothing changed is served from the cache.
    await page.reload();
    await waitReady(page);
    assert.equal(downloads.length, 1, 'unchanged weights come from the cache');

    // "Trained" weights of the same width, written the way a user installs them.
    const trained = join(dir, 'trained-x0.5.safetensors');
    execFileSync(CLI, ['random', trained, '--width', '0.5', '--seed', '1'], { stdio: 'ignore' });
    const size = statSync(file).size;
    execFileSync(join(ROOT, 'tools/weights.sh'), [CLI, trained], {
      env: { ...process.env, WEIGHTS_DIR: weights, SHUFFLENET_OFFLINE: '1' },
      stdio: 'ignore',
    });
    assert.equal(statSync(file).size, size, 'same size, byte for byte');

    await page.reload();
    await waitReady(page);
    assert.equal(downloads.length, 2, 'the changed file was downloaded again');
    assert.equal(await page.evaluate(() => document.body.dataset.trained), 'true');
    assert.equal(await page.isVisible('[data-testid="untrained"]'), false, 'no "untrained" notice');
    const after = await classifyImage(page);
    assert.notDeepEqual(after, before, 'the new weights classify differently');
    assert.equal(await messageText(page), '');
  } finally {
    await browser.close();
    server.kill();
  }
});
