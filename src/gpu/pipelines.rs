//! Shader modules, bind group layouts and compute pipelines: all built once at load.

use std::borrow::Cow;

use super::shaders::{compose, kernel_names, with_f16_weights};
use super::{KernelSet, SubgroupUse};
use crate::{Error, Result};

pub struct Pipelines {
    pub set: KernelSet,
    /// Lanes per pixel of the subgroup head's sum (0: the workgroup-memory head).
    pub head_lanes: usize,
    /// uniform, weights, src, src2, dst: the last 1x1 of a unit, and the head.
    pub unit_layout: wgpu::BindGroupLayout,
    /// uniform, weights, src, dst: stem, depthwise, fc, conv and copy.
    pub io_layout: wgpu::BindGroupLayout,
    /// uniform, frame texture, dst: preprocessing.
    pub pre_layout: wgpu::BindGroupLayout,
    pub dw: wgpu::ComputePipeline,
    pub pw: wgpu::ComputePipeline,
    pub head: wgpu::ComputePipeline,
    pub stem: wgpu::ComputePipeline,
    pub fc: wgpu::ComputePipeline,
    pub conv: wgpu::ComputePipeline,
    pub copy: wgpu::ComputePipeline,
    pub pre: wgpu::ComputePipeline,
}

pub(super) fn buffer_entry(
    binding: u32,
    ty: wgpu::BufferBindingType,
) -> wgpu::BindGroupLayoutEntry {
    wgpu::BindGroupLayoutEntry {
        binding,
        visibility: wgpu::ShaderStages::COMPUTE,
        ty: wgpu::BindingType::Buffer {
            ty,
            has_dynamic_offset: false,
            min_binding_size: None,
        },
        count: None,
    }
}

pub(super) const UNIFORM: wgpu::BufferBindingType = wgpu::BufferBindingType::Uniform;
pub(super) const READ: wgpu::BufferBindingType =
    wgpu::BufferBindingType::Storage { read_only: true };
pub(super) const WRITE: wgpu::BufferBindingType =
    wgpu::BufferBindingType::Storage { read_only: false };

pub(super) fn layout(
    device: &wgpu::Device,
    label: &str,
    entries: &[wgpu::BindGroupLayoutEntry],
) -> wgpu::BindGroupLayout {
    device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
        label: Some(label),
        entries,
    })
}

pub(super) fn pipeline(
    device: &wgpu::Device,
    layout: &wgpu::BindGroupLayout,
    module: &wgpu::ShaderModule,
    entry: &str,
) -> wgpu::ComputePipeline {
    let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
        label: Some(entry),
        bind_group_layouts: &[Some(layout)],
        immediate_size: 0,
    });
    device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
        label: Some(entry),
        layout: Some(&pipeline_layout),
        module,
        entry_point: Some(entry),
        compilation_options: Default::default(),
        cache: None,
    })
}

impl Pipelines {
    /// Builds everything, reporting the first validation error. `break_shader` appends a
    /// syntax error to one shader: the forced "pipeline failed" fault.
    pub async fn build(
        device: &wgpu::Device,
        set: KernelSet,
        f16: bool,
        subgroups: SubgroupUse,
        break_shader: bool,
    ) -> Result<Pipelines> {
        // Sources first: a missing piece is an error before any GPU work.
        let [dw, pw, fc, conv] = kernel_names(set, subgroups);
        let mut sources = Vec::new();
        for name in [dw, pw, fc, conv, "stem", "shuffle_copy", "preprocess"] {
            let mut source = compose(name)?;
            if f16 && source.contains("var<storage, read> weights") {
                source = with_f16_weights(&source);
            }
            if break_shader && name == pw {
                source.push_str("\nfn injected_fault( {\n");
            }
            sources.push((name, source));
        }
        let scope = device.push_error_scope(wgpu::ErrorFilter::Validation);
        let [dw, pw, fc, conv, stem, copy, pre] = [0, 1, 2, 3, 4, 5, 6].map(|i| {
            let (name, source) = &sources[i];
            device.create_shader_module(wgpu::ShaderModuleDescriptor {
                label: Some(name),
                source: wgpu::ShaderSource::Wgsl(Cow::Borrowed(source)),
            })
        });

        let unit_layout = layout(
            device,
            "unit",
            &[
                buffer_entry(0, UNIFORM),
                buffer_entry(1, READ),
                buffer_entry(2, READ),
                buffer_entry(3, READ),
                buffer_entry(4, WRITE),
            ],
        );
        let io_layout = layout(
            device,
            "io",
            &[
                buffer_entry(0, UNIFORM),
                buffer_entry(1, READ),
                buffer_entry(2, READ),
                buffer_entry(3, WRITE),
            ],
        );
        let pre_layout = layout(
            device,
            "preprocess",
            &[
                buffer_entry(0, UNIFORM),
                wgpu::BindGroupLayoutEntry {
                    binding: 1,
                    visibility: wgpu::ShaderStages::COMPUTE,
                    ty: wgpu::BindingType::Texture {
                        sample_type: wgpu::TextureSampleType::Float { filterable: false },
                        view_dimension: wgpu::TextureViewDimension::D2,
                        multisampled: false,
                    },
                    count: None,
                },
                buffer_entry(2, WRITE),
            ],
        );
        let pipelines = Pipelines {
            set,
            head_lanes: subgroups.head_lanes,
            dw: pipeline(device, &io_layout, &dw, "dw_main"),
            pw: pipeline(device, &unit_layout, &pw, "pw_main"),
            head: pipeline(
                device,
                &unit_layout,
                &pw,
                if subgroups.head_lanes > 0 {
                    "head_subgroup_main"
                } else {
                    "head_main"
                },
            ),
            stem: pipeline(device, &io_layout, &stem, "stem_main"),
            fc: pipeline(device, &io_layout, &fc, "fc_main"),
            conv: pipeline(device, &io_layout, &conv, "conv_main"),
            copy: pipeline(device, &io_layout, &copy, "copy_main"),
            pre: pipeline(device, &pre_layout, &pre, "preprocess_main"),
            unit_layout,
            io_layout,
            pre_layout,
        };
        match scope.pop().await {
            Some(e) => Err(Error::Gpu(format!(
                "building the compute pipelines failed: {e}"
            ))),
            None => Ok(pipelines),
        }
    }
}
