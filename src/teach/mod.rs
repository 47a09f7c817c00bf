//! Teaching new classes: a classifier head trained on the backbone's pooled features.
//!
//! Multinomial logistic regression (softmax) with L2, full batch, by gradient descent with
//! a backtracking (Armijo) line search: every accepted step lowers the loss, so the loss
//! falls monotonically. It stops when the loss stops moving or the gradient vanishes
//! (converged), or at the time cap. The start point comes from the seed, so a seed gives
//! the same head every time.
//!
//! Pooled ReLU features differ in scale by orders of magnitude, which makes plain gradient
//! descent crawl; training runs on features standardized per dimension and the scaling is
//! folded back into the head afterwards, so the result is an ordinary `fc`.
//!
//! The exported head must not work through cancellation (an F16 export, or another
//! summation order, would break it), so a dimension's scale is floored at `SCALE_FLOOR`
//! of the typical spread: a near-constant dimension cannot be blown up by 1/sd into weights
//! of 1e6. With the L2 penalty this bounds the export (see `weight_bound`).

mod unknown;
pub use unknown::Unknown;

use crate::model::Linear;
use crate::{Error, Result};
use web_time::Instant;

/// Labelled feature vectors, `[samples][feature_len]`.
#[derive(Clone, Debug)]
pub struct Samples<'a> {
    pub features: &'a [f32],
    pub feature_len: usize,
    /// The class of each sample, `< classes`.
    pub labels: &'a [usize],
    pub classes: usize,
}

#[derive(Clone, Copy, Debug)]
pub struct TrainOptions {
    /// L2 penalty on the weights (not the bias): `l2 / 2 * |W|^2`.
    pub l2: f32,
    pub seed: u64,
    /// Wall-clock cap; the best head so far is returned when it is reached.
    pub max_ms: f64,
    /// Converged when one step lowers the loss by less than this fraction of it.
    pub tolerance: f32,
}

impl Default for TrainOptions {
    fn default() -> TrainOptions {
        TrainOptions {
            l2: 1e-3,
            seed: 0,
            max_ms: 2_000.0,
            tolerance: 1e-3,
        }
    }
}

/// A trained head and how training went.
#[derive(Clone, Debug)]
pub struct Trained {
    pub head: Linear,
    /// The loss before the first step and after each accepted step.
    pub losses: Vec<f32>,
    pub converged: bool,
    /// Fraction of the training samples the head classifies right.
    pub train_accuracy: f32,
    pub ms: f64,
}

impl Samples<'_> {
    fn len(&self) -> usize {
        self.labels.len()
    }

    /// The checks that keep training meaningful; nothing is changed on error.
    fn check(&self) -> Result<()> {
        let bad = |m: String| Err(Error::Input(m));
        if self.feature_len == 0 || self.features.len() != self.len() * self.feature_len {
            return bad(format!(
                "{} feature values for {} samples of {}",
                self.features.len(),
                self.len(),
                self.feature_len
            ));
        }
        if self.classes < 2 {
            return bad("teaching needs at least two classes".into());
        }
        let mut counts = vec![0usize; self.classes];
        for &l in self.labels {
            match counts.get_mut(l) {
                Some(c) => *c += 1,
                None => return bad(format!("label {l} but only {} classes", self.classes)),
            }
        }
        if let Some(empty) = counts.iter().position(|&c| c == 0) {
            return bad(format!("class {empty} has no samples"));
        }
        if let Some(i) = self.features.iter().position(|v| !v.is_finite()) {
            return bad(format!(
                "feature {} of sample {} is not a finite number",
                i % self.feature_len,
                i / self.feature_len
            ));
        }
        Ok(())
    }
}

/// The seeded start's weights lie in `[-START_SCALE, START_SCALE)`: small, so the first
/// logits are near 0 and the loss starts near ln(classes).
const START_SCALE: f32 = 0.01;

/// Trains a head mapping `samples.feature_len` features to `samples.classes` classes.
pub fn train(samples: &Samples, opts: &TrainOptions) -> Result<Trained> {
    samples.check()?;
    if !(opts.l2 >= 0.0 && opts.l2.is_finite()) {
        return Err(Error::Input(format!("L2 must be >= 0, got {}", opts.l2)));
    }
    let start = Instant::now();
    let (k, d) = (samples.classes, samples.feature_len);
    let (mean, scale) = standardization(samples);
    let x: Vec<f32> = samples
        .features
        .chunks_exact(d)
        .flat_map(|row| (0..d).map(|i| (row[i] - mean[i]) / scale[i]))
        .collect();
    let standardized = Samples {
        features: &x,
        ..*samples
    };
    // Parameters: `[k][d]` weights, then `k` biases.
    let mut params = seeded(k * d, opts.seed, START_SCALE);
    params.resize(k * d + k, 0.0);
    let mut grad = vec![0.0; params.len()];
    let mut loss = loss_and_grad(&standardized, opts.l2, &params, Some(&mut grad));
    let mut losses = vec![loss];
    let mut step = 1.0f32;
    let mut converged = false;
    let mut trial = vec![0.0; params.len()];
    while start.elapsed().as_secs_f64() * 1e3 < opts.max_ms {
        let g2 = dot(&grad, &grad);
        if g2 < 1e-12 {
            converged = true;
            break;
        }
        // Backtrack until the Armijo condition holds.
        let next = loop {
            for ((t, p), g) in trial.iter_mut().zip(&params).zip(&grad) {
                *t = p - step * g;
            }
            let l = loss_and_grad(&standardized, opts.l2, &trial, None);
            if l <= loss - 0.5 * step * g2 {
                break Some(l);
            }
            step *= 0.5;
            if step < 1e-12 {
                break None;
            }
        };
        let Some(next) = next else {
            converged = true;
            break;
        };
        std::mem::swap(&mut params, &mut trial);
        let drop = loss - next;
        loss = loss_and_grad(&standardized, opts.l2, &params, Some(&mut grad));
        losses.push(loss);
        if drop <= opts.tolerance * loss.max(1e-6) {
            converged = true;
            break;
        }
        step *= 2.0;
    }
    let mut bias = params.split_off(k * d);
    // Back to raw features: w . (v - m) / s + b = (w / s) . v + (b - (w / s) . m).
    for (row, b) in params.chunks_exact_mut(d).zip(&mut bias) {
        for (w, s) in row.iter_mut().zip(&scale) {
            *w /= s;
        }
        *b -= dot(row, &mean);
    }
    let head = Linear {
        in_f: d,
        out_f: k,
        weight: params,
        bias,
    };
    let right = (0..samples.len())
        .filter(|&i| predict(&head, &samples.features[i * d..(i + 1) * d]) == samples.labels[i])
        .count();
    Ok(Trained {
        head,
        losses,
        converged,
        train_accuracy: right as f32 / samples.len() as f32,
        ms: start.elapsed().as_secs_f64() * 1e3,
    })
}

/// The most likely class of one feature vector under `head`.
pub fn predict(head: &Linear, x: &[f32]) -> usize {
    let logits = logits(head, x);
    (0..logits.len())
        .max_by(|&a, &b| logits[a].total_cmp(&logits[b]))
        .unwrap_or(0)
}

/// Splits sample indices into (train, held out): `holdout` of each class (rounded; at least
/// one sample of each class always trains), chosen by `seed`.
pub fn split(
    labels: &[usize],
    classes: usize,
    holdout: f32,
    seed: u64,
) -> (Vec<usize>, Vec<usize>) {
    let mut state = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
    let mut next = move || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 33) as usize
    };
    let (mut train, mut held) = (Vec::new(), Vec::new());
    for c in 0..classes {
        let mut idx: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] == c).collect();
        for i in (1..idx.len()).rev() {
            idx.swap(i, next() % (i + 1));
        }
        let out = ((idx.len() as f32 * holdout).round() as usize).min(idx.len().saturating_sub(1));
        held.extend_from_slice(&idx[..out]);
        train.extend_from_slice(&idx[out..]);
    }
    train.sort_unstable();
    held.sort_unstable();
    (train, held)
}

/// `head` over one feature vector.
pub fn logits(head: &Linear, x: &[f32]) -> Vec<f32> {
    head.weight
        .chunks_exact(head.in_f)
        .zip(&head.bias)
        .map(|(row, b)| b + dot(row, x))
        .collect()
}

/// Mean cross-entropy plus `l2 / 2 * |W|^2`; the gradient into `grad` when asked.
fn loss_and_grad(s: &Samples, l2: f32, params: &[f32], mut grad: Option<&mut [f32]>) -> f32 {
    let (k, d, n) = (s.classes, s.feature_len, s.len());
    let (w, b) = params.split_at(k * d);
    if let Some(g) = grad.as_deref_mut() {
        for (gw, w) in g[..k * d].iter_mut().zip(w) {
            *gw = l2 * w;
        }
        g[k * d..].fill(0.0);
    }
    let mut total = 0.0f64;
    let mut p = vec![0.0f32; k];
    for (x, &label) in s.features.chunks_exact(d).zip(s.labels) {
        for (c, pc) in p.iter_mut().enumerate() {
            *pc = b[c] + dot(&w[c * d..(c + 1) * d], x);
        }
        let max = p.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let mut sum = 0.0;
        for pc in p.iter_mut() {
            *pc = (*pc - max).exp();
            sum += *pc;
        }
        total += f64::from(sum.ln() - (p[label].ln()));
        if let Some(g) = grad.as_deref_mut() {
            let (gw, gb) = g.split_at_mut(k * d);
            for c in 0..k {
                // d loss / d logit = softmax - one-hot, averaged over the batch.
                let delta = (p[c] / sum - f32::from(u8::from(c == label))) / n as f32;
                gb[c] += delta;
                for (g, v) in gw[c * d..(c + 1) * d].iter_mut().zip(x) {
                    *g += delta * v;
                }
            }
        }
    }
    let penalty = dot(w, w) * l2 / 2.0;
    (total / n as f64) as f32 + penalty
}

/// A dimension's scale is at least this share of the typical (root mean square) spread of
/// the dimensions: the spread of a near-constant one is float noise, not signal worth 1/sd.
pub const SCALE_FLOOR: f32 = 0.1;

/// The largest |weight| `train` can export for these samples and options. Every accepted
/// step lowers the loss, so it stays below its start `L0` (about ln(classes)), and the L2
/// term alone is `l2 / 2 * |W|^2` in the standardized space: `|W| <= sqrt(2 L0 / l2)`. Each
/// weight is then divided by a scale of at least `SCALE_FLOOR` of the typical spread.
pub fn weight_bound(samples: &Samples, opts: &TrainOptions) -> f32 {
    let b = Bounds::of(samples, opts);
    b.w_norm / b.floor
}

/// The largest |bias| `train` can export. In the standardized space the biases sum to zero
/// (their gradients do) and no sample's loss exceeds `n L0`, so two classes' biases differ by
/// at most `n L0 + 2 |W| max|x|`, and so does each bias; folding the means back in adds at
/// most `|W row| |mean|`.
pub fn bias_bound(samples: &Samples, opts: &TrainOptions) -> f32 {
    let b = Bounds::of(samples, opts);
    let n = samples.len() as f32;
    n * b.start_loss + 2.0 * b.w_norm * b.x_norm + b.w_norm / b.floor * b.mean_norm
}

/// What `weight_bound` and `bias_bound` are made of.
struct Bounds {
    /// A bound on the loss at the seeded start, and so on every later loss.
    start_loss: f32,
    /// A bound on `|W|` (Frobenius) in the standardized space.
    w_norm: f32,
    /// The largest standardized sample's norm, the means' norm, the smallest scale.
    x_norm: f32,
    mean_norm: f32,
    floor: f32,
}

impl Bounds {
    fn of(samples: &Samples, opts: &TrainOptions) -> Bounds {
        let (mean, scale) = standardization(samples);
        let d = samples.feature_len;
        let x_norm = samples
            .features
            .chunks_exact(d)
            .map(|x| {
                let s: f32 = (0..d).map(|j| ((x[j] - mean[j]) / scale[j]).powi(2)).sum();
                s.sqrt()
            })
            .fold(0.0f32, f32::max);
        // The start: weights within START_SCALE, biases 0; logits within `|W0| |x|` of 0.
        let start = START_SCALE * ((samples.classes * d) as f32).sqrt();
        let start_loss =
            (samples.classes as f32).ln() + 2.0 * start * x_norm + opts.l2 / 2.0 * start * start;
        Bounds {
            start_loss,
            w_norm: (2.0 * start_loss / opts.l2).sqrt(),
            x_norm,
            mean_norm: dot(&mean, &mean).sqrt(),
            floor: scale.iter().copied().fold(f32::INFINITY, f32::min),
        }
    }
}

/// Per-dimension mean and scale over the samples: the standard deviation, floored at
/// `SCALE_FLOOR` of the typical one (constant dimensions get the floor and stay put).
fn standardization(s: &Samples) -> (Vec<f32>, Vec<f32>) {
    let (d, n) = (s.feature_len, s.len() as f32);
    let mut mean = vec![0.0f32; d];
    for row in s.features.chunks_exact(d) {
        for (m, v) in mean.iter_mut().zip(row) {
            *m += v;
        }
    }
    mean.iter_mut().for_each(|m| *m /= n);
    let mut var = vec![0.0f32; d];
    for row in s.features.chunks_exact(d) {
        for ((q, v), m) in var.iter_mut().zip(row).zip(&mean) {
            *q += (v - m) * (v - m);
        }
    }
    let sd: Vec<f32> = var.iter().map(|q| (q / n).sqrt()).collect();
    let typical = (sd.iter().map(|s| s * s).sum::<f32>() / d as f32).sqrt();
    // All dimensions constant: nothing to learn from their spread; leave the values as they are.
    let floor = if typical > 0.0 {
        SCALE_FLOOR * typical
    } else {
        1.0
    };
    let scale = sd.into_iter().map(|s| s.max(floor)).collect();
    (mean, scale)
}

/// A dot product over eight partial sums, which the compiler turns into SIMD (a plain
/// `sum()` must add in order and stays scalar).
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ca.zip(cb) {
        for i in 0..8 {
            acc[i] += x[i] * y[i];
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// `len` values in `[-scale, scale)` from a small xorshift generator seeded with `seed`.
fn seeded(len: usize, seed: u64, scale: f32) -> Vec<f32> {
    let mut s = seed ^ 0x9E37_79B9_7F4A_7C15;
    (0..len)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            ((s >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0) * scale
        })
        .collect()
}

#[cfg(test)]
mod tests;
