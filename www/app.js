// The page controller: wires the camera, uploads, drops and controls to the engine client and
// renders what comes back.
//
// Inference runs in a Web Worker so a slow frame never blocks rendering (why, with figures:
// docs/page.md "UI frame rate"). `?worker=0` keeps the main-thread mode to measure that.

import { createEngineClient } from './engine-client.js';
import { openCamera, listCameras, frameReady, CameraError } from './camera.js';
import * as view from './view.js';

const params = new URLSearchParams(location.search);
const useWorker = params.get('worker') !== '0';
const backendPreference = params.get('backend') ?? 'auto';
const WEIGHT_EXTENSIONS = /\.(pth|pt|safetensors)$/i;

const $ = (id) => document.getElementById(id);
const els = {
  video: $('video'),
  still: $('still'),
  dropzone: $('dropzone'),
  width: $('width'),
  pause: $('pause'),
  backendSwitch: $('backend-switch'),
  camera: $('camera'),
  useCamera: $('use-camera'),
  upload: $('upload'),
};

const app = {
  client: createEngineClient({ worker: useWorker }),
  status: null, // { backend, adapter, fallbackReason }
  manifest: null,
  modelLoaded: false,
  width: null, // width key of the weights in use, or null for a dropped file
  source: 'none', // 'camera' | 'image' | 'none'
  paused: false,
  cameraOk: false,
  stillBitmap: null,
  busy: false, // a weights load or backend switch is running
  frames: 0,
  fps: new view.FpsMeter(),
};

// Exposed for the end-to-end tests and the benchmarks (memory soak, frame counts).
window.shufflenet = {
  memory: () => app.client.memory(),
  get frames() { return app.frames; },
  get inWorker() { return app.client.inWorker; },
};

// ---- the classification loop -------------------------------------------------------------

let wake = null;
function poke() {
  wake?.();
  wake = null;
}
const canRun = () => app.modelLoaded && app.source === 'camera' && !app.paused && !document.hidden;

async function loop() {
  for (;;) {
    if (!canRun()) {
      await new Promise((resolve) => (wake = resolve));
      continue;
    }
    await frameReady(els.video);
    let frame;
    try {
      frame = await createImageBitmap(els.video);
    } catch {
      await sleep(100); // the stream is switching cameras
      continue;
    }
    await classify(frame, 'square');
    // On the main thread, let the page paint once between classifications; the worker needs no
    // such pause (waiting for a frame there only adds latency).
    if (!app.client.inWorker) await new Promise((resolve) => requestAnimationFrame(resolve));
  }
}

async function classify(frame, crop) {
  try {
    const p = await app.client.classify(frame, crop);
    app.frames++;
    document.body.dataset.frames = String(app.frames);
    view.renderPrediction(p, app.fps.tick());
    noticeFallback(p.status);
  } catch (err) {
    view.showMessage(`Classification failed: ${err.message}`);
    await sleep(1000);
  }
}

// ---- backend ----------------------------------------------------------------------------------

/** Shows the backend in use; says so when WebGPU dropped out while running. */
function noticeFallback(status) {
  const was = app.status;
  app.status = status;
  view.renderBackend(status);
  if (was?.backend === 'webgpu' && status.backend !== 'webgpu') {
    view.showMessage(`WebGPU stopped working${status.fallbackReason ? ` (${status.fallbackReason})` : ''}; the CPU took over.`);
  }
}

async function switchBackend() {
  const target = app.status.backend === 'webgpu' ? 'cpu' : 'webgpu';
  await withBusy(async () => {
    try {
      const status = await app.client.setBackend(target);
      app.status = status;
      view.renderBackend(status);
      view.clearMessage();
      reclassifyStill();
    } catch (err) {
      view.showMessage(`Could not switch to ${target === 'webgpu' ? 'WebGPU' : 'the CPU'}: ${err.message}`);
    }
  });
}

// ---- weights ----------------------------------------------------------------------------------

async function loadManifest() {
  const res = await fetch('weights/manifest.json', { cache: 'no-cache' });
  if (!res.ok) throw new Error(`weights/manifest.json: HTTP ${res.status}`);
  const manifest = await res.json();
  if (!manifest?.widths || typeof manifest.widths !== 'object') throw new Error('weights/manifest.json has no "widths"');
  return manifest;
}

async function loadWidth(width) {
  const entry = app.manifest?.widths?.[width];
  if (!entry) {
    view.showMessage(`No weights are published for width x${width}.`);
    view.renderWidth(app.width);
    return;
  }
  await withBusy(async () => {
    setState('loading');
    view.showProgress(`Loading x${width} weights…`);
    try {
      const loaded = await app.client.loadUrl(new URL(entry.url, location.href).href, view.updateProgress, entry.sha256);
      noticeFallback(loaded.status);
      app.width = width;
      app.modelLoaded = true;
      rememberWidth(width);
      view.renderModel(loaded, { source: entry.url, trained: entry.trained !== false });
      view.clearMessage();
      reclassifyStill();
    } catch (err) {
      view.showMessage(`The x${width} weights could not be loaded: ${err.message}${app.modelLoaded ? ' — the previous model keeps running.' : ''}`);
    } finally {
      view.hideProgress();
      view.renderWidth(app.width);
      setState(app.modelLoaded ? 'ready' : 'error');
    }
  });
}

async function loadWeightsFile(file) {
  await withBusy(async () => {
    setState('loading');
    view.showProgress(`Reading ${file.name}…`);
    try {
      const bytes = new Uint8Array(await file.arrayBuffer());
      view.updateProgress(bytes.byteLength, bytes.byteLength);
      const loaded = await app.client.loadBytes(bytes);
      noticeFallback(loaded.status);
      app.width = null;
      app.modelLoaded = true;
      view.renderModel(loaded, { source: file.name, trained: true });
      view.clearMessage();
      reclassifyStill();
    } catch (err) {
      view.showMessage(`${file.name} is not usable weights: ${err.message}${app.modelLoaded ? ' — the previous model keeps running.' : ''}`);
    } finally {
      view.hideProgress();
      view.renderWidth(app.width);
      setState(app.modelLoaded ? 'ready' : 'error');
    }
  });
}

// ---- sources: camera and images ----------------------------------------------------------

async function startCamera(deviceId) {
  try {
    const active = await openCamera(els.video, deviceId);
    app.cameraOk = true;
    view.hideCameraMessage();
    const cameras = await listCameras();
    view.renderCameras(cameras, active);
    setSource('camera');
  } catch (err) {
    app.cameraOk = false;
    view.showCameraMessage(err instanceof CameraError ? err.message : `Camera: ${err.message}`);
    view.renderCameras([], null);
    if (app.source === 'camera') setSource('none');
  }
}

async function showImage(file) {
  let bitmap;
  try {
    bitmap = await createImageBitmap(file);
  } catch {
    view.showMessage(`${file.name || 'That file'} is not an image this browser can read.`);
    return;
  }
  app.stillBitmap?.close();
  app.stillBitmap = bitmap;
  view.drawStill(els.still, bitmap);
  setSource('image');
  view.clearMessage();
  reclassifyStill();
}

function reclassifyStill() {
  if (app.source !== 'image' || !app.stillBitmap || !app.modelLoaded) return;
  createImageBitmap(app.stillBitmap).then((copy) => classify(copy, 'eval'));
}

function setSource(source) {
  app.source = source;
  els.dropzone.dataset.source = source;
  els.useCamera.hidden = !(source === 'image' && app.cameraOk);
  if (source === 'camera') els.video.play().catch(() => {});
  else els.video.pause();
  app.fps.reset();
  poke();
}

function handleFile(file) {
  if (!file) return;
  if (WEIGHT_EXTENSIONS.test(file.name)) loadWeightsFile(file);
  else showImage(file);
}

// ---- wiring -----------------------------------------------------------------------------------

function setState(state) {
  document.body.dataset.state = state;
  const ready = state !== 'loading' || app.modelLoaded;
  els.width.disabled = app.busy || !app.manifest;
  els.backendSwitch.disabled = app.busy || !app.modelLoaded;
  els.pause.disabled = !ready;
  poke();
}

async function withBusy(fn) {
  app.busy = true;
  setState(document.body.dataset.state);
  try {
    await fn();
  } finally {
    app.busy = false;
    setState(document.body.dataset.state);
  }
}

function wire() {
  els.width.addEventListener('change', () => loadWidth(els.width.value));
  els.backendSwitch.addEventListener('click', switchBackend);
  els.pause.addEventListener('click', () => {
    app.paused = !app.paused;
    view.renderPaused(app.paused);
    if (app.source === 'camera') (app.paused ? els.video.pause() : els.video.play().catch(() => {}));
    app.fps.reset();
    poke();
  });
  els.camera.addEventListener('change', () => startCamera(els.camera.value));
  els.useCamera.addEventListener('click', () => (els.video.srcObject ? setSource('camera') : startCamera()));
  els.upload.addEventListener('change', () => {
    handleFile(els.upload.files[0]);
    els.upload.value = ''; // choosing the same file again still fires `change`
  });
  $('message-close').addEventListener('click', view.clearMessage);
  document.addEventListener('visibilitychange', poke);

  // The whole page accepts drops; the frame highlights while something is dragged over it.
  let depth = 0;
  document.addEventListener('dragenter', (e) => {
    e.preventDefault();
    if (++depth === 1) els.dropzone.classList.add('dragging');
  });
  document.addEventListener('dragleave', () => {
    if (--depth <= 0) {
      depth = 0;
      els.dropzone.classList.remove('dragging');
    }
  });
  document.addEventListener('dragover', (e) => e.preventDefault());
  document.addEventListener('drop', (e) => {
    e.preventDefault();
    depth = 0;
    els.dropzone.classList.remove('dragging');
    handleFile(e.dataTransfer?.files?.[0]);
  });
}

async function main() {
  wire();
  view.renderPaused(false);
  loop();
  if (params.get('camera') !== '0') startCamera(); // runs alongside the engine start-up

  try {
    const gpu = { kernels: params.get('kernels'), timing: params.get('timing') };
    app.status = await app.client.create(backendPreference, gpu);
    view.renderBackend(app.status);
  } catch (err) {
    view.showMessage(`The classifier could not start: ${err.message}`);
    view.renderBackend(null);
    setState('error');
    return;
  }

  try {
    app.manifest = await loadManifest();
  } catch (err) {
    view.showMessage(`No weights to load (${err.message}). Drop a .pth or .safetensors file on the page.`);
    setState('error');
    return;
  }
  const widths = Object.keys(app.manifest.widths);
  view.offerWidths(widths);
  const wanted = params.get('width') ?? (widths.includes('1.0') ? '1.0' : widths[0]);
  await loadWidth(wanted);
}

/** Keeps the chosen width in the address so a reload or a shared link opens the same model. */
function rememberWidth(width) {
  const url = new URL(location.href);
  url.searchParams.set('width', width);
  history.replaceState(null, '', url);
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

main();
