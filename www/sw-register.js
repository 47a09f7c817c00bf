// Registers the page's service worker (/sw.js: offline use, and cross-origin isolation on hosts
// that cannot send COOP/COEP) and reloads the page once when only that reload stands between it
// and isolation. `?sw=0` unregisters it, for measurements without it.

const RELOADED = 'shufflenet-isolation-reload';
// A worker that never takes control (blocked, or a browser quirk) must not hold the page.
const CONTROL_TIMEOUT_MS = 3000;
const WEIGHTS = /\.(safetensors|pth|pt|mdl)$/i;

/** Resolves to true once a service worker controls the page, false after `timeout` ms. */
function controlled(timeout) {
  if (navigator.serviceWorker.controller) return Promise.resolve(true);
  return new Promise((resolve) => {
    navigator.serviceWorker.addEventListener('controllerchange', () => resolve(true), { once: true });
    setTimeout(() => resolve(false), timeout);
  });
}

/**
 * Asks the worker to keep this page and the files it and the engine loaded (`engineFiles`),
 * some before the worker took control (fetched again, mostly from the HTTP cache), so a first
 * visit alone makes the page work offline. Weights are the engine's to keep.
 * @param {string[]} engineFiles
 */
function keepLoaded(engineFiles) {
  const urls = [...performance.getEntriesByType('resource').map((e) => e.name), ...engineFiles]
    .filter((u) => new URL(u).origin === location.origin && !WEIGHTS.test(new URL(u).pathname));
  navigator.serviceWorker.controller?.postMessage({ keep: [location.href, ...new Set(urls)] });
}

/** Resolves to true on a first visit to an isolated host once the worker controls the page. */
let keeping = Promise.resolve(false);

/**
 * Resolves to true when the page is about to reload to become cross-origin isolated (the
 * caller then starts nothing), else false: at once on a host that sends the headers, where the
 * page does not wait for the worker.
 */
export async function isolateThroughServiceWorker() {
  if (!('serviceWorker' in navigator) || !window.isSecureContext) return false;
  const root = new URL('../', import.meta.url);
  if (new URLSearchParams(location.search).get('sw') === '0') {
    const registrations = await navigator.serviceWorker.getRegistrations().catch(() => []);
    await Promise.all(registrations.map((r) => r.unregister()));
    return false;
  }
  const register = () => navigator.serviceWorker.register(new URL('sw.js', root), { scope: root.pathname })
    // Refused, or no registration (a test browser's blocked workers): the page runs as it is
    // (one CPU thread if not isolated).
    .then((registration) => Boolean(registration), () => false);
  if (window.crossOriginIsolated) {
    // Isolated already (the host sends the headers): the worker only keeps files for offline
    // use, so the page starts at once and the worker is registered beside it.
    sessionStorage.removeItem(RELOADED);
    keeping = controlledOnFirstVisit(root, register);
    return false;
  }
  const registered = register();
  if (!(await registered)) return false;
  // Reloaded once already and still not isolated: this browser will not be; do not loop.
  if (sessionStorage.getItem(RELOADED)) return false;
  if (!(await controlled(CONTROL_TIMEOUT_MS))) return false;
  sessionStorage.setItem(RELOADED, '1');
  location.reload();
  return true;
}

/**
 * On a first visit (no worker installed before; not merely a hard reload, which bypasses an
 * installed one), registers the worker; true once it controls the page.
 * @param {URL} root
 * @param {() => Promise<boolean>} register
 */
async function controlledOnFirstVisit(root, register) {
  const firstVisit = !(await navigator.serviceWorker.getRegistration(root.href).catch(() => null))?.active;
  const registered = await register();
  return firstVisit && registered && controlled(CONTROL_TIMEOUT_MS);
}

/**
 * Called once the engine has loaded its model: on a first visit to an isolated host, the
 * worker keeps the page's files and the engine's (`engineFiles()`: the URLs its worker
 * fetched), some loaded before it took control.
 * @param {() => Promise<string[]>} engineFiles
 */
export async function keepForOffline(engineFiles) {
  if (await keeping) keepLoaded(await engineFiles().catch(() => []));
}
