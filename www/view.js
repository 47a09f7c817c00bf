// Rendering: everything that writes to the DOM. Rows are created once and updated in place so a
// long webcam session does not churn nodes.

const $ = (id) => document.getElementById(id);
const TOP_K = 5;

const predictionRows = [];
const stageRows = new Map();

function el(tag, props = {}, children = []) {
  const node = Object.assign(document.createElement(tag), props);
  for (const c of children) node.append(c);
  return node;
}

function buildPredictionRows() {
  const list = $('predictions');
  for (let i = 0; i < TOP_K; i++) {
    const name = el('span', { className: 'name', textContent: '—' });
    const fill = el('span', { className: 'fill' });
    const pct = el('span', { className: 'value', textContent: '' });
    const li = el('li', { className: 'prediction' }, [name, el('span', { className: 'bar' }, [fill]), pct]);
    li.dataset.testid = 'prediction';
    list.append(li);
    predictionRows.push({ li, name, fill, pct });
  }
}
buildPredictionRows();

/** One row per timed stage, named as the crate names them (`limits().stages`). */
export function buildStageRows(names) {
  const stages = $('stages');
  for (const stage of names) {
    const fill = el('span', { className: 'fill' });
    const ms = el('span', { className: 'value', textContent: '–' });
    const li = el('li', { className: `stage stage-${stage}` }, [
      el('span', { className: 'name', textContent: stage }),
      el('span', { className: 'bar' }, [fill]),
      ms,
    ]);
    li.dataset.testid = 'stage-time';
    li.dataset.stage = stage;
    stages.append(li);
    stageRows.set(stage, { fill, ms });
  }
}

/** Updates text in place: at tens of frames a second `textContent =` would churn Text nodes. */
function setText(node, text) {
  const t = node.firstChild;
  if (t && t.nodeType === Node.TEXT_NODE && !t.nextSibling) {
    if (t.data !== text) t.data = text;
  } else node.textContent = text;
}

/** Each bar's fill as last set, in tenths of a percent (`style.transform` reads back reserialized). */
const fills = new WeakMap();
const SLIVER_PX = 4;
/**
 * A bar's fill at `pct` % of its track (style.css, `.fill`), with a 4 px sliver at 0 so that a
 * tiny but real value shows: 4 px + pct % of the rest. A value that is not a number shows as 0.
 */
function setFill(fill, pct) {
  const tenths = Number.isFinite(pct) ? Math.round(Math.max(0, Math.min(100, pct)) * 10) : 0;
  if (fills.get(fill) === tenths) return;
  fills.set(fill, tenths);
  const p = tenths / 10;
  fill.style.transform = `translateX(calc(${p - 100}% + ${(SLIVER_PX * (1 - p / 100)).toFixed(2)}px))`;
}

const fmtPct = (pct) => (pct > 0 && pct < 0.01 ? '<0.01%' : `${pct.toFixed(pct < 1 ? 2 : pct < 10 ? 1 : 0)}%`);
const fmtMs = (ms) => (ms >= 100 ? ms.toFixed(0) : ms >= 10 ? ms.toFixed(1) : ms.toFixed(2)) + ' ms';

export function renderPrediction(p, fps) {
  $('results').toggleAttribute('data-live', fps != null);
  predictionRows.forEach((row, i) => {
    const t = p.top[i];
    // A head with fewer classes than rows (a taught one, say) leaves the rest empty.
    if (row.li.hidden !== !t) row.li.hidden = !t;
    if (!t) return;
    const pct = Math.max(0, Math.min(1, t.prob)) * 100;
    setText(row.name, t.name);
    row.name.title = `class ${t.index}`;
    setFill(row.fill, pct);
    setText(row.pct, fmtPct(pct));
    row.li.dataset.index = String(t.index);
  });
  setText($('top5-heading'), `Top\u00a0${Math.min(TOP_K, p.top.length) || TOP_K}`);
  // A taught head's "none of these": far from every taught class, so no name is claimed.
  const unknown = Boolean(p.unknown) && p.top.length > 0;
  const note = $('unknown-note');
  if (note.hidden !== !unknown) note.hidden = !unknown;
  if (unknown) setText(note, `Not one of your classes (the nearest is ${p.top[0].name})`);
  $('results').toggleAttribute('data-unknown', unknown);
  const caption = $('caption');
  caption.hidden = !p.top.length;
  if (p.top.length) setText(caption, unknown ? 'Not one of your classes' : `${p.top[0].name} · ${fmtPct(p.top[0].prob * 100)}`);
  const total = p.totalMs;
  const max = Math.max(...Object.values(p.stages), 1e-9);
  for (const [stage, row] of stageRows) {
    const ms = p.stages[stage] ?? 0;
    setFill(row.fill, (ms / max) * 100);
    setText(row.ms, fmtMs(ms));
  }
  setText($('total'), fmtMs(total));
  // No rate (a still picture): its own time, "12 ms".
  setText($('fps'), fps == null ? fmtMs(total) : fps.toFixed(fps < 10 ? 1 : 0));
  setText($('fps-unit'), fps == null ? '' : 'fps');
  setText($('timing-note'), timingNote(p));
}

/**
 * Marks the predictions and times as not live (`reason`: "loading a model", "switching",
 * "paused"), or live again with null: dimmed, with the reason beside the figures.
 */
export function renderStale(reason) {
  const results = $('results');
  if (reason) results.dataset.stale = reason;
  else delete results.dataset.stale;
  const note = $('stale');
  note.hidden = !reason;
  setText(note, reason ? `stale: ${reason}` : '');
}

const TIMING_NOTES = {
  'cpu-clock': 'Stage times: the CPU clock around each stage.',
  'gpu-timestamps': 'Stage times: GPU timestamp queries between compute passes.',
  'gpu-fenced': 'Stage times: wall clock with a GPU fence after each stage (precise mode, ?timing=precise).',
  'frame-only': 'Only the whole frame is timed on this device; the split per stage is unknown.',
};
const timingNote = (p) => {
  const note = TIMING_NOTES[p.timing] ?? (p.timing ? `Stage times: ${p.timing}.` : '');
  // Coarse (quantized) GPU timestamps: the engine reports a running mean, never a lone 0.0.
  if (p.resolutionMs == null) return note;
  const frames = `${p.framesAveraged} frame${p.framesAveraged === 1 ? '' : 's'}`;
  return `${note} Mean of ${frames}, ${Number(p.resolutionMs.toPrecision(2))} ms resolution.`;
};

/** Smoothed classifications per second (exponential moving average of frame intervals). */
export class FpsMeter {
  #last = null;
  #avg = null;
  reset() {
    this.#last = null;
    this.#avg = null;
  }
  tick(now = performance.now()) {
    if (this.#last != null) {
      const dt = now - this.#last;
      this.#avg = this.#avg == null ? dt : this.#avg * 0.85 + dt * 0.15;
    }
    this.#last = now;
    return this.#avg ? 1000 / this.#avg : null;
  }
}

const CPU_BADGES = { 'cpu-simd128': 'CPU SIMD128', 'cpu-relaxed': 'CPU relaxed SIMD' };

// What `auto`'s measurement said (backend-choice.js), shown under the badge; null when none.
let choiceNote = null;
let shownStatus = null;

/** Says why this backend runs ("CPU · 9.8 ms here vs WebGPU 1,620 ms"), or clears it with null. */
export function renderChoice(text) {
  choiceNote = text;
  renderBackend(shownStatus);
}

export function renderBackend(status) {
  shownStatus = status;
  const badge = $('backend');
  const button = $('backend-switch');
  const note = $('backend-note');
  if (!status || status.backend === 'none') {
    badge.textContent = status ? 'starting…' : 'unavailable';
    badge.dataset.kind = 'none';
    return;
  }
  const gpu = status.backend === 'webgpu';
  badge.dataset.kind = gpu ? 'gpu' : 'cpu';
  badge.dataset.backend = status.backend;
  // "x2": the CPU's threads; on one thread, why (when more were wanted).
  const threads = status.cpuThreads ? ` x${status.cpuThreads}${status.threadsNote ? ` · ${status.threadsNote}` : ''}` : '';
  badge.textContent = gpu
    ? `WebGPU · ${status.adapter || 'GPU'}`
    : `${CPU_BADGES[status.backend] ?? 'CPU (no SIMD)'}${threads}`;
  badge.title = gpu ? 'Running on the GPU through WebGPU' : 'Running on the CPU in WebAssembly';
  button.textContent = gpu ? 'Use CPU' : 'Use WebGPU';
  button.setAttribute('aria-label', gpu ? 'Switch to the CPU backend' : 'Switch to the WebGPU backend');
  const fallback = !gpu && status.fallbackReason ? `WebGPU is not in use: ${status.fallbackReason}. The CPU runs the model.` : null;
  const text = choiceNote ?? fallback;
  note.hidden = !text;
  note.textContent = text ?? '';
  if (choiceNote) badge.title += ` (${choiceNote})`;
}

/** The width picker's options: the widths the manifest publishes, narrowest first (none are hard-coded). */
export function offerWidths(widths) {
  const sorted = [...widths].sort((a, b) => Number(a) - Number(b));
  $('width').replaceChildren(...sorted.map((w) => el('option', { value: w, textContent: `x${w}` })));
}

export function renderWidth(width) {
  const select = $('width');
  let custom = select.querySelector('option[value="custom"]');
  if (width == null) {
    if (!custom) select.append(el('option', { value: 'custom', textContent: 'custom model' }));
    select.value = 'custom';
  } else {
    custom?.remove();
    select.value = width;
  }
}

/** What the model info says of the class names. */
function describeClasses(info, namesFile) {
  const n = Number(info.classes).toLocaleString('en');
  if (namesFile) return `${n}, named by ${namesFile}`;
  if (info.classNames === 'given') return `${n}, named in the weights file`;
  if (info.classNames === 'imagenet') return `${n} (ImageNet)`;
  return `${n} (no names: drop a class_indices.json or labels.txt)`;
}

export function renderModel({ info, cached, bytes }, { source, trained, namesFile }) {
  $('untrained').hidden = trained;
  document.body.dataset.trained = String(trained);
  document.body.dataset.arch = info.arch ?? '';
  const rows = [
    ['Architecture', `ShuffleNet V2 ${info.arch ?? '?'}`],
    ['Classes', describeClasses(info, namesFile)],
    ['Parameters', info.params != null ? Number(info.params).toLocaleString('en') : '?'],
    ['Stored as', `${info.dtype ?? '?'} ${info.format ?? ''}`.trim()],
    ['Size', `${(bytes / 1e6).toFixed(1)} MB${cached ? ' (from the browser cache)' : ''}`],
    ['Weights', trained ? source : `${source} — untrained stand-in`],
  ];
  const dl = $('model-info');
  dl.replaceChildren(...rows.flatMap(([k, v]) => [el('dt', { textContent: k }), el('dd', { textContent: v })]));
  dl.dataset.cached = String(Boolean(cached));
}

/** Where a camera frame's time goes (www/frame-split.js), under the Model details. */
export function renderFrameSplit(split) {
  const dl = $('frame-split');
  dl.replaceChildren(
    ...split.rows(fmtMs).flatMap(([k, v, key]) => {
      const dd = el('dd', { textContent: v });
      dd.dataset.part = key;
      return [el('dt', { textContent: k }), dd];
    }),
  );
  $('frame-split-section').hidden = false;
}

export function showProgress(label) {
  $('progress').hidden = false;
  $('progress-label').textContent = label;
  const bar = $('progress-bar');
  bar.removeAttribute('value'); // indeterminate until the first bytes arrive
  $('progress-text').textContent = '';
}

export function updateProgress(loaded, total) {
  const bar = $('progress-bar');
  const mb = (n) => (n / 1e6).toFixed(1);
  if (total) {
    const pct = Math.min(100, (loaded / total) * 100);
    bar.value = pct;
    $('progress-text').textContent = `${mb(loaded)} of ${mb(total)} MB (${pct.toFixed(0)}%)`;
  } else {
    $('progress-text').textContent = `${mb(loaded)} MB`;
  }
}

export function hideProgress() {
  $('progress').hidden = true;
}

/** Shows `text`, with `details` (bytes, a parser's words) folded away under it when given. */
export function showMessage(text, details = '') {
  $('message-text').textContent = text;
  const fold = $('message-details');
  fold.hidden = !details;
  fold.open = false;
  $('message-details-text').textContent = details;
  $('message').hidden = false;
}

export function clearMessage() {
  $('message').hidden = true;
  $('message-text').textContent = '';
  $('message-details').hidden = true;
}

export function showCameraMessage(text) {
  const m = $('camera-message');
  m.textContent = text;
  m.hidden = false;
}

export function hideCameraMessage() {
  $('camera-message').hidden = true;
}

export function renderCameras(cameras, activeId) {
  const select = $('camera');
  select.replaceChildren(...cameras.map((c) => el('option', { value: c.id, textContent: c.label })));
  if (activeId) select.value = activeId;
  $('camera-field').hidden = cameras.length < 2;
}

export function renderPaused(paused) {
  const b = $('pause');
  b.textContent = paused ? 'Resume' : 'Pause';
  b.setAttribute('aria-pressed', String(paused));
  document.body.dataset.paused = String(paused);
}

export function drawStill(canvas, bitmap) {
  canvas.width = bitmap.width;
  canvas.height = bitmap.height;
  canvas.getContext('2d').drawImage(bitmap, 0, 0);
}
