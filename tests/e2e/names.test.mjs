// Your own model on the page: a 5-class fine-tune dropped with its class_indices.json runs with
// those names; a names file of the wrong size is refused and the names in use stay.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { launch, withBrowserPage } from './support/browser.mjs';
import { waitReady, waitFrames, predictions, messageText, engineWorker, crashEngineOnNextCall } from './support/page.mjs';
import { scratchDir } from './support/scratch.mjs';
import { ROOT, serveWeights } from './support/server.mjs';

const CLI = join(ROOT, 'target/debug/shufflenet');
const FLOWERS = ['daisy', 'dandelion', 'roses', 'sunflowers', 'tulips'];

/** Drops files ({ name, bytes }) together on the drop zone. */
async function drop(page, files) {
  const dataTransfer = await page.evaluateHandle((list) => {
    const dt = new DataTransfer();
    for (const { name, b64 } of list) dt.items.add(new File([Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))], name));
    return dt;
  }, files.map(({ name, bytes }) => ({ name, b64: Buffer.from(bytes).toString('base64') })));
  await page.dispatchEvent('#dropzone', 'drop', { dataTransfer });
}

/**
 * Writes seeded random weights (`randomArgs` for the CLI's `random`) as `name` and drops them with
 * a class_indices.json of the flowers; resolves once the page runs them.
 */
async function dropModelWithFlowers(page, name, randomArgs) {
  const file = join(scratchDir('shufflenet-names'), name);
  execFileSync(CLI, ['random', file, ...randomArgs], { stdio: 'ignore' });
  const indices = JSON.stringify(Object.fromEntries(FLOWERS.map((f, i) => [String(i), f])));
  await waitReady(page);
  await drop(page, [
    { name, bytes: readFileSync(file) },
    { name: 'class_indices.json', bytes: Buffer.from(indices) },
  ]);
  await page.waitForFunction(() => /class_indices\.json/.test(document.getElementById('model-info').textContent), null, {
    timeout: 120_000,
  });
  await waitReady(page);
}

test('a 5-class model dropped with its class_indices.json shows its own class names', { timeout: 300_000 }, () =>
  withBrowserPage('fake', 'width=0.5&backend=cpu', async (page) => {
    await dropModelWithFlowers(page, 'flowers.mdl', ['--width', '0.5', '--classes', '5', '--seed', '4']);
    const from = await waitFrames(page, 2);
    const shown = await predictions(page);
    assert.equal(shown.length, 5, 'top-5 of five classes');
    assert.deepEqual(shown.map((p) => p.name).sort(), [...FLOWERS].sort(), 'every row is a flower');
    assert.equal(await page.$eval('#width option:checked', (o) => o.textContent), 'custom model');
    assert.equal(await messageText(page), '');

    // Four names for five outputs: refused, with both numbers; the flowers stay.
    await drop(page, [{ name: 'labels.txt', bytes: Buffer.from('a\nb\nc\nd\n') }]);
    await page.waitForFunction(() => /4 names/.test(document.getElementById('message-text').textContent), null, {
      timeout: 60_000,
    });
    assert.match(await messageText(page), /labels\.txt.*4 names.*5 outputs.*previous names stay/);
    await waitFrames(page, 2, { from });
    assert.deepEqual((await predictions(page)).map((p) => p.name).sort(), [...FLOWERS].sort());

    // The engine crashes: its replacement reloads the dropped model and names it again.
    await crashEngineOnNextCall(engineWorker(page));
    await page.waitForFunction(() => /restarted/.test(document.getElementById('message-text').textContent), null, {
      timeout: 60_000,
    });
    await waitFrames(page, 2);
    assert.deepEqual((await predictions(page)).map((p) => p.name).sort(), [...FLOWERS].sort(), 'named again');
  }));

test('a fine-tune served the way ./run.sh --weights F --labels L serves it opens first, with its names', { timeout: 300_000 }, async () => {
  const dir = scratchDir('shufflenet-own');
  const weights = join(dir, 'weights');
  cpSync(process.env.WEIGHTS_DIR ?? join(ROOT, 'target/e2e-weights'), weights, { recursive: true });
  const model = join(dir, 'shufflenet_v2_flowers.pth');
  execFileSync(CLI, ['random', model, '--width', '1.0', '--classes', '5', '--seed', '5'], { stdio: 'ignore' });
  writeFileSync(join(dir, 'labels.txt'), `${FLOWERS.join('\n')}\n`);
  // What run.sh does with --weights and --labels (tools/weights.sh CLI FILE LABELS).
  execFileSync(join(ROOT, 'tools/weights.sh'), [CLI, model, join(dir, 'labels.txt')], {
    env: { ...process.env, WEIGHTS_DIR: weights, SHUFFLENET_OFFLINE: '1' },
    stdio: 'ignore',
  });
  const manifest = JSON.parse(readFileSync(join(weights, 'manifest.json'), 'utf8'));
  assert.equal(manifest.model.name, 'shufflenet_v2_flowers.pth');
  assert.deepEqual(Object.keys(manifest.widths), ['0.5', '1.0', '1.5', '2.0'], 'the published widths stay');

  const server = await serveWeights(weights, Number(process.env.E2E_PORT ?? 8087) + 4);
  const browser = await launch({ camera: 'fake' });
  try {
    const page = await browser.newPage();
    await page.goto(`${server.base}?backend=cpu`);
    await waitReady(page);
    await waitFrames(page, 2);
    assert.deepEqual((await predictions(page)).map((p) => p.name).sort(), [...FLOWERS].sort());
    assert.equal(await page.$eval('#width option:checked', (o) => o.textContent), 'custom model');
    assert.match(await page.$eval('#model-info', (e) => e.textContent), /shufflenet_v2_flowers\.pth/);
    assert.match(await page.$eval('#model-info', (e) => e.textContent), /5, named in the weights file/);
    assert.equal(await page.evaluate(() => document.body.dataset.trained), 'true');
  } finally {
    await browser.close();
    server.kill();
  }
});

test("the tutorial's network as a .mdl with its class_indices.json runs on the CPU and on WebGPU", { timeout: 300_000 }, () =>
  withBrowserPage('fake', 'width=0.5&backend=cpu', async (page) => {
    await dropModelWithFlowers(page, 'shufflenet_v2_x0_5.mdl', ['--width', '0.5', '--tutorial', '--classes', '5', '--seed', '6']);
    assert.match(await page.textContent('#model-info'), /tutorial ShuffleNetV2 \(2 units\/stage, ReLU6\), planes \[48, 96, 192\]/);
    await waitFrames(page, 2);
    assert.deepEqual((await predictions(page)).map((p) => p.name).sort(), [...FLOWERS].sort());
    // Chromium has relaxed SIMD: the relaxed builds run.
    assert.equal(await page.$eval('[data-testid="backend"]', (b) => b.dataset.backend), 'cpu-relaxed');

    await page.click('#backend-switch');
    await page.waitForFunction(() => document.querySelector('[data-testid="backend"]').dataset.kind === 'gpu', null, {
      timeout: 120_000,
    });
    await waitFrames(page, 2);
    assert.deepEqual((await predictions(page)).map((p) => p.name).sort(), [...FLOWERS].sort(), 'the same names on WebGPU');
    assert.equal(await messageText(page), '');
  }));
