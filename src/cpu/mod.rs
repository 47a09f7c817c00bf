//! CPU backends: the plain reference and the fast SIMD path.

mod fast;
pub mod reference;

pub use fast::{probe, FastCpu};
