//! Shader modules, bind group layouts and compute pipelines: all built once at load.

use std::borrow::Cow;

use super::{KernelSet, SubgroupUse};
use crate::{Error, Result};

/// WGSL sources of one kernel set: (depthwise, 1x1 + head, fc, one conv of a unit the
/// fused kernels do not run). The stem, the pass-through copy and the preprocessing are
/// shared. `subgroups`: which of the hardware set's reductions use them.
fn sources(set: KernelSet, subgroups: SubgroupUse) -> [(&'static str, &'static str); 4] {
    match set {
        KernelSet::Software => [
            ("dw", include_str!("shaders/dw.wgsl")),
            ("pw", include_str!("shaders/pw.wgsl")),
            ("fc", include_str!("shaders/fc.wgsl")),
            ("conv", include_str!("shaders/conv.wgsl")),
        ],
        KernelSet::Hardware => [
            ("dw_quad", include_str!("shaders/dw_quad.wgsl")),
            if subgroups.head_lanes > 0 {
                (
                    "pw_tiled+head_subgroup",
                    concat!(
                        include_str!("shaders/pw_tiled.wgsl"),
                        include_str!("shaders/head_subgroup.wgsl")
                    ),
                )
            } else {
                ("pw_tiled", include_str!("shaders/pw_tiled.wgsl"))
            },
            if subgroups.classifier {
                ("fc_subgroup", include_str!("shaders/fc_subgroup.wgsl"))
            } else {
                ("fc_split", include_str!("shaders/fc_split.wgsl"))
            },
            ("conv_split", include_str!("shaders/conv_split.wgsl")),
        ],
    }
}

/// `source` reading f16 weights: the weights array holds f16 and every load of it is
/// widened to f32 where it happens, so all arithmetic stays f32.
pub fn with_f16_weights(source: &str) -> String {
    let (decl, widen) = if source.contains("weights: array<vec4<f32>>") {
        ("weights: array<vec4<f32>>", "vec4<f32>(")
    } else {
        ("weights: array<f32>", "f32(")
    };
    let source = source.replace(decl, &decl.replace("f32", "f16"));
    let mut out = String::from("enable f16;\n");
    let mut rest = source.as_str();
    while let Some(at) = rest.find("weights[") {
        out.push_str(&rest[..at]);
        // The index expression ends at the bracket that closes this one.
        let mut depth = 0;
        let mut end = rest.len();
        for (i, c) in rest[at..].char_indices() {
            match c {
                '[' => depth += 1,
                ']' => {
                    depth -= 1;
                    if depth == 0 {
                        end = at + i + 1;
                        break;
                    }
                }
                _ => {}
            }
        }
        out.push_str(widen);
        out.push_str(&rest[at..end]);
        out.push(')');
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

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

fn buffer_entry(binding: u32, ty: wgpu::BufferBindingType) -> wgpu::BindGroupLayoutEntry {
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

const UNIFORM: wgpu::BufferBindingType = wgpu::BufferBindingType::Uniform;
const READ: wgpu::BufferBindingType = wgpu::BufferBindingType::Storage { read_only: true };
const WRITE: wgpu::BufferBindingType = wgpu::BufferBindingType::Storage { read_only: false };

fn layout(
    device: &wgpu::Device,
    label: &str,
    entries: &[wgpu::BindGroupLayoutEntry],
) -> wgpu::BindGroupLayout {
    device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
        label: Some(label),
        entries,
    })
}

fn pipeline(
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
        let scope = device.push_error_scope(wgpu::ErrorFilter::Validation);
        let module = |label: &str, source: &str| {
            let source = if f16 && source.contains("var<storage, read> weights") {
                with_f16_weights(source)
            } else {
                source.to_owned()
            };
            device.create_shader_module(wgpu::ShaderModuleDescriptor {
                label: Some(label),
                source: wgpu::ShaderSource::Wgsl(Cow::Owned(source)),
            })
        };
        let [(dw_label, dw_source), (pw_label, pw_source), (fc_label, fc_source), (conv_label, conv_source)] =
            sources(set, subgroups);
        let mut pw_source = pw_source.to_owned();
        if break_shader {
            pw_source.push_str("\nfn injected_fault( {\n");
        }
        let pw = module(pw_label, &pw_source);
        let dw = module(dw_label, dw_source);
        let stem = module("stem", include_str!("shaders/stem.wgsl"));
        let fc = module(fc_label, fc_source);
        let conv = module(conv_label, conv_source);
        let copy = module("shuffle_copy", include_str!("shaders/shuffle_copy.wgsl"));
        let pre = module("preprocess", include_str!("shaders/preprocess.wgsl"));

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

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;

    #[test]
    fn f16_variants_of_every_kernel_parse_and_widen_every_weight_load() {
        for (set, subgroups) in [
            (KernelSet::Software, SubgroupUse::NONE),
            (KernelSet::Hardware, SubgroupUse::NONE),
            (KernelSet::Hardware, SubgroupUse::for_min_size(32)),
        ] {
            let stem = ("stem", include_str!("shaders/stem.wgsl"));
            for (label, source) in sources(set, subgroups).into_iter().chain([stem]) {
                let f16 = with_f16_weights(source);
                naga::front::wgsl::parse_str(&f16)
                    .unwrap_or_else(|e| panic!("{label} (f16): {}", e.emit_to_string(&f16)));
                let loads = source.matches("weights[").count();
                assert!(loads > 0, "{label}");
                let widened =
                    f16.matches("32>(weights[").count() + f16.matches("f32(weights[").count();
                assert_eq!(widened, loads, "{label}: every weight load widened");
                assert!(f16.contains("array<vec4<f16>>") || f16.contains("array<f16>"));
            }
        }
    }
}
