//! The network turned into packed kernels, once per set of weights, and the activation
//! buffers, once per input size.
//!
//! Layout: NHWC. A 1x1 conv then reads each pixel's channels as one contiguous row (the
//! GEMM's left operand, no packing per frame), the depthwise conv vectorizes across
//! channels with no shuffles, and the stem and pools work the same way. NCHW would need a
//! transpose or strided gathers for the GEMM; a channel-blocked layout buys nothing extra
//! here because every consumer already walks channels innermost.
//!
//! Split, concat and shuffle are bookkeeping: `slots[c]` says where logical channel `c`
//! of an activation lives in its pixel. A stride-1 unit works in place: branch 2 reads the
//! slots of the second half and writes its result back into those same slots, the first
//! half never moves, and the shuffled order is just a new `slots` list for the next layer.

use super::depthwise::Depthwise;
use super::head::Head;
use super::pointwise::Pointwise;
use super::pool::Pool;
use super::simd::{round_up, LANES};
use super::stem::{Stem, PATCH};
use crate::model::{out_size, Activation, Dims, Network, Skeleton, Unit};

/// One unit's packed kernels.
// Built once per network and walked in order: the size difference between variants costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug)]
pub enum UnitOps {
    /// Stride 1, in place on the activation.
    Split {
        pw1: Pointwise,
        dw: Depthwise,
        pw2: Pointwise,
    },
    /// Stride 2, from one activation buffer into the other.
    Down {
        b1_dw: Depthwise,
        b1_pw: Pointwise,
        pw1: Pointwise,
        dw: Depthwise,
        pw2: Pointwise,
    },
}

#[derive(Clone, Debug)]
pub struct UnitPlan {
    pub ops: UnitOps,
    pub in_ch: usize,
    pub branch: usize,
}

impl UnitPlan {
    /// Packs `u`, whose input channels live at `slots`; returns where its outputs live.
    pub fn new(u: &Unit, slots: &[usize]) -> (UnitPlan, Vec<usize>) {
        let b = u.branch;
        let ids = |from: usize| (from..from + b).collect::<Vec<_>>();
        let pw = |c: &crate::model::Conv, i: &[usize], o: &[usize]| {
            Pointwise::new(&c.weight, &c.bias, c.act == Activation::Relu, i, o)
        };
        let [c1, c2, c3] = &u.branch2;
        let (ops, out) = match &u.branch1 {
            None => {
                let (kept, changed) = slots.split_at(b);
                // Branch 2's result may go to the freed slots in any order: ascending order
                // keeps runs of consecutive slots, which the 1x1 kernel stores as vectors.
                let mut freed = changed.to_vec();
                freed.sort_unstable();
                let ops = UnitOps::Split {
                    pw1: pw(c1, changed, &ids(0)),
                    dw: Depthwise::dense(c2),
                    pw2: pw(c3, &ids(0), &freed),
                };
                // Output 2j is kept channel j, 2j+1 is branch-2 channel j.
                (ops, interleave(kept, &freed))
            }
            Some([d1, p1]) => {
                let ops = UnitOps::Down {
                    b1_dw: Depthwise::new(d1, slots),
                    b1_pw: pw(p1, slots, &ids(0)),
                    pw1: pw(c1, slots, &ids(0)),
                    dw: Depthwise::dense(c2),
                    pw2: pw(c3, &ids(0), &ids(b)),
                };
                (ops, interleave(&ids(0), &ids(b)))
            }
        };
        let plan = UnitPlan {
            ops,
            in_ch: u.in_ch,
            branch: b,
        };
        (plan, out)
    }

    #[cfg(feature = "testing")]
    pub fn stride(&self) -> usize {
        match self.ops {
            UnitOps::Split { .. } => 1,
            UnitOps::Down { .. } => 2,
        }
    }

    /// Floats per pixel of the branch-private buffer.
    pub fn branch_stride(&self) -> usize {
        round_up(self.branch, LANES)
    }

    /// Runs the unit on `x` (`h x w` pixels of `stride(in_ch)` floats). Stride 2 writes `y`.
    pub fn run(
        &self,
        pool: &Pool,
        x: &mut [f32],
        (h, w): (usize, usize),
        y: &mut [f32],
        t1: &mut [f32],
        t2: &mut [f32],
    ) {
        let bs = self.branch_stride();
        match &self.ops {
            UnitOps::Split { pw1, dw, pw2 } => {
                let xs = stride(2 * self.branch);
                pw1.run(pool, x, xs, h * w, t1, bs);
                dw.run(pool, t1, (h, w, bs), t2, bs);
                pw2.run(pool, t2, bs, h * w, x, xs);
            }
            UnitOps::Down {
                b1_dw,
                b1_pw,
                pw1,
                dw,
                pw2,
            } => {
                let (xs, ys) = (stride(self.in_ch), stride(2 * self.branch));
                let pixels = out_size(h, 2) * out_size(w, 2);
                b1_dw.run(pool, x, (h, w, xs), t2, xs);
                b1_pw.run(pool, t2, xs, pixels, y, ys);
                pw1.run(pool, x, xs, h * w, t1, bs);
                dw.run(pool, t1, (h, w, bs), t2, bs);
                pw2.run(pool, t2, bs, pixels, y, ys);
            }
        }
    }
}

/// `[a0, b0, a1, b1, ...]`: concat followed by a two-group channel shuffle.
fn interleave(a: &[usize], b: &[usize]) -> Vec<usize> {
    a.iter().zip(b).flat_map(|(&x, &y)| [x, y]).collect()
}

/// Floats per pixel of an activation with `channels` channels.
pub fn stride(channels: usize) -> usize {
    round_up(channels, LANES)
}

/// Every kernel of the network, packed.
#[derive(Clone, Debug)]
pub struct Plan {
    pub skeleton: Skeleton,
    /// Where each channel lives after the stem and after each stage, to read them back.
    #[cfg(feature = "testing")]
    pub stage_slots: Vec<Vec<usize>>,
    pub stem: Stem,
    pub stem_ch: usize,
    pub stages: [Vec<UnitPlan>; 3],
    pub head: Head,
    pub classes: usize,
}

impl Plan {
    pub fn new(net: &Network) -> Plan {
        let mut slots: Vec<usize> = (0..net.stem.out_ch).collect();
        #[cfg(feature = "testing")]
        let mut stage_slots = vec![slots.clone()];
        let stages = net.stages.each_ref().map(|units| {
            let plans = units
                .iter()
                .map(|u| {
                    let (plan, next) = UnitPlan::new(u, &slots);
                    slots = next;
                    plan
                })
                .collect();
            #[cfg(feature = "testing")]
            stage_slots.push(slots.clone());
            plans
        });
        Plan {
            skeleton: net.skeleton(),
            #[cfg(feature = "testing")]
            stage_slots,
            stem: Stem::new(&net.stem),
            stem_ch: net.stem.out_ch,
            stages,
            head: Head::new(&net.conv5, &net.fc, &slots),
            classes: net.fc.out_f,
        }
    }
}

/// Activation buffers for one input size, allocated once and reused every frame. Padding
/// slots are zeroed here and never written, so they stay zero.
#[derive(Debug)]
pub struct Buffers {
    /// The input height and width these are for.
    pub input: (usize, usize),
    pub patches: Vec<f32>,
    pub stem: Vec<f32>,
    /// The two activation buffers stride-2 units ping-pong between.
    pub act: [Vec<f32>; 2],
    pub t1: Vec<f32>,
    pub t2: Vec<f32>,
    pub feat: Vec<f32>,
    pub pooled: Vec<f32>,
    /// Input and output shape of every layer (`Skeleton::dims`) at this input size.
    pub dims: Vec<(Dims, Dims)>,
}

impl Buffers {
    pub fn new(plan: &Plan, input: (usize, usize)) -> Buffers {
        let dims = plan.skeleton.dims(input.0, input.1);
        let (conv1, pool) = (dims[0].1, dims[1].1);
        let cs = stride(plan.stem_ch);
        let (mut act, mut t1, mut t2) = (pool.plane() * cs, 0, 0);
        for (u, (i, o)) in plan.stages.iter().flatten().zip(&dims[2..]) {
            let bs = u.branch_stride();
            act = act
                .max(i.plane() * stride(u.in_ch))
                .max(o.plane() * stride(2 * u.branch));
            t1 = t1.max(i.plane() * bs);
            t2 = t2.max(o.plane() * bs.max(stride(u.in_ch)));
        }
        let fs = plan.head.features();
        let head_in = dims[dims.len() - 3].0;
        Buffers {
            input,
            patches: vec![0.0; conv1.w * PATCH],
            stem: vec![0.0; conv1.plane() * cs],
            act: [vec![0.0; act], vec![0.0; act]],
            t1: vec![0.0; t1],
            t2: vec![0.0; t2],
            feat: vec![0.0; head_in.plane() * fs],
            pooled: vec![0.0; fs],
            dims,
        }
    }
}
