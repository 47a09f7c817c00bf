//! What the browser API resolves to, as typed objects: tsify writes their TypeScript
//! interfaces into the generated `.d.ts`, and serde-wasm-bindgen builds plain JS objects
//! (they survive `postMessage` as they are). Returned as `tsify::Ts<T>`, which hands the
//! object over without the leak of tsify's `into_wasm_abi`.

use serde::Serialize;
use tsify::Tsify;

use crate::backend::Output;
use crate::classes::Source;
use crate::model::{Stage, Width};
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
    /// CPU threads the frame ran on (the fast CPU runs on one while that is faster).
    pub threads: usize,
}

/// Who runs frames, and why not WebGPU when it was wanted.
#[derive(Clone, PartialEq, Serialize, Tsify)]
#[serde(rename_all = "camelCase")]
pub struct Status {
    /// The backend that runs the next frame: "webgpu", "cpu-simd128", ...; "none" before
    /// the first load.
    pub backend: String,
    /// The GPU adapter while WebGPU runs frames.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[tsify(optional)]
    pub adapter: Option<String>,
    /// Why WebGPU is not running frames, when it was wanted.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[tsify(optional)]
    pub fallback_reason: Option<String>,
    /// Threads of the fast CPU backend, the caller's included (`setCpuThreads`).
    pub cpu_threads: usize,
}

/// What the crate names and allows, for pages and tools to read instead of copying.
#[derive(Serialize, Tsify)]
#[serde(rename_all = "camelCase")]
pub struct Limits {
    /// The timed stages, in order: the keys of `RunInfo.stages`.
    pub stages: Vec<String>,
    /// The widths torchvision publishes weights for ("0.5", "1.0", "1.5", "2.0").
    pub widths: Vec<String>,
    /// The largest weights file a load accepts.
    pub max_weights_bytes: usize,
    /// The largest class names file `setClassNames` accepts.
    pub max_names_bytes: usize,
}

impl Limits {
    pub fn of_this_crate() -> Limits {
        Limits {
            stages: Stage::ALL.iter().map(|s| s.name().into()).collect(),
            widths: Width::ALL.iter().map(|w| w.label().into()).collect(),
            max_weights_bytes: crate::weights::MAX_FILE_BYTES,
            max_names_bytes: crate::classes::MAX_FILE_BYTES,
        }
    }
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
    /// The engine's status, when it changed since it was last reported (WebGPU failed and
    /// the CPU took over): it travels once per change, not with every frame.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[tsify(optional)]
    pub status: Option<Status>,
    /// The pooled features (conv5's channels after global pooling), when asked for.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "typed_array"
    )]
    #[tsify(optional, type = "Float32Array")]
    pub features: Option<js_sys::Float32Array>,
    /// True when the model carries a taught head's "none of these" (teach::Unknown) and the
    /// frame is far from every taught class: the page then names no class.
    pub unknown: bool,
    #[serde(flatten)]
    pub run: RunInfo,
}

/// `runTensor`'s result: raw logits, `[batch][classes]` flattened.
#[derive(Serialize, Tsify)]
// `flatten` serializes through a map: make that a plain object, not a JS Map.
#[tsify(hashmap_as_object)]
pub struct Logits {
    #[serde(with = "tsify::serde_wasm_bindgen::preserve")]
    #[tsify(type = "Float32Array")]
    pub logits: js_sys::Float32Array,
    pub classes: usize,
    #[serde(flatten)]
    pub run: RunInfo,
}

/// How one class did on the held-out samples.
#[derive(Serialize, Tsify)]
pub struct ClassHeldOut {
    pub name: String,
    pub right: usize,
    pub total: usize,
    /// How many of this class's held-out samples went to each class (a confusion row).
    pub predicted: Vec<usize>,
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

/// Hands a typed array over as the object it is: serde would build a JS number per element
/// (for 1000 logits, 0.06 ms of a frame).
fn typed_array<S: serde::Serializer>(
    a: &Option<js_sys::Float32Array>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match a {
        Some(a) => tsify::serde_wasm_bindgen::preserve::serialize(a, s),
        None => s.serialize_none(),
    }
}
