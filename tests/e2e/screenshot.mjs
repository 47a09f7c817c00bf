// Saves docs/screenshot.png: the page classifying the fake webcam (desktop layout),
// docs/screenshot-phone.png (phone layout) and docs/screenshot-teach.png (Teach mode with two
// classes captured from the webcam). Run with the server up: node tests/e2e/screenshot.mjs

import { mkdirSync } from 'node:fs';
import { launch, openPage } from './support/browser.mjs';
import { waitReady, waitFrames } from './support/page.mjs';

const docs = new URL('../../docs/', import.meta.url);
mkdirSync(docs, { recursive: true });
const query = process.env.SHUFFLENET_SHOT_QUERY ?? 'width=0.5';

const browser = await launch({ camera: 'fake' });
try {
  for (const [file, viewport] of [
    ['screenshot.png', { width: 1280, height: 800 }],
    ['screenshot-phone.png', { width: 390, height: 844 }],
  ]) {
    const { context, page } = await openPage(browser, query, { viewport });
    await waitReady(page);
    await waitFrames(page, 4, { from: 0, timeout: 300_000 });
    await page.click('.model-info summary');
    await page.waitForTimeout(500); // let the bar transitions settle
    await page.screenshot({ path: new URL(file, docs).pathname, fullPage: true });
    await context.close();
    console.log(`wrote docs/${file}`);
  }

  // Teach mode: two classes captured from the fake webcam, trained, predicting live.
  const { context, page } = await openPage(browser, `${query}&teach=1`, { viewport: { width: 1280, height: 1000 } });
  await waitReady(page);
  await waitFrames(page, 2, { timeout: 300_000 });
  for (const [i, name] of ['bright disc', 'gradient'].entries()) {
    await page.locator('.teach-name').nth(i).fill(name);
    await page.locator('[data-testid="teach-capture"]').nth(i).hover();
    await page.mouse.down();
    await page.waitForFunction(
      (n) => Number(document.querySelectorAll('[data-testid="teach-count"]')[n].dataset.count) >= 8,
      i,
      { timeout: 300_000 },
    );
    await page.mouse.up();
  }
  await page.waitForFunction(() => document.body.dataset.taught === 'true', null, { timeout: 300_000 });
  await waitFrames(page, 3, { timeout: 300_000 });
  await page.evaluate(() => /** @type {HTMLElement} */ (document.activeElement)?.blur());
  await page.waitForTimeout(500);
  await page.screenshot({ path: new URL('screenshot-teach.png', docs).pathname, fullPage: true });
  await context.close();
  console.log('wrote docs/screenshot-teach.png');
} finally {
  await browser.close();
}
