// Teach mode: two classes taught from dropped pictures classify new pictures right; the download
// is a .safetensors with the class names that loads back into the page with the same predictions;
// a reload keeps the samples. A second test captures samples from the fake webcam.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { withBrowserPage } from './support/browser.mjs';
import { waitReady, waitFrames, predictions, tintedBmp, testImageBmp } from './support/page.mjs';
import { ROOT } from './support/server.mjs';

const RED = [200, 40, 30];
const BLUE = [30, 60, 200];
const pictures = (rgb, prefix, from, n) =>
  Array.from({ length: n }, (_, i) => ({ name: `${prefix}${from + i}.bmp`, mimeType: 'image/bmp', buffer: tintedBmp(rgb, from + i) }));

const counts = (page) => page.$$eval('[data-testid="teach-count"]', (c) => c.map((e) => Number(e.dataset.count)));

/** Drops files ({ name, buffer }) onto the `index`-th class. */
async function dropOnClass(page, index, files) {
  const dataTransfer = await page.evaluateHandle((list) => {
    const dt = new DataTransfer();
    for (const { name, b64 } of list) dt.items.add(new File([Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))], name));
    return dt;
  }, files.map(({ name, buffer }) => ({ name, b64: Buffer.from(buffer).toString('base64') })));
  await page.locator('[data-testid="teach-class"]').nth(index).dispatchEvent('drop', { dataTransfer });
}

/** Shows `file` as the page's picture and waits until the top prediction is `name`. */
async function topFor(page, file, name) {
  await page.setInputFiles('#upload', file);
  await page.waitForFunction(
    (want) => document.querySelector('[data-testid="prediction"] .name')?.textContent === want,
    name,
    { timeout: 60_000 },
  );
  return (await predictions(page))[0];
}

/** The JSON header of a .safetensors file. */
function safetensorsHeader(bytes) {
  const len = Number(bytes.readBigUInt64LE(0));
  return JSON.parse(bytes.subarray(8, 8 + len).toString('utf8'));
}

test('two classes taught from dropped pictures: right on new pictures, exported, re-imported, kept over a reload', { timeout: 400_000 }, () =>
  withBrowserPage('fake', 'width=0.5&backend=cpu&camera=0&teach=1', async (page) => {
    await waitReady(page);
    await page.locator('.teach-name').nth(0).fill('apples');
    await page.locator('.teach-name').nth(1).fill('sea');
    await page.locator('.teach-name').nth(1).press('Tab'); // `change`: the names are kept

    // Every status line shown (training may replace one before it is read).
    await page.evaluate(() => {
      const el = document.getElementById('teach-status');
      window.statusLines = [];
      new MutationObserver(() => window.statusLines.push(el.textContent)).observe(el, { childList: true, characterData: true, subtree: true });
    });
    // Class 1 from the file picker, class 2 dropped onto it, with a stray text file.
    await page.locator('[data-testid="teach-files"]').nth(0).setInputFiles(pictures(RED, 'apple', 0, 8));
    await dropOnClass(page, 1, [...pictures(BLUE, 'sea', 0, 8), { name: 'notes.txt', buffer: Buffer.from('not a picture') }]);
    await page.waitForFunction(
      () => [...document.querySelectorAll('[data-testid="teach-count"]')].every((c) => c.dataset.count === '8'),
      null,
      { timeout: 120_000 },
    );
    await page.waitForFunction(() => window.statusLines.some((l) => /Skipped notes\.txt/.test(l)), null, { timeout: 30_000 });
    assert.equal(await page.locator('.teach-thumb').count(), 16, 'a thumbnail per picture');

    // Trained automatically: 2 of 8 per class held out, all classified right.
    await page.waitForFunction(() => document.getElementById('teach-report').dataset.heldOut, null, { timeout: 60_000 });
    await page.waitForFunction(() => !document.getElementById('teach').dataset.training && document.body.dataset.taught === 'true');
    const report = await page.textContent('[data-testid="teach-report"]');
    assert.equal(await page.$eval('#teach-report', (r) => r.dataset.heldOut), '4/4', report);
    assert.match(report, /Trained on 16 samples.*apples 2\/2, sea 2\/2/);
    // The confusion table: each held-out sample in its true class's row, under its answer.
    const confusion = await page.$$eval('#teach-confusion tbody tr', (rows) =>
      rows.map((r) => [...r.querySelectorAll('td')].map((td) => Number(td.textContent))));
    assert.deepEqual(confusion, [[2, 0], [0, 2]]);
    assert.match(await page.textContent('#teach-confusion tbody'), /apples \(100%\)/);

    // New pictures of each class.
    const apple = pictures(RED, 'new-apple', 100, 1)[0];
    const taughtApple = await topFor(page, apple, 'apples');
    await topFor(page, pictures(BLUE, 'new-sea', 100, 1)[0], 'sea');
    assert.equal((await predictions(page)).length, 2, 'top-k over the two taught classes');
    assert.equal(await page.$eval('#unknown-note', (n) => n.hidden), true, 'a taught class is named');
    // Something never taught (a disc on a gradient): "not one of your classes", no name claimed.
    await page.setInputFiles('#upload', { name: 'disc.bmp', mimeType: 'image/bmp', buffer: testImageBmp() });
    await page.waitForFunction(() => !document.getElementById('unknown-note').hidden, null, { timeout: 60_000 });
    assert.match(await page.textContent('#unknown-note'), /^Not one of your classes \(the nearest is (apples|sea)\)$/);
    assert.equal(await page.$eval('#caption', (c) => c.textContent), 'Not one of your classes');
    await topFor(page, pictures(BLUE, 'new-sea', 100, 1)[0], 'sea'); // the still the steps below start from
    assert.equal(await page.$eval('#unknown-note', (n) => n.hidden), true);

    // The download: the model with its names, and class_indices.json.
    const downloads = [];
    page.on('download', (d) => downloads.push(d));
    await page.click('#teach-download');
    await page.waitForFunction(() => /Downloaded/.test(document.getElementById('teach-status').textContent), null, {
      timeout: 60_000,
    });
    await new Promise((r) => setTimeout(r, 500));
    assert.deepEqual(downloads.map((d) => d.suggestedFilename()).sort(), [
      'class_indices.json',
      'shufflenet_v2_x0_5_2_classes.safetensors',
    ]);
    const saved = {};
    for (const d of downloads) saved[d.suggestedFilename()] = readFileSync(await d.path());
    const exported = saved['shufflenet_v2_x0_5_2_classes.safetensors'];
    const header = safetensorsHeader(exported);
    assert.deepEqual(JSON.parse(header.__metadata__.class_names), ['apples', 'sea']);
    const unknown = JSON.parse(header.__metadata__['shufflenet.unknown']);
    assert.ok(unknown.threshold > 0 && unknown.centroids.length === 2 * 1024, 'the threshold travels with the head');
    assert.deepEqual(header['fc.weight'].shape, [2, 1024]);
    assert.deepEqual(header['fc.bias'].shape, [2]);
    assert.deepEqual(JSON.parse(saved['class_indices.json']), { 0: 'apples', 1: 'sea' });
    // For tools/make_fixtures.py --teach-export (the round trip into torchvision).
    const keep = join(ROOT, 'target', 'teach-page');
    mkdirSync(keep, { recursive: true });
    writeFileSync(join(keep, 'exported.safetensors'), exported);

    // Back to the model's own head: 1000 ImageNet classes again.
    await page.click('#teach-head-file');
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="prediction"]:not([hidden])').length === 5);
    assert.ok(!(await predictions(page)).some((p) => p.name === 'apples' || p.name === 'sea'));

    // The export dropped back on the page: the taught model with its names, same predictions.
    await page.setInputFiles('#upload', { name: 'mine.safetensors', mimeType: 'application/octet-stream', buffer: exported });
    await page.waitForFunction(() => /mine\.safetensors/.test(document.getElementById('model-info').textContent), null, {
      timeout: 120_000,
    });
    await waitReady(page);
    const again = await topFor(page, apple, 'apples');
    assert.ok(Math.abs(again.percent - taughtApple.percent) < 0.1, `${again.percent} vs ${taughtApple.percent}`);
    assert.match(await page.textContent('#model-info'), /2, named in the weights file/);

    // A reload (the x0.5 backbone again) keeps the samples and trains from them.
    await page.reload();
    await waitReady(page);
    await page.waitForFunction(() => document.body.dataset.taught === 'true', null, { timeout: 60_000 });
    assert.deepEqual(await counts(page), [8, 8]);
    await page.waitForFunction(() => /^Restored 16 samples of 2 classes and retrained them\. Trained on 16/.test(
      document.getElementById('teach-report').textContent), null, { timeout: 30_000 });
    assert.deepEqual(await page.$$eval('.teach-name', (n) => n.map((e) => e.value)), ['apples', 'sea']);
    await topFor(page, apple, 'apples');

    // Clear samples: gone after another reload too, and the model's own head runs.
    await page.click('#teach-clear');
    await page.waitForFunction(() => document.body.dataset.taught === 'false');
    await page.reload();
    await waitReady(page);
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="teach-count"]').length === 2);
    assert.deepEqual(await counts(page), [0, 0]);
  }));

test('holding a class button captures webcam frames at a steady rate, then trains', { timeout: 300_000 }, () =>
  withBrowserPage('fake', 'width=0.5&backend=cpu&teach=1', async (page) => {
    await waitReady(page);
    await waitFrames(page, 2);
    const hold = async (index, atLeast) => {
      await page.locator('[data-testid="teach-capture"]').nth(index).hover();
      await page.mouse.down();
      await page.waitForFunction(
        ([i, n]) => Number(document.querySelectorAll('[data-testid="teach-count"]')[i].dataset.count) >= n,
        [index, atLeast],
        { timeout: 60_000, polling: 100 },
      );
      await page.mouse.up();
    };
    await hold(0, 3);
    const [first] = await counts(page);
    await waitFrames(page, 3);
    assert.equal((await counts(page))[0], first, 'no samples once the button is released');
    assert.equal(await page.locator('[data-testid="teach-class"]').nth(0).locator('.teach-thumb').count(), first);
    // Training follows a change after a short delay (TRAIN_DELAY_MS), which can outlast three
    // frames: it then names the class without samples.
    await page.waitForFunction(
      () => /Add samples to “Class 2”/.test(document.querySelector('[data-testid="teach-status"]')?.textContent ?? ''),
      null,
      { timeout: 10_000 },
    );

    await hold(1, 3);
    await page.waitForFunction(() => document.body.dataset.taught === 'true', null, { timeout: 60_000 });
    assert.match(await page.textContent('[data-testid="teach-report"]'), /Trained on \d+ samples/);
    await waitFrames(page, 2);
    const names = (await predictions(page)).map((p) => p.name).sort();
    assert.deepEqual(names, ['Class 1', 'Class 2'], 'live predictions over the taught classes');
  }));

test('Teach mode on WebGPU: features from the GPU frame, the taught head on the device', { timeout: 300_000 }, () =>
  withBrowserPage('fake', 'width=0.5&backend=webgpu&camera=0&teach=1', async (page) => {
    await waitReady(page);
    assert.equal(await page.$eval('[data-testid="backend"]', (b) => b.dataset.kind), 'gpu');
    await page.locator('.teach-name').nth(0).fill('apples');
    await page.locator('.teach-name').nth(1).fill('sea');
    await page.locator('[data-testid="teach-files"]').nth(0).setInputFiles(pictures(RED, 'apple', 0, 4));
    await page.locator('[data-testid="teach-files"]').nth(1).setInputFiles(pictures(BLUE, 'sea', 0, 4));
    await page.waitForFunction(() => /Trained on 8 samples/.test(document.getElementById('teach-report').textContent), null, {
      timeout: 200_000,
    });
    assert.deepEqual(await counts(page), [4, 4]);
    assert.equal(await page.$eval('#teach-report', (r) => r.dataset.heldOut), '2/2');
    await topFor(page, pictures(RED, 'new-apple', 100, 1)[0], 'apples');
    await topFor(page, pictures(BLUE, 'new-sea', 100, 1)[0], 'sea');
    assert.equal(await page.$eval('[data-testid="backend"]', (b) => b.dataset.kind), 'gpu', 'still on WebGPU');
  }));

test('capturing slower than two samples a second on WebGPU offers the CPU in one click', { timeout: 300_000 }, () =>
  withBrowserPage('fake', 'width=0.5&backend=webgpu&teach=1', async (page) => {
    await waitReady(page);
    await waitFrames(page, 1, { timeout: 200_000 });
    assert.equal(await page.$eval('[data-testid="backend"]', (b) => b.dataset.kind), 'gpu');
    await page.locator('[data-testid="teach-capture"]').nth(0).hover();
    await page.mouse.down();
    // SwiftShader takes hundreds of ms a frame: the hint comes after two seconds of that.
    await page.waitForFunction(() => !document.getElementById('teach-cpu-hint').hidden, null, { timeout: 120_000, polling: 100 });
    await page.mouse.up();
    assert.match(await page.textContent('#teach-cpu-hint'), /Capturing \d+\.\d samples a second on WebGPU here\./);
    await page.click('#teach-use-cpu');
    await page.waitForFunction(() => document.querySelector('[data-testid="backend"]').dataset.kind === 'cpu', null, { timeout: 60_000 });
    assert.equal(await page.$eval('#teach-cpu-hint', (h) => h.hidden), true);
  }));
