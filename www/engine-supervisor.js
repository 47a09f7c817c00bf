// Keeps an engine running for the page. When the engine's worker dies or stops answering, a fresh
// one starts with the same backend and the weights that were running (from the Cache API, or the
// dropped file read again), their class names and taught head, and frames carry on. Weight
// loads run one at a time and the last one asked for wins: a newer request cancels a load still
// running by replacing its worker (which takes its download with it); on the main thread
// (`?worker=0`), where there is no worker to replace, the older load finishes and the newer one
// replaces it.
//
// A weights source is `{ kind: 'url', url, sha256 }` or `{ kind: 'file', file }`; other fields (width,
// trained...) travel along for the page. Class names set from a names file stay with the model
// they name and are set again after a restart.

import { createEngineClient, EngineLost } from './engine-client.js';

/** A load that a newer one replaced; its outcome is not the page's concern. */
export class Superseded extends Error {
  name = 'Superseded';
  constructor() {
    super('a newer load replaced this one');
  }
}

/** Restarts in a row without a classified frame in between before giving up. */
const MAX_RESTARTS = 3;

/**
 * What the threaded build's engine dies with when one of its CPU threads trapped (the pool's
 * `ThreadFailed`, thrown as a WebAssembly.RuntimeError): its restarts run on one thread, so a
 * fault that comes back every frame cannot loop.
 */
const CPU_THREAD_FAILED = /\ba CPU thread failed: /;

export class EngineSupervisor {
  #worker;
  #limits;
  #onRestart;
  #client = null;
  #started = false;
  #preference = 'auto';
  #options = undefined; // the options create() was given, for restarts
  // { source, result, names, taught } of the weights the engine runs (names: a names file;
  // taught: the arguments of the teach() whose head runs, replayed after a restart)
  #model = null;
  #ops = Promise.resolve(); // create, loads, backend switches and restarts, one at a time
  #ready = Promise.resolve(); // settles once a restart has finished
  #loadSeq = 0;
  #loadingOn = null; // the client a load is running on
  #restartsInARow = 0;
  #gaveUp = null;

  /**
   * `onRestart({ phase: 'restarting' | 'restarted' | 'failed', reason, status, model, error })`
   * hears of restarts after a crash or a hang (not of the quiet ones that cancel a load).
   */
  constructor({ worker = true, limits = {}, onRestart = () => {} } = {}) {
    this.#worker = worker;
    this.#limits = limits;
    this.#onRestart = onRestart;
  }

  get inWorker() {
    return this.#worker;
  }

  /** `{ source, result }` of the weights running now, or null. */
  get model() {
    return this.#model;
  }

  /**
   * Runs the supervisor's own operations (create, loads, backend switches, restarts) one after
   * another, so a restart replays a model no load is changing. Frames are not queued here: the
   * engine's host keeps them one at a time (engine-host.js, `#serial`).
   */
  #exclusive(fn) {
    const run = this.#ops.then(fn);
    this.#ops = run.catch(() => {});
    return run;
  }

  #spawn() {
    const client = createEngineClient({
      worker: this.#worker,
      limits: this.#limits,
      onLost: (err) => {
        // Only the current engine matters, and only once it has run (a worker that cannot
        // even start is reported by create()).
        if (client === this.#client && this.#started) this.#ready = this.#exclusive(() => this.#restart(err));
      },
    });
    this.#client = client;
    return client;
  }

  /** `options.builds` may be a promise: the worker is spawned first, to load its modules meanwhile. */
  create(preference, options) {
    return this.#exclusive(async () => {
      const client = this.#spawn();
      const settled = { ...options, builds: await options?.builds };
      const status = await client.create(preference, settled);
      this.#preference = preference;
      this.#options = settled;
      this.#started = true;
      return status;
    });
  }

  /** A fresh engine with the backend and weights of the one it replaces. `reason` null: quiet. */
  async #restart(reason) {
    if (this.#gaveUp) throw this.#gaveUp;
    const say = (event) => reason && this.#onRestart({ reason, model: this.#model, ...event });
    if (reason && ++this.#restartsInARow > MAX_RESTARTS) {
      this.#gaveUp = new Error(`the engine failed ${MAX_RESTARTS} times in a row; reload the page (last: ${reason.message})`);
      say({ phase: 'failed', error: this.#gaveUp });
      throw this.#gaveUp;
    }
    say({ phase: 'restarting' });
    if (reason && CPU_THREAD_FAILED.test(reason.message)) {
      this.#options = { ...this.#options, threads: 1, threadsNote: 'a CPU thread failed' };
    }
    const client = this.#spawn();
    try {
      let status = await client.create(this.#preference, this.#options);
      if (this.#model) {
        const { source, names } = this.#model;
        const result = await this.#load(client, source);
        const { taught } = this.#model;
        if (names) result.info = await client.setClassNames(names.bytes.slice(), names.file);
        if (taught) result.info = (await client.teach(...copyTeach(taught))).info;
        this.#model = { source, result, names, taught };
        status = result.status;
      }
      say({ phase: 'restarted', status });
    } catch (error) {
      if (error instanceof EngineLost) throw error; // died again: its own restart is queued
      // The weights could not be had again (cache and server gone): the engine runs without.
      this.#model = null;
      say({ phase: 'failed', error });
      throw error;
    }
  }

  /** Loads `source`; rejects with Superseded if a newer load was asked for meanwhile. */
  load(source, onProgress) {
    const seq = ++this.#loadSeq;
    const latest = () => seq === this.#loadSeq;
    if (this.#worker && this.#loadingOn === this.#client) {
      this.#loadingOn = null;
      this.#client.close(new Superseded());
      this.#ready = this.#exclusive(() => this.#restart(null));
    }
    return this.#exclusive(async () => {
      if (!latest()) throw new Superseded();
      const client = (this.#loadingOn = this.#client);
      try {
        const result = await this.#load(client, source, (...p) => latest() && onProgress?.(...p));
        this.#model = { source, result }; // it runs now, even if a newer load is waiting
        if (!latest()) throw new Superseded();
        return result;
      } catch (err) {
        throw latest() ? err : new Superseded();
      } finally {
        if (this.#loadingOn === client) this.#loadingOn = null;
      }
    });
  }

  async #load(client, source, onProgress) {
    if (source.kind === 'url') return client.loadUrl(source.url, onProgress, source.sha256);
    const bytes = new Uint8Array(await source.file.arrayBuffer());
    onProgress?.(bytes.byteLength, bytes.byteLength);
    return client.loadBytes(bytes);
  }

  /**
   * Names the running model's classes from a names `file` (a File); resolves to the model's
   * updated info. On error the previous names stay.
   */
  setClassNames(file) {
    return this.#exclusive(async () => {
      if (!this.#model) throw new Error('load weights before their class names');
      const bytes = new Uint8Array(await file.arrayBuffer());
      const info = await this.#client.setClassNames(bytes.slice(), file.name);
      this.#model.result = { ...this.#model.result, info };
      this.#model.names = { bytes, file: file.name };
      return info;
    });
  }

  /**
   * Trains a head on `features` (Float32Array, `labels.length` rows) and runs it, its classes
   * named `names`. Resolves to the engine's report; on error the running head stays.
   */
  teach(features, labels, names, { holdout = 0.2, seed = 1 } = {}) {
    return this.#exclusive(async () => {
      if (!this.#model) throw new Error('load a model before teaching it');
      const taught = [features, labels, names, holdout, seed];
      const report = await this.#client.teach(...copyTeach(taught));
      this.#model.result = { ...this.#model.result, info: report.info };
      this.#model.taught = taught;
      return report;
    });
  }

  /** Runs the loaded file's own head again; resolves to its info. */
  restoreHead() {
    return this.#exclusive(async () => {
      if (!this.#model) throw new Error('no model is loaded');
      const info = await this.#client.restoreHead();
      this.#model.result = { ...this.#model.result, info };
      this.#model.taught = null;
      return info;
    });
  }

  /** The running weights with the head that runs now, as .safetensors bytes. */
  exportModel() {
    return this.#exclusive(async () => {
      if (!this.#model) throw new Error('no model is loaded');
      return this.#client.exportModel();
    });
  }

  setBackend(name) {
    return this.#exclusive(async () => {
      const status = await this.#client.setBackend(name);
      this.#preference = name;
      return status;
    });
  }

  /**
   * `auto`'s trial (engine-host.js): WebGPU built beside the running backend, frames timed on
   * it, then adopted or dropped. Not exclusive: frames and loads go on meanwhile (a load makes
   * the engine drop what was built for the model before). A restart ends the trial.
   */
  async prepareGpu() {
    await this.#ready.catch(() => {});
    return this.#client.prepareGpu();
  }

  async timeGpu(frame, crop) {
    await this.#ready.catch(() => {});
    return this.#client.timeGpu(frame, crop);
  }

  /** One table of the Guidelines lab (engine-host.js), on the current engine. */
  async measureGuideline(backend, table, runs, scale) {
    await this.#ready.catch(() => {});
    return this.#client.measureGuideline(backend, table, runs, scale);
  }

  /** The URLs the engine's worker fetched (engine-host.js). */
  resources() {
    return this.#client.resources();
  }

  /** Starts downloading weights the page loads next (engine-host.js); a hint, never an error. */
  prefetch(url) {
    this.#client?.prefetch(url).catch(() => {});
  }

  adoptGpu() {
    return this.#exclusive(() => this.#client.adoptGpu());
  }

  dropGpu() {
    return this.#client.dropGpu().catch(() => {});
  }

  /** Classifies on the current engine, waiting out a restart; `features` as in engine-host.js. */
  async classify(frame, crop, features = false) {
    await this.#ready.catch(() => {});
    const p = await this.#client.classify(frame, crop, features);
    this.#restartsInARow = 0;
    return p;
  }

  /** What the crate names and allows (stage names, widths, size limits). */
  async limits() {
    await this.#ready.catch(() => {});
    return this.#client.limits();
  }

  async memory() {
    await this.#ready.catch(() => {});
    return this.#client.memory();
  }
}

/** Teach arguments with fresh copies of the arrays (the worker client transfers them). */
function copyTeach([features, labels, ...rest]) {
  return [features.slice(), labels.slice(), ...rest];
}
