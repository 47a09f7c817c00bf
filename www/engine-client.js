// @ts-check
// One interface to the Engine wherever it runs: in the inference worker (default) or on the
// main thread (`?worker=0`, kept to measure the difference; see README "UI frame rate").
//
// Methods: create(preference), loadUrl(url, onProgress, sha256), loadBytes(bytes), classify(frame, crop),
// setBackend(name), memory(). `frame` is an ImageBitmap; it is transferred to the worker.

class WorkerClient {
  #worker = new Worker(new URL('./engine-worker.js', import.meta.url), { type: 'module' });
  #pending = new Map();
  #next = 1;
  inWorker = true;

  constructor() {
    this.#worker.onmessage = ({ data }) => {
      const call = this.#pending.get(data.id);
      if (!call) return;
      if (data.progress) return call.onProgress?.(...data.progress);
      this.#pending.delete(data.id);
      if (data.ok) call.resolve(data.value);
      else call.reject(new Error(data.error));
    };
    // A worker that fails to start (e.g. the wasm module is missing) reports here, not per call.
    this.#worker.onerror = (ev) => {
      ev.preventDefault();
      const err = new Error(ev.message || 'The inference worker failed to start');
      for (const call of this.#pending.values()) call.reject(err);
      this.#pending.clear();
    };
  }

  /**
   * @param {string} method
   * @param {unknown[]} args
   * @param {{ transfer?: Transferable[], onProgress?: (loaded: number, total?: number) => void }} [options]
   */
  #call(method, args, options = {}) {
    const { transfer = [], onProgress } = options;
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject, onProgress });
      this.#worker.postMessage({ id, method, args }, transfer);
    });
  }

  create(preference, gpu) { return this.#call('create', [preference, gpu]); }
  loadUrl(url, onProgress, sha256) { return this.#call('loadUrl', [url, sha256], { onProgress }); }
  loadBytes(bytes) { return this.#call('loadBytes', [bytes], { transfer: [bytes.buffer] }); }
  classify(frame, crop) { return this.#call('classify', [frame, crop], { transfer: [frame] }); }
  setBackend(name) { return this.#call('setBackend', [name]); }
  memory() { return this.#call('memory', []); }
}

class InlineClient {
  #host = null;
  inWorker = false;
  async create(preference, gpu) {
    // Imported lazily so worker mode never loads the wasm glue on the main thread.
    const { EngineHost } = await import('./engine-host.js');
    this.#host = new EngineHost();
    return this.#host.create(preference, gpu);
  }
  loadUrl(url, onProgress, sha256) { return this.#host.loadUrl(url, onProgress, sha256); }
  loadBytes(bytes) { return this.#host.loadBytes(bytes); }
  classify(frame, crop) { return this.#host.classify(frame, crop); }
  setBackend(name) { return this.#host.setBackend(name); }
  async memory() { return this.#host.memory(); }
}

export function createEngineClient({ worker = true } = {}) {
  return worker ? new WorkerClient() : new InlineClient();
}
