// The page controller: wires the camera, uploads, drops and controls to the engine supervisor and
// renders what comes back.
//
// Inference runs in a Web Worker so a slow frame never blocks rendering (why, with figures:
// docs/page.md "UI frame rate"). `?worker=0` keeps the main-thread mode to measure that.

import { EngineLost } from './engine-client.js';
import { EngineSupervisor, Superseded } from './engine-supervisor.js';
import { openCamera, listCameras, frameReady, CameraError } from './camera.js';
import { decodeImage, frameOptions } from './image-input.js';
import * as view from './view.js';
import { TeachMode } from './teach.js';
import { chooseWidth, readOptions } from './query.js';
import { isolateThroughServiceWorker, keepForOffline } from './sw-register.js';
import * as choice from './backend-choice.js';
import { wireGuidelines } from './guidelines.js';
import { FrameSplit } from './frame-split.js';
import { Throttle } from './throttle.js';

const params = new URLSearchParams(location.search);
const useWorker = params.get('worker') !== '0';
// `?backend=`, `?threads=`, `?simd=`, `?precision=`, checked in www/query.js; its notes are shown
// once the first model runs.
const options = readOptions(params);
const WEIGHT_EXTENSIONS = /\.(pth|pt|mdl|safetensors)$/i;
// class_indices.json, a JSON array of names, or labels.txt: one name per output.
const NAMES_EXTENSIONS = /\.(json|txt)$/i;
// `?frameTimeout=S`: seconds a frame may take before the engine counts as hung (default 30).
const frameTimeout = Number(params.get('frameTimeout')) || 0;

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
  engine: new EngineSupervisor({
    worker: useWorker,
    limits: frameTimeout > 0 ? { classify: frameTimeout * 1000 } : {},
    onRestart: noticeRestart,
  }),
  status: null, // { backend, adapter, fallbackReason, cpuThreads, threadsNote }
  manifest: null,
  modelLoaded: false,
  width: null, // width key of the weights in use, or null for a dropped file
  loads: 0, // weight loads asked for and not yet settled
  source: 'none', // 'camera' | 'image' | 'none'
  paused: false,
  cameraOk: false,
  stillBitmap: null,
  busy: 0, // weight loads and backend switches running
  restarts: 0,
  frames: 0,
  inFlight: 0, // classifications sent and not yet drawn
  mostInFlight: 0,
  cameraRead: null,
  framesOnThreads: {}, // camera frames by the CPU threads each ran on (the page benchmark's)
  lastResultAt: -Infinity, // when the last classification's result came back
  cpuTimes: [], // the CPU's recent frame times (ms) for `auto`'s measurement
  trials: 0, // counts `auto` measurements started: a newer one (or a switch) ends an older one
  fps: new view.FpsMeter(),
  // A camera frame's prediction is drawn at about the camera's 30 frames a second.
  liveDraw: new Throttle(33),
  split: new FrameSplit(),
};

// The crate's stage names and size limits (`limits()`), once the engine has started: a weights or
// names file larger than the crate takes is refused before a byte of it is read.
let knowLimits;
const limits = new Promise((resolve) => (knowLimits = resolve));

const teach = new TeachMode({
  engine: app.engine,
  video: els.video,
  still: () => app.stillBitmap,
  source: () => app.source,
  onHead: showRunningModel,
  backend: () => app.status?.backend,
  // The slow-capture hint: the CPU, as the backend button would switch.
  useCpu: async () => {
    if (app.status?.backend === 'webgpu') await switchBackend();
  },
});

// Exposed for the end-to-end tests and the benchmarks (memory soak, frame counts).
window.shufflenet = {
  memory: () => app.engine.memory(),
  get frames() { return app.frames; },
  get mostInFlight() { return app.mostInFlight; },
  get framesOnThreads() { return { ...app.framesOnThreads }; },
  /** Camera frames timed in parts (`FrameSplit`), and the parts' medians over the last `last`. */
  get splitFrames() { return app.split.frames; },
  splitMedians: (last) => app.split.medians(last),
  get inWorker() { return app.engine.inWorker; },
  /** How the engine read the last camera frame: its YUV format ('I420', 'NV12'), or 'bitmap'. */
  get cameraRead() { return app.cameraRead; },
};

// ---- the classification loop -------------------------------------------------------------

let wake = null;
function poke() {
  wake?.();
  wake = null;
}
const canRun = () => app.modelLoaded && app.source === 'camera' && !app.paused && !document.hidden;

// One camera frame runs in the engine while the page captures the next and queues it behind
// (issue 21): the engine never waits for the page to capture, send or draw, so a frame takes
// the engine's time, not the sum of every step. Two frames in flight at most.
async function loop() {
  let running = null;
  for (;;) {
    if (!canRun()) {
      await running;
      running = null;
      await new Promise((resolve) => (wake = resolve));
      continue;
    }
    await frameReady(els.video);
    let frame;
    const start = performance.now();
    try {
      frame = await captureFrame();
    } catch {
      await sleep(100); // the stream is switching cameras
      continue;
    }
    // The source may have changed while the frame was captured.
    if (!canRun()) {
      frame.close();
      continue;
    }
    const next = classify(frame, 'square', teach.wantsFeatures(), performance.now() - start);
    await running;
    running = next;
    // On the main thread the engine blocks the page: one frame at a time, and the page paints
    // once between classifications.
    if (!app.engine.inWorker) {
      await running;
      running = null;
      await new Promise((resolve) => requestAnimationFrame(resolve));
    }
  }
}

/**
 * The camera's current frame: a VideoFrame where the browser has them (no copy here; the engine
 * reads its bytes as they are, src/yuv.rs), else an ImageBitmap.
 */
async function captureFrame() {
  if (typeof VideoFrame === 'function') return new VideoFrame(els.video);
  return await createImageBitmap(els.video, frameOptions(els.video.videoWidth, els.video.videoHeight));
}

/** `capture`: ms the camera frame took to become `frame` (camera frames only). */
async function classify(frame, crop, features = false, capture = null) {
  app.inFlight++;
  app.mostInFlight = Math.max(app.mostInFlight, app.inFlight);
  try {
    const sent = performance.now();
    const p = await app.engine.classify(frame, crop, features);
    // A camera frame that was in flight when a picture replaced the camera: its result would
    // cover the picture's (its status change still counts).
    if (capture != null && app.source !== 'camera') {
      if (p.status) noticeFallback(p.status);
      return;
    }
    const roundTrip = performance.now() - sent;
    // A frame sent while the one before ran waited for its result first.
    const queued = Math.max(0, app.lastResultAt - sent);
    app.lastResultAt = performance.now();
    if (p.features) teach.offer(p.features);
    if (p.backend.startsWith('cpu')) app.cpuTimes = [...app.cpuTimes.slice(-9), p.totalMs];
    app.frames++;
    if (app.frames === 1) performance.mark('shufflenet:first-prediction');
    document.body.dataset.frames = String(app.frames);
    // A still picture shows its own time, not a rate of frames that are not coming.
    const drawStart = performance.now();
    if (capture == null) {
      app.liveDraw.cancel();
      view.renderPrediction(p, null);
    } else {
      const fps = app.fps.tick();
      app.liveDraw.run(() => view.renderPrediction(p, fps));
    }
    if (capture != null) {
      app.cameraRead = p.yuvFormat ?? 'bitmap';
      app.framesOnThreads[p.threads] = (app.framesOnThreads[p.threads] ?? 0) + 1;
      app.split.record({ capture, roundTrip, queued, draw: performance.now() - drawStart }, p);
      // A few times a second is enough for figures that are running means.
      if (app.split.frames % 10 === 1) view.renderFrameSplit(app.split);
    }
    if (p.status) noticeFallback(p.status); // only when it changed
  } catch (err) {
    // A frame lost with its engine: the supervisor is starting another and says so.
    if (err instanceof EngineLost || err instanceof Superseded) return;
    view.showMessage(`Classification failed: ${err.message}`);
    await sleep(1000);
  } finally {
    app.inFlight--;
  }
}

/** The engine died or hung and a fresh one took over (or could not). */
function noticeRestart({ phase, reason, status, model, error }) {
  if (phase === 'restarting') {
    app.restarts++;
    document.body.dataset.restarts = String(app.restarts);
    view.showMessage(`The classifier stopped (${reason.message}). Restarting it…`);
  } else if (phase === 'restarted') {
    noticeFallback(status);
    const what = model ? ` and reloaded ${describeSource(model.source)}` : '';
    view.showMessage(`The classifier stopped (${reason.message}). It was restarted${what}; classification carries on.`);
    showRunningModel();
  } else {
    app.modelLoaded = false; // nothing runs frames now
    view.showMessage(`The classifier stopped (${reason.message}) and could not be restarted: ${error.message}`);
    refreshState();
  }
}

const describeSource = (source) => (source.kind === 'url' && source.width ? `the x${source.width} weights` : source.name);

// ---- backend ----------------------------------------------------------------------------------

/** Shows the backend in use; says so when WebGPU dropped out while running. */
function noticeFallback(status) {
  const was = app.status;
  app.status = status;
  view.renderBackend(status);
  // Only a failure says so: under `auto` a new model starts on the CPU by design.
  if (was?.backend === 'webgpu' && status.backend !== 'webgpu' && status.fallbackReason) {
    view.showMessage(`WebGPU stopped working${status.fallbackReason ? ` (${status.fallbackReason})` : ''}; the CPU took over.`);
  }
}

async function switchBackend() {
  const target = app.status.backend === 'webgpu' ? 'cpu' : 'webgpu';
  app.trials++; // the visitor's choice ends any measurement
  document.body.dataset.choice = 'settled';
  view.renderChoice(null);
  await withBusy(async () => {
    try {
      const status = await app.engine.setBackend(target);
      remember('backend', target);
      app.status = status;
      view.renderBackend(status);
      view.clearMessage();
      reclassifyStill();
    } catch (err) {
      view.showMessage(`Could not switch to ${target === 'webgpu' ? 'WebGPU' : 'the CPU'}: ${err.message}`);
    }
  });
}

// ---- auto: the faster backend here, by measurement (backend-choice.js) ---------------------

/** The WebGPU adapter as this page sees it ("vendor|architecture|device|description"), or null. */
async function describeAdapter() {
  try {
    const adapter = await navigator.gpu?.requestAdapter();
    if (!adapter) return null;
    const i = adapter.info ?? {};
    return [i.vendor, i.architecture, i.device, i.description].join('|') + (i.isFallbackAdapter ? '|fallback' : '');
  } catch {
    return null;
  }
}

/** A frame of what is on screen for timing WebGPU, or null when nothing is. */
async function trialFrame() {
  try {
    if (app.source === 'camera' && app.cameraOk) {
      return await createImageBitmap(els.video, frameOptions(els.video.videoWidth, els.video.videoHeight));
    }
    if (app.source === 'image' && app.stillBitmap) return await createImageBitmap(app.stillBitmap);
  } catch {
    // The stream is switching cameras: the caller waits and asks again.
  }
  return null;
}

/**
 * Under `auto`, with the CPU running `width`: builds WebGPU beside it, times a few frames on
 * each and keeps WebGPU only if it is clearly faster; remembered per adapter, width and CPU build.
 */
async function measureBackends(width) {
  if (options.backend !== 'auto') return;
  const trial = ++app.trials;
  document.body.dataset.choice = 'measuring';
  try {
    await chooseBackend(width, trial);
  } finally {
    // Tests and the soak wait for this before they take a baseline.
    if (trial === app.trials) document.body.dataset.choice = 'settled';
  }
}

async function chooseBackend(width, trial) {
  const current = () => trial === app.trials && app.width === width;
  const adapter = await describeAdapter();
  if (!current()) return;
  if (!adapter) {
    view.renderChoice('WebGPU is not in use: this browser offers no WebGPU adapter. The CPU runs the model.');
    return;
  }
  const cpu = `${app.status?.backend} x${app.status?.cpuThreads ?? 1}`;
  const key = choice.choiceKey(adapter, width, cpu);
  const known = choice.recall(globalThis.localStorage, key, Date.now());
  if (known?.backend === 'cpu') {
    view.renderChoice(`${choice.reason(known)} (measured before)`);
    return;
  }
  view.renderChoice('Preparing WebGPU… (the CPU runs meanwhile)');
  try {
    await app.engine.prepareGpu();
    let decided = known;
    let waiting = false;
    while (!decided && current()) {
      // The CPU's own frames first: at least as many as WebGPU gets.
      if (app.cpuTimes.length < choice.FRAMES) {
        // A still picture is classified once: classify it again to time the CPU.
        if (app.source === 'image' && app.stillBitmap) await reclassifyStill();
        else if (!waiting && !canRun()) {
          waiting = true; // paused, or no camera and no picture: nothing to time yet
          view.renderChoice('WebGPU is ready: it is timed against the CPU on the next frames.');
        }
        await sleep(100);
        continue;
      }
      const gpuTimes = [];
      const cpuMs = choice.median(app.cpuTimes);
      while (current() && choice.keepTiming(cpuMs, gpuTimes)) {
        const frame = await trialFrame();
        // Cropped as the CPU's frames were: the camera's square, a picture's eval crop.
        if (frame) gpuTimes.push(await app.engine.timeGpu(frame, app.source === 'image' ? 'eval' : 'square'));
        else await sleep(200);
      }
      if (gpuTimes.length > 0) decided = choice.decide(app.cpuTimes, gpuTimes);
    }
    if (!current()) return;
    if (decided !== known) choice.remember(globalThis.localStorage, key, decided, Date.now());
    if (decided.backend === 'webgpu') {
      app.status = await app.engine.adoptGpu();
      view.renderBackend(app.status);
    } else {
      app.engine.dropGpu();
    }
    view.renderChoice(decided === known ? `${choice.reason(known)} (measured before)` : choice.reason(decided));
  } catch (err) {
    app.engine.dropGpu();
    if (current()) view.renderChoice(`WebGPU is not in use: ${err.message}. The CPU runs the model.`);
  }
}

/**
 * builds.json (tools/builds.mjs): the wasm builds' SHA-256, so the engine loads them by content
 * and a reload takes them from the browser's cache unasked. Null without it (an old export):
 * the engine loads the plain URLs.
 */
function loadBuilds() {
  return fetch('builds.json', { cache: 'no-cache' }).then((res) => (res.ok ? res.json() : null)).catch(() => null);
}

// ---- weights ----------------------------------------------------------------------------------

async function loadManifest() {
  const res = await fetch('weights/manifest.json', { cache: 'no-cache' });
  if (!res.ok) throw new Error(`weights/manifest.json: HTTP ${res.status}`);
  const manifest = await res.json();
  if (!manifest?.widths || typeof manifest.widths !== 'object') throw new Error('weights/manifest.json has no "widths"');
  return manifest;
}

/** The weights `loadWidth` loads for `width`, or null when the manifest publishes none. */
function widthSource(manifest, width) {
  const entry = manifest?.widths?.[width];
  if (!entry) return null;
  // `?precision=f32`: the F32 file where the manifest lists one (twice the bytes of the F16).
  const file = options.precision === 'f32' && entry.f32?.url ? entry.f32 : entry;
  const url = new URL(file.url, location.href).href;
  const name = new URL(url).pathname.split('/').pop();
  return { kind: 'url', url, sha256: file.sha256, name, width, trained: entry.trained !== false };
}

/** A model served with `./run.sh --weights FILE` (the manifest's `model`). */
function ownSource(entry) {
  const url = new URL(entry.url, location.href).href;
  const name = String(entry.name ?? 'model');
  return { kind: 'url', url, sha256: entry.sha256, name, width: null, trained: true };
}

/**
 * What the page opens with, and a note when the address asked for a width not published. A
 * model served with `./run.sh --weights FILE` that has no published width (your own fine-tune)
 * opens first; `?width=` still picks a published one.
 */
function firstSource(manifest) {
  if (manifest.model?.url && !params.has('width')) return { source: ownSource(manifest.model), note: null };
  const { width, note } = chooseWidth(params.get('width'), Object.keys(manifest.widths));
  return { source: widthSource(manifest, width), width, note };
}

async function loadWidth(width) {
  const source = widthSource(app.manifest, width);
  if (!source) {
    view.showMessage(`No weights are published for width x${width}.`);
    view.renderWidth(app.width);
    return;
  }
  await loadWeights(source, `Loading x${width} weights…`, (err) => `The x${width} weights could not be loaded: ${err.message}`);
}

async function loadWeightsFile(file) {
  const max = (await limits).maxWeightsBytes;
  if (file.size > max) {
    const mb = (n) => (n / 2 ** 20).toFixed(0);
    view.showMessage(
      `${file.name} is ${mb(file.size)} MiB, larger than any ShuffleNetV2 weights file (${mb(max)} MiB); it was not read.`,
    );
    return;
  }
  const source = { kind: 'file', file, name: file.name, trained: true };
  await loadWeights(source, `Reading ${file.name}…`, (err) => `${file.name} is not usable weights: ${err.message}`);
}

/**
 * Loads weights; the last load asked for wins. A load replaced by a newer one leaves the
 * progress bar, the message and the model shown to that newer one.
 */
async function loadWeights(source, label, failure) {
  app.loads++;
  let superseded = false;
  await withBusy(async () => {
    refreshState();
    view.showProgress(label);
    if (source.kind === 'url') view.renderWidth(source.width);
    try {
      const loaded = await app.engine.load(source, view.updateProgress);
      performance.mark('shufflenet:weights-loaded');
      noticeFallback(loaded.status);
      view.clearMessage();
      app.cpuTimes = [];
      if (source.kind === 'url' && source.width) measureBackends(source.width);
    } catch (err) {
      superseded = err instanceof Superseded;
      if (!superseded) {
        // The engine's first line is plain words; the lines after it are the evidence.
        const [plain, ...details] = String(err.message).split('\n');
        const kept = app.engine.model ? ' — the previous model keeps running.' : '';
        view.showMessage(`${failure({ message: plain })}${kept}`, details.join('\n'));
      }
    } finally {
      app.loads--;
      if (!superseded) {
        showRunningModel();
        view.hideProgress();
      }
    }
  });
}

/** Shows the weights the engine runs now (after a load, a failed one included). */
function showRunningModel() {
  const model = app.engine.model;
  app.modelLoaded = Boolean(model);
  if (!model) return;
  const { source, result } = model;
  app.width = source.kind === 'url' ? source.width : null;
  if (app.width) remember('width', app.width);
  const namesFile = teach.taught ? 'Teach mode' : model.names?.file;
  view.renderModel(result, { source: source.name, trained: source.trained, namesFile });
  view.renderWidth(app.width);
  teach.modelChanged(model);
  reclassifyStill();
}

// ---- sources: camera and images ----------------------------------------------------------

async function startCamera(deviceId) {
  try {
    const active = await openCamera(els.video, deviceId);
    performance.mark('shufflenet:camera');
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
    bitmap = await decodeImage(file); // scaled down if huge
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

/** Classifies the still picture again (a new model, a new backend); settles when shown. */
async function reclassifyStill() {
  if (app.source !== 'image' || !app.stillBitmap || !app.modelLoaded) return;
  await classify(await createImageBitmap(app.stillBitmap), 'eval');
}

function setSource(source) {
  app.source = source;
  els.dropzone.dataset.source = source;
  els.useCamera.hidden = !(source === 'image' && app.cameraOk);
  if (source === 'camera') els.video.play().catch(() => {});
  else els.video.pause();
  app.fps.reset();
  app.split.reset();
  poke();
}

/**
 * Weights, a names file and an image may come together: the weights load first, then the
 * names name them. Names alone name the model already running.
 */
async function handleFiles(files) {
  const list = [...(files ?? [])];
  const weights = list.find((f) => WEIGHT_EXTENSIONS.test(f.name));
  const names = list.find((f) => NAMES_EXTENSIONS.test(f.name));
  const image = list.find((f) => f !== weights && f !== names);
  if (weights) await loadWeightsFile(weights);
  if (names) await loadNames(names);
  if (image) showImage(image);
}

async function loadNames(file) {
  if (file.size > (await limits).maxNamesBytes) {
    view.showMessage(`${file.name} is too large for a class names file; it was not read.`);
    return;
  }
  try {
    await app.engine.setClassNames(file);
    view.clearMessage();
  } catch (err) {
    if (err instanceof EngineLost) return; // the restart says so
    view.showMessage(`${err.message} — the previous names stay.`);
  } finally {
    showRunningModel();
  }
}

// ---- wiring -----------------------------------------------------------------------------------

/** `body[data-state]`: loading while weights load, then ready, or error when no model runs. */
function refreshState(state = app.loads > 0 ? 'loading' : app.modelLoaded ? 'ready' : 'error') {
  document.body.dataset.state = state;
  els.width.disabled = !app.manifest; // a width asked for during a load replaces that load
  els.backendSwitch.disabled = app.busy > 0 || !app.modelLoaded;
  els.pause.disabled = state === 'loading' && !app.modelLoaded;
  view.renderStale(staleReason());
  poke();
}

/** Why the figures on screen are not the current model's live ones, or null when they are. */
function staleReason() {
  if (app.loads > 0) return 'loading a model';
  if (app.busy > 0) return 'switching';
  if (app.paused && app.source === 'camera') return 'paused';
  return null;
}

async function withBusy(fn) {
  app.busy++;
  refreshState();
  try {
    await fn();
  } finally {
    app.busy--;
    refreshState();
  }
}

function wire() {
  els.width.addEventListener('change', () => loadWidth(els.width.value));
  els.backendSwitch.addEventListener('click', switchBackend);
  els.pause.addEventListener('click', () => {
    app.paused = !app.paused;
    view.renderPaused(app.paused);
    refreshState();
    if (app.source === 'camera') (app.paused ? els.video.pause() : els.video.play().catch(() => {}));
    app.fps.reset();
    app.split.reset();
    poke();
  });
  els.camera.addEventListener('change', () => startCamera(els.camera.value));
  els.useCamera.addEventListener('click', () => (els.video.srcObject ? setSource('camera') : startCamera()));
  els.upload.addEventListener('change', () => {
    handleFiles(els.upload.files);
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
    handleFiles(e.dataTransfer?.files);
  });
}

async function main() {
  performance.mark('shufflenet:main');
  // A host without COOP/COEP: the service worker supplies them after one reload.
  if (await isolateThroughServiceWorker()) return;
  const builds = loadBuilds();
  wire();
  wireGuidelines(app.engine);
  if (params.get('teach') === '1') teach.setActive(true);
  view.renderPaused(false);
  loop();
  if (params.get('camera') !== '0') startCamera(); // runs alongside the engine start-up

  // The manifest, then the weights it names, download while the wasm compiles and the CPU
  // threads start: on a cold visit the download is most of the wait.
  const manifest = loadManifest();
  manifest.then((m) => {
    const first = firstSource(m).source;
    if (first) app.engine.prefetch(first.url);
  }, () => {});
  try {
    const engineOptions = {
      kernels: params.get('kernels'),
      timing: params.get('timing'),
      threads: options.threads,
      simd: options.simd,
      builds, // a promise: the engine's worker loads its own modules meanwhile
    };
    // `auto` starts on the CPU, ready as soon as the weights are; WebGPU is measured after.
    app.status = await app.engine.create(options.backend === 'auto' ? 'cpu' : options.backend, engineOptions);
    performance.mark('shufflenet:engine-created');
    const known = await app.engine.limits();
    view.buildStageRows(known.stages);
    knowLimits(known);
    view.renderBackend(app.status);
  } catch (err) {
    view.showMessage(`The classifier could not start: ${err.message}`);
    view.renderBackend(null);
    refreshState('error');
    return;
  }

  try {
    app.manifest = await manifest;
    performance.mark('shufflenet:manifest');
  } catch (err) {
    view.showMessage(`No weights to load (${err.message}). Drop a .pth or .safetensors file on the page.`);
    refreshState('error');
    return;
  }
  view.offerWidths(Object.keys(app.manifest.widths));
  const notes = [...options.notes];
  const { source, width, note } = firstSource(app.manifest);
  if (note) notes.push(note);
  if (source?.width === null) await loadOwnModel(source);
  else await loadWidth(width);
  // After the first load, whose success clears the message line.
  if (notes.length > 0) view.showMessage(notes.join(' '));
  keepForOffline(() => app.engine.resources());
}

async function loadOwnModel(source) {
  await loadWeights(source, `Loading ${source.name}…`, (err) => `${source.name} could not be loaded: ${err.message}`);
}

/** Keeps a choice (the width, the backend) in the address, so a reload or a shared link opens the same. */
function remember(name, value) {
  const url = new URL(location.href);
  url.searchParams.set(name, value);
  history.replaceState(null, '', url);
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

main();
