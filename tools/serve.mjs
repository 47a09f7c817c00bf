// The one static file server, for the page (./run.sh, the e2e tests) and the bench
// (tools/bench.mjs). Files go out through `send` (expressjs: Range, conditional GET,
// Last-Modified); this module decides what may be served and sets the headers:
// - cross-origin isolation (COOP/COEP/CORP), nosniff and a CSP on every response, errors too;
// - a strong ETag, the file's SHA-256 (the same hex weights/manifest.json lists);
// - a precompressed sibling (`F.br`, `F.gz`, written by tools/precompress.mjs) in place of F
//   when the client accepts it and the sibling is not older than F, with Content-Encoding and
//   `Vary: Accept-Encoding`;
// - caching: a request whose `?v=` is the start of the file's SHA-256 (the manifest's weights
//   URLs) names one content forever: `immutable`; everything else revalidates (`no-cache`);
// - only GET and HEAD; the Host header must name the address the server is bound to
//   (DNS rebinding), or a public name given in SERVE_ALLOWED_HOSTS / --public-host (a reverse
//   proxy in front: its Host carries its own port, or none); bound to 127.0.0.1 unless HOST
//   says otherwise;
// - canonical paths only (malformed escapes, empty or dot segments and encoded slashes are
//   400), no dotfiles, nothing whose real path (symlinks resolved) leaves its root: 404.
//
//   node tools/serve.mjs [ROOT] [PORT] [--public-host NAME[:PORT]]...
//   env: PORT, HOST, WEIGHTS_DIR, SERVE_ALLOWED_HOSTS (comma-separated public hosts), SERVE_ISOLATION
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { createServer } from 'node:http';
import { networkInterfaces } from 'node:os';
import { extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import send from 'send';

export const MAX_URL_LENGTH = 2048;

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.svg': 'image/svg+xml',
  '.txt': 'text/plain; charset=utf-8',
  '.md': 'text/plain; charset=utf-8',
};

// What the page and the bench need: their own scripts and wasm (compiled from bytes:
// wasm-unsafe-eval), module workers, fetches to this origin, the webcam and dropped images
// (blob:), the data: favicon. The one inline script allowed, by its hash, is the import map of
// examples/embed/index.html (import maps cannot be external files).
const EMBED_IMPORT_MAP = "'sha256-VtFcivtFbp+6KfjQO4+PzlN+e0J9+r8Z4TW9vODoNuo='";
export const CSP = [
  "default-src 'self'",
  `script-src 'self' 'wasm-unsafe-eval' ${EMBED_IMPORT_MAP}`,
  "worker-src 'self' blob:",
  "connect-src 'self'",
  "img-src 'self' data: blob:",
  "media-src 'self' blob: mediastream:",
  "style-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

export const SECURITY_HEADERS = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'X-Content-Type-Options': 'nosniff',
  'Content-Security-Policy': CSP,
  'Referrer-Policy': 'no-referrer',
};

// SERVE_ISOLATION=off drops COOP/COEP, so the page is not cross-origin isolated (no shared
// memory, no CPU threads): for the tests of the page's single-threaded fallback. The other
// headers stay.
const ISOLATION_HEADERS = ['Cross-Origin-Opener-Policy', 'Cross-Origin-Embedder-Policy'];
const HEADERS = process.env.SERVE_ISOLATION === 'off'
  ? Object.fromEntries(Object.entries(SECURITY_HEADERS).filter(([k]) => !ISOLATION_HEADERS.includes(k)))
  : SECURITY_HEADERS;

const REASONS = { 301: 'Moved Permanently', 400: 'Bad Request', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed', 414: 'URI Too Long', 500: 'Internal Server Error' };

/** A plain-text error (or redirect) that still carries every security header. */
function respond(req, res, status, message, headers = {}) {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = `${status} ${REASONS[status] ?? ''}: ${message}\n`;
  res.writeHead(status, {
    ...HEADERS,
    'Content-Type': 'text/plain; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
    'Cache-Control': 'no-store',
    ...headers,
  });
  res.end(req.method === 'HEAD' ? undefined : body);
}

class Refusal extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/**
 * The decoded segments of a request path, or a Refusal: one leading slash, no empty
 * segments but a trailing one, valid %-escapes, no `.`/`..`, no encoded `/`, `\` or NUL.
 */
export function pathSegments(rawUrl) {
  if (rawUrl.length > MAX_URL_LENGTH) throw new Refusal(414, `URL longer than ${MAX_URL_LENGTH} bytes`);
  const path = rawUrl.split(/[?#]/, 1)[0];
  if (!path.startsWith('/')) throw new Refusal(400, 'the path must start with /');
  const raw = path.slice(1).split('/');
  if (raw.slice(0, -1).includes('')) throw new Refusal(400, 'empty path segment');
  const dir = raw.length > 1 && raw[raw.length - 1] === '';
  if (raw[raw.length - 1] === '') raw.pop();
  const segments = raw.map((s) => {
    let d;
    try {
      d = decodeURIComponent(s);
    } catch {
      throw new Refusal(400, 'malformed %-escape');
    }
    if (/[/\\\0]/.test(d)) throw new Refusal(400, 'encoded slash, backslash or NUL in the path');
    if (d === '.' || d === '..') throw new Refusal(400, 'dot segments in the path');
    return d;
  });
  return { segments, dir };
}

/**
 * Host header values that name this server: the bound address (or any local one if wildcard)
 * with the bound port, and each public name in `extra` as given (`example.org` behind a proxy
 * on the default port, `example.org:8443`) or with the bound port; `NAME:443` and `NAME:80`
 * also as plain `NAME`, which is what a browser sends for them.
 */
function allowedHosts(host, port, extra) {
  const names = new Set(['localhost', '127.0.0.1', '[::1]']);
  if (host === '0.0.0.0' || host === '::') {
    for (const list of Object.values(networkInterfaces())) {
      for (const a of list ?? []) names.add(a.family === 'IPv6' ? `[${a.address}]` : a.address);
    }
  } else {
    names.add(host.includes(':') ? `[${host}]` : host);
  }
  const hosts = new Set([...names].map((n) => `${n}:${port}`.toLowerCase()));
  for (const h of extra) {
    hosts.add(h.toLowerCase());
    if (!/:\d+$/.test(h)) hosts.add(`${h}:${port}`.toLowerCase());
    // A browser leaves the default port out of Host: `NAME:443` is also plain `NAME`.
    const bare = h.match(/^(.+):(?:80|443)$/);
    if (bare) hosts.add(bare[1].toLowerCase());
  }
  return hosts;
}

const etags = new Map();

/** A strong validator: the file's SHA-256, recomputed when its size, mtime or inode change. */
async function strongEtag(path, info) {
  const key = `${info.ino}:${info.size}:${info.mtimeMs}`;
  const cached = etags.get(path);
  if (cached?.key === key) return cached.etag;
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk);
  const etag = `"${hash.digest('hex')}"`;
  etags.set(path, { key, etag });
  return etag;
}

// What tools/precompress.mjs writes siblings for; weights and images barely compress.
export const COMPRESSIBLE = new Set(['.html', '.js', '.mjs', '.css', '.json', '.wasm', '.svg', '.txt', '.md']);
const ENCODINGS = [['br', '.br'], ['gzip', '.gz']];

/**
 * The precompressed sibling to send for `accept` (an Accept-Encoding header): brotli before
 * gzip, only an encoding the client accepts (q=0 refuses), and only a sibling at least as new
 * as the file, so a source edited after the build goes out as it is.
 */
async function precompressed(file, info, accept) {
  const accepted = new Map(accept.split(',').map((part) => {
    const [name, ...params] = part.trim().toLowerCase().split(';');
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    return [name, q ? Number(q.slice(2)) : 1];
  }));
  for (const [encoding, ext] of ENCODINGS) {
    if (!((accepted.get(encoding) ?? accepted.get('*') ?? 0) > 0)) continue;
    const sibling = await stat(file + ext).catch(() => null);
    if (sibling?.isFile() && sibling.mtimeMs >= info.mtimeMs) return { file: file + ext, encoding };
  }
  return null;
}

/** True when `path` is `root` or inside it (both real paths). */
function inside(root, path) {
  return path === root || path.startsWith(root.endsWith(sep) ? root : root + sep);
}

/**
 * Starts a server. `root` is served at /, each `mounts` entry (`{ weights: DIR }`) at
 * /NAME/; `allow`, when given, lists the only paths served from `root` (`www`, `a/b`).
 * Resolves to { server, url, host, port, close }.
 */
export async function startServer({ root, mounts = {}, allow = null, host = '127.0.0.1', port = 0, allowedHostNames = [], csp = CSP }) {
  const bases = new Map();
  bases.set('', await realpath(resolve(root)));
  for (const [name, dir] of Object.entries(mounts)) {
    // A mount that does not exist yet (weights not written) serves nothing until it does.
    bases.set(name, await realpath(resolve(dir)).catch(() => resolve(dir)));
  }
  let hosts = new Set();

  async function locate(segments, dir) {
    let base = bases.get('');
    let rest = segments;
    if (segments.length > 0 && bases.has(segments[0]) && segments[0] !== '') {
      base = bases.get(segments[0]);
      rest = segments.slice(1);
    } else if (allow && !allow.some((a) => a.split('/').every((p, i) => segments[i] === p))) {
      throw new Refusal(404, 'not served');
    }
    if (rest.some((s) => s.startsWith('.'))) throw new Refusal(404, 'dotfiles are not served');
    const realBase = await realpath(base).catch(() => null);
    if (!realBase) throw new Refusal(404, 'not found');
    const real = await realpath(join(realBase, ...rest)).catch(() => null);
    if (!real || !inside(realBase, real)) throw new Refusal(404, 'not found');
    let info = await stat(real);
    let file = real;
    if (info.isDirectory()) {
      if (!dir && rest.length > 0) return { redirect: true };
      file = await realpath(join(real, 'index.html')).catch(() => null);
      if (!file || !inside(realBase, file)) throw new Refusal(404, 'no index.html in this directory');
      info = await stat(file);
    } else if (dir) {
      throw new Refusal(404, 'not a directory');
    }
    if (!info.isFile()) throw new Refusal(404, 'not a regular file');
    return { realBase, file, info };
  }

  async function handle(req, res) {
    if (!hosts.has(String(req.headers.host ?? '').toLowerCase())) {
      throw new Refusal(403, `Host ${JSON.stringify(req.headers.host ?? '')} is not this server`);
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      respond(req, res, 405, 'only GET and HEAD', { Allow: 'GET, HEAD' });
      return;
    }
    const { segments, dir } = pathSegments(req.url);
    const found = await locate(segments, dir);
    if (found.redirect) {
      respond(req, res, 301, 'a directory', { Location: `${req.url.split(/[?#]/, 1)[0]}/` });
      return;
    }
    const { realBase, file, info } = found;
    let etag;
    try {
      etag = await strongEtag(file, info);
    } catch {
      throw new Refusal(403, 'the file cannot be read');
    }
    for (const [k, v] of Object.entries(HEADERS)) res.setHeader(k, v);
    res.setHeader('Content-Security-Policy', csp);
    res.setHeader('Content-Type', TYPES[extname(file)] ?? 'application/octet-stream');
    const version = new URLSearchParams(req.url.split('?')[1]?.split('#')[0] ?? '').get('v');
    const pinned = version !== null && version.length >= 8 && etag.startsWith(`"${version.toLowerCase()}`);
    res.setHeader('Cache-Control', pinned ? 'public, max-age=31536000, immutable' : 'no-cache');
    let sent = file;
    if (COMPRESSIBLE.has(extname(file))) {
      res.setHeader('Vary', 'Accept-Encoding');
      const encoded = await precompressed(file, info, String(req.headers['accept-encoding'] ?? ''));
      if (encoded) {
        sent = encoded.file;
        res.setHeader('Content-Encoding', encoded.encoding);
        etag = `${etag.slice(0, -1)}-${encoded.encoding}"`;
      }
    }
    res.setHeader('ETag', etag);
    const rel = sent.slice(realBase.length).split(sep).map(encodeURIComponent).join('/');
    send(req, rel, { root: realBase, dotfiles: 'deny', etag: false, index: false, redirect: false, cacheControl: false })
      .on('error', (e) => respond(req, res, e.status ?? 500, e.status === 404 ? 'not found' : 'cannot send the file'))
      .pipe(res);
  }

  // A missing Host gets our 403 (with the headers), not Node's bare 400.
  const server = createServer({ requireHostHeader: false }, (req, res) => {
    handle(req, res).catch((e) => {
      if (e instanceof Refusal) respond(req, res, e.status, e.message);
      else respond(req, res, e.code === 'EACCES' ? 403 : 404, 'not found');
    });
  });
  // Requests Node cannot parse still get an answer with the headers, then the socket closes.
  server.on('clientError', (err, socket) => {
    if (!socket.writable) return;
    const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : 400;
    const head = Object.entries(HEADERS).map(([k, v]) => `${k}: ${v}\r\n`).join('');
    socket.end(`HTTP/1.1 ${status} Bad Request\r\n${head}Content-Length: 0\r\nConnection: close\r\n\r\n`);
  });
  await new Promise((ok, fail) => server.once('error', fail).listen(port, host, ok));
  const bound = server.address().port;
  hosts = allowedHosts(host, bound, allowedHostNames);
  const shown = host.includes(':') ? `[${host}]` : host;
  return {
    server,
    host,
    port: bound,
    url: `http://${shown === '0.0.0.0' || shown === '[::]' ? '127.0.0.1' : shown}:${bound}`,
    close: () => new Promise((ok) => { server.close(ok); server.closeAllConnections(); }),
  };
}

// The bench page's CSP also lets scripts come from blob: URLs: TF.js's threaded wasm backend
// starts its workers with importScripts() of a blob it makes from its own code. The page's CSP
// (above) stays without it.
const BENCH_CSP = CSP.replace("script-src 'self'", "script-src 'self' blob:");

/** The bench's server: only the folders its page loads, on a free port of 127.0.0.1. */
export function serve(root) {
  return startServer({
    root,
    csp: BENCH_CSP,
    allow: ['www', 'pkg', 'pkg-scalar', 'pkg-threads', 'pkg-threads-relaxed', 'pkg-relaxed', 'bench-results', 'node_modules/onnxruntime-web/dist',
      'node_modules/@tensorflow/tfjs-core/dist', 'node_modules/@tensorflow/tfjs-backend-wasm/dist'],
  });
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { 'public-host': { type: 'string', multiple: true } } });
  const root = resolve(positionals[0] ?? '.');
  const host = process.env.HOST ?? '127.0.0.1';
  const s = await startServer({
    root,
    mounts: { weights: process.env.WEIGHTS_DIR ?? join(root, 'weights') },
    host,
    port: Number(process.env.PORT ?? positionals[1] ?? 8080),
    allowedHostNames: [...(process.env.SERVE_ALLOWED_HOSTS ?? '').split(','), ...(values['public-host'] ?? [])]
      .map((h) => h.trim()).filter(Boolean),
  });
  const reach = host === '127.0.0.1' || host === 'localhost' || host === '::1'
    ? `bound to ${host} only: not reachable from other machines; HOST=0.0.0.0 to change that`
    : `bound to ${host}: reachable from other machines`;
  const isolation = HEADERS === SECURITY_HEADERS ? '' : '; without COOP/COEP: not cross-origin isolated';
  console.log(`serving ${root} on ${s.url}/ (${reach}${isolation})`);
}
