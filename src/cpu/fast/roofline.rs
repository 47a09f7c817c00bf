//! This machine's limits as this build's kernels meet them, for a roofline: the peak rate of
//! the 1x1 kernel's register tile (simd128's multiply then add, relaxed SIMD's fused one, SSE
//! natively) and the rate one thread reads memory at. A layer kind moving `b` bytes
//! per multiply-add can reach at most min(peak, bandwidth / b) (`Network::costs`).

use super::pointwise::Pointwise;
use crate::model::Activation;
use crate::simd::F4;
use web_time::Instant;

/// The peak probe's 1x1 layer: pixels, input and output channels (in, weights and out of
/// 24, 16 and 6 KB: all in L1, with a K loop as long as stage 3's).
const PEAK_SHAPE: (usize, usize, usize) = (48, 128, 32);
/// Read by the bandwidth probe: larger than any last-level cache this runs on.
const READ_BYTES: usize = 64 << 20;

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Roofline {
    /// Peak multiply-adds per second on one thread, in billions: the 1x1 kernel's, data in L1.
    pub gmacs: f64,
    /// Memory read by one thread, GB per second.
    pub read_gbps: f64,
}

impl Roofline {
    /// Measures for about `ms` milliseconds each.
    pub fn measure(ms: f64) -> Roofline {
        Roofline {
            gmacs: peak_gmacs(ms),
            read_gbps: read_gbps(ms),
        }
    }

    /// The best rate (GMAC/s) a kernel moving `bytes_per_mac` can reach here.
    pub fn attainable(&self, bytes_per_mac: f64) -> f64 {
        self.gmacs
            .min(self.read_gbps / bytes_per_mac.max(f64::MIN_POSITIVE))
    }
}

/// The 1x1 kernel itself on data that stays in L1: the rate its register tile reaches when
/// memory never waits, a sharper ceiling for these kernels than the vector unit's (a
/// synthetic chain of multiply-adds measured less than the kernels reach in V8, which
/// spills its accumulators).
fn peak_gmacs(ms: f64) -> f64 {
    let (px, k, n) = PEAK_SHAPE;
    let weights: Vec<f32> = (0..k * n).map(|i| (i % 7) as f32 * 0.01).collect();
    let layer = Pointwise::dense(&weights, &vec![0.0; n], Activation::None, k, n);
    let input = vec![0.5f32; px * k];
    let mut output = vec![0.0f32; px * n];
    let (start, mut calls) = (Instant::now(), 0u64);
    while start.elapsed().as_secs_f64() * 1e3 < ms {
        for _ in 0..64 {
            // SAFETY: `px` pixels of `k` floats in and `n` out: the layer reads `k` inputs and
            // writes `n` outputs per pixel, and nothing else touches the buffers.
            unsafe { layer.run_rows(input.as_ptr(), k, 0..px, output.as_mut_ptr(), n) };
        }
        calls += 64;
    }
    std::hint::black_box(&output);
    (calls * (px * k * n) as u64) as f64 / start.elapsed().as_secs_f64() / 1e9
}

fn read_gbps(ms: f64) -> f64 {
    let data = vec![1.0f32; READ_BYTES / 4];
    let (start, mut bytes) = (Instant::now(), 0u64);
    let mut sum = [F4::splat(0.0); 4];
    while start.elapsed().as_secs_f64() * 1e3 < ms {
        for block in data.chunks_exact(16) {
            for (s, v) in sum.iter_mut().zip(block.chunks_exact(4)) {
                // SAFETY: `v` is four floats of `data`.
                *s = s.add(unsafe { F4::load(v.as_ptr()) });
            }
        }
        bytes += READ_BYTES as u64;
    }
    std::hint::black_box(sum);
    bytes as f64 / start.elapsed().as_secs_f64() / 1e9
}
