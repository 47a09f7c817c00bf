//! Test hooks: real allocation counts from wgpu's own counters, and a deliberate leak that
//! proves a leak check built on them can fail.

use super::GpuBackend;

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
