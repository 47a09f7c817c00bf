//! The contract every backend meets, and what a run returns, whichever backend ran it.

use std::future::Future;
use std::pin::Pin;

use crate::model::{Linear, Stage};
use crate::preprocess::{self, Crop};
use crate::tensor::Tensor;
use crate::{Error, Result};

/// A future that stays on its thread: wasm's (JavaScript promises) are not `Send`.
pub type LocalFuture<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;

/// What a backend does beyond running a normalized batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Capabilities {
    /// Crops, resizes and normalizes RGBA frames on its own device (no CPU resize).
    pub device_preprocessing: bool,
    /// How it times stages.
    pub timing: TimingMethod,
}

/// An RGBA frame: `width * height * 4` bytes, row-major.
#[derive(Clone, Copy, Debug)]
pub struct RgbaFrame<'a> {
    pub pixels: &'a [u8],
    pub width: u32,
    pub height: u32,
}

/// One way of running a loaded network. The reference loops, the fast CPU kernels and the
/// WebGPU kernels implement it; the engine and the conformance suite see only this.
pub trait Backend {
    /// "cpu-reference", "cpu-simd128", "webgpu", ...
    fn name(&self) -> &'static str;

    fn capabilities(&self) -> Capabilities;

    /// Runs an already normalized `N x 3 x H x W` batch (checked with `model::check_input`).
    fn run<'a>(&'a mut self, input: &'a Tensor) -> LocalFuture<'a, Result<Output>>;

    /// Preprocesses an RGBA frame as torchvision evaluates (`crop`) and classifies it. By
    /// default on the CPU; backends with `device_preprocessing` do it themselves.
    fn run_rgba<'a>(
        &'a mut self,
        frame: RgbaFrame<'a>,
        crop: Crop,
    ) -> LocalFuture<'a, Result<Output>> {
        Box::pin(async move {
            let input = preprocess::rgba_to_tensor(
                frame.pixels,
                frame.width as usize,
                frame.height as usize,
                crop,
            )?;
            self.run(&input).await
        })
    }

    /// Classifies an ImageBitmap. By default its pixels are read through a 2D canvas.
    #[cfg(target_arch = "wasm32")]
    fn run_image_bitmap<'a>(
        &'a mut self,
        bitmap: &'a web_sys::ImageBitmap,
        crop: Crop,
    ) -> LocalFuture<'a, Result<Output>> {
        Box::pin(async move {
            let pixels = preprocess::bitmap_pixels(bitmap)?;
            let frame = RgbaFrame {
                pixels: &pixels,
                width: bitmap.width(),
                height: bitmap.height(),
            };
            self.run_rgba(frame, crop).await
        })
    }

    /// The activations after the stem and each stage (`[N, C, H, W]`, NCHW), for the
    /// conformance suite's per-stage checks.
    #[cfg(feature = "testing")]
    fn stage_outputs<'a>(&'a mut self, input: &'a Tensor) -> LocalFuture<'a, Result<[Tensor; 4]>>;

    /// The largest frame side it takes (a device's texture limit); `None`: no limit of its own.
    fn max_frame_side(&self) -> Option<u32> {
        None
    }

    /// Replaces the classifier with `fc` (a taught head) and keeps the backbone as loaded.
    /// `fc` is checked with `check_head` first; on error nothing changes.
    fn set_head(&mut self, fc: &Linear) -> Result<()>;

    /// The GPU adapter's name, for backends that run on one.
    fn adapter_name(&self) -> Option<String> {
        None
    }

    /// Dispatch and transfer figures of the last frame, for the WebGPU backend.
    #[cfg(feature = "gpu")]
    fn gpu_stats(&self) -> Option<crate::gpu::GpuStats> {
        None
    }
}

/// How per-stage times were measured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimingMethod {
    /// Wall clock around each stage on the CPU.
    CpuClock,
    /// GPU timestamp queries written between compute passes.
    GpuTimestamps,
    /// Wall clock with a GPU fence (wait for idle) after each stage: profiling only.
    GpuFenced,
    /// Only the whole frame was timed; stage times are not known.
    FrameOnly,
}

impl TimingMethod {
    pub fn name(self) -> &'static str {
        match self {
            TimingMethod::CpuClock => "cpu-clock",
            TimingMethod::GpuTimestamps => "gpu-timestamps",
            TimingMethod::GpuFenced => "gpu-fenced",
            TimingMethod::FrameOnly => "frame-only",
        }
    }
}

/// Milliseconds per stage, in `Stage::ALL` order.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StageTimes {
    pub ms: [f64; 5],
    pub method: TimingMethod,
    /// The clock's resolution when it is coarse (browsers round GPU timestamps to 0.1 ms);
    /// `ms` is then a running mean.
    pub resolution_ms: Option<f64>,
    /// Frames `ms` is the mean of (1: this frame's own times).
    pub frames_averaged: usize,
}

impl StageTimes {
    pub fn total(&self) -> f64 {
        self.ms.iter().sum()
    }

    pub fn get(&self, stage: Stage) -> f64 {
        self.ms[stage as usize]
    }
}

/// Logits and pooled features for a batch, and how long each stage took.
#[derive(Clone, Debug)]
pub struct Output {
    pub batch: usize,
    pub classes: usize,
    /// `[batch][classes]`.
    pub logits: Vec<f32>,
    /// Values per image of `features`: conv5's channels (1024, or 2048 for x2.0).
    pub feature_len: usize,
    /// `[batch][feature_len]`: conv5 after the global average pool, what the fc reads (a
    /// taught head trains on these).
    pub features: Vec<f32>,
    pub times: StageTimes,
}

impl Output {
    pub fn logits_of(&self, image: usize) -> &[f32] {
        &self.logits[image * self.classes..(image + 1) * self.classes]
    }

    pub fn features_of(&self, image: usize) -> &[f32] {
        &self.features[image * self.feature_len..(image + 1) * self.feature_len]
    }
}

/// Stage timer on the CPU clock (works in the browser through `web_time`).
pub struct StageClock {
    start: web_time::Instant,
    ms: [f64; 5],
}

impl Default for StageClock {
    fn default() -> Self {
        StageClock {
            start: web_time::Instant::now(),
            ms: [0.0; 5],
        }
    }
}

impl StageClock {
    /// Charge the time since the last call to `stage`.
    pub fn lap(&mut self, stage: Stage) {
        let now = web_time::Instant::now();
        self.ms[stage as usize] += (now - self.start).as_secs_f64() * 1e3;
        self.start = now;
    }

    pub fn finish(self) -> StageTimes {
        StageTimes {
            ms: self.ms,
            method: TimingMethod::CpuClock,
            resolution_ms: None,
            frames_averaged: 1,
        }
    }
}

/// Checks a classifier against the `feature_len` features it will read.
pub fn check_head(fc: &Linear, feature_len: usize) -> Result<()> {
    if fc.in_f != feature_len || fc.out_f == 0 {
        return Err(Error::Input(format!(
            "a head must map {feature_len} features to at least one class, got {} -> {}",
            fc.in_f, fc.out_f
        )));
    }
    if fc.weight.len() != fc.in_f * fc.out_f || fc.bias.len() != fc.out_f {
        return Err(Error::Input("head weights do not match its shape".into()));
    }
    if let Some(index) = fc
        .weight
        .iter()
        .chain(&fc.bias)
        .position(|v| !v.is_finite())
    {
        return Err(Error::NonFinite {
            name: "fc".into(),
            index,
        });
    }
    Ok(())
}
