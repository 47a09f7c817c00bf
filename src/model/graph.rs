//! The network every backend executes: ShuffleNetV2 with BatchNorm folded into each conv.
//!
//! This is the one description of the graph. Backends differ only in how they run it;
//! the order of units and the split / concat / shuffle rules below are shared.

use super::arch::Arch;

/// How a convolution is shaped. All have padding `kernel / 2`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConvKind {
    /// Dense 3x3 (the stem; the tutorial's units with 1 group). Layout `[out][in][3][3]`.
    Full3x3,
    /// Depthwise 3x3, one filter per channel. Weight layout `[ch][3][3]`.
    Depthwise3x3,
    /// 3x3 with `groups` groups (neither 1 nor one per channel): output channel `o` reads
    /// the input channels of its group. Layout `[out][in / groups][3][3]`.
    Grouped3x3 { groups: usize },
    /// Dense 1x1. Weight layout `[out][in]`.
    Pointwise,
}

impl ConvKind {
    /// The kind of a 3x3 conv with `groups` groups from `in_ch` to `out_ch` channels.
    pub fn with_groups(groups: usize, in_ch: usize, out_ch: usize) -> ConvKind {
        match groups {
            1 => ConvKind::Full3x3,
            g if g == in_ch && g == out_ch => ConvKind::Depthwise3x3,
            groups => ConvKind::Grouped3x3 { groups },
        }
    }
}

/// What follows a conv's folded BatchNorm.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activation {
    None,
    /// torchvision's.
    Relu,
    /// The tutorial's: `min(max(x, 0), 6)`.
    Relu6,
}

impl Activation {
    pub fn apply(self, v: f32) -> f32 {
        match self {
            Activation::None => v,
            Activation::Relu => v.max(0.0),
            Activation::Relu6 => v.clamp(0.0, 6.0),
        }
    }
}

/// A convolution with its BatchNorm (and conv bias) folded in: `y = act(W * x + bias)`.
#[derive(Clone, Debug)]
pub struct Conv {
    pub kind: ConvKind,
    pub in_ch: usize,
    pub out_ch: usize,
    pub stride: usize,
    pub act: Activation,
    pub weight: Vec<f32>,
    pub bias: Vec<f32>,
}

impl Conv {
    pub fn groups(&self) -> usize {
        match self.kind {
            ConvKind::Full3x3 | ConvKind::Pointwise => 1,
            ConvKind::Depthwise3x3 => self.in_ch,
            ConvKind::Grouped3x3 { groups } => groups,
        }
    }

    pub fn weights_per_output(&self) -> usize {
        match self.kind {
            ConvKind::Pointwise => self.in_ch,
            _ => self.in_ch / self.groups() * 9,
        }
    }
}

/// Which half of a stride-1 unit is processed, and which branch comes first in the concat.
/// The pass-through half (or `branch1`) keeps its side: the input's half it is, it is in
/// the output.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HalfOrder {
    /// torchvision: `cat(x1, branch2(x2))` and `cat(branch1(x), branch2(x))`.
    PassFirst,
    /// The tutorial: `cat(bottleneck(a), b)` and `cat(bottleneck(x), shortcut(x))`.
    ProcessedFirst,
}

/// One `InvertedResidual` unit (the tutorial's `ShuffleUnit`).
///
/// Stride 1: the input's halves of `branch` channels; one passes through untouched, the
/// other goes through `branch2` (`order` says which). Stride 2: the whole input feeds both
/// branches. The two are concatenated in `order`, then channel-shuffled with
/// `shuffle_groups` groups: output channel `j * g + i` is concat channel `i * (C / g) + j`.
/// torchvision's order and 2 groups interleave the branches: channel `2*j` is branch-1
/// (or pass-through) channel `j`, `2*j + 1` is branch-2 channel `j`.
#[derive(Clone, Debug)]
pub struct Unit {
    pub stride: usize,
    pub in_ch: usize,
    /// Channels `branch2` makes (stride 1: each half).
    pub branch: usize,
    /// Stride 2 only: 3x3/2 (no activation), pointwise + activation.
    pub branch1: Option<[Conv; 2]>,
    /// Pointwise + activation, 3x3/stride (no activation), pointwise + activation.
    pub branch2: [Conv; 3],
    pub order: HalfOrder,
    pub shuffle_groups: usize,
}

impl Unit {
    pub fn out_ch(&self) -> usize {
        let other = match &self.branch1 {
            Some([_, pw]) => pw.out_ch,
            None => self.in_ch - self.branch,
        };
        self.branch2[2].out_ch + other
    }

    /// Whether this is torchvision's unit exactly (ReLU, depthwise 3x3, pass-through first,
    /// 2 shuffle groups): WebGPU runs these with its fused kernels, the others one conv per
    /// dispatch.
    pub fn is_torchvision(&self) -> bool {
        let pw = |c: &Conv| c.kind == ConvKind::Pointwise && c.act == Activation::Relu;
        let dw = |c: &Conv| c.kind == ConvKind::Depthwise3x3 && c.act == Activation::None;
        let [a, b, c] = &self.branch2;
        self.order == HalfOrder::PassFirst
            && self.shuffle_groups == 2
            && pw(a)
            && dw(b)
            && pw(c)
            && self.branch1.as_ref().is_none_or(|[d, p]| dw(d) && pw(p))
            && self.out_ch() == 2 * self.branch
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
    /// Conv 1x1 + BN + ReLU (the tutorial's: bias only, no activation), then global
    /// average pool.
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
