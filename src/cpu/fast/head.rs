//! The head: conv5 1x1 (+ its activation, if any) through the packed kernel, global average pool, then fc as a
//! one-row matrix product against weights packed like any other 1x1 layer.

use super::pointwise::Pointwise;
use super::pool::Pool;
use crate::model::{Activation, Conv, Linear};
use crate::simd::{F4, LANES};

#[derive(Clone, Debug)]
pub struct Head {
    conv5: Pointwise,
    fc: Pointwise,
    classes: usize,
    feature_len: usize,
}

impl Head {
    /// `slots[c]` is where the last stage left logical channel `c`.
    pub fn new(conv5: &Conv, fc: &Linear, slots: &[usize]) -> Head {
        let out: Vec<usize> = (0..conv5.out_ch).collect();
        Head {
            conv5: Pointwise::new(&conv5.weight, &conv5.bias, conv5.act, slots, &out),
            fc: Pointwise::dense(&fc.weight, &fc.bias, Activation::None, fc.in_f, fc.out_f),
            classes: fc.out_f,
            feature_len: conv5.out_ch,
        }
    }

    /// Packs a new classifier; conv5 stays as it is.
    pub fn set_fc(&mut self, fc: &Linear) {
        self.fc = Pointwise::dense(&fc.weight, &fc.bias, Activation::None, fc.in_f, fc.out_f);
        self.classes = fc.out_f;
    }

    /// conv5's channels, the pooled features per image.
    pub fn feature_len(&self) -> usize {
        self.feature_len
    }

    /// Floats per pixel of the conv5 output.
    pub fn features(&self) -> usize {
        self.conv5.padded_out()
    }

    /// `x` holds `pixels` of `xs` floats. `feat` holds `pixels x features()`, `pooled` holds
    /// `features()`; the pooled features and the logits are appended to `features` and
    /// `logits`.
    #[allow(clippy::too_many_arguments)]
    pub fn run(
        &self,
        pool: &Pool,
        x: &[f32],
        (pixels, xs): (usize, usize),
        feat: &mut [f32],
        pooled: &mut [f32],
        features: &mut Vec<f32>,
        logits: &mut Vec<f32>,
    ) {
        let fs = self.features();
        // By output channels: 7 x 7 pixels share badly, and conv5's and fc's weights (2 and
        // 4 MB at x1.0) are what costs; each thread then reads its share of them.
        self.conv5.run_by_columns(pool, x, xs, pixels, feat, fs);
        average(&feat[..pixels * fs], fs, &mut pooled[..fs]);
        features.extend_from_slice(&pooled[..self.feature_len]);
        let start = logits.len();
        logits.resize(start + self.classes, 0.0);
        self.fc
            .run_by_columns(pool, pooled, fs, 1, &mut logits[start..], self.classes);
    }
}

/// Mean over pixels of `stride` floats (a multiple of 4).
fn average(x: &[f32], stride: usize, out: &mut [f32]) {
    assert!(
        stride.is_multiple_of(LANES) && out.len() >= stride,
        "average: stride {stride}, output {}",
        out.len()
    );
    let pixels = x.len() / stride;
    let scale = F4::splat(1.0 / pixels as f32);
    for c in (0..stride).step_by(LANES) {
        let mut sum = F4::splat(0.0);
        for p in 0..pixels {
            // SAFETY: `c + 4 <= stride` (`c` steps by 4 below `stride`, a multiple of 4), and
            // `p < x.len() / stride`, so `p * stride + c + 4 <= x.len()`.
            sum = sum.add(unsafe { F4::load(x.as_ptr().add(p * stride + c)) });
        }
        let mean = F4::splat(0.0).mul_add(sum, scale);
        // SAFETY: `c + 4 <= stride <= out.len()` (asserted above).
        unsafe { mean.store(out.as_mut_ptr().add(c)) };
    }
}
