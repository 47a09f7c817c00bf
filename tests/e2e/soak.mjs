// Memory soak: minutes of webcam frames must not grow the JS heaps or the wasm memory.
// Run on its own (it is not picked up by `node --test tests/e2e/`):
//   node --test tests/e2e/soak.mjs
// SHUFFLENET_SOAK_SECONDS sets the length (default 180); SHUFFLENET_SOAK_QUERY the page options
// (default `width=0.5`, i.e. WebGPU when available, x0.5 weights).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { launch, openPage } from './support/browser.mjs';
import { waitReady, waitChoice, waitFrames, frames } from './support/page.mjs';
import { HeapProbe } from './support/heap.mjs';

const SECONDS = Number(process.env.SHUFFLENET_SOAK_SECONDS ?? 180);
const QUERY = process.env.SHUFFLENET_SOAK_QUERY ?? 'width=0.5';
const MiB = 1024 * 1024;
// Allowed growth between the warmed-up baseline and the end. A leak of one 640x480 frame per
// classification would exceed these within the first minute.
const LIMITS = { mainHeap: 4 * MiB, workerHeap: 4 * MiB, wasmBytes: 2 * MiB, domNodes: 200 };

test(`no memory growth over ${SECONDS}s of webcam frames (${QUERY})`, { timeout: (SECONDS + 600) * 1000 }, async () => {
  const browser = await launch({ camera: 'fake' });
  const { page, logs } = await openPage(browser, QUERY);
  const probe = new HeapProbe(browser, page);
  try {
    await waitReady(page);
    // Warm-up: the backend chosen (a WebGPU trial's buffers are a one-off peak), JIT, buffers.
    await waitChoice(page);
    await waitFrames(page, 5, { timeout: 300_000 });
    const base = await probe.measure();
    const startFrames = await frames(page);
    const samples = [{ t: 0, frames: startFrames, ...base }];
    const t0 = Date.now();
    while (Date.now() - t0 < SECONDS * 1000) {
      await page.waitForTimeout(Math.min(30_000, SECONDS * 1000 - (Date.now() - t0)));
      samples.push({ t: Math.round((Date.now() - t0) / 1000), frames: await frames(page), ...(await probe.measure()) });
    }
    const end = samples.at(-1);
    console.log('soak samples (bytes):');
    console.table(samples);
    const classified = end.frames - startFrames;
    console.log(`classified ${classified} frames in ${SECONDS}s (${(classified / SECONDS).toFixed(1)} fps)`);
    assert.ok(classified >= Math.min(20, SECONDS / 5), `frames kept coming: ${classified}`);
    for (const [key, limit] of Object.entries(LIMITS)) {
      const growth = end[key] - base[key];
      assert.ok(growth <= limit, `${key} grew by ${growth} (limit ${limit}): ${base[key]} -> ${end[key]}`);
    }
  } catch (err) {
    err.message += `\n--- page log ---\n${logs.join('\n')}`;
    throw err;
  } finally {
    await probe.close();
    await browser.close();
  }
});
