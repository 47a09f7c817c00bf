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
//! of an activation lives in its pixel. A stride-1 unit's branch 2 reads the slots of its
//! half (torchvision's second, the tutorial's first) and writes its result to those same
//! slots of the next buffer, the other half keeps its slots, and the shuffled order (any
//! group count) is just a new `slots` list for the next layer. `unit` runs a unit.

use super::conv3x3::Spatial;
use super::head::Head;
use super::pointwise::Pointwise;
use super::stem::Stem;
use crate::model::{out_size, Conv, Dims, HalfOrder, Network, Skeleton, Unit};
use crate::simd::{round_up, LANES};

/// One unit's packed kernels.
// Built once per network and walked in order: the size difference between variants costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug)]
pub enum UnitOps {
    /// Stride 1, in place on the activation.
    Split {
        pw1: Pointwise,
        conv: Spatial,
        pw2: Pointwise,
    },
    /// Stride 2, from one activation buffer into the other.
    Down {
        b1_conv: Spatial,
        b1_pw: Pointwise,
        pw1: Pointwise,
        conv: Spatial,
        pw2: Pointwise,
    },
}

#[derive(Clone, Debug)]
pub struct UnitPlan {
    pub ops: UnitOps,
    pub in_ch: usize,
    pub out_ch: usize,
    /// Floats per pixel of the branch-private buffers: `t1` (the first 1x1's output) and
    /// `t2` (the 3x3s' outputs).
    pub t1_stride: usize,
    pub t2_stride: usize,
}

impl UnitPlan {
    /// Packs `u`, whose input channels live at `slots`; returns where its outputs live.
    pub fn new(u: &Unit, slots: &[usize]) -> (UnitPlan, Vec<usize>) {
        let ids = |from: usize, n: usize| (from..from + n).collect::<Vec<_>>();
        let pw =
            |c: &Conv, i: &[usize], o: &[usize]| Pointwise::new(&c.weight, &c.bias, c.act, i, o);
        let [c1, c2, c3] = &u.branch2;
        let (ops, cat, t2_stride) = match &u.branch1 {
            None => {
                // The processed half's slots are rewritten in place; the other half stays.
                let kept_len = u.in_ch - u.branch;
                let (kept, changed) = match u.order {
                    HalfOrder::PassFirst => slots.split_at(kept_len),
                    HalfOrder::ProcessedFirst => {
                        let (changed, kept) = slots.split_at(u.branch);
                        (kept, changed)
                    }
                };
                // Branch 2's result may go to the freed slots in any order: ascending order
                // keeps runs of consecutive slots, which the 1x1 kernel stores as vectors.
                let mut freed = changed.to_vec();
                freed.sort_unstable();
                let (conv, mid) = Spatial::new(c2, &ids(0, c1.out_ch));
                let ops = UnitOps::Split {
                    pw1: pw(c1, changed, &ids(0, c1.out_ch)),
                    conv,
                    pw2: pw(c3, &mid, &freed),
                };
                let cat = match u.order {
                    HalfOrder::PassFirst => [kept, &freed].concat(),
                    HalfOrder::ProcessedFirst => [&freed, kept].concat(),
                };
                (ops, cat, stride(c2.out_ch))
            }
            Some([d1, p1]) => {
                // The branches write slots 0.. in concat order.
                let (n1, n2) = (p1.out_ch, c3.out_ch);
                let (b1_out, b2_out) = match u.order {
                    HalfOrder::PassFirst => (ids(0, n1), ids(n1, n2)),
                    HalfOrder::ProcessedFirst => (ids(n2, n1), ids(0, n2)),
                };
                let (b1_conv, b1_mid) = Spatial::new(d1, slots);
                let (conv, mid) = Spatial::new(c2, &ids(0, c1.out_ch));
                let ops = UnitOps::Down {
                    b1_pw: pw(p1, &b1_mid, &b1_out),
                    b1_conv,
                    pw1: pw(c1, slots, &ids(0, c1.out_ch)),
                    conv,
                    pw2: pw(c3, &mid, &b2_out),
                };
                let t2 = stride(c2.out_ch).max(stride(b1_mid.iter().max().map_or(0, |m| m + 1)));
                (ops, ids(0, n1 + n2), t2)
            }
        };
        let plan = UnitPlan {
            ops,
            in_ch: u.in_ch,
            out_ch: u.out_ch(),
            t1_stride: stride(c1.out_ch),
            t2_stride,
        };
        (plan, shuffle(&cat, u.shuffle_groups))
    }

    /// The unit's stride: 1 keeps the map's size, 2 halves it.
    pub fn stride(&self) -> usize {
        match self.ops {
            UnitOps::Split { .. } => 1,
            UnitOps::Down { .. } => 2,
        }
    }

    /// Floats the scratch buffers `t1` and `t2` need for an `input` map.
    pub fn scratch(&self, input: Dims) -> (usize, usize) {
        let s = self.stride();
        let out = out_size(input.h, s) * out_size(input.w, s);
        (input.plane() * self.t1_stride, out * self.t2_stride)
    }
}

/// Where each channel lives after a channel shuffle with `groups` groups of the
/// concatenation `cat`: output channel `j * groups + i` is concatenated channel
/// `i * (C / groups) + j` (two groups interleave the halves; one changes nothing).
fn shuffle(cat: &[usize], groups: usize) -> Vec<usize> {
    let per_group = cat.len() / groups;
    (0..cat.len())
        .map(|c| cat[(c % groups) * per_group + c / groups])
        .collect()
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
    /// The stem's conv, packed per input size (`Buffers`).
    pub stem: Conv,
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
            stem: net.stem.clone(),
            stages,
            head: Head::new(&net.conv5, &net.fc, &slots),
            classes: net.fc.out_f,
        }
    }
}

/// What depends on the input size: the stem, packed for it, and the activation buffers,
/// allocated once and reused every frame. Padding slots are zeroed here and never written,
/// so they stay zero.
#[derive(Debug)]
pub struct Buffers {
    /// The input height and width these are for.
    pub input: (usize, usize),
    pub stem: Stem,
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
        let pool = dims[1].1;
        let stem = Stem::new(&plan.stem, input);
        let cs = stem.out_stride();
        let (mut act, mut t1, mut t2) = (pool.plane() * cs, 0, 0);
        for (u, (i, o)) in plan.stages.iter().flatten().zip(&dims[2..]) {
            act = act
                .max(i.plane() * stride(u.in_ch))
                .max(o.plane() * stride(u.out_ch));
            let (s1, s2) = u.scratch(*i);
            (t1, t2) = (t1.max(s1), t2.max(s2));
        }
        let fs = plan.head.features();
        let head_in = dims[dims.len() - 3].0;
        Buffers {
            input,
            stem,
            act: [vec![0.0; act], vec![0.0; act]],
            t1: vec![0.0; t1],
            t2: vec![0.0; t2],
            feat: vec![0.0; head_in.plane() * fs],
            pooled: vec![0.0; fs],
            dims,
        }
    }
}
