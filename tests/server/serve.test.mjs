// tools/serve.mjs against a table of hostile requests, sent byte for byte over a socket (no
// URL normalisation on the way): each gets the right answer, with the isolation and security
// headers, and the server keeps serving.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { CSP, startServer } from '../../tools/serve.mjs';

const INDEX = '<!doctype html><title>page</title>';
const APP = 'console.log("app");';
const SECRET = 'SECRET-OUTSIDE-THE-ROOT';
let dir;
let server;

before(async () => {
  // tmp/site is the root; tmp/site-x and tmp/weights-x are siblings sharing its prefix.
  dir = mkdtempSync(join(tmpdir(), 'serve-test-'));
  const site = join(dir, 'site');
  for (const d of ['site/www', 'site/sub', 'site/empty', 'site/.git', 'site-x', 'weights', 'weights-x', 'outside']) {
    mkdirSync(join(dir, d), { recursive: true });
  }
  writeFileSync(join(site, 'index.html'), INDEX);
  writeFileSync(join(site, 'www/app.js'), APP);
  writeFileSync(join(site, 'www/.hidden'), SECRET);
  writeFileSync(join(site, 'sub/index.html'), INDEX);
  writeFileSync(join(site, '.git/config'), SECRET);
  writeFileSync(join(site, '.env'), SECRET);
  writeFileSync(join(dir, 'site-x/secret'), SECRET);
  writeFileSync(join(dir, 'weights-x/secret'), SECRET);
  writeFileSync(join(dir, 'outside/secret.txt'), SECRET);
  writeFileSync(join(dir, 'weights/manifest.json'), '{"widths": {}}');
  symlinkSync(join(dir, 'outside/secret.txt'), join(site, 'link-out'));
  symlinkSync(join(dir, 'outside'), join(site, 'dir-out'));
  symlinkSync(join(site, 'www/app.js'), join(site, 'link-in'));
  symlinkSync(join(dir, 'weights-x/secret'), join(dir, 'weights/link-out'));
  writeFileSync(join(site, 'unreadable.txt'), APP);
  chmodSync(join(site, 'unreadable.txt'), 0);
  execFileSync('mkfifo', [join(site, 'fifo.js')]);
  server = await startServer({ root: site, mounts: { weights: join(dir, 'weights') } });
});

after(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** One raw HTTP/1.1 exchange: the request as written, the response as parsed. */
function raw(request) {
  return new Promise((ok, fail) => {
    const socket = connect(server.port, '127.0.0.1');
    const chunks = [];
    socket.setTimeout(5000, () => socket.destroy(new Error(`no answer to ${JSON.stringify(request.slice(0, 80))}`)));
    socket.on('data', (c) => chunks.push(c));
    socket.on('error', fail);
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('latin1');
      const [head, ...rest] = text.split('\r\n\r\n');
      const [statusLine, ...lines] = head.split('\r\n');
      const headers = Object.fromEntries(lines.map((l) => {
        const i = l.indexOf(':');
        return [l.slice(0, i).toLowerCase(), l.slice(i + 1).trim()];
      }));
      ok({ status: Number(statusLine.split(' ')[1]), headers, body: rest.join('\r\n\r\n') });
    });
    // Written, not ended: a half-closed socket may be dropped before an async answer.
    socket.write(request);
  });
}

function get(path, { method = 'GET', host = `127.0.0.1:${server.port}`, headers = '' } = {}) {
  const hostLine = host === null ? '' : `Host: ${host}\r\n`;
  return raw(`${method} ${path} HTTP/1.1\r\n${hostLine}${headers}Connection: close\r\n\r\n`);
}

function assertHeaders(res, what) {
  assert.equal(res.headers['cross-origin-opener-policy'], 'same-origin', what);
  assert.equal(res.headers['cross-origin-embedder-policy'], 'require-corp', what);
  assert.equal(res.headers['cross-origin-resource-policy'], 'same-origin', what);
  assert.equal(res.headers['x-content-type-options'], 'nosniff', what);
  assert.equal(res.headers['content-security-policy'], CSP, what);
}

const HOSTILE = [
  // [what, path, expected status, options]
  ['encoded traversal', '/..%2f..', 400],
  ['encoded traversal to a file', '/..%2f..%2f..%2fetc%2fpasswd', 400],
  ['sibling prefix of the root', '/..%2fsite-x/secret', 400],
  ['sibling prefix of the weights dir', '/weights/..%2fweights-x/secret', 400],
  ['encoded dot segments', '/%2e%2e/site-x/secret', 400],
  ['raw dot segments', '/../site-x/secret', 400],
  ['raw dot segments in the mount', '/weights/../../site-x/secret', 400],
  ['encoded backslash', '/..%5csite-x%5csecret', 400],
  ['malformed escape', '/%', 400],
  ['malformed escape in a segment', '/www/%zz.js', 400],
  ['encoded NUL', '/index.html%00.js', 400],
  ['double slash', '//', 400],
  ['protocol-relative path', '//evil.example/x', 400],
  ['absolute-form target', 'http://evil.example/', 400],
  ['dotfile in the root', '/.git/config', 404],
  ['dotenv', '/.env', 404],
  ['dotfile in a folder', '/www/.hidden', 404],
  ['symlink out of the root', '/link-out', 404],
  ['symlinked folder out of the root', '/dir-out/secret.txt', 404],
  ['symlink out of the weights dir', '/weights/link-out', 404],
  ['directory without index', '/empty/', 404],
  ['a file as a directory', '/www/app.js/', 404],
  ['missing file', '/nothing-here.js', 404],
  ['a FIFO (stats, never ends)', '/fifo.js', 404],
  ['a long URL', `/${'a'.repeat(5000)}`, 414],
  ['wrong Host (DNS rebinding)', '/', 403, { host: 'evil.example' }],
  ['wrong port in Host', '/', 403, { host: '127.0.0.1:1' }],
  ['no Host', '/', 403, { host: null }],
  ['POST', '/', 405, { method: 'POST' }],
  ['DELETE', '/www/app.js', 405, { method: 'DELETE' }],
];

for (const [what, path, status, options] of HOSTILE) {
  test(`${what}: ${path.slice(0, 40)} is ${status}, and the server keeps serving`, async () => {
    const res = await get(path, options);
    assert.equal(res.status, status, `${what}: ${res.status} ${res.body.slice(0, 200)}`);
    assertHeaders(res, what);
    assert.ok(!res.body.includes(SECRET), `${what} leaked the secret`);
    const page = await get('/');
    assert.equal(page.status, 200, `after ${what}`);
    assert.equal(page.body, INDEX);
  });
}

test('files are served with a strong ETag (their SHA-256), Last-Modified and conditional GET', async () => {
  const res = await get('/www/app.js');
  assert.equal(res.status, 200);
  assertHeaders(res, 'a file');
  assert.equal(res.body, APP);
  assert.match(res.headers['content-type'], /^text\/javascript/);
  const sha = createHash('sha256').update(APP).digest('hex');
  assert.equal(res.headers.etag, `"${sha}"`);
  assert.ok(Date.parse(res.headers['last-modified']) > 0, res.headers['last-modified']);
  const again = await get('/www/app.js', { headers: `If-None-Match: ${res.headers.etag}\r\n` });
  assert.equal(again.status, 304);
  assertHeaders(again, '304');
  const range = await get('/www/app.js', { headers: 'Range: bytes=0-6\r\n' });
  assert.equal(range.status, 206);
  assert.equal(range.body, APP.slice(0, 7));
});

test('HEAD, the index, redirects, symlinks inside the root, the weights mount, localhost', async () => {
  const head = await get('/www/app.js', { method: 'HEAD' });
  assert.equal(head.status, 200);
  assert.equal(Number(head.headers['content-length']), APP.length);
  assert.equal(head.body, '');
  assertHeaders(head, 'HEAD');
  assert.equal((await get('/sub/')).body, INDEX);
  const redirect = await get('/sub');
  assert.equal(redirect.status, 301);
  assert.equal(redirect.headers.location, '/sub/');
  assertHeaders(redirect, 'redirect');
  assert.equal((await get('/link-in')).body, APP);
  const manifest = await get('/weights/manifest.json');
  assert.equal(manifest.status, 200);
  assert.match(manifest.headers['content-type'], /^application\/json/);
  assert.equal((await get('/', { host: `localhost:${server.port}` })).status, 200);
  // HTTP/1.0 may omit Host: then no Host names this server.
  const old = await raw('GET / HTTP/1.0\r\n\r\n');
  assert.equal(old.status, 403);
  assertHeaders(old, 'HTTP/1.0');
});

test('an unreadable file is refused, not a crash', async () => {
  // root reads any file regardless of its mode
  const want = process.getuid?.() === 0 ? 200 : 403;
  const res = await get('/unreadable.txt');
  assert.equal(res.status, want);
  assertHeaders(res, 'unreadable');
  assert.equal((await get('/')).status, 200);
});

test('requests Node cannot parse get a 4xx with the headers, and the server keeps serving', async () => {
  for (const request of [
    'GARBAGE\r\n\r\n',
    `GET /${'a'.repeat(20000)} HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\n\r\n`,
  ]) {
    const res = await raw(request);
    assert.ok(res.status >= 400 && res.status < 500, `${res.status}`);
    assertHeaders(res, request.slice(0, 20));
  }
  assert.equal((await get('/')).status, 200);
});
