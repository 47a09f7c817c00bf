//! A fixed pool of threads for per-layer work. A layer on a 7x7 map takes microseconds, so
//! there is no queue and no allocation per job: the caller publishes one job, bumps an
//! epoch counter that idle workers spin on (briefly, then sleep), runs part 0 itself and
//! waits for the others. Part `i` always goes to thread `i`, so a split is deterministic
//! and the results do not depend on timing.
//!
//! Natively the workers are std threads. In the threaded wasm build (`+atomics`, shared
//! memory) they are Web Workers running the same module on the same memory, started once
//! per wasm instance by `web::start` (a Web Worker starts only after its parent yields to
//! the event loop, so starting is async) and shared by every pool made afterwards. The
//! single-threaded wasm build has no threads: the pool there is the caller alone.

use core::ops::Range;
#[cfg(any(not(target_arch = "wasm32"), target_feature = "atomics"))]
use std::sync::Arc;

#[cfg(all(target_arch = "wasm32", target_feature = "atomics"))]
pub mod web;

/// Multiply-adds a thread gets at least, else fewer threads take part: a hand-over costs
/// about a microsecond, a few thousand multiply-adds.
pub const MIN_PART_MACS: usize = 16 * 1024;

/// A job: runs part `i` of the current split.
type Job<'a> = &'a (dyn Fn(usize) + Sync);

pub struct Pool {
    /// Threads besides the caller; `None` when the caller is alone.
    #[cfg(any(not(target_arch = "wasm32"), target_feature = "atomics"))]
    workers: Option<Arc<workers::Workers>>,
    threads: usize,
}

impl Pool {
    /// A pool of `threads` threads, the caller included (at least 1). In the threaded wasm
    /// build, at most as many as `web::start` started (see `threads`).
    pub fn new(threads: usize) -> Pool {
        let threads = threads.max(1);
        #[cfg(not(target_arch = "wasm32"))]
        return Pool {
            workers: (threads > 1).then(|| Arc::new(workers::Workers::spawn(threads - 1))),
            threads,
        };
        #[cfg(all(target_arch = "wasm32", target_feature = "atomics"))]
        {
            let workers = (threads > 1).then(web::started).flatten();
            let threads = workers.as_ref().map_or(1, |w| threads.min(w.len() + 1));
            Pool { workers, threads }
        }
        #[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
        {
            let _ = threads;
            Pool { threads: 1 }
        }
    }

    /// The threads that take part in a split, the caller's included.
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Splits `0..len` into one range per thread, each starting at a multiple of `align`,
    /// and runs `f` on them in parallel. Fewer parts when there are fewer than `min_part`
    /// items per thread: below that the hand-over costs more than it saves.
    pub fn split(
        &self,
        len: usize,
        align: usize,
        min_part: usize,
        f: impl Fn(Range<usize>) + Sync,
    ) {
        let units = len.div_ceil(align);
        let parts = self.threads().min(len / min_part.max(1)).min(units).max(1);
        if parts == 1 {
            return f(0..len);
        }
        let bound = |i: usize| (units * i / parts * align).min(len);
        let part = |i: usize| f(bound(i)..bound(i + 1));
        self.run(parts, &part);
    }

    fn run(&self, parts: usize, job: Job) {
        #[cfg(any(not(target_arch = "wasm32"), target_feature = "atomics"))]
        if let Some(w) = &self.workers {
            return w.run(parts, job);
        }
        (0..parts).for_each(job);
    }
}

/// A raw pointer shared by the parts of a split, each writing only its own range.
#[derive(Clone, Copy)]
pub struct Shared<T>(pub *mut T);
// SAFETY: the splits hand disjoint ranges to the threads; see each use.
unsafe impl<T> Sync for Shared<T> {}
unsafe impl<T> Send for Shared<T> {}

impl<T> Shared<T> {
    /// Through a method, so closures capture the `Sync` wrapper, not its raw field.
    pub fn ptr(self) -> *mut T {
        self.0
    }
}

#[cfg(any(not(target_arch = "wasm32"), target_feature = "atomics"))]
mod workers {
    use super::Job;
    use std::cell::UnsafeCell;
    use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
    use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::*};
    use std::sync::{Arc, Condvar, Mutex, MutexGuard, TryLockError};

    /// Spins before a waiting thread sleeps or yields: long enough to cover the gap
    /// between two layers, short enough not to burn a core between frames. wasm has no
    /// pause instruction (`spin_loop` is empty there), so a spin is some 20 times shorter,
    /// and waking a Web Worker from `memory.atomic.wait` costs tens of microseconds.
    #[cfg(not(target_arch = "wasm32"))]
    const SPINS: u32 = 1 << 14;
    #[cfg(target_arch = "wasm32")]
    const SPINS: u32 = 1 << 19;

    pub struct State {
        /// Bumped once per job (and once to stop).
        epoch: AtomicU64,
        /// Parts of the current job, including the caller's part 0.
        parts: AtomicUsize,
        /// Workers that have not finished the current job.
        busy: AtomicUsize,
        panicked: AtomicBool,
        stop: AtomicBool,
        /// Workers asleep on `wake`.
        sleeping: AtomicUsize,
        lock: Mutex<()>,
        wake: Condvar,
        /// Valid from a bump of `epoch` until `busy` is back to zero.
        job: UnsafeCell<Option<Job<'static>>>,
    }

    // SAFETY: `job` is written only by the caller while no worker runs, and read by the
    // workers only between the epoch bump (Release/Acquire) and their `busy` decrement.
    unsafe impl Sync for State {}

    pub struct Workers {
        state: Arc<State>,
        /// Threads besides the caller.
        n: usize,
        #[cfg(not(target_arch = "wasm32"))]
        handles: Vec<std::thread::JoinHandle<()>>,
        /// `run` is not reentrant and `Workers` is shared between `&self` calls.
        running: Mutex<()>,
    }

    impl Workers {
        /// The pool's state for `n` threads that the caller starts, each running
        /// `work(state, i)` for its `i` in `1..=n`.
        pub fn unstarted(n: usize) -> Workers {
            Workers {
                state: Arc::new(State {
                    epoch: AtomicU64::new(0),
                    parts: AtomicUsize::new(0),
                    busy: AtomicUsize::new(0),
                    panicked: AtomicBool::new(false),
                    stop: AtomicBool::new(false),
                    sleeping: AtomicUsize::new(0),
                    lock: Mutex::new(()),
                    wake: Condvar::new(),
                    job: UnsafeCell::new(None),
                }),
                n,
                #[cfg(not(target_arch = "wasm32"))]
                handles: Vec::new(),
                running: Mutex::new(()),
            }
        }

        pub fn state(&self) -> &Arc<State> {
            &self.state
        }

        #[cfg(not(target_arch = "wasm32"))]
        pub fn spawn(n: usize) -> Workers {
            let mut w = Workers::unstarted(n);
            w.handles = (1..=n)
                .map(|i| {
                    let s = w.state().clone();
                    std::thread::Builder::new()
                        .name(format!("shufflenet-cpu-{i}"))
                        .spawn(move || work(&s, i))
                        .expect("spawn a CPU worker thread")
                })
                .collect();
            w
        }

        pub fn len(&self) -> usize {
            self.n
        }

        pub fn run(&self, parts: usize, job: Job) {
            let _one = lock(&self.running);
            let s = &*self.state;
            // SAFETY: the lifetime is erased only until this function returns, and it
            // returns only after every worker has finished with the job (busy == 0).
            let erased: Job<'static> = unsafe { std::mem::transmute(job) };
            unsafe { *s.job.get() = Some(erased) };
            s.parts.store(parts, Relaxed);
            s.busy.store(self.len(), Relaxed);
            s.epoch.fetch_add(1, SeqCst);
            if s.sleeping.load(SeqCst) > 0 {
                let _g = lock(&s.lock);
                s.wake.notify_all();
            }
            let mine = catch_unwind(AssertUnwindSafe(|| job(0)));
            wait(|| s.busy.load(Acquire) == 0);
            unsafe { *s.job.get() = None };
            if let Err(p) = mine {
                resume_unwind(p);
            }
            if s.panicked.swap(false, Relaxed) {
                panic!("a CPU worker thread panicked");
            }
        }
    }

    impl Drop for Workers {
        fn drop(&mut self) {
            let s = &*self.state;
            s.stop.store(true, SeqCst);
            s.epoch.fetch_add(1, SeqCst);
            {
                let _g = lock(&s.lock);
                s.wake.notify_all();
            }
            #[cfg(not(target_arch = "wasm32"))]
            for h in self.handles.drain(..) {
                let _ = h.join();
            }
        }
    }

    /// The caller's locks spin instead of sleeping: a browser's main thread may not block
    /// (a wasm `memory.atomic.wait` traps there), and the workers hold these locks only
    /// for a few instructions.
    fn lock(m: &Mutex<()>) -> MutexGuard<'_, ()> {
        loop {
            match m.try_lock() {
                Ok(g) => return g,
                Err(TryLockError::Poisoned(e)) => return e.into_inner(),
                Err(TryLockError::WouldBlock) => std::hint::spin_loop(),
            }
        }
    }

    /// Spins, then yields: on a loaded machine the thread we wait for may need our core.
    /// (wasm has no yield: the caller spins until its parts are done.)
    fn wait(done: impl Fn() -> bool) {
        let mut n = 0u32;
        while !done() {
            if n < SPINS {
                n += 1;
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
    }

    /// Thread `i`'s loop: runs its part of every job until the pool is dropped.
    pub fn work(s: &State, i: usize) {
        let mut seen = 0;
        loop {
            let mut n = 0u32;
            while s.epoch.load(Acquire) == seen {
                if n < SPINS {
                    n += 1;
                    std::hint::spin_loop();
                    continue;
                }
                let mut g = s.lock.lock().unwrap_or_else(|e| e.into_inner());
                s.sleeping.fetch_add(1, SeqCst);
                while s.epoch.load(SeqCst) == seen {
                    g = s.wake.wait(g).unwrap_or_else(|e| e.into_inner());
                }
                s.sleeping.fetch_sub(1, SeqCst);
            }
            seen = s.epoch.load(Acquire);
            if s.stop.load(SeqCst) {
                return;
            }
            if i < s.parts.load(Relaxed) {
                // SAFETY: see `State::job`.
                if let Some(job) = unsafe { *s.job.get() } {
                    if catch_unwind(AssertUnwindSafe(|| job(i))).is_err() {
                        s.panicked.store(true, Relaxed);
                    }
                }
            }
            s.busy.fetch_sub(1, Release);
        }
    }
}
