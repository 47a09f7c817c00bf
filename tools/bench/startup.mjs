// The page's first minute, as a visitor on a slow link sees it (`./bench.sh --startup`): the
// page served by tools/serve.mjs behind tools/bench/throttle.mjs (20 Mbit/s, 40 ms round trip
// by default), opened in a fresh Chromium profile (cold) and then reloaded (warm), per width,
// with WebGPU hidden and with a software WebGPU adapter (SwiftShader). One JSON line per visit:
// bytes received before the first prediction, ms to it, the backend it ran on, and under
// `auto` the backend the page settled on and when.
//
//   node tools/bench/startup.mjs [--width 0.5,1.0] [--mbps 20] [--rtt 40] [--webgpu both|on|off]
//                                [--query 'sw=0&threads=1'] (more page options)
//                                [--host project|static] (./run.sh's server, or `./run.sh --export`
//                                served by `python3 -m http.server`: no headers, no compression)
//   env: WEIGHTS_DIR (default weights/), CHROMIUM
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';
import { scratchDir } from '../../tests/e2e/support/scratch.mjs';
import { writeClip } from '../../tests/e2e/support/y4m.mjs';
import { exportSite } from '../export.mjs';
import { startServer } from '../serve.mjs';
import { startThrottle } from './throttle.mjs';

const ROOT = resolve(import.meta.dirname, '../..');
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const COMMON = ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--no-first-run',
  '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream'];
const WEBGPU = ['--enable-unsafe-webgpu', '--enable-features=Vulkan', '--use-vulkan=swiftshader', '--use-webgpu-adapter=swiftshader'];
// How long `auto` may take to settle before the visit is reported as unsettled.
const SETTLE_MS = 120_000;

const { values } = parseArgs({
  options: {
    width: { type: 'string', default: '0.5,1.0' },
    mbps: { type: 'string', default: '20' },
    rtt: { type: 'string', default: '40' },
    webgpu: { type: 'string', default: 'both' },
    query: { type: 'string', default: '' },
    host: { type: 'string', default: 'project' },
  },
});
const widths = values.width.split(',');
const gpuModes = { both: [false, true], on: [true], off: [false] }[values.webgpu];
if (!gpuModes) throw new Error(`--webgpu is both, on or off, not ${values.webgpu}`);
if (!['project', 'static'].includes(values.host)) throw new Error(`--host is project or static, not ${values.host}`);

/** Waits for `fn` in the page, across the service worker's one reload on a static host. */
async function waitInPage(page, fn, timeout) {
  const end = Date.now() + timeout;
  for (;;) {
    try {
      return await page.waitForFunction(fn, null, { timeout: Math.max(1, end - Date.now()), polling: 20 });
    } catch (err) {
      if (!/context was destroyed|navigation/i.test(err.message) || Date.now() > end) throw err;
    }
  }
}

/** One visit: from navigation to the first prediction, then (under auto) to the settled backend. */
async function visit(page, link, url, visitKind) {
  link.reset();
  const start = performance.now();
  await (visitKind === 'cold' ? page.goto(url) : page.reload());
  await waitInPage(page, () => Number(document.body.dataset.frames ?? 0) >= 1, 120_000);
  const first = performance.now() - start;
  const bytes = link.bytes.down;
  // The page's own marks (www/app.js), in ms since navigation: where the wait went.
  const phases = await page.evaluate(() => Object.fromEntries(
    performance.getEntriesByType('mark')
      .filter((m) => m.name.startsWith('shufflenet:'))
      .map((m) => [m.name.slice('shufflenet:'.length), Math.round(m.startTime)]),
  ));
  const firstBackend = await page.$eval('[data-testid="backend"]', (b) => b.dataset.backend);
  // Settled: the note gives the measurement's verdict, or says why there is no WebGPU.
  const settled = await waitInPage(page, () => {
    const note = document.getElementById('backend-note').textContent;
    return document.body.dataset.choice === 'settled' ? note || 'settled' : null;
  }, SETTLE_MS).then((h) => h.jsonValue(), () => null);
  return {
    bytes_before_first_prediction: bytes,
    ms_to_first_prediction: Math.round(first),
    first_backend: firstBackend,
    backend_chosen: await page.$eval('[data-testid="backend"]', (b) => b.dataset.backend),
    ms_to_final_backend: settled ? Math.round(performance.now() - start) : null,
    why: settled,
    badge: await page.$eval('[data-testid="backend"]', (b) => b.textContent.trim()),
    isolated: await page.evaluate(() => crossOriginIsolated),
    phases,
  };
}

const clip = writeClip(join(scratchDir('startup-clip'), 'clip.y4m'));
let server;
const link = await startThrottle({
  target: () => ({ host: '127.0.0.1', port: server.port }),
  mbps: Number(values.mbps),
  rttMs: Number(values.rtt),
});
const weightsDir = process.env.WEIGHTS_DIR ?? join(ROOT, 'weights');
if (values.host === 'project') {
  server = await startServer({ root: ROOT, mounts: { weights: weightsDir }, allowedHostNames: [`127.0.0.1:${link.port}`] });
} else {
  server = await staticHost(weightsDir);
}

/** The exported site behind `python3 -m http.server`, a host that sends no headers. */
async function staticHost(weights) {
  const dir = scratchDir('startup-export');
  exportSite(dir, weights);
  const port = 20_000 + Math.floor(Math.random() * 20_000);
  const child = spawn('python3', ['-m', 'http.server', String(port), '--bind', '127.0.0.1', '--directory', dir], { stdio: 'ignore' });
  for (let i = 0; i < 100; i++) {
    if (await fetch(`http://127.0.0.1:${port}/index.html`).then((r) => r.ok, () => false)) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    port,
    close: async () => {
      child.kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

try {
  for (const webgpu of gpuModes) {
    for (const width of widths) {
      const profile = scratchDir('startup-profile');
      const args = [...COMMON, `--use-file-for-fake-video-capture=${clip}`, ...(webgpu ? WEBGPU : ['--disable-blink-features=WebGPU'])];
      const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args });
      try {
        const page = context.pages()[0] ?? (await context.newPage());
        const logs = [];
        page.on('console', (m) => logs.push(`[${m.type()}] ${m.text()}`));
        page.on('pageerror', (e) => logs.push(`[pageerror] ${e.message}`));
        const url = `http://127.0.0.1:${link.port}/?width=${width}${values.query ? `&${values.query}` : ''}`;
        for (const visitKind of ['cold', 'warm']) {
          const r = await visit(page, link, url, visitKind).catch((err) => {
            process.stderr.write(`--- page log ---\n${logs.join('\n')}\n`);
            throw err;
          });
          const line = { startup: true, host: values.host, width, visit: visitKind, webgpu: webgpu ? 'software' : 'none', mbps: Number(values.mbps), rtt_ms: Number(values.rtt), ...r };
          process.stdout.write(`${JSON.stringify(line)}\n`);
        }
      } finally {
        await context.close();
        rmSync(profile, { recursive: true, force: true });
      }
    }
  }
} finally {
  await link.close();
  await server.close();
}
