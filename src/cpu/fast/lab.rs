//! The guidelines' benchmark networks (`crate::guidelines`) on the fast CPU kernels: a 1x1
//! is the `Pointwise` register-tiled product, a group 1x1 one `Pointwise` per group over its
//! slots, a 3x3 `Conv3x3`; ReLU and add are vector loops over whole buffers. One thread, as
//! the paper's ARM figures.
//!
//! Buffers are NHWC, one image at a time, each pixel padded to whole vectors.

use super::conv3x3::Conv3x3;
use super::pointwise::Pointwise;
use super::pool::Pool;
use crate::backend::LocalFuture;
use crate::guidelines::net::{LabConv, LabNet, Op};
use crate::guidelines::paper::Column;
use crate::guidelines::{self, Lab};
use crate::model::{Activation, Conv, ConvKind};
use crate::simd::{round_up, F4, LANES};
use crate::{Error, Result};

enum Kernel {
    /// One per group.
    Pointwise(Vec<Pointwise>),
    Conv3x3(Conv3x3),
}

enum Step {
    Conv {
        kernel: Kernel,
        src: usize,
        dst: usize,
    },
    Relu(usize),
    Add {
        src: usize,
        dst: usize,
    },
}

struct Loaded {
    steps: Vec<Step>,
    side: usize,
    /// Floats per pixel of each buffer.
    strides: Vec<usize>,
    bufs: Vec<Vec<f32>>,
    /// Each image NHWC in the input buffer's layout.
    images: Vec<Vec<f32>>,
    output: usize,
    out_channels: usize,
    /// The output buffer of each image, kept by runs that keep it (not the timed ones).
    outputs: Vec<Vec<f32>>,
}

/// The benchmark networks on the fast CPU kernels.
pub struct LabCpu {
    pool: Pool,
    loaded: Option<Loaded>,
}

impl Default for LabCpu {
    fn default() -> LabCpu {
        LabCpu {
            pool: Pool::new(1),
            loaded: None,
        }
    }
}

fn kernel(conv: &LabConv, in_slot: &[usize], out_slot: &[usize]) -> Kernel {
    let (k, m) = (conv.in_ch / conv.groups, conv.out_ch / conv.groups);
    if conv.taps == 1 {
        return Kernel::Pointwise(
            (0..conv.groups)
                .map(|g| {
                    Pointwise::new(
                        &conv.weight[g * m * k..][..m * k],
                        &conv.bias[g * m..][..m],
                        Activation::None,
                        &in_slot[g * k..][..k],
                        &out_slot[g * m..][..m],
                    )
                })
                .collect(),
        );
    }
    let kind = match conv.groups {
        1 => ConvKind::Full3x3,
        groups => ConvKind::Grouped3x3 { groups },
    };
    let model = Conv {
        kind,
        in_ch: conv.in_ch,
        out_ch: conv.out_ch,
        stride: 1,
        act: Activation::None,
        weight: conv.weight.clone(),
        bias: conv.bias.clone(),
    };
    Kernel::Conv3x3(Conv3x3::new(&model, in_slot, out_slot))
}

/// NCHW image -> NHWC pixels of `stride` floats.
fn to_nhwc(x: &[f32], c: usize, plane: usize, stride: usize) -> Vec<f32> {
    let mut out = vec![0.0; plane * stride];
    for ch in 0..c {
        for p in 0..plane {
            out[p * stride + ch] = x[ch * plane + p];
        }
    }
    out
}

/// `f` on every vector of `y` (with `x`'s vector at the same place).
fn vectors(y: &mut [f32], x: Option<&[f32]>, f: impl Fn(F4, F4) -> F4) {
    assert!(y.len().is_multiple_of(LANES) && x.is_none_or(|x| x.len() == y.len()));
    let zero = [0.0; LANES];
    for (i, out) in y.chunks_exact_mut(LANES).enumerate() {
        let other = x.map_or(&zero[..], |x| &x[i * LANES..][..LANES]);
        // SAFETY: `out` and `other` are chunks of exactly LANES floats.
        unsafe {
            let v = f(F4::load(out.as_ptr()), F4::load(other.as_ptr()));
            v.store(out.as_mut_ptr());
        }
    }
}

impl Loaded {
    fn new(net: &LabNet, batch: usize, input: &[f32]) -> Result<Loaded> {
        net.check().map_err(Error::Input)?;
        if input.len() != batch * net.image_len(0) {
            return Err(Error::Input("benchmark input has the wrong length".into()));
        }
        let strides: Vec<usize> = net.buffers.iter().map(|&c| round_up(c, LANES)).collect();
        let slots = |off: usize, c: usize| (off..off + c).collect::<Vec<_>>();
        let steps = net
            .ops
            .iter()
            .map(|op| match op {
                Op::Conv { conv, src, dst } => Step::Conv {
                    kernel: kernel(
                        conv,
                        &slots(src.off, conv.in_ch),
                        &slots(dst.off, conv.out_ch),
                    ),
                    src: src.buf,
                    dst: dst.buf,
                },
                Op::Relu { buf } => Step::Relu(*buf),
                Op::Add { src, dst } => Step::Add {
                    src: *src,
                    dst: *dst,
                },
            })
            .collect();
        let plane = net.plane();
        let images = input
            .chunks_exact(net.image_len(0).max(1))
            .map(|x| to_nhwc(x, net.buffers[0], plane, strides[0]))
            .collect();
        Ok(Loaded {
            steps,
            side: net.side,
            bufs: strides.iter().map(|s| vec![0.0; plane * s]).collect(),
            strides,
            images,
            output: net.output,
            out_channels: net.output_channels(),
            outputs: Vec::new(),
        })
    }

    fn run(&mut self, pool: &Pool, keep: bool) {
        let rows = self.side * self.side;
        self.outputs.clear();
        for image in &self.images {
            self.bufs[0].copy_from_slice(image);
            for step in &self.steps {
                match step {
                    Step::Conv { kernel, src, dst } => {
                        let (x, y) = two(&mut self.bufs, *src, *dst);
                        let (xs, ys) = (self.strides[*src], self.strides[*dst]);
                        match kernel {
                            Kernel::Pointwise(groups) => {
                                for g in groups {
                                    g.run(pool, x, xs, rows, y, ys);
                                }
                            }
                            Kernel::Conv3x3(k) => k.run(pool, x, (self.side, self.side, xs), y, ys),
                        }
                    }
                    Step::Relu(b) => {
                        vectors(&mut self.bufs[*b], None, |v, _| v.max(F4::splat(0.0)))
                    }
                    Step::Add { src, dst } => {
                        let (x, y) = two(&mut self.bufs, *src, *dst);
                        vectors(y, Some(x), |v, w| v.add(w));
                    }
                }
            }
            if keep {
                self.outputs.push(self.bufs[self.output].clone());
            }
        }
    }

    /// The outputs NCHW.
    fn output(&self) -> Vec<f32> {
        let (c, plane, s) = (
            self.out_channels,
            self.side * self.side,
            self.strides[self.output],
        );
        let mut out = Vec::with_capacity(self.outputs.len() * c * plane);
        for image in &self.outputs {
            for ch in 0..c {
                out.extend((0..plane).map(|p| image[p * s + ch]));
            }
        }
        out
    }
}

/// Buffer `a` to read and buffer `b` to write (`a != b`).
fn two(bufs: &mut [Vec<f32>], a: usize, b: usize) -> (&[f32], &mut [f32]) {
    assert_ne!(a, b, "an op reads and writes one buffer");
    if a < b {
        let (lo, hi) = bufs.split_at_mut(b);
        (&lo[a], &mut hi[0])
    } else {
        let (lo, hi) = bufs.split_at_mut(a);
        (&hi[0], &mut lo[b])
    }
}

impl Lab for LabCpu {
    fn name(&self) -> String {
        super::NAME.to_string()
    }

    fn column(&self) -> Column {
        Column::Arm
    }

    fn load<'a>(
        &'a mut self,
        net: &'a LabNet,
        batch: usize,
        input: &'a [f32],
    ) -> LocalFuture<'a, Result<()>> {
        Box::pin(async move {
            self.loaded = Some(Loaded::new(net, batch, input)?);
            Ok(())
        })
    }

    fn time(&mut self) -> LocalFuture<'_, Result<f64>> {
        Box::pin(async move {
            let loaded = self.loaded.as_mut().ok_or_else(guidelines::not_loaded)?;
            let start = web_time::Instant::now();
            loaded.run(&self.pool, false);
            Ok(start.elapsed().as_secs_f64() * 1000.0)
        })
    }

    fn output(&mut self) -> LocalFuture<'_, Result<Vec<f32>>> {
        Box::pin(async move {
            let loaded = self.loaded.as_mut().ok_or_else(guidelines::not_loaded)?;
            loaded.run(&self.pool, true);
            Ok(loaded.output())
        })
    }
}
