//! CPU backends: the plain reference and the fast SIMD path.

mod fast;
pub mod reference;

#[cfg(feature = "testing")]
pub use fast::probe;
#[cfg(all(target_arch = "wasm32", target_feature = "atomics"))]
pub use fast::start_web_threads;
#[cfg(all(target_arch = "wasm32", target_feature = "atomics"))]
#[cfg(feature = "testing")]
pub use fast::trap_a_cpu_thread;
pub use fast::{thread_count, FastCpu, LabCpu, Roofline, DEFAULT_MAX_THREADS, MAX_THREADS};
