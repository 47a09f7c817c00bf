// Benchmark (prints figures, asserts nothing): how smoothly the page itself renders while the
// webcam is being classified, with inference in the worker versus on the main thread.
// UI rate = requestAnimationFrame callbacks per second on the page; "worst gap" = the longest
// time between two of them (a frozen page shows up here).
//   node tests/e2e/bench-ui-fps.mjs            (SHUFFLENET_BENCH_SECONDS, default 10)
//   SHUFFLENET_BENCH_WIDTHS=0.5,1.0 to add widths

import { launch, openPage } from './support/browser.mjs';
import { waitReady, waitFrames, frames } from './support/page.mjs';

const SECONDS = Number(process.env.SHUFFLENET_BENCH_SECONDS ?? 10);
const WIDTHS = (process.env.SHUFFLENET_BENCH_WIDTHS ?? '0.5').split(',');

async function measure(browser, query) {
  const { context, page } = await openPage(browser, query);
  try {
    await waitReady(page);
    await waitFrames(page, 3, { from: 0, timeout: 300_000 });
    const before = await frames(page);
    const ui = await page.evaluate(
      (ms) =>
        new Promise((resolve) => {
          const stamps = [];
          const start = performance.now();
          const tick = (t) => {
            stamps.push(t);
            if (t - start < ms) requestAnimationFrame(tick);
            else {
              let worst = 0;
              for (let i = 1; i < stamps.length; i++) worst = Math.max(worst, stamps[i] - stamps[i - 1]);
              resolve({ rate: ((stamps.length - 1) * 1000) / (stamps.at(-1) - stamps[0]), worst });
            }
          };
          requestAnimationFrame(tick);
        }),
      SECONDS * 1000,
    );
    const classified = (await frames(page)) - before;
    const backend = await page.$eval('[data-testid="backend"]', (b) => b.dataset.backend);
    return { backend, uiFps: ui.rate.toFixed(1), worstGapMs: ui.worst.toFixed(0), classifyFps: (classified / SECONDS).toFixed(2) };
  } finally {
    await context.close();
  }
}

const browser = await launch({ camera: 'fake' });
const rows = [];
try {
  for (const width of WIDTHS) {
    for (const backend of ['cpu', 'webgpu']) {
      for (const worker of ['1', '0']) {
        const query = `width=${width}&backend=${backend}&worker=${worker}`;
        const r = await measure(browser, query);
        rows.push({ width: `x${width}`, asked: backend, inference: worker === '1' ? 'worker' : 'main thread', ...r });
        console.error(`done: ${query}`);
      }
    }
  }
} finally {
  await browser.close();
}
console.log(`UI frame rate while classifying webcam frames (${SECONDS}s each, headless chromium, SwiftShader WebGPU)`);
console.table(rows);
