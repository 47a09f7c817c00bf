//! CPU backends: the plain reference and the fast SIMD path.

pub mod reference;

use crate::model::Network;
use crate::tensor::Tensor;
use crate::{Output, Result};

/// Placeholder until the SIMD kernels land: runs the reference.
pub struct FastCpu {
    net: Network,
}

impl FastCpu {
    pub fn new(net: &Network) -> FastCpu {
        FastCpu { net: net.clone() }
    }

    pub fn run(&mut self, input: &Tensor) -> Result<Output> {
        reference::run(&self.net, input)
    }

    pub fn name(&self) -> &'static str {
        if cfg!(all(target_arch = "wasm32", target_feature = "simd128")) {
            "cpu-simd128"
        } else if cfg!(target_arch = "wasm32") {
            "cpu-scalar"
        } else {
            "cpu-native"
        }
    }
}
