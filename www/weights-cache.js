// Weights download with progress, kept in the Cache API so a reload does not download again.
// Works in a worker and on the main thread (both have `caches` in a secure context).

const CACHE_NAME = 'shufflenet-weights-v1';
const VALIDATORS = ['etag', 'last-modified', 'content-length'];

async function openCache() {
  if (typeof caches === 'undefined') return null; // insecure context: no Cache API
  try {
    return await caches.open(CACHE_NAME);
  } catch {
    return null; // e.g. storage disabled
  }
}

function validatorsOf(headers) {
  const out = {};
  for (const name of VALIDATORS) {
    const v = headers.get(name);
    if (v) out[name] = v;
  }
  return out;
}

/**
 * A cached copy is reused unless a cheap HEAD request shows the file changed on the server
 * (different ETag, Last-Modified or length). If the server cannot be asked, the copy is used.
 */
async function stillCurrent(url, cached) {
  let head;
  try {
    head = await fetch(url, { method: 'HEAD', cache: 'no-store' });
  } catch {
    return true;
  }
  if (!head.ok) return head.status !== 404;
  const now = validatorsOf(head.headers);
  return VALIDATORS.every((k) => !now[k] || !cached.headers.get(k) || now[k] === cached.headers.get(k));
}

/** Returns `{ bytes, cached, validators }`; `onProgress(loaded, total | undefined)`. */
export async function fetchWeights(url, onProgress) {
  const cache = await openCache();
  const hit = cache && (await cache.match(url));
  if (hit && (await stillCurrent(url, hit))) {
    const bytes = new Uint8Array(await hit.arrayBuffer());
    onProgress?.(bytes.byteLength, bytes.byteLength);
    return { bytes, cached: true, validators: {} };
  }

  const res = await fetch(url, { cache: 'no-store' });
  if (!res.ok) throw new Error(`Could not download ${url}: HTTP ${res.status} ${res.statusText}`.trim());
  const total = Number(res.headers.get('content-length')) || undefined;
  const chunks = [];
  let loaded = 0;
  const reader = res.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    loaded += value.byteLength;
    onProgress?.(loaded, total);
  }
  const bytes = new Uint8Array(loaded);
  let at = 0;
  for (const c of chunks) {
    bytes.set(c, at);
    at += c.byteLength;
  }
  return { bytes, cached: false, validators: validatorsOf(res.headers) };
}

export async function rememberWeights(url, bytes, validators) {
  const cache = await openCache();
  if (!cache) return;
  try {
    await cache.put(url, new Response(bytes, { headers: { 'content-type': 'application/octet-stream', ...validators } }));
  } catch {
    // Quota exceeded or similar: the model still runs, it just downloads again next time.
  }
}

export async function forgetWeights(url) {
  const cache = await openCache();
  if (cache) await cache.delete(url);
}
