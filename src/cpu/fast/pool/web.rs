//! The pool's threads in the browser: Web Workers that instantiate this same wasm module on
//! this same shared memory (`wasm_bindgen::module()`, `wasm_bindgen::memory()`) and then run
//! `work` (claiming parts of each job) until the pool stops. `worker.js` is both the spawner and the
//! workers' script; a worker imports the wasm-bindgen glue from the URL this module was
//! loaded from (`import.meta.url`), so it works wherever the package is served.
//!
//! Started once per wasm instance (`start`), because a Web Worker starts only after its
//! parent yields to the event loop: a pool made inside a frame could never wait for its
//! workers. Every `Pool` made afterwards shares them.

use std::sync::{Arc, Mutex};

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

use super::workers::{work, State, Workers};

/// How long a worker may take to fetch the glue and instantiate the module.
const START_TIMEOUT_MS: u32 = 20_000;

#[wasm_bindgen(module = "/src/cpu/fast/pool/worker.js")]
extern "C" {
    #[wasm_bindgen(js_name = spawnPoolWorker)]
    fn spawn_pool_worker(
        glue: &str,
        module: &JsValue,
        memory: &JsValue,
        start: u32,
        name: &str,
        timeout_ms: u32,
    ) -> js_sys::Promise;
}

#[wasm_bindgen]
extern "C" {
    /// The URL of the wasm-bindgen glue that loaded this instance.
    #[wasm_bindgen(thread_local_v2, js_namespace = ["import", "meta"], js_name = url)]
    static GLUE_URL: String;
}

/// The workers `start` started, shared by every pool made afterwards.
static STARTED: Mutex<Option<Arc<Workers>>> = Mutex::new(None);

/// What a worker needs to join: the pool's state. Boxed, and passed to the worker as a
/// pointer into the shared memory.
struct Start {
    state: Arc<State>,
}

pub fn started() -> Option<Arc<Workers>> {
    STARTED.lock().unwrap_or_else(|e| e.into_inner()).clone()
}

/// Starts `threads - 1` Web Workers (the caller is the first thread) and resolves once each
/// has instantiated the module. Once started, the count stays: a later call for as many
/// threads or fewer resolves at once, for more it fails. Returns the threads a pool may use.
pub async fn start(threads: usize) -> Result<usize, String> {
    if let Some(w) = started() {
        return if threads <= w.len() + 1 {
            Ok(w.len() + 1)
        } else {
            Err(format!(
                "{} CPU threads are running already; reload to use {threads}",
                w.len() + 1
            ))
        };
    }
    if threads < 2 {
        return Ok(1);
    }
    let workers = Workers::unstarted(threads - 1);
    let (module, memory) = (wasm_bindgen::module(), wasm_bindgen::memory());
    let glue = GLUE_URL.with(|u| u.clone());
    let pending: Vec<_> = (1..threads)
        .map(|index| {
            let start = Box::new(Start {
                state: workers.state().clone(),
            });
            let name = format!("shufflenet-cpu-{index}");
            let ptr = Box::into_raw(start) as u32;
            spawn_pool_worker(&glue, &module, &memory, ptr, &name, START_TIMEOUT_MS)
        })
        .collect();
    for p in pending {
        // On failure `workers` is dropped: the workers that did start see `stop` and exit.
        JsFuture::from(p).await.map_err(|e| {
            e.dyn_ref::<js_sys::Error>()
                .map(|e| String::from(e.message()))
                .unwrap_or_else(|| format!("{e:?}"))
        })?;
    }
    *STARTED.lock().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(workers));
    Ok(threads)
}

/// A worker's entry (called by `worker.js` after it instantiated the module): claims parts
/// of every job until the pool stops.
#[doc(hidden)]
#[wasm_bindgen(js_name = cpuPoolWorker)]
pub fn cpu_pool_worker(start: u32) {
    // SAFETY: `start` is the pointer `start` boxed for this worker alone.
    let start = unsafe { Box::from_raw(start as *mut Start) };
    work(&start.state);
}
