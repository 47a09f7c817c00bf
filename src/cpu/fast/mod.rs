//! The fast CPU backend: NHWC kernels on a 4-lane vector type (wasm SIMD128, SSE natively,
//! scalar arrays in the "cpu-scalar" wasm build), weights packed once, buffers planned once
//! per input size. See `plan` for the layout and how split / shuffle are folded away.

mod depthwise;
mod head;
mod plan;
mod pointwise;
pub mod probe;
mod simd;
mod stem;

use crate::backend::{Output, StageClock};
use crate::cpu::reference::check_input;
use crate::model::{out_size, Network, Stage};
use crate::tensor::Tensor;
use crate::Result;
use plan::{stride, Buffers, Plan, UnitOps};

pub struct FastCpu {
    plan: Plan,
    buffers: Option<Buffers>,
}

impl FastCpu {
    pub fn new(net: &Network) -> FastCpu {
        FastCpu {
            plan: Plan::new(net),
            buffers: None,
        }
    }

    /// "cpu-simd128", "cpu-scalar" (wasm without simd128) or "cpu-native".
    pub fn name(&self) -> &'static str {
        if cfg!(not(target_arch = "wasm32")) {
            "cpu-native"
        } else if cfg!(target_feature = "simd128") {
            "cpu-simd128"
        } else {
            "cpu-scalar"
        }
    }

    pub fn run(&mut self, input: &Tensor) -> Result<Output> {
        check_input(input)?;
        let [n, _, h, w] = input.shape;
        let mut clock = StageClock::default();
        let bufs = match self.buffers.take() {
            Some(b) if b.input == (h, w) => b,
            _ => Buffers::new(&self.plan, (h, w)),
        };
        let bufs = self.buffers.insert(bufs);
        let mut logits = Vec::with_capacity(n * self.plan.classes);
        for image in input.data.chunks_exact(input.image_len()) {
            forward(&self.plan, bufs, image, (h, w), &mut clock, &mut logits);
        }
        Ok(Output {
            batch: n,
            classes: self.plan.classes,
            logits,
            times: clock.finish(),
        })
    }
}

/// One NCHW image through the network; appends its logits.
fn forward(
    plan: &Plan,
    b: &mut Buffers,
    image: &[f32],
    (h, w): (usize, usize),
    clock: &mut StageClock,
    logits: &mut Vec<f32>,
) {
    let cs = stride(plan.stem_ch);
    plan.stem
        .run(image, (h, w), &mut b.patches, &mut b.stem, cs);
    let (h, w) = (out_size(h, 2), out_size(w, 2));
    let [x, y] = &mut b.act;
    let (mut x, mut y) = (x, y);
    stem::maxpool(&b.stem, (h, w, cs), x);
    clock.lap(Stage::Stem);
    let (mut h, mut w) = (out_size(h, 2), out_size(w, 2));
    for (stage, units) in [Stage::Stage2, Stage::Stage3, Stage::Stage4]
        .into_iter()
        .zip(&plan.stages)
    {
        for u in units {
            u.run(x, (h, w), y, &mut b.t1, &mut b.t2);
            if let UnitOps::Down { .. } = u.ops {
                std::mem::swap(&mut x, &mut y);
                (h, w) = (out_size(h, 2), out_size(w, 2));
            }
        }
        clock.lap(stage);
    }
    let xs = stride(plan.stages[2].last().map_or(plan.stem_ch, |u| 2 * u.branch));
    plan.head
        .run(x, h * w, xs, &mut b.feat, &mut b.pooled, logits);
    clock.lap(Stage::Head);
}
