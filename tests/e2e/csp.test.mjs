// The page under tools/serve.mjs's headers: cross-origin isolated, and its Content Security
// Policy blocks nothing the page does (wasm in the worker, the webcam, an uploaded image).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { browserForFile, withContextPage, BASE_URL } from './support/browser.mjs';
import { waitReady, waitFrames, testImageBmp } from './support/page.mjs';

const LONG = { timeout: 300_000 };
const browser = browserForFile({ camera: 'fake', webgpu: false });

test('the page runs cross-origin isolated with no CSP violation', LONG, () =>
  withContextPage(browser(), 'width=0.5&backend=cpu', async ({ context, page, logs }) => {
    const res = await page.request.get(BASE_URL);
    assert.match(res.headers()['content-security-policy'], /wasm-unsafe-eval/);
    // Listening from the first byte of the page: reload with the listener installed.
    await context.addInitScript(() => {
      window.cspViolations = [];
      document.addEventListener('securitypolicyviolation', (e) => window.cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`));
    });
    await page.reload();
    await waitReady(page);
    const seen = await waitFrames(page, 2, { from: 0 });
    await page.setInputFiles('#upload', { name: 'disc.bmp', mimeType: 'image/bmp', buffer: testImageBmp() });
    await waitFrames(page, 1, { from: seen });
    assert.equal(await page.evaluate(() => crossOriginIsolated), true);
    assert.deepEqual(await page.evaluate(() => window.cspViolations), []);
    const refused = logs.filter((l) => /Content Security Policy|Refused to/i.test(l));
    assert.deepEqual(refused, [], logs.join('\n'));
  }));
