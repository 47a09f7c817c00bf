// Saves docs/screenshot.png: the page classifying the fake webcam (desktop layout), and
// docs/screenshot-phone.png (phone layout). Run with the server up: node tests/e2e/screenshot.mjs

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
} finally {
  await browser.close();
}
