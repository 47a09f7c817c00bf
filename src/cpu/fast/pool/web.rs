//! The pool's threads in the browser: Web Workers that instantiate this same wasm module on
//! this same shared memory (`wasm_bindgen::module()`, `wasm_bindgen::memory()`) and then run
//! `work` (claiming parts of each job) until the pool stops. `worker.js` is both the spawner and the
//! workers' script; a worker imports the wasm-bindgen glue from the URL this module was
//! loaded from (`import.meta.url`), so it works wherever the package is served.
//!
//! Started once per wasm instance (`start`), because a Web Worker starts only after its
//! parent yields to the event loop: a pool made inside a frame could never wait for its
//! workers. Every `Pool` made afterwards shares them, until one of them dies (`Fault`).

use std::cell::{Cell, UnsafeCell};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering::*};
use std::sync::{Arc, Mutex, Once};

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

use super::workers::{work, State, Workers};
use super::{Pool, ThreadFailed};

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
        fault: u32,
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
/// pointer into the shared memory. worker.js reads `busy` (first: `repr(C)`) after a trap.
#[repr(C)]
struct Start {
    /// 1 while the worker runs a part (`State::run_parts`).
    busy: AtomicU32,
    state: Arc<State>,
}

/// Bytes of a fault's message kept (longer ones are cut, here and in worker.js).
const MESSAGE_BYTES: usize = 240;
/// `Fault::message_len` while the panic hook or worker.js writes the message.
const WRITING: u32 = u32::MAX;

/// How a Web Worker that trapped (a panic, with panic=abort) tells the caller: worker.js
/// catches the trap and writes here with `Atomics` on the shared memory, never calling into
/// the instance the trap left half-way. The first message goes in (a panic's, recorded by
/// the panic hook before the trap, else the trap's), then the part the worker took with
/// it, if any, counts as lost, so the caller stops waiting for it. The layout (`repr(C)`,
/// 4-byte words) is worker.js's `FAULT_*` offsets.
#[repr(C)]
pub struct Fault {
    /// Parts whose worker died running them.
    lost: AtomicU32,
    /// 0 while no worker died; then `WRITING`, then the message's length + 1.
    message_len: AtomicU32,
    message: UnsafeCell<[u8; MESSAGE_BYTES]>,
}

impl Default for Fault {
    fn default() -> Fault {
        Fault {
            lost: AtomicU32::new(0),
            message_len: AtomicU32::new(0),
            message: UnsafeCell::new([0; MESSAGE_BYTES]),
        }
    }
}

impl Fault {
    /// Keeps `text` as the message unless one is there already.
    fn record(&self, text: &str) {
        if self
            .message_len
            .compare_exchange(0, WRITING, AcqRel, Acquire)
            .is_err()
        {
            return;
        }
        let mut len = text.len().min(MESSAGE_BYTES);
        while !text.is_char_boundary(len) {
            len -= 1;
        }
        // SAFETY: `WRITING` gives this thread alone the message until it stores the length.
        let message: &mut [u8; MESSAGE_BYTES] = unsafe { &mut *self.message.get() };
        message[..len].copy_from_slice(&text.as_bytes()[..len]);
        self.message_len.store(len as u32 + 1, Release);
    }

    pub fn lost(&self) -> usize {
        self.lost.load(Acquire) as usize
    }

    pub fn check(&self) -> Result<(), ThreadFailed> {
        let len = loop {
            match self.message_len.load(Acquire) {
                0 => return Ok(()),
                // A few JavaScript statements from done.
                WRITING => std::hint::spin_loop(),
                n => break (n - 1) as usize,
            }
        };
        // SAFETY: written once, before `message_len` was published (Acquire above).
        let message: &[u8; MESSAGE_BYTES] = unsafe { &*self.message.get() };
        let bytes = &message[..len.min(MESSAGE_BYTES)];
        Err(ThreadFailed {
            message: String::from_utf8_lossy(bytes).into_owned(),
        })
    }
}

thread_local! {
    /// A pool worker's `Fault`, for the panic hook; null on other threads.
    static WORKER_FAULT: Cell<*const Fault> = const { Cell::new(std::ptr::null()) };
}

/// A panic on a pool worker puts its message and place in the pool's `Fault`: the trap that
/// follows it (panic=abort) tells worker.js only "unreachable". Once per instance (the hook is
/// the instance's, shared by its threads).
fn record_worker_panics() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let fault = WORKER_FAULT.get();
            if !fault.is_null() {
                let payload = info.payload();
                let what = (payload.downcast_ref::<&str>().copied())
                    .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
                    .unwrap_or("a panic");
                let text = match info.location() {
                    Some(at) => format!("{what} (at {at})"),
                    None => what.to_owned(),
                };
                // SAFETY: the worker's `Start` keeps its pool's state alive while it runs.
                unsafe { &*fault }.record(&text);
            }
            previous(info);
        }));
    });
}

/// The workers `start` started, unless one of them died since.
pub fn started() -> Option<Arc<Workers>> {
    let started = STARTED.lock().unwrap_or_else(|e| e.into_inner()).clone();
    started.filter(|w| w.state().failed().is_ok())
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
    record_worker_panics();
    let workers = Workers::unstarted(threads - 1);
    let (module, memory) = (wasm_bindgen::module(), wasm_bindgen::memory());
    let glue = GLUE_URL.with(|u| u.clone());
    let pending: Vec<_> = (1..threads)
        .map(|index| {
            let start = Box::new(Start {
                busy: AtomicU32::new(0),
                state: workers.state().clone(),
            });
            let name = format!("shufflenet-cpu-{index}");
            let fault = workers.state().fault() as *const Fault as u32;
            let ptr = Box::into_raw(start) as u32;
            spawn_pool_worker(&glue, &module, &memory, ptr, fault, &name, START_TIMEOUT_MS)
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
/// of every job until the pool stops. A trap leaves `start` to worker.js (never freed).
#[doc(hidden)]
#[wasm_bindgen(js_name = cpuPoolWorker)]
pub fn cpu_pool_worker(start: u32) {
    // SAFETY: `start` is the pointer `start` boxed for this worker alone.
    let start = unsafe { Box::from_raw(start as *mut Start) };
    WORKER_FAULT.set(start.state.fault());
    work(&start.state, Some(&start.busy));
    WORKER_FAULT.set(std::ptr::null());
}

/// Ends the caller of a failed pool with a `WebAssembly.RuntimeError` carrying `e`: fatal,
/// like the trap a panic would be (the engine's worker is replaced), but with its message.
pub fn fail(e: &ThreadFailed) -> ! {
    wasm_bindgen::throw_val(js_sys::WebAssembly::RuntimeError::new(&e.to_string()).into())
}

/// Test hook: a split on `threads` threads in which a worker, never the caller, panics in
/// the middle of its part, which traps its Web Worker. Returns what the caller got: the
/// pool's `ThreadFailed`, or `Ok` when no worker took a part within 5 s.
#[doc(hidden)]
pub fn trap_a_cpu_thread(threads: usize) -> Result<(), ThreadFailed> {
    thread_local!(static CALLER: Cell<bool> = const { Cell::new(false) });
    let trapping = AtomicBool::new(false);
    CALLER.set(true);
    let result = Pool::new(threads).try_split(2, 1, 1, |_| {
        if !CALLER.get() {
            trapping.store(true, SeqCst);
            panic!("a deliberate fault in a CPU thread (test hook)");
        }
        // The caller stays in its part, so a worker claims the other one.
        let since = js_sys::Date::now();
        while !trapping.load(SeqCst) && js_sys::Date::now() - since < 5000.0 {
            std::hint::spin_loop();
        }
    });
    CALLER.set(false);
    result
}

/// `trap_a_cpu_thread` for the page's end-to-end test (tests/e2e/threads.test.mjs calls it
/// inside the engine's worker; the page never does): resolves to the caller's error message.
#[doc(hidden)]
#[wasm_bindgen(js_name = trapCpuThreadForTests)]
pub fn trap_cpu_thread_for_tests(threads: usize) -> Option<String> {
    trap_a_cpu_thread(threads).err().map(|e| e.to_string())
}
