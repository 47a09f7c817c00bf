// The page's own frame on the CPU, part by part (`./bench.sh --page`, issue 21): the page with a
// fake webcam, ?backend=cpu, per width and thread count, after it has warmed up; one JSON line
// each with the medians over the timed frames of the parts the page shows under "Model"
// (www/frame-split.js, where they are running means): capture, preprocessing, inference,
// transfer (and result), draw, and the frame from one to the next; and `frame_mean_ms`, the
// timed frames' mean. Compare `frame` with `./bench.sh`'s median on the same build and threads,
// and between thread counts to choose the page's default.
//
//   node tools/bench/page.mjs [--width 1.0] [--threads 1,2] [--frames 80] [--camera 320x240]
//   env: WEIGHTS_DIR (default weights/), CHROMIUM
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';
import { scratchDir } from '../../tests/e2e/support/scratch.mjs';
import { writeClip } from '../../tests/e2e/support/y4m.mjs';
import { startServer } from '../serve.mjs';

const ROOT = resolve(import.meta.dirname, '../..');
const { values } = parseArgs({
  options: {
    width: { type: 'string', default: '1.0' },
    threads: { type: 'string', default: '1,2' },
    frames: { type: 'string', default: '80' },
    camera: { type: 'string', default: '320x240' },
  },
});
// The fake webcam's size: a real one's 640 x 480 or 1280 x 720 costs more to capture and read.
const size = /^(\d{2,4})x(\d{2,4})$/.exec(values.camera);
const [camWidth, camHeight] = size ? [Number(size[1]), Number(size[2])] : [];
if (!size || camWidth % 2 || camHeight % 2) {
  console.error(`page: --camera ${values.camera}: expected an even WIDTHxHEIGHT, such as 640x480`);
  process.exit(2);
}
const clip = writeClip(join(scratchDir('page-clip'), `clip-${camWidth}x${camHeight}.y4m`), {
  width: camWidth,
  height: camHeight,
});
const server = await startServer({ root: ROOT, mounts: { weights: process.env.WEIGHTS_DIR ?? join(ROOT, 'weights') } });
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream',
    `--use-file-for-fake-video-capture=${clip}`, '--disable-blink-features=WebGPU'],
});
const frames = (page) => page.evaluate(() => Number(document.body.dataset.frames ?? 0));
try {
  for (const width of values.width.split(',')) {
    for (const threads of values.threads.split(',').map(Number)) {
      const context = await browser.newContext({ serviceWorkers: 'block' });
      const page = await context.newPage();
      await page.goto(`http://127.0.0.1:${server.port}/?width=${width}&backend=cpu&threads=${threads}`);
      // Warm: the first frames pay for compiling and allocating.
      await page.waitForFunction(() => Number(document.body.dataset.frames ?? 0) >= 20, null, { timeout: 300_000 });
      const from = await frames(page);
      const onThreads = () => page.evaluate(() => window.shufflenet.framesOnThreads);
      const before = await onThreads();
      const split = () => page.evaluate(() => window.shufflenet.splitFrames);
      const splitFrom = await split();
      const start = Date.now();
      await page.waitForFunction((n) => Number(document.body.dataset.frames ?? 0) >= n, from + Number(values.frames), {
        timeout: 600_000,
      });
      const fps = ((await frames(page)) - from) / ((Date.now() - start) / 1000);
      const timed = (await split()) - splitFrom;
      const medians = await page.evaluate((n) => window.shufflenet.splitMedians(n), timed);
      const parts = Object.fromEntries(Object.entries(medians).map(([k, v]) => [k, v == null ? null : Number(v.toFixed(2))]));
      // Frames of the timed run by the threads each ran on (the engine runs one while faster).
      const after = await onThreads();
      const framesOnThreads = Object.fromEntries(Object.entries(after).map(([k, v]) => [k, v - (before[k] ?? 0)]));
      const badge = await page.$eval('#backend', (e) => e.textContent.trim()).catch(() => '');
      const isolated = await page.evaluate(() => self.crossOriginIsolated);
      console.log(JSON.stringify({ config: 'page', width, camera: values.camera, threads, isolated, badge, fps: Number(fps.toFixed(1)), frame_mean_ms: Number((1000 / fps).toFixed(2)), ms: parts, frames_on_threads: framesOnThreads }));
      await context.close();
    }
  }
} finally {
  await browser.close();
  await server.close();
}
