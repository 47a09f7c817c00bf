//! Depthwise 3x3 convolution (padding 1, stride 1 or 2) on NHWC: one vector holds the same
//! tap of four neighbouring channels, so a pixel is nine vector multiply-adds per 4 channels.
//! Interior pixels run without bounds checks; only the one-pixel border pays for them.

use super::pool::{Pool, Shared, MIN_PART_MACS};
use super::simd::{round_up, F4, LANES};
use crate::model::{out_size, Activation, Conv};

#[derive(Clone, Debug)]
pub struct Depthwise {
    /// Channel slots computed: a multiple of 4.
    width: usize,
    stride: usize,
    act: Activation,
    /// `[tap][slot]`, zero on slots no channel lives in.
    weights: Vec<f32>,
    /// `[slot]`.
    bias: Vec<f32>,
}

impl Depthwise {
    /// `slot[c]` is the NHWC slot of channel `c`, both in the input and the output.
    pub fn new(conv: &Conv, slot: &[usize]) -> Depthwise {
        assert_eq!(slot.len(), conv.out_ch, "depthwise channel count");
        let width = round_up(slot.iter().max().map_or(0, |m| m + 1), LANES);
        let mut weights = vec![0.0; 9 * width];
        let mut bias = vec![0.0; width];
        for (c, &s) in slot.iter().enumerate() {
            for t in 0..9 {
                weights[t * width + s] = conv.weight[c * 9 + t];
            }
            bias[s] = conv.bias[c];
        }
        Depthwise {
            width,
            stride: conv.stride,
            act: conv.act,
            weights,
            bias,
        }
    }

    #[cfg(feature = "testing")]
    pub fn dense(conv: &Conv) -> Depthwise {
        Depthwise::new(conv, &(0..conv.out_ch).collect::<Vec<_>>())
    }

    #[cfg(feature = "testing")]
    pub fn stride(&self) -> usize {
        self.stride
    }

    /// `x` is `h x w` pixels of `xs` floats, `y` gets `out_size(h) x out_size(w)` pixels of
    /// `ys`. Output rows are split between the pool's threads.
    pub fn run(
        &self,
        pool: &Pool,
        x: &[f32],
        (h, w, xs): (usize, usize, usize),
        y: &mut [f32],
        ys: usize,
    ) {
        let s = self.stride;
        let (oh, ow) = (out_size(h, s), out_size(w, s));
        assert!(
            xs >= self.width && ys >= self.width,
            "depthwise pixel stride"
        );
        assert!(
            x.len() >= h * w * xs && y.len() >= oh * ow * ys,
            "depthwise buffers"
        );
        let y = Shared(y.as_mut_ptr());
        let min_rows = MIN_PART_MACS.div_ceil(9 * self.width * ow.max(1));
        pool.split(oh, 1, min_rows, |rows| {
            for oy in rows {
                // SAFETY: `oy < oh`, so row `oy` (`ow * ys` floats from `oy * ow * ys`) lies in
                // `y`, asserted to hold `oh * ow * ys`. The split gives each row to one part, so
                // this is the only reference to it, and `y`'s borrow outlives the split.
                let row =
                    unsafe { core::slice::from_raw_parts_mut(y.ptr().add(oy * ow * ys), ow * ys) };
                self.row(x, (h, w, xs), row, ys, oy, ow);
            }
        });
    }

    /// Output row `oy` (`ow` pixels of `ys` floats in `row`).
    fn row(
        &self,
        x: &[f32],
        (h, w, xs): (usize, usize, usize),
        row: &mut [f32],
        ys: usize,
        oy: usize,
        ow: usize,
    ) {
        let s = self.stride;
        debug_assert!(xs >= self.width && ys >= self.width);
        debug_assert!(x.len() >= h * w * xs && row.len() >= ow * ys);
        let (inner_y, inner_x) = (interior(h, out_size(h, s), s), interior(w, ow, s));
        let mut ox = 0;
        while ox < ow {
            if inner_y.contains(&oy) && ox == inner_x.start && !inner_x.is_empty() {
                // SAFETY: `oy` and `inner_x` are interior rows and columns of this `h x w`
                // input; `run`, our only caller, asserted that `x` holds its `h x w` pixels
                // and that `xs` and `ys` are at least `self.width`, and `row` is its output
                // row of `ow >= inner_x.end` pixels of `ys` floats.
                unsafe { self.interior_run(x, w, xs, row, ys, oy, inner_x.clone()) };
                ox = inner_x.end;
            } else {
                self.border_pixel(x, (h, w, xs), &mut row[ox * ys..], oy, ox);
                ox += 1;
            }
        }
    }

    /// Output pixels `cols` of row `oy`, whose 3x3 windows lie inside the input: no padding,
    /// no bounds checks.
    ///
    /// # Safety
    /// For an input of `h` rows: `x` holds at least `h x w` pixels of `xs` floats, `oy` is in
    /// `interior(h, _, s)` and `cols` in `interior(w, _, s)` (so every window row and column
    /// read is inside the input); `row` holds at least `cols.end` pixels of `ys` floats; `xs`
    /// and `ys` are at least `self.width`, the floats read and written per pixel.
    #[allow(clippy::too_many_arguments)]
    unsafe fn interior_run(
        &self,
        x: &[f32],
        w: usize,
        xs: usize,
        row: &mut [f32],
        ys: usize,
        oy: usize,
        cols: core::ops::Range<usize>,
    ) {
        let s = self.stride;
        let taps: [usize; 9] = core::array::from_fn(|t| ((t / 3) * w + t % 3) * xs);
        let (wp, bp) = (self.weights.as_ptr(), self.bias.as_ptr());
        for ox in cols {
            let src = x.as_ptr().add(((oy * s - 1) * w + ox * s - 1) * xs);
            let dst = row.as_mut_ptr().add(ox * ys);
            for c in (0..self.width).step_by(LANES) {
                let mut acc = F4::load(bp.add(c));
                for (t, &off) in taps.iter().enumerate() {
                    acc = acc.mul_add(
                        F4::load(wp.add(t * self.width + c)),
                        F4::load(src.add(off + c)),
                    );
                }
                acc.activate(self.act).store(dst.add(c));
            }
        }
    }

    /// One output pixel with zero padding, checked.
    fn border_pixel(
        &self,
        x: &[f32],
        (h, w, xs): (usize, usize, usize),
        out: &mut [f32],
        oy: usize,
        ox: usize,
    ) {
        let s = self.stride;
        let out = &mut out[..self.width];
        out.copy_from_slice(&self.bias);
        for ky in 0..3 {
            for kx in 0..3 {
                let (iy, ix) = ((oy * s + ky).wrapping_sub(1), (ox * s + kx).wrapping_sub(1));
                if iy >= h || ix >= w {
                    continue;
                }
                let src = &x[(iy * w + ix) * xs..][..self.width];
                let wt = &self.weights[(ky * 3 + kx) * self.width..][..self.width];
                for ((o, a), b) in out.iter_mut().zip(src).zip(wt) {
                    *o += a * b;
                }
            }
        }
        out.iter_mut().for_each(|v| *v = self.act.apply(*v));
    }
}

/// Output positions whose 3x3 window (padding 1) lies inside an input side of `size`.
pub fn interior(size: usize, out: usize, stride: usize) -> core::ops::Range<usize> {
    // Need o*s >= 1 and o*s + 1 <= size - 1.
    let end = if size >= 2 {
        ((size - 2) / stride + 1).min(out)
    } else {
        0
    };
    1..end.max(1)
}
