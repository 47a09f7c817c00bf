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
    /// Subgroup operations for the hardware set's classifier and head reductions, where the
    /// device offers them (false: the workgroup-memory reductions everywhere).
    pub subgroups: bool,
    /// Lanes per pixel of the subgroup head's sum, forced (tests only: narrower than, as
    /// wide as, or wider than the device's subgroups).
    #[cfg(feature = "testing")]
    pub head_lanes: Option<usize>,
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

    /// The subgroups the hardware set uses on a device with `device_min_size`-lane
    /// subgroups (None: no subgroups).
    pub fn subgroup_use(&self, device_min_size: Option<u32>) -> SubgroupUse {
        let Some(min_size) = device_min_size.filter(|_| self.subgroups) else {
            return SubgroupUse::NONE;
        };
        #[allow(unused_mut)]
        let mut used = SubgroupUse::for_min_size(min_size);
        #[cfg(feature = "testing")]
        if let Some(lanes) = self.head_lanes {
            used.head_lanes = lanes;
        }
        used
    }
}

/// Which of the hardware set's reductions use subgroup operations.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SubgroupUse {
    /// The classifier (`fc_subgroup`).
    pub classifier: bool,
    /// Lanes summing one pixel's slices in conv5 + pool (`head_subgroup`), at most the
    /// device's narrowest subgroup; 0: the workgroup-memory head.
    pub head_lanes: usize,
}

impl SubgroupUse {
    pub const NONE: SubgroupUse = SubgroupUse {
        classifier: false,
        head_lanes: 0,
    };

    /// What the hardware set uses on a device whose subgroups are never narrower than
    /// `min_size` lanes. The head's tile splits each pixel's sum 16 ways: narrower subgroups
    /// keep the workgroup-memory head (a split as narrow as them would lengthen its serial
    /// chain: 71 steps at x1.0 with 8 lanes, against 53, and 41 with 16).
    pub fn for_min_size(min_size: u32) -> SubgroupUse {
        SubgroupUse {
            classifier: true,
            head_lanes: if min_size >= 16 { 16 } else { 0 },
        }
    }

    pub fn any(self) -> bool {
        self.classifier || self.head_lanes > 0
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
            #[cfg(feature = "testing")]
            head_lanes: None,
            warm_up_side: 224,
        }
    }
}
