//! CPU backends: the plain reference and the fast SIMD path.

mod fast;
pub mod reference;

#[cfg(feature = "testing")]
pub use fast::probe;
pub use fast::FastCpu;
