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
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));

self.addEventListener('fetch', (event) => {
  const request = event.request;
  const url = new URL(request.url);
  // Cross-origin requests, range requests and weights pass through untouched.
  if (request.method !== 'GET' || url.origin !== self.location.origin) return;
  if (request.headers.has('range') || WEIGHTS.test(url.pathname)) return;
  event.respondWith(serve(request));
});

async function serve(request) {
  const cache = await caches.open(SHELL_CACHE);
  let response;
  try {
    response = await fetch(request);
    if (response.ok && response.status === 200) await cache.put(request, response.clone());
  } catch (err) {
    // Offline: the kept copy (the manifest and the modules are fetched with query strings at
    // times, but their content does not depend on them).
    response = (await cache.match(request)) ?? (await cache.match(request, { ignoreSearch: true }));
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
