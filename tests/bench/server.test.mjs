// The bench's server (tools/serve.mjs `serve`) serves only the folders the bench page needs,
// with the headers it relies on.
import assert from 'node:assert/strict';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { serve } from '../../tools/serve.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

test('serves the bench page cross-origin isolated, and nothing outside the served folders', async () => {
  const server = await serve(ROOT);
  try {
    const page = await fetch(`${server.url}/www/bench.html`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type'), /^text\/html/);
    assert.equal(page.headers.get('cross-origin-opener-policy'), 'same-origin');
    assert.equal(page.headers.get('cross-origin-embedder-policy'), 'require-corp');
    assert.match(await page.text(), /bench\.js/);

    const script = await fetch(`${server.url}/www/bench.js`);
    assert.match(script.headers.get('content-type'), /^text\/javascript/);
    await script.text();

    for (const [path, status] of [
      ['/Cargo.toml', 404],
      ['/src/lib.rs', 404],
      ['/www/../Cargo.toml', 404], // fetch normalises this to /Cargo.toml
      ['/www/%2e%2e/Cargo.toml', 404], // so is this (raw paths: tests/server/)
      ['/node_modules/send/index.js', 404],
      ['/www/missing.js', 404],
      ['/www/', 404],
    ]) {
      const res = await fetch(`${server.url}${path}`);
      assert.equal(res.status, status, path);
      assert.equal(res.headers.get('cross-origin-embedder-policy'), 'require-corp', path);
      await res.text();
    }
  } finally {
    await server.close();
  }
});
