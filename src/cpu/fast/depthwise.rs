//! Depthwise 3x3 convolution (padding 1, stride 1 or 2) on NHWC: one vector holds the same
//! tap of four neighbouring channels, so a pixel is nine vector multiply-adds per 4 channels.
//! Interior pixels run without bounds checks; only the one-pixel border pays for them.

#[cfg(feature = "testing")]
use super::pool::{Pool, Shared};
use crate::model::{out_size, Activation, Conv};
use crate::simd::{round_up, F4, LANES};

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

    /// Multiply-adds per output pixel.
    pub fn macs(&self) -> usize {
        9 * self.width
    }

    /// The whole map at once: the kernel suite's entry (units run `rows`).
    #[cfg(feature = "testing")]
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
        let (xp, yp) = (Shared(x.as_ptr() as *mut f32), Shared(y.as_mut_ptr()));
        let min_rows = pool.min_items(9 * self.width * ow);
        // SAFETY: `rows`' contract, from the asserts above: `x` holds the whole input, `y`
        // the whole output, and the split gives each output row to one part; `x` and `y`
        // stay borrowed until the split returns.
        pool.split(oh, 1, min_rows, |rows| unsafe {
            self.rows(xp.ptr(), (h, w, xs), rows, yp.ptr(), ys)
        });
    }

    /// Output rows `rows` of the `out_size(h) x out_size(w)` output at `y`.
    ///
    /// # Safety
    /// `xs` and `ys` are at least `self.width` (the floats read and written per pixel). `x`
    /// is an `h x w` map of `xs` floats a pixel, valid for reading (and written by nobody
    /// meanwhile) at every input row the rows' 3x3 windows touch; `y` is the output map of
    /// `ys` floats a pixel, valid for writing rows `rows`, which no other thread reads or
    /// writes meanwhile.
    pub(super) unsafe fn rows(
        &self,
        x: *const f32,
        shape: (usize, usize, usize),
        rows: core::ops::Range<usize>,
        y: *mut f32,
        ys: usize,
    ) {
        let ow = out_size(shape.1, self.stride);
        self.pixels(x, shape, rows.start * ow..rows.end * ow, y, ys);
    }

    /// Output pixels `pixels` (row-major; rows may be cut anywhere) of the output at `y`.
    ///
    /// # Safety
    /// `rows`' contract, for the rows these pixels are in and only these pixels' outputs.
    pub(super) unsafe fn pixels(
        &self,
        x: *const f32,
        (h, w, xs): (usize, usize, usize),
        pixels: core::ops::Range<usize>,
        y: *mut f32,
        ys: usize,
    ) {
        let s = self.stride;
        let (oh, ow) = (out_size(h, s), out_size(w, s));
        debug_assert!(xs >= self.width && ys >= self.width && pixels.end <= oh * ow);
        let (inner_y, inner_x) = (interior(h, oh, s), interior(w, ow, s));
        let mut p = pixels.start;
        while p < pixels.end {
            let oy = p / ow;
            let row = y.add(oy * ow * ys);
            let (mut ox, end) = (p % ow, (pixels.end - oy * ow).min(ow));
            while ox < end {
                if inner_y.contains(&oy) && inner_x.contains(&ox) {
                    let run = ox..inner_x.end.min(end);
                    ox = run.end;
                    self.interior_run(x, w, xs, row, ys, oy, run);
                } else {
                    self.border_pixel(x, (h, w, xs), row.add(ox * ys), oy, ox);
                    ox += 1;
                }
            }
            p = oy * ow + end;
        }
    }

    /// Output pixels `cols` of row `oy`, whose 3x3 windows lie inside the input: no padding,
    /// no bounds checks.
    ///
    /// # Safety
    /// `rows`' contract for row `oy`, which is in `interior(h, _, s)`, and `cols` in
    /// `interior(w, _, s)` (so every window row and column read is inside the input); `row`
    /// is output row `oy`.
    #[allow(clippy::too_many_arguments)]
    unsafe fn interior_run(
        &self,
        x: *const f32,
        w: usize,
        xs: usize,
        row: *mut f32,
        ys: usize,
        oy: usize,
        cols: core::ops::Range<usize>,
    ) {
        let s = self.stride;
        let taps: [usize; 9] = core::array::from_fn(|t| ((t / 3) * w + t % 3) * xs);
        let (wp, bp) = (self.weights.as_ptr(), self.bias.as_ptr());
        let src = x.add(((oy * s - 1) * w + cols.start * s - 1) * xs);
        let dst = row.add(cols.start * ys);
        // Four channels at a time across the run: their nine taps' weights stay in registers
        // for every pixel (nine loads a pixel instead of eighteen).
        for c in (0..self.width).step_by(LANES) {
            let bias = F4::load(bp.add(c));
            let wt: [F4; 9] = core::array::from_fn(|t| F4::load(wp.add(t * self.width + c)));
            for i in 0..cols.len() {
                let src = src.add(i * s * xs + c);
                let mut acc = bias;
                for (t, &off) in taps.iter().enumerate() {
                    acc = acc.mul_add(wt[t], F4::load(src.add(off)));
                }
                acc.activate(self.act).store(dst.add(i * ys + c));
            }
        }
    }

    /// One output pixel with zero padding, checked.
    ///
    /// # Safety
    /// `rows`' contract for row `oy`; `out` is its pixel `ox`.
    unsafe fn border_pixel(
        &self,
        x: *const f32,
        (h, w, xs): (usize, usize, usize),
        out: *mut f32,
        oy: usize,
        ox: usize,
    ) {
        let s = self.stride;
        let out = core::slice::from_raw_parts_mut(out, self.width);
        out.copy_from_slice(&self.bias);
        for ky in 0..3 {
            for kx in 0..3 {
                let (iy, ix) = ((oy * s + ky).wrapping_sub(1), (ox * s + kx).wrapping_sub(1));
                if iy >= h || ix >= w {
                    continue;
                }
                let src = core::slice::from_raw_parts(x.add((iy * w + ix) * xs), self.width);
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
