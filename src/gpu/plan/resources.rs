//! The wgpu resources of a frame plan: activation buffers, the uniform blob, bind groups
//! and the dispatch list per stage.

use wgpu::util::DeviceExt;

use super::dispatch::{Act, Kernel, ACTS};
use super::steps::steps;
use crate::gpu::context::Context;
use crate::gpu::packed::Offsets;
use crate::gpu::pipelines::Pipelines;
use crate::gpu::shape::FrameShape;
use crate::model::Skeleton;
use crate::{Error, Result};

pub struct Dispatch {
    pub kernel: Kernel,
    pub bind: wgpu::BindGroup,
    pub groups: [u32; 3],
}

pub struct Plan {
    /// [batch, height, width].
    pub shape: [usize; 3],
    pub input: wgpu::Buffer,
    pub logits: wgpu::Buffer,
    pub logits_bytes: u64,
    /// The pooled conv5 features the fc reads, `[batch][conv5_out]`.
    pub pooled: wgpu::Buffer,
    pub pooled_bytes: u64,
    /// Timestamps (if any), logits, then pooled features: the frame's single readback.
    pub staging: wgpu::Buffer,
    pub stages: [Vec<Dispatch>; 5],
    /// The frame's work shape (preprocessing of RGBA frames not included).
    pub work: FrameShape,
    /// The buffer holding the activation after the stem and after each stage.
    #[cfg(feature = "testing")]
    pub stage_outputs: [wgpu::Buffer; 4],
    _held: Vec<wgpu::Buffer>,
}

impl Plan {
    pub fn new(
        ctx: &Context,
        pipes: &Pipelines,
        skeleton: &Skeleton,
        at: &Offsets,
        weights: &wgpu::Buffer,
        shape: [usize; 3],
    ) -> Result<Plan> {
        let [n, h, w] = shape;
        let limits = ctx.device.limits();
        let (steps, sizes) = steps(skeleton, at, pipes.set, pipes.head_lanes, n, h, w);
        let work = FrameShape::of(&steps.iter().map(|s| s.shape).collect::<Vec<_>>());
        let too_big = |what: &str| {
            Error::Input(format!(
                "a batch of {n} images of {h} x {w} is too large for this GPU ({what})"
            ))
        };
        let max_binding = limits
            .max_storage_buffer_binding_size
            .min(limits.max_buffer_size);
        if sizes.iter().any(|&s| (s as u64) * 4 > max_binding) {
            return Err(too_big("activation buffer size"));
        }
        let max_groups = limits.max_compute_workgroups_per_dimension as usize;
        if steps
            .iter()
            .any(|s| s.groups.iter().any(|&g| g > max_groups))
        {
            return Err(too_big("workgroup count"));
        }

        let device = &ctx.device;
        let act = |i: usize, usage: wgpu::BufferUsages| {
            device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("activation"),
                size: (sizes[i].max(1) * 4) as u64,
                usage: wgpu::BufferUsages::STORAGE | usage,
                mapped_at_creation: false,
            })
        };
        let acts: Vec<wgpu::Buffer> = (0..ACTS)
            .map(|i| match i {
                i if i == Act::Input as usize => act(i, wgpu::BufferUsages::COPY_DST),
                i if i == Act::Logits as usize || i == Act::Pooled as usize => {
                    act(i, wgpu::BufferUsages::COPY_SRC)
                }
                // Stage activations are copied out only by the conformance suite's probe.
                _ if cfg!(feature = "testing") => act(i, wgpu::BufferUsages::COPY_SRC),
                _ => act(i, wgpu::BufferUsages::empty()),
            })
            .collect();

        // All parameter blocks in one uniform buffer, each at an aligned offset.
        let align = limits.min_uniform_buffer_offset_alignment as usize;
        let mut blob = Vec::new();
        let mut offsets = Vec::with_capacity(steps.len());
        for s in &steps {
            blob.resize(blob.len().next_multiple_of(align), 0);
            offsets.push(blob.len() as u64);
            blob.extend_from_slice(&s.params);
        }
        let params = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some("params"),
            contents: &blob,
            usage: wgpu::BufferUsages::UNIFORM,
        });

        let mut stages: [Vec<Dispatch>; 5] = Default::default();
        for (s, &offset) in steps.iter().zip(&offsets) {
            let uniform = wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                buffer: &params,
                offset,
                size: wgpu::BufferSize::new(s.params.len() as u64),
            });
            let buf = |a: Act| acts[a as usize].as_entire_binding();
            let mut entries = vec![
                wgpu::BindGroupEntry {
                    binding: 0,
                    resource: uniform,
                },
                wgpu::BindGroupEntry {
                    binding: 1,
                    resource: weights.as_entire_binding(),
                },
                wgpu::BindGroupEntry {
                    binding: 2,
                    resource: buf(s.src),
                },
            ];
            let layout = match s.kernel {
                Kernel::Pw | Kernel::Head => {
                    entries.push(wgpu::BindGroupEntry {
                        binding: 3,
                        resource: buf(s.src2),
                    });
                    entries.push(wgpu::BindGroupEntry {
                        binding: 4,
                        resource: buf(s.dst),
                    });
                    &pipes.unit_layout
                }
                Kernel::Stem | Kernel::Dw | Kernel::Fc | Kernel::Conv | Kernel::Copy => {
                    entries.push(wgpu::BindGroupEntry {
                        binding: 3,
                        resource: buf(s.dst),
                    });
                    &pipes.io_layout
                }
            };
            let bind = device.create_bind_group(&wgpu::BindGroupDescriptor {
                label: None,
                layout,
                entries: &entries,
            });
            stages[s.shape.stage as usize].push(Dispatch {
                kernel: s.kernel,
                bind,
                groups: s.groups.map(|g| g as u32),
            });
        }

        let logits_bytes = (sizes[Act::Logits as usize] * 4) as u64;
        let pooled_bytes = (sizes[Act::Pooled as usize] * 4) as u64;
        let staging = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("readback"),
            size: crate::gpu::TIMESTAMP_BYTES + logits_bytes + pooled_bytes,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        #[cfg(feature = "testing")]
        let stage_outputs = std::array::from_fn(|stage| {
            let last = steps.iter().rev().find(|s| s.shape.stage as usize == stage);
            acts[last.expect("every stage dispatches").dst as usize].clone()
        });
        let mut held = acts;
        let input = held[Act::Input as usize].clone();
        let logits = held[Act::Logits as usize].clone();
        let pooled = held[Act::Pooled as usize].clone();
        held.push(params);
        Ok(Plan {
            shape,
            input,
            logits,
            logits_bytes,
            pooled,
            pooled_bytes,
            work,
            staging,
            stages,
            #[cfg(feature = "testing")]
            stage_outputs,
            _held: held,
        })
    }

    pub fn dispatches(&self) -> usize {
        self.stages.iter().map(Vec::len).sum()
    }
}
