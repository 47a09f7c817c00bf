//! What a caller can choose about the GPU backend, and the faults tests can force.

use crate::{Error, Result};

/// A failure forced on purpose, to test that each real failure path falls back cleanly.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GpuFault {
    /// Behave as a browser without `navigator.gpu`.
    NoWebGpu,
    /// Ask an instance with no backends for an adapter, which finds none.
    NoAdapter,
    /// Compile a shader with a syntax error, so pipeline creation fails.
    PipelineFailure,
    /// Destroy the device just before frame `frame` (0-based) runs.
    DeviceLost { frame: u64 },
}

/// How stages are timed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Profiling {
    /// Timestamp queries if the adapter has them, else only the frame time; one submit
    /// per frame either way.
    #[default]
    Auto,
    /// The "precise" mode: submit and wait after every stage, timed on the CPU clock.
    /// Works without timestamp queries, at the cost of a submit per stage.
    Fenced,
}

impl Profiling {
    pub fn parse(s: &str) -> Result<Profiling> {
        match s {
            "auto" | "timestamps" => Ok(Profiling::Auto),
            "precise" | "fenced" => Ok(Profiling::Fenced),
            _ => Err(Error::Usage(format!(
                "unknown timing mode {s:?}: expected auto or precise"
            ))),
        }
    }
}

/// Which kernels run the network. Both compute the same thing; they differ in how the
/// work is cut into invocations.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum KernelChoice {
    /// `Software` on CPU-type adapters (SwiftShader, lavapipe, WARP), else `Hardware`.
    #[default]
    Auto,
    Set(KernelSet),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KernelSet {
    /// Few wide invocations that walk whole reductions with broadcast weight loads: what
    /// software rasterizers run fastest.
    Software,
    /// Register-tiled 1x1s with weights staged in workgroup memory, split reductions, and
    /// enough invocations to fill a real GPU.
    Hardware,
}

impl KernelSet {
    pub const ALL: [KernelSet; 2] = [KernelSet::Software, KernelSet::Hardware];

    pub fn name(self) -> &'static str {
        match self {
            KernelSet::Software => "software",
            KernelSet::Hardware => "hardware",
        }
    }

    /// The set the adapter gets when the caller does not choose.
    pub fn for_adapter(device_type: wgpu::DeviceType) -> KernelSet {
        if device_type == wgpu::DeviceType::Cpu {
            KernelSet::Software
        } else {
            KernelSet::Hardware
        }
    }
}

impl KernelChoice {
    pub fn parse(s: &str) -> Result<KernelChoice> {
        match s {
            "auto" => Ok(KernelChoice::Auto),
            "software" => Ok(KernelChoice::Set(KernelSet::Software)),
            "hardware" => Ok(KernelChoice::Set(KernelSet::Hardware)),
            _ => Err(Error::Usage(format!(
                "unknown kernel set {s:?}: expected auto, hardware or software"
            ))),
        }
    }

    pub fn resolve(self, device_type: wgpu::DeviceType) -> KernelSet {
        match self {
            KernelChoice::Auto => KernelSet::for_adapter(device_type),
            KernelChoice::Set(set) => set,
        }
    }
}

/// How weights are stored on the GPU. Arithmetic accumulates in f32 either way.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum WeightPrecision {
    /// f16 on hardware adapters with `shader-f16` (half the weight traffic), else f32.
    /// Software adapters keep f32: they gain nothing from f16.
    #[default]
    Auto,
    F32,
    /// f16 wherever the adapter has `shader-f16`; f32 (reported) where it has not.
    F16,
}

impl WeightPrecision {
    pub fn parse(s: &str) -> Result<WeightPrecision> {
        match s {
            "auto" => Ok(WeightPrecision::Auto),
            "f32" => Ok(WeightPrecision::F32),
            "f16" => Ok(WeightPrecision::F16),
            _ => Err(Error::Usage(format!(
                "unknown weight precision {s:?}: expected auto, f32 or f16"
            ))),
        }
    }

    /// Whether weights go to the GPU as f16.
    pub fn resolve(self, has_f16: bool, device_type: wgpu::DeviceType) -> bool {
        match self {
            WeightPrecision::Auto => has_f16 && device_type != wgpu::DeviceType::Cpu,
            WeightPrecision::F32 => false,
            WeightPrecision::F16 => has_f16,
        }
    }
}

#[derive(Clone, Copy, Debug)]
pub struct GpuOptions {
    /// A failure to force (tests only).
    #[cfg(feature = "testing")]
    pub fault: Option<GpuFault>,
    pub profiling: Profiling,
    pub kernels: KernelChoice,
    pub weights: WeightPrecision,
    /// Subgroup operations for the hardware set's classifier reduction, where the device
    /// offers them (false: the workgroup-memory reduction everywhere).
    pub subgroups: bool,
    /// Side of the square input the load-time warm-up frame uses (0: no warm-up).
    pub warm_up_side: usize,
}

impl GpuOptions {
    /// The failure tests force, if any; always none outside the `testing` feature.
    pub fn fault(&self) -> Option<GpuFault> {
        #[cfg(feature = "testing")]
        return self.fault;
        #[cfg(not(feature = "testing"))]
        None
    }
}

impl Default for GpuOptions {
    fn default() -> Self {
        GpuOptions {
            #[cfg(feature = "testing")]
            fault: None,
            profiling: Profiling::Auto,
            kernels: KernelChoice::Auto,
            weights: WeightPrecision::Auto,
            subgroups: true,
            warm_up_side: 224,
        }
    }
}
