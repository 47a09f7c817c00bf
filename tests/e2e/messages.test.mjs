// No address or state leaves the page dead or lying: bad `?width=`/`?backend=` get a message
// and the default; figures are marked stale while a model loads; a still picture shows its
// own time; a file that is not weights is named in plain words. The phone layout: phone.test.mjs.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { browserForFile, withContextPage } from './support/browser.mjs';
import { waitReady, waitFrames, messageText, backend, testImageBmp } from './support/page.mjs';

const LONG = { timeout: 300_000 };
const browser = browserForFile({ camera: 'fake', webgpu: false });

test('?width=3.0 and ?backend=bogus: a message each, and the defaults run', LONG, () =>
  withContextPage(browser(), 'width=3.0&backend=bogus', async ({ page, logs }) => {
    await waitReady(page);
    await waitFrames(page, 2);
    const message = await messageText(page);
    assert.match(message, /\?width=3\.0 is not a published width/, logs.join('\n'));
    assert.match(message, /\?backend=bogus is not one of auto, webgpu, cpu/);
    assert.equal(await page.$eval('#width', (s) => s.value), '1.0', 'x1.0 opened instead');
    assert.equal((await backend(page)).kind, 'cpu', 'the automatic choice runs (no WebGPU here)');
  }));

test('figures are stale while another width loads, and live again after', LONG, () =>
  withContextPage(browser(), 'width=0.5&backend=cpu', async ({ page }) => {
    await waitReady(page);
    await waitFrames(page, 2);
    assert.equal(await page.$eval('#results', (r) => r.dataset.stale ?? null), null);
    // Watch the mark from inside the page: a cached load can be over in a few frames.
    await page.evaluate(() => {
      window.staleSeen = [];
      new MutationObserver(() => window.staleSeen.push(document.getElementById('results').dataset.stale ?? null))
        .observe(document.getElementById('results'), { attributes: true, attributeFilter: ['data-stale'] });
    });
    await page.selectOption('#width', '1.0');
    await page.waitForFunction(() => new URL(location.href).searchParams.get('width') === '1.0', null, { timeout: 120_000 });
    await waitReady(page);
    await page.waitForFunction(() => !document.getElementById('results').dataset.stale, null, { timeout: 30_000 });
    const seen = await page.evaluate(() => window.staleSeen);
    assert.ok(seen.includes('loading a model'), `stale marks seen: ${JSON.stringify(seen)}`);

    await page.click('#pause');
    assert.equal(await page.$eval('#results', (r) => r.dataset.stale), 'paused');
    assert.equal(await page.$eval('[data-testid="stale"]', (e) => e.hidden), false);
    await page.click('#pause');
    assert.equal(await page.$eval('#results', (r) => r.dataset.stale ?? null), null);
  }));

test('a still picture shows its own time, not an fps', LONG, () =>
  withContextPage(browser(), 'width=0.5&backend=cpu', async ({ page }) => {
    await waitReady(page);
    const before = await waitFrames(page, 1);
    await page.setInputFiles('#upload', { name: 'disc.bmp', mimeType: 'image/bmp', buffer: testImageBmp() });
    await page.waitForFunction((n) => Number(document.body.dataset.frames) > n
      && document.getElementById('fps-unit').textContent === '', before, { timeout: 60_000 });
    assert.match(await page.$eval('[data-testid="fps"]', (e) => e.textContent), /^\d+(\.\d+)? ms$/);
  }));

test('a text file dropped as weights: a plain sentence, the bytes folded away', LONG, () =>
  withContextPage(browser(), 'width=0.5&backend=cpu', async ({ page }) => {
    await waitReady(page);
    await page.setInputFiles('#upload', { name: 'notes.pth', mimeType: 'application/octet-stream', buffer: Buffer.from('my notes\nmore notes\n') });
    await page.waitForSelector('[data-testid="message"]:not([hidden])', { timeout: 60_000 });
    const message = await messageText(page);
    assert.match(message, /notes\.pth is not usable weights: this is a text file, not PyTorch weights — the previous model keeps running/);
    assert.doesNotMatch(message, /\[|0x|bad input/);
    const fold = await page.$eval('#message-details', (d) => ({ hidden: d.hidden, open: d.open, text: d.textContent }));
    assert.deepEqual([fold.hidden, fold.open], [false, false]);
    assert.match(fold.text, /first bytes: \[6d, 79/);
    await waitFrames(page, 2);
  }));
