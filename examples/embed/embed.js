// @ts-check
// The whole embedding: create an engine, load weights with progress, classify a bitmap.
import init, { Engine } from 'shufflenet-web';

const $ = (/** @type {string} */ id) => /** @type {HTMLElement} */ (document.getElementById(id));
const progress = /** @type {HTMLProgressElement} */ ($('progress'));
const file = /** @type {HTMLInputElement} */ ($('file'));

await init();
const engine = await Engine.create('auto');
// The site's root, wherever it is published (a GitHub Pages project sits under /NAME/).
const site = new URL('../../', import.meta.url);
const { widths } = await (await fetch(new URL('weights/manifest.json', site))).json();
const { url, sha256 } = widths['0.5'];
await engine.loadUrl(new URL(url, site).href, (loaded, total) => {
  progress.value = total ? loaded / total : 0;
}, sha256);
$('status').textContent = `Ready (${engine.backend()}): choose a picture.`;
file.disabled = false;

file.addEventListener('change', async () => {
  if (!file.files?.[0]) return;
  const result = await engine.classifyBitmap(await createImageBitmap(file.files[0]), 3);
  $('top').replaceChildren(...result.top.map((c) =>
    Object.assign(document.createElement('li'), { textContent: `${c.name} ${(c.prob * 100).toFixed(1)}%` })));
  $('status').textContent = `Classified in ${result.totalMs.toFixed(0)} ms.`;
});
