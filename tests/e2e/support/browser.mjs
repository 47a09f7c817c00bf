// Launches Debian's chromium through playwright-core (never a downloaded browser) with WebGPU on
// SwiftShader and, optionally, a fake webcam playing a generated clip.

import { chromium } from 'playwright-core';
import { before, after } from 'node:test';
import { join } from 'node:path';
import { scratchDir } from './scratch.mjs';
import { writeClip } from './y4m.mjs';

export const BASE_URL = (process.env.SHUFFLENET_URL ?? 'http://127.0.0.1:8080').replace(/\/?$/, '/');
export const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';

const COMMON = ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--no-first-run'];
const WEBGPU = ['--enable-unsafe-webgpu', '--enable-features=Vulkan', '--use-vulkan=swiftshader', '--use-webgpu-adapter=swiftshader'];

let clip = null;
function fakeClip() {
  clip ??= writeClip(join(scratchDir('shufflenet-e2e'), 'clip.y4m'));
  return clip;
}

/**
 * camera: 'fake' (one camera playing the clip, permission granted), 'two' (Chromium's two
 * built-in test-pattern cameras; a file source always yields a single device) or 'denied'
 * (permission refused); webgpu: false hides WebGPU from the page entirely.
 */
export async function launch({ camera = 'fake', webgpu = true } = {}) {
  const gpu = webgpu ? WEBGPU : ['--disable-blink-features=WebGPU'];
  const args = [...COMMON, ...gpu];
  if (camera === 'two') args.push('--use-fake-device-for-media-stream=device-count=2', '--use-fake-ui-for-media-stream');
  else args.push('--use-fake-device-for-media-stream');
  if (camera === 'fake') args.push('--use-fake-ui-for-media-stream', `--use-file-for-fake-video-capture=${fakeClip()}`);
  if (camera === 'denied') args.push('--deny-permission-prompts');
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args });
  return browser;
}

/**
 * Opens the page (at `base`, the shared server unless told) with the given query and collects
 * console errors for failure messages. The page's service worker is blocked unless
 * `serviceWorkers: 'allow'` (requests it served would escape the tests' routes, and the tests'
 * own server isolates the page anyway).
 */
export async function openPage(browser, query = '', { viewport = { width: 1280, height: 860 }, serviceWorkers = 'block', base = BASE_URL } = {}) {
  const context = await browser.newContext({ viewport, serviceWorkers });
  const page = await context.newPage();
  const logs = [];
  page.on('console', (m) => logs.push(`[${m.type()}] ${m.text()}`));
  page.on('pageerror', (e) => logs.push(`[pageerror] ${e.message}`));
  await page.goto(new URL(query ? `?${query}` : '', base).href);
  return { context, page, logs };
}

/** Runs `fn()`; an error it throws gets the page log `logs` (openPage's) added to its message. */
export async function withPageLog(logs, fn) {
  try {
    return await fn();
  } catch (err) {
    err.message += `\n--- page log ---\n${logs.join('\n')}`;
    throw err;
  }
}

/** Launches one browser (launch's options) before a file's tests, closes it after them; returns a getter for it (not for the file's other before hooks: they do not wait for it). */
export function browserForFile(options) {
  let browser;
  before(async () => {
    browser = await launch(options);
  });
  after(async () => {
    await browser?.close();
  });
  return () => browser;
}

/** Opens `query` in a new context of `browser` (openPage), runs `fn({ context, page, logs })` with withPageLog, closes the context. */
export async function withContextPage(browser, query, fn, pageOptions) {
  const opened = await openPage(browser, query, pageOptions);
  try {
    return await withPageLog(opened.logs, () => fn(opened));
  } finally {
    await opened.context.close();
  }
}

/** Launches a browser of its own (`camera` and launch's options), opens `query` (openPage), runs `fn(page)` with withPageLog, closes the browser. */
export async function withBrowserPage(camera, query, fn, launchOptions = {}, pageOptions) {
  const browser = await launch({ camera, ...launchOptions });
  try {
    const { page, logs } = await openPage(browser, query, pageOptions);
    await withPageLog(logs, () => fn(page));
  } finally {
    await browser.close();
  }
}
