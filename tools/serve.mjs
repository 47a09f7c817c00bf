// Static file server for the page on 127.0.0.1: correct MIME types (application/wasm for
// streaming compilation), no caching of the dev build, and the cross-origin isolation
// headers that wasm threads need.
import { createServer } from 'node:http';
import { createReadStream, statSync } from 'node:fs';
import { extname, join, normalize, resolve } from 'node:path';

const root = resolve(process.argv[2] ?? '.');
const port = Number(process.env.PORT ?? process.argv[3] ?? 8080);
const host = process.env.HOST ?? '127.0.0.1';
// /weights/ may live elsewhere (the tests use their own stand-ins, not the user's weights/).
const weightsDir = resolve(process.env.WEIGHTS_DIR ?? join(root, 'weights'));
const types = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.mjs': 'text/javascript',
  '.css': 'text/css', '.json': 'application/json', '.wasm': 'application/wasm',
  '.png': 'image/png', '.jpg': 'image/jpeg', '.svg': 'image/svg+xml',
  '.safetensors': 'application/octet-stream', '.pth': 'application/octet-stream',
  '.onnx': 'application/octet-stream', '.txt': 'text/plain; charset=utf-8',
};

createServer((req, res) => {
  const url = new URL(req.url, 'http://x');
  const rel = decodeURIComponent(url.pathname);
  const [base, sub] = rel.startsWith('/weights/') ? [weightsDir, rel.slice(9)] : [root, rel];
  let path = normalize(join(base, sub));
  if (!path.startsWith(base)) { res.writeHead(403).end('forbidden'); return; }
  try {
    if (statSync(path).isDirectory()) path = join(path, 'index.html');
    const size = statSync(path).size;
    res.writeHead(200, {
      'Content-Type': types[extname(path)] ?? 'application/octet-stream',
      'Content-Length': size,
      'Cache-Control': 'no-cache',
      'Cross-Origin-Opener-Policy': 'same-origin',
      'Cross-Origin-Embedder-Policy': 'require-corp',
    });
    if (req.method === 'HEAD') { res.end(); return; }
    createReadStream(path).pipe(res);
  } catch {
    res.writeHead(404, { 'Content-Type': 'text/html' }).end('<!DOCTYPE html><h1>404 Not Found</h1>');
  }
}).listen(port, host, () => console.log(`serving ${root} on http://${host}:${port}/`));
