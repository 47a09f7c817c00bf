//! Single kernels of the fast path on the reference backend's NCHW `Map`s, so the shared
//! kernel suite can compare each one with `cpu::reference`. Not used when running a network.

use super::conv3x3::Spatial;
use super::depthwise::Depthwise;
use super::head::Head;
use super::plan::{stride, UnitPlan};
use super::pointwise::Pointwise;
use super::pool::Pool;
use super::stem::Stem;
pub use super::unit::Cut;
use crate::cpu::reference::Map;
use crate::model::{out_size, Conv, Dims, Linear, Unit};

/// NHWC pixels of `xs` floats, channel `c` at `slots[c]`, other slots zero.
fn to_nhwc(x: &Map, slots: &[usize], xs: usize) -> Vec<f32> {
    let plane = x.h * x.w;
    let mut out = vec![0.0; plane * xs];
    for (c, &s) in slots.iter().enumerate() {
        for p in 0..plane {
            out[p * xs + s] = x.data[c * plane + p];
        }
    }
    out
}

fn from_nhwc(data: &[f32], (h, w, xs): (usize, usize, usize), slots: &[usize]) -> Map {
    let mut m = Map::zeros(slots.len(), h, w);
    for (c, &s) in slots.iter().enumerate() {
        for p in 0..h * w {
            m.data[c * h * w + p] = data[p * xs + s];
        }
    }
    m
}

/// The kernels one at a time on the calling thread; threads are checked on whole networks.
fn serial() -> Pool {
    Pool::new(1)
}

/// The order a test pool's caller runs the parts in (`Pool::serial_in_parts`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    FirstToLast,
    LastToFirst,
}

impl Order {
    pub const BOTH: [Order; 2] = [Order::FirstToLast, Order::LastToFirst];

    fn pool(self, parts: usize) -> Pool {
        Pool::serial_in_parts(parts, self == Order::LastToFirst)
    }
}

fn ids(n: usize) -> Vec<usize> {
    (0..n).collect()
}

/// A 1x1 conv. With `scattered`, inputs sit in reversed slots (read through the gather
/// list) and output `o` goes to slot `2o + 1` of a twice-as-wide pixel, as a unit's
/// branch writes its half of the shuffled output. `by_columns`: run as the head's layers
/// are (`Pointwise::run_by_columns`).
pub fn pointwise(conv: &Conv, x: &Map, scattered: bool, by_columns: bool) -> Map {
    let k = conv.in_ch;
    let (in_slots, out_slots): (Vec<usize>, Vec<usize>) = if scattered {
        (
            (0..k).rev().collect(),
            (0..conv.out_ch).map(|o| 2 * o + 1).collect(),
        )
    } else {
        (ids(k), ids(conv.out_ch))
    };
    let op = Pointwise::new(&conv.weight, &conv.bias, conv.act, &in_slots, &out_slots);
    let (xs, ys) = (stride(k), stride(2 * conv.out_ch));
    let input = to_nhwc(x, &in_slots, xs);
    let mut out = vec![0.0; x.h * x.w * ys];
    if by_columns {
        op.run_by_columns(&serial(), &input, xs, x.h * x.w, &mut out, ys);
    } else {
        op.run(&serial(), &input, xs, x.h * x.w, &mut out, ys);
    }
    from_nhwc(&out, (x.h, x.w, ys), &out_slots)
}

pub fn depthwise(conv: &Conv, x: &Map) -> Map {
    let op = Depthwise::dense(conv);
    let xs = stride(conv.in_ch);
    let (oh, ow) = (out_size(x.h, op.stride()), out_size(x.w, op.stride()));
    let mut out = vec![0.0; oh * ow * xs];
    op.run(
        &serial(),
        &to_nhwc(x, &ids(x.c), xs),
        (x.h, x.w, xs),
        &mut out,
        xs,
    );
    from_nhwc(&out, (oh, ow, xs), &ids(x.c))
}

/// A unit's 3x3 conv as a unit plans it (depthwise, dense or grouped). With `scattered`,
/// inputs sit in reversed slots of a pixel one vector wider, as a stride-2 unit's first
/// branch reads the shuffled activation.
pub fn spatial(conv: &Conv, x: &Map, scattered: bool) -> Map {
    let xs = stride(conv.in_ch) + if scattered { 4 } else { 0 };
    let in_slots: Vec<usize> = if scattered {
        (0..conv.in_ch).map(|c| xs - 1 - c).collect()
    } else {
        ids(conv.in_ch)
    };
    let (op, out_slots) = Spatial::new(conv, &in_slots);
    let ys = xs.max(stride(conv.out_ch));
    let (oh, ow) = (out_size(x.h, op.stride()), out_size(x.w, op.stride()));
    let mut out = vec![0.0; oh * ow * ys];
    op.run(
        &serial(),
        &to_nhwc(x, &in_slots, xs),
        (x.h, x.w, xs),
        &mut out,
        ys,
    );
    from_nhwc(&out, (oh, ow, ys), &out_slots)
}

/// The stem (conv, then max pool), its pool rows cut into up to `bands` bands run in `order`.
pub fn stem(conv: &Conv, x: &Map, bands: usize, order: Order) -> Map {
    let op = Stem::new(conv, (x.h, x.w));
    let (ch, cw) = (out_size(x.h, 2), out_size(x.w, 2));
    let (oh, ow, ys) = (out_size(ch, 2), out_size(cw, 2), op.out_stride());
    let (mut out, mut spare) = (vec![0.0; oh * ow * ys], vec![0.0; oh * ow * ys]);
    op.run(&order.pool(bands), &x.data, &mut out, &mut spare);
    from_nhwc(&out, (oh, ow, ys), &ids(conv.out_ch))
}

/// Units run back to back with the channel bookkeeping of a real run, each cut into up to
/// `parts` parts run in `order`: by rows, by pixels (where the unit can be), or as a real
/// run chooses (`None`); the result is converted back to torch's channel order.
pub fn units(us: &[Unit], x: &Map, parts: usize, cut: Option<Cut>, order: Order) -> Map {
    let mut slots = ids(x.c);
    let (mut h, mut w) = (x.h, x.w);
    let size = |c: usize, h: usize, w: usize| h * w * stride(c).max(stride(x.c));
    let mut cur = to_nhwc(x, &slots, stride(x.c));
    for u in us {
        let (plan, next) = UnitPlan::new(u, &slots);
        let (oh, ow) = (out_size(h, plan.stride()), out_size(w, plan.stride()));
        let mut out = vec![0.0; size(u.out_ch(), oh, ow)];
        let (s1, s2) = plan.scratch(Dims { c: u.in_ch, h, w });
        let (mut t1, mut t2) = (vec![0.0; s1], vec![0.0; s2]);
        cur.resize(size(u.in_ch, h, w).max(cur.len()), 0.0);
        let pool = order.pool(parts);
        // Cut by pixels where the unit can be, else by rows.
        let cut = cut.map(|c| match c {
            Cut::Pixels if plan.pixels_cut_fits() => Cut::Pixels,
            _ => Cut::Rows,
        });
        plan.run_cut(&pool, cut, &cur, (h, w), &mut out, &mut t1, &mut t2);
        cur = out;
        (slots, h, w) = (next, oh, ow);
    }
    from_nhwc(&cur, (h, w, stride(slots.len())), &slots)
}

/// conv5, global average pool and fc.
/// The head with its layers cut into up to `parts` parts.
pub fn head(conv5: &Conv, fc: &Linear, x: &Map, parts: usize) -> Vec<f32> {
    let op = Head::new(conv5, fc, &ids(x.c));
    let (pixels, xs) = (x.h * x.w, stride(x.c));
    let mut feat = vec![0.0; pixels * op.features()];
    let mut pooled = vec![0.0; op.features()];
    let mut logits = Vec::new();
    op.run(
        &Order::FirstToLast.pool(parts),
        &to_nhwc(x, &ids(x.c), xs),
        (pixels, xs),
        &mut feat,
        &mut pooled,
        &mut Vec::new(),
        &mut logits,
    );
    logits
}
