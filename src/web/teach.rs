//! Teach mode's engine side: a head trained on pooled features the page collected, swapped
//! in without reloading the backbone, the loaded file's own head to switch back to, and the
//! export of backbone + taught head that PyTorch loads.

use std::sync::Arc;

use tsify::{Ts, Tsify};
use wasm_bindgen::prelude::*;

use super::results::{ClassHeldOut, Taught, WeightsInfo};
use super::{js_err, with_engine, State, WebEngine};
use crate::classes::ClassNames;
use crate::model::Linear;
use crate::teach::{self, Samples, TrainOptions, Unknown};

/// The loaded file's own head, names and "none of these", kept while a taught head runs.
pub(super) type FileHead = (Linear, Arc<ClassNames>, Option<Arc<Unknown>>);

#[wasm_bindgen(js_class = Engine)]
impl WebEngine {
    /// Trains a head on `features` (`[labels.length][feature length]`, from classify's
    /// `features`) with `labels[i] < names.length`, and runs it from the next frame with
    /// `names` as class names. A `holdout` share of each class (seeded by `seed`) is held
    /// out of a first training to measure accuracy; the head that runs learns from every
    /// sample. On error (a class without samples, non-finite features...) nothing changes.
    pub async fn teach(
        &self,
        features: Vec<f32>,
        labels: Vec<u32>,
        names: Vec<String>,
        holdout: f32,
        seed: u32,
    ) -> Result<Ts<Taught>, JsError> {
        if !(0.0..1.0).contains(&holdout) {
            return Err(JsError::new(&format!(
                "holdout {holdout}: expected a fraction in [0, 1)"
            )));
        }
        let names = ClassNames::given(names).map_err(js_err)?;
        let feature_len = {
            let s = self.state.borrow();
            let engine = s.engine.as_ref().ok_or_else(|| {
                JsError::new("no model loaded, or a frame is running: await it first")
            })?;
            engine.network().fc.in_f
        };
        let labels: Vec<usize> = labels.iter().map(|&l| l as usize).collect();
        let classes = names.names().len();
        let all = Samples {
            features: &features,
            feature_len,
            labels: &labels,
            classes,
        };
        let opts = TrainOptions {
            seed: seed.into(),
            ..TrainOptions::default()
        };
        let final_head = teach::train(&all, &opts).map_err(js_err)?;

        // Held-out accuracy: a second head that never saw the held-out samples.
        let (train_idx, held_idx) = teach::split(&labels, classes, holdout, seed.into());
        let pick = |idx: &[usize]| -> (Vec<f32>, Vec<usize>) {
            let x = idx
                .iter()
                .flat_map(|&i| &features[i * feature_len..(i + 1) * feature_len])
                .copied()
                .collect();
            (x, idx.iter().map(|&i| labels[i]).collect())
        };
        let mut held_out: Vec<ClassHeldOut> = names
            .names()
            .iter()
            .map(|name| ClassHeldOut {
                name: name.clone(),
                right: 0,
                total: 0,
                predicted: vec![0; classes],
            })
            .collect();
        // "None of these": class means from the training split, the threshold from samples
        // they never saw (all samples, and a tighter threshold, when nothing is held out).
        let unknown = if held_idx.is_empty() {
            Unknown::fit(&all, None).map_err(js_err)?
        } else {
            let (tx, ty) = pick(&train_idx);
            let subset = Samples {
                features: &tx,
                labels: &ty,
                ..all
            };
            let probe = teach::train(&subset, &opts).map_err(js_err)?;
            let (hx, hy) = pick(&held_idx);
            for (x, &label) in hx.chunks_exact(feature_len).zip(&hy) {
                let predicted = teach::predict(&probe.head, x);
                let row = &mut held_out[label];
                row.total += 1;
                row.predicted[predicted] += 1;
                if predicted == label {
                    row.right += 1;
                }
            }
            let held = Samples {
                features: &hx,
                labels: &hy,
                ..all
            };
            Unknown::fit(&subset, Some(&held)).map_err(js_err)?
        };

        // The first taught head keeps the file's own head (and names) to switch back to.
        let file_head = {
            let s = self.state.borrow();
            match (&s.file_head, &s.engine, &s.info) {
                (None, Some(e), Some(info)) => Some((
                    e.network().fc.clone(),
                    info.class_names.clone(),
                    info.unknown.clone(),
                )),
                _ => None,
            }
        };
        let head = final_head.head;
        let out_f = head.out_f;
        with_engine(&self.state, async |e| e.set_head(head)).await?;
        let mut s = self.state.borrow_mut();
        if file_head.is_some() {
            s.file_head = file_head;
        }
        let info = set_names(&mut s, out_f, Arc::new(names), Some(Arc::new(unknown)))?;
        let taught = Taught {
            info,
            samples: labels.len(),
            train_accuracy: final_head.train_accuracy,
            held_out_right: held_out.iter().map(|c| c.right).sum(),
            held_out_total: held_out.iter().map(|c| c.total).sum(),
            held_out,
            ms: final_head.ms,
            steps: final_head.losses.len() - 1,
            converged: final_head.converged,
        };
        Ok(taught.into_ts()?)
    }

    /// Runs the loaded file's own head and names again (after `teach`); resolves to the
    /// weights info. Does nothing when no taught head runs.
    #[wasm_bindgen(js_name = restoreHead)]
    pub async fn restore_head(&self) -> Result<Ts<WeightsInfo>, JsError> {
        let file_head = self.state.borrow_mut().file_head.take();
        if let Some((fc, names, unknown)) = file_head {
            let out_f = fc.out_f;
            let back = fc.clone();
            if let Err(e) = with_engine(&self.state, async |e| e.set_head(back)).await {
                self.state.borrow_mut().file_head = Some((fc, names, unknown));
                return Err(e);
            }
            set_names(&mut self.state.borrow_mut(), out_f, names, unknown)?;
        }
        let s = self.state.borrow();
        let info = s
            .info
            .as_ref()
            .ok_or_else(|| JsError::new("no model loaded"))?;
        Ok(WeightsInfo::from(info).into_ts()?)
    }

    /// The loaded weights file with the head that runs now and its class names, as F32
    /// `.safetensors` bytes under the original names (torchvision's `fc.*`): PyTorch loads
    /// it into the same architecture built with `num_classes` = the class count.
    #[wasm_bindgen(js_name = exportModel)]
    pub fn export_model(&self) -> Result<Vec<u8>, JsError> {
        let s = self.state.borrow();
        let (Some(engine), Some(info), Some(source)) = (&s.engine, &s.info, &s.source) else {
            return Err(JsError::new(
                "no model loaded, or a frame is running: await it first",
            ));
        };
        crate::weights::export_with_head(
            source,
            &engine.network().fc,
            &info.class_names,
            info.unknown.as_deref(),
            false,
        )
        .map_err(js_err)
    }
}

/// The loaded model's info now that its head has `classes` outputs named `names`, with the
/// head's "none of these" (`unknown`).
fn set_names(
    s: &mut State,
    classes: usize,
    names: Arc<ClassNames>,
    unknown: Option<Arc<Unknown>>,
) -> Result<WeightsInfo, JsError> {
    let info = s
        .info
        .as_mut()
        .ok_or_else(|| JsError::new("no model loaded"))?;
    info.arch.num_classes = classes;
    info.class_names = names;
    info.unknown = unknown;
    Ok(WeightsInfo::from(&*info))
}
