//! The pool's threads in the browser: Web Workers that instantiate this same wasm module on
//! this same shared memory (`wasm_bindgen::module()`, `wasm_bindgen::memory()`) and then run
//! `work` (claiming parts of each job) until the pool stops. `worker.js` is both the spawner and the
//! workers' script; a worker imports the wasm-bindgen glue from the URL this module was
//! loaded from (`import.meta.url`), so it works wherever the package is served.
//!
//! Started once per wasm instance (`start`), because a Web Worker starts only after its
//! parent yields to the event loop: a pool made inside a frame could never wait for its
//! workers. Every `Pool` made afterwards shares them, until one of them dies (`Fault`).
//!
//! A worker joins by the index of its slot in `JOINING`, never by an address: the glue's
//! `cpuPoolWorker` is exported to any script on the page, and a number from JavaScript must
//! not become a pointer.

use std::cell::{Cell, UnsafeCell};
use std::sync::atomic::{AtomicU32, Ordering::*};
use std::sync::{Arc, Mutex, Once};

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

use super::workers::{lock, work, State, Workers};
use super::ThreadFailed;

/// How long a worker may take to fetch the glue and instantiate the module.
const START_TIMEOUT_MS: u32 = 20_000;

#[wasm_bindgen(module = "/src/cpu/fast/pool/worker.js")]
extern "C" {
    #[wasm_bindgen(js_name = spawnPoolWorker)]
    fn spawn_pool_worker(
        glue: &str,
        module: &JsValue,
        memory: &JsValue,
        slot: u32,
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

/// What a worker needs to join: the pool's state, and its own `busy` flag. Boxed, so that
/// `busy` keeps its address from `start` until the worker is done with it: worker.js reads it
/// after a trap.
struct Start {
    /// 1 while the worker runs a part (`State::run_parts`).
    busy: AtomicU32,
    state: Arc<State>,
}

/// The table of workers spawned and not joined yet: `start` puts each worker's `Start` in a
/// slot and sends the worker the slot's index; the worker takes it out (`cpu_pool_worker`).
/// Slots are never reused, so an index names one worker for the instance's whole life, and a
/// stale or made-up index finds an empty slot or none. Locked by spinning (`lock`): `start`
/// may run on a thread that must not block.
static JOINING: Mutex<Vec<Option<Box<Start>>>> = Mutex::new(Vec::new());

/// Takes the `Start` waiting in `slot`, if any: each is taken once.
fn take_slot(slot: u32) -> Option<Box<Start>> {
    let mut joining = lock(&JOINING);
    joining.get_mut(slot as usize).and_then(Option::take)
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

// SAFETY: `message` is the only field that is not atomic, and it is shared by the protocol
// on `message_len` (see `record` and `check`): one writer, after an exchange from 0 only one
// thread can win, then readers once the length is published.
unsafe impl Sync for Fault {}

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
        // SAFETY: our exchange of `message_len` from 0 to `WRITING` succeeded, and only the
        // one thread that makes it (here, or worker.js's `reportTrap`) touches `message`, until
        // it stores the length; `check` reads `message` only after that store. So this is the
        // only reference to it.
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
        // SAFETY: `message_len` holds a length, stored (Release here, `Atomics.store` in
        // worker.js) after the message was written, and our Acquire load saw it. The writer is
        // done, and no other will come: `message_len` never goes back to 0. Shared reads only.
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
                // SAFETY: `fault` is not null only on a pool worker inside `cpu_pool_worker`,
                // between its two `WORKER_FAULT.set`s: it holds its `Start`, whose `Arc<State>`
                // owns this `Fault`, and a panic on this thread runs the hook before anything
                // is dropped.
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
/// has instantiated the module and joined. Once started, the count stays: a later call for as
/// many threads or fewer resolves at once, for more it fails. Returns the threads a pool may
/// use.
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
    let slots: Vec<u32> = {
        let mut joining = lock(&JOINING);
        (1..threads)
            .map(|_| {
                let slot = u32::try_from(joining.len())
                    .map_err(|_| "too many CPU threads started".to_owned())?;
                joining.push(Some(Box::new(Start {
                    busy: AtomicU32::new(0),
                    state: workers.state().clone(),
                })));
                Ok(slot)
            })
            .collect::<Result<_, String>>()?
    };
    let (module, memory) = (wasm_bindgen::module(), wasm_bindgen::memory());
    let glue = GLUE_URL.with(|u| u.clone());
    let pending: Vec<_> = slots
        .iter()
        .enumerate()
        .map(|(i, &slot)| {
            let name = format!("shufflenet-cpu-{}", i + 1);
            let spawned = spawn_pool_worker(&glue, &module, &memory, slot, &name, START_TIMEOUT_MS);
            (slot, spawned)
        })
        .collect();
    for (slot, spawned) in pending {
        // On failure `workers` is dropped: the workers that did join see `stop` and exit.
        // The failed one never will (worker.js terminated it, or it could not instantiate
        // or join): its `Start` goes now.
        JsFuture::from(spawned).await.map_err(|e| {
            drop(take_slot(slot));
            e.dyn_ref::<js_sys::Error>()
                .map(|e| String::from(e.message()))
                .unwrap_or_else(|| format!("{e:?}"))
        })?;
    }
    *STARTED.lock().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(workers));
    Ok(threads)
}

/// A worker's entry, called by `worker.js` once it has instantiated the module: takes the
/// `Start` waiting in `slot` of `JOINING`, then calls `joined(busy, fault)` with the
/// addresses worker.js writes to if this worker traps (its `Start::busy` and its pool's
/// `Fault`, both alive as long as the worker holds its `Start`, and forever after a trap,
/// which frees nothing), then claims parts of every job until the pool stops.
///
/// Any script on the page can call this export with any number: a slot that holds no
/// `Start` (out of range, or taken already) is an error, thrown before anything else
/// happens. So is a `joined` that throws; the worker has then not joined.
#[doc(hidden)]
#[wasm_bindgen(js_name = cpuPoolWorker)]
pub fn cpu_pool_worker(slot: u32, joined: &js_sys::Function) -> Result<(), JsError> {
    let start = take_slot(slot)
        .ok_or_else(|| JsError::new(&format!("no CPU thread is waiting in slot {slot}")))?;
    let busy = &start.busy as *const AtomicU32 as u32;
    let fault = start.state.fault() as *const Fault as u32;
    joined
        .call2(&JsValue::NULL, &busy.into(), &fault.into())
        .map_err(|e| JsError::new(&format!("the CPU thread could not join: {e:?}")))?;
    WORKER_FAULT.set(start.state.fault());
    work(&start.state, Some(&start.busy));
    WORKER_FAULT.set(std::ptr::null());
    Ok(())
}

/// Ends the caller of a failed pool with a `WebAssembly.RuntimeError` carrying `e`: fatal,
/// like the trap a panic would be (the engine's worker is replaced), but with its message.
pub fn fail(e: &ThreadFailed) -> ! {
    wasm_bindgen::throw_val(js_sys::WebAssembly::RuntimeError::new(&e.to_string()).into())
}

/// Test hook (the `testing` feature: tests/threads.rs, and the package the page's e2e test
/// builds for it): a split on `threads` threads in which a worker, never the caller, panics
/// in the middle of its part, which traps its Web Worker. Returns what the caller got: the
/// pool's `ThreadFailed`, or `Ok` when no worker took a part within 5 s.
#[cfg(feature = "testing")]
pub fn trap_a_cpu_thread(threads: usize) -> Result<(), ThreadFailed> {
    use std::sync::atomic::AtomicBool;
    thread_local!(static CALLER: Cell<bool> = const { Cell::new(false) });
    let trapping = AtomicBool::new(false);
    CALLER.set(true);
    let result = super::Pool::new(threads).try_split(2, 1, 1, |_| {
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
/// inside the engine's worker, on the package test.sh builds with `testing` and the test
/// serves in place of pkg-threads/): resolves to the caller's error message.
#[cfg(feature = "testing")]
#[wasm_bindgen(js_name = trapCpuThreadForTests)]
pub fn trap_cpu_thread_for_tests(threads: usize) -> Option<String> {
    trap_a_cpu_thread(threads).err().map(|e| e.to_string())
}
