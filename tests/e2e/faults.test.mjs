// Faults the page must survive: an engine that crashes or hangs mid-stream, loads that overlap,
// and inputs too big to take whole. In each the page says what happened and keeps classifying.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { launch, withBrowserPage, BASE_URL } from './support/browser.mjs';
import { waitReady, waitFrames, frames, messageText, engineWorker, crashEngineOnNextCall } from './support/page.mjs';
import { bigPng } from './support/png.mjs';

const LONG = { timeout: 300_000 };

const arch = (page) => page.evaluate(() => document.body.dataset.arch);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Weight bodies the server sent in full (a 304 or a HEAD is no download). */
function countDownloads(context) {
  const urls = [];
  context.on('response', (r) => {
    if (r.request().method() === 'GET' && /\.safetensors(\?|$)/.test(r.url()) && r.status() === 200) urls.push(r.url());
  });
  return urls;
}

/** Drops a file built in the page from `bytes` (a Buffer) on the drop zone. */
async function dropFile(page, name, bytes, type = 'application/octet-stream') {
  const dataTransfer = await page.evaluateHandle(
    ([b64, name, type]) => {
      const dt = new DataTransfer();
      dt.items.add(new File([Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))], name, { type }));
      return dt;
    },
    [bytes.toString('base64'), name, type],
  );
  await page.dispatchEvent('#dropzone', 'drop', { dataTransfer });
}

async function weightsBytes(page, width) {
  const manifest = await page.evaluate(async () => (await fetch('weights/manifest.json')).json());
  const url = new URL(manifest.widths[width].url, page.url()).href;
  return Buffer.from(await (await fetch(url)).arrayBuffer());
}

test('the engine crashes mid-stream: a fresh one reloads the weights from the cache and frames carry on', LONG, () =>
  withBrowserPage('fake', 'width=0.5&backend=cpu', async (page) => {
    await waitReady(page);
    await waitFrames(page, 3, { from: 0 });
    const downloads = countDownloads(page.context());
    const crashed = engineWorker(page);
    await crashEngineOnNextCall(crashed);
    await page.waitForFunction(() => /restarted/.test(document.getElementById('message-text').textContent), null, {
      timeout: 60_000,
    });
    assert.match(await messageText(page), /stopped \(the engine crashed \(.*unreachable executed\)\).*reloaded the x0\.5 weights/);
    const after = await frames(page);
    await waitFrames(page, 5, { from: after });
    assert.equal(await arch(page), 'x0.5', 'the same weights run again');
    assert.equal(await page.evaluate(() => document.body.dataset.restarts), '1');
    assert.equal(await page.evaluate(() => document.body.dataset.state), 'ready');
    assert.deepEqual(downloads, [], 'the weights came from the Cache API, not the network');
    assert.notEqual(engineWorker(page), crashed, 'a fresh worker runs the engine');
  }));

test('an engine that stops answering is replaced once a frame outlives its time limit', LONG, () =>
  withBrowserPage('fake', 'width=0.5&backend=cpu&frameTimeout=3', async (page) => {
    await waitReady(page);
    await waitFrames(page, 3, { from: 0 });
    // A worker stuck in a loop: no reply, no error, ever.
    await engineWorker(page).evaluate(() => {
      setTimeout(() => {
        for (;;);
      });
    });
    await page.waitForFunction(() => /restarted/.test(document.getElementById('message-text').textContent), null, {
      timeout: 60_000,
    });
    assert.match(await messageText(page), /stopped answering \(classify: no reply in 3 s\)/);
    await waitFrames(page, 5, { from: await frames(page) });
    assert.equal(await arch(page), 'x0.5');
  }));

test('a weights file dropped during a width download wins, and the download is cancelled', LONG, () =>
  withBrowserPage('fake', 'width=0.5&backend=cpu', async (page) => {
    await waitReady(page);
    await waitFrames(page, 1, { from: 0 });
    const dropped = await weightsBytes(page, '1.5');

    // The x1.0 download hangs until released.
    let release;
    const gate = new Promise((resolve) => (release = resolve));
    let served = Promise.resolve();
    await page.context().route('**/shufflenetv2_x1.0.safetensors', (route) => {
      served = gate.then(() => route.continue()).catch(() => {}); // fails once the request is gone
    });
    const requested = page.waitForRequest(/shufflenetv2_x1\.0\.safetensors/);
    await page.selectOption('#width', '1.0');
    await requested;
    assert.equal(await page.evaluate(() => document.body.dataset.state), 'loading');

    await dropFile(page, 'dropped-x1.5.safetensors', dropped);
    await page.waitForFunction(() => document.body.dataset.arch === 'x1.5', null, { timeout: 120_000 });
    await waitReady(page);
    const during = await frames(page);
    await waitFrames(page, 3, { from: during });

    // The older request finishing late changes nothing.
    release();
    await served;
    await sleep(5000);
    await waitFrames(page, 3);
    assert.equal(await arch(page), 'x1.5', 'the model asked for last runs');
    assert.equal(await page.$eval('#width', (s) => s.value), 'custom');
    assert.match(await page.$eval('#model-info', (e) => e.textContent), /dropped-x1\.5\.safetensors/);
    assert.equal(await page.evaluate(() => document.body.dataset.state), 'ready');
    assert.equal(await page.isVisible('#progress'), false, 'no progress bar left behind');
    assert.equal(await messageText(page), '');
    assert.equal(await page.evaluate(() => document.body.dataset.restarts ?? '0'), '0', 'a cancel is no crash');
  }));

test('a weights file over the size cap is refused without being read', LONG, () =>
  withBrowserPage('fake', 'width=0.5&backend=cpu', async (page) => {
    await waitReady(page);
    await waitFrames(page, 1, { from: 0 });
    const read = await page.evaluate(() => {
      window.__reads = [];
      for (const method of ['arrayBuffer', 'stream', 'text', 'bytes']) {
        const original = Blob.prototype[method];
        if (!original) continue;
        Blob.prototype[method] = function (...args) {
          window.__reads.push(this.size);
          return original.apply(this, args);
        };
      }
      // 600 MiB made of one shared MiB: the browser keeps one copy.
      const mib = new Blob([new Uint8Array(2 ** 20)]);
      const dt = new DataTransfer();
      dt.items.add(new File(Array(600).fill(mib), 'huge.safetensors'));
      document.getElementById('dropzone').dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
      return window.__reads;
    });
    await page.waitForSelector('[data-testid="message"]:not([hidden])', { timeout: 30_000 });
    assert.match(await messageText(page), /huge\.safetensors is 600 MiB, larger than any ShuffleNetV2 weights file \(512 MiB\); it was not read/);
    assert.deepEqual(read, []);
    assert.deepEqual(await page.evaluate(() => window.__reads), [], 'no byte of the file was read');
    assert.equal(await arch(page), 'x0.5');
    await waitFrames(page, 2);
  }));

test('a 12,000 x 12,000 image is scaled down to 2,048 pixels a side and classified on WebGPU', LONG, () =>
  withBrowserPage('denied', 'width=0.5&backend=webgpu', async (page) => {
    await waitReady(page);
    await dropFile(page, 'huge.png', bigPng(12_000, 12_000), 'image/png');
    await waitFrames(page, 1, { from: 0, timeout: 180_000 });
    assert.equal(await messageText(page), '', 'no error');
    assert.equal(await page.$eval('#dropzone', (d) => d.dataset.source), 'image');
    const still = await page.$eval('#still', (c) => [c.width, c.height]);
    assert.deepEqual(still, [2048, 2048], 'the picture the engine got is 2048 pixels a side');
    assert.equal(await page.$eval('[data-testid="backend"]', (b) => b.dataset.kind), 'gpu', 'WebGPU ran it');
  }));

test('through the package, a frame larger than the GPU texture limit runs on the CPU instead of failing', LONG, async () => {
  const browser = await launch({ camera: 'denied' });
  const page = await (await browser.newContext({ serviceWorkers: 'block' })).newPage();
  try {
    // Any page of the origin will do: the package is imported straight from /pkg/.
    await page.goto(new URL('pkg/package.json', BASE_URL).href);
    const runs = await page.evaluate(async () => {
      const { default: init, Engine } = await import('/pkg/shufflenet_web.js');
      await init();
      const engine = await Engine.create('webgpu');
      const { widths } = await (await fetch('/weights/manifest.json')).json();
      await engine.loadUrl(new URL(widths['0.5'].url, location.origin).href, () => {}, widths['0.5'].sha256);
      const limit = (await navigator.gpu.requestAdapter()).limits.maxTextureDimension2D;
      // A strip one pixel wider than any texture the device takes: cheap, and still too big.
      const frame = async (width) => {
        const canvas = new OffscreenCanvas(width, 8);
        const ctx = canvas.getContext('2d');
        ctx.fillStyle = '#c83';
        ctx.fillRect(0, 0, width, 8);
        return engine.classifyBitmap(canvas.transferToImageBitmap(), 3);
      };
      const wide = await frame(limit + 1);
      const small = await frame(64);
      const again = await frame(limit + 1); // on the CPU backend the first one built
      return {
        limit,
        wide: wide.backend,
        wideTop: wide.top.length,
        small: small.backend,
        again: again.backend,
        same: again.top[0].index === wide.top[0].index && Math.abs(again.top[0].prob - wide.top[0].prob) < 1e-6,
        engine: engine.backend(),
      };
    });
    assert.ok(runs.limit < 16_384, `the CPU takes up to 16,384 pixels a side; this device's limit is ${runs.limit}`);
    assert.match(runs.wide, /^cpu/, 'the oversized frame ran on the CPU');
    assert.equal(runs.wideTop, 3);
    assert.equal(runs.small, 'webgpu', 'the next frame is back on WebGPU');
    assert.match(runs.again, /^cpu/);
    assert.ok(runs.same, 'the same oversized frame, the same prediction');
    assert.equal(runs.engine, 'webgpu', 'one big frame does not move the engine off the GPU');
  } finally {
    await browser.close();
  }
});
