//! The network every backend executes: ShuffleNetV2 with BatchNorm folded into each conv.
//!
//! This is the one description of the graph. Backends differ only in how they run it;
//! the order of units and the split / concat / shuffle rules below are shared.

use super::arch::Arch;

/// How a convolution is shaped. All have padding `kernel / 2`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConvKind {
    /// Dense 3x3 (the stem). Weight layout `[out][in][3][3]`.
    Full3x3,
    /// Depthwise 3x3, one filter per channel. Weight layout `[ch][3][3]`.
    Depthwise3x3,
    /// Dense 1x1. Weight layout `[out][in]`.
    Pointwise,
}

/// A convolution with its BatchNorm folded in: `y = relu?(W * x + bias)`.
#[derive(Clone, Debug)]
pub struct Conv {
    pub kind: ConvKind,
    pub in_ch: usize,
    pub out_ch: usize,
    pub stride: usize,
    pub relu: bool,
    pub weight: Vec<f32>,
    pub bias: Vec<f32>,
}

impl Conv {
    pub fn weights_per_output(&self) -> usize {
        match self.kind {
            ConvKind::Full3x3 => self.in_ch * 9,
            ConvKind::Depthwise3x3 => 9,
            ConvKind::Pointwise => self.in_ch,
        }
    }
}

/// One `InvertedResidual` unit.
///
/// Stride 1: input channels `[0, branch)` pass through untouched, `[branch, 2*branch)` go
/// through `branch2`. Stride 2: the whole input feeds both branches.
/// Output channel `2*j` is branch-1 (or pass-through) channel `j`, `2*j + 1` is branch-2
/// channel `j`: that is torch's `cat` followed by `channel_shuffle(x, 2)`.
#[derive(Clone, Debug)]
pub struct Unit {
    pub stride: usize,
    pub in_ch: usize,
    /// Channels per branch: half the unit's output.
    pub branch: usize,
    /// Stride 2 only: depthwise 3x3/2 (no ReLU), pointwise + ReLU.
    pub branch1: Option<[Conv; 2]>,
    /// Pointwise + ReLU, depthwise 3x3/stride (no ReLU), pointwise + ReLU.
    pub branch2: [Conv; 3],
}

impl Unit {
    pub fn out_ch(&self) -> usize {
        2 * self.branch
    }
}

/// The classifier: `[out][in]` weights and a bias.
#[derive(Clone, Debug)]
pub struct Linear {
    pub in_f: usize,
    pub out_f: usize,
    pub weight: Vec<f32>,
    pub bias: Vec<f32>,
}

/// The whole folded network.
#[derive(Clone, Debug)]
pub struct Network {
    pub arch: Arch,
    /// Conv 3x3/2 + BN + ReLU; a 3x3/2 max pool (padding 1) follows it.
    pub stem: Conv,
    /// stage2, stage3, stage4.
    pub stages: [Vec<Unit>; 3],
    /// Conv 1x1 + BN + ReLU, then global average pool.
    pub conv5: Conv,
    pub fc: Linear,
}

/// The five timed parts of a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// conv1 and the max pool.
    Stem,
    Stage2,
    Stage3,
    Stage4,
    /// conv5, global average pool and fc.
    Head,
}

impl Stage {
    pub const ALL: [Stage; 5] = [
        Stage::Stem,
        Stage::Stage2,
        Stage::Stage3,
        Stage::Stage4,
        Stage::Head,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Stage::Stem => "stem",
            Stage::Stage2 => "stage2",
            Stage::Stage3 => "stage3",
            Stage::Stage4 => "stage4",
            Stage::Head => "head",
        }
    }
}

impl Network {
    /// Every unit in execution order.
    pub fn units(&self) -> impl Iterator<Item = &Unit> {
        self.stages.iter().flatten()
    }

    /// Parameters after folding (BN folded into conv weights and biases).
    pub fn folded_params(&self) -> usize {
        let conv = |c: &Conv| c.weight.len() + c.bias.len();
        let unit = |u: &Unit| {
            u.branch2.iter().map(conv).sum::<usize>()
                + u.branch1.iter().flatten().map(conv).sum::<usize>()
        };
        conv(&self.stem)
            + self.units().map(unit).sum::<usize>()
            + conv(&self.conv5)
            + self.fc.weight.len()
            + self.fc.bias.len()
    }
}
