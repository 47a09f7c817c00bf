//! The stem: conv 3x3/2 on the 3 input channels (+ its activation), then max pool 3x3/2.
//!
//! The conv is im2col'd one output row at a time (27 values per pixel, a small buffer that
//! stays in cache) and run through the packed 1x1 kernel, so it shares the register tiling.
//! On several threads each takes a band of output rows with its own im2col row: one
//! hand-over for the whole conv instead of one per row (112 at 224 x 224).

use super::pointwise::Pointwise;
use super::pool::{Pool, Shared};
use super::simd::{F4, LANES};
use crate::model::{out_size, Conv};

/// Values per im2col row: 3 channels x 3 x 3 taps, in torch's `[in][ky][kx]` order.
pub const PATCH: usize = 27;

#[derive(Clone, Debug)]
pub struct Stem {
    conv: Pointwise,
    out_ch: usize,
}

impl Stem {
    pub fn new(conv: &Conv) -> Stem {
        assert_eq!(conv.in_ch * 9, PATCH, "the stem takes 3 channels");
        Stem {
            conv: Pointwise::dense(&conv.weight, &conv.bias, conv.act, PATCH, conv.out_ch),
            out_ch: conv.out_ch,
        }
    }

    /// `image` is one NCHW `3 x h x w` image; writes `out_size(h) x out_size(w)` pixels of
    /// `ys` floats to `y`. `patches` holds at least one output row of im2col values (the
    /// caller's; other threads allocate their own).
    pub fn run(
        &self,
        pool: &Pool,
        image: &[f32],
        (h, w): (usize, usize),
        patches: &mut [f32],
        y: &mut [f32],
        ys: usize,
    ) {
        let (oh, ow) = (out_size(h, 2), out_size(w, 2));
        let one = Pool::new(1);
        // Output row `oy`: im2col into `patches`, then the 1x1 kernel on this thread.
        let row = |oy: usize, patches: &mut [f32], y: &mut [f32]| {
            im2col(image, (h, w), oy, patches);
            self.conv.run(&one, patches, PATCH, ow, y, ys);
        };
        let patches = &mut patches[..ow * PATCH];
        // Not cut in parts (one thread): one im2col row for the whole conv.
        if pool.parts(oh, 1) == 1 {
            for oy in 0..oh {
                row(oy, patches, &mut y[oy * ow * ys..]);
            }
            return;
        }
        let row_len = ow * ys;
        assert!(y.len() >= oh * row_len, "stem output too short");
        let out = Shared(y.as_mut_ptr());
        let min_rows = pool.min_items(ow * PATCH * self.out_ch);
        pool.split(oh, 1, min_rows, |rows| {
            let mut patches = vec![0.0; ow * PATCH];
            for oy in rows {
                // SAFETY: `y` holds `oh` rows of `row_len` floats (checked above), and each
                // part writes only its own rows.
                let y =
                    unsafe { std::slice::from_raw_parts_mut(out.ptr().add(oy * row_len), row_len) };
                row(oy, &mut patches, y);
            }
        });
    }
}

/// The 27 input values of each pixel of output row `oy` (zero outside the image). One input
/// row at a time, so the row is sliced once and interior pixels copy their three taps
/// without a bounds test each.
fn im2col(image: &[f32], (h, w): (usize, usize), oy: usize, patches: &mut [f32]) {
    let plane = h * w;
    for t in 0..9 {
        let (c, iy, col) = (t / 3, (oy * 2 + t % 3).wrapping_sub(1), t * 3);
        let pixels = patches
            .chunks_exact_mut(PATCH)
            .map(|p| &mut p[col..col + 3]);
        if iy >= h {
            pixels.for_each(|taps| taps.fill(0.0));
            continue;
        }
        let row = &image[c * plane + iy * w..][..w];
        for (ox, taps) in pixels.enumerate() {
            let x0 = (ox * 2).wrapping_sub(1);
            match row.get(x0..x0.wrapping_add(3)) {
                Some(inside) => taps.copy_from_slice(inside),
                // The left column and a right edge that overhangs: padding.
                None => {
                    for (kx, v) in taps.iter_mut().enumerate() {
                        *v = row.get(x0.wrapping_add(kx)).copied().unwrap_or(0.0);
                    }
                }
            }
        }
    }
}

/// Max pool 3x3/2, padding 1, over NHWC pixels of `xs` floats (a multiple of 4); bands of
/// output rows on the pool's threads (each reads the whole input, writes its own rows).
pub fn maxpool(pool: &Pool, x: &[f32], (h, w, xs): (usize, usize, usize), y: &mut [f32]) {
    let (oh, ow) = (out_size(h, 2), out_size(w, 2));
    assert!(
        xs % LANES == 0 && x.len() >= h * w * xs && y.len() >= oh * ow * xs,
        "maxpool buffers"
    );
    let out = Shared(y.as_mut_ptr());
    // Nine comparisons a value: counted as multiply-adds for the part size.
    let min_rows = pool.min_items(ow * xs * 9);
    pool.split(oh, 1, min_rows, |rows| {
        for oy in rows {
            let rows = (oy * 2).saturating_sub(1)..(oy * 2 + 2).min(h);
            for ox in 0..ow {
                let cols = (ox * 2).saturating_sub(1)..(ox * 2 + 2).min(w);
                let at_out = (oy * ow + ox) * xs;
                for c in (0..xs).step_by(LANES) {
                    let mut m = F4::splat(f32::NEG_INFINITY);
                    for iy in rows.clone() {
                        for ix in cols.clone() {
                            let at = (iy * w + ix) * xs + c;
                            // SAFETY: `at + 4 <= h * w * xs <= x.len()`, checked above.
                            m = m.max(unsafe { F4::load(x.as_ptr().add(at)) });
                        }
                    }
                    // SAFETY: `at_out + c + 4 <= oh * ow * xs <= y.len()`, and each part
                    // writes only its own rows.
                    unsafe { m.store(out.ptr().add(at_out + c)) };
                }
            }
        }
    });
}
