//! The plan cache: plans for the input shapes seen lately, and the RGBA frame's plan and
//! texture, each built once and reused while frames keep their shape.

use super::frame::{self, FrameInput};
use super::plan::Plan;
use super::{Crop, GpuBackend};
use crate::{Error, Result};

/// Plans kept for different input shapes; older ones are dropped so memory stays bounded.
const PLANS_KEPT: usize = 2;

#[derive(Default)]
pub struct Plans {
    recent: Vec<Plan>,
    /// The 1 x 224 x 224 plan that RGBA frames use, and their texture.
    frame_plan: Option<Plan>,
    frame_input: Option<FrameInput>,
}

impl Plans {
    pub fn get(&self, i: usize) -> &Plan {
        &self.recent[i]
    }

    pub fn frame_plan(&self) -> Option<&Plan> {
        self.frame_plan.as_ref()
    }

    pub fn frame_input(&self) -> Option<&FrameInput> {
        self.frame_input.as_ref()
    }
}

impl GpuBackend {
    fn new_plan(&self, shape: [usize; 3]) -> Result<Plan> {
        Plan::new(
            &self.ctx,
            &self.pipes,
            &self.skeleton,
            &self.offsets,
            &self.weights,
            shape,
        )
    }

    /// Index of the plan for `shape`, building it (and dropping the oldest) if needed.
    pub(super) fn plan_for(&mut self, shape: [usize; 3]) -> Result<usize> {
        if let Some(i) = self.plans.recent.iter().position(|p| p.shape == shape) {
            return Ok(i);
        }
        let plan = self.new_plan(shape)?;
        let recent = &mut self.plans.recent;
        if recent.len() >= PLANS_KEPT {
            recent.remove(0);
        }
        recent.push(plan);
        Ok(recent.len() - 1)
    }

    /// Checks a frame's size, then returns the frame texture for it (made or reused).
    pub(super) fn frame_texture(
        &mut self,
        width: u32,
        height: u32,
        crop: Crop,
    ) -> Result<wgpu::Texture> {
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
        match &self.plans.frame_input {
            Some(input) => Ok(input.texture.clone()),
            None => Err(Error::Gpu("frame texture missing".into())),
        }
    }

    /// Makes the frame plan and a texture of this size (kept while the size holds).
    fn prepare_frame(&mut self, width: u32, height: u32, crop: Crop) -> Result<()> {
        if self.plans.frame_plan.is_none() {
            self.plans.frame_plan = Some(self.new_plan([1, frame::SIDE, frame::SIDE])?);
        }
        let key = (width, height, crop);
        if self.plans.frame_input.as_ref().map(|f| f.key) != Some(key) {
            let Some(plan) = &self.plans.frame_plan else {
                return Err(Error::Gpu("frame plan missing".into()));
            };
            self.plans.frame_input = Some(FrameInput::new(
                &self.ctx.device,
                &self.pipes.pre_layout,
                &plan.input,
                key,
            ));
        }
        Ok(())
    }
}
