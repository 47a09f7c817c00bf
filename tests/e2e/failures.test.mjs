// Failure states: camera denied, corrupt or missing weights, no WebGPU. In each the page says why
// and keeps working with what it has.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { launch, withBrowserPage, BASE_URL } from './support/browser.mjs';
import { waitReady, waitFrames, frames, predictions, messageText, backend, testImageBmp } from './support/page.mjs';

const LONG = { timeout: 300_000 };

test('camera denied: the page says why and an uploaded image is classified', LONG, () =>
  withBrowserPage('denied', 'width=0.5', async (page) => {
    await waitReady(page);
    await page.waitForSelector('[data-testid="camera-message"]:not([hidden])', { timeout: 30_000 });
    assert.match(await page.textContent('[data-testid="camera-message"]'), /denied/i);
    assert.equal(await frames(page), 0, 'nothing classified without a source');

    await page.setInputFiles('#upload', { name: 'disc.bmp', mimeType: 'image/bmp', buffer: testImageBmp() });
    await waitFrames(page, 1, { from: 0 });
    const p = await predictions(page);
    assert.equal(p.length, 5);
    assert.ok(p.every((r) => r.name && r.name !== '—'), 'all five rows filled');
    assert.equal(await page.$eval('#dropzone', (d) => d.dataset.source), 'image');
  }));

test('an image dropped on the page is classified', LONG, () =>
  withBrowserPage('denied', 'width=0.5&backend=cpu', async (page) => {
    await waitReady(page);
    const bytes = [...testImageBmp()];
    const dataTransfer = await page.evaluateHandle((b) => {
      const dt = new DataTransfer();
      dt.items.add(new File([new Uint8Array(b)], 'dropped.bmp', { type: 'image/bmp' }));
      return dt;
    }, bytes);
    await page.dispatchEvent('#dropzone', 'drop', { dataTransfer });
    await waitFrames(page, 1, { from: 0 });
    assert.equal(await page.$eval('#dropzone', (d) => d.dataset.source), 'image');
  }));

test('corrupt weights: the error shows and the previous model keeps classifying', LONG, () =>
  withBrowserPage('fake', 'width=0.5&backend=cpu', async (page) => {
    await waitReady(page);
    await waitFrames(page, 2, { from: 0 });

    // 1. A corrupt file dropped by the visitor.
    const garbage = Buffer.alloc(4096, 7);
    await page.setInputFiles('#upload', { name: 'broken.safetensors', mimeType: 'application/octet-stream', buffer: garbage });
    await page.waitForSelector('[data-testid="message"]:not([hidden])', { timeout: 60_000 });
    assert.match(await messageText(page), /broken\.safetensors.*previous model keeps running/s);
    assert.equal(await page.evaluate(() => document.body.dataset.arch), 'x0.5');
    await waitFrames(page, 3);

    // 2. A corrupt download for another width (served truncated).
    await page.context().route('**/shufflenetv2_x1.0.safetensors?*', async (route) => {
      if (route.request().method() !== 'GET') return route.fulfill({ status: 200, headers: { 'content-length': '1000' } });
      const real = await route.fetch();
      const body = (await real.body()).subarray(0, 1000);
      return route.fulfill({ status: 200, body, headers: { 'content-type': 'application/octet-stream' } });
    });
    await page.selectOption('#width', '1.0');
    await page.waitForFunction(() => /x1\.0/.test(document.getElementById('message-text').textContent), null, { timeout: 60_000 });
    await waitReady(page);
    assert.equal(await page.$eval('#width', (s) => s.value), '0.5', 'the picker shows the model still in use');
    assert.equal(await page.evaluate(() => document.body.dataset.arch), 'x0.5');
    await waitFrames(page, 3);

    // The corrupt download was not cached: once the server is fixed, the width loads.
    await page.context().unroute('**/shufflenetv2_x1.0.safetensors?*');
    await page.selectOption('#width', '1.0');
    await page.waitForFunction(() => document.body.dataset.arch === 'x1.0', null, { timeout: 120_000 });
  }));

test('missing weights: the message names the width and the model keeps running', LONG, () =>
  withBrowserPage('fake', 'width=0.5&backend=cpu', async (page) => {
    await waitReady(page);
    await page.context().route('**/shufflenetv2_x1.0.safetensors?*', (route) => route.fulfill({ status: 404, body: 'not found' }));
    await waitFrames(page, 1, { from: 0 });
    await page.selectOption('#width', '1.0');
    await page.waitForFunction(() => /404/.test(document.getElementById('message-text').textContent), null, { timeout: 60_000 });
    await waitReady(page);
    await waitFrames(page, 2);
    assert.equal(await page.evaluate(() => document.body.dataset.arch), 'x0.5');
  }));

test('no WebGPU: the CPU runs the model and the page says why', LONG, () =>
  withBrowserPage(
    'fake',
    'width=0.5',
    async (page) => {
      await waitReady(page);
      await waitFrames(page, 2, { from: 0 });
      const b = await backend(page);
      assert.equal(b.kind, 'cpu', `badge: ${b.text}`);
      assert.match(b.text, /CPU/);
      await page.waitForSelector('[data-testid="backend-note"]:not([hidden])');
      assert.match(await page.textContent('[data-testid="backend-note"]'), /WebGPU is not in use/);

      // Asking for WebGPU explains the refusal and keeps the CPU running.
      await page.click('#backend-switch');
      await page.waitForSelector('[data-testid="message"]:not([hidden])', { timeout: 60_000 });
      assert.match(await messageText(page), /Could not switch to WebGPU/);
      assert.equal((await backend(page)).kind, 'cpu');
      await waitFrames(page, 2);
    },
    { webgpu: false },
  ));

test('the engine cannot start: state is error and the page says so', LONG, async () => {
  const browser = await launch({ camera: 'denied' });
  try {
    const context = await browser.newContext({ serviceWorkers: 'block' });
    await context.route('**/pkg*/shufflenet_web_bg.wasm*', (route) => route.fulfill({ status: 404, body: 'gone' }));
    const page = await context.newPage();
    await page.goto(new URL('?width=0.5', BASE_URL).href);
    await page.waitForFunction(() => document.body.dataset.state === 'error', null, { timeout: 60_000 });
    assert.match(await messageText(page), /could not start/);
    assert.equal(await page.$eval('#width', (s) => s.disabled), true, 'no width to pick without an engine');
  } finally {
    await browser.close();
  }
});

test('with two cameras a picker appears and switching keeps frames coming', LONG, () =>
  withBrowserPage('two', 'width=0.5&backend=cpu', async (page) => {
    await waitReady(page);
    await page.waitForSelector('#camera-field:not([hidden])', { timeout: 30_000 });
    const options = await page.$$eval('#camera option', (o) => o.map((x) => ({ value: x.value, label: x.textContent })));
    assert.equal(options.length, 2, JSON.stringify(options));
    await waitFrames(page, 2, { from: 0 });
    const active = await page.$eval('#camera', (s) => s.value);
    const target = options.find((o) => o.value !== active);
    assert.ok(target, `a camera other than the active one (${active})`);
    await page.selectOption('#camera', target.value);
    await page.waitForFunction(
      (id) => document.getElementById('video').srcObject?.getVideoTracks()[0]?.getSettings().deviceId === id,
      target.value,
      { timeout: 30_000 },
    );
    await waitFrames(page, 2);
    assert.equal(await page.isVisible('[data-testid="camera-message"]'), false);
  }));
