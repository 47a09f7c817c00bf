//! Folds each BatchNorm into the conv before it, turning the state_dict into a `Network`.

use super::names::{self, ConvNames};
use super::StateDict;
use crate::model::{Activation, Arch, Conv, ConvKind, HalfOrder, Linear, Network, Unit};

/// torch.nn.BatchNorm2d's default epsilon, which both networks use.
pub const BN_EPS: f32 = 1e-5;

/// The classifier `{prefix}.weight` and `{prefix}.bias`, `in_f` features to `out_f` classes.
/// The state_dict must already be validated against the architecture.
pub fn linear(sd: &StateDict, prefix: &str, in_f: usize, out_f: usize) -> Linear {
    Linear {
        in_f,
        out_f,
        weight: sd.tensors[&format!("{prefix}.weight")].data.clone(),
        bias: sd.tensors[&format!("{prefix}.bias")].data.clone(),
    }
}

/// Conv (+ bias) + BN: `w' = w * gamma / sqrt(var + eps)`,
/// `b' = beta + (b - mean) * gamma / sqrt(var + eps)`; without BN the conv as it is.
/// The state_dict must already be validated against the architecture.
pub fn fold(sd: &StateDict, n: &ConvNames, kind: ConvKind, stride: usize, act: Activation) -> Conv {
    let w = &sd.tensors[&n.weight];
    let out_ch = w.shape[0];
    let per_out = w.data.len() / out_ch;
    let mut weight = w.data.clone();
    let mut bias = match &n.bias {
        Some(b) => sd.tensors[b].data.clone(),
        None => vec![0.0; out_ch],
    };
    if let Some(bn_prefix) = &n.bn {
        let bn = |part: &str| &sd.tensors[&format!("{bn_prefix}.{part}")].data;
        let (gamma, beta, mean, var) = (
            bn("weight"),
            bn("bias"),
            bn("running_mean"),
            bn("running_var"),
        );
        for o in 0..out_ch {
            // f64 keeps the folded weights as close to torch's unfolded math as f32 allows.
            let scale = gamma[o] as f64 / (var[o] as f64 + BN_EPS as f64).sqrt();
            for v in &mut weight[o * per_out..(o + 1) * per_out] {
                *v = (*v as f64 * scale) as f32;
            }
            bias[o] = (beta[o] as f64 + (bias[o] as f64 - mean[o] as f64) * scale) as f32;
        }
    }
    let in_ch = match kind {
        ConvKind::Depthwise3x3 => out_ch,
        ConvKind::Grouped3x3 { groups } => w.shape[1] * groups,
        _ => w.shape[1],
    };
    Conv {
        kind,
        in_ch,
        out_ch,
        stride,
        act,
        weight,
        bias,
    }
}

/// torchvision's network (the tutorial's: `tutorial::fold_network`; `family` picks).
pub fn torchvision_network(sd: &StateDict, arch: &Arch) -> Network {
    use Activation::{None as NoAct, Relu};
    use ConvKind::{Depthwise3x3 as Dw, Pointwise as Pw};
    let stem = fold(sd, &names::stem(), ConvKind::Full3x3, 2, Relu);
    let stages = [0, 1, 2].map(|s| {
        (0..arch.stages_repeats[s])
            .map(|u| {
                let stride = if u == 0 { 2 } else { 1 };
                let [pw1, dw, pw2] = names::branch2(s, u);
                let branch2 = [
                    fold(sd, &pw1, Pw, 1, Relu),
                    fold(sd, &dw, Dw, stride, NoAct),
                    fold(sd, &pw2, Pw, 1, Relu),
                ];
                let branch1 = (u == 0).then(|| {
                    let [dw, pw] = names::branch1(s, u);
                    [fold(sd, &dw, Dw, 2, NoAct), fold(sd, &pw, Pw, 1, Relu)]
                });
                Unit {
                    stride,
                    in_ch: if u == 0 {
                        arch.stages_out_channels[s]
                    } else {
                        arch.stages_out_channels[s + 1]
                    },
                    branch: arch.stages_out_channels[s + 1] / 2,
                    branch1,
                    branch2,
                    order: HalfOrder::PassFirst,
                    shuffle_groups: 2,
                }
            })
            .collect()
    });
    let conv5 = fold(sd, &names::conv5(), Pw, 1, Relu);
    let fc = linear(sd, "fc", arch.stages_out_channels[4], arch.num_classes);
    Network {
        arch: arch.clone(),
        stem,
        stages,
        conv5,
        fc,
    }
}
