//! The contract every backend meets, and what a run returns, whichever backend ran it.

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;

use crate::model::{Linear, Stage};
use crate::preprocess::{self, Crop};
use crate::tensor::Tensor;
use crate::yuv::YuvFrame;
use crate::{Error, Result};

/// A future that stays on its thread: wasm's (JavaScript promises) are not `Send`.
pub type LocalFuture<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;

/// What a backend does beyond running a normalized batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Capabilities {
    /// Crops, resizes and normalizes picture frames on its own device (no CPU resize).
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

/// One frame to classify, in the form the caller has it. Pictures are preprocessed as
/// torchvision evaluates (`Crop`): on the device by backends with `device_preprocessing`,
/// else on the CPU (`to_tensor`).
#[derive(Clone, Debug)]
pub enum Frame<'a> {
    /// An already normalized `N x 3 x H x W` batch (checked with `model::check_input`).
    Tensor(&'a Tensor),
    /// RGBA pixels.
    Rgba(RgbaFrame<'a>, Crop),
    /// A camera frame in its own YUV layout: read on the CPU whatever the backend.
    Yuv(YuvFrame<'a>, Crop),
    /// An ImageBitmap (a video frame, an image, a canvas). On WebGPU the browser copies it
    /// straight into a texture; on the CPU its pixels are read through a 2D canvas.
    #[cfg(target_arch = "wasm32")]
    Bitmap(&'a web_sys::ImageBitmap, Crop),
}

impl<'a> Frame<'a> {
    /// A picture's width and height (what a device's texture limit applies to); `None` for
    /// a tensor.
    pub fn picture_size(&self) -> Option<(u32, u32)> {
        match self {
            Frame::Tensor(_) => None,
            Frame::Rgba(f, _) => Some((f.width, f.height)),
            Frame::Yuv(f, _) => Some((f.width, f.height)),
            #[cfg(target_arch = "wasm32")]
            Frame::Bitmap(b, _) => Some((b.width(), b.height())),
        }
    }

    /// The frame as a normalized batch, preprocessed on the CPU.
    pub fn to_tensor(self) -> Result<Cow<'a, Tensor>> {
        self.to_tensor_in(preprocess::ONE_BAND)
    }

    /// `to_tensor`, the resize cut in `bands` (on a CPU backend's threads): the same bits.
    pub fn to_tensor_in(self, bands: preprocess::Bands<'_>) -> Result<Cow<'a, Tensor>> {
        let (pixels, width, height, crop) = match self {
            Frame::Tensor(t) => return Ok(Cow::Borrowed(t)),
            Frame::Rgba(f, crop) => (Cow::Borrowed(f.pixels), f.width, f.height, crop),
            // Read straight from its planes: only the pixels the filter reads.
            Frame::Yuv(f, crop) => {
                f.check()?;
                let size = (f.width as usize, f.height as usize);
                return Ok(Cow::Owned(preprocess::rows_to_tensor(
                    &f, size, &f.held, crop, bands,
                )?));
            }
            // Only the pixels the filter reads come back from the browser.
            #[cfg(target_arch = "wasm32")]
            Frame::Bitmap(b, crop) => {
                let size = (b.width() as usize, b.height() as usize);
                let win = preprocess::window(size.0, size.1, crop)?;
                let pixels = preprocess::bitmap_pixels(b, &win)?;
                let x = preprocess::window_to_tensor(&pixels, size, &win, 4, crop, bands)?;
                return Ok(Cow::Owned(x));
            }
        };
        let (w, h) = (width as usize, height as usize);
        Ok(Cow::Owned(preprocess::pixels_to_tensor_in(
            &pixels, w, h, 4, crop, bands,
        )?))
    }
}

impl<'a> From<&'a Tensor> for Frame<'a> {
    fn from(input: &'a Tensor) -> Frame<'a> {
        Frame::Tensor(input)
    }
}

/// What a backend is and what its last frame cost, in one value.
#[derive(Clone, Debug, PartialEq)]
pub struct BackendInfo {
    /// "cpu-reference", "cpu-simd128", "webgpu", ...
    pub name: &'static str,
    pub capabilities: Capabilities,
    /// The GPU adapter's name, for backends that run on one.
    pub adapter: Option<String>,
    /// The largest picture side it takes (a device's texture limit); `None`: no limit of
    /// its own.
    pub max_frame_side: Option<u32>,
    /// Device work of the last frame, for backends that run on a device.
    pub stats: Option<DeviceStats>,
}

impl BackendInfo {
    /// A CPU backend's: pictures preprocessed and stages timed on the CPU, no device.
    pub fn cpu(name: &'static str) -> BackendInfo {
        BackendInfo {
            name,
            capabilities: Capabilities {
                device_preprocessing: false,
                timing: TimingMethod::CpuClock,
            },
            adapter: None,
            max_frame_side: None,
            stats: None,
        }
    }
}

/// The device work of the last frame, and the weights uploaded once: what any device
/// backend counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(target_arch = "wasm32", derive(serde::Serialize, tsify::Tsify))]
pub struct FrameCounts {
    pub dispatches_per_frame: usize,
    pub submits_per_frame: usize,
    pub readbacks_per_frame: usize,
    pub bytes_uploaded_per_frame: u64,
    pub bytes_read_back_per_frame: u64,
    /// Weights uploaded once at load.
    pub weight_bytes: u64,
    pub frames: u64,
}

/// What the last frame cost on a device (the WebGPU backend's figures, in terms any device
/// backend can fill), for benchmarks and the page.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(target_arch = "wasm32", derive(serde::Serialize, tsify::Tsify))]
pub struct DeviceStats {
    /// The kernel set that ran ("hardware" or "software").
    pub kernels: &'static str,
    /// "f16" (`shader-f16`) or "f32": how the weights are kept on the device.
    pub weights: &'static str,
    /// The classifier (and the head where `subgroup_head_lanes` > 0) reduced with
    /// subgroup operations.
    pub subgroups: bool,
    /// Lanes summing one pixel's slices in conv5 + pool with subgroup operations (0: the
    /// head reduced through workgroup memory, as always in browsers with wgpu 30).
    pub subgroup_head_lanes: usize,
    /// The device's narrowest and widest subgroups, where it has them.
    pub subgroup_sizes: Option<[u32; 2]>,
    #[cfg_attr(target_arch = "wasm32", serde(flatten))]
    pub counts: FrameCounts,
    /// The last frame's work shape.
    pub invocations_per_frame: u64,
    pub min_invocations_per_dispatch: u64,
    pub max_serial_steps: u64,
}

/// One way of running a loaded network. The reference loops, the fast CPU kernels and the
/// WebGPU kernels implement it; the engine and the conformance suite see only this.
pub trait Backend {
    /// What it is, and what its last frame cost.
    fn info(&self) -> BackendInfo;

    /// A frame is coming: wake what it will run on (the CPU's idle threads), so that the
    /// work before it (reading the frame in) hides the wake-up.
    fn prepare(&self) {}

    /// Classifies one frame (a batch, for a tensor).
    fn run<'a>(&'a mut self, frame: Frame<'a>) -> LocalFuture<'a, Result<Output>>;

    /// The activations after the stem and each stage (`[N, C, H, W]`, NCHW), for the
    /// conformance suite's per-stage checks.
    #[cfg(feature = "testing")]
    fn stage_outputs<'a>(&'a mut self, input: &'a Tensor) -> LocalFuture<'a, Result<[Tensor; 4]>>;

    /// Replaces the classifier with `fc` (a taught head) and keeps the backbone as loaded.
    /// `fc` is checked with `check_head` first; on error nothing changes.
    fn set_head(&mut self, fc: &Linear) -> Result<()>;
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
    /// CPU threads the frame ran on: the fast CPU's choice (see `cpu::fast::adapt`), 1 on
    /// the other backends.
    pub threads: usize,
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
