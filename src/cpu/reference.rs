//! The plain reference backend: direct loops over NCHW, written to be read, not to be fast.
//! Every fast kernel is checked against these functions.

use crate::backend::{check_head, Backend, BackendInfo, Frame, LocalFuture, Output, StageClock};
use crate::model::{
    check_input, out_size, Conv, ConvKind, HalfOrder, Linear, Network, Op, Stage, Unit,
};
use crate::tensor::Tensor;
use crate::Result;

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
                // A filter reads only its own group's channels (depthwise: its own).
                let count = layer.in_ch / layer.groups();
                let first = o / (layer.out_ch / layer.groups()) * count;
                for (i, ic) in (first..first + count).enumerate() {
                    for ky in 0..k {
                        for kx in 0..k {
                            let iy = (oy * s + ky) as isize - pad;
                            let ix = (ox * s + kx) as isize - pad;
                            acc += filter[(i * k + ky) * k + kx] * x.padded(ic, iy, ix);
                        }
                    }
                }
                y.data[(o * oh + oy) * ow + ox] = layer.act.apply(acc);
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

/// Concatenate `a` and `b` along channels, then shuffle with `groups` groups: torch's
/// `view(n, g, c / g, h, w).transpose(1, 2)`, so output channel `j * g + i` is concatenated
/// channel `i * (c / g) + j`.
pub fn concat_shuffle(a: &Map, b: &Map, groups: usize) -> Map {
    assert_eq!((a.h, a.w), (b.h, b.w), "branch shapes");
    let plane = a.h * a.w;
    let c = a.c + b.c;
    let mut cat = a.data.clone();
    cat.extend_from_slice(&b.data);
    let per_group = c / groups;
    let mut y = Map::zeros(c, a.h, a.w);
    for i in 0..groups {
        for j in 0..per_group {
            y.data[(j * groups + i) * plane..][..plane]
                .copy_from_slice(&cat[(i * per_group + j) * plane..][..plane]);
        }
    }
    y
}

pub fn unit(u: &Unit, x: &Map) -> Map {
    let run = |convs: &[Conv], input: Map| convs.iter().fold(input, |m, c| conv(c, &m));
    // The processed half (stride 1) and the pass-through one, or both branches (stride 2).
    let (processed, other) = match (&u.branch1, u.order) {
        (None, HalfOrder::PassFirst) => (
            x.channels(u.in_ch - u.branch, u.branch),
            x.channels(0, u.in_ch - u.branch),
        ),
        (None, HalfOrder::ProcessedFirst) => (
            x.channels(0, u.branch),
            x.channels(u.branch, u.in_ch - u.branch),
        ),
        (Some(b1), _) => (x.clone(), run(b1, x.clone())),
    };
    let processed = run(&u.branch2, processed);
    match u.order {
        HalfOrder::PassFirst => concat_shuffle(&other, &processed, u.shuffle_groups),
        HalfOrder::ProcessedFirst => concat_shuffle(&processed, &other, u.shuffle_groups),
    }
}

/// Global average pool: one value per channel.
pub fn global_pool(x: &Map) -> Map {
    let plane = x.h * x.w;
    Map {
        c: x.c,
        h: 1,
        w: 1,
        data: (0..x.c)
            .map(|c| x.data[c * plane..][..plane].iter().sum::<f32>() / plane as f32)
            .collect(),
    }
}

/// The classifier on a pooled `c x 1 x 1` map.
pub fn linear(fc: &Linear, x: &Map) -> Map {
    Map {
        c: fc.out_f,
        h: 1,
        w: 1,
        data: (0..fc.out_f)
            .map(|o| {
                let row = &fc.weight[o * fc.in_f..][..fc.in_f];
                fc.bias[o] + row.iter().zip(&x.data).map(|(w, v)| w * v).sum::<f32>()
            })
            .collect(),
    }
}

/// Global average pool, then the classifier.
pub fn pool_fc(fc: &Linear, x: &Map) -> Vec<f32> {
    linear(fc, &global_pool(x)).data
}

/// What one image leaves behind in the reference.
pub struct ImageRun {
    /// The activation after the stem and after each stage.
    pub bounds: Vec<Map>,
    /// The globally pooled conv5 output, what the fc reads.
    pub features: Vec<f32>,
    pub logits: Vec<f32>,
}

/// The whole network on one image, walking `Network::steps`.
pub fn forward_image(net: &Network, x: Map, clock: &mut StageClock) -> ImageRun {
    let steps = net.steps(x.h, x.w);
    let mut bounds = Vec::with_capacity(4);
    let mut features = Vec::new();
    let mut m = x;
    for (i, step) in steps.iter().enumerate() {
        m = match step.op {
            Op::Stem(c) | Op::Conv5(c) => conv(c, &m),
            Op::MaxPool => maxpool(&m),
            Op::Unit(u) => unit(u, &m),
            Op::GlobalPool => {
                let pooled = global_pool(&m);
                features.clone_from(&pooled.data);
                pooled
            }
            Op::Fc(fc) => linear(fc, &m),
        };
        debug_assert_eq!(
            (m.c, m.h, m.w),
            (step.output.c, step.output.h, step.output.w)
        );
        let stage_ends = steps.get(i + 1).is_none_or(|next| next.stage != step.stage);
        if stage_ends {
            clock.lap(step.stage);
            if step.stage != Stage::Head {
                bounds.push(m.clone());
            }
        }
    }
    ImageRun {
        bounds,
        features,
        logits: m.data,
    }
}

/// The reference loops as a backend: the plain truth every other backend is checked against.
pub struct Reference {
    net: Network,
}

impl Reference {
    pub fn new(net: &Network) -> Reference {
        Reference { net: net.clone() }
    }

    /// Every image of a batch through `forward_image`.
    fn forward(&self, input: &Tensor) -> Result<(Vec<Vec<Map>>, Output)> {
        check_input(input)?;
        let [n, c, h, w] = input.shape;
        let mut clock = StageClock::default();
        let mut logits = Vec::with_capacity(n * self.net.fc.out_f);
        let mut features = Vec::with_capacity(n * self.net.fc.in_f);
        let mut bounds = Vec::with_capacity(n);
        for image in input.data.chunks_exact(input.image_len()) {
            let x = Map {
                c,
                h,
                w,
                data: image.to_vec(),
            };
            let run = forward_image(&self.net, x, &mut clock);
            bounds.push(run.bounds);
            features.extend(run.features);
            logits.extend(run.logits);
        }
        let out = Output {
            batch: n,
            classes: self.net.fc.out_f,
            logits,
            feature_len: self.net.fc.in_f,
            features,
            times: clock.finish(),
            threads: 1,
        };
        Ok((bounds, out))
    }
}

impl Backend for Reference {
    fn info(&self) -> BackendInfo {
        BackendInfo::cpu("cpu-reference")
    }

    fn run<'a>(&'a mut self, frame: Frame<'a>) -> LocalFuture<'a, Result<Output>> {
        Box::pin(async move {
            let input = frame.to_tensor()?;
            self.forward(&input).map(|(_, out)| out)
        })
    }

    fn set_head(&mut self, fc: &Linear) -> Result<()> {
        check_head(fc, self.net.conv5.out_ch)?;
        self.net.fc = fc.clone();
        Ok(())
    }

    #[cfg(feature = "testing")]
    fn stage_outputs<'a>(&'a mut self, input: &'a Tensor) -> LocalFuture<'a, Result<[Tensor; 4]>> {
        Box::pin(async move {
            let (bounds, _) = self.forward(input)?;
            Ok(std::array::from_fn(|s| {
                let first = &bounds[0][s];
                let data = bounds
                    .iter()
                    .flat_map(|b| b[s].data.iter().copied())
                    .collect();
                Tensor::new([bounds.len(), first.c, first.h, first.w], data)
                    .expect("stage maps have their shape")
            }))
        })
    }
}

/// Runs a batch through the reference implementation.
pub fn run(net: &Network, input: &Tensor) -> Result<Output> {
    Reference::new(net).forward(input).map(|(_, out)| out)
}
