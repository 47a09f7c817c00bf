// The page with a (fake) webcam: live predictions, stage times, backend switch, width change,
// weights cache. WebGPU runs on SwiftShader (slow), hence x0.5 and generous timeouts.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { browserForFile, withContextPage } from './support/browser.mjs';
import { waitReady, waitFrames, predictions, stageTimes, backend, messageText } from './support/page.mjs';

const LONG = { timeout: 300_000 };
const browser = browserForFile({ camera: 'fake' });

test('webcam frames are classified continuously with top-5 and stage times', LONG, () =>
  withContextPage(browser(), 'width=0.5', async ({ page }) => {
    await waitReady(page);
    const first = await waitFrames(page, 2, { from: 0 });
    const p = await predictions(page);
    assert.equal(p.length, 5, 'five prediction rows');
    for (const row of p) {
      assert.match(row.name, /\S/, 'each row names a class');
      assert.ok(row.percent >= 0 && row.percent <= 100, `probability in range: ${row.percent}`);
    }
    const sorted = [...p].map((r) => r.percent);
    assert.deepEqual(sorted, [...sorted].sort((a, b) => b - a), 'rows are in descending probability');

    const stages = await stageTimes(page);
    assert.deepEqual(stages.map((s) => s.stage), ['stem', 'stage2', 'stage3', 'stage4', 'head']);
    for (const s of stages) assert.ok(Number.isFinite(s.ms) && s.ms >= 0, `${s.stage} time shown: ${s.ms}`);
    assert.ok(stages.some((s) => s.ms > 0), 'some stage took measurable time');
    const total = await page.$eval('[data-testid="total-time"]', (e) => parseFloat(e.textContent));
    assert.ok(total > 0, `total time shown: ${total}`);

    // Each bar shows its row's share of the track (past a 4 px sliver for the smallest), and
    // live frames set the bars at once: a transition restarted at every draw kept the page
    // animating at every display frame, on the cores the engine runs on.
    // Read in one go: the page redraws while the test runs.
    const bars = await page.$$eval('[data-testid="prediction"]:not([hidden]), [data-testid="stage-time"]', (rows) => {
      const value = (li) => parseFloat(li.querySelector('.value').textContent.replace('<', ''));
      const stageMax = Math.max(...rows.filter((li) => li.dataset.stage).map(value));
      return rows.map((li) => {
        const track = li.querySelector('.bar').getBoundingClientRect();
        const fill = li.querySelector('.fill');
        // The figures are rounded: a percent to 0.5 at most, a time to 0.005 ms (and its max).
        return {
          share: li.dataset.stage ? (value(li) / stageMax) * 100 : value(li),
          rounding: li.dataset.stage ? 1 / stageMax : 0.5,
          shown: Math.min(fill.getBoundingClientRect().right, track.right) - track.left,
          track: track.width,
          transition: getComputedStyle(fill).transitionDuration,
        };
      });
    });
    assert.equal(bars.length, 10, 'five prediction bars and five stage bars');
    bars.forEach((bar, i) => {
      const want = 4 + ((bar.track - 4) * bar.share) / 100;
      const slack = 1 + (bar.track * bar.rounding) / 100;
      assert.ok(Math.abs(bar.shown - want) < slack, `bar ${i}: ${bar.shown.toFixed(1)} px shown, ${want.toFixed(1)} wanted`);
      assert.equal(bar.transition, '0s', `bar ${i} is not animated while live`);
    });

    // Keeps updating: more frames arrive, and the fps readout is a number.
    await waitFrames(page, 3, { from: first });
    const fps = await page.$eval('[data-testid="fps"]', (e) => parseFloat(e.textContent));
    assert.ok(fps > 0, `fps shown: ${fps}`);
    assert.equal(await page.evaluate(() => window.shufflenet.inWorker), true, 'inference runs in the worker');
    assert.equal(await messageText(page), '', 'no error message');
  }));

test('the backend switch goes to the CPU and back to WebGPU', LONG, () =>
  withContextPage(browser(), 'width=0.5&backend=webgpu', async ({ page }) => {
    await waitReady(page);
    await waitFrames(page, 1, { from: 0 });
    const start = await backend(page);
    assert.equal(start.kind, 'gpu', `?backend=webgpu starts on WebGPU (SwiftShader): ${start.text}`);
    assert.match(start.text, /WebGPU/);

    await page.click('#backend-switch');
    await page.waitForFunction(() => document.getElementById('backend').dataset.kind === 'cpu', null, { timeout: 60_000 });
    const cpu = await backend(page);
    assert.match(cpu.name, /^cpu-/);
    assert.match(cpu.text, /CPU/);
    await waitFrames(page, 3);

    await page.click('#backend-switch');
    await page.waitForFunction(() => document.getElementById('backend').dataset.kind === 'gpu', null, { timeout: 60_000 });
    await waitFrames(page, 2);
    assert.equal((await backend(page)).name, 'webgpu');
    assert.equal(await messageText(page), '', 'no error message');
  }));

test('a width change loads the matching weights, and a reload takes them from the cache', LONG, () =>
  withContextPage(browser(), 'width=0.5&backend=cpu', async ({ context, page }) => {
    const weightRequests = [];
    context.on('request', (r) => {
      if (r.method() === 'GET' && /\.safetensors(\?|$)/.test(r.url())) weightRequests.push(r.url());
    });
    await waitReady(page);
    assert.equal(await page.evaluate(() => document.body.dataset.arch), 'x0.5');
    await waitFrames(page, 1, { from: 0 });

    await page.selectOption('#width', '1.0');
    await page.waitForFunction(() => document.body.dataset.arch === 'x1.0', null, { timeout: 120_000 });
    await waitReady(page);
    await waitFrames(page, 2);
    assert.ok(weightRequests.some((u) => u.includes('x1.0')), `x1.0 weights were downloaded: ${weightRequests}`);
    assert.match(await page.$eval('#model-info', (e) => e.textContent), /x1\.0/);

    weightRequests.length = 0;
    await page.reload();
    await waitReady(page);
    assert.equal(await page.evaluate(() => document.body.dataset.arch), 'x1.0', 'the reload keeps the chosen width');
    assert.equal(await page.$eval('#model-info', (e) => e.dataset.cached), 'true', 'weights came from the Cache API');
    assert.deepEqual(weightRequests, [], 'no weights downloaded again on reload');
    await waitFrames(page, 1, { from: 0 });
  }));

test('the page says plainly when the weights are the untrained stand-in', LONG, () =>
  withContextPage(browser(), 'width=0.5&backend=cpu', async ({ page }) => {
    await waitReady(page);
    const manifest = await page.evaluate(async () => (await fetch('weights/manifest.json')).json());
    const trained = manifest.widths['0.5'].trained !== false;
    const visible = await page.isVisible('[data-testid="untrained"]');
    assert.equal(visible, !trained, `untrained notice visible=${visible} for trained=${trained}`);
    if (!trained) assert.match(await page.textContent('[data-testid="untrained"]'), /untrained/i);
  }));

test('a weights file dropped on the page replaces the model', LONG, () =>
  withContextPage(browser(), 'width=0.5&backend=cpu', async ({ page }) => {
    await waitReady(page);
    await waitFrames(page, 1, { from: 0 });
    const manifest = await page.evaluate(async () => (await fetch('weights/manifest.json')).json());
    const url = new URL(manifest.widths['1.0'].url, page.url()).href;
    const bytes = [...new Uint8Array(await (await fetch(url)).arrayBuffer())];
    const dataTransfer = await page.evaluateHandle((b) => {
      const dt = new DataTransfer();
      dt.items.add(new File([new Uint8Array(b)], 'my-model.safetensors'));
      return dt;
    }, bytes);
    await page.dispatchEvent('#dropzone', 'drop', { dataTransfer });
    await page.waitForFunction(() => document.body.dataset.arch === 'x1.0', null, { timeout: 120_000 });
    await waitReady(page);
    assert.equal(await page.$eval('#width', (s) => s.value), 'custom', 'the picker says the model came from a file');
    assert.match(await page.$eval('#model-info', (e) => e.textContent), /my-model\.safetensors/);
    await waitFrames(page, 2);
    assert.equal(await messageText(page), '');
  }));
