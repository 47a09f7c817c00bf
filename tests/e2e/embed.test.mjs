// examples/embed: a page using only the npm package's public API loads weights and classifies
// a chosen picture.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withBrowserPage, BASE_URL } from './support/browser.mjs';
import { testImageBmp } from './support/page.mjs';

test('the embed example loads the package and shows a prediction', { timeout: 300_000 }, () =>
  withBrowserPage('denied', '', async (page) => {
    await page.waitForFunction(() => /^Ready/.test(document.getElementById('status').textContent), null, { timeout: 120_000 });
    assert.equal(await page.$eval('#progress', (p) => p.value), 1, 'the progress bar reached the end');
    await page.setInputFiles('#file', { name: 'test.bmp', mimeType: 'image/bmp', buffer: testImageBmp() });
    await page.waitForFunction(() => /^Classified/.test(document.getElementById('status').textContent), null, { timeout: 120_000 });
    const rows = await page.$$eval('#top li', (li) => li.map((e) => e.textContent));
    assert.equal(rows.length, 3, `three classes shown: ${rows}`);
    for (const row of rows) assert.match(row, /^\S.* \d+\.\d%$/);
  }, {}, { base: new URL('examples/embed/', BASE_URL).href }));
