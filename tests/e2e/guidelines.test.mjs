// The Guidelines panel (issue 23): opened and run on the CPU at the paper's x2 widths, it shows
// the paper's four tables, each with its rows, our ratios beside the paper's, and a sentence;
// the camera's frames carry on after. Whether a guideline holds here is a measurement, never asserted.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { browserForFile, withContextPage } from './support/browser.mjs';
import { waitReady, waitFrames } from './support/page.mjs';

const browser = browserForFile({ camera: 'fake', webgpu: false });

test('the Guidelines panel runs the four tables on the CPU', { timeout: 300_000 }, () =>
  withContextPage(browser(), 'width=0.5&backend=cpu', async ({ page, logs }) => {
    await waitReady(page);
    await waitFrames(page, 2);
    assert.equal(await page.$$eval('[data-testid="guideline-table"]', (t) => t.length), 0, 'nothing runs closed');
    await page.click('#guidelines-panel summary');
    // At the paper's x2 widths: the scale travels to the engine and back into the captions.
    await page.selectOption('#guidelines-scale', '2');
    await page.click('#guidelines-cpu');
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="guideline-table"]').length === 4
      || /stopped/.test(document.getElementById('guidelines-status').textContent), null, { timeout: 240_000 });
    const status = await page.$eval('#guidelines-status', (s) => s.textContent);
    assert.match(status, /Measured on the CPU at x2 \(4 tables\)/, logs.join('\n'));
    const tables = await page.$$eval('[data-testid="guideline-table"]', (ts) => ts.map((t) => ({
      caption: t.querySelector('figcaption').textContent,
      rows: [...t.querySelectorAll('[data-testid="guideline-row"]')].map((r) => [...r.querySelectorAll('meter')].map((m) => m.value)),
      verdict: t.querySelector('[data-testid="guideline-verdict"]').textContent,
    })));
    assert.deepEqual(tables.map((t) => t.caption.match(/^Table (\d)/)[1]), ['1', '2', '3', '4']);
    for (const t of tables) {
      assert.match(t.caption, /Snapdragon 810/, 'the CPU is set beside the paper\'s ARM column');
      assert.match(t.caption, /, x2;/, 'measured at the chosen scale');
      assert.ok(t.rows.length >= 4, t.caption);
      assert.deepEqual(t.rows[0], [1, 1], 'the first row is the unit of both columns');
      for (const [ours, paper] of t.rows) assert.ok(ours > 0 && paper > 0, t.caption);
      assert.match(t.verdict, /^G\d (held|did not)/);
    }
    assert.equal(await page.$eval('#guidelines-copy', (b) => b.disabled), false);
    const from = await waitFrames(page, 0);
    await waitFrames(page, 2, { from });
  }));
