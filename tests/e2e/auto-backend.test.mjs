// `auto` chooses by measurement: on SwiftShader (a software WebGPU adapter, far slower than the
// CPU) the page classifies on the CPU first, times WebGPU beside it, stays on the CPU and says
// why, and a second visit remembers; `?backend=webgpu` stays on WebGPU.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { browserForFile, withContextPage, BASE_URL } from './support/browser.mjs';
import { waitReady, waitFrames, backend } from './support/page.mjs';

const LONG = { timeout: 300_000 };
const WHY = /^CPU · [\d.]+ ms here vs WebGPU [\d,.]+ ms/;
const browser = browserForFile({ camera: 'fake' });

const note = (page) => page.$eval('[data-testid="backend-note"]', (n) => (n.hidden ? '' : n.textContent));

test('auto on a software adapter: the CPU first, WebGPU measured, the CPU kept, and why', LONG, () =>
  withContextPage(browser(), 'width=0.5', async ({ context, page, logs }) => {
    await waitReady(page);
    await waitFrames(page, 1, { from: 0 });
    assert.equal((await backend(page)).kind, 'cpu', 'the first prediction comes from the CPU');
    await page.waitForFunction((re) => new RegExp(re).test(document.getElementById('backend-note').textContent),
      WHY.source, { timeout: 240_000 });
    assert.match(await note(page), WHY, logs.join('\n'));
    assert.equal((await backend(page)).kind, 'cpu');
    const after = await waitFrames(page, 2);
    assert.ok(after > 0);

    // A return visit starts on the remembered winner without measuring again.
    const again = await context.newPage();
    await again.goto(new URL('?width=0.5', BASE_URL).href);
    await waitReady(again);
    await again.waitForFunction(() => /measured before/.test(document.getElementById('backend-note').textContent),
      null, { timeout: 30_000 });
    assert.equal((await backend(again)).kind, 'cpu');
  }));

test('?backend=webgpu stays on WebGPU, however slow', LONG, () =>
  withContextPage(browser(), 'width=0.5&backend=webgpu', async ({ page }) => {
    await waitReady(page, 240_000);
    await waitFrames(page, 3, { timeout: 240_000 });
    assert.equal((await backend(page)).kind, 'gpu');
    assert.doesNotMatch(await note(page), WHY);
  }));
