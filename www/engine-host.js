// @ts-check
// The side that owns the wasm Engine. It runs inside the inference worker (the default) or,
// with `?worker=0`, on the page's main thread; `engine-client.js` hides which.
//
// "One frame at a time" is kept here, by `#serial`, and nowhere else in JavaScript: this is the
// layer that owns the Engine, and every caller (the page's loop, a reclassified still, a load,
// Teach mode) reaches it through here, so queueing each call behind the last is enough. The
// Rust engine only refuses overlapping calls ("the engine is busy") for callers that skip this
// queue; the supervisor orders its own operations (loads, restarts) for its model bookkeeping.

import { frameOptions } from './image-input.js';

/** @typedef {typeof import('../pkg/shufflenet_web.js')} Plain */
/** @typedef {{ Engine: Plain['Engine'], limits: Plain['limits'], wasmMemoryBytes: Plain['wasmMemoryBytes'], measureGuideline: Plain['measureGuideline'], yuvWindow: Plain['yuvWindow'] }} Package */

/** The camera frame layouts and colour matrices the engine reads itself (src/yuv.rs). */
const YUV_FORMATS = new Set(['I420', 'I420A', 'NV12']);
const YUV_MATRICES = new Set([null, 'smpte170m', 'bt470bg', 'bt709', 'bt2020-ncl']);

/**
 * The package to run and its CPU threads: a threaded build (Web Workers on shared memory) when
 * more than one thread is wanted and it starts, else one thread with the reason (`note`). Where
 * the browser validates relaxed SIMD and `simd` allows it, the relaxed-SIMD builds run
 * (`pkg-threads-relaxed/` on several threads, `pkg-relaxed/` on one), each falling back to its
 * SIMD128 twin (`pkg-threads/`, `pkg/`) when it cannot start. `simd` (the page's `?simd=`):
 * 'auto', 'relaxed' (the same, but a relaxed build that cannot run is news) or '128' (never
 * relaxed). `oneThreadNote`: why one thread is wanted, if not by the page (a CPU thread failed
 * before). `builds`: builds.json, for content-named URLs (`start`). `wanted`: the threads asked
 * for, or null for the crate's default on this machine's cores; the crate caps both
 * (`startCpuThreads`), and a count it cut says so in `note`.
 * @param {number | null} wanted
 * @param {string} simd
 * @param {string | null} [oneThreadNote]
 * @param {Builds | null} [builds]
 * @returns {Promise<{ pkg: Package, threads: number, note: string | null }>}
 */
async function choosePackage(wanted, simd, oneThreadNote = null, builds = null) {
  const single = async (note) => {
    if (simd !== '128') {
      const tried = await relaxedPackage('pkg-relaxed', builds);
      if (tried.pkg) return { pkg: tried.pkg, threads: 1, note };
      // Chosen automatically, a missing relaxed build is no news: SIMD128 is the norm.
      if (simd === 'relaxed') note = tried.note;
    }
    // Started here, not imported at the top: the threaded path never loads this build.
    const plain = /** @type {Plain} */ (await start('pkg', builds));
    return { pkg: plain, threads: 1, note };
  };
  if (wanted === null ? !(navigator.hardwareConcurrency > 1) : wanted < 2) return single(oneThreadNote);
  if (!globalThis.crossOriginIsolated) return single('the page is not cross-origin isolated');
  // A page's main thread may not block on the pool's other threads.
  if (typeof document !== 'undefined') return single('the engine runs on the main thread (?worker=0)');
  // The relaxed twin if it loads and its threads start, else pkg-threads/, else one thread.
  let relaxedNote = null;
  if (simd !== '128') {
    const tried = await relaxedPackage('pkg-threads-relaxed', builds);
    const relaxed = tried.pkg ? await startThreads(tried.pkg, wanted) : null;
    if (relaxed?.pkg) return { pkg: relaxed.pkg, threads: relaxed.threads, note: relaxed.note };
    // Chosen automatically, a relaxed build that cannot run is no news: SIMD128 is the norm.
    if (simd === 'relaxed') relaxedNote = relaxed ? `the relaxed-SIMD build did not start (${relaxed.note})` : tried.note;
  }
  const threaded = await start('pkg-threads', builds).then(
    (pkg) => startThreads(pkg, wanted),
    (err) => ({ pkg: null, threads: 0, note: String(err?.message ?? err) }),
  );
  if (!threaded.pkg) return single(`the threaded build did not start (${threaded.note})`);
  return { pkg: threaded.pkg, threads: threaded.threads, note: [relaxedNote, threaded.note].filter(Boolean).join(' · ') || null };
}

/**
 * Starts the CPU threads of the threaded build `pkg`: resolves to the build, its thread count
 * and what the badge says of a count cut short, or, if they cannot start, to no build and why.
 * @param {Package & { startCpuThreads: (threads?: number) => Promise<number> }} pkg
 * @param {number | null} wanted
 * @returns {Promise<{ pkg: Package | null, threads: number, note: string | null }>}
 */
async function startThreads(pkg, wanted) {
  try {
    const threads = await pkg.startCpuThreads(wanted ?? undefined);
    const note = wanted !== null && threads < wanted ? `${wanted} threads asked for: ${threads} is the most` : null;
    return { pkg, threads, note };
  } catch (err) {
    return { pkg: null, threads: 0, note: String(err?.message ?? err) };
  }
}

/** @typedef {Record<string, Record<string, string>>} Builds builds.json (tools/builds.mjs) */

/**
 * The URL of `file` of the build in `dir`, named by its content (`?v=`, which tools/serve.mjs
 * answers `immutable`) where `builds` lists its SHA-256, else plain (an export without
 * builds.json).
 * @param {string} dir
 * @param {string} file
 * @param {Builds | null} builds
 */
function buildUrl(dir, file, builds) {
  const url = new URL(`../${dir}/${file}`, import.meta.url);
  const sha256 = builds?.[dir]?.[file];
  if (typeof sha256 === 'string' && /^[0-9a-f]{64}$/.test(sha256)) url.searchParams.set('v', sha256.slice(0, 16));
  return url.href;
}

/**
 * Imports the build in `dir` and instantiates its wasm. The wasm's URL is given: the glue's own
 * default resolves it against the module's URL and so drops the `?v=`. The threaded build's pool
 * workers import the glue from its `import.meta.url`: the same versioned URL, one module.
 * @param {string} dir
 * @param {Builds | null} builds
 */
async function start(dir, builds) {
  // A computed URL: type checks and pages need not have every build built.
  const mod = await import(buildUrl(dir, 'shufflenet_web.js', builds));
  await mod.default({ module_or_path: buildUrl(dir, 'shufflenet_web_bg.wasm', builds) });
  return mod;
}

/**
 * A module with one relaxed-SIMD instruction (`f32x4.relaxed_madd` of three zero vectors): the
 * browser validates it only if it runs relaxed SIMD.
 */
const RELAXED_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 61, 1, 59, 0,
  253, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  253, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  253, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  253, 133, 2, 11,
]);

/**
 * The relaxed-SIMD build in `dir`, started, or why it cannot run here.
 * @param {string} dir
 * @param {Builds | null} builds
 */
async function relaxedPackage(dir, builds) {
  if (!WebAssembly.validate(RELAXED_PROBE)) return { pkg: null, note: 'this browser has no relaxed SIMD' };
  try {
    return { pkg: await start(dir, builds), note: null };
  } catch (err) {
    return { pkg: null, note: `the relaxed-SIMD build did not start (${err?.message ?? err})` };
  }
}

/**
 * Starts downloading the weights at `url` for `loadUrl` to take over, unless the Cache API holds
 * a copy (the engine reads that). Resolves to the response, or null. A body nobody reads stops
 * flowing (backpressure), so one branch of a tee is drained while the other keeps every chunk
 * until the engine reads it.
 * @param {string} url
 * @param {AbortSignal} signal
 * @returns {Promise<Response | null>}
 */
async function startDownload(url, signal) {
  try {
    if (await globalThis.caches?.match(url, { ignoreSearch: true })) return null;
    const res = await fetch(url, { cache: 'no-store', signal });
    if (!res.body) return res;
    const [drain, kept] = res.body.tee();
    drain.pipeTo(new WritableStream()).catch(() => {});
    return new Response(kept, { status: res.status, statusText: res.statusText, headers: res.headers });
  } catch {
    return null; // the engine asks again and reports what goes wrong
  }
}

export class EngineHost {
  /** @type {import('../pkg/shufflenet_web.js').Engine | null} */
  #engine = null;
  /** @type {Promise<unknown>} */
  #queue = Promise.resolve();

  /**
   * Runs `fn` after every engine call queued before it has settled.
   * @template T
   * @param {() => Promise<T>} fn
   * @returns {Promise<T>}
   */
  #serial(fn) {
    const run = this.#queue.then(fn, fn);
    this.#queue = run.catch(() => {});
    return run;
  }

  /** @type {Package | null} */
  #pkg = null;
  /** @type {string | null} */
  #threadsNote = null;

  /**
   * `options`: `{ kernels, timing }` for WebGPU (the page's `?kernels=` and `?timing=`),
   * `threads`: the CPU threads wanted (the page's `?threads=`; null: the crate's default for
   * this machine; absent: one), or 1 with `threadsNote` saying why (the supervisor's restart
   * after a CPU thread failed), `simd` (the page's `?simd=`, see `choosePackage`) and `builds`
   * (builds.json, or null). The threads that started are the engine's to keep: its status
   * reports them.
   */
  async create(preference, options = {}) {
    let threads = 1;
    if (!this.#pkg) {
      const { simd, threadsNote, builds } = options;
      const chosen = await choosePackage(options.threads === undefined ? 1 : options.threads, simd ?? 'auto', threadsNote ?? null, builds ?? null);
      this.#pkg = chosen.pkg;
      threads = chosen.threads;
      this.#threadsNote = chosen.note;
    }
    this.#engine = await this.#pkg.Engine.create(preference);
    if (options.kernels || options.timing) this.#engine.setGpuOptions?.(options.kernels || undefined, options.timing || undefined);
    if (threads > 1) this.#engine.setCpuThreads(threads);
    return this.status();
  }

  /**
   * The engine's status (`backend` is "none" until the first weights are loaded: the engine
   * picks it then) and why the CPU runs on one thread, if more were wanted.
   */
  status() {
    return this.#noted(this.#engine.status());
  }

  #noted(status) {
    return { ...status, threadsNote: this.#threadsNote };
  }

  /** The URLs this side fetched (its script, modules, wasm), for the offline cache. */
  resources() {
    const own = typeof document === 'undefined' ? [String(self.location.href)] : [];
    return [...own, ...performance.getEntriesByType('resource').map((e) => e.name)];
  }

  /**
   * One of the paper's Tables 1 to 4 measured here on `backend` ('cpu' or 'webgpu'), between
   * frames (the Guidelines panel): the CLI's JSON, with `markdown`.
   */
  async measureGuideline(backend, table, runs, scale) {
    if (!this.#pkg) throw new Error('the engine is not created yet');
    const pkg = this.#pkg;
    return JSON.parse(await this.#serial(() => pkg.measureGuideline(backend, table, runs, scale)));
  }

  /** What the crate names and allows: stage names, widths, size limits. */
  limits() {
    if (!this.#pkg) throw new Error('the engine is not created yet');
    return this.#pkg.limits();
  }

  /** Downloads started before the engine could load them, by URL (see `prefetch`). */
  /** @type {Map<string, { response: Promise<Response | null>, abort: AbortController }>} */
  #started = new Map();

  /**
   * Starts downloading the weights at `url` now, while the wasm still compiles and the CPU
   * threads start: the page knows the URL from the manifest that early. `loadUrl` of the same
   * URL takes the download over.
   * @param {string} url
   */
  prefetch(url) {
    if (this.#started.has(url)) return;
    const abort = new AbortController();
    this.#started.set(url, { response: startDownload(url, abort.signal), abort });
  }

  /** The download started for `url`, if any; others are no longer wanted. */
  async #takeStarted(url) {
    const mine = this.#started.get(url);
    this.#started.delete(url);
    for (const other of this.#started.values()) other.abort.abort();
    this.#started.clear();
    return (await mine?.response) ?? undefined;
  }

  /**
   * The engine fetches (or takes from the Cache API, or from a download `prefetch` started) the
   * weights at `url`, checks them against `sha256` (the manifest's) and loads them; a download
   * that fails to load is never cached.
   */
  async loadUrl(url, onProgress, sha256) {
    const started = this.#takeStarted(url);
    const loaded = await this.#serial(async () => this.#engine.loadUrl(url, onProgress, sha256, await started));
    return { ...loaded, status: this.status() };
  }

  async loadBytes(bytes) {
    const info = await this.#serial(() => this.#engine.loadBytes(bytes));
    return { info, cached: false, bytes: bytes.byteLength, status: this.status() };
  }

  /**
   * `frame` is an ImageBitmap or a camera's VideoFrame (closed here); the engine decides how to
   * read it. `features`: the prediction also carries the pooled features (for Teach mode), as a
   * Float32Array.
   */
  async classify(frame, crop, features = false) {
    const p = await this.#serial(async () => {
      // The CPU's threads wake while the frame's pixels are read.
      this.#engine.prepareFrame();
      try {
        if (typeof VideoFrame === 'function' && frame instanceof VideoFrame) return await this.#classifyVideo(frame, crop, features);
        return await this.#engine.classifyBitmap(frame, 5, crop, features);
      } finally {
        frame.close();
      }
    });
    // The status comes with a frame only when it changed (WebGPU failed and the CPU took over).
    return { ...p, status: p.status && this.#noted(p.status) };
  }

  /**
   * A camera frame: on the CPU, its own YUV bytes (`copyTo` of the part the resize reads, no
   * conversion by the browser) go
   * to the engine, which resizes them and converts the 224 x 224 result (src/yuv.rs); the copy
   * counts in the frame's time. Elsewhere, or in a format or colours the engine does not read, it
   * becomes an ImageBitmap, as a still picture does. `yuvFormat` says which way it went.
   */
  async #classifyVideo(frame, crop, features) {
    const colours = frame.colorSpace;
    if (YUV_FORMATS.has(frame.format ?? '') && YUV_MATRICES.has(colours.matrix ?? null) && this.#engine.backend().startsWith('cpu')) {
      const start = performance.now();
      const visible = /** @type {DOMRectReadOnly} */ (frame.visibleRect);
      const { width, height } = visible;
      // Only the part the resize reads (a 16:9 frame's centre square: 56 % of its bytes), in
      // whole 2 x 2 blocks, where the visible part starts on one.
      const window = visible.x % 2 === 0 && visible.y % 2 === 0 ? this.#pkg.yuvWindow(width, height, crop) : undefined;
      const rect = window && { x: visible.x + window[0], y: visible.y + window[1], width: window[2], height: window[3] };
      const data = new Uint8Array(frame.allocationSize(rect && { rect }));
      const layout = await frame.copyTo(data, rect && { rect });
      const copyMs = performance.now() - start;
      const planes = Uint32Array.from(layout.flatMap((l) => [l.offset, l.stride]));
      const p = await this.#engine.classifyYuv(data, frame.format, width, height, planes, colours.matrix ?? undefined, colours.fullRange ?? undefined, 5, crop, features, window);
      return { ...p, totalMs: p.totalMs + copyMs, yuvFormat: frame.format };
    }
    const bitmap = await createImageBitmap(frame, frameOptions(frame.displayWidth, frame.displayHeight));
    try {
      return await this.#engine.classifyBitmap(bitmap, 5, crop, features);
    } finally {
      bitmap.close();
    }
  }

  /**
   * Trains a head on `features` (Float32Array, one row per label) and runs it from the next
   * frame, its classes named `names`; resolves to the engine's report (held-out accuracy...).
   */
  async teach(features, labels, names, holdout, seed) {
    return this.#serial(() => this.#engine.teach(features, labels, names, holdout, seed));
  }

  /** Runs the loaded file's own head again; resolves to its weights info. */
  async restoreHead() {
    return this.#serial(() => this.#engine.restoreHead());
  }

  /** The loaded weights with the head that runs now, as .safetensors bytes. */
  async exportModel() {
    return this.#serial(async () => this.#engine.exportModel());
  }

  /** Names the loaded model's classes from a names file; the count must match its head. */
  async setClassNames(bytes, file) {
    return this.#serial(async () => this.#engine.setClassNames(bytes, file));
  }

  async setBackend(name) {
    await this.#serial(() => this.#engine.setBackend(name));
    return this.status();
  }

  /**
   * Builds WebGPU beside the running backend, which goes on classifying: the model is read in
   * the call, between frames; the build itself runs outside the queue. Resolves to the
   * adapter's name, or rejects with why WebGPU cannot run.
   */
  async prepareGpu() {
    const building = await this.#serial(async () => ({ done: this.#engine.prepareGpu() }));
    return building.done;
  }

  /** Times one frame (an ImageBitmap, closed here) on the WebGPU `prepareGpu` built: ms. */
  async timeGpu(frame, crop) {
    return this.#serial(async () => {
      try {
        return await this.#engine.timeGpu(frame, crop);
      } finally {
        frame.close();
      }
    });
  }

  /** Runs frames on the WebGPU `prepareGpu` built from now on; resolves to the status. */
  async adoptGpu() {
    await this.#serial(() => this.#engine.adoptGpu());
    return this.status();
  }

  dropGpu() {
    this.#engine?.dropGpu();
  }

  memory() {
    return { wasmBytes: this.#pkg?.wasmMemoryBytes() ?? 0 };
  }
}
