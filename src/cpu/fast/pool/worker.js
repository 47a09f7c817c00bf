// The fast CPU pool's Web Workers (see web.rs). This file is both the spawner, which the
// wasm-bindgen glue imports, and the script each worker runs: a worker named
// "shufflenet-cpu-N" imports the glue, instantiates the same module on the same shared
// memory, joins the pool through the slot its spawner gave it, says it is ready, then runs its
// part of every job inside wasm until the pool stops.
// If it traps (a panic: the build aborts on panic), it tells the caller through the shared
// memory (web.rs `Fault`) and closes.

const PREFIX = 'shufflenet-cpu-';

// web.rs `Fault`, in 4-byte words from its address.
const FAULT_LOST = 0;
const FAULT_MESSAGE_LEN = 1;
const FAULT_MESSAGE = 8; // bytes
const FAULT_MESSAGE_BYTES = 240;
const WRITING = -1; // u32::MAX

/**
 * Starts the worker that joins the pool through `slot` (web.rs `JOINING`: an index, never an
 * address). Resolves once it has joined, rejects if it cannot load, instantiate or join.
 */
export function spawnPoolWorker(glue, module, memory, slot, name, timeoutMs) {
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
    worker.postMessage({ glue, module, memory, slot });
  });
}

if (typeof WorkerGlobalScope !== 'undefined' && self instanceof WorkerGlobalScope && self.name.startsWith(PREFIX)) {
  self.onmessage = async ({ data: { glue, module, memory, slot } }) => {
    let wasm;
    let glueModule;
    try {
      glueModule = await import(glue);
      wasm = await glueModule.default({ module_or_path: module, memory });
    } catch (e) {
      self.postMessage(`could not instantiate the module: ${e?.message ?? e}`);
      return;
    }
    // Where this worker's `busy` flag and its pool's `Fault` live, from web.rs once the worker
    // holds its slot's `Start` (which keeps both alive): set last in `joined`, so only a call
    // that went on to run the pool's jobs can have set it.
    let joined = null;
    try {
      // Returns when the pool stops.
      glueModule.cpuPoolWorker(slot, (busy, fault) => {
        self.postMessage('ready');
        joined = { busy, fault };
      });
    } catch (err) {
      if (joined) {
        reportTrap(memory, joined, err);
      } else {
        // Refused before joining (no such slot): the instance is sound, this thread's share goes.
        self.postMessage(`could not join the pool: ${err?.message ?? err}`);
        wasm.__wbindgen_thread_destroy?.();
      }
      self.close();
      return;
    }
    wasm.__wbindgen_thread_destroy?.();
    self.close();
  };
}

/**
 * Records a trap in the pool's `Fault` (the first message wins) and, when it came in the middle
 * of a part, counts that part lost: the caller, spinning on the same memory, then stops waiting
 * for it. Plain `Atomics` on the buffer: the trapped instance is never called again. The trap
 * left the worker's `Start` and its pool's state unfreed, so both addresses are still theirs.
 */
function reportTrap(memory, { busy, fault }, err) {
  const words = new Int32Array(memory.buffer);
  const at = fault / 4;
  if (Atomics.compareExchange(words, at + FAULT_MESSAGE_LEN, 0, WRITING) === 0) {
    // encodeInto refuses shared buffers: encode, then copy.
    const text = new TextEncoder().encode(String(err?.message ?? err)).subarray(0, FAULT_MESSAGE_BYTES);
    new Uint8Array(memory.buffer, fault + FAULT_MESSAGE, FAULT_MESSAGE_BYTES).set(text);
    Atomics.store(words, at + FAULT_MESSAGE_LEN, text.length + 1);
  }
  if (Atomics.load(words, busy / 4) !== 0) Atomics.add(words, at + FAULT_LOST, 1);
}
