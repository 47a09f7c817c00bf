// The fast CPU pool's Web Workers (see web.rs). This file is both the spawner, which the
// wasm-bindgen glue imports, and the script each worker runs: a worker named
// "shufflenet-cpu-N" imports the glue, instantiates the same module on the same shared
// memory, says it is ready, then runs its part of every job inside wasm until the pool stops.

const PREFIX = 'shufflenet-cpu-';

export function spawnPoolWorker(glue, module, memory, start, name, timeoutMs) {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL(import.meta.url), { type: 'module', name });
    const fail = (why) => {
      clearTimeout(timer);
      worker.terminate();
      reject(new Error(`CPU thread ${name}: ${why}`));
    };
    const timer = setTimeout(() => fail(`did not start within ${timeoutMs / 1000} s`), timeoutMs);
    worker.onmessage = ({ data }) => {
      if (data === 'ready') {
        clearTimeout(timer);
        resolve();
      } else {
        fail(String(data));
      }
    };
    worker.onerror = (ev) => {
      ev.preventDefault();
      fail(ev.message || 'the worker failed to load');
    };
    worker.postMessage({ glue, module, memory, start });
  });
}

if (typeof WorkerGlobalScope !== 'undefined' && self instanceof WorkerGlobalScope && self.name.startsWith(PREFIX)) {
  self.onmessage = async ({ data: { glue, module, memory, start } }) => {
    let wasm;
    let glueModule;
    try {
      glueModule = await import(glue);
      wasm = await glueModule.default({ module_or_path: module, memory });
    } catch (e) {
      self.postMessage(`could not instantiate the module: ${e?.message ?? e}`);
      return;
    }
    self.postMessage('ready');
    glueModule.cpuPoolWorker(start); // returns when the pool stops
    wasm.__wbindgen_thread_destroy?.();
    self.close();
  };
}
