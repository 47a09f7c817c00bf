//! ShuffleNetV2 (Ma et al. 2018) exactly as torchvision defines it, for the browser and native.
//!
//! `model` describes the network once; `weights` reads and folds torchvision's weights;
//! `cpu` and `gpu` run it (`simd`: the 4-lane vector the CPU kernels and the resize are
//! written against); `web` is the wasm-bindgen API. `guidelines` measures the paper's
//! four design guidelines on the same kernels.

pub mod backend;
pub mod classes;
pub mod cpu;
pub mod engine;
mod error;
#[cfg(feature = "gpu")]
pub mod gpu;
pub mod guidelines;
pub mod integrity;
pub mod model;
pub mod preprocess;
mod simd;
pub mod teach;
pub mod tensor;
#[cfg(target_arch = "wasm32")]
pub mod web;
pub mod weights;
pub mod yuv;

pub use backend::{Output, StageTimes, TimingMethod};
pub use error::{Error, Result};
pub use tensor::Tensor;
