//! What each stage of the network asks of a machine at one input size: multiply-adds, and
//! the bytes its layers read and write (weights, and every layer's input and output maps as
//! if nothing stayed in cache: the traffic a roofline divides by). Per layer kind, so that a
//! report can set each against the machine's peak and bandwidth (`shufflenet bench
//! --layers`, `./bench.sh --roofline`).

use super::graph::{Conv, ConvKind, Network, Stage};
use super::steps::{Dims, Op};

/// Bytes per value: every map and weight is f32 on the CPU.
const F32: u64 = 4;

/// A layer kind's share of one stage.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Cost {
    pub macs: u64,
    pub bytes: u64,
}

impl Cost {
    fn add(&mut self, other: Cost) {
        self.macs += other.macs;
        self.bytes += other.bytes;
    }

    /// Bytes moved per multiply-add: below the machine's bytes per multiply-add at peak
    /// (its bandwidth over its peak rate), the kind can be compute-bound.
    pub fn bytes_per_mac(&self) -> f64 {
        self.bytes as f64 / self.macs.max(1) as f64
    }
}

/// One row of the report: a stage, a layer kind ("1x1", "depthwise 3x3", ...), its cost.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StageCost {
    pub stage: Stage,
    pub kind: &'static str,
    pub cost: Cost,
}

impl Network {
    /// Every stage's cost per layer kind for one `h x w` image, in execution order.
    pub fn costs(&self, h: usize, w: usize) -> Vec<StageCost> {
        let mut rows: Vec<StageCost> = Vec::new();
        let mut charge = |stage: Stage, kind: &'static str, cost: Cost| match rows
            .iter_mut()
            .find(|r| r.stage == stage && r.kind == kind)
        {
            Some(r) => r.cost.add(cost),
            None => rows.push(StageCost { stage, kind, cost }),
        };
        for step in self.steps(h, w) {
            let (input, output) = (step.input, step.output);
            match step.op {
                Op::Stem(c) | Op::Conv5(c) => charge(step.stage, kind(c), conv(c, input, output)),
                Op::MaxPool => charge(step.stage, "max pool", maps(input, output, 0)),
                Op::GlobalPool => charge(step.stage, "average pool", maps(input, output, 0)),
                Op::Fc(l) => {
                    let macs = l.in_f as u64 * l.out_f as u64;
                    let bytes = (macs + (l.in_f + 2 * l.out_f) as u64) * F32;
                    charge(step.stage, "fc", Cost { macs, bytes });
                }
                Op::Unit(u) => {
                    let out = |c: &Conv, i: Dims| Dims {
                        c: c.out_ch,
                        h: super::out_size(i.h, c.stride),
                        w: super::out_size(i.w, c.stride),
                    };
                    let mut x = Dims {
                        c: u.branch2[0].in_ch,
                        ..input
                    };
                    for c in &u.branch2 {
                        let y = out(c, x);
                        charge(step.stage, kind(c), conv(c, x, y));
                        x = y;
                    }
                    let mut x = input;
                    for c in u.branch1.iter().flatten() {
                        let y = out(c, x);
                        charge(step.stage, kind(c), conv(c, x, y));
                        x = y;
                    }
                }
            }
        }
        rows
    }
}

fn kind(c: &Conv) -> &'static str {
    match c.kind {
        ConvKind::Pointwise => "1x1",
        ConvKind::Depthwise3x3 => "depthwise 3x3",
        ConvKind::Full3x3 | ConvKind::Grouped3x3 { .. } => "dense 3x3",
    }
}

/// A conv's multiply-adds, and its weights, input and output in bytes.
fn conv(c: &Conv, input: Dims, output: Dims) -> Cost {
    // In u64: at 4096 x 4096 conv5 alone passes 2^32 multiply-adds (wasm32's usize).
    let macs = output.len() as u64 * c.weights_per_output() as u64;
    let weights = (c.weight.len() + c.bias.len()) as u64;
    let mut cost = maps(input, output, macs);
    cost.bytes += weights * F32;
    cost
}

fn maps(input: Dims, output: Dims, macs: u64) -> Cost {
    Cost {
        macs,
        bytes: (input.len() + output.len()) as u64 * F32,
    }
}

#[cfg(test)]
mod tests {
    use crate::model::{Arch, Width};
    use crate::weights::random_network;

    #[test]
    fn x1_at_224_costs_the_papers_146_million_multiply_adds() {
        let net = random_network(&Arch::width(Width::X1_0), 0);
        let rows = net.costs(224, 224);
        let macs: u64 = rows.iter().map(|r| r.cost.macs).sum();
        // The paper's Table 5 gives 146 MFLOPs (multiply-adds) for 1x; ours counts the fc.
        assert!(
            (140e6..152e6).contains(&(macs as f64)),
            "{macs} multiply-adds"
        );
        assert!(rows.iter().any(|r| r.kind == "depthwise 3x3"));
        let dw = rows
            .iter()
            .find(|r| r.kind == "depthwise 3x3")
            .unwrap()
            .cost;
        let pw = rows.iter().find(|r| r.kind == "1x1").unwrap().cost;
        // The depthwise conv does 9 multiply-adds a value, stage 2's 1x1 58: more bytes each.
        assert!(dw.bytes_per_mac() > 4.0 * pw.bytes_per_mac());
    }

    #[test]
    fn costs_scale_with_the_map_area_up_to_the_largest_input() {
        let net = random_network(&Arch::width(Width::X2_0), 0);
        let small: u64 = net.costs(224, 224).iter().map(|r| r.cost.macs).sum();
        let large: u64 = net.costs(4096, 4096).iter().map(|r| r.cost.macs).sum();
        // Every conv scales with the map's area; only the fc (2048 x 1000) does not.
        let fc = 2048 * 1000;
        let ratio = (large - fc) as f64 / (small - fc) as f64;
        assert!((330.0..336.0).contains(&ratio), "ratio {ratio}");
    }
}
