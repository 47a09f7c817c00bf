// Where a camera frame's time goes (issue 21): the page measures capture, preprocessing,
// inference, transfer and result, and draw, and shows them under "Model" as running means.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { browserForFile, withContextPage } from './support/browser.mjs';
import { waitReady, waitFrames } from './support/page.mjs';

const LONG = { timeout: 300_000 };
const browser = browserForFile({ camera: 'fake', webgpu: false });

test('the Model details split a camera frame into its parts', LONG, () =>
  withContextPage(browser(), 'width=0.5&backend=cpu', async ({ page }) => {
    await waitReady(page);
    await waitFrames(page, 30, { from: 0 });
    await page.click('details.model-info summary');
    const parts = await page.$$eval('#frame-split dd', (dds) =>
      Object.fromEntries(dds.map((d) => [d.dataset.part, parseFloat(d.textContent)])),
    );
    assert.deepEqual(Object.keys(parts), ['capture', 'preprocessing', 'inference', 'transfer', 'draw', 'frame']);
    for (const [k, ms] of Object.entries(parts)) assert.ok(Number.isFinite(ms) && ms >= 0, `${k}: ${ms} ms`);
    assert.ok(parts.inference > 0, `inference took time: ${parts.inference}`);
    assert.ok(await page.isVisible('#frame-split'), 'shown under Model');
    // The worker runs a frame's preprocessing and inference one after the other, and one
    // frame at a time: together no longer than a frame (running means of different samples,
    // hence the margin). Transfer, capture and draw overlap the next frame's work: the main
    // thread may pick a result up late while the worker already runs the next frame.
    const engine = parts.preprocessing + parts.inference;
    assert.ok(engine <= parts.frame * 1.25, `engine ${engine.toFixed(2)} ms within a frame of ${parts.frame} ms`);
    // The engine read the fake camera's frames as they come (I420), not through a canvas.
    assert.equal(await page.evaluate(() => window.shufflenet.cameraRead), 'I420', 'camera frames read as YUV');
    // The page sends the next frame while the engine runs one, and never more than that.
    assert.equal(await page.evaluate(() => window.shufflenet.mostInFlight), 2, 'two frames in flight at most');
  }));

test('on the main thread (?worker=0) the page classifies one frame at a time', LONG, () =>
  withContextPage(browser(), 'width=0.5&backend=cpu&worker=0', async ({ page }) => {
    await waitReady(page);
    await waitFrames(page, 6, { from: 0 });
    assert.equal(await page.evaluate(() => window.shufflenet.inWorker), false);
    assert.equal(await page.evaluate(() => window.shufflenet.mostInFlight), 1, 'the engine blocks the page');
  }));
