// The CPU on several threads (issue 12): cross-origin isolated, the page runs a threaded build
// (Web Workers on shared memory) and the badge shows the count; without isolation (a server that
// drops COOP/COEP) it runs a single-threaded build and the badge says why. Threads classify an
// image as one thread of the same SIMD does: the threaded kernels are bit-identical. Where the
// browser has relaxed SIMD the relaxed builds run (pkg-threads-relaxed/ on several threads,
// pkg-relaxed/ on one; `?simd=128` keeps pkg-threads/ and pkg/), each falling back to its
// SIMD128 twin when it cannot start, which `?simd=relaxed` then says.
// A CPU thread that traps fails its frame at once (no wait for the hang limit) and the engine
// comes back on one thread, saying why. The pool's worker entry, exported to any script, refuses
// a slot no CPU thread waits in, and the page's threaded build carries no test hook.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { launch, withContextPage, BASE_URL } from './support/browser.mjs';
import { waitReady, waitFrames, predictions, backend, messageText, testImageBmp, engineWorker, frames } from './support/page.mjs';
import { serveWeights, ROOT } from './support/server.mjs';
import { startServer } from '../../tools/serve.mjs';

const LONG = { timeout: 300_000 };
const PORT = Number(process.env.E2E_PORT ?? 8087) + 6;
const WEIGHTS_DIR = process.env.WEIGHTS_DIR;
// The threaded build with the test hooks (`build_pkg_threads_testing` in tools/setup.sh, which
// test.sh runs): served in place of pkg-threads/ to the one test that makes a CPU thread trap.
const PKG_THREADS_TESTING = join(ROOT, 'target/pkg-threads-testing');

let browser;
// What one thread of pkg/ shows, to compare every other run with.
let oneThread;
before(async () => {
  browser = await launch({ camera: 'fake', webgpu: false });
  oneThread = await classifyOn(BASE_URL, 'threads=1&simd=128');
});

/** The relaxed build's fused multiply-adds round differently: the same classes, near percents. */
function assertNearOneThread(run) {
  assert.deepEqual(
    run.predictions.map((p) => p.name),
    oneThread.predictions.map((p) => p.name),
  );
  run.predictions.forEach((p, i) => assert.ok(Math.abs(p.percent - oneThread.predictions[i].percent) < 0.05));
}
after(async () => {
  await browser?.close();
});

/**
 * Opens `base` with `query` on the CPU (after `prepare(context)`), classifies the test image, and
 * returns what the page showed: predictions, badge, message, whether it was isolated.
 */
async function classifyOn(base, query, prepare = async () => {}) {
  const context = await browser.newContext({ serviceWorkers: 'block' });
  await prepare(context);
  const page = await context.newPage();
  const logs = [];
  page.on('console', (m) => logs.push(`[${m.type()}] ${m.text()}`));
  page.on('pageerror', (e) => logs.push(`[pageerror] ${e.message}`));
  try {
    await page.goto(`${base}?width=0.5&backend=cpu&camera=0&${query}`);
    await waitReady(page);
    const message = await messageText(page); // before the upload clears it
    const from = await waitFrames(page, 0);
    await page.setInputFiles('#upload', { name: 'disc.bmp', mimeType: 'image/bmp', buffer: testImageBmp() });
    await waitFrames(page, 1, { from });
    return {
      predictions: await predictions(page),
      badge: await backend(page),
      message,
      isolated: await page.evaluate(() => crossOriginIsolated),
      cores: await page.evaluate(() => navigator.hardwareConcurrency),
      logs: logs.join('\n'),
    };
  } finally {
    await context.close();
  }
}

test('isolated, ?threads=2&simd=128 runs pkg-threads/ on two threads, as one thread of pkg/ does', LONG, async () => {
  const two = await classifyOn(BASE_URL, 'threads=2&simd=128');
  assert.equal(two.isolated, true);
  assert.equal(two.badge.name, 'cpu-simd128', two.logs);
  assert.equal(two.badge.text, 'CPU SIMD128 x2', two.logs);
  assert.equal(two.message, '');
  assert.equal(oneThread.badge.text, 'CPU SIMD128 x1');
  assert.equal(two.predictions.length, 5);
  assert.deepEqual(two.predictions, oneThread.predictions);
});

test('a bad ?threads= says so and runs on the default count (the cores, at most 8)', LONG, async () => {
  const bad = await classifyOn(BASE_URL, 'threads=lots&simd=128');
  assert.match(bad.message, /\?threads=lots is not a thread count/);
  const want = Math.min(bad.cores, 8);
  assert.equal(bad.badge.text, `CPU SIMD128 x${want}`, bad.logs);
  assert.deepEqual(bad.predictions, oneThread.predictions);
});

test('more threads than the crate allows run on its most (16), and the badge says so', LONG, async () => {
  const many = await classifyOn(BASE_URL, 'threads=17&simd=128');
  assert.equal(many.badge.text, 'CPU SIMD128 x16 · 17 threads asked for: 16 is the most', many.logs);
  assert.deepEqual(many.predictions, oneThread.predictions);
});

test('not isolated (no COOP/COEP), the single-threaded build runs and the badge says why', LONG, async () => {
  assert.ok(WEIGHTS_DIR, 'WEIGHTS_DIR names the weights the page server uses');
  const server = await serveWeights(WEIGHTS_DIR, PORT, { SERVE_ISOLATION: 'off' });
  try {
    const plain = await classifyOn(server.base, 'threads=2');
    assert.equal(plain.isolated, false);
    assert.equal(plain.badge.name, 'cpu-relaxed', plain.logs);
    assert.equal(plain.badge.text, 'CPU relaxed SIMD x1 · the page is not cross-origin isolated');
    assertNearOneThread(plain);
  } finally {
    server.kill();
  }
});

test('the relaxed-SIMD builds run by default (fused multiply-adds): the same classes, and two threads as one', LONG, async () => {
  const relaxed = await classifyOn(BASE_URL, 'threads=1');
  assert.equal(relaxed.badge.name, 'cpu-relaxed', relaxed.logs);
  assert.equal(relaxed.badge.text, 'CPU relaxed SIMD x1');
  assertNearOneThread(relaxed);
  assert.equal(oneThread.badge.text, 'CPU SIMD128 x1', '?simd=128 keeps pkg/');
  const two = await classifyOn(BASE_URL, 'threads=2');
  assert.equal(two.badge.name, 'cpu-relaxed', two.logs);
  assert.equal(two.badge.text, 'CPU relaxed SIMD x2', two.logs);
  assert.deepEqual(two.predictions, relaxed.predictions);
  const asked = await classifyOn(BASE_URL, 'threads=2&simd=relaxed');
  assert.equal(asked.badge.text, 'CPU relaxed SIMD x2', asked.logs);
  assert.deepEqual(asked.predictions, relaxed.predictions);
});

test('threads fall back to pkg-threads/ when the threaded relaxed build or its threads cannot start (and say why when it was asked for)', LONG, async () => {
  const gone = (context) =>
    context.route('**/pkg-threads-relaxed/shufflenet_web_bg.wasm*', (route) => route.fulfill({ status: 404, body: 'gone' }));
  const quiet = await classifyOn(BASE_URL, 'threads=2', gone);
  assert.equal(quiet.badge.text, 'CPU SIMD128 x2', quiet.logs);
  assert.deepEqual(quiet.predictions, oneThread.predictions);
  const asked = await classifyOn(BASE_URL, 'threads=2&simd=relaxed', gone);
  assert.match(asked.badge.text, /^CPU SIMD128 x2 · the relaxed-SIMD build did not start/, asked.logs);
  assert.deepEqual(asked.predictions, oneThread.predictions);
  // The twin loads but its threads cannot start: its glue's startCpuThreads rejects, as it
  // does when the pool's workers fail to load (which the tests' routes cannot reach: they
  // are workers of the engine's worker).
  const noThreads = (context) =>
    context.route('**/pkg-threads-relaxed/shufflenet_web.js*', async (route) => {
      const response = await route.fetch();
      const glue = (await response.text()).replace(
        'export function startCpuThreads(',
        "export function startCpuThreads() { return Promise.reject(new Error('the CPU threads did not start: refused by the test')); }\nfunction realStartCpuThreads(",
      );
      await route.fulfill({ response, body: glue });
    });
  const stranded = await classifyOn(BASE_URL, 'threads=2&simd=relaxed', noThreads);
  assert.match(stranded.badge.text, /^CPU SIMD128 x2 · the relaxed-SIMD build did not start \(the CPU threads did not start: refused by the test\)/, stranded.logs);
  assert.deepEqual(stranded.predictions, oneThread.predictions);
});

test('one thread falls back to pkg/ when the relaxed build cannot start (and says why when it was asked for)', LONG, async () => {
  const gone = (context) =>
    context.route('**/pkg-relaxed/shufflenet_web_bg.wasm*', (route) => route.fulfill({ status: 404, body: 'gone' }));
  const quiet = await classifyOn(BASE_URL, 'threads=1', gone);
  assert.equal(quiet.badge.text, 'CPU SIMD128 x1', quiet.logs);
  assert.deepEqual(quiet.predictions, oneThread.predictions);
  const asked = await classifyOn(BASE_URL, 'threads=1&simd=relaxed', gone);
  assert.equal(asked.badge.name, 'cpu-simd128', asked.logs);
  assert.match(asked.badge.text, /^CPU SIMD128 x1 · the relaxed-SIMD build did not start/);
  assert.deepEqual(asked.predictions, oneThread.predictions);
  const bad = await classifyOn(BASE_URL, 'threads=1&simd=fast');
  assert.match(bad.message, /\?simd=fast is not one of auto, relaxed, 128/);
  assert.equal(bad.badge.name, 'cpu-relaxed', bad.logs);
});

/**
 * Opens `base` on two threads with ?simd=128 (pkg-threads/, or what stands in for it; the fake
 * camera streams), checks the badge once three frames are in, then runs `fn({ page, logs, glue })`
 * (withContextPage's), `glue` being the URL of the pkg-threads/ glue the engine's worker imported.
 */
async function onTwoThreads(base, fn) {
  await withContextPage(browser, 'width=0.5&backend=cpu&threads=2&simd=128', async ({ page, logs }) => {
    await waitReady(page);
    await waitFrames(page, 3, { from: 0 });
    assert.equal((await backend(page)).text, 'CPU SIMD128 x2', logs.join('\n'));
    // The URL the engine imported (a `?v=` from builds.json): another is another module.
    const glue = await engineWorker(page).evaluate(() => performance.getEntriesByType('resource').map((e) => e.name)
      .find((name) => new URL(name).pathname.endsWith('/pkg-threads/shufflenet_web.js')));
    await fn({ page, logs, glue });
  }, { base });
}

// (The relaxed twin of pkg-threads/ is built from the same code.)
test('the pool worker entry refuses a slot no CPU thread waits in, and the pool runs on; no test hook ships', LONG, () =>
  onTwoThreads(BASE_URL, async ({ page, logs, glue }) => {
    // In the engine's worker, which started the one other thread (slot 0, taken when it joined):
    // a spent slot, one never handed out, and -1 (4294967295 once wasm-bindgen makes it a u32).
    const tried = await engineWorker(page).evaluate(async (glue) => {
      const pkg = await import(glue);
      const tries = [0, 1, -1].map((slot) => {
        let joined = false;
        try {
          pkg.cpuPoolWorker(slot, () => {
            joined = true;
          });
          return { slot, error: null, joined };
        } catch (e) {
          return { slot, error: String(e?.message ?? e), joined };
        }
      });
      return { tries, hook: typeof pkg.trapCpuThreadForTests };
    }, glue);
    const refused = [[0, 0], [1, 1], [-1, 4294967295]].map(([slot, asU32]) => ({
      slot,
      error: `no CPU thread is waiting in slot ${asU32}`,
      joined: false,
    }));
    assert.deepEqual(tried.tries, refused);
    assert.equal(tried.hook, 'undefined', 'pkg-threads/ ships without trapCpuThreadForTests');
    // The pool is untouched: frames go on, on both threads.
    await waitFrames(page, 3, { from: await frames(page) });
    assert.equal((await backend(page)).text, 'CPU SIMD128 x2', logs.join('\n'));
    assert.equal(await page.evaluate(() => document.body.dataset.restarts), undefined, 'no restart');
  }));

test('a CPU thread that traps: the engine fails at once and comes back on one thread, saying why', LONG, async () => {
  assert.ok(WEIGHTS_DIR, 'WEIGHTS_DIR names the weights the page server uses');
  assert.ok(
    existsSync(join(PKG_THREADS_TESTING, 'shufflenet_web.js')),
    `${PKG_THREADS_TESTING} is missing: build it with tools/setup.sh's build_pkg_threads_testing`,
  );
  // Its own server (a free port), with the test build as pkg-threads/.
  const server = await startServer({
    root: ROOT,
    mounts: { weights: WEIGHTS_DIR, 'pkg-threads': PKG_THREADS_TESTING },
  });
  try {
    // The test build stands in for pkg-threads/.
    await onTwoThreads(`${server.url}/`, async ({ page, glue }) => {
      // In the engine's worker, between frames: a split whose part on the other thread panics,
      // which traps that Web Worker (the test hook, which the page never calls).
      const trapped = await engineWorker(page).evaluate(async (glue) => {
        const pkg = await import(glue);
        const since = performance.now();
        const message = pkg.trapCpuThreadForTests(2);
        return { message, ms: performance.now() - since };
      }, glue);
      const since = Date.now();
      assert.match(String(trapped.message), /^a CPU thread failed: /);
      // The engine's next frame finds its pool dead: the page hears of it long before the 30 s
      // a hung frame is given.
      await page.waitForFunction(() => /restarted/.test(document.getElementById('message-text').textContent), null, {
        timeout: 25_000,
      });
      const restartedMs = Date.now() - since;
      const message = await messageText(page);
      console.log(`trap noticed by the caller in ${trapped.ms.toFixed(1)} ms; page restarted ${restartedMs} ms later: ${message}`);
      assert.match(message, /stopped \(the engine crashed \(.*a CPU thread failed: .+\)\)\. It was restarted and reloaded the x0\.5 weights/);
      // On one thread, still ?simd=128: pkg/.
      assert.equal((await backend(page)).text, 'CPU SIMD128 x1 · a CPU thread failed');
      await waitFrames(page, 5, { from: await frames(page) });
      assert.equal(await page.evaluate(() => document.body.dataset.restarts), '1');
      assert.equal(await page.evaluate(() => document.body.dataset.state), 'ready');
    });
  } finally {
    await server.close();
  }
});
