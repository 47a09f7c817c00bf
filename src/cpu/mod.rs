//! CPU backends: the plain reference and the fast SIMD path.

pub mod reference;
