// The server as ./run.sh starts it (`node tools/serve.mjs ROOT --public-host ...`, or
// SERVE_ALLOWED_HOSTS) behind a reverse proxy: the proxy forwards the public Host, which names
// the proxy's port (or none), not the server's, and must be accepted only when configured.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const SERVE = fileURLToPath(new URL('../../tools/serve.mjs', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'public-host-test-'));
writeFileSync(join(dir, 'index.html'), '<!doctype html><title>t</title>');
const children = [];

after(() => {
  for (const child of children) child.kill();
  rmSync(dir, { recursive: true, force: true });
});

/** Starts the server's command line on a free port; resolves to that port. */
function start(args, env = {}) {
  const child = spawn(process.execPath, [SERVE, dir, ...args], { env: { ...process.env, PORT: '0', ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  return new Promise((ok, fail) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/on http:\/\/127\.0\.0\.1:(\d+)\//);
      if (m) ok(Number(m[1]));
    });
    child.on('exit', (code) => fail(new Error(`serve.mjs exited with ${code}: ${out}`)));
  });
}

function status(port, host) {
  return new Promise((ok, fail) => {
    const req = request({ host: '127.0.0.1', port, path: '/', headers: { host } }, (res) => {
      res.resume();
      ok(res.statusCode);
    });
    req.on('error', fail);
    req.end();
  });
}

test('--public-host: the proxy\'s Host with its own port, or none for 443, is accepted', async () => {
  const port = await start(['--public-host', 'demo.example.org:443', '--public-host', 'alt.example.org:8443']);
  assert.equal(await status(port, 'demo.example.org'), 200, 'a browser sends no :443');
  assert.equal(await status(port, 'demo.example.org:443'), 200);
  assert.equal(await status(port, 'alt.example.org:8443'), 200);
  assert.equal(await status(port, 'alt.example.org'), 403, 'only 80 and 443 may be left out');
  assert.equal(await status(port, 'demo.example.org:8080'), 403);
  assert.equal(await status(port, 'evil.example.com'), 403);
  assert.equal(await status(port, `127.0.0.1:${port}`), 200, 'the local address still works');
});

test('SERVE_ALLOWED_HOSTS lists public hosts; without it a proxy\'s Host is refused', async () => {
  const port = await start([], { SERVE_ALLOWED_HOSTS: ' demo.example.org , alt.example.org:8443' });
  assert.equal(await status(port, 'demo.example.org'), 200);
  assert.equal(await status(port, `demo.example.org:${port}`), 200);
  assert.equal(await status(port, 'alt.example.org:8443'), 200);
  const plain = await start([], { SERVE_ALLOWED_HOSTS: '' });
  assert.equal(await status(plain, 'demo.example.org'), 403);
  assert.equal(await status(plain, `localhost:${plain}`), 200);
});
