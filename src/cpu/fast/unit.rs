//! A unit as one or two hand-overs, cut between threads one of two ways (`Cut`).
//!
//! **By rows** (one hand-over): threads take bands of output rows, and each runs its band
//! through the whole unit: the first 1x1 on the band's own input rows, then the 3x3 and the
//! last 1x1 on the rows whose 3x3 windows lie inside the band, so what a band writes to the
//! scratch maps it reads back while they are in its cache. A window that straddles two
//! bands needs the first 1x1 of both: each band counts itself done at its two boundaries,
//! and whichever of the two neighbours finishes second runs the straddling rows. Nothing is
//! computed twice and no thread waits for another: one that loses its core (a busy machine)
//! holds back its own band only. Bands go out in order from both ends (the pool's caller
//! takes the top ones, its workers the bottom ones), so a thread's band in one unit covers
//! mostly the rows its band in the unit before wrote, still in its cache.
//!
//! **By pixels** (two hand-overs), for units whose 3x3s are depthwise, on maps too short to
//! cut into as many bands as the pool has parts (at 224 on two threads, 28, 14 and 7 rows:
//! bands of 2 rows, or 3 bands, share badly between 2 threads, and the straddling rows run
//! after the bands; a stride-2 unit's 7 output rows share 4 to 3). The first hand-over runs
//! the first 1x1 on runs of input pixels, the second the rest of the unit on runs of output
//! pixels (rows cut anywhere): branch 1's 3x3 and 1x1 (stride 2) or the copy of the half
//! that passes through (stride 1), then branch 2's 3x3 and last 1x1. Both share evenly in
//! whole register tiles; such maps stay in cache whole.
//!
//! A stride-1 unit writes the other activation buffer, not its input: a band's 3x3 reads
//! its neighbours' rows, which an in-place write would change under it. The half that
//! passes through moves with its pixel (one copy of the band's rows).
//!
//! Every output element is computed by the same arithmetic whatever the cut, so results
//! do not depend on the thread count.

use super::conv3x3::Spatial;
use super::depthwise::Depthwise;
use super::plan::{stride, UnitOps, UnitPlan};
use super::pointwise::MR;
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
    Pixels,
}

impl UnitPlan {
    /// Runs the unit on `x` (`h x w` pixels of `stride(in_ch)` floats) into `y`, with `t1`
    /// and `t2` as scratch (`scratch` floats each), cut as suits the map and the pool.
    pub fn run(
        &self,
        pool: &Pool,
        x: &[f32],
        hw: (usize, usize),
        y: &mut [f32],
        t1: &mut [f32],
        t2: &mut [f32],
    ) {
        self.run_cut(pool, None, x, hw, y, t1, t2);
    }

    /// `run`, cut as told (`None`: as `run` chooses).
    #[allow(clippy::too_many_arguments)]
    pub fn run_cut(
        &self,
        pool: &Pool,
        cut: Option<Cut>,
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
        let bands = self.bands(pool, oh, ow);
        // Fewer bands than the pool's parts: faster by pixels (measured on two threads: 14
        // rows in 7 bands and 7 rows in 3; 28 rows in 14 bands the same either way; stage
        // 4's stride-2 unit, 7 rows in 7 bands, 0.03 to 0.06 ms faster by pixels).
        let cut = cut.unwrap_or(if self.pixels_cut_fits() && bands < pool.most_parts() {
            Cut::Pixels
        } else {
            Cut::Rows
        });
        assert!(
            cut == Cut::Rows || self.pixels_cut_fits(),
            "only a unit whose 3x3s are depthwise is cut by pixels"
        );
        if oh * ow == 0 {
            return;
        }
        let run = UnitRun {
            unit: self,
            x: Shared(x.as_ptr() as *mut f32),
            y: Shared(y.as_mut_ptr()),
            t1: Shared(t1.as_mut_ptr()),
            t2: Shared(t2.as_mut_ptr()),
            shape: (h, w, oh, ow),
            bands,
        };
        match cut {
            Cut::Rows => {
                let boundaries: [AtomicU8; MAX_BANDS] = core::array::from_fn(|_| AtomicU8::new(0));
                // SAFETY: `UnitRun::band`'s contract: the asserts above size the buffers for
                // this shape, `each` runs every band once, and `boundaries` is fresh for this
                // run; the buffers stay borrowed until `each` returns.
                pool.each(bands, |j| unsafe { run.band(j, &boundaries) });
            }
            // SAFETY: `by_pixels`' contract: the asserts above size the buffers for this
            // shape, and the unit is one `pixels_cut_fits`; the buffers stay borrowed meanwhile.
            Cut::Pixels => unsafe { run.by_pixels(pool) },
        }
    }

    /// Bands of output rows the unit is cut into by rows.
    fn bands(&self, pool: &Pool, oh: usize, ow: usize) -> usize {
        // A stride-1 band has two rows at least, so that the rows straddling its two
        // boundaries are distinct.
        let min_rows = pool.min_items(self.macs() * ow).max(3 - self.stride());
        pool.parts(oh, min_rows).min(MAX_BANDS)
    }

    /// Whether the unit can be cut by pixels: its 3x3s depthwise.
    pub fn pixels_cut_fits(&self) -> bool {
        match &self.ops {
            UnitOps::Split { conv, .. } => conv.depthwise().is_some(),
            UnitOps::Down { b1_conv, conv, .. } => {
                b1_conv.depthwise().is_some() && conv.depthwise().is_some()
            }
        }
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

/// One run of a unit on buffers `run_cut` checked: cut into `bands` bands of output rows
/// (`band`), or by pixels (`by_pixels`).
struct UnitRun<'a> {
    unit: &'a UnitPlan,
    x: Shared<f32>,
    y: Shared<f32>,
    t1: Shared<f32>,
    t2: Shared<f32>,
    /// Input height and width, output height and width.
    shape: (usize, usize, usize, usize),
    bands: usize,
}

impl UnitRun<'_> {
    /// The first output row of band `j`.
    fn start(&self, j: usize) -> usize {
        self.shape.2 * j / self.bands
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
    /// The buffers are those `UnitPlan::run_cut` checked, each band runs once, and
    /// `boundaries` starts at zero for this run.
    unsafe fn band(&self, j: usize, boundaries: &[AtomicU8]) {
        let u = self.unit;
        let (h, w, _, ow) = self.shape;
        let (xs, ys, s1, s2) = (stride(u.in_ch), stride(u.out_ch), u.t1_stride, u.t2_stride);
        let (a, b) = (self.start(j), self.start(j + 1));
        let (first, last) = (j == 0, j + 1 == self.bands);
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
                b1_conv.rows(x, (h, w, xs), a..b, t2, s2);
                b1_pw.run_rows(t2, s2, a * ow..b * ow, y, ys);
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

    /// The unit cut by pixels: the first 1x1 on runs of input pixels; then branch 1 (or
    /// the half that passes through), the depthwise 3x3 and the last 1x1 on runs of output
    /// pixels.
    ///
    /// # Safety
    /// The buffers are those `UnitPlan::run_cut` checked, and the unit is one
    /// `pixels_cut_fits`.
    unsafe fn by_pixels(&self, pool: &Pool) {
        let u = self.unit;
        let (h, w, oh, ow) = self.shape;
        let (xs, ys, s1, s2) = (stride(u.in_ch), stride(u.out_ch), u.t1_stride, u.t2_stride);
        let (x, y, t1, t2) = (self.x, self.y, self.t1, self.t2);
        fn depthwise(c: &Spatial) -> &Depthwise {
            c.depthwise().expect("cut by pixels: depthwise 3x3s")
        }
        let (UnitOps::Split { pw1, conv, pw2 } | UnitOps::Down { pw1, conv, pw2, .. }) = &u.ops;
        let dw = depthwise(conv);
        let branch1 = match &u.ops {
            UnitOps::Down { b1_conv, b1_pw, .. } => Some((depthwise(b1_conv), b1_pw)),
            UnitOps::Split { .. } => None,
        };
        pool.split(h * w, MR, pool.min_items(pw1.macs()), |pixels| {
            // SAFETY: `run_cut` sized `x` and `t1` for every pixel; each part writes only its
            // own pixels of `t1`.
            unsafe { pw1.run_rows(x.ptr(), xs, pixels, t1.ptr(), s1) }
        });
        let b1_macs = branch1.map_or(0, |(c, p)| c.macs() + p.macs());
        let macs = b1_macs + dw.macs() + pw2.macs();
        pool.split(oh * ow, MR, pool.min_items(macs), |pixels| {
            // SAFETY: `t1` is whole (the hand-over above); each part writes only its own
            // output pixels of `t2` and `y`, and nothing writes `x`. Branch 1 is done with
            // the part's pixels of `t2` before the 3x3 overwrites them.
            unsafe {
                match branch1 {
                    Some((b1_conv, b1_pw)) => {
                        b1_conv.pixels(x.ptr(), (h, w, xs), pixels.clone(), t2.ptr(), s2);
                        b1_pw.run_rows(t2.ptr(), s2, pixels.clone(), y.ptr(), ys);
                    }
                    None => core::ptr::copy_nonoverlapping(
                        x.ptr().add(pixels.start * xs),
                        y.ptr().add(pixels.start * ys),
                        pixels.len() * xs,
                    ),
                }
                dw.pixels(t1.ptr(), (h, w, s1), pixels.clone(), t2.ptr(), s2);
                pw2.run_rows(t2.ptr(), s2, pixels, y.ptr(), ys);
            }
        });
    }

    /// Branch 2's 3x3 and last 1x1 on output rows `rows`.
    ///
    /// # Safety
    /// `band`'s, and the first 1x1 is done on every input row the rows' windows touch.
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
