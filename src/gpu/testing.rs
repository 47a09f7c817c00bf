//! Test hooks: real allocation counts from wgpu's own counters, and a deliberate leak that
//! proves a leak check built on them can fail.

use super::GpuBackend;
use crate::model::check_input;
use crate::tensor::Tensor;
use crate::Result;

/// Device objects alive at one moment, as wgpu counts them (natively; the browser's
/// WebGPU reports zeros).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LiveObjects {
    pub buffers: isize,
    pub textures: isize,
    pub bind_groups: isize,
    pub buffer_bytes: isize,
}

impl GpuBackend {
    pub fn live_objects(&self) -> LiveObjects {
        let hal = self.ctx.device.get_internal_counters().hal;
        LiveObjects {
            buffers: hal.buffers.read(),
            textures: hal.textures.read(),
            bind_groups: hal.bind_groups.read(),
            buffer_bytes: hal.buffer_memory.read(),
        }
    }

    /// Creates a 1 KiB buffer and never frees it.
    pub fn leak_a_buffer(&mut self) {
        let buffer = self.ctx.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("deliberate leak"),
            size: 1024,
            usage: wgpu::BufferUsages::STORAGE,
            mapped_at_creation: false,
        });
        std::mem::forget(buffer);
    }
}

impl GpuBackend {
    /// Runs `input` one stage at a time and reads back the activation after the stem and
    /// after each stage (`[N, C, H, W]`), for the conformance suite's per-stage checks.
    pub async fn stage_activations(&mut self, input: &Tensor) -> Result<[Tensor; 4]> {
        check_input(input)?;
        self.before_frame()?;
        let [n, _, h, w] = input.shape;
        let plan = self.plan_for([n, h, w])?;
        let plan = self.plans.get(plan);
        self.ctx
            .queue
            .write_buffer(&plan.input, 0, bytemuck::cast_slice(&input.data));
        let dims = self.skeleton.stage_dims(h, w);
        let mut out = Vec::with_capacity(4);
        for (stage, d) in dims.iter().enumerate() {
            let bytes = (n * d.len() * 4) as u64;
            let staging = self.ctx.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("stage readback"),
                size: bytes.max(4),
                usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            });
            let mut enc = self.ctx.device.create_command_encoder(&Default::default());
            self.record_stage(&mut enc, plan, stage, None);
            enc.copy_buffer_to_buffer(&plan.stage_outputs[stage], 0, &staging, 0, bytes);
            self.ctx.queue.submit([enc.finish()]);
            let data = self.read_back(&staging).await?;
            let values = bytemuck::pod_collect_to_vec(&data[..bytes as usize]);
            out.push(Tensor::new([n, d.c, d.h, d.w], values)?);
        }
        Ok(out.try_into().expect("four stages"))
    }
}
