//! The 1x1 convolution as a register-blocked matrix product `[pixels x K] x [K x N]`.
//!
//! Activations are NHWC, so a pixel's channels are one contiguous row of the left matrix.
//! Weights are packed at load time into panels of `NR` output channels (`[K][NR]` each),
//! and a tile of `MR` pixels x `NR` channels lives in registers for the whole K loop: per
//! step, `MR` broadcasts and `NR / 4` vector loads feed `MR * NR / 4` multiply-adds.
//!
//! Channel split, concat and shuffle are never materialized. Instead every layer is told
//! where (which NHWC slot) each of its logical input and output channels lives: inputs are
//! read through a gather list (or straight, when the slots are `0..K`), outputs go straight
//! to their slots, which is how a branch writes into its half of the shuffled output.

use super::pool::{Pool, Shared};
use crate::model::Activation;
use crate::simd::{round_up, F4, LANES};

/// Pixels per register tile. Natively 6 x 2 accumulators plus operands fit 16 vector
/// registers. In wasm, V8 keeps fewer registers free (on x86-64 it reserves a scratch vector
/// register and several general ones, and each pixel row needs a pointer), and a 6- or
/// 5-pixel tile spills inside the K loop: 4 pixels measured 1.4 to 1.5 times faster.
#[cfg(not(target_arch = "wasm32"))]
pub(super) const MR: usize = 6;
#[cfg(target_arch = "wasm32")]
pub(super) const MR: usize = 4;
/// Output channels per register tile (two vectors).
pub(super) const NR: usize = 8;
/// Packed weights handled per sweep over the pixels (floats): about an L1 cache.
const PANEL_BUDGET: usize = 8 * 1024;
/// Marks a padding column that is never stored.
const SKIP: u32 = u32::MAX;

/// How one 4-channel vector of a tile row is written.
#[derive(Clone, Copy, Debug)]
pub(super) enum Store {
    /// Four consecutive slots starting here.
    Vector(u32),
    /// Each lane to its own slot, or nowhere.
    Lanes([u32; 4]),
}

impl Store {
    /// One per 4-column vector of `columns` (a multiple of 4) columns: column `o` goes to
    /// `out_slot[o]`, columns past its end nowhere.
    pub(super) fn plan(out_slot: &[usize], columns: usize) -> Vec<Store> {
        let slot = |o: usize| out_slot.get(o).map_or(SKIP, |&s| s as u32);
        (0..columns / LANES)
            .map(|v| {
                let lanes: [u32; 4] = core::array::from_fn(|l| slot(v * LANES + l));
                let consecutive =
                    (1..4).all(|l| lanes[0] != SKIP && lanes[l] == lanes[0] + l as u32);
                if consecutive {
                    Store::Vector(lanes[0])
                } else {
                    Store::Lanes(lanes)
                }
            })
            .collect()
    }

    /// Writes `x` into the pixel at `row`.
    /// # Safety
    /// Every slot this store names must be writable at `row`.
    #[inline(always)]
    pub(super) unsafe fn write(self, x: F4, row: *mut f32) {
        match self {
            Store::Vector(s) => x.store(row.add(s as usize)),
            Store::Lanes(slots) => {
                for (s, val) in slots.into_iter().zip(x.to_array()) {
                    if s != SKIP {
                        *row.add(s as usize) = val;
                    }
                }
            }
        }
    }
}

/// Writes register tile `acc` (`V` vectors a pixel) of column block `b` after its
/// activation, pixel `r` to the pixel at `out(r)`. Shaped for wasm, where V8 runs what LLVM
/// leaves: indexed loops, not `into_iter` (that moves the tile into an iterator through
/// memory, a `memory.copy` that V8 runs as a call: about 7 % of a frame), and the activation
/// and the common store (consecutive slots) chosen once per tile instead of once per vector
/// (about 3 % more).
///
/// # Safety
/// `Store::write`'s, for every pixel `out` gives; `stores` holds block `b`'s first `V`.
#[inline(always)]
pub(super) unsafe fn write_tile<const R: usize, const V: usize>(
    stores: &[Store],
    b: usize,
    acc: &[[F4; V]; R],
    act: Activation,
    out: impl Fn(usize) -> *mut f32,
) {
    let stores = &stores[b * NR / LANES..][..V];
    match act {
        Activation::None => write_tile_as(stores, acc, out, |x| x),
        Activation::Relu => write_tile_as(stores, acc, out, |x| x.activate(Activation::Relu)),
        Activation::Relu6 => write_tile_as(stores, acc, out, |x| x.activate(Activation::Relu6)),
    }
}

/// `write_tile` with the activation `act`.
///
/// # Safety
/// `write_tile`'s, with `stores` the `V` of block `b`.
#[inline(always)]
unsafe fn write_tile_as<const R: usize, const V: usize>(
    stores: &[Store],
    acc: &[[F4; V]; R],
    out: impl Fn(usize) -> *mut f32,
    act: impl Fn(F4) -> F4,
) {
    if let Some(s0) = consecutive(stores) {
        for (r, row) in acc.iter().enumerate() {
            let at = out(r).add(s0);
            for (v, x) in row.iter().enumerate() {
                act(*x).store(at.add(v * LANES));
            }
        }
        return;
    }
    for (r, row) in acc.iter().enumerate() {
        for (store, x) in stores.iter().zip(row) {
            store.write(act(*x), out(r));
        }
    }
}

/// The first slot of `stores` when they write consecutive slots, one vector after another.
#[inline(always)]
fn consecutive(stores: &[Store]) -> Option<usize> {
    let Some(&Store::Vector(s0)) = stores.first() else {
        return None;
    };
    let next =
        |(v, s): (usize, &Store)| matches!(*s, Store::Vector(s) if s == s0 + (v * LANES) as u32);
    stores.iter().enumerate().all(next).then_some(s0 as usize)
}

/// Where a pixel's packed input row `kk` lives: `kk`, or with `GATHER` its entry in `gather`.
///
/// # Safety
/// With `GATHER`, `kk < gather.len()`.
#[inline(always)]
unsafe fn input_offset<const GATHER: bool>(gather: &[u32], kk: usize) -> usize {
    if GATHER {
        *gather.get_unchecked(kk) as usize
    } else {
        kk
    }
}

/// A 1x1 convolution (or any dense `[out][in]` layer applied per pixel), packed.
#[derive(Clone, Debug)]
pub struct Pointwise {
    k: usize,
    blocks: usize,
    /// The last column block has at most 4 real columns: its tile computes one vector.
    half_tail: bool,
    act: Activation,
    /// `[block][k][NR]`.
    panels: Vec<f32>,
    /// `[block * NR]`, zero for padding columns.
    bias: Vec<f32>,
    /// Slot of packed input row `k`, unless the rows are slots `0..K` in order.
    gather: Option<Vec<u32>>,
    /// One per 4-column vector.
    stores: Vec<Store>,
    /// One past the largest slot read / written, for the bounds checks.
    in_extent: usize,
    out_extent: usize,
}

impl Pointwise {
    /// `weight` is `[out][in]`. `in_slot[i]` is the NHWC slot holding logical input `i`,
    /// `out_slot[o]` the slot output `o` goes to.
    pub fn new(
        weight: &[f32],
        bias: &[f32],
        act: Activation,
        in_slot: &[usize],
        out_slot: &[usize],
    ) -> Pointwise {
        let (k, n) = (in_slot.len(), out_slot.len());
        assert_eq!(weight.len(), k * n, "pointwise weight shape");
        assert_eq!(bias.len(), n, "pointwise bias length");
        // Read inputs in slot order: sequential memory, and often no gather at all.
        let mut order: Vec<usize> = (0..k).collect();
        order.sort_by_key(|&i| in_slot[i]);
        let straight = order.iter().enumerate().all(|(r, &i)| in_slot[i] == r);
        let gather = (!straight).then(|| order.iter().map(|&i| in_slot[i] as u32).collect());

        let blocks = n.div_ceil(NR);
        let mut panels = vec![0.0; blocks * k * NR];
        let mut padded_bias = vec![0.0; blocks * NR];
        for o in 0..n {
            let (b, j) = (o / NR, o % NR);
            for (r, &i) in order.iter().enumerate() {
                panels[(b * k + r) * NR + j] = weight[o * k + i];
            }
            padded_bias[o] = bias[o];
        }
        let stores = Store::plan(out_slot, blocks * NR);
        Pointwise {
            k,
            blocks,
            half_tail: (1..=LANES).contains(&(n % NR)),
            act,
            panels,
            bias: padded_bias,
            gather,
            stores,
            in_extent: in_slot.iter().max().map_or(0, |m| m + 1),
            out_extent: out_slot.iter().max().map_or(0, |m| m + 1),
        }
    }

    /// Inputs `[i]` -> outputs `[o]` in consecutive slots (a branch's private buffer).
    pub fn dense(weight: &[f32], bias: &[f32], act: Activation, k: usize, n: usize) -> Pointwise {
        let ids = |c: usize| (0..c).collect::<Vec<_>>();
        Pointwise::new(weight, bias, act, &ids(k), &ids(n))
    }

    /// Multiply-adds per pixel, the padding columns computed included (they cost the same).
    pub fn macs(&self) -> usize {
        self.k * (self.blocks * NR - if self.half_tail { LANES } else { 0 })
    }

    /// Output channels, padded for a whole tile.
    pub fn padded_out(&self) -> usize {
        round_up(self.out_extent, LANES)
    }

    /// Runs on `rows` pixels: pixel `p` reads `a[p * a_stride..]`, writes `c[p * c_stride..]`.
    /// The pixels are split between the pool's threads in whole register tiles.
    pub fn run(
        &self,
        pool: &Pool,
        a: &[f32],
        a_stride: usize,
        rows: usize,
        c: &mut [f32],
        c_stride: usize,
    ) {
        self.split_up(pool, (a, a_stride), rows, (c, c_stride), false);
    }

    /// `run`, with the output channels split between the pool's threads instead of the
    /// pixels: for layers on few pixels and many weights (the head's conv5 on 7 x 7, the fc
    /// on one), each thread then streams only its share of the weights.
    pub fn run_by_columns(
        &self,
        pool: &Pool,
        a: &[f32],
        a_stride: usize,
        rows: usize,
        c: &mut [f32],
        c_stride: usize,
    ) {
        self.split_up(pool, (a, a_stride), rows, (c, c_stride), true);
    }

    /// `run` or `run_by_columns`.
    fn split_up(
        &self,
        pool: &Pool,
        (a, a_stride): (&[f32], usize),
        rows: usize,
        (c, c_stride): (&mut [f32], usize),
        by_columns: bool,
    ) {
        if rows == 0 {
            return;
        }
        self.check(a, a_stride, rows, c, c_stride);
        let (a, c) = (Shared(a.as_ptr() as *mut f32), Shared(c.as_mut_ptr()));
        // Either way `run_blocks`' contract holds, from `check`: `a` and `c` hold `rows` pixels
        // of `a_stride` / `c_stride` floats up to the last one's extent, output pixels do not
        // overlap, and `a` and `c` stay borrowed until the split returns.
        if by_columns {
            let min_blocks = pool.min_items(self.k * NR * rows);
            // SAFETY: as above; the split gives each column block, so each output channel, to
            // one part, within `0..self.blocks`.
            pool.split(self.blocks, 1, min_blocks, |blocks| unsafe {
                self.run_blocks(a.ptr(), a_stride, 0..rows, c.ptr(), c_stride, blocks)
            });
        } else {
            let min_rows = pool.min_items(self.k * self.blocks * NR);
            // SAFETY: as above; the split gives each pixel to one part, within `0..rows`.
            pool.split(rows, MR, min_rows, |part| unsafe {
                self.run_rows(a.ptr(), a_stride, part, c.ptr(), c_stride)
            });
        }
    }

    /// The bounds `run` and `run_by_columns` check.
    fn check(&self, a: &[f32], a_stride: usize, rows: usize, c: &[f32], c_stride: usize) {
        assert!(
            a.len() >= (rows - 1) * a_stride + self.in_extent,
            "pointwise input too short"
        );
        assert!(
            c.len() >= (rows - 1) * c_stride + self.out_extent,
            "pointwise output too short"
        );
        // Pixels that overlap in `c` would be written by two parts at once.
        assert!(
            rows == 1 || c_stride >= self.out_extent,
            "pointwise output pixels overlap"
        );
    }

    /// Pixels `rows` of a checked `run`.
    ///
    /// # Safety
    /// For every pixel `p < rows.end`: `a` is valid for reading `self.in_extent` floats at
    /// `p * a_stride`, and `c` for writing `self.out_extent` floats at `p * c_stride`. No other
    /// thread reads or writes the output floats of pixels `rows` meanwhile.
    pub(super) unsafe fn run_rows(
        &self,
        a: *const f32,
        a_stride: usize,
        rows: core::ops::Range<usize>,
        c: *mut f32,
        c_stride: usize,
    ) {
        self.run_blocks(a, a_stride, rows, c, c_stride, 0..self.blocks);
    }

    /// `run_rows` for the output channels of column blocks `blocks` only.
    ///
    /// # Safety
    /// `run_rows`' contract, for the output floats of those blocks' channels only, and
    /// `blocks` within `0..self.blocks()`.
    pub(super) unsafe fn run_blocks(
        &self,
        a: *const f32,
        a_stride: usize,
        rows: core::ops::Range<usize>,
        c: *mut f32,
        c_stride: usize,
        blocks: core::ops::Range<usize>,
    ) {
        debug_assert!(blocks.end <= self.blocks);
        let chunk = (PANEL_BUDGET / (self.k * NR).max(1)).max(1);
        let mut b0 = blocks.start;
        while b0 < blocks.end {
            let b1 = (b0 + chunk).min(blocks.end);
            let mut p = rows.start;
            while p + MR <= rows.end {
                self.tiles::<MR>(a, a_stride, c, c_stride, p, b0..b1);
                p += MR;
            }
            match rows.end - p {
                5 => self.tiles::<5>(a, a_stride, c, c_stride, p, b0..b1),
                4 => self.tiles::<4>(a, a_stride, c, c_stride, p, b0..b1),
                3 => self.tiles::<3>(a, a_stride, c, c_stride, p, b0..b1),
                2 => self.tiles::<2>(a, a_stride, c, c_stride, p, b0..b1),
                1 => self.tiles::<1>(a, a_stride, c, c_stride, p, b0..b1),
                _ => {}
            }
            b0 = b1;
        }
    }

    /// Pixels `p..p + R` for the given column blocks.
    ///
    /// # Safety
    /// `run_rows`' contract for pixels `p..p + R`, and `blocks` within `0..self.blocks`.
    #[inline(always)]
    unsafe fn tiles<const R: usize>(
        &self,
        a: *const f32,
        a_stride: usize,
        c: *mut f32,
        c_stride: usize,
        p: usize,
        blocks: core::ops::Range<usize>,
    ) {
        let rows_in: [*const f32; R] = core::array::from_fn(|r| a.add((p + r) * a_stride));
        let rows_out: [*mut f32; R] = core::array::from_fn(|r| c.add((p + r) * c_stride));
        for b in blocks {
            let half = self.half_tail && b + 1 == self.blocks;
            match (&self.gather, half) {
                (None, false) => self.tile::<R, false>(rows_in, &[], b, rows_out),
                (Some(g), false) => self.tile::<R, true>(rows_in, g, b, rows_out),
                (None, true) => self.half_tile::<R, false>(rows_in, &[], b, rows_out),
                (Some(g), true) => self.half_tile::<R, true>(rows_in, g, b, rows_out),
            }
        }
    }

    /// The register tile: `R` pixels x `NR` channels of column block `b`, written to the
    /// pixels at `out`. Kept out of line so the K loop gets the registers to itself
    /// (inlined, the row pointers spill). It writes the tile itself: handed back, the tile
    /// went through memory (in Chrome at x1.0, frames on two threads about 5 % faster so;
    /// on one, within noise).
    ///
    /// # Safety
    /// `b < self.blocks` (the bias and panel reads then stay inside their vectors). Each row
    /// pointer is valid for reading one float at every offset the K loop reads: `0..self.k`,
    /// or with `GATHER` each entry of `gather`, which has at least `self.k` entries (all below
    /// `self.in_extent`, like `0..self.k` without a gather). `Store::write`'s for `out`.
    #[inline(never)]
    unsafe fn tile<const R: usize, const GATHER: bool>(
        &self,
        rows: [*const f32; R],
        gather: &[u32],
        b: usize,
        out: [*mut f32; R],
    ) {
        let bias = self.bias.as_ptr().add(b * NR);
        let mut acc = [[F4::load(bias), F4::load(bias.add(4))]; R];
        let panel = self.panels.as_ptr().add(b * self.k * NR);
        for kk in 0..self.k {
            let off = input_offset::<GATHER>(gather, kk);
            let w0 = F4::load(panel.add(kk * NR));
            let w1 = F4::load(panel.add(kk * NR + 4));
            for r in 0..R {
                let x = F4::load_splat(rows[r].add(off));
                acc[r][0] = acc[r][0].mul_add(x, w0);
                acc[r][1] = acc[r][1].mul_add(x, w1);
            }
        }
        write_tile(&self.stores, b, &acc, self.act, |r| out[r]);
    }

    /// `tile` for a last column block of at most 4 real columns (58 or 116 outputs at x1.0):
    /// one vector a pixel instead of two, about half the work. Its `R` accumulators alone
    /// would wait on each other (a multiply-add's latency is several of its issue slots), so
    /// even and odd K steps go to two sets, added at the end.
    ///
    /// # Safety
    /// `tile`'s.
    #[inline(never)]
    unsafe fn half_tile<const R: usize, const GATHER: bool>(
        &self,
        rows: [*const f32; R],
        gather: &[u32],
        b: usize,
        out: [*mut f32; R],
    ) {
        let mut even = [F4::load(self.bias.as_ptr().add(b * NR)); R];
        let mut odd = [F4::splat(0.0); R];
        let panel = self.panels.as_ptr().add(b * self.k * NR);
        let off = |kk: usize| input_offset::<GATHER>(gather, kk);
        let mut kk = 0;
        while kk + 1 < self.k {
            let (o0, o1) = (off(kk), off(kk + 1));
            let w0 = F4::load(panel.add(kk * NR));
            let w1 = F4::load(panel.add((kk + 1) * NR));
            for r in 0..R {
                even[r] = even[r].mul_add(F4::load_splat(rows[r].add(o0)), w0);
                odd[r] = odd[r].mul_add(F4::load_splat(rows[r].add(o1)), w1);
            }
            kk += 2;
        }
        if kk < self.k {
            let (o, w) = (off(kk), F4::load(panel.add(kk * NR)));
            for r in 0..R {
                even[r] = even[r].mul_add(F4::load_splat(rows[r].add(o)), w);
            }
        }
        let acc: [[F4; 1]; R] = core::array::from_fn(|r| [even[r].add(odd[r])]);
        write_tile(&self.stores, b, &acc, self.act, |r| out[r]);
    }
}
