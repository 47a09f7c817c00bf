// On a 390 x 844 phone screen the toolbar wraps with no horizontal overflow, every control stays
// on screen, and the badge names the WebGPU adapter once ("WebGPU · SwiftShader…", not twice).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { launch, openPage } from './support/browser.mjs';
import { waitReady, waitFrames, backend } from './support/page.mjs';

const LONG = { timeout: 300_000 };
const PHONE = { viewport: { width: 390, height: 844 } };

/** Fails when the page scrolls sideways or a toolbar control ends off screen. */
async function assertFits(page) {
  const { scroll, inner } = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, inner: innerWidth }));
  assert.ok(scroll <= inner, `page is ${scroll} px wide on a ${inner} px screen`);
  for (const id of ['backend', 'backend-switch', 'width', 'pause', 'teach-toggle']) {
    const right = await page.$eval(`#${id}`, (e) => e.getBoundingClientRect().right);
    assert.ok(right <= inner, `#${id} ends at ${right} px`);
  }
}

test('a 390 px phone screen: no horizontal overflow, the adapter named once', LONG, async () => {
  const gpuBrowser = await launch({ camera: 'fake' });
  try {
    const { context, page } = await openPage(gpuBrowser, 'width=0.5&backend=webgpu', PHONE);
    await waitReady(page, 240_000);
    await waitFrames(page, 1, { timeout: 240_000 });
    await assertFits(page);
    const badge = await backend(page);
    assert.equal(badge.kind, 'gpu', `badge: ${badge.text}`);
    assert.equal(badge.text.match(/webgpu/gi)?.length, 1, `badge: ${badge.text}`);
    assert.match(badge.text, /^WebGPU · \S/, `the adapter follows the backend: ${badge.text}`);
    await context.close();
  } finally {
    await gpuBrowser.close();
  }
});

test('a 390 px phone screen on the CPU: the badge with its thread count still fits', LONG, async () => {
  const browser = await launch({ camera: 'fake', webgpu: false });
  try {
    const { context, page } = await openPage(browser, 'width=0.5&backend=cpu', PHONE);
    await waitReady(page);
    await waitFrames(page, 1);
    assert.equal((await backend(page)).kind, 'cpu');
    await assertFits(page);
    await context.close();
  } finally {
    await browser.close();
  }
});
