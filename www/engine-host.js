// The side that owns the wasm Engine. It runs inside the inference worker (the default) or,
// with `?worker=0`, on the page's main thread; `engine-client.js` hides which.
//
// The engine refuses a frame while another is running ("the engine is busy"), and a weights load
// racing a frame would be hard to reason about, so every engine call goes through `#serial`.

import init, { Engine, wasmMemoryBytes } from '../pkg/shufflenet_web.js';
import { fetchWeights, rememberWeights, forgetWeights } from './weights-cache.js';

export class EngineHost {
  #engine = null;
  #queue = Promise.resolve();
  #canvas = null;

  /** Runs `fn` after every engine call queued before it has settled. */
  #serial(fn) {
    const run = this.#queue.then(fn, fn);
    this.#queue = run.catch(() => {});
    return run;
  }

  /** `gpu`: `{ kernels, timing }` for WebGPU (the page's `?kernels=` and `?timing=`). */
  async create(preference, gpu = {}) {
    await init();
    this.#engine = await Engine.create(preference);
    if (gpu.kernels || gpu.timing) this.#engine.setGpuOptions?.(gpu.kernels || undefined, gpu.timing || undefined);
    return this.status();
  }

  /** backend is "none" until the first weights are loaded: the engine picks it then. */
  status() {
    const e = this.#engine;
    return {
      backend: e.backend(),
      adapter: e.adapterName?.() ?? null,
      fallbackReason: e.fallbackReason?.() ?? null,
    };
  }

  /**
   * Fetches (or takes from the Cache API) the weights at `url`, validates them by loading them,
   * and only then caches them, so a corrupt download is never kept.
   */
  async loadUrl(url, onProgress) {
    const got = await fetchWeights(url, onProgress);
    let info;
    try {
      info = await this.#serial(() => this.#engine.loadBytes(got.bytes));
    } catch (err) {
      if (got.cached) await forgetWeights(url);
      throw err;
    }
    if (!got.cached) await rememberWeights(url, got.bytes, got.validators);
    return { info: plain(info), cached: got.cached, bytes: got.bytes.byteLength, status: this.status() };
  }

  async loadBytes(bytes) {
    const info = await this.#serial(() => this.#engine.loadBytes(bytes));
    return { info: plain(info), cached: false, bytes: bytes.byteLength, status: this.status() };
  }

  /** `frame` is an ImageBitmap (closed here) or an ImageData. */
  async classify(frame, crop) {
    const p = await this.#serial(async () => {
      // On WebGPU a bitmap goes straight into a GPU texture (copyExternalImageToTexture);
      // the CPU needs its pixels.
      if (!(frame instanceof ImageData) && this.#engine.backend() === 'webgpu') {
        try {
          return await this.#engine.classifyBitmap(frame, 5, crop);
        } finally {
          frame.close();
        }
      }
      const image = frame instanceof ImageData ? frame : this.#pixels(frame);
      return this.#engine.classify(image, 5, crop);
    });
    return { ...plain(p), status: this.status() };
  }

  async setBackend(name) {
    await this.#serial(() => this.#engine.setBackend(name));
    return this.status();
  }

  memory() {
    return { wasmBytes: wasmMemoryBytes() };
  }

  #pixels(bitmap) {
    const { width, height } = bitmap;
    if (!this.#canvas || this.#canvas.width !== width || this.#canvas.height !== height) {
      this.#canvas = new OffscreenCanvas(width, height);
    }
    const ctx = this.#canvas.getContext('2d', { willReadFrequently: true });
    ctx.drawImage(bitmap, 0, 0);
    bitmap.close();
    return ctx.getImageData(0, 0, width, height);
  }
}

/** Copies a wasm-bindgen result into plain data that survives postMessage. */
function plain(value) {
  return JSON.parse(JSON.stringify(value, (_, v) => (v instanceof Map ? Object.fromEntries(v) : v)));
}
