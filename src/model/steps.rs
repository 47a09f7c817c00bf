//! The network as a sequence of steps with their activation shapes, for one input size.
//! Every planner walks this instead of redoing the shape arithmetic.

use super::arch::{out_size, MAX_INPUT, MIN_INPUT};
use super::graph::{Conv, Linear, Network, Stage, Unit};
use crate::tensor::Tensor;
use crate::{Error, Result};

/// Channels, height and width of one image's activation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dims {
    pub c: usize,
    pub h: usize,
    pub w: usize,
}

impl Dims {
    pub fn len(&self) -> usize {
        self.c * self.h * self.w
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn plane(&self) -> usize {
        self.h * self.w
    }
}

/// What a step computes.
#[derive(Clone, Copy, Debug)]
pub enum Op<'a> {
    /// conv1: 3x3/2 + BN + ReLU.
    Stem(&'a Conv),
    /// 3x3/2 max pool, padding 1.
    MaxPool,
    /// One `InvertedResidual`.
    Unit(&'a Unit),
    /// conv5: 1x1 + BN + ReLU.
    Conv5(&'a Conv),
    /// Global average pool: `output` is `c x 1 x 1`.
    GlobalPool,
    Fc(&'a Linear),
}

#[derive(Clone, Copy, Debug)]
pub struct Step<'a> {
    pub op: Op<'a>,
    /// The timed part it belongs to.
    pub stage: Stage,
    pub input: Dims,
    pub output: Dims,
}

/// One layer of the walk, without its weights: enough to derive every shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layer {
    pub stage: Stage,
    /// Output channels (the input's for the pools).
    pub out_ch: Option<usize>,
    /// 2 halves the map (3x3/2 convs, the max pool, stride-2 units); 0 pools it to 1 x 1.
    pub stride: usize,
}

/// The network's layers in execution order, weights left out: planners keep this and ask
/// it for the shapes of any input size.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skeleton {
    pub layers: Vec<Layer>,
}

impl Skeleton {
    /// Input and output shapes of every layer for one `h x w` image.
    pub fn dims(&self, h: usize, w: usize) -> Vec<(Dims, Dims)> {
        let mut at = Dims { c: 3, h, w };
        self.layers
            .iter()
            .map(|l| {
                let c = l.out_ch.unwrap_or(at.c);
                let out = match l.stride {
                    0 => Dims { c, h: 1, w: 1 },
                    1 => Dims { c, ..at },
                    s => Dims {
                        c,
                        h: out_size(at.h, s),
                        w: out_size(at.w, s),
                    },
                };
                let step = (at, out);
                at = out;
                step
            })
            .collect()
    }

    /// The activation after the stem (pool included) and after each stage.
    pub fn stage_dims(&self, h: usize, w: usize) -> [Dims; 4] {
        let dims = self.dims(h, w);
        let last_of = |stage: Stage| {
            self.layers
                .iter()
                .zip(&dims)
                .rev()
                .find(|(l, _)| l.stage == stage)
                .map_or(Dims { c: 0, h: 0, w: 0 }, |(_, d)| d.1)
        };
        [Stage::Stem, Stage::Stage2, Stage::Stage3, Stage::Stage4].map(last_of)
    }
}

impl Network {
    /// Every step in execution order with its operation, stage and layer.
    fn ops(&self) -> Vec<(Op<'_>, Layer)> {
        let layer = |stage, out_ch, stride| Layer {
            stage,
            out_ch,
            stride,
        };
        let mut ops = vec![
            (
                Op::Stem(&self.stem),
                layer(Stage::Stem, Some(self.stem.out_ch), 2),
            ),
            (Op::MaxPool, layer(Stage::Stem, None, 2)),
        ];
        let stages = [Stage::Stage2, Stage::Stage3, Stage::Stage4];
        for (stage, units) in stages.into_iter().zip(&self.stages) {
            for u in units {
                ops.push((Op::Unit(u), layer(stage, Some(u.out_ch()), u.stride)));
            }
        }
        ops.push((
            Op::Conv5(&self.conv5),
            layer(Stage::Head, Some(self.conv5.out_ch), 1),
        ));
        ops.push((Op::GlobalPool, layer(Stage::Head, None, 0)));
        ops.push((Op::Fc(&self.fc), layer(Stage::Head, Some(self.fc.out_f), 0)));
        ops
    }

    pub fn skeleton(&self) -> Skeleton {
        Skeleton {
            layers: self.ops().into_iter().map(|(_, l)| l).collect(),
        }
    }

    /// Every step of one `h x w` image, in execution order, with its shapes.
    pub fn steps(&self, h: usize, w: usize) -> Vec<Step<'_>> {
        let ops = self.ops();
        let skeleton = Skeleton {
            layers: ops.iter().map(|(_, l)| *l).collect(),
        };
        ops.into_iter()
            .zip(skeleton.dims(h, w))
            .map(|((op, layer), (input, output))| Step {
                op,
                stage: layer.stage,
                input,
                output,
            })
            .collect()
    }
}

/// Checks an input batch against what every network accepts: `N x 3 x H x W`, N >= 1,
/// sides within `MIN_INPUT..=MAX_INPUT`, data matching the shape.
pub fn check_input(input: &Tensor) -> Result<()> {
    let [n, c, h, w] = input.shape;
    if n == 0 || c != 3 {
        return Err(Error::Input(format!(
            "expected N x 3 x H x W with N >= 1, got {:?}",
            input.shape
        )));
    }
    if !(MIN_INPUT..=MAX_INPUT).contains(&h) || !(MIN_INPUT..=MAX_INPUT).contains(&w) {
        return Err(Error::Input(format!(
            "image side must be between {MIN_INPUT} and {MAX_INPUT} pixels, got {h} x {w}"
        )));
    }
    if input.data.len() != n * 3 * h * w {
        return Err(Error::Input("tensor data does not match its shape".into()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {

    use crate::model::{Arch, Width};
    use crate::weights::random_network;

    #[test]
    fn steps_follow_pytorch_shapes() {
        let net = random_network(&Arch::width(Width::X1_0), 1);
        let steps = net.steps(224, 224);
        assert_eq!(steps.len(), 16 + 5);
        let dims = net.skeleton().stage_dims(224, 224);
        let got: Vec<_> = dims.iter().map(|d| (d.c, d.h, d.w)).collect();
        assert_eq!(
            got,
            [(24, 56, 56), (116, 28, 28), (232, 14, 14), (464, 7, 7)]
        );
        for pair in steps.windows(2) {
            assert_eq!(pair[0].output, pair[1].input, "steps chain");
        }
        let last = steps.last().unwrap();
        assert_eq!((last.output.c, last.output.h), (1000, 1));
    }
}
