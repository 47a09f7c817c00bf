//! The WebGPU backend: the whole network as 35 fused compute dispatches per frame, one
//! command buffer, one small readback.
//!
//! * `shaders/` — the WGSL kernels (each says what it fuses and why).
//! * `packed` — all weights in one buffer, uploaded once.
//! * `plan` — buffers, bind groups and dispatches for one input shape, built once.
//! * `pipelines` — shader modules and pipelines, built once at load.
//! * `context` — adapter, device, and device health (errors, loss).

mod context;
mod frame;
mod packed;
mod params;
mod pipelines;
mod plan;

use crate::backend::{Output, StageTimes, TimingMethod};
use crate::cpu::reference::check_input;
use crate::model::{Network, Stage};
use crate::tensor::Tensor;
use crate::{Error, Result};
use context::Context;
pub use frame::Crop;
use frame::FrameInput;
use packed::Offsets;
use pipelines::Pipelines;
use plan::{Dims, Kernel, Plan};

/// Begin and end timestamps of the five stage passes, at the front of the readback buffer.
const TIMESTAMP_BYTES: u64 = 5 * 2 * 8;
/// Plans kept for different input shapes; older ones are dropped so memory stays bounded.
const PLANS_KEPT: usize = 2;

/// A failure forced on purpose, to test that each real failure path falls back cleanly.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GpuFault {
    /// Behave as a browser without `navigator.gpu`.
    NoWebGpu,
    /// Ask an instance with no backends for an adapter, which finds none.
    NoAdapter,
    /// Compile a shader with a syntax error, so pipeline creation fails.
    PipelineFailure,
    /// Destroy the device just before frame `frame` (0-based) runs.
    DeviceLost { frame: u64 },
}

/// How stages are timed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Profiling {
    /// Timestamp queries if the adapter has them, else only the frame time; one submit
    /// per frame either way.
    #[default]
    Auto,
    /// Profiling mode: submit and wait after every stage, timed on the CPU clock. Works
    /// without timestamp queries, at the cost of slower frames.
    Fenced,
}

#[derive(Clone, Copy, Debug)]
pub struct GpuOptions {
    pub fault: Option<GpuFault>,
    pub profiling: Profiling,
    /// Side of the square input the load-time warm-up frame uses (0: no warm-up).
    pub warm_up_side: usize,
}

impl Default for GpuOptions {
    fn default() -> Self {
        GpuOptions {
            fault: None,
            profiling: Profiling::Auto,
            warm_up_side: 224,
        }
    }
}

/// What the last frame cost, for benchmarks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GpuStats {
    pub dispatches_per_frame: usize,
    pub submits_per_frame: usize,
    pub readbacks_per_frame: usize,
    pub bytes_uploaded_per_frame: u64,
    pub bytes_read_back_per_frame: u64,
    /// Weights uploaded once at load.
    pub weight_bytes: u64,
    /// GPU buffers and textures the backend holds right now.
    pub live_buffers: usize,
    pub frames: u64,
}

pub struct GpuBackend {
    ctx: Context,
    pipes: Pipelines,
    dims: Dims,
    offsets: Offsets,
    weights: wgpu::Buffer,
    weight_bytes: u64,
    /// Timestamp query set and the buffer it resolves into.
    queries: Option<(wgpu::QuerySet, wgpu::Buffer)>,
    plans: Vec<Plan>,
    /// The 1 x 224 x 224 plan that RGBA frames use, and their texture.
    frame_plan: Option<Plan>,
    frame_input: Option<FrameInput>,
    options: GpuOptions,
    frames: u64,
    last: GpuStats,
}

impl GpuBackend {
    pub async fn new(net: &Network) -> Result<GpuBackend> {
        GpuBackend::with_options(net, GpuOptions::default()).await
    }

    /// Opens the device, builds every pipeline, uploads the weights and runs one
    /// warm-up frame so the first real frame is not the slow one.
    pub async fn with_options(net: &Network, options: GpuOptions) -> Result<GpuBackend> {
        let ctx = Context::acquire(options.fault).await?;
        let pipes = Pipelines::build(
            &ctx.device,
            options.fault == Some(GpuFault::PipelineFailure),
        )
        .await?;
        let (data, offsets) = Offsets::pack(net);
        let weights = wgpu::util::DeviceExt::create_buffer_init(
            &ctx.device,
            &wgpu::util::BufferInitDescriptor {
                label: Some("weights"),
                contents: bytemuck::cast_slice(&data),
                usage: wgpu::BufferUsages::STORAGE,
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
            dims: Dims::of(net),
            offsets,
            weights,
            weight_bytes: (data.len() * 4) as u64,
            queries,
            plans: Vec::new(),
            frame_plan: None,
            frame_input: None,
            options,
            frames: 0,
            last: GpuStats::default(),
        };
        let side = options.warm_up_side;
        if side > 0 {
            let warm = Tensor::zeros([1, 3, side, side]);
            gpu.run_frame(&warm).await?;
        }
        Ok(gpu)
    }

    pub fn adapter_name(&self) -> String {
        self.ctx.adapter_name.clone()
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
        let queries = usize::from(self.queries.is_some()) * 2;
        GpuStats {
            live_buffers: 1
                + queries
                + self
                    .plans
                    .iter()
                    .chain(&self.frame_plan)
                    .map(|p| p.buffers)
                    .sum::<usize>()
                + 2 * usize::from(self.frame_input.is_some()),
            weight_bytes: self.weight_bytes,
            frames: self.frames,
            ..self.last
        }
    }

    /// Runs a batch (N x 3 x H x W, already normalized).
    pub async fn run(&mut self, input: &Tensor) -> Result<Output> {
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
            &self.plans[plan].input,
            0,
            bytemuck::cast_slice(&input.data),
        );
        let (out, mut stats) = self.execute(&self.plans[plan], None).await?;
        stats.bytes_uploaded_per_frame = (input.data.len() * 4) as u64;
        self.last = stats;
        Ok(out)
    }

    /// Classifies one RGBA frame (`width * height * 4` bytes): crop, resize and
    /// normalization run in a shader, then the network, all in the same command buffer.
    pub async fn run_rgba(
        &mut self,
        rgba: &[u8],
        width: u32,
        height: u32,
        crop: Crop,
    ) -> Result<Output> {
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
    pub async fn run_image_bitmap(
        &mut self,
        bitmap: &web_sys::ImageBitmap,
        crop: Crop,
    ) -> Result<Output> {
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

    /// Checks a frame's size, then returns the frame texture for it (made or reused).
    fn frame_texture(&mut self, width: u32, height: u32, crop: Crop) -> Result<wgpu::Texture> {
        if width == 0 || height == 0 {
            return Err(Error::Input(format!("a {width} x {height} frame is empty")));
        }
        let max = self.ctx.device.limits().max_texture_dimension_2d;
        if width > max || height > max {
            return Err(Error::Input(format!(
                "a {width} x {height} frame exceeds this GPU's texture limit of {max}"
            )));
        }
        self.before_frame()?;
        self.prepare_frame(width, height, crop)?;
        match &self.frame_input {
            Some(input) => Ok(input.texture.clone()),
            None => Err(Error::Gpu("frame texture missing".into())),
        }
    }

    /// Makes the frame plan and a texture of this size (kept while the size holds).
    fn prepare_frame(&mut self, width: u32, height: u32, crop: Crop) -> Result<()> {
        if self.frame_plan.is_none() {
            let side = frame::SIDE;
            self.frame_plan = Some(Plan::new(
                &self.ctx,
                &self.pipes,
                &self.dims,
                &self.offsets,
                &self.weights,
                [1, side, side],
            )?);
        }
        let key = (width, height, crop);
        if self.frame_input.as_ref().map(|f| f.key) != Some(key) {
            let Some(plan) = &self.frame_plan else {
                return Err(Error::Gpu("frame plan missing".into()));
            };
            self.frame_input = Some(FrameInput::new(
                &self.ctx.device,
                &self.pipes.pre_layout,
                &plan.input,
                key,
            ));
        }
        Ok(())
    }

    async fn run_prepared_frame(&mut self, upload: u64) -> Result<Output> {
        let (Some(plan), Some(input)) = (&self.frame_plan, &self.frame_input) else {
            return Err(Error::Gpu("frame plan missing".into()));
        };
        let (out, mut stats) = self.execute(plan, Some(&input.bind)).await?;
        stats.bytes_uploaded_per_frame = upload;
        self.last = stats;
        self.frames += 1;
        Ok(out)
    }

    /// Injected faults and earlier device errors stop a frame before it starts.
    fn before_frame(&mut self) -> Result<()> {
        if self.options.fault == Some(GpuFault::DeviceLost { frame: self.frames }) {
            self.ctx.device.destroy();
            self.ctx
                .health
                .mark_lost(format!("device lost before frame {} (forced)", self.frames));
        }
        self.ctx.health.check()
    }

    /// Index of the plan for `shape`, building it (and dropping the oldest) if needed.
    fn plan_for(&mut self, shape: [usize; 3]) -> Result<usize> {
        if let Some(i) = self.plans.iter().position(|p| p.shape == shape) {
            return Ok(i);
        }
        let plan = Plan::new(
            &self.ctx,
            &self.pipes,
            &self.dims,
            &self.offsets,
            &self.weights,
            shape,
        )?;
        if self.plans.len() >= PLANS_KEPT {
            self.plans.remove(0);
        }
        self.plans.push(plan);
        Ok(self.plans.len() - 1)
    }

    fn pipeline(&self, kernel: Kernel) -> &wgpu::ComputePipeline {
        match kernel {
            Kernel::Stem => &self.pipes.stem,
            Kernel::Dw => &self.pipes.dw,
            Kernel::Pw => &self.pipes.pw,
            Kernel::Head => &self.pipes.head,
            Kernel::Fc => &self.pipes.fc,
        }
    }

    /// The query set and its resolve buffer, when stages are timed with timestamps.
    fn timestamp_queries(&self) -> Option<&(wgpu::QuerySet, wgpu::Buffer)> {
        self.queries
            .as_ref()
            .filter(|_| self.timing_method() == TimingMethod::GpuTimestamps)
    }

    /// Records one stage's dispatches into a compute pass of its own.
    fn record_stage(
        &self,
        enc: &mut wgpu::CommandEncoder,
        plan: &Plan,
        stage: usize,
        pre: Option<&wgpu::BindGroup>,
    ) {
        let timestamp_writes =
            self.timestamp_queries()
                .map(|(set, _)| wgpu::ComputePassTimestampWrites {
                    query_set: set,
                    beginning_of_pass_write_index: Some(2 * stage as u32),
                    end_of_pass_write_index: Some(2 * stage as u32 + 1),
                });
        let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some(Stage::ALL[stage].name()),
            timestamp_writes,
        });
        // Preprocessing is timed with the stem.
        if let Some(bind) = pre.filter(|_| stage == 0) {
            let [x, y, z] = FrameInput::groups();
            pass.set_pipeline(&self.pipes.pre);
            pass.set_bind_group(0, bind, &[]);
            pass.dispatch_workgroups(x, y, z);
        }
        for d in &plan.stages[stage] {
            pass.set_pipeline(self.pipeline(d.kernel));
            pass.set_bind_group(0, &d.bind, &[]);
            pass.dispatch_workgroups(d.groups[0], d.groups[1], d.groups[2]);
        }
    }

    async fn execute(
        &self,
        plan: &Plan,
        pre: Option<&wgpu::BindGroup>,
    ) -> Result<(Output, GpuStats)> {
        let start = web_time::Instant::now();
        let device = &self.ctx.device;
        let new_encoder = || device.create_command_encoder(&Default::default());
        let fenced = self.timing_method() == TimingMethod::GpuFenced;
        let mut ms = [0.0; 5];
        let mut submits = 0;
        let mut enc = new_encoder();
        for (stage, stage_ms) in ms.iter_mut().enumerate() {
            self.record_stage(&mut enc, plan, stage, pre);
            if fenced {
                // Profiling only: a submit and a wait per stage.
                let lap = web_time::Instant::now();
                self.ctx.queue.submit([enc.finish()]);
                submits += 1;
                self.ctx.wait_idle().await?;
                *stage_ms = lap.elapsed().as_secs_f64() * 1e3;
                enc = new_encoder();
            }
        }
        if let Some((set, resolve)) = self.timestamp_queries() {
            enc.resolve_query_set(set, 0..10, resolve, 0);
            enc.copy_buffer_to_buffer(resolve, 0, &plan.staging, 0, TIMESTAMP_BYTES);
        }
        enc.copy_buffer_to_buffer(
            &plan.logits,
            0,
            &plan.staging,
            TIMESTAMP_BYTES,
            plan.logits_bytes,
        );
        self.ctx.queue.submit([enc.finish()]);
        submits += 1;
        let bytes = self.read_back(&plan.staging).await?;

        let method = self.timing_method();
        match method {
            TimingMethod::GpuTimestamps => {
                let ticks: &[u64] = bytemuck::cast_slice(&bytes[..TIMESTAMP_BYTES as usize]);
                let period = f64::from(self.ctx.queue.get_timestamp_period());
                for (s, t) in ms.iter_mut().zip(ticks.chunks(2)) {
                    *s = t[1].saturating_sub(t[0]) as f64 * period / 1e6;
                }
            }
            // The whole frame is charged to the head, where the readback waits.
            TimingMethod::FrameOnly => ms[4] = start.elapsed().as_secs_f64() * 1e3,
            _ => {}
        }
        let logits: Vec<f32> = bytemuck::pod_collect_to_vec(&bytes[TIMESTAMP_BYTES as usize..]);
        let stats = GpuStats {
            dispatches_per_frame: plan.dispatches() + usize::from(pre.is_some()),
            submits_per_frame: submits,
            readbacks_per_frame: 1,
            bytes_read_back_per_frame: bytes.len() as u64,
            ..GpuStats::default()
        };
        let out = Output {
            batch: plan.shape[0],
            classes: self.dims.classes,
            logits,
            times: StageTimes { ms, method },
        };
        Ok((out, stats))
    }

    /// Maps the staging buffer and copies it out: the frame's one readback.
    async fn read_back(&self, staging: &wgpu::Buffer) -> Result<Vec<u8>> {
        let (tx, rx) = futures_channel::oneshot::channel();
        staging.map_async(wgpu::MapMode::Read, .., move |r| {
            let _ = tx.send(r);
        });
        self.ctx.poll()?;
        let mapped = rx
            .await
            .map_err(|_| Error::Gpu("the GPU dropped the readback".into()))?;
        self.ctx.health.check()?;
        mapped.map_err(|e| Error::Gpu(format!("reading results back failed: {e}")))?;
        let bytes = staging
            .get_mapped_range(..)
            .map_err(|e| Error::Gpu(format!("reading results back failed: {e}")))?
            .to_vec();
        staging.unmap();
        self.ctx.health.check()?;
        Ok(bytes)
    }
}
