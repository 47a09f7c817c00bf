//! The WebGPU backend: the whole network as 35 fused compute dispatches per frame (the
//! tutorial's network: 30, one per conv), one command buffer, one small readback.
//!
//! * `shaders` — the WGSL kernels of both kernel sets (`shaders/`, each says what it fuses
//!   and why), composed from shared pieces and the WGSL of `params`' parameter blocks.
//! * `options` — what callers choose (kernel set, timing) and the faults tests force.
//! * `packed` — all weights in one buffer, uploaded once.
//! * `plan` — buffers, bind groups and dispatches for one input shape, built once;
//!   `cache` keeps the plans of recent shapes and the RGBA frame's.
//! * `submit` — recording, submitting and reading back one frame.
//! * `shape` — the work shape of each dispatch; `timing` — honest stage times.
//! * `pipelines` — shader modules and pipelines, built once at load.
//! * `context` — adapter, device, and device health (errors, loss).
//! * `lab` — the guidelines' benchmark networks on the same kernels.

mod cache;
mod context;
mod contract;
mod frame;
mod lab;
mod options;
mod packed;
mod params;
mod pipelines;
mod plan;
mod shaders;
mod shape;
mod submit;
#[cfg(feature = "testing")]
mod testing;
mod timing;

use crate::backend::{FrameCounts, Output, RgbaFrame, TimingMethod};
use crate::model::check_input;
use crate::model::{Linear, Network, Skeleton};
use crate::tensor::Tensor;
use crate::{Error, Result};
use context::Context;
pub use frame::Crop;
use frame::FrameInput;
pub use lab::LabGpu;
pub use options::{
    GpuFault, GpuOptions, KernelChoice, KernelSet, Profiling, SubgroupUse, WeightPrecision,
};
use packed::Offsets;
use pipelines::Pipelines;
pub use shape::{table as shape_table, DispatchShape, FrameShape};
#[cfg(feature = "testing")]
pub use testing::LiveObjects;
use timing::StageEstimator;

/// Begin and end timestamps of the five stage passes, at the front of the readback buffer.
const TIMESTAMP_BYTES: u64 = 5 * 2 * 8;

/// What the last frame cost, for benchmarks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GpuStats {
    /// The kernel set that ran.
    pub kernels: KernelSet,
    /// Weights were f16 on the GPU (`shader-f16`), else f32.
    pub f16_weights: bool,
    /// The reductions done with subgroup operations (`fc_subgroup`, `head_subgroup`).
    pub subgroups: SubgroupUse,
    /// The device's narrowest and widest subgroups, where it has them.
    pub subgroup_sizes: Option<[u32; 2]>,
    pub counts: FrameCounts,
    /// The last frame's work shape.
    pub shape: FrameShape,
}

/// The work shape of every dispatch of a `[batch, height, width]` frame of `net` with
/// `set`'s kernels (`subgroups`: the hardware set's subgroup reductions): from the plan, no
/// GPU needed.
pub fn work_shape(
    net: &Network,
    set: KernelSet,
    subgroups: SubgroupUse,
    shape: [usize; 3],
) -> Vec<DispatchShape> {
    let subgroups = if set == KernelSet::Hardware {
        subgroups
    } else {
        SubgroupUse::NONE
    };
    let (_, offsets) = Offsets::pack(net, subgroups.classifier);
    plan::work_shape(&net.skeleton(), &offsets, set, subgroups.head_lanes, shape)
}

pub struct GpuBackend {
    ctx: Context,
    pipes: Pipelines,
    skeleton: Skeleton,
    classes: usize,
    /// conv5's channels: the pooled features per image.
    feature_len: usize,
    offsets: Offsets,
    weights: wgpu::Buffer,
    weight_bytes: u64,
    /// Timestamp query set and the buffer it resolves into.
    queries: Option<(wgpu::QuerySet, wgpu::Buffer)>,
    plans: cache::Plans,
    estimator: StageEstimator,
    options: GpuOptions,
    frames: u64,
    last: GpuStats,
}

impl GpuBackend {
    pub async fn new(net: &Network) -> Result<GpuBackend> {
        GpuBackend::with_options(net, GpuOptions::default()).await
    }

    /// Opens the device, builds every pipeline of the kernel set, uploads the weights and
    /// runs one warm-up frame so the first real frame is not the slow one.
    pub async fn with_options(net: &Network, options: GpuOptions) -> Result<GpuBackend> {
        let ctx = Context::acquire(options.fault()).await?;
        let set = options.kernels.resolve(ctx.device_type);
        let f16 = options.weights.resolve(ctx.f16, ctx.device_type);
        let subgroups = if set == KernelSet::Hardware {
            options.subgroup_use(ctx.subgroups.map(|[min, _]| min))
        } else {
            SubgroupUse::NONE
        };
        let subgroup_sizes = ctx.subgroups;
        let pipes = Pipelines::build(
            &ctx.device,
            set,
            f16,
            subgroups,
            options.fault() == Some(GpuFault::PipelineFailure),
        )
        .await?;
        let (data, offsets) = Offsets::pack(net, subgroups.classifier);
        let bytes = weight_bytes(&data, f16);
        let weights = wgpu::util::DeviceExt::create_buffer_init(
            &ctx.device,
            &wgpu::util::BufferInitDescriptor {
                label: Some("weights"),
                contents: &bytes,
                usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
            },
        );
        let queries = ctx.timestamps.then(|| {
            let set = ctx.device.create_query_set(&wgpu::QuerySetDescriptor {
                label: Some("stage timestamps"),
                ty: wgpu::QueryType::Timestamp,
                count: 10,
            });
            let resolve = ctx.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("timestamp resolve"),
                size: TIMESTAMP_BYTES,
                usage: wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC,
                mapped_at_creation: false,
            });
            (set, resolve)
        });
        let mut gpu = GpuBackend {
            ctx,
            pipes,
            skeleton: net.skeleton(),
            classes: net.fc.out_f,
            feature_len: net.conv5.out_ch,
            offsets,
            weights,
            weight_bytes: bytes.len() as u64,
            queries,
            plans: cache::Plans::default(),
            estimator: StageEstimator::new(timing::WINDOW),
            options,
            frames: 0,
            last: GpuStats {
                kernels: set,
                f16_weights: f16,
                subgroups,
                subgroup_sizes,
                counts: FrameCounts::default(),
                shape: FrameShape::default(),
            },
        };
        let side = options.warm_up_side;
        if side > 0 {
            let warm = Tensor::zeros([1, 3, side, side]);
            gpu.run_frame(&warm).await?;
            // The warm-up frame's times say nothing about steady frames.
            gpu.estimator = StageEstimator::new(timing::WINDOW);
        }
        Ok(gpu)
    }

    pub fn adapter_name(&self) -> String {
        self.ctx.adapter_name.clone()
    }

    /// The kernel set this backend runs.
    pub fn kernel_set(&self) -> KernelSet {
        self.pipes.set
    }

    pub fn timing_method(&self) -> TimingMethod {
        if self.options.profiling == Profiling::Fenced {
            TimingMethod::GpuFenced
        } else if self.queries.is_some() {
            TimingMethod::GpuTimestamps
        } else {
            TimingMethod::FrameOnly
        }
    }

    pub fn stats(&self) -> GpuStats {
        GpuStats {
            counts: FrameCounts {
                weight_bytes: self.weight_bytes,
                frames: self.frames,
                ..self.last.counts
            },
            ..self.last
        }
    }

    /// Runs a batch (N x 3 x H x W, already normalized).
    async fn run_tensor(&mut self, input: &Tensor) -> Result<Output> {
        check_input(input)?;
        let out = self.run_frame(input).await?;
        self.frames += 1;
        Ok(out)
    }

    async fn run_frame(&mut self, input: &Tensor) -> Result<Output> {
        self.before_frame()?;
        let [n, _, h, w] = input.shape;
        let plan = self.plan_for([n, h, w])?;
        self.ctx.queue.write_buffer(
            &self.plans.get(plan).input,
            0,
            bytemuck::cast_slice(&input.data),
        );
        let frame = self.execute(self.plans.get(plan), None).await?;
        self.finish_frame(frame, (input.data.len() * 4) as u64)
    }

    /// Classifies one RGBA frame (`width * height * 4` bytes): crop, resize and
    /// normalization run in a shader, then the network, all in the same command buffer.
    async fn run_rgba(&mut self, frame: RgbaFrame<'_>, crop: Crop) -> Result<Output> {
        let RgbaFrame {
            pixels: rgba,
            width,
            height,
        } = frame;
        if rgba.len() as u64 != u64::from(width) * u64::from(height) * 4 {
            return Err(Error::Input(format!(
                "expected {width} x {height} RGBA pixels ({} bytes), got {} bytes",
                u64::from(width) * u64::from(height) * 4,
                rgba.len()
            )));
        }
        let texture = self.frame_texture(width, height, crop)?;
        self.ctx.queue.write_texture(
            texture.as_image_copy(),
            rgba,
            wgpu::TexelCopyBufferLayout {
                offset: 0,
                bytes_per_row: Some(width * 4),
                rows_per_image: Some(height),
            },
            texture.size(),
        );
        self.run_prepared_frame(rgba.len() as u64).await
    }

    /// Classifies an ImageBitmap (a video frame, say): the browser copies it straight into
    /// the frame texture with `copyExternalImageToTexture`, so its pixels never pass
    /// through wasm memory.
    #[cfg(target_arch = "wasm32")]
    async fn run_bitmap(&mut self, bitmap: &web_sys::ImageBitmap, crop: Crop) -> Result<Output> {
        let (width, height) = (bitmap.width(), bitmap.height());
        let texture = self.frame_texture(width, height, crop)?;
        let size = texture.size();
        self.ctx.queue.copy_external_image_to_texture(
            &wgpu::CopyExternalImageSourceInfo {
                source: wgpu::ExternalImageSource::ImageBitmap(bitmap.clone()),
                origin: wgpu::Origin2d::ZERO,
                flip_y: false,
            },
            wgpu::CopyExternalImageDestInfo {
                texture: &texture,
                mip_level: 0,
                origin: wgpu::Origin3d::ZERO,
                aspect: wgpu::TextureAspect::All,
                color_space: wgpu::PredefinedColorSpace::Srgb,
                premultiplied_alpha: false,
            },
            size,
        );
        self.run_prepared_frame(0).await
    }

    async fn run_prepared_frame(&mut self, upload: u64) -> Result<Output> {
        let (Some(plan), Some(input)) = (self.plans.frame_plan(), self.plans.frame_input()) else {
            return Err(Error::Gpu("frame plan missing".into()));
        };
        let frame = self.execute(plan, Some(&input.bind)).await?;
        let out = self.finish_frame(frame, upload)?;
        self.frames += 1;
        Ok(out)
    }
}

/// Weights as the kernels read them: f16 or f32.
fn weight_bytes(data: &[f32], f16: bool) -> Vec<u8> {
    if f16 {
        let halves: Vec<half::f16> = data.iter().map(|&v| half::f16::from_f32(v)).collect();
        bytemuck::cast_slice(&halves).to_vec()
    } else {
        bytemuck::cast_slice(data).to_vec()
    }
}

impl GpuBackend {
    /// Swaps in a taught classifier: the backbone's weights are copied on the device into a
    /// buffer ending in the new head (the classifier is packed last), nothing is reloaded.
    /// Plans are rebuilt on the next frame (their logits size and bindings change).
    pub fn set_head(&mut self, fc: &Linear) -> Result<()> {
        crate::backend::check_head(fc, self.feature_len)?;
        self.ctx.health.check()?;
        let (tail, offsets) = self.offsets.with_fc(fc);
        let f16 = self.last.f16_weights;
        let elem = if f16 { 2 } else { 4 };
        let backbone = u64::from(self.offsets.fc.w) * elem;
        let tail = weight_bytes(&tail, f16);
        let weights = self.ctx.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("weights"),
            size: backbone + tail.len() as u64,
            usage: wgpu::BufferUsages::STORAGE
                | wgpu::BufferUsages::COPY_SRC
                | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let mut enc = self
            .ctx
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("swap head"),
            });
        enc.copy_buffer_to_buffer(&self.weights, 0, &weights, 0, backbone);
        self.ctx.queue.write_buffer(&weights, backbone, &tail);
        self.ctx.queue.submit([enc.finish()]);
        self.weights = weights;
        self.weight_bytes = backbone + tail.len() as u64;
        self.offsets = offsets;
        self.classes = fc.out_f;
        // The skeleton's last layer is the fc: its width sizes the logits buffers.
        if let Some(last) = self.skeleton.layers.last_mut() {
            last.out_ch = Some(fc.out_f);
        }
        self.plans = cache::Plans::default();
        Ok(())
    }
}
