//! The tutorial's ShuffleNetV2 (issue 11): its state_dict names and shapes, the
//! architecture read off them, and its fold into the one `Network`.
//!
//! Every conv in `stage1` and the units has a bias and a BatchNorm; activations are ReLU6.
//! `stage{2,3,4}` have two units: `0` (stride 2: `bottleneck` and `shortcut`) and `1`
//! (stride 1: `bottleneck` on the first half). Each `Sequential` entry is `{0 conv, 1 BN}`.

use super::fold::{fold, linear};
use super::names::{push_conv, ConvNames};
use super::{StateDict, TensorShapes};
use crate::model::{Activation, Arch, ConvKind, HalfOrder, Network, Unit, TUTORIAL_STEM};
use crate::{Error, Result};

/// The tensor that marks a state_dict as the tutorial's: its stem conv.
pub const MARKER: &str = "stage1.0.0.weight";

fn conv_bn(prefix: String) -> ConvNames {
    ConvNames {
        weight: format!("{prefix}.0.weight"),
        bias: Some(format!("{prefix}.0.bias")),
        bn: Some(format!("{prefix}.1")),
    }
}

fn stem() -> ConvNames {
    conv_bn("stage1.0".into())
}

fn conv5() -> ConvNames {
    ConvNames {
        weight: "conv5.weight".into(),
        bias: Some("conv5.bias".into()),
        bn: None,
    }
}

/// `bottleneck`: 1x1, 3x3, 1x1.
fn bottleneck(stage: usize, unit: usize) -> [ConvNames; 3] {
    [0, 1, 2].map(|i| conv_bn(format!("stage{}.{unit}.bottleneck.{i}", stage + 2)))
}

/// `shortcut` of a stride-2 unit: 3x3/2, 1x1.
fn shortcut(stage: usize) -> [ConvNames; 2] {
    [0, 1].map(|i| conv_bn(format!("stage{}.0.shortcut.{i}", stage + 2)))
}

/// Groups of stage `s`'s first unit: stage2's uses 1 whatever the model's.
fn first_unit_groups(stage: usize, groups: usize) -> usize {
    if stage == 0 {
        1
    } else {
        groups
    }
}

/// Every float tensor of the tutorial's network, with its shape, in state_dict order.
pub fn expected(arch: &Arch, groups: usize) -> Vec<(String, Vec<usize>)> {
    let c = arch.stages_out_channels;
    let mut out = Vec::new();
    push_conv(&mut out, stem(), [c[0], 3, 3, 3]);
    for s in 0..3 {
        let (inp, p) = (c[s], c[s + 1]);
        let (g, mid, half) = (first_unit_groups(s, groups), p - inp, p / 2);
        let [b0, b1, b2] = bottleneck(s, 0);
        push_conv(&mut out, b0, [inp, inp, 1, 1]);
        push_conv(&mut out, b1, [mid, inp / g, 3, 3]);
        push_conv(&mut out, b2, [mid, mid, 1, 1]);
        let [s0, s1] = shortcut(s);
        push_conv(&mut out, s0, [inp, inp / g, 3, 3]);
        push_conv(&mut out, s1, [inp, inp, 1, 1]);
        let [b0, b1, b2] = bottleneck(s, 1);
        push_conv(&mut out, b0, [half, half, 1, 1]);
        push_conv(&mut out, b1, [half, half / groups, 3, 3]);
        push_conv(&mut out, b2, [half, half, 1, 1]);
    }
    push_conv(&mut out, conv5(), [c[4], c[3], 1, 1]);
    out.push(("linear.weight".into(), vec![arch.num_classes, c[4]]));
    out.push(("linear.bias".into(), vec![arch.num_classes]));
    out
}

/// Planes from each stage's stride-1 unit (it processes half of them), groups from
/// stage3's, conv5 and classes from the head. Every other shape is checked afterwards
/// against `expected`.
pub fn infer_arch(sd: &impl TensorShapes) -> Result<Arch> {
    let half = |s: usize| sd.dim(&bottleneck(s, 1)[0].weight, 0);
    let planes = [half(0)? * 2, half(1)? * 2, half(2)? * 2];
    let grouped = &bottleneck(1, 1)[1].weight;
    let (h, per_group) = (planes[1] / 2, sd.dim(grouped, 1)?);
    if per_group == 0 || !h.is_multiple_of(per_group) {
        return Err(Error::Layout(format!(
            "{grouped} has {per_group} input channels per group, which does not divide its {h} channels"
        )));
    }
    Arch::tutorial(
        planes,
        h / per_group,
        sd.dim(&conv5().weight, 0)?,
        sd.dim("linear.weight", 0)?,
    )
    .map_err(|e| Error::Layout(e.to_string()))
}

/// The tutorial's state_dict as the one folded graph: ReLU6 after the convs that have an
/// activation, 3x3 convs with their groups, the processed half first, `groups`-way
/// shuffles, and conv5 with its bias alone.
pub fn fold_network(sd: &StateDict, arch: &Arch, groups: usize) -> Network {
    use Activation::{None as NoAct, Relu6};
    use ConvKind::Pointwise as Pw;
    let c = arch.stages_out_channels;
    debug_assert_eq!(c[0], TUTORIAL_STEM);
    let stem = fold(sd, &stem(), ConvKind::Full3x3, 2, Relu6);
    let stages = [0, 1, 2].map(|s| {
        let (inp, p) = (c[s], c[s + 1]);
        let (g, mid, half) = (first_unit_groups(s, groups), p - inp, p / 2);
        let [b0, b1, b2] = bottleneck(s, 0);
        let [s0, s1] = shortcut(s);
        let down = Unit {
            stride: 2,
            in_ch: inp,
            branch: mid,
            branch1: Some([
                fold(sd, &s0, ConvKind::with_groups(g, inp, inp), 2, NoAct),
                fold(sd, &s1, Pw, 1, Relu6),
            ]),
            branch2: [
                fold(sd, &b0, Pw, 1, Relu6),
                fold(sd, &b1, ConvKind::with_groups(g, inp, mid), 2, NoAct),
                fold(sd, &b2, Pw, 1, Relu6),
            ],
            order: HalfOrder::ProcessedFirst,
            shuffle_groups: g,
        };
        let [b0, b1, b2] = bottleneck(s, 1);
        let keep = Unit {
            stride: 1,
            in_ch: p,
            branch: half,
            branch1: None,
            branch2: [
                fold(sd, &b0, Pw, 1, Relu6),
                fold(sd, &b1, ConvKind::with_groups(groups, half, half), 1, NoAct),
                fold(sd, &b2, Pw, 1, Relu6),
            ],
            order: HalfOrder::ProcessedFirst,
            shuffle_groups: groups,
        };
        vec![down, keep]
    });
    let conv5 = fold(sd, &conv5(), Pw, 1, NoAct);
    let fc = linear(sd, "linear", c[4], arch.num_classes);
    Network {
        arch: arch.clone(),
        stem,
        stages,
        conv5,
        fc,
    }
}
