//! "None of these": how far a feature vector lies from every taught class.
//!
//! Softmax over the taught classes always names one of them, however foreign the picture. The
//! score here is the squared distance to the nearest class mean in the trainer's standardized
//! feature space (each dimension centred and divided by its floored spread), averaged over
//! dimensions. A sample of a taught class sits near its mean; a picture of something never
//! taught sits far from all of them. The threshold comes from samples the head never trained
//! on (the held-out split): `MARGIN` times the largest held-out score, so every held-out
//! sample of a taught class would have been accepted.

use std::collections::HashMap;

use super::{standardization, Samples};
use crate::{Error, Result};

/// The safetensors metadata key the detector travels under.
pub const METADATA_KEY: &str = "shufflenet.unknown";

/// Room above the largest held-out score: held-out samples are few, so the next known picture
/// may lie a little further out than any of them.
pub const MARGIN: f32 = 1.5;

/// Class means in standardized space and the threshold above which a vector is "none of these".
#[derive(Clone, Debug, PartialEq)]
pub struct Unknown {
    pub mean: Vec<f32>,
    pub scale: Vec<f32>,
    /// `[classes][features]`, standardized.
    pub centroids: Vec<f32>,
    pub threshold: f32,
}

impl Unknown {
    /// Class means from `train`; the threshold from `held` (samples of the same classes the
    /// means never saw), or from `train` itself when nothing was held out (then tighter than
    /// it should be: a known picture is rejected more often).
    pub fn fit(train: &Samples, held: Option<&Samples>) -> Result<Unknown> {
        train.check()?;
        let d = train.feature_len;
        let (mean, scale) = standardization(train);
        let mut centroids = vec![0.0f32; train.classes * d];
        let mut counts = vec![0usize; train.classes];
        for (x, &c) in train.features.chunks_exact(d).zip(train.labels) {
            counts[c] += 1;
            for ((acc, v), (m, s)) in centroids[c * d..(c + 1) * d]
                .iter_mut()
                .zip(x)
                .zip(mean.iter().zip(&scale))
            {
                *acc += (v - m) / s;
            }
        }
        for (row, &n) in centroids.chunks_exact_mut(d).zip(&counts) {
            row.iter_mut().for_each(|v| *v /= n as f32);
        }
        let mut unknown = Unknown {
            mean,
            scale,
            centroids,
            threshold: f32::INFINITY,
        };
        let calibration = held.filter(|h| !h.labels.is_empty()).unwrap_or(train);
        let worst = calibration
            .features
            .chunks_exact(d)
            .map(|x| unknown.score(x))
            .fold(0.0f32, f32::max);
        unknown.threshold = MARGIN * worst;
        Ok(unknown)
    }

    /// Mean squared standardized distance to the nearest class mean.
    pub fn score(&self, x: &[f32]) -> f32 {
        let d = self.mean.len();
        self.centroids
            .chunks_exact(d)
            .map(|c| {
                let sum: f32 = x
                    .iter()
                    .zip(c)
                    .zip(self.mean.iter().zip(&self.scale))
                    .map(|((v, c), (m, s))| {
                        let z = (v - m) / s - c;
                        z * z
                    })
                    .sum();
                sum / d as f32
            })
            .fold(f32::INFINITY, f32::min)
    }

    /// True when `x` is far from every taught class.
    pub fn rejects(&self, x: &[f32]) -> bool {
        self.score(x) > self.threshold
    }

    pub fn classes(&self) -> usize {
        self.centroids.len() / self.mean.len().max(1)
    }

    /// The metadata entry (JSON) an exported file carries.
    pub fn to_metadata(&self) -> (String, String) {
        let json = serde_json::json!({
            "threshold": self.threshold,
            "mean": self.mean,
            "scale": self.scale,
            "centroids": self.centroids,
        });
        (METADATA_KEY.to_string(), json.to_string())
    }

    /// The detector a file's metadata carries, if any, checked against `features` and
    /// `classes` (the head it belongs to).
    pub fn from_metadata(
        metadata: &HashMap<String, String>,
        features: usize,
        classes: usize,
    ) -> Result<Option<Unknown>> {
        let Some(text) = metadata.get(METADATA_KEY) else {
            return Ok(None);
        };
        let bad = |why: &str| Error::Corrupt(format!("metadata {METADATA_KEY}: {why}"));
        let v: serde_json::Value = serde_json::from_str(text).map_err(|e| bad(&e.to_string()))?;
        let floats = |key: &str| -> Result<Vec<f32>> {
            v[key]
                .as_array()
                .ok_or_else(|| bad(&format!("no {key}")))?
                .iter()
                .map(|x| x.as_f64().map(|f| f as f32).ok_or_else(|| bad(key)))
                .collect()
        };
        let unknown = Unknown {
            mean: floats("mean")?,
            scale: floats("scale")?,
            centroids: floats("centroids")?,
            threshold: v["threshold"].as_f64().ok_or_else(|| bad("no threshold"))? as f32,
        };
        let fits = unknown.mean.len() == features
            && unknown.scale.len() == features
            && unknown.centroids.len() == classes * features;
        if !fits {
            return Err(bad(&format!(
                "sized for other than {classes} classes of {features} features"
            )));
        }
        let finite = unknown
            .mean
            .iter()
            .chain(&unknown.centroids)
            .all(|v| v.is_finite());
        let positive = unknown.scale.iter().all(|s| *s > 0.0);
        if !finite || !positive || !(0.0..f32::INFINITY).contains(&unknown.threshold) {
            return Err(bad("a value is not usable"));
        }
        Ok(Some(unknown))
    }
}
