//! The plain reference backend: direct loops over NCHW, written to be read, not to be fast.
//! Every fast kernel is checked against these functions.

use crate::backend::{Output, StageClock};
use crate::model::{out_size, Conv, ConvKind, Linear, Network, Stage, Unit};
use crate::tensor::Tensor;
use crate::{Error, Result};

/// One image's activations: `[channels][height][width]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Map {
    pub c: usize,
    pub h: usize,
    pub w: usize,
    pub data: Vec<f32>,
}

impl Map {
    pub fn zeros(c: usize, h: usize, w: usize) -> Map {
        Map {
            c,
            h,
            w,
            data: vec![0.0; c * h * w],
        }
    }

    fn at(&self, c: usize, y: usize, x: usize) -> f32 {
        self.data[(c * self.h + y) * self.w + x]
    }

    /// Value with zero padding outside the map.
    fn padded(&self, c: usize, y: isize, x: isize) -> f32 {
        if y < 0 || x < 0 || y >= self.h as isize || x >= self.w as isize {
            0.0
        } else {
            self.at(c, y as usize, x as usize)
        }
    }

    /// Channels `[from, from + n)` as a new map.
    pub fn channels(&self, from: usize, n: usize) -> Map {
        let plane = self.h * self.w;
        Map {
            c: n,
            h: self.h,
            w: self.w,
            data: self.data[from * plane..(from + n) * plane].to_vec(),
        }
    }
}

/// A folded convolution with padding `kernel / 2`.
pub fn conv(layer: &Conv, x: &Map) -> Map {
    assert_eq!(x.c, layer.in_ch, "conv input channels");
    let (s, k) = (
        layer.stride,
        if layer.kind == ConvKind::Pointwise {
            1
        } else {
            3
        },
    );
    let (oh, ow) = if k == 1 {
        ((x.h - 1) / s + 1, (x.w - 1) / s + 1)
    } else {
        (out_size(x.h, s), out_size(x.w, s))
    };
    let pad = (k / 2) as isize;
    let mut y = Map::zeros(layer.out_ch, oh, ow);
    for o in 0..layer.out_ch {
        let filter = &layer.weight[o * layer.weights_per_output()..][..layer.weights_per_output()];
        for oy in 0..oh {
            for ox in 0..ow {
                let mut acc = layer.bias[o];
                // A depthwise filter reads only its own channel.
                let (first, count) = match layer.kind {
                    ConvKind::Depthwise3x3 => (o, 1),
                    _ => (0, layer.in_ch),
                };
                for (i, ic) in (first..first + count).enumerate() {
                    for ky in 0..k {
                        for kx in 0..k {
                            let iy = (oy * s + ky) as isize - pad;
                            let ix = (ox * s + kx) as isize - pad;
                            acc += filter[(i * k + ky) * k + kx] * x.padded(ic, iy, ix);
                        }
                    }
                }
                y.data[(o * oh + oy) * ow + ox] = if layer.relu { acc.max(0.0) } else { acc };
            }
        }
    }
    y
}

/// Max pool 3x3, stride 2, padding 1 (padding never wins: it is -infinity).
pub fn maxpool(x: &Map) -> Map {
    let (oh, ow) = (out_size(x.h, 2), out_size(x.w, 2));
    let mut y = Map::zeros(x.c, oh, ow);
    for c in 0..x.c {
        for oy in 0..oh {
            for ox in 0..ow {
                let mut m = f32::NEG_INFINITY;
                for ky in 0..3 {
                    for kx in 0..3 {
                        let (iy, ix) = ((oy * 2 + ky) as isize - 1, (ox * 2 + kx) as isize - 1);
                        if iy >= 0 && ix >= 0 && (iy as usize) < x.h && (ix as usize) < x.w {
                            m = m.max(x.at(c, iy as usize, ix as usize));
                        }
                    }
                }
                y.data[(c * oh + oy) * ow + ox] = m;
            }
        }
    }
    y
}

/// Concatenate `a` and `b` along channels, then shuffle with two groups.
pub fn concat_shuffle(a: &Map, b: &Map) -> Map {
    assert_eq!((a.c, a.h, a.w), (b.c, b.h, b.w), "branch shapes");
    let plane = a.h * a.w;
    let mut y = Map::zeros(2 * a.c, a.h, a.w);
    for j in 0..a.c {
        y.data[2 * j * plane..][..plane].copy_from_slice(&a.data[j * plane..][..plane]);
        y.data[(2 * j + 1) * plane..][..plane].copy_from_slice(&b.data[j * plane..][..plane]);
    }
    y
}

pub fn unit(u: &Unit, x: &Map) -> Map {
    let run = |convs: &[Conv], input: Map| convs.iter().fold(input, |m, c| conv(c, &m));
    match &u.branch1 {
        None => {
            let kept = x.channels(0, u.branch);
            let changed = run(&u.branch2, x.channels(u.branch, u.branch));
            concat_shuffle(&kept, &changed)
        }
        Some(b1) => concat_shuffle(&run(b1, x.clone()), &run(&u.branch2, x.clone())),
    }
}

/// Global average pool, then the classifier.
pub fn pool_fc(fc: &Linear, x: &Map) -> Vec<f32> {
    let plane = (x.h * x.w) as f32;
    let pooled: Vec<f32> = (0..x.c)
        .map(|c| x.data[c * x.h * x.w..][..x.h * x.w].iter().sum::<f32>() / plane)
        .collect();
    (0..fc.out_f)
        .map(|o| {
            let row = &fc.weight[o * fc.in_f..][..fc.in_f];
            fc.bias[o] + row.iter().zip(&pooled).map(|(w, v)| w * v).sum::<f32>()
        })
        .collect()
}

/// Checks an input tensor against what the network accepts.
pub fn check_input(input: &Tensor) -> Result<()> {
    let [n, c, h, w] = input.shape;
    if n == 0 || c != 3 {
        return Err(Error::Input(format!(
            "expected N x 3 x H x W with N >= 1, got {:?}",
            input.shape
        )));
    }
    let max = crate::model::MAX_INPUT;
    if !(crate::model::MIN_INPUT..=max).contains(&h) || !(1..=max).contains(&w) {
        return Err(Error::Input(format!(
            "image side must be between 1 and {max} pixels, got {h} x {w}"
        )));
    }
    if input.data.len() != n * 3 * h * w {
        return Err(Error::Input("tensor data does not match its shape".into()));
    }
    Ok(())
}

/// The whole network on one image, returning every stage boundary (for kernel tests).
pub fn forward_image(net: &Network, x: Map, clock: &mut StageClock) -> (Vec<Map>, Vec<f32>) {
    let mut bounds = Vec::with_capacity(4);
    let mut m = maxpool(&conv(&net.stem, &x));
    clock.lap(Stage::Stem);
    bounds.push(m.clone());
    for (stage, units) in [Stage::Stage2, Stage::Stage3, Stage::Stage4]
        .into_iter()
        .zip(&net.stages)
    {
        m = units.iter().fold(m, |m, u| unit(u, &m));
        clock.lap(stage);
        bounds.push(m.clone());
    }
    let logits = pool_fc(&net.fc, &conv(&net.conv5, &m));
    clock.lap(Stage::Head);
    (bounds, logits)
}

/// Runs a batch through the reference implementation.
pub fn run(net: &Network, input: &Tensor) -> Result<Output> {
    check_input(input)?;
    let [n, c, h, w] = input.shape;
    let mut clock = StageClock::default();
    let mut logits = Vec::with_capacity(n * net.fc.out_f);
    for i in 0..n {
        let x = Map {
            c,
            h,
            w,
            data: input.data[i * input.image_len()..][..input.image_len()].to_vec(),
        };
        logits.extend(forward_image(net, x, &mut clock).1);
    }
    Ok(Output {
        batch: n,
        classes: net.fc.out_f,
        logits,
        times: clock.finish(),
    })
}
