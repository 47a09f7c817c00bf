//! A unit as one or two hand-overs, cut between threads one of two ways (`Cut`).
//!
//! **By rows** (one hand-over): threads take bands of output rows, and each runs its band
//! through the whole unit: the first 1x1 on the band's own input rows, then the 3x3 and the
//! last 1x1 on the rows whose 3x3 windows lie inside the band, so what a band writes to the
//! scratch maps it reads back while they are in its cache. A window that straddles two
//! bands needs the first 1x1 of both: each band counts itself done at its two boundaries,
//! and whichever of the two neighbours finishes second runs the straddling rows. Nothing is
//! computed twice and no thread waits for another: one that loses its core (a busy machine)
//! holds back its own band only. The bigger bands are handed out first.
//!
//! **By channels** (two hand-overs), for maps too short to cut into enough bands (14 and 7
//! rows at 224: 7 bands of 2 rows or 3 bands share badly between 2 threads, and the
//! straddling rows run after the bands). The first hand-over runs branch 2's first 1x1 and
//! its depthwise 3x3 by runs of output channels (each channel of a depthwise conv needs only
//! its own), beside a stride-2 unit's branch 1 in bands of rows; the second runs the last
//! 1x1 by pixels. Both share evenly, and such maps stay in cache whole.
//!
//! A stride-1 unit writes the other activation buffer, not its input: a band's 3x3 reads
//! its neighbours' rows, which an in-place write would change under it. The half that
//! passes through moves with its pixel (one copy of the band's rows).
//!
//! Every output element is computed by the same arithmetic whatever the cut, so results
//! do not depend on the thread count.

use super::plan::{stride, UnitOps, UnitPlan};
use super::pointwise::{MR, NR};
use super::pool::{Pool, Shared};
use crate::model::{out_size, Dims};
use core::ops::Range;
use core::sync::atomic::{AtomicU8, Ordering::AcqRel};

/// Bands a unit is cut into, at most: their boundary counters live on the stack.
const MAX_BANDS: usize = 64;

/// How a unit's work is cut between threads (see the module's comment).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cut {
    Rows,
    Channels,
}

impl UnitPlan {
    /// Runs the unit on `x` (`h x w` pixels of `stride(in_ch)` floats) into `y`, with `t1`
    /// and `t2` as scratch (`scratch` floats each), cut as suits the map and the pool.
    pub fn run(
        &self,
        pool: &Pool,
        x: &[f32],
        (h, w): (usize, usize),
        y: &mut [f32],
        t1: &mut [f32],
        t2: &mut [f32],
    ) {
        let s = self.stride();
        let (oh, ow) = (out_size(h, s), out_size(w, s));
        // Fewer bands than two a thread: faster by channels (measured: 7 rows at 224 on two
        // threads; 14 rows in 7 bands were not).
        let by_channels = self.branch2_depthwise()
            && 2 * self.bands(pool, oh, ow) < pool.most_parts()
            && oh * ow > 0;
        let cut = if by_channels {
            Cut::Channels
        } else {
            Cut::Rows
        };
        self.run_cut(pool, cut, x, (h, w), y, t1, t2);
    }

    /// `run`, cut as told.
    #[allow(clippy::too_many_arguments)]
    pub fn run_cut(
        &self,
        pool: &Pool,
        cut: Cut,
        x: &[f32],
        (h, w): (usize, usize),
        y: &mut [f32],
        t1: &mut [f32],
        t2: &mut [f32],
    ) {
        let s = self.stride();
        let (oh, ow) = (out_size(h, s), out_size(w, s));
        let (xs, ys) = (stride(self.in_ch), stride(self.out_ch));
        let (n1, n2) = self.scratch(Dims {
            c: self.in_ch,
            h,
            w,
        });
        assert!(
            x.len() >= h * w * xs && y.len() >= oh * ow * ys,
            "unit activation buffers"
        );
        assert!(t1.len() >= n1 && t2.len() >= n2, "unit scratch buffers");
        assert!(
            cut == Cut::Rows || self.branch2_depthwise(),
            "only a depthwise 3x3 is cut by channels"
        );
        if oh * ow == 0 {
            return;
        }
        let bands = Bands {
            unit: self,
            x: Shared(x.as_ptr() as *mut f32),
            y: Shared(y.as_mut_ptr()),
            t1: Shared(t1.as_mut_ptr()),
            t2: Shared(t2.as_mut_ptr()),
            shape: (h, w, oh, ow),
            count: self.bands(pool, oh, ow),
        };
        match cut {
            Cut::Rows => {
                let boundaries: [AtomicU8; MAX_BANDS] = core::array::from_fn(|_| AtomicU8::new(0));
                // SAFETY: `Bands::run`'s contract: the asserts above size the buffers for this
                // shape, `each` runs every band once (`biggest_first` is a permutation), and
                // `boundaries` is fresh for this run; the buffers stay borrowed until `each`
                // returns.
                pool.each(bands.count, |i| unsafe {
                    bands.run(bands.biggest_first(i), &boundaries)
                });
            }
            // SAFETY: `by_channels`' contract: the asserts above size the buffers for this
            // shape and branch 2's 3x3 is depthwise; the buffers stay borrowed meanwhile.
            Cut::Channels => unsafe { bands.by_channels(pool) },
        }
    }

    /// Bands of output rows the unit is cut into by rows.
    fn bands(&self, pool: &Pool, oh: usize, ow: usize) -> usize {
        // A stride-1 band has two rows at least, so that the rows straddling its two
        // boundaries are distinct.
        let min_rows = pool.min_items(self.macs() * ow).max(3 - self.stride());
        pool.parts(oh, min_rows).min(MAX_BANDS)
    }

    /// Whether branch 2's 3x3 is depthwise, so that it can be cut by channels.
    fn branch2_depthwise(&self) -> bool {
        let (UnitOps::Split { conv, .. } | UnitOps::Down { conv, .. }) = &self.ops;
        conv.depthwise().is_some()
    }

    /// Multiply-adds per output pixel.
    fn macs(&self) -> usize {
        match &self.ops {
            UnitOps::Split { pw1, conv, pw2 } => pw1.macs() + conv.macs() + pw2.macs(),
            UnitOps::Down {
                b1_conv,
                b1_pw,
                pw1,
                conv,
                pw2,
            } => b1_conv.macs() + b1_pw.macs() + 4 * pw1.macs() + conv.macs() + pw2.macs(),
        }
    }
}

/// One run of a unit cut into `count` bands of output rows.
struct Bands<'a> {
    unit: &'a UnitPlan,
    x: Shared<f32>,
    y: Shared<f32>,
    t1: Shared<f32>,
    t2: Shared<f32>,
    /// Input height and width, output height and width.
    shape: (usize, usize, usize, usize),
    count: usize,
}

impl Bands<'_> {
    /// The first output row of band `j`.
    fn start(&self, j: usize) -> usize {
        self.shape.2 * j / self.count
    }

    /// The band handed out `i`-th: the bigger bands first (bands differ by a row at most), so
    /// that two threads do not take the smaller and the bigger of each pair in turn.
    fn biggest_first(&self, i: usize) -> usize {
        let big = self.shape.2.div_ceil(self.count);
        let is_big = |j: &usize| self.start(j + 1) - self.start(*j) == big;
        let bigs = (0..self.count).filter(is_big).count();
        if i < bigs {
            (0..self.count).filter(is_big).nth(i)
        } else {
            (0..self.count).filter(|j| !is_big(j)).nth(i - bigs)
        }
        .expect("a band for every part")
    }

    /// Output rows whose 3x3 windows straddle the boundary band `j` starts at: the rows on
    /// both sides at stride 1, the band's first row at stride 2 (it reads the row above).
    fn straddling(&self, j: usize) -> Range<usize> {
        let a = self.start(j);
        a + self.unit.stride() - 2..a + 1
    }

    /// Band `j`.
    ///
    /// # Safety
    /// The buffers are those `UnitPlan::run` checked, each band runs once, and `boundaries`
    /// starts at zero for this run.
    unsafe fn run(&self, j: usize, boundaries: &[AtomicU8]) {
        let u = self.unit;
        let (h, w, _, ow) = self.shape;
        let (xs, ys, s1, s2) = (stride(u.in_ch), stride(u.out_ch), u.t1_stride, u.t2_stride);
        let (a, b) = (self.start(j), self.start(j + 1));
        let (first, last) = (j == 0, j + 1 == self.count);
        let s = u.stride();
        // The input rows this band's first 1x1 covers: those its windows are centred on.
        let inputs = match s {
            1 => a..b,
            _ => 2 * a..if last { h } else { 2 * b },
        };
        let (x, y, t1, t2) = (self.x.ptr(), self.y.ptr(), self.t1.ptr(), self.t2.ptr());
        let pw1 = match &u.ops {
            UnitOps::Split { pw1, .. } => {
                // The half that passes through moves with its pixel; branch 2 then
                // overwrites its own slots.
                core::ptr::copy_nonoverlapping(
                    x.add(a * w * xs),
                    y.add(a * w * ys),
                    (b - a) * w * xs,
                );
                pw1
            }
            UnitOps::Down {
                b1_conv,
                b1_pw,
                pw1,
                ..
            } => {
                let b1 = t2.add(u.t2_branch1);
                b1_conv.rows(x, (h, w, xs), a..b, b1, s2);
                b1_pw.run_rows(b1, s2, a * ow..b * ow, y, ys);
                pw1
            }
        };
        pw1.run_rows(x, xs, inputs.start * w..inputs.end * w, t1, s1);
        self.branch2(a + usize::from(!first)..b - usize::from(s == 1 && !last));
        // The second band done at a boundary runs the rows straddling it. AcqRel: it sees
        // the other band's writes, and the other sees ours.
        if !first && boundaries[j].fetch_add(1, AcqRel) == 1 {
            self.branch2(self.straddling(j));
        }
        if !last && boundaries[j + 1].fetch_add(1, AcqRel) == 1 {
            self.branch2(self.straddling(j + 1));
        }
    }

    /// The unit cut by channels: branch 2's first 1x1 and depthwise 3x3 by runs of column
    /// blocks, beside a stride-2 unit's branch 1 in bands of rows (the biggest parts first);
    /// then branch 2's last 1x1, and the half that passes through, by pixels.
    ///
    /// # Safety
    /// The buffers are those `UnitPlan::run_cut` checked, and branch 2's 3x3 is depthwise.
    unsafe fn by_channels(&self, pool: &Pool) {
        let u = self.unit;
        let (h, w, oh, ow) = self.shape;
        let (xs, ys, s1, s2) = (stride(u.in_ch), stride(u.out_ch), u.t1_stride, u.t2_stride);
        let (x, y, t1, t2) = (self.x, self.y, self.t1, self.t2);
        let (UnitOps::Split { pw1, conv, pw2 } | UnitOps::Down { pw1, conv, pw2, .. }) = &u.ops;
        let dw = conv.depthwise().expect("cut by channels: a depthwise 3x3");
        let blocks = pw1.blocks();
        let block_macs = (h * w * pw1.macs()).div_ceil(blocks) + oh * ow * 9 * NR;
        let b2_parts = pool.parts(blocks, pool.min_items(block_macs));
        let b1_parts = match &u.ops {
            UnitOps::Split { .. } => 0,
            UnitOps::Down { b1_conv, b1_pw, .. } => {
                let row_macs = ow * (b1_conv.macs() + b1_pw.macs());
                pool.parts(oh, pool.min_items(row_macs))
            }
        };
        pool.each(b2_parts + b1_parts, |i| match (i < b2_parts, &u.ops) {
            (true, _) => {
                let run = blocks * i / b2_parts..blocks * (i + 1) / b2_parts;
                let slots = run.start * NR..(run.end * NR).min(dw.width());
                // SAFETY: `run_cut` sized `x` and `t1` for every pixel and `t2` for every
                // output pixel; this part alone writes these blocks' channels of `t1` and
                // then reads them back (with its own 3x3 windows) into the same channels of
                // `t2`; branch 1's parts write `t2` only past `t2_branch1`.
                unsafe {
                    pw1.run_blocks(x.ptr(), xs, 0..h * w, t1.ptr(), s1, run);
                    dw.slots(t1.ptr(), (h, w, s1), 0..oh, slots, t2.ptr(), s2);
                }
            }
            (false, UnitOps::Down { b1_conv, b1_pw, .. }) => {
                let j = i - b2_parts;
                let rows = oh * j / b1_parts..oh * (j + 1) / b1_parts;
                // SAFETY: as above; this part alone writes these rows of branch 1's share of
                // `t2` and its slots of these rows of `y`.
                unsafe {
                    let b1 = t2.ptr().add(u.t2_branch1);
                    b1_conv.rows(x.ptr(), (h, w, xs), rows.clone(), b1, s2);
                    b1_pw.run_rows(b1, s2, rows.start * ow..rows.end * ow, y.ptr(), ys);
                }
            }
            (false, UnitOps::Split { .. }) => unreachable!("a stride-1 unit has no branch 1"),
        });
        pool.split(oh * ow, MR, pool.min_items(pw2.macs()), |pixels| {
            // SAFETY: `t2` holds branch 2's whole 3x3 output (the hand-over above); each
            // part writes only its own pixels of `y`, whose input pixels (stride 1) nothing
            // writes.
            unsafe {
                if let UnitOps::Split { .. } = &u.ops {
                    core::ptr::copy_nonoverlapping(
                        x.ptr().add(pixels.start * xs),
                        y.ptr().add(pixels.start * ys),
                        pixels.len() * xs,
                    );
                }
                pw2.run_rows(t2.ptr(), s2, pixels, y.ptr(), ys);
            }
        });
    }

    /// Branch 2's 3x3 and last 1x1 on output rows `rows`.
    ///
    /// # Safety
    /// `run`'s, and the first 1x1 is done on every input row the rows' windows touch.
    unsafe fn branch2(&self, rows: Range<usize>) {
        let u = self.unit;
        let (h, w, _, ow) = self.shape;
        let (ys, s1, s2) = (stride(u.out_ch), u.t1_stride, u.t2_stride);
        let (UnitOps::Split { conv, pw2, .. } | UnitOps::Down { conv, pw2, .. }) = &u.ops;
        let pixels = rows.start * ow..rows.end * ow;
        conv.rows(self.t1.ptr(), (h, w, s1), rows, self.t2.ptr(), s2);
        pw2.run_rows(self.t2.ptr(), s2, pixels, self.y.ptr(), ys);
    }
}
