//! Dense and grouped 3x3 convolutions (padding 1, stride 1 or 2) on NHWC, the tutorial's
//! network's (issue 11), as an implicit matrix product: the 1x1 kernel's register tile
//! (`MR` pixels x `NR` output channels) with a K loop over 9 taps x the group's input
//! channels. Each tap of each pixel is a pointer to its input pixel, or to a row of zeros
//! where the tap falls in the padding, so nothing is copied (no im2col buffer).
//!
//! `Spatial` picks this kernel or the depthwise one from the conv's kind.

use super::depthwise::Depthwise;
use super::pointwise::{write_tile, Store, MR, NR};
use super::pool::{Pool, Shared};
use crate::model::{out_size, Activation, Conv, ConvKind};
use crate::simd::F4;

/// Packed weights handled per sweep over the pixels (floats): about an L2 cache's share.
const PANEL_BUDGET: usize = 16 * 1024;

/// One group's packed weights and where its channels live.
#[derive(Clone, Debug)]
struct Group {
    /// Input channels of the group.
    k: usize,
    blocks: usize,
    /// `[block][tap][k][NR]`.
    panels: Vec<f32>,
    /// `[block * NR]`, zero for padding columns.
    bias: Vec<f32>,
    /// First slot of the group's inputs when they are consecutive slots in order.
    base: usize,
    /// Slot of packed input row `k` otherwise.
    gather: Option<Vec<u32>>,
    /// One per 4-column vector.
    stores: Vec<Store>,
}

#[derive(Clone, Debug)]
pub struct Conv3x3 {
    stride: usize,
    act: Activation,
    groups: Vec<Group>,
    /// Read by the taps that fall in the padding: as long as the largest slot read.
    zeros: Vec<f32>,
    out_extent: usize,
    /// Multiply-adds per output pixel.
    macs: usize,
}

impl Conv3x3 {
    /// `in_slot[c]` is the NHWC slot of input channel `c`, `out_slot[o]` where output `o`
    /// goes. `conv` is dense or grouped (`[out][in / groups][3][3]`).
    pub fn new(conv: &Conv, in_slot: &[usize], out_slot: &[usize]) -> Conv3x3 {
        assert_eq!(in_slot.len(), conv.in_ch, "3x3 input channels");
        assert_eq!(out_slot.len(), conv.out_ch, "3x3 output channels");
        let g = conv.groups();
        let (k, n) = (conv.in_ch / g, conv.out_ch / g);
        let groups = (0..g)
            .map(|gi| {
                let ins = &in_slot[gi * k..][..k];
                // Inputs in slot order: sequential reads, and often no gather at all.
                let mut order: Vec<usize> = (0..k).collect();
                order.sort_by_key(|&i| ins[i]);
                let base = ins[order[0]];
                let straight = order.iter().enumerate().all(|(r, &i)| ins[i] == base + r);
                let gather = (!straight).then(|| order.iter().map(|&i| ins[i] as u32).collect());
                let blocks = n.div_ceil(NR);
                let mut panels = vec![0.0; blocks * 9 * k * NR];
                let mut bias = conv.bias[gi * n..][..n].to_vec();
                bias.resize(blocks * NR, 0.0);
                for o in 0..n {
                    let (b, j) = (o / NR, o % NR);
                    let filter = &conv.weight[(gi * n + o) * k * 9..][..k * 9];
                    for t in 0..9 {
                        for (r, &i) in order.iter().enumerate() {
                            panels[((b * 9 + t) * k + r) * NR + j] = filter[i * 9 + t];
                        }
                    }
                }
                Group {
                    k,
                    blocks,
                    panels,
                    bias,
                    base,
                    gather,
                    stores: Store::plan(&out_slot[gi * n..][..n], blocks * NR),
                }
            })
            .collect();
        Conv3x3 {
            stride: conv.stride,
            act: conv.act,
            groups,
            zeros: vec![0.0; in_slot.iter().max().map_or(0, |m| m + 1)],
            out_extent: out_slot.iter().max().map_or(0, |m| m + 1),
            macs: conv.out_ch * k * 9,
        }
    }

    /// `x` is `h x w` pixels of `xs` floats, `y` gets `out_size(h) x out_size(w)` pixels of
    /// `ys`. Output pixels are split between the pool's threads in whole register tiles.
    pub fn run(
        &self,
        pool: &Pool,
        x: &[f32],
        (h, w, xs): (usize, usize, usize),
        y: &mut [f32],
        ys: usize,
    ) {
        let (oh, ow) = (out_size(h, self.stride), out_size(w, self.stride));
        let pixels = oh * ow;
        if pixels == 0 {
            return;
        }
        assert!(
            xs >= self.zeros.len() && x.len() >= h * w * xs,
            "3x3 input buffer"
        );
        assert!(
            ys >= self.out_extent && y.len() >= (pixels - 1) * ys + self.out_extent,
            "3x3 output buffer"
        );
        let (xp, yp) = (Shared(x.as_ptr() as *mut f32), Shared(y.as_mut_ptr()));
        let map = InputMap { h, w, xs, ow };
        pool.split(
            pixels,
            MR,
            pool.min_items(self.macs),
            // SAFETY: `run_pixels`' contract, from the asserts above: `x` holds the `h x w`
            // input pixels of `xs >= zeros.len()` floats, `y` the `pixels` output pixels of
            // `ys >= out_extent` floats; `part` is within `0..pixels`, and the split gives
            // each pixel to one part. `x` and `y` stay borrowed until the split returns.
            |part| unsafe { self.run_pixels(xp.ptr(), map, part, yp.ptr(), ys) },
        );
    }

    /// Output rows `rows` of the `out_size(h) x out_size(w)` output at `y`.
    ///
    /// # Safety
    /// `Depthwise::rows`' contract, with `xs` at least `self.zeros.len()` and `ys` at least
    /// `self.out_extent`.
    pub(super) unsafe fn rows(
        &self,
        x: *const f32,
        (h, w, xs): (usize, usize, usize),
        rows: core::ops::Range<usize>,
        y: *mut f32,
        ys: usize,
    ) {
        let ow = out_size(w, self.stride);
        let map = InputMap { h, w, xs, ow };
        self.run_pixels(x, map, rows.start * ow..rows.end * ow, y, ys);
    }

    /// Output pixels `pixels` (row-major, `map.ow` per row), every group.
    ///
    /// # Safety
    /// `x` is a `map.h x map.w` map of `map.xs` floats a pixel, valid for reading (and written
    /// by nobody meanwhile) at every pixel the 3x3 windows of `pixels` touch, with `map.xs` at
    /// least `self.zeros.len()` (one past the largest input slot). `y` is valid for writing
    /// output pixels `0..pixels.end` of `ys` floats, with `ys` at least `self.out_extent`
    /// (one past the largest output slot), and `pixels.end <= out_size(map.h) * map.ow`. No
    /// other thread reads or writes output pixels `pixels` meanwhile.
    unsafe fn run_pixels(
        &self,
        x: *const f32,
        map: InputMap,
        pixels: core::ops::Range<usize>,
        y: *mut f32,
        ys: usize,
    ) {
        for g in &self.groups {
            let chunk = (PANEL_BUDGET / (9 * g.k * NR).max(1)).max(1);
            let mut b0 = 0;
            while b0 < g.blocks {
                let b1 = (b0 + chunk).min(g.blocks);
                let mut p = pixels.start;
                while p + MR <= pixels.end {
                    self.tiles::<MR>(g, x, map, y, ys, p, b0..b1);
                    p += MR;
                }
                match pixels.end - p {
                    5 => self.tiles::<5>(g, x, map, y, ys, p, b0..b1),
                    4 => self.tiles::<4>(g, x, map, y, ys, p, b0..b1),
                    3 => self.tiles::<3>(g, x, map, y, ys, p, b0..b1),
                    2 => self.tiles::<2>(g, x, map, y, ys, p, b0..b1),
                    1 => self.tiles::<1>(g, x, map, y, ys, p, b0..b1),
                    _ => {}
                }
                b0 = b1;
            }
        }
    }

    /// Output pixels `p..p + R` of group `g`, column blocks `blocks`.
    ///
    /// # Safety
    /// `run_pixels`' contract for pixels `p..p + R`; `g` is one of `self.groups` and
    /// `blocks` within `0..g.blocks`.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    unsafe fn tiles<const R: usize>(
        &self,
        g: &Group,
        x: *const f32,
        map: InputMap,
        y: *mut f32,
        ys: usize,
        p: usize,
        blocks: core::ops::Range<usize>,
    ) {
        let s = self.stride;
        let base = if g.gather.is_some() { 0 } else { g.base };
        let taps: [[*const f32; R]; 9] = core::array::from_fn(|t| {
            core::array::from_fn(|r| {
                let (oy, ox) = ((p + r) / map.ow, (p + r) % map.ow);
                let iy = (oy * s + t / 3).wrapping_sub(1);
                let ix = (ox * s + t % 3).wrapping_sub(1);
                let pixel = if iy < map.h && ix < map.w {
                    x.add((iy * map.w + ix) * map.xs)
                } else {
                    self.zeros.as_ptr()
                };
                pixel.add(base)
            })
        });
        for b in blocks {
            let acc = match &g.gather {
                None => tile::<R, false>(g, &taps, &[], b),
                Some(list) => tile::<R, true>(g, &taps, list, b),
            };
            write_tile(&g.stores, b, &acc, self.act, |r| y.add((p + r) * ys));
        }
    }
}

/// The input's shape and the output's width.
#[derive(Clone, Copy)]
struct InputMap {
    h: usize,
    w: usize,
    xs: usize,
    ow: usize,
}

/// The register tile: `R` pixels x `NR` channels of column block `b`, over 9 taps x `k`
/// inputs. Out of line so the K loop gets the registers to itself.
///
/// # Safety
/// `b < g.blocks` (the bias and panel reads then stay inside `g`'s vectors). Each tap pointer
/// is valid for reading one float at every offset the K loop reads: `0..g.k`, or with
/// `GATHER` each entry of `gather`, which has at least `g.k` entries.
#[inline(never)]
unsafe fn tile<const R: usize, const GATHER: bool>(
    g: &Group,
    taps: &[[*const f32; R]; 9],
    gather: &[u32],
    b: usize,
) -> [[F4; 2]; R] {
    let bias = g.bias.as_ptr().add(b * NR);
    let mut acc = [[F4::load(bias), F4::load(bias.add(4))]; R];
    let k = g.k;
    for (t, rows) in taps.iter().enumerate() {
        let panel = g.panels.as_ptr().add((b * 9 + t) * k * NR);
        for kk in 0..k {
            let off = if GATHER {
                *gather.get_unchecked(kk) as usize
            } else {
                kk
            };
            let w0 = F4::load(panel.add(kk * NR));
            let w1 = F4::load(panel.add(kk * NR + 4));
            for r in 0..R {
                let v = F4::load_splat(rows[r].add(off));
                acc[r][0] = acc[r][0].mul_add(v, w0);
                acc[r][1] = acc[r][1].mul_add(v, w1);
            }
        }
    }
    acc
}

/// A unit's 3x3 conv: depthwise (torchvision's) or dense / grouped (the tutorial's).
// Built once per network: the size difference between variants costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug)]
pub enum Spatial {
    Depthwise(Depthwise),
    Conv(Conv3x3),
}

impl Spatial {
    /// Reads input channel `c` at `in_slot[c]`; returns the kernel and where its outputs
    /// go: a depthwise conv keeps each channel's slot, the others write slots `0..out`.
    pub fn new(conv: &Conv, in_slot: &[usize]) -> (Spatial, Vec<usize>) {
        match conv.kind {
            ConvKind::Depthwise3x3 => (
                Spatial::Depthwise(Depthwise::new(conv, in_slot)),
                in_slot.to_vec(),
            ),
            _ => {
                let out: Vec<usize> = (0..conv.out_ch).collect();
                (Spatial::Conv(Conv3x3::new(conv, in_slot, &out)), out)
            }
        }
    }

    /// As `Depthwise::run` and `Conv3x3::run`: the kernel suite's entry.
    #[cfg(feature = "testing")]
    pub fn run(
        &self,
        pool: &Pool,
        x: &[f32],
        shape: (usize, usize, usize),
        y: &mut [f32],
        ys: usize,
    ) {
        match self {
            Spatial::Depthwise(d) => d.run(pool, x, shape, y, ys),
            Spatial::Conv(c) => c.run(pool, x, shape, y, ys),
        }
    }

    /// As `Depthwise::rows` and `Conv3x3::rows`.
    ///
    /// # Safety
    /// Theirs: `Conv3x3::rows`' for a dense or grouped conv, `Depthwise::rows`' otherwise.
    pub(super) unsafe fn rows(
        &self,
        x: *const f32,
        shape: (usize, usize, usize),
        rows: core::ops::Range<usize>,
        y: *mut f32,
        ys: usize,
    ) {
        match self {
            Spatial::Depthwise(d) => d.rows(x, shape, rows, y, ys),
            Spatial::Conv(c) => c.rows(x, shape, rows, y, ys),
        }
    }

    #[cfg(feature = "testing")]
    pub fn stride(&self) -> usize {
        match self {
            Spatial::Depthwise(d) => d.stride(),
            Spatial::Conv(c) => c.stride,
        }
    }

    /// Multiply-adds per output pixel.
    pub fn macs(&self) -> usize {
        match self {
            Spatial::Depthwise(d) => d.macs(),
            Spatial::Conv(c) => c.macs,
        }
    }

    /// The depthwise conv, whose channels are independent of each other.
    pub fn depthwise(&self) -> Option<&Depthwise> {
        match self {
            Spatial::Depthwise(d) => Some(d),
            Spatial::Conv(_) => None,
        }
    }
}
