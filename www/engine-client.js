// @ts-check
// One interface to the Engine wherever it runs: in the inference worker (default) or on the
// main thread (`?worker=0`, kept to measure the difference; see docs/page.md).
//
// Methods: create(preference, options), limits(), resources(), prefetch(url), loadUrl(url, onProgress, sha256), loadBytes(bytes),
// classify(frame, crop, features), setBackend(name), prepareGpu(), timeGpu(frame, crop), adoptGpu(),
// dropGpu(), setClassNames(bytes, file), measureGuideline(backend, table, runs, scale),
// teach(features, labels, names, holdout, seed), restoreHead(), exportModel(), memory(), close(err). `frame` is an ImageBitmap or a
// VideoFrame; it is transferred to the worker.
//
// A worker client lives as long as its worker. When the worker dies (an uncaught error: a wasm
// trap from a panic or a failed allocation escapes a pending engine call), a reply says the
// engine is broken, or the worker stays silent longer than its pending calls may take, the
// client terminates the worker and rejects every pending and every later call with EngineLost,
// then calls `onLost`. It never lets a call wait on a worker that will not answer.
// engine-supervisor.js starts a fresh client and carries on.

/** The engine is gone: its worker died, was replaced, or stopped answering. */
export class EngineLost extends Error {
  name = 'EngineLost';
}

/**
 * How long the worker may stay silent (ms) while a call of each kind is pending. Loads report
 * progress while they download, so their limit covers the longest silent part: validating the
 * weights and building the backend (GPU pipelines on a software adapter take a while).
 */
export const TIME_LIMITS = {
  create: 60_000,
  limits: 10_000,
  resources: 10_000,
  prefetch: 10_000,
  loadUrl: 120_000,
  loadBytes: 120_000,
  setBackend: 120_000,
  // WebGPU built beside the CPU: pipelines and a warm-up frame (a software adapter is slow).
  prepareGpu: 180_000,
  timeGpu: 60_000,
  adoptGpu: 30_000,
  dropGpu: 10_000,
  setClassNames: 10_000,
  // One table of the Guidelines lab: seconds on a CPU, minutes on a software GPU.
  measureGuideline: 600_000,
  classify: 30_000,
  // Teach mode: training is capped at seconds; a head swap on WebGPU copies the backbone.
  teach: 60_000,
  restoreHead: 30_000,
  exportModel: 30_000,
  memory: 10_000,
};

class WorkerClient {
  #worker = new Worker(new URL('./engine-worker.js', import.meta.url), { type: 'module' });
  #pending = new Map();
  #next = 1;
  #lost = null;
  #limits;
  #onLost;
  #deadline = 0;
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  #timer = undefined;
  inWorker = true;

  constructor({ limits, onLost }) {
    this.#limits = limits;
    this.#onLost = onLost;
    this.#worker.onmessage = ({ data }) => {
      const call = this.#pending.get(data.id);
      if (call && data.fatal) return this.#lose(new EngineLost(`the engine crashed (${data.error})`), true);
      if (call && !data.progress) this.#pending.delete(data.id);
      this.#heard();
      if (!call) return;
      if (data.progress) call.onProgress?.(...data.progress);
      else if (data.ok) call.resolve(data.value);
      else call.reject(new Error(data.error));
    };
    // An uncaught error in the worker: the module failed to load, or the wasm engine trapped
    // inside a call, which then never answers.
    this.#worker.onerror = (ev) => {
      ev.preventDefault();
      this.#lose(new EngineLost(ev.message ? `the engine crashed (${ev.message})` : 'the inference worker failed'), true);
    };
    this.#worker.onmessageerror = () => this.#lose(new EngineLost('a reply from the engine could not be read'), true);
  }

  /** Ends this client on purpose (no `onLost`): pending calls reject with `err`. */
  close(err = new EngineLost('the engine was closed')) {
    this.#lose(err, false);
  }

  #lose(err, notify) {
    if (this.#lost) return;
    this.#lost = err;
    clearTimeout(this.#timer);
    this.#worker.terminate();
    for (const call of this.#pending.values()) call.reject(err);
    this.#pending.clear();
    if (notify) this.#onLost?.(err);
  }

  /** Any message from the worker shows it alive: the silence allowed restarts from now. */
  #heard() {
    clearTimeout(this.#timer);
    this.#deadline = 0;
    for (const call of this.#pending.values()) this.#allow(call.method);
  }

  /** Lets the worker stay silent for `method`'s limit from now (never shortens the wait). */
  #allow(method) {
    const deadline = performance.now() + this.#limits[method];
    if (deadline <= this.#deadline) return;
    this.#deadline = deadline;
    clearTimeout(this.#timer);
    const seconds = this.#limits[method] / 1000;
    this.#timer = setTimeout(
      () => this.#lose(new EngineLost(`the engine stopped answering (${method}: no reply in ${seconds} s)`), true),
      deadline - performance.now(),
    );
  }

  /**
   * @param {string} method
   * @param {unknown[]} args
   * @param {{ transfer?: Transferable[], onProgress?: (loaded: number, total?: number) => void }} [options]
   */
  #call(method, args, options = {}) {
    const { transfer = [], onProgress } = options;
    if (this.#lost) {
      for (const t of transfer) /** @type {any} */ (t).close?.(); // a frame that will never be sent
      return Promise.reject(this.#lost);
    }
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { method, resolve, reject, onProgress });
      this.#allow(method);
      this.#worker.postMessage({ id, method, args }, transfer);
    });
  }

  create(preference, options) { return this.#call('create', [preference, options]); }
  limits() { return this.#call('limits', []); }
  resources() { return this.#call('resources', []); }
  prefetch(url) { return this.#call('prefetch', [url]); }
  loadUrl(url, onProgress, sha256) { return this.#call('loadUrl', [url, sha256], { onProgress }); }
  loadBytes(bytes) { return this.#call('loadBytes', [bytes], { transfer: [bytes.buffer] }); }
  classify(frame, crop, features) { return this.#call('classify', [frame, crop, features], { transfer: [frame] }); }
  setBackend(name) { return this.#call('setBackend', [name]); }
  prepareGpu() { return this.#call('prepareGpu', []); }
  timeGpu(frame, crop) { return this.#call('timeGpu', [frame, crop], { transfer: [frame] }); }
  adoptGpu() { return this.#call('adoptGpu', []); }
  dropGpu() { return this.#call('dropGpu', []); }
  setClassNames(bytes, file) { return this.#call('setClassNames', [bytes, file]); }
  measureGuideline(backend, table, runs, scale) { return this.#call('measureGuideline', [backend, table, runs, scale]); }
  teach(features, labels, names, holdout, seed) {
    return this.#call('teach', [features, labels, names, holdout, seed], { transfer: [features.buffer, labels.buffer] });
  }
  restoreHead() { return this.#call('restoreHead', []); }
  exportModel() { return this.#call('exportModel', []); }
  memory() { return this.#call('memory', []); }
}

/** The engine on the main thread: no worker to replace, so no time limits and no restarts. */
class InlineClient {
  #host = null;
  inWorker = false;
  async create(preference, options) {
    // Imported lazily so worker mode never loads the wasm glue on the main thread.
    const { EngineHost } = await import('./engine-host.js');
    this.#host = new EngineHost();
    return this.#host.create(preference, options);
  }
  async limits() { return this.#host.limits(); }
  async resources() { return []; } // the page's own: it runs here
  async prefetch(url) { return this.#host?.prefetch(url); }
  loadUrl(url, onProgress, sha256) { return this.#host.loadUrl(url, onProgress, sha256); }
  loadBytes(bytes) { return this.#host.loadBytes(bytes); }
  classify(frame, crop, features) { return this.#host.classify(frame, crop, features); }
  setBackend(name) { return this.#host.setBackend(name); }
  prepareGpu() { return this.#host.prepareGpu(); }
  timeGpu(frame, crop) { return this.#host.timeGpu(frame, crop); }
  adoptGpu() { return this.#host.adoptGpu(); }
  async dropGpu() { return this.#host.dropGpu(); }
  setClassNames(bytes, file) { return this.#host.setClassNames(bytes, file); }
  measureGuideline(backend, table, runs, scale) { return this.#host.measureGuideline(backend, table, runs, scale); }
  teach(...args) { return this.#host.teach(...args); }
  restoreHead() { return this.#host.restoreHead(); }
  exportModel() { return this.#host.exportModel(); }
  async memory() { return this.#host.memory(); }
  close() {}
}

/**
 * `limits` overrides entries of TIME_LIMITS; `onLost(err)` hears of a worker's death.
 * @param {{ worker?: boolean, limits?: Partial<typeof TIME_LIMITS>, onLost?: (err: Error) => void }} [options]
 */
export function createEngineClient({ worker = true, limits = {}, onLost } = {}) {
  return worker ? new WorkerClient({ limits: { ...TIME_LIMITS, ...limits }, onLost }) : new InlineClient();
}
