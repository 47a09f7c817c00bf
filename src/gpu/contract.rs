//! The WebGPU backend behind the common `Backend` contract.

use super::{GpuBackend, GpuStats};
use crate::backend::{Backend, BackendInfo, Capabilities, DeviceStats, Frame, LocalFuture, Output};
use crate::model::Linear;
#[cfg(feature = "testing")]
use crate::tensor::Tensor;
use crate::Result;

impl Backend for GpuBackend {
    fn info(&self) -> BackendInfo {
        BackendInfo {
            name: "webgpu",
            capabilities: Capabilities {
                device_preprocessing: true,
                timing: self.timing_method(),
            },
            adapter: Some(self.adapter_name()),
            max_frame_side: Some(self.ctx.device.limits().max_texture_dimension_2d),
            stats: Some(self.stats().into()),
        }
    }

    fn run<'a>(&'a mut self, frame: Frame<'a>) -> LocalFuture<'a, Result<Output>> {
        match frame {
            Frame::Tensor(input) => Box::pin(self.run_tensor(input)),
            Frame::Rgba(rgba, crop) => Box::pin(self.run_rgba(rgba, crop)),
            // Converted and resized on the CPU: the page sends YUV frames to CPU backends only.
            Frame::Yuv(..) => Box::pin(async move {
                let input = frame.to_tensor()?;
                self.run_tensor(&input).await
            }),
            #[cfg(target_arch = "wasm32")]
            Frame::Bitmap(bitmap, crop) => Box::pin(self.run_bitmap(bitmap, crop)),
        }
    }

    fn set_head(&mut self, fc: &Linear) -> Result<()> {
        GpuBackend::set_head(self, fc)
    }

    #[cfg(feature = "testing")]
    fn stage_outputs<'a>(&'a mut self, input: &'a Tensor) -> LocalFuture<'a, Result<[Tensor; 4]>> {
        Box::pin(self.stage_activations(input))
    }
}

impl From<GpuStats> for DeviceStats {
    fn from(g: GpuStats) -> DeviceStats {
        DeviceStats {
            kernels: g.kernels.name(),
            weights: if g.f16_weights { "f16" } else { "f32" },
            subgroups: g.subgroups.classifier,
            subgroup_head_lanes: g.subgroups.head_lanes,
            subgroup_sizes: g.subgroup_sizes,
            counts: g.counts,
            invocations_per_frame: g.shape.invocations,
            min_invocations_per_dispatch: g.shape.min_invocations_per_dispatch,
            max_serial_steps: g.shape.max_serial_steps,
        }
    }
}
