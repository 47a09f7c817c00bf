// tools/serve.mjs's precompressed files, caching and public host names, and
// tools/precompress.mjs: what a static host (or a CDN in front of ./run.sh) relies on.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { precompress } from '../../tools/precompress.mjs';
import { startServer } from '../../tools/serve.mjs';

let dir;
let server;
const APP = `${'console.log("a fairly repetitive script");\n'.repeat(200)}`;
const WEIGHTS = Buffer.alloc(4096, 7);
const WEIGHTS_SHA = createHash('sha256').update(WEIGHTS).digest('hex');

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'encoding-test-'));
  mkdirSync(join(dir, 'www'));
  mkdirSync(join(dir, 'weights'));
  writeFileSync(join(dir, 'www/app.js'), APP);
  writeFileSync(join(dir, 'www/tiny.js'), 'x();');
  writeFileSync(join(dir, 'www/stale.js'), APP);
  writeFileSync(join(dir, 'weights/w.safetensors'), WEIGHTS);
  const counts = precompress([join(dir, 'www'), join(dir, 'weights'), join(dir, 'missing')]);
  // app.js and stale.js: the tiny file and the weights get no siblings.
  assert.equal(counts.written, 2);
  // stale.js edited after the build: its siblings are older and must not be served.
  writeFileSync(join(dir, 'www/stale.js'), `${APP}// edited\n`);
  const later = new Date(Date.now() + 5000);
  utimesSync(join(dir, 'www/stale.js'), later, later);
  server = await startServer({ root: dir, allowedHostNames: ['demo.example.org', 'alt.example.org:8443'] });
});

after(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

function get(path, headers = {}) {
  return new Promise((ok, fail) => {
    const req = request({ host: '127.0.0.1', port: server.port, path, headers: { host: `127.0.0.1:${server.port}`, ...headers } }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => ok({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', fail);
    req.end();
  });
}

test('brotli when accepted, else gzip, else the file itself; always Vary', async () => {
  const br = await get('/www/app.js', { 'accept-encoding': 'gzip, deflate, br' });
  assert.equal(br.headers['content-encoding'], 'br');
  assert.equal(br.headers['vary'], 'Accept-Encoding');
  assert.equal(br.headers['content-type'], 'text/javascript; charset=utf-8');
  assert.equal(brotliDecompressSync(br.body).toString(), APP);
  assert.ok(br.body.length < APP.length / 10, `${br.body.length} bytes`);

  const gz = await get('/www/app.js', { 'accept-encoding': 'gzip, br;q=0' });
  assert.equal(gz.headers['content-encoding'], 'gzip');
  assert.equal(gunzipSync(gz.body).toString(), APP);
  assert.notEqual(gz.headers.etag, br.headers.etag, 'each encoding has its own validator');

  const plain = await get('/www/app.js');
  assert.equal(plain.headers['content-encoding'], undefined);
  assert.equal(plain.headers['vary'], 'Accept-Encoding');
  assert.equal(plain.body.toString(), APP);
});

test('a source newer than its siblings goes out as it is', async () => {
  const res = await get('/www/stale.js', { 'accept-encoding': 'br, gzip' });
  assert.equal(res.headers['content-encoding'], undefined);
  assert.match(res.body.toString(), /edited/);
});

test('a conditional GET of the compressed file revalidates', async () => {
  const first = await get('/www/app.js', { 'accept-encoding': 'br' });
  const again = await get('/www/app.js', { 'accept-encoding': 'br', 'if-none-match': first.headers.etag });
  assert.equal(again.status, 304);
});

test('?v= naming the content pins it forever; anything else revalidates', async () => {
  const pinned = await get(`/weights/w.safetensors?v=${WEIGHTS_SHA.slice(0, 16)}`);
  assert.equal(pinned.status, 200);
  assert.equal(pinned.headers['cache-control'], 'public, max-age=31536000, immutable');
  assert.equal(pinned.headers['content-encoding'], undefined, 'weights are not compressed');
  const wrong = await get('/weights/w.safetensors?v=0123456789abcdef');
  assert.equal(wrong.headers['cache-control'], 'no-cache');
  const bare = await get('/www/app.js');
  assert.equal(bare.headers['cache-control'], 'no-cache');
});

test('a reverse proxy\'s public host is accepted when configured, others are not', async () => {
  assert.equal((await get('/www/app.js', { host: 'demo.example.org' })).status, 200);
  assert.equal((await get('/www/app.js', { host: 'DEMO.example.org:443' })).status, 403, 'a port not configured');
  assert.equal((await get('/www/app.js', { host: `demo.example.org:${server.port}` })).status, 200);
  assert.equal((await get('/www/app.js', { host: 'alt.example.org:8443' })).status, 200);
  assert.equal((await get('/www/app.js', { host: 'alt.example.org' })).status, 403);
  assert.equal((await get('/www/app.js', { host: 'evil.example.com' })).status, 403);
  assert.equal(readFileSync(join(dir, 'www/app.js'), 'utf8'), APP);
});
