// @ts-check
// Teach mode: the visitor's own classes. Samples are the backbone's pooled features of webcam
// frames (captured while a class's button is held) or of images dropped onto a class. After each
// change a new classifier head trains in the engine's worker and runs from the next frame; the
// model's own head is one click away. Samples persist in IndexedDB (features only: see
// teach-store.js) and the taught model downloads as .safetensors that PyTorch loads.

import { EngineLost } from './engine-client.js';
import { Superseded } from './engine-supervisor.js';
import { decodeImage } from './image-input.js';
import { deleteSet, loadSet, saveSet } from './teach-store.js';

/** While a capture button is held, at most one sample per this many ms. */
const CAPTURE_INTERVAL_MS = 200;
// Below this many samples a second while capturing on WebGPU, the CPU is offered.
const MIN_CAPTURE_RATE = 2;
const MAX_SAMPLES_PER_CLASS = 500;
const MAX_CLASSES = 20;
/** Thumbnails shown per class (the newest); every sample counts. Kept in memory only. */
const MAX_THUMBS = 12;
const THUMB_SIDE = 48;
const HOLDOUT = 0.2;
const SEED = 1;
/** Waits this long after a change before training, so a burst of samples trains once. */
const TRAIN_DELAY_MS = 300;

const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));
const el = (tag, props = {}, children = []) => {
  const node = Object.assign(document.createElement(tag), props);
  for (const c of children) node.append(c);
  return node;
};
const lost = (err) => err instanceof EngineLost || err instanceof Superseded;

/**
 * @typedef {{ features: Float32Array, thumb: HTMLCanvasElement | null }} Sample
 * @typedef {{ name: string, samples: Sample[], row?: { li: HTMLElement, count: HTMLElement, thumbs: HTMLElement } }} TeachClass
 */

export class TeachMode {
  #engine;
  #video;
  #still;
  #source;
  #onHead;
  #backend;
  #useCpu;
  /** @type {TeachClass[]} */
  classes = [];
  #model = null; // the model source the samples belong to
  #key = null;
  #featureLen = 0;
  /** "Restored N samples of K classes", until the report says they trained. */
  #restored = null;
  /** @type {number | null} */
  #capturing = null;
  #lastCapture = 0;
  // This capture's start and samples: slower than MIN_CAPTURE_RATE on WebGPU, the page offers the CPU.
  #captureStart = 0;
  #captured = 0;
  #trainTimer = 0;
  #training = null; // the running training, and whether another was asked for meanwhile
  #again = false;
  #saving = Promise.resolve();
  taught = false; // the engine runs a head taught here

  /**
   * @param {{ engine: any, video: HTMLVideoElement, still: () => ImageBitmap | null,
   *   source: () => string, onHead: () => void, backend: () => string | undefined,
   *   useCpu: () => Promise<void> }} options
   * `onHead` hears when the running head (and so the class names) changed; `backend` names the
   * running backend and `useCpu` switches to the CPU (the slow-capture hint's button).
   */
  constructor({ engine, video, still, source, onHead, backend, useCpu }) {
    this.#backend = backend;
    this.#useCpu = useCpu;
    this.#engine = engine;
    this.#video = video;
    this.#still = still;
    this.#source = source;
    this.#onHead = onHead;
    this.#wire();
  }

  get active() {
    return !$('teach').hidden;
  }

  /** The live loop asks the engine for features while a capture button is held. */
  wantsFeatures() {
    return this.active && this.#capturing != null;
  }

  setActive(on) {
    $('teach').hidden = !on;
    const toggle = $('teach-toggle');
    toggle.setAttribute('aria-pressed', String(on));
    document.body.dataset.teach = String(on);
    const url = new URL(location.href);
    if (on) url.searchParams.set('teach', '1');
    else url.searchParams.delete('teach');
    history.replaceState(null, '', url);
    if (on) this.#scheduleTrain(0);
  }

  /** A new model runs: its samples come from the store (features of one backbone only). */
  async modelChanged(model) {
    if (!model || model.source === this.#model) return;
    this.#model = model.source;
    this.taught = false;
    this.#stopCapture();
    const { info } = model.result;
    const source = model.source;
    this.#key = source.sha256 ? `sha256:${source.sha256}` : `file:${source.name}:${info.bytes}:${info.params}`;
    this.#featureLen = info.featureLen;
    const key = this.#key;
    let saved = null;
    try {
      saved = await loadSet(key, info.featureLen);
    } catch (err) {
      this.#status(`Saved samples could not be read (${err.message}); starting afresh.`);
    }
    if (key !== this.#key) return; // another model arrived meanwhile
    this.classes = saved?.length
      ? saved.map((c) => ({ name: c.name, samples: c.samples.map((features) => ({ features, thumb: null })) }))
      : [this.#blank(0), this.#blank(1)];
    this.#renderClasses();
    this.#renderHead();
    const count = this.#sampleCount();
    const restored = `Restored ${count} samples of ${this.classes.length} classes`;
    // Said again in the report once they have trained (which clears this line).
    this.#restored = count ? restored : null;
    this.#status(count ? `${restored} (thumbnails are not kept).` : '');
    if (this.active) this.#scheduleTrain(0);
  }

  /** Features of a live frame, offered while capturing: kept at a steady rate. */
  offer(features) {
    const c = this.#capturing;
    if (c == null || !this.classes[c] || features.length !== this.#featureLen) return;
    const now = performance.now();
    if (now - this.#lastCapture < CAPTURE_INTERVAL_MS) return;
    this.#lastCapture = now;
    this.#captured++;
    this.#add(c, features, thumbnail(this.#video, this.#video.videoWidth, this.#video.videoHeight));
    this.#checkCaptureRate(now);
  }

  /**
   * Capturing slower than MIN_CAPTURE_RATE samples a second on WebGPU (a software adapter
   * takes seconds a frame) offers a one-click switch to the CPU.
   */
  #checkCaptureRate(now) {
    const seconds = (now - this.#captureStart) / 1000;
    if (seconds < 2 || this.#backend() !== 'webgpu') return;
    const rate = this.#captured / seconds;
    if (rate < MIN_CAPTURE_RATE) {
      $('teach-cpu-hint-text').textContent = `Capturing ${rate.toFixed(1)} samples a second on WebGPU here.`;
      $('teach-cpu-hint').hidden = false;
    }
  }

  // ---- samples ----------------------------------------------------------------------------

  #blank(i) {
    return { name: `Class ${i + 1}`, samples: [] };
  }

  #sampleCount() {
    return this.classes.reduce((n, c) => n + c.samples.length, 0);
  }

  #add(c, features, thumb) {
    const cls = this.classes[c];
    if (cls.samples.length >= MAX_SAMPLES_PER_CLASS) {
      this.#status(`“${cls.name}” has ${MAX_SAMPLES_PER_CLASS} samples, the most a class keeps.`);
      this.#stopCapture();
      return;
    }
    cls.samples.push({ features, thumb });
    this.#renderCount(cls);
    if (thumb) {
      const thumbs = cls.row?.thumbs;
      thumbs?.append(thumb);
      while (thumbs && thumbs.childElementCount > MAX_THUMBS) thumbs.firstElementChild?.remove();
    }
    this.#changed();
  }

  /** Pooled features of each image file, added to class `c`; what is not an image is named. */
  async addFiles(c, files) {
    const skipped = [];
    for (const file of files) {
      let bitmap;
      try {
        bitmap = await decodeImage(file);
      } catch {
        skipped.push(file.name);
        continue;
      }
      const thumb = thumbnail(bitmap, bitmap.width, bitmap.height);
      try {
        const p = await this.#engine.classify(bitmap, 'eval', true); // closes the bitmap
        if (!this.classes[c]) return;
        this.#add(c, p.features, thumb);
      } catch (err) {
        if (lost(err)) return;
        this.#status(`${file.name}: ${err.message}`);
        return;
      }
    }
    if (skipped.length) this.#status(`Skipped ${skipped.join(', ')}: not an image this browser can read.`);
  }

  async #captureStill(c) {
    const still = this.#still();
    if (!still) return;
    const copy = await createImageBitmap(still);
    const thumb = thumbnail(copy, copy.width, copy.height);
    try {
      const p = await this.#engine.classify(copy, 'eval', true);
      this.#add(c, p.features, thumb);
    } catch (err) {
      if (!lost(err)) this.#status(err.message);
    }
  }

  #startCapture(c) {
    if (this.#source() === 'image') {
      this.#captureStill(c);
      return;
    }
    if (this.#source() !== 'camera') {
      this.#status('Start the camera, or drop images onto a class, to add samples.');
      return;
    }
    this.#capturing = c;
    this.#lastCapture = 0;
    this.#captureStart = performance.now();
    this.#captured = 0;
    this.classes[c].row?.li.classList.add('capturing');
    document.body.dataset.capturing = String(c);
  }

  #stopCapture() {
    if (this.#capturing == null) return;
    this.#checkCaptureRate(performance.now());
    this.classes[this.#capturing]?.row?.li.classList.remove('capturing');
    this.#capturing = null;
    delete document.body.dataset.capturing;
  }

  /** Something changed: save, and retrain (when training follows changes). */
  #changed() {
    this.#save();
    if (/** @type {HTMLInputElement} */ ($('teach-auto')).checked) this.#scheduleTrain(TRAIN_DELAY_MS);
  }

  #save() {
    const key = this.#key;
    if (!key) return;
    // One write at a time, in order; the last one holds every sample.
    this.#saving = this.#saving.then(() =>
      saveSet(key, this.#featureLen, this.classes).catch((err) =>
        this.#status(`Samples could not be saved in this browser (${err.message}); they last until you leave.`),
      ),
    );
  }

  // ---- training -----------------------------------------------------------------------------

  #scheduleTrain(delay) {
    clearTimeout(this.#trainTimer);
    this.#trainTimer = window.setTimeout(() => this.train(), delay);
  }

  /** Trains on every sample and runs the head; says which class lacks samples if one does. */
  async train() {
    if (this.#training) {
      this.#again = true;
      return this.#training;
    }
    if (this.classes.length < 2) return this.#status('Teaching needs at least two classes.');
    const empty = this.classes.find((c) => !c.samples.length);
    if (empty) {
      const some = this.#sampleCount() > 0;
      return this.#status(some ? `Add samples to “${empty.name}” to train: every class needs at least one.` : '');
    }
    const names = this.classes.map((c, i) => c.name.trim() || `Class ${i + 1}`);
    const n = this.#sampleCount();
    const features = new Float32Array(n * this.#featureLen);
    const labels = new Uint32Array(n);
    let row = 0;
    this.classes.forEach((c, label) => {
      for (const s of c.samples) {
        features.set(s.features, row * this.#featureLen);
        labels[row++] = label;
      }
    });
    const model = this.#model;
    this.#training = (async () => {
      try {
        $('teach').dataset.training = 'true';
        const report = await this.#engine.teach(features, labels, names, { holdout: HOLDOUT, seed: SEED });
        if (model !== this.#model) return;
        this.taught = true;
        this.#renderReport(report);
        this.#renderHead();
        this.#onHead();
      } catch (err) {
        if (!lost(err)) this.#status(`Training failed: ${err.message}`);
      } finally {
        delete $('teach').dataset.training;
        this.#training = null;
      }
    })();
    await this.#training;
    if (this.#again) {
      this.#again = false;
      await this.train();
    }
  }

  /** Back to the model's own head and class names. */
  async restore() {
    try {
      await this.#engine.restoreHead();
      this.taught = false;
      this.#renderHead();
      this.#onHead();
    } catch (err) {
      if (!lost(err)) this.#status(`Could not switch back: ${err.message}`);
    }
  }

  async download() {
    if (!this.taught) return this.#status('Train your classes first: the download holds the taught head.');
    try {
      const bytes = await this.#engine.exportModel();
      const names = this.classes.map((c, i) => c.name.trim() || `Class ${i + 1}`);
      const indices = Object.fromEntries(names.map((name, i) => [String(i), name]));
      const base = `shufflenet_v2_${this.#modelLabel()}_${names.length}_classes`;
      save(new Blob([bytes], { type: 'application/octet-stream' }), `${base}.safetensors`);
      save(new Blob([`${JSON.stringify(indices, null, 2)}\n`], { type: 'application/json' }), 'class_indices.json');
      this.#status(`Downloaded ${base}.safetensors and class_indices.json.`);
    } catch (err) {
      if (!lost(err)) this.#status(`The model could not be exported: ${err.message}`);
    }
  }

  #modelLabel() {
    const w = document.body.dataset.arch?.match(/x(\d)\.(\d)/);
    return w ? `x${w[1]}_${w[2]}` : 'custom';
  }

  async clear() {
    this.#stopCapture();
    for (const c of this.classes) {
      c.samples = [];
      c.row?.thumbs.replaceChildren();
      this.#renderCount(c);
    }
    if (this.#key) await deleteSet(this.#key).catch(() => {});
    if (this.taught) await this.restore();
    $('teach-report').textContent = '';
    this.#renderConfusion([]);
    this.#status('Samples cleared.');
  }

  // ---- rendering ----------------------------------------------------------------------------

  #status(text) {
    $('teach-status').textContent = text;
  }

  #renderReport(r) {
    const pct = (a, b) => `${Math.round((100 * a) / b)}%`;
    const held = r.heldOutTotal
      ? `held-out accuracy ${r.heldOutRight}/${r.heldOutTotal} (${pct(r.heldOutRight, r.heldOutTotal)}): ` +
        r.heldOut.map((c) => `${c.name} ${c.right}/${c.total}`).join(', ')
      : 'too few samples to hold any out';
    const report = $('teach-report');
    const restored = this.#restored ? `${this.#restored} and retrained them. ` : '';
    this.#restored = null;
    report.textContent = `${restored}Trained on ${r.samples} samples in ${r.ms.toFixed(0)} ms; ${held}. The head that runs learned from all of them.`;
    report.dataset.heldOut = `${r.heldOutRight}/${r.heldOutTotal}`;
    this.#renderConfusion(r.heldOutTotal ? r.heldOut : []);
    this.#status('');
  }

  /** The held-out confusion table: rows the true classes, columns the head's answers. */
  #renderConfusion(rows) {
    const table = /** @type {HTMLTableElement} */ ($('teach-confusion'));
    table.hidden = rows.length === 0;
    for (const old of [...table.querySelectorAll('thead, tbody')]) old.remove();
    if (!rows.length) return;
    const head = table.createTHead().insertRow();
    head.insertCell().textContent = '';
    for (const c of rows) {
      const th = document.createElement('th');
      th.scope = 'col';
      th.textContent = c.name;
      head.append(th);
    }
    const body = table.createTBody();
    for (const c of rows) {
      const tr = body.insertRow();
      const th = document.createElement('th');
      th.scope = 'row';
      th.textContent = `${c.name} (${c.total ? Math.round((100 * c.right) / c.total) : 0}%)`;
      tr.append(th);
      c.predicted.forEach((n, j) => {
        const td = tr.insertCell();
        td.textContent = String(n);
        if (j === rows.indexOf(c)) td.className = 'right';
      });
    }
  }

  #renderHead() {
    $('teach-head-own').setAttribute('aria-pressed', String(this.taught));
    $('teach-head-file').setAttribute('aria-pressed', String(!this.taught));
    /** @type {HTMLButtonElement} */ ($('teach-download')).disabled = !this.taught;
    document.body.dataset.taught = String(this.taught);
  }

  #renderCount(c) {
    if (!c.row) return;
    const n = c.samples.length;
    c.row.count.textContent = `${n} sample${n === 1 ? '' : 's'}`;
    c.row.count.dataset.count = String(n);
  }

  #renderClasses() {
    const list = $('teach-classes');
    list.replaceChildren(...this.classes.map((c, i) => this.#row(c, i)));
    /** @type {HTMLButtonElement} */ ($('teach-add')).disabled = this.classes.length >= MAX_CLASSES;
  }

  #row(c, i) {
    const name = el('input', { className: 'teach-name', value: c.name, maxLength: 60 });
    name.setAttribute('aria-label', `Name of class ${i + 1}`);
    name.addEventListener('input', () => (c.name = name.value));
    name.addEventListener('change', () => this.#changed());
    const capture = el('button', { type: 'button', className: 'teach-capture', textContent: 'Hold to capture' });
    capture.dataset.testid = 'teach-capture';
    capture.title = 'Hold to add webcam frames (or click to add the picture shown)';
    const start = (e) => {
      e.preventDefault();
      capture.setPointerCapture?.(e.pointerId);
      this.#startCapture(i);
    };
    capture.addEventListener('pointerdown', start);
    for (const ev of ['pointerup', 'pointercancel', 'lostpointercapture']) capture.addEventListener(ev, () => this.#stopCapture());
    capture.addEventListener('keydown', (e) => {
      if ((e.key === ' ' || e.key === 'Enter') && !e.repeat) {
        e.preventDefault();
        this.#startCapture(i);
      }
    });
    capture.addEventListener('keyup', () => this.#stopCapture());
    capture.addEventListener('blur', () => this.#stopCapture());
    capture.addEventListener('contextmenu', (e) => e.preventDefault()); // a long press on touch screens
    const files = el('input', { type: 'file', multiple: true, accept: 'image/*', className: 'visually-hidden' });
    files.dataset.testid = 'teach-files';
    files.addEventListener('change', () => {
      this.addFiles(i, [...(files.files ?? [])]);
      files.value = '';
    });
    const pick = el('label', { className: 'button' }, [files, 'Add images…']);
    const count = el('span', { className: 'teach-count' });
    count.dataset.testid = 'teach-count';
    const remove = el('button', { type: 'button', className: 'link', textContent: 'Remove' });
    remove.setAttribute('aria-label', `Remove class ${i + 1}`);
    remove.addEventListener('click', () => this.#remove(i));
    const thumbs = el('div', { className: 'teach-thumbs' });
    for (const s of c.samples.slice(-MAX_THUMBS)) if (s.thumb) thumbs.append(s.thumb);
    const li = el('li', { className: 'teach-class' }, [
      el('div', { className: 'teach-class-head' }, [name, count, remove]),
      el('div', { className: 'teach-class-actions' }, [capture, pick]),
      thumbs,
    ]);
    li.dataset.testid = 'teach-class';
    // Images dropped onto a class become its samples (not the page's picture).
    li.addEventListener('dragover', (e) => {
      e.preventDefault();
      e.stopPropagation();
      li.classList.add('dragging');
    });
    li.addEventListener('dragleave', () => li.classList.remove('dragging'));
    li.addEventListener('drop', (e) => {
      e.preventDefault();
      e.stopPropagation();
      li.classList.remove('dragging');
      this.addFiles(i, [...(e.dataTransfer?.files ?? [])]);
    });
    c.row = { li, count, thumbs };
    this.#renderCount(c);
    return li;
  }

  #remove(i) {
    if (this.classes.length <= 2) {
      this.classes[i].samples = [];
      this.classes[i].row?.thumbs.replaceChildren();
      this.#renderCount(this.classes[i]);
    } else {
      this.classes.splice(i, 1);
      this.#renderClasses();
    }
    this.#stopCapture();
    this.#changed();
  }

  #wire() {
    $('teach-toggle').addEventListener('click', () => this.setActive(!this.active));
    $('teach-add').addEventListener('click', () => {
      if (this.classes.length >= MAX_CLASSES) return;
      this.classes.push(this.#blank(this.classes.length));
      this.#renderClasses();
      /** @type {HTMLInputElement | null} */ ($('teach-classes').querySelector('li:last-child .teach-name'))?.select();
      this.#changed();
    });
    $('teach-train').addEventListener('click', () => this.train());
    $('teach-head-own').addEventListener('click', () => this.train());
    $('teach-head-file').addEventListener('click', () => this.taught && this.restore());
    $('teach-download').addEventListener('click', () => this.download());
    $('teach-clear').addEventListener('click', () => this.clear());
    $('teach-use-cpu').addEventListener('click', async () => {
      $('teach-cpu-hint').hidden = true;
      await this.#useCpu();
    });
  }
}

/** A small square thumbnail (centre crop) of a video frame or bitmap. */
function thumbnail(source, width, height) {
  if (!width || !height) return null;
  const canvas = el('canvas', { width: THUMB_SIDE, height: THUMB_SIDE, className: 'teach-thumb' });
  const side = Math.min(width, height);
  canvas
    .getContext('2d')
    ?.drawImage(source, (width - side) / 2, (height - side) / 2, side, side, 0, 0, THUMB_SIDE, THUMB_SIDE);
  return canvas;
}

function save(blob, name) {
  const url = URL.createObjectURL(blob);
  const a = el('a', { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
