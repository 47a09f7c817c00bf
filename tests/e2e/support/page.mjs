// Page-level helpers shared by the end-to-end tests, the soak and the benchmarks.

import assert from 'node:assert/strict';

export const state = (page) => page.evaluate(() => document.body.dataset.state);
export const frames = (page) => page.evaluate(() => Number(document.body.dataset.frames ?? 0));

/** Waits until the page is `ready`; fails with the page's own message if it reports `error`. */
export async function waitReady(page, timeout = 120_000) {
  await page.waitForFunction(() => document.body.dataset.state !== 'loading', null, { timeout, polling: 250 });
  const s = await state(page);
  if (s !== 'ready') assert.fail(`page state is ${s}: ${await messageText(page)}`);
}

/** Waits until `auto` has chosen its backend (at once when the page has nothing to choose). */
export async function waitChoice(page, timeout = 300_000) {
  await page.waitForFunction(() => document.body.dataset.choice !== 'measuring', null, { timeout, polling: 250 });
}

/** Waits until at least `n` more frames than `from` have been classified. */
export async function waitFrames(page, n, { from, timeout = 120_000 } = {}) {
  const start = from ?? (await frames(page));
  await page.waitForFunction(
    (target) => Number(document.body.dataset.frames ?? 0) >= target,
    start + n,
    { timeout, polling: 200 },
  );
  return frames(page);
}

/**
 * The Web Worker that runs the engine: the newest, since a replaced one may linger in the list
 * for a second or two while the CPU threads it started shut down.
 */
export const engineWorker = (page) => page.workers().findLast((w) => w.url().includes('engine-worker'));

/**
 * Makes the engine's worker trap on its next call, as a wasm panic or failed allocation does:
 * the call never answers, the error escapes to the worker's global scope, and the trapped
 * instance answers nothing after it.
 */
export async function crashEngineOnNextCall(worker) {
  await worker.evaluate(() => {
    self.onmessage = () => {
      setTimeout(() => {
        throw new WebAssembly.RuntimeError('unreachable executed');
      });
      self.onmessage = null;
    };
  });
}

export async function messageText(page) {
  return page.evaluate(() => {
    const m = document.getElementById('message');
    return m.hidden ? '' : document.getElementById('message-text').textContent;
  });
}

export async function predictions(page) {
  return page.$$eval('[data-testid="prediction"]:not([hidden])', (rows) =>
    rows.map((r) => ({
      name: r.querySelector('.name').textContent,
      percent: parseFloat(r.querySelector('.value').textContent.replace('<', '')), // "<0.01%" reads as 0.01
    })),
  );
}

export async function stageTimes(page) {
  return page.$$eval('[data-testid="stage-time"]', (rows) =>
    rows.map((r) => ({ stage: r.dataset.stage, ms: parseFloat(r.querySelector('.value').textContent) })),
  );
}

export async function backend(page) {
  return page.$eval('[data-testid="backend"]', (b) => ({ kind: b.dataset.kind, name: b.dataset.backend, text: b.textContent }));
}

/** A 24-bit BMP (decodable by every browser) whose pixel (x, y) is `rgb(x, y)` = [r, g, b]. */
export function bmp(width, height, rgb) {
  const row = Math.ceil((width * 3) / 4) * 4;
  const size = 54 + row * height;
  const b = Buffer.alloc(size);
  b.write('BM', 0, 'ascii');
  b.writeUInt32LE(size, 2);
  b.writeUInt32LE(54, 10);
  b.writeUInt32LE(40, 14);
  b.writeInt32LE(width, 18);
  b.writeInt32LE(height, 22);
  b.writeUInt16LE(1, 26);
  b.writeUInt16LE(24, 28);
  b.writeUInt32LE(row * height, 34);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const [r, g, bl] = rgb(x, height - 1 - y); // rows are stored bottom-up
      const o = 54 + y * row + x * 3; // BGR
      b[o] = bl;
      b[o + 1] = g;
      b[o + 2] = r;
    }
  }
  return b;
}

/** A small BMP with a red disc on a blue-green gradient. */
export function testImageBmp(width = 96, height = 72) {
  return bmp(width, height, (x, top) => {
    const y = height - 1 - top; // as first drawn: bottom-up
    const disc = (x - width / 2) ** 2 + (y - height / 2) ** 2 < (height / 3) ** 2;
    return disc ? [220, 40, 30] : [60, Math.round((255 * y) / height), Math.round((255 * x) / width)];
  });
}

/** A BMP of one colour with seeded pixel noise (+-30 per channel): pictures of one "class". */
export function tintedBmp([r, g, b], seed, width = 64, height = 48) {
  let s = (seed * 2654435761) >>> 0 || 1;
  const noise = () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return (s % 61) - 30;
  };
  const clamp = (v) => Math.max(0, Math.min(255, v));
  return bmp(width, height, () => [clamp(r + noise()), clamp(g + noise()), clamp(b + noise())]);
}
