//! torchvision's state_dict names and shapes for a given architecture.

use std::collections::HashMap;

use crate::model::Arch;

/// The BatchNorm tensors that follow a conv, in state_dict order.
pub const BN_PARTS: [&str; 4] = ["weight", "bias", "running_mean", "running_var"];

/// Where a conv's weight, its bias and its BatchNorm live, e.g. `stage2.0.branch2` indices
/// 0 and 1 (torchvision's convs have no bias; the tutorial's conv5 has no BatchNorm).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConvNames {
    pub weight: String,
    pub bias: Option<String>,
    /// Prefix of the BatchNorm, e.g. `conv1.1`.
    pub bn: Option<String>,
}

fn conv_names(prefix: &str, conv: usize) -> ConvNames {
    ConvNames {
        weight: format!("{prefix}.{conv}.weight"),
        bias: None,
        bn: Some(format!("{prefix}.{}", conv + 1)),
    }
}

/// Pushes a conv's tensors with their shapes (`shape` is the weight's) in state_dict order.
pub fn push_conv(out: &mut Vec<(String, Vec<usize>)>, n: ConvNames, shape: [usize; 4]) {
    out.push((n.weight, shape.to_vec()));
    if let Some(bias) = n.bias {
        out.push((bias, vec![shape[0]]));
    }
    if let Some(bn) = n.bn {
        for part in BN_PARTS {
            out.push((format!("{bn}.{part}"), vec![shape[0]]));
        }
    }
}

pub fn stem() -> ConvNames {
    conv_names("conv1", 0)
}

pub fn conv5() -> ConvNames {
    conv_names("conv5", 0)
}

/// Branch 1 of a stride-2 unit: depthwise (index 0) and pointwise (index 2).
pub fn branch1(stage: usize, unit: usize) -> [ConvNames; 2] {
    let p = format!("stage{}.{unit}.branch1", stage + 2);
    [conv_names(&p, 0), conv_names(&p, 2)]
}

/// Branch 2: pointwise (0), depthwise (3), pointwise (5).
pub fn branch2(stage: usize, unit: usize) -> [ConvNames; 3] {
    let p = format!("stage{}.{unit}.branch2", stage + 2);
    [conv_names(&p, 0), conv_names(&p, 3), conv_names(&p, 5)]
}

/// Every float tensor of torchvision's `ShuffleNetV2` for `arch`, with its shape, in
/// state_dict order (the tutorial's: `tutorial::expected`; `family` picks).
/// (`num_batches_tracked` counters are integers and not listed: they are ignored.)
pub fn torchvision(arch: &Arch) -> Vec<(String, Vec<usize>)> {
    let c = arch.stages_out_channels;
    let mut out = Vec::new();
    let mut conv = |n: ConvNames, shape: [usize; 4]| push_conv(&mut out, n, shape);
    conv(stem(), [c[0], 3, 3, 3]);
    let mut inp = c[0];
    for s in 0..3 {
        let bf = c[s + 1] / 2;
        for u in 0..arch.stages_repeats[s] {
            if u == 0 {
                let [dw, pw] = branch1(s, u);
                conv(dw, [inp, 1, 3, 3]);
                conv(pw, [bf, inp, 1, 1]);
            }
            let [pw1, dw, pw2] = branch2(s, u);
            conv(pw1, [bf, if u == 0 { inp } else { bf }, 1, 1]);
            conv(dw, [bf, 1, 3, 3]);
            conv(pw2, [bf, bf, 1, 1]);
        }
        inp = c[s + 1];
    }
    conv(conv5(), [c[4], inp, 1, 1]);
    out.push(("fc.weight".into(), vec![arch.num_classes, c[4]]));
    out.push(("fc.bias".into(), vec![arch.num_classes]));
    out
}

/// The tensors one architecture must have, in state_dict order and by name: validation
/// looks names up by hash, so its time is linear in the number of tensors.
pub struct Expected {
    pub order: Vec<(String, Vec<usize>)>,
    by_name: HashMap<String, usize>,
}

impl Expected {
    pub fn new(order: Vec<(String, Vec<usize>)>) -> Expected {
        let by_name = order
            .iter()
            .enumerate()
            .map(|(i, (n, _))| (n.clone(), i))
            .collect();
        Expected { order, by_name }
    }

    pub fn shape(&self, name: &str) -> Option<&[usize]> {
        self.by_name.get(name).map(|i| self.order[*i].1.as_slice())
    }

    /// Whether `name` is an integer counter the file may hold beside these tensors:
    /// `num_batches_tracked` of one of its BatchNorms.
    pub fn allows_ignored(&self, name: &str) -> bool {
        name.strip_suffix(".num_batches_tracked")
            .is_some_and(|bn| self.by_name.contains_key(&format!("{bn}.running_var")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Width;

    #[test]
    fn parameter_counts_match_torchvision() {
        // Written by tools/make_fixtures.py: sum(p.numel() for p in model.parameters()).
        // BatchNorm running stats are buffers, not parameters.
        let counts = include_str!("../../tests/fixtures/param_counts.txt");
        for line in counts.lines() {
            let (width, want) = line.split_once(' ').unwrap();
            let arch = Arch::width(Width::parse(width).unwrap());
            let params: usize = torchvision(&arch)
                .iter()
                .filter(|(n, _)| !n.ends_with("running_mean") && !n.ends_with("running_var"))
                .map(|(_, s)| s.iter().product::<usize>())
                .sum();
            assert_eq!(params, want.parse::<usize>().unwrap(), "x{width}");
        }
        assert_eq!(counts.lines().count(), 4);
    }
}
