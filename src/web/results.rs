//! What the browser API resolves to, as typed objects: tsify writes their TypeScript
//! interfaces into the generated `.d.ts`, and serde-wasm-bindgen builds plain JS objects
//! (they survive `postMessage` as they are). Returned as `tsify::Ts<T>`, which hands the
//! object over without the leak of tsify's `into_wasm_abi`.

use serde::Serialize;
use tsify::Tsify;

use crate::backend::Output;
use crate::classes::Source;
use crate::model::Stage;
use crate::weights::Info;

/// What a weights file holds.
#[derive(Serialize, Tsify)]
pub struct WeightsInfo {
    /// e.g. "ShuffleNetV2 x1.0, 1000 classes".
    pub arch: String,
    /// "0.5", "1.0", "1.5" or "2.0"; absent for a custom architecture.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[tsify(optional)]
    pub width: Option<String>,
    pub dtype: String,
    pub params: usize,
    pub format: String,
    pub bytes: usize,
    pub classes: usize,
    /// Pooled features per image (conv5's channels): what a taught head reads.
    #[serde(rename = "featureLen")]
    pub feature_len: usize,
    /// Where the class names come from: "imagenet" (a 1000-class head), "numbered" (none
    /// known: "class 3") or "given" (the file's metadata, or a names file).
    #[serde(rename = "classNames")]
    pub class_names: String,
}

impl From<&Info> for WeightsInfo {
    fn from(info: &Info) -> Self {
        WeightsInfo {
            arch: info.arch.describe(),
            width: info.arch.known_width().map(|w| w.label().to_string()),
            dtype: info.dtype.name().into(),
            params: info.params,
            format: info.format.name().into(),
            bytes: info.file_bytes,
            classes: info.arch.num_classes,
            feature_len: info.arch.stages_out_channels[4],
            class_names: match info.class_names.source() {
                Source::ImageNet => "imagenet",
                Source::Numbered => "numbered",
                Source::Given => "given",
            }
            .into(),
        }
    }
}

/// `loadUrl`'s result.
#[derive(Serialize, Tsify)]
pub struct Loaded {
    pub info: WeightsInfo,
    /// The bytes came from the Cache API, not the network.
    pub cached: bool,
    pub bytes: usize,
}

/// Milliseconds per stage of the network.
#[derive(Serialize, Tsify)]
pub struct StageMs {
    pub stem: f64,
    pub stage2: f64,
    pub stage3: f64,
    pub stage4: f64,
    pub head: f64,
}

impl From<&Output> for StageMs {
    fn from(out: &Output) -> Self {
        let t = |s| out.times.get(s);
        StageMs {
            stem: t(Stage::Stem),
            stage2: t(Stage::Stage2),
            stage3: t(Stage::Stage3),
            stage4: t(Stage::Stage4),
            head: t(Stage::Head),
        }
    }
}

/// How a frame was run and timed.
#[derive(Serialize, Tsify)]
#[serde(rename_all = "camelCase")]
pub struct RunInfo {
    pub stages: StageMs,
    pub total_ms: f64,
    /// "webgpu" or "cpu".
    pub backend: String,
    /// How the stage times were measured.
    pub timing: String,
    /// The WebGPU kernel set ("hardware" or "software"); absent on the CPU.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[tsify(optional)]
    pub kernels: Option<String>,
    /// The stage clock's resolution when it is coarse (stage times are then a running mean
    /// over `framesAveraged` frames).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[tsify(optional)]
    pub resolution_ms: Option<f64>,
    pub frames_averaged: usize,
}

/// One of the top classes.
#[derive(Serialize, Tsify)]
pub struct ClassScore {
    pub index: usize,
    pub name: String,
    pub prob: f32,
}

/// A classified frame.
#[derive(Serialize, Tsify)]
// `flatten` serializes through a map: make that a plain object, not a JS Map.
#[tsify(hashmap_as_object)]
pub struct Prediction {
    pub top: Vec<ClassScore>,
    /// Why WebGPU is not running frames, when it was wanted.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[tsify(optional)]
    pub fallback: Option<String>,
    /// The pooled features (conv5's channels after global pooling), when asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[tsify(optional)]
    pub features: Option<Vec<f32>>,
    #[serde(flatten)]
    pub run: RunInfo,
}

/// `runTensor`'s result: raw logits, `[batch][classes]` flattened.
#[derive(Serialize, Tsify)]
// `flatten` serializes through a map: make that a plain object, not a JS Map.
#[tsify(hashmap_as_object)]
pub struct Logits {
    pub logits: Vec<f32>,
    pub classes: usize,
    #[serde(flatten)]
    pub run: RunInfo,
}

/// Per-frame GPU work while WebGPU runs frames.
#[cfg(feature = "gpu")]
#[derive(Serialize, Tsify)]
pub struct GpuStats {
    pub dispatches_per_frame: usize,
    pub submits_per_frame: usize,
    pub readbacks_per_frame: usize,
    pub bytes_uploaded_per_frame: u64,
    pub bytes_read_back_per_frame: u64,
    pub weight_bytes: u64,
    pub kernels: String,
    /// "f16" (`shader-f16`) or "f32": how the weights are kept on the GPU.
    pub weights: String,
    /// The hardware set reduced with subgroup operations: the classifier, and the head
    /// where `subgroup_head_lanes` > 0.
    pub subgroups: bool,
    /// Lanes summing one pixel's slices in conv5 + pool with subgroup operations (0: the
    /// head reduced through workgroup memory, as always in browsers with wgpu 30).
    pub subgroup_head_lanes: usize,
    pub invocations_per_frame: u64,
    pub min_invocations_per_dispatch: u64,
    pub max_serial_steps: u64,
}

#[cfg(feature = "gpu")]
impl From<crate::gpu::GpuStats> for GpuStats {
    fn from(g: crate::gpu::GpuStats) -> Self {
        GpuStats {
            dispatches_per_frame: g.dispatches_per_frame,
            submits_per_frame: g.submits_per_frame,
            readbacks_per_frame: g.readbacks_per_frame,
            bytes_uploaded_per_frame: g.bytes_uploaded_per_frame,
            bytes_read_back_per_frame: g.bytes_read_back_per_frame,
            weight_bytes: g.weight_bytes,
            kernels: g.kernels.name().into(),
            weights: if g.f16_weights { "f16" } else { "f32" }.into(),
            subgroups: g.subgroups.classifier,
            subgroup_head_lanes: g.subgroups.head_lanes,
            invocations_per_frame: g.shape.invocations,
            min_invocations_per_dispatch: g.shape.min_invocations_per_dispatch,
            max_serial_steps: g.shape.max_serial_steps,
        }
    }
}

/// How one class did on the held-out samples.
#[derive(Serialize, Tsify)]
pub struct ClassHeldOut {
    pub name: String,
    pub right: usize,
    pub total: usize,
}

/// `teach`'s result: the head now running, and how well a head trained without the
/// held-out samples classified them.
#[derive(Serialize, Tsify)]
#[serde(rename_all = "camelCase")]
pub struct Taught {
    pub info: WeightsInfo,
    pub samples: usize,
    pub train_accuracy: f32,
    pub held_out: Vec<ClassHeldOut>,
    pub held_out_right: usize,
    pub held_out_total: usize,
    pub ms: f64,
    pub steps: usize,
    pub converged: bool,
}
