//! The stem, fused: conv 3x3/2 on the 3 input channels (+ its activation), then max pool
//! 3x3/2. A band of pool rows computes its conv rows into a ring of three and pools them
//! while they are in cache: the conv's map (112 x 112 x 24 at 224, over a megabyte) is
//! never written out and read back.
//!
//! The conv reads the input through a window of three input rows, NHWC (3 floats a pixel)
//! with a zero pixel either side, so a conv pixel's 27 values sit at fixed offsets from its
//! first and consecutive conv pixels are 6 floats apart: the packed 1x1 kernel runs a conv
//! row straight from the window (the offsets are its gather list), with no im2col. The
//! window moves down two input rows per conv row: one row is kept, two are transposed in.
//!
//! Bands of pool rows go to the pool's threads, and no conv row is computed twice. The pool
//! row at a boundary reads the last conv row of the band above and the first two of the
//! band below: the band above pools its row into a boundary row, the band below pools its
//! two into the output, and whichever of the two finishes second takes their max, in the
//! order one band would take the rows (max is exact: the bits do not depend on the cut).
//! Each thread keeps its window and ring from frame to frame, and a band writes every float
//! of them it reads (the conv is padded with zero channels to a whole vector), so nothing is
//! allocated or zeroed a frame.

use super::pointwise::Pointwise;
use super::pool::{Pool, Shared};
use crate::model::{out_size, Conv};
use crate::simd::{round_up, F4, LANES};
use core::ops::Range;
use core::sync::atomic::{AtomicU8, Ordering::AcqRel};
use std::cell::RefCell;

/// Bands the stem is cut into, at most: their boundary counters live on the stack.
const MAX_BANDS: usize = 64;

thread_local! {
    /// This thread's band scratch: its window and ring (`Stem::scratch`).
    static SCRATCH: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// The stem packed for one input size (its row pitch is in the conv's offsets).
#[derive(Clone, Debug)]
pub struct Stem {
    conv: Pointwise,
    /// Input height and width.
    h: usize,
    w: usize,
    /// Floats per pixel of the conv's rows and of the output: `out_ch` rounded up to a vector.
    ys: usize,
}

impl Stem {
    pub fn new(conv: &Conv, (h, w): (usize, usize)) -> Stem {
        assert_eq!(conv.in_ch, 3, "the stem takes 3 channels");
        let pitch = window_pitch(w);
        // Torch's input `c * 9 + ky * 3 + kx` of a conv pixel, in the window.
        let in_slot: Vec<usize> = (0..27)
            .map(|i| (i / 3 % 3) * pitch + (i % 3) * 3 + i / 9)
            .collect();
        // Zero channels up to a whole vector: the padding slots are written (as zeros) like
        // the others, so the ring needs no zeroing and the pooled padding stays zero.
        let ys = round_up(conv.out_ch, LANES);
        let mut weight = conv.weight.clone();
        weight.resize(ys * 27, 0.0);
        let mut bias = conv.bias.clone();
        bias.resize(ys, 0.0);
        let out_slot: Vec<usize> = (0..ys).collect();
        let conv = Pointwise::new(&weight, &bias, conv.act, &in_slot, &out_slot);
        Stem { conv, h, w, ys }
    }

    /// Floats per output pixel.
    pub fn out_stride(&self) -> usize {
        self.ys
    }

    /// Floats of scratch a band needs: its window and its ring of conv rows.
    fn scratch(&self) -> usize {
        3 * window_pitch(self.w) + 3 * out_size(self.w, 2) * self.ys
    }

    /// `image` is one NCHW `3 x h x w` image; writes the pooled map's pixels, `out_stride()`
    /// floats each, to `y`. `spare` holds the bands' boundary rows: as many floats as `y`.
    pub fn run(&self, pool: &Pool, image: &[f32], y: &mut [f32], spare: &mut [f32]) {
        let (ch, cw) = (out_size(self.h, 2), out_size(self.w, 2));
        let (ph, pw) = (out_size(ch, 2), out_size(cw, 2));
        let row_len = pw * self.ys;
        assert!(image.len() >= 3 * self.h * self.w, "stem input too short");
        assert!(y.len() >= ph * row_len, "stem output too short");
        // Two conv rows a pool row, and the pool's nine comparisons a value.
        let min_rows = pool.min_items(2 * cw * (27 * self.ys + 9));
        let bands = pool.parts(ph, min_rows).min(MAX_BANDS);
        if bands == 1 {
            self.band(image, 0..ph, y, None);
            return;
        }
        // One boundary row a boundary: fewer than the output's rows.
        assert!(spare.len() >= (bands - 1) * row_len, "stem boundary rows");
        let (out, edges) = (Shared(y.as_mut_ptr()), Shared(spare.as_mut_ptr()));
        let boundaries: [AtomicU8; MAX_BANDS] = core::array::from_fn(|_| AtomicU8::new(0));
        let start = |j: usize| ph * j / bands;
        // The second of the two bands beside boundary `j` to count itself done there pools
        // the band above's boundary row into the output row at `j`. AcqRel: it sees the
        // other band's writes.
        let join = |j: usize| {
            if boundaries[j].fetch_add(1, AcqRel) == 1 {
                // SAFETY: both rows are in bounds (checked above), both bands are done with
                // them, and no other band touches them.
                unsafe {
                    max_into(
                        edges.ptr().add((j - 1) * row_len),
                        out.ptr().add(start(j) * row_len),
                        row_len,
                    )
                };
            }
        };
        pool.each(bands, |j| {
            let rows = start(j)..start(j + 1);
            // SAFETY: in bounds (checked above); band `j` alone writes its rows of `y` and
            // boundary row `j` until it counts itself done at its boundaries.
            let (y, edge) = unsafe {
                (
                    std::slice::from_raw_parts_mut(
                        out.ptr().add(rows.start * row_len),
                        rows.len() * row_len,
                    ),
                    (j + 1 < bands).then(|| {
                        std::slice::from_raw_parts_mut(edges.ptr().add(j * row_len), row_len)
                    }),
                )
            };
            self.band(image, rows, y, edge);
            if j > 0 {
                join(j);
            }
            if j + 1 < bands {
                join(j + 1);
            }
        });
    }

    /// Pool rows `rows` into `y`, which starts at the first, in this thread's scratch; with
    /// `edge`, the band's last conv row pooled into it for the band below (see the module's
    /// comment), and the band's first pool row from its own conv rows only unless it is the
    /// map's first.
    fn band(&self, image: &[f32], rows: Range<usize>, y: &mut [f32], edge: Option<&mut [f32]>) {
        SCRATCH.with_borrow_mut(|scratch| {
            if scratch.len() < self.scratch() {
                scratch.resize(self.scratch(), 0.0);
            }
            self.band_in(image, rows, scratch, y, edge);
        });
    }

    /// `band` in `scratch` (at least `scratch()` floats, whatever they hold).
    fn band_in(
        &self,
        image: &[f32],
        rows: Range<usize>,
        scratch: &mut [f32],
        y: &mut [f32],
        edge: Option<&mut [f32]>,
    ) {
        let (ch, cw) = (out_size(self.h, 2), out_size(self.w, 2));
        let (window, ring) = scratch.split_at_mut(3 * window_pitch(self.w));
        let conv_len = cw * self.ys;
        let row_len = out_size(cw, 2) * self.ys;
        let one = Pool::new(1);
        // The conv rows a band owns start at its first pool row's centre (the map's first
        // band: at the top row).
        let first = 2 * rows.start;
        let mut next = first;
        let mut last = first;
        for py in rows.clone() {
            last = (2 * py + 1).min(ch - 1);
            while next <= last {
                self.slide_window(image, window, next, next == first);
                let at = next % 3 * conv_len;
                self.conv
                    .run(&one, window, 6, cw, &mut ring[at..at + conv_len], self.ys);
                next += 1;
            }
            let conv_rows = (2 * py).saturating_sub(1).max(first)..last + 1;
            let out = &mut y[(py - rows.start) * row_len..][..row_len];
            maxpool_row(ring, conv_rows, (cw, self.ys), out);
        }
        if let Some(edge) = edge {
            maxpool_row(ring, last..last + 1, (cw, self.ys), edge);
        }
    }

    /// Fills the window with the input rows conv row `cy` reads: all three when `fresh`,
    /// else the two below the previous conv row's.
    fn slide_window(&self, image: &[f32], window: &mut [f32], cy: usize, fresh: bool) {
        let pitch = window_pitch(self.w);
        let keep = if fresh {
            0
        } else {
            window.copy_within(2 * pitch..3 * pitch, 0);
            1
        };
        for r in keep..3 {
            let row = &mut window[r * pitch..][..pitch];
            match (2 * cy + r).checked_sub(1).filter(|&iy| iy < self.h) {
                Some(iy) => self.transpose_row(image, iy, row),
                None => row.fill(0.0),
            }
        }
    }

    /// Input row `iy` as NHWC pixels between two zero padding pixels.
    fn transpose_row(&self, image: &[f32], iy: usize, row: &mut [f32]) {
        let (plane, w) = (self.h * self.w, self.w);
        let [r, g, b] = core::array::from_fn(|c| &image[c * plane + iy * w..][..w]);
        row[..3].fill(0.0);
        row[3 + 3 * w..].fill(0.0);
        let pixels = row[3..3 + 3 * w].chunks_exact_mut(3);
        for (((px, &r), &g), &b) in pixels.zip(r).zip(g).zip(b) {
            px.copy_from_slice(&[r, g, b]);
        }
    }
}

/// Floats per window row: a zero pixel, `w` input pixels, a zero pixel, 3 floats each.
fn window_pitch(w: usize) -> usize {
    (w + 2) * 3
}

/// One pool row (3x3/2, padding 1) over the conv rows `rows` of the ring (row `cy` at slot
/// `cy % 3`), `cw` pixels of `ys` floats each (a multiple of 4).
fn maxpool_row(ring: &[f32], rows: Range<usize>, (cw, ys): (usize, usize), out: &mut [f32]) {
    let pw = out_size(cw, 2);
    assert!(
        ys % LANES == 0 && ring.len() >= 3 * cw * ys && out.len() >= pw * ys,
        "maxpool buffers"
    );
    // The ring slots of the (one to three) rows pooled, worked out once for the whole row.
    let mut slots = [0; 3];
    let n = rows.len().min(3);
    for (slot, cy) in slots.iter_mut().zip(rows) {
        *slot = cy % 3 * cw * ys;
    }
    let slots = &slots[..n];
    for px in 0..pw {
        let cols = (px * 2).saturating_sub(1)..(px * 2 + 2).min(cw);
        for c in (0..ys).step_by(LANES) {
            let mut m = F4::splat(f32::NEG_INFINITY);
            for &slot in slots {
                for cx in cols.clone() {
                    let at = slot + cx * ys + c;
                    // SAFETY: `at + 4 <= 3 * cw * ys <= ring.len()`, checked above.
                    m = m.max(unsafe { F4::load(ring.as_ptr().add(at)) });
                }
            }
            // SAFETY: `(px * ys + c) + 4 <= pw * ys <= out.len()`, checked above.
            unsafe { m.store(out.as_mut_ptr().add(px * ys + c)) };
        }
    }
}

/// `below[i] = max(above[i], below[i])` for `len` floats (a multiple of 4), `above` first as
/// in `maxpool_row`'s order.
///
/// # Safety
/// Both are valid for `len` floats, and `below` is not otherwise borrowed.
unsafe fn max_into(above: *const f32, below: *mut f32, len: usize) {
    for i in (0..len).step_by(LANES) {
        let m = F4::load(above.add(i)).max(F4::load(below.add(i)));
        m.store(below.add(i));
    }
}
