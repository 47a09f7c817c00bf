//! Picks the backend that runs a loaded network, for the CLI and the browser alike.

use crate::cpu::FastCpu;
use crate::model::Network;
use crate::preprocess::{self, Crop};
use crate::tensor::Tensor;
use crate::{Error, Output, Result};

/// Which backend the caller asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Preference {
    /// WebGPU where it works, the CPU otherwise.
    Auto,
    Gpu,
    Cpu,
    /// The plain reference loops (CLI checks only).
    Reference,
}

impl Preference {
    pub fn parse(s: &str) -> Result<Preference> {
        match s {
            "auto" => Ok(Preference::Auto),
            "webgpu" | "gpu" => Ok(Preference::Gpu),
            "cpu" => Ok(Preference::Cpu),
            "reference" => Ok(Preference::Reference),
            _ => Err(Error::Usage(format!(
                "unknown backend {s:?}: expected auto, webgpu, cpu or reference"
            ))),
        }
    }
}

/// A loaded network and the backend that runs it.
pub struct Engine {
    net: Network,
    cpu: FastCpu,
    preference: Preference,
}

impl Engine {
    pub async fn new(net: Network, preference: Preference) -> Result<Engine> {
        Ok(Engine {
            cpu: FastCpu::new(&net),
            net,
            preference,
        })
    }

    pub fn network(&self) -> &Network {
        &self.net
    }

    /// The backend that runs the next frame.
    pub fn backend(&self) -> &'static str {
        match self.preference {
            Preference::Reference => "cpu-reference",
            _ => self.cpu.name(),
        }
    }

    /// Runs an already normalized N x 3 x H x W batch.
    pub async fn run(&mut self, input: &Tensor) -> Result<Output> {
        match self.preference {
            Preference::Reference => crate::cpu::reference::run(&self.net, input),
            _ => self.cpu.run(input),
        }
    }

    /// Preprocesses an RGBA frame and classifies it.
    pub async fn run_rgba(
        &mut self,
        rgba: &[u8],
        width: u32,
        height: u32,
        crop: Crop,
    ) -> Result<Output> {
        let input = preprocess::rgba_to_tensor(rgba, width as usize, height as usize, crop)?;
        self.run(&input).await
    }
}
