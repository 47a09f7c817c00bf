// The page's service worker, for hosts that cannot send headers (GitHub Pages, a bucket,
// `python3 -m http.server`). Written here, not vendored: the technique of coi-serviceworker
// (github.com/gzuidhof/coi-serviceworker), in a few lines.
// - Cross-origin isolation: responses it serves get COOP `same-origin` and COEP `require-corp`
//   when the host sent none, so the page is cross-origin isolated (shared memory: CPU threads)
//   after one reload (www/sw-register.js does it, once).
// - Offline: same-origin GETs go to the network first and are kept; offline, the kept copy
//   answers. Weights are not kept here: the engine keeps them in its own cache
//   (src/web/load.rs), verified against the manifest's SHA-256.
// It lives at the root because a service worker controls only pages at or below its folder.

const SHELL_CACHE = 'shufflenet-shell-v1';
const WEIGHTS = /\.(safetensors|pth|pt|mdl)$/i;

self.addEventListener('install', () => self.skipWaiting());
// Navigation preload: the page's own request goes out while this worker starts, not after.
self.addEventListener('activate', (event) => event.waitUntil(Promise.all([
  self.clients.claim(),
  self.registration.navigationPreload?.enable(),
])));

// The page's first visit on an isolated host: the files it loaded before this worker took
// control (www/sw-register.js sends their URLs).
self.addEventListener('message', (event) => {
  const urls = Array.isArray(event.data?.keep) ? event.data.keep : [];
  event.waitUntil(keep(urls.filter((u) => {
    try {
      return kept(new URL(u, self.location.href));
    } catch {
      return false; // not a URL: nothing to keep
    }
  })));
});

/** Same-origin files other than weights: what this worker keeps. */
function kept(url) {
  return url.origin === self.location.origin && !WEIGHTS.test(url.pathname);
}

/**
 * Where a file is kept: a `?v=` (the wasm builds', by content: builds.json) names a version of
 * the same file, which replaces the one kept rather than piling up beside it.
 */
function cacheKey(url) {
  const key = new URL(url);
  key.searchParams.delete('v');
  return key.href;
}

async function keep(urls) {
  const cache = await caches.open(SHELL_CACHE);
  await Promise.all(urls.map(async (url) => {
    const response = await fetch(url).catch(() => null);
    if (response?.status === 200) await cache.put(cacheKey(url), response);
  }));
}

self.addEventListener('fetch', (event) => {
  const request = event.request;
  const url = new URL(request.url);
  // Cross-origin requests, range requests and weights pass through untouched.
  if (request.method !== 'GET' || !kept(url) || request.headers.has('range')) return;
  event.respondWith(serve(request, event));
});

async function serve(request, event) {
  const cache = await caches.open(SHELL_CACHE);
  let response;
  try {
    response = (await event.preloadResponse) ?? (await fetch(request));
    // Kept beside the answer, not before it: the page need not wait for the disk.
    if (response.ok && response.status === 200) event.waitUntil(cache.put(cacheKey(request.url), response.clone()));
  } catch (err) {
    // Offline: the kept copy (the manifest and the modules are fetched with query strings at
    // times, but their content does not depend on them).
    response = (await cache.match(cacheKey(request.url))) ?? (await cache.match(request, { ignoreSearch: true }));
    if (!response) throw err;
  }
  return isolated(response);
}

/** The response with COOP/COEP/CORP added where the host sent none. */
function isolated(response) {
  if (response.status === 0) return response; // opaque: its headers cannot be changed
  const headers = new Headers(response.headers);
  const add = (name, value) => headers.has(name) || headers.set(name, value);
  add('Cross-Origin-Opener-Policy', 'same-origin');
  add('Cross-Origin-Embedder-Policy', 'require-corp');
  add('Cross-Origin-Resource-Policy', 'same-origin');
  return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
}
