//! A fixed pool of threads for per-layer work. A layer on a 7x7 map takes microseconds, so
//! there is no queue and no allocation per job: the caller publishes one job under a new
//! epoch that idle workers spin on (briefly, then sleep), and every thread, the caller
//! included, claims parts from one word until none is left (the caller from the front, the
//! workers from the back, so each thread keeps to its end of every split); the caller then
//! waits for the parts others claimed. The parts' bounds are fixed by the split, so the
//! results do not depend on which thread ran which part. A worker that is slow to wake
//! (descheduled on a busy machine, or a Web Worker still starting) delays nothing: the
//! caller runs the parts nobody claimed.
//!
//! Natively the workers are std threads. In the threaded wasm build (`+atomics`, shared
//! memory) they are Web Workers running the same module on the same memory, started once
//! per wasm instance by `web::start` (a Web Worker starts only after its parent yields to
//! the event loop, so starting is async) and shared by every pool made afterwards. The
//! single-threaded wasm build has no threads: the pool there is the caller alone.
//!
//! A Web Worker that panics traps (panic=abort) and dies with the part it claimed: it
//! counts that part lost in the shared memory (see `web::Fault`), so the caller stops
//! waiting for it at once and fails the split with `ThreadFailed` instead of hanging.

use core::ops::Range;
#[cfg(any(not(target_arch = "wasm32"), target_feature = "atomics"))]
use std::sync::Arc;

#[cfg(all(target_arch = "wasm32", target_feature = "atomics"))]
pub mod web;

/// Multiply-adds a thread gets at least, else fewer threads take part: a hand-over costs
/// about a microsecond, a few thousand multiply-adds.
const MIN_PART_MACS: usize = 16 * 1024;

/// The most CPU threads an engine runs on, whatever it is asked for.
pub const MAX_THREADS: usize = 16;
/// Threads by default: the machine's cores up to this many (more hand-overs per unit than
/// that cost more than they bring on 224 x 224 frames).
pub const DEFAULT_MAX_THREADS: usize = 8;

/// The threads to run on: `wanted` up to `MAX_THREADS`, or by default (`None`) the machine's
/// `cores` up to `DEFAULT_MAX_THREADS`; at least one.
pub fn thread_count(wanted: Option<usize>, cores: usize) -> usize {
    match wanted {
        Some(n) => n.clamp(1, MAX_THREADS),
        None => cores.clamp(1, DEFAULT_MAX_THREADS),
    }
}

/// Parts a split is cut into per thread, at most. A thread that loses its core (the machine
/// is busy) holds back the one part it claimed while the others take the rest: the smaller
/// the parts, the less it holds. Each part costs a claim, well under a microsecond, and as
/// threads claim from both ends (`State::claim`) a thread's parts stay neighbours: 8 parts
/// measured faster than 4 on two threads, 16 no faster than 8.
pub const PARTS_PER_THREAD: usize = 8;

/// A job: runs part `i` of the current split.
type Job<'a> = &'a (dyn Fn(usize) + Sync);

/// A pool thread died (in the threaded wasm build: its Web Worker trapped) and the pool
/// with it: it runs no job any more.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreadFailed {
    /// What the thread died of: its trap's message.
    pub message: String,
}

impl std::fmt::Display for ThreadFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "a CPU thread failed: {}", self.message)
    }
}

pub struct Pool {
    /// Threads besides the caller; `None` when the caller is alone.
    #[cfg(any(not(target_arch = "wasm32"), target_feature = "atomics"))]
    workers: Option<Arc<workers::Workers>>,
    threads: usize,
    /// Parts a split is cut into, at most.
    max_parts: usize,
    /// Multiply-adds a part gets at least: `MIN_PART_MACS`, or none in a test pool.
    min_macs: usize,
    /// A test pool's caller runs the parts last to first (see `serial_in_parts`).
    #[cfg(feature = "testing")]
    backwards: bool,
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
            max_parts: max_parts(threads),
            min_macs: MIN_PART_MACS,
            #[cfg(feature = "testing")]
            backwards: false,
        };
        #[cfg(all(target_arch = "wasm32", target_feature = "atomics"))]
        {
            let workers = (threads > 1).then(web::started).flatten();
            let threads = workers.as_ref().map_or(1, |w| threads.min(w.len() + 1));
            Pool {
                workers,
                threads,
                max_parts: max_parts(threads),
                min_macs: MIN_PART_MACS,
                #[cfg(feature = "testing")]
                backwards: false,
            }
        }
        #[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
        {
            let _ = threads;
            Pool {
                threads: 1,
                max_parts: 1,
                min_macs: MIN_PART_MACS,
                #[cfg(feature = "testing")]
                backwards: false,
            }
        }
    }

    /// The caller alone, cutting work into up to `parts` parts however small, which it runs
    /// one after the other, first to last or (`backwards`) last to first: how the kernel
    /// suite checks work cut in parts on every build, threads or not. Both orders matter
    /// where neighbouring parts join (the stem's and the units' bands): whichever finishes
    /// second finishes the join, the part below in one order and the part above in the
    /// other, which threads do only by chance.
    #[cfg(feature = "testing")]
    pub fn serial_in_parts(parts: usize, backwards: bool) -> Pool {
        Pool {
            #[cfg(any(not(target_arch = "wasm32"), target_feature = "atomics"))]
            workers: None,
            threads: 1,
            max_parts: parts.max(1),
            min_macs: 0,
            backwards,
        }
    }

    /// The fewest items a part gets when each costs `macs` multiply-adds.
    pub fn min_items(&self, macs: usize) -> usize {
        self.min_macs.div_ceil(macs.max(1))
    }

    /// Splits from now on take `threads` of the pool's threads (at least one, at most all).
    pub fn set_active(&mut self, threads: usize) {
        self.max_parts = max_parts(threads.clamp(1, self.threads));
    }

    /// The work in hand is done (a frame): idle workers sleep now instead of spinning for
    /// the next split, which leaves their cores to the rest of the page (reading the next
    /// camera frame, drawing) until the next frame's first split wakes them.
    pub fn rest(&self) {
        #[cfg(any(not(target_arch = "wasm32"), target_feature = "atomics"))]
        if let Some(w) = &self.workers {
            w.rest();
        }
    }

    /// A frame is coming: idle workers that sleep wake now and spin, so that its first split
    /// does not wait for them to wake (tens of microseconds for a Web Worker).
    pub fn stir(&self) {
        #[cfg(any(not(target_arch = "wasm32"), target_feature = "atomics"))]
        if let Some(w) = &self.workers {
            w.stir();
        }
    }

    /// The threads that take part in a split, the caller's included.
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Parts a split is cut into, at most.
    pub fn most_parts(&self) -> usize {
        self.max_parts
    }

    /// How many parts to cut `len` items into: up to `PARTS_PER_THREAD` per thread, none
    /// with fewer than `min_part` items (below that the hand-over costs more than it saves).
    pub fn parts(&self, len: usize, min_part: usize) -> usize {
        self.max_parts.min(len / min_part.max(1)).max(1)
    }

    /// Runs `f(i)` for every part `i < parts` on the pool's threads: one hand-over. A
    /// failed pool ends the caller, as in `split`.
    pub fn each(&self, parts: usize, f: impl Fn(usize) + Sync) {
        if let Err(e) = self.run(parts, &f) {
            fatal(e);
        }
    }

    /// Splits `0..len` into parts (see `parts`), each starting at a multiple of `align`,
    /// and runs `f` on them in parallel.
    ///
    /// A failed pool (`try_split`) ends the caller: in the threaded wasm build with a
    /// `WebAssembly.RuntimeError` saying so, the same kind of fatal error as a trap, since
    /// the kernels return nothing and the frame cannot finish.
    pub fn split(
        &self,
        len: usize,
        align: usize,
        min_part: usize,
        f: impl Fn(Range<usize>) + Sync,
    ) {
        if let Err(e) = self.try_split(len, align, min_part, f) {
            fatal(e);
        }
    }

    /// `split`, or the error of a pool whose thread died.
    pub fn try_split(
        &self,
        len: usize,
        align: usize,
        min_part: usize,
        f: impl Fn(Range<usize>) + Sync,
    ) -> Result<(), ThreadFailed> {
        let units = len.div_ceil(align);
        let parts = self.parts(len, min_part).min(units);
        if parts == 1 {
            f(0..len);
            return Ok(());
        }
        let bound = |i: usize| (units * i / parts * align).min(len);
        let part = |i: usize| f(bound(i)..bound(i + 1));
        self.run(parts, &part)
    }

    fn run(&self, parts: usize, job: Job) -> Result<(), ThreadFailed> {
        #[cfg(any(not(target_arch = "wasm32"), target_feature = "atomics"))]
        if let Some(w) = self.workers.as_ref().filter(|_| parts > 1) {
            return w.run(parts, job);
        }
        #[cfg(feature = "testing")]
        if self.backwards {
            (0..parts).rev().for_each(job);
            return Ok(());
        }
        (0..parts).for_each(job);
        Ok(())
    }
}

/// Parts a split on `threads` threads is cut into, at most: one thread runs a layer in one
/// part, as cutting it buys nothing.
fn max_parts(threads: usize) -> usize {
    if threads == 1 {
        1
    } else {
        threads * PARTS_PER_THREAD
    }
}

/// Ends a caller whose pool failed: the kernels return nothing, the frame cannot finish.
fn fatal(e: ThreadFailed) -> ! {
    #[cfg(all(target_arch = "wasm32", target_feature = "atomics"))]
    web::fail(&e);
    #[cfg(not(all(target_arch = "wasm32", target_feature = "atomics")))]
    panic!("{e}");
}

/// A raw pointer shared by the parts of a split, each writing only its own range.
#[derive(Clone, Copy)]
pub struct Shared<T>(pub *mut T);
// SAFETY: a `Shared` is only an address: the threads of a split get nothing through it but
// by dereferencing it, which takes an `unsafe` block, each of which states why the parts touch
// disjoint ranges (or only read). `T: Send + Sync`, so its values may be written and read
// from any thread.
unsafe impl<T: Send + Sync> Sync for Shared<T> {}
// SAFETY: as for `Sync` above: sending the address sends no `T`.
unsafe impl<T: Send + Sync> Send for Shared<T> {}

impl<T> Shared<T> {
    /// Through a method, so closures capture the `Sync` wrapper, not its raw field.
    pub fn ptr(self) -> *mut T {
        self.0
    }
}

#[cfg(any(not(target_arch = "wasm32"), target_feature = "atomics"))]
mod workers {
    use super::{Job, ThreadFailed};
    use std::any::Any;
    use std::cell::UnsafeCell;
    use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
    use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering::*};
    use std::sync::{Arc, Condvar, Mutex, MutexGuard, TryLockError};

    /// Spins before a waiting thread sleeps or yields: long enough to cover the gap
    /// between two layers, short enough not to burn a core between frames. wasm has no
    /// pause instruction (`spin_loop` is empty there), so a spin is some 20 times shorter,
    /// and waking a Web Worker from `memory.atomic.wait` costs tens of microseconds. In the
    /// browser an idle worker also sleeps sooner than natively: while it spins it keeps its
    /// core from the caller if another program took the caller's, and a spin 16 times
    /// shorter than before took two threads beside a busy process from 10.8 to 7.5 ms a
    /// frame, idle frames unchanged (docs/threads.md). Natively it made no difference.
    #[cfg(not(target_arch = "wasm32"))]
    const SPINS: u32 = 1 << 14;
    #[cfg(target_arch = "wasm32")]
    const SPINS: u32 = 1 << 15;

    /// The low half of `State::ticket`: parts claimed from the front (its high 16 bits) and
    /// from the back (its low 16). All ones: none left, whatever the count.
    const PART_MASK: u64 = 0xffff_ffff;
    /// One part claimed from the front.
    const FRONT: u64 = 1 << 16;

    pub struct State {
        /// The current job's epoch (high half) and the parts claimed from either end (low
        /// half, `PART_MASK`), in one word so that a claim can never take a part of another
        /// job.
        ticket: AtomicU64,
        /// Parts of the current job.
        parts: AtomicUsize,
        /// Parts of the current job finished.
        done: AtomicUsize,
        panicked: AtomicBool,
        stop: AtomicBool,
        /// Set by `Workers::rest`, cleared by the next `run`: an idle worker sleeps at once.
        resting: AtomicBool,
        /// Workers asleep on `wake`.
        sleeping: AtomicUsize,
        /// Counts `Workers::stir` calls: a sleeping worker that sees it move wakes and spins.
        stirs: AtomicU32,
        /// Counts the workers' wakes from sleep, for the tests.
        #[cfg(test)]
        wakes: AtomicUsize,
        /// What worker.js records when a Web Worker traps.
        #[cfg(target_arch = "wasm32")]
        fault: super::web::Fault,
        lock: Mutex<()>,
        wake: Condvar,
        /// Valid from the epoch's publication until all its parts are done.
        job: UnsafeCell<Option<Job<'static>>>,
    }

    // SAFETY: `job` is the only field that is not `Sync` (`fault` is, see `web::Fault`). It
    // is written only by `Workers::run`, under its `running` lock, before it publishes an
    // epoch and after every part of it is done or lost, so while no thread can hold a part;
    // and it is read only by a thread holding a claimed part of the current epoch, whose
    // claim (Acquire on `ticket`) saw the write published before that epoch (SeqCst store).
    unsafe impl Sync for State {}

    impl State {
        fn epoch(&self) -> u64 {
            self.ticket.load(Acquire) >> 32
        }

        /// Claims the next part of job `epoch`, if that job is current and has parts left:
        /// the first unclaimed one, or `from_back` the last. The caller takes parts from the
        /// front and the workers from the back, so on two threads each keeps to its own end
        /// of every split: the pixels a thread writes in one hand-over are mostly those it
        /// reads in the next, still in its cache.
        fn claim(&self, epoch: u64, parts: usize, from_back: bool) -> Option<usize> {
            let mut t = self.ticket.load(Acquire);
            loop {
                let (front, back) = ((t >> 16 & 0xffff) as usize, (t & 0xffff) as usize);
                if t >> 32 != epoch || front + back >= parts {
                    return None;
                }
                let (next, i) = if from_back {
                    (t + 1, parts - 1 - back)
                } else {
                    (t + FRONT, front)
                };
                match self.ticket.compare_exchange_weak(t, next, AcqRel, Acquire) {
                    Ok(_) => return Some(i),
                    Err(now) => t = now,
                }
            }
        }

        /// Runs parts of job `epoch` until none is left; returns the first panic of ours.
        /// `busy` (a Web Worker's): set while a part runs, so that worker.js knows whether
        /// a trap took a part with it. `from_back`: a worker's claims (see `claim`).
        fn run_parts(
            &self,
            epoch: u64,
            parts: usize,
            busy: Option<&AtomicU32>,
            from_back: bool,
        ) -> Option<Box<dyn Any + Send>> {
            let mut first = None;
            while let Some(i) = self.claim(epoch, parts, from_back) {
                // SAFETY: we hold part `i` of job `epoch`, claimed above: its caller wrote `job`
                // before publishing the epoch, and clears it only once our part is done
                // (`done`, below), so it is `Some` and its closure alive (see `State`'s `Sync`).
                let job = unsafe { *self.job.get() }.expect("a claimed part has a job");
                busy.inspect(|b| b.store(1, Relaxed));
                if let Err(p) = catch_unwind(AssertUnwindSafe(|| job(i))) {
                    self.panicked.store(true, Relaxed);
                    first.get_or_insert(p);
                }
                busy.inspect(|b| b.store(0, Relaxed));
                self.done.fetch_add(1, Release);
            }
            first
        }

        /// Workers asleep now, and their wakes so far.
        #[cfg(test)]
        pub fn naps(&self) -> (usize, usize) {
            (self.sleeping.load(SeqCst), self.wakes.load(SeqCst))
        }

        /// Parts of the current job that will never be done: their thread died.
        fn lost(&self) -> usize {
            #[cfg(target_arch = "wasm32")]
            return self.fault.lost();
            #[cfg(not(target_arch = "wasm32"))]
            0
        }

        #[cfg(target_arch = "wasm32")]
        pub fn fault(&self) -> &super::web::Fault {
            &self.fault
        }

        /// Whether a thread of the pool died (natively a panic unwinds instead).
        pub fn failed(&self) -> Result<(), ThreadFailed> {
            #[cfg(target_arch = "wasm32")]
            return self.fault.check();
            #[cfg(not(target_arch = "wasm32"))]
            Ok(())
        }
    }

    pub struct Workers {
        state: Arc<State>,
        /// Threads besides the caller (natively, `handles` counts them).
        #[cfg(target_arch = "wasm32")]
        n: usize,
        #[cfg(not(target_arch = "wasm32"))]
        handles: Vec<std::thread::JoinHandle<()>>,
        /// `run` is not reentrant and `Workers` is shared between `&self` calls.
        running: Mutex<()>,
    }

    impl Workers {
        /// The pool's state for `n` threads that the caller starts, each running
        /// `work(state)`.
        pub fn unstarted(#[allow(unused_variables)] n: usize) -> Workers {
            Workers {
                state: Arc::new(State {
                    ticket: AtomicU64::new(0),
                    parts: AtomicUsize::new(0),
                    done: AtomicUsize::new(0),
                    panicked: AtomicBool::new(false),
                    stop: AtomicBool::new(false),
                    resting: AtomicBool::new(false),
                    sleeping: AtomicUsize::new(0),
                    stirs: AtomicU32::new(0),
                    #[cfg(test)]
                    wakes: AtomicUsize::new(0),
                    #[cfg(target_arch = "wasm32")]
                    fault: Default::default(),
                    lock: Mutex::new(()),
                    wake: Condvar::new(),
                    job: UnsafeCell::new(None),
                }),
                #[cfg(target_arch = "wasm32")]
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
                        .spawn(move || work(&s, None))
                        .expect("spawn a CPU worker thread")
                })
                .collect();
            w
        }

        #[cfg(target_arch = "wasm32")]
        pub fn len(&self) -> usize {
            self.n
        }

        /// Idle workers sleep at once until the next `run` (`Pool::rest`).
        pub fn rest(&self) {
            self.state.resting.store(true, Relaxed);
        }

        /// Wakes sleeping workers to spin for the coming split (`Pool::stir`).
        pub fn stir(&self) {
            let s = &*self.state;
            s.resting.store(false, Relaxed);
            s.stirs.fetch_add(1, SeqCst);
            if s.sleeping.load(SeqCst) > 0 {
                let _g = lock(&s.lock);
                s.wake.notify_all();
            }
        }

        /// Runs `parts` parts of `job`; fails at once if a thread died before, or once the
        /// parts of threads alive are done if one dies meanwhile.
        pub fn run(&self, parts: usize, job: Job) -> Result<(), ThreadFailed> {
            let _one = lock(&self.running);
            let s = &*self.state;
            // A failed pool publishes nothing more: its dead thread's part would never end.
            s.failed()?;
            // SAFETY: only the lifetime changes. `job` stays borrowed until this function
            // returns, and the `State::job` that holds the erased copy is cleared below, after
            // every part is done or lost, so no thread calls it once `job`'s borrow ends (a
            // panic in our own part is caught by `run_parts`, so we reach the clearing).
            let erased: Job<'static> = unsafe { std::mem::transmute(job) };
            // SAFETY: no thread holds a part (the last job's parts were all done or lost
            // before its `run` returned, and `running` keeps other callers out), and no part
            // of the new epoch can be claimed before the `ticket` store below publishes it.
            unsafe { *s.job.get() = Some(erased) };
            // Release: a worker that sees this count sees the last epoch closed (below).
            assert!(parts < 0xffff, "a split's parts count in 16 bits");
            s.parts.store(parts, Release);
            s.done.store(0, Relaxed);
            s.resting.store(false, Relaxed);
            let epoch = (s.ticket.load(Relaxed) >> 32) + 1;
            s.ticket.store(epoch << 32, SeqCst);
            if s.sleeping.load(SeqCst) > 0 {
                let _g = lock(&s.lock);
                s.wake.notify_all();
            }
            let mine = s.run_parts(epoch, parts, None, false);
            wait(|| s.done.load(Acquire) + s.lost() == parts);
            // Closes the epoch: no part left to claim, whatever count a worker read. A late
            // worker that read this epoch and then the next job's count (`parts`, stored after
            // this) would otherwise claim a part past this job's end and run the next job.
            s.ticket.store(epoch << 32 | PART_MASK, SeqCst);
            // SAFETY: every part is done (each thread's `done` increment, Release, comes after
            // its last use of the job, and we saw it with Acquire) or lost (its Web Worker
            // trapped and runs nothing more), and no part is left to claim: no thread reads
            // `job` until the next `run` publishes another epoch.
            unsafe { *s.job.get() = None };
            let panicked = s.panicked.swap(false, Relaxed);
            if let Some(p) = mine {
                resume_unwind(p);
            }
            if panicked {
                panic!("a CPU worker thread panicked");
            }
            s.failed()
        }
    }

    impl Drop for Workers {
        fn drop(&mut self) {
            let s = &*self.state;
            s.stop.store(true, SeqCst);
            // A new epoch with no part to claim: the workers wake, see `stop` and return.
            let epoch = (s.ticket.load(Relaxed) >> 32) + 1;
            s.ticket.store(epoch << 32 | PART_MASK, SeqCst);
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
    pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
        loop {
            match m.try_lock() {
                Ok(g) => return g,
                Err(TryLockError::Poisoned(e)) => return e.into_inner(),
                Err(TryLockError::WouldBlock) => std::hint::spin_loop(),
            }
        }
    }

    /// Spins, then yields: on a loaded machine the thread we wait for may need our core.
    /// (wasm has no yield: the caller spins until the parts others claimed are done.)
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

    /// A worker's loop: claims parts of every job until the pool is dropped. `busy`: see
    /// `State::run_parts`.
    pub fn work(s: &State, busy: Option<&AtomicU32>) {
        let mut seen = 0;
        loop {
            let mut n = 0u32;
            let mut stirs = s.stirs.load(SeqCst);
            while s.epoch() == seen {
                // A stale `resting` costs nothing: the sleep below checks the epoch first.
                if n < SPINS && !s.resting.load(Relaxed) {
                    n += 1;
                    std::hint::spin_loop();
                    continue;
                }
                let mut g = s.lock.lock().unwrap_or_else(|e| e.into_inner());
                s.sleeping.fetch_add(1, SeqCst);
                while s.ticket.load(SeqCst) >> 32 == seen && s.stirs.load(SeqCst) == stirs {
                    g = s.wake.wait(g).unwrap_or_else(|e| e.into_inner());
                }
                s.sleeping.fetch_sub(1, SeqCst);
                #[cfg(test)]
                s.wakes.fetch_add(1, SeqCst);
                // Stirred (or a new epoch): spin afresh.
                (n, stirs) = (0, s.stirs.load(SeqCst));
            }
            seen = s.epoch();
            if s.stop.load(SeqCst) {
                return;
            }
            // A late worker may read the next job's count: its claims on this epoch fail, as
            // `run` closes an epoch before storing the next count (Release, seen here).
            let parts = s.parts.load(Acquire);
            s.run_parts(seen, parts, busy, true);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(not(target_arch = "wasm32"))]
    #[test]
    fn a_resting_pool_wakes_for_the_next_split() {
        use std::collections::HashSet;
        use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
        use std::sync::Mutex;
        use std::time::{Duration, Instant};
        let pool = Pool::new(2);
        for _ in 0..3 {
            pool.rest();
            // Long enough for the worker to be asleep, resting or not.
            std::thread::sleep(Duration::from_millis(20));
            let threads = Mutex::new(HashSet::new());
            let arrived = AtomicUsize::new(0);
            pool.each(2, |_| {
                threads.lock().unwrap().insert(std::thread::current().id());
                arrived.fetch_add(1, SeqCst);
                // Each part waits for the other: the second can only be the woken worker's.
                let start = Instant::now();
                while arrived.load(SeqCst) < 2 && start.elapsed() < Duration::from_secs(5) {
                    std::hint::spin_loop();
                }
            });
            assert_eq!(threads.lock().unwrap().len(), 2, "the worker did not wake");
        }
    }

    #[cfg(not(target_arch = "wasm32"))]
    #[test]
    fn a_stirred_worker_wakes_before_the_next_split() {
        use std::time::{Duration, Instant};
        let pool = Pool::new(2);
        let workers = pool.workers.as_ref().expect("two threads: a worker");
        for _ in 0..3 {
            pool.rest();
            let until = |done: &dyn Fn((usize, usize)) -> bool| {
                let start = Instant::now();
                while !done(workers.state().naps()) && start.elapsed() < Duration::from_secs(5) {
                    std::thread::sleep(Duration::from_millis(1));
                }
                done(workers.state().naps())
            };
            assert!(
                until(&|(asleep, _)| asleep == 1),
                "the resting worker sleeps"
            );
            let (_, wakes) = workers.state().naps();
            workers.stir();
            assert!(
                until(&|(_, w)| w > wakes),
                "the stirred worker wakes with no split to run"
            );
            // Spinning, it runs the next split's parts as before.
            let runs = std::sync::atomic::AtomicUsize::new(0);
            pool.each(4, |_| {
                runs.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            });
            assert_eq!(runs.into_inner(), 4);
        }
    }

    #[cfg(not(target_arch = "wasm32"))]
    #[test]
    fn every_part_runs_once_with_claims_from_both_ends() {
        use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
        for threads in [2, 3, 5] {
            let pool = Pool::new(threads);
            for parts in [2, 3, 7, 8, 63, 64] {
                let runs: Vec<AtomicUsize> = (0..parts).map(|_| AtomicUsize::new(0)).collect();
                pool.each(parts, |i| {
                    runs[i].fetch_add(1, SeqCst);
                    // Long enough for the workers to take parts from the back.
                    std::thread::sleep(std::time::Duration::from_micros(50));
                });
                let counts: Vec<usize> = runs.iter().map(|r| r.load(SeqCst)).collect();
                assert_eq!(counts, vec![1; parts], "{threads} threads, {parts} parts");
            }
        }
    }

    #[cfg(not(target_arch = "wasm32"))]
    #[test]
    fn the_caller_takes_the_first_parts_and_the_workers_the_last() {
        use std::sync::Mutex;
        let pool = Pool::new(2);
        let caller = std::thread::current().id();
        for parts in [2, 8, 64] {
            let mine = Mutex::new(vec![false; parts]);
            pool.each(parts, |i| {
                mine.lock().unwrap()[i] = std::thread::current().id() == caller;
                std::thread::sleep(std::time::Duration::from_micros(50));
            });
            let mine = mine.into_inner().unwrap();
            let first = mine.iter().take_while(|&&m| m).count();
            assert!(
                mine[first..].iter().all(|&m| !m),
                "{parts} parts: the caller's are not the first ones: {mine:?}"
            );
        }
    }

    #[test]
    fn thread_counts_are_capped_and_default_to_the_cores() {
        assert_eq!(
            thread_count(Some(3), 2),
            3,
            "asked for: more than the cores is allowed"
        );
        assert_eq!(thread_count(Some(100), 2), MAX_THREADS);
        assert_eq!(thread_count(Some(0), 4), 1);
        assert_eq!(thread_count(None, 4), 4);
        assert_eq!(thread_count(None, 64), DEFAULT_MAX_THREADS);
        assert_eq!(thread_count(None, 0), 1, "no core count: one thread");
    }
}
