//! What one dispatch of a frame is: its kernel, parameter block, activation buffers and
//! workgroups. Shared by the step builders (`steps`, `general_units`) and `resources`.

use crate::gpu::shape::DispatchShape;
use crate::gpu::KernelSet;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kernel {
    Stem,
    Dw,
    Pw,
    Head,
    Fc,
    /// One conv of a unit the fused kernels do not run.
    Conv,
    /// The pass-through half of such a unit.
    Copy,
}

impl Kernel {
    /// The name the work-shape report gives this kernel in `set`.
    pub(super) fn label(self, set: KernelSet) -> &'static str {
        match (set, self) {
            (_, Kernel::Stem) => "stem",
            (KernelSet::Software, Kernel::Dw) => "dw",
            (KernelSet::Software, Kernel::Pw) => "pw",
            (KernelSet::Software, Kernel::Head) => "head",
            (KernelSet::Software, Kernel::Fc) => "fc",
            (KernelSet::Hardware, Kernel::Dw) => "dw_quad",
            (KernelSet::Hardware, Kernel::Pw) => "pw_tiled",
            (KernelSet::Hardware, Kernel::Head) => "head_tiled",
            (KernelSet::Hardware, Kernel::Fc) => "fc_split",
            (KernelSet::Software, Kernel::Conv) => "conv",
            (KernelSet::Hardware, Kernel::Conv) => "conv_split",
            (_, Kernel::Copy) => "copy",
        }
    }
}

/// Activation buffers. Liveness is simple here: a unit reads one tensor and writes the
/// other, so two ping-pong buffers (sized for the largest unit output) and one scratch
/// buffer for the branch's first 1x1 hold every activation of the frame; units run one
/// conv per dispatch also keep their 3x3s' outputs in a second scratch buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Act {
    Input,
    Ping,
    Pong,
    Tmp,
    Tmp2,
    Pooled,
    Logits,
}
pub(super) const ACTS: usize = 7;

pub(super) struct Step {
    pub(super) kernel: Kernel,
    pub(super) params: Vec<u8>,
    pub(super) src: Act,
    pub(super) src2: Act,
    pub(super) dst: Act,
    pub(super) groups: [usize; 3],
    pub(super) shape: DispatchShape,
}
