//! The WebGPU backend behind the common `Backend` contract.

use super::{GpuBackend, GpuStats};
use crate::backend::{Backend, Capabilities, LocalFuture, Output, RgbaFrame};
use crate::model::Linear;
use crate::preprocess::Crop;
use crate::tensor::Tensor;
use crate::Result;

impl Backend for GpuBackend {
    fn name(&self) -> &'static str {
        "webgpu"
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            device_preprocessing: true,
            timing: self.timing_method(),
        }
    }

    fn run<'a>(&'a mut self, input: &'a Tensor) -> LocalFuture<'a, Result<Output>> {
        Box::pin(GpuBackend::run(self, input))
    }

    fn run_rgba<'a>(
        &'a mut self,
        frame: RgbaFrame<'a>,
        crop: Crop,
    ) -> LocalFuture<'a, Result<Output>> {
        Box::pin(GpuBackend::run_rgba(
            self,
            frame.pixels,
            frame.width,
            frame.height,
            crop,
        ))
    }

    #[cfg(target_arch = "wasm32")]
    fn run_image_bitmap<'a>(
        &'a mut self,
        bitmap: &'a web_sys::ImageBitmap,
        crop: Crop,
    ) -> LocalFuture<'a, Result<Output>> {
        Box::pin(GpuBackend::run_image_bitmap(self, bitmap, crop))
    }

    fn set_head(&mut self, fc: &Linear) -> Result<()> {
        GpuBackend::set_head(self, fc)
    }

    #[cfg(feature = "testing")]
    fn stage_outputs<'a>(&'a mut self, input: &'a Tensor) -> LocalFuture<'a, Result<[Tensor; 4]>> {
        Box::pin(self.stage_activations(input))
    }

    fn max_frame_side(&self) -> Option<u32> {
        Some(self.ctx.device.limits().max_texture_dimension_2d)
    }

    fn adapter_name(&self) -> Option<String> {
        Some(GpuBackend::adapter_name(self))
    }

    fn gpu_stats(&self) -> Option<GpuStats> {
        Some(self.stats())
    }
}
