//! The guidelines' benchmark networks (`crate::guidelines`) on WebGPU: every conv is one
//! dispatch of the kernel set's general conv (`conv.wgsl` on software adapters,
//! `conv_split.wgsl` on GPUs; 1x1, group 1x1 and 3x3 alike, a parallel fragment writing
//! its slice of the concatenation), ReLU and add one dispatch each of `eltwise.wgsl`. A run
//! is one command buffer, timed from submit to the queue's completion (a fence: the
//! browser's coarse timestamps would round these short networks away).

use super::context::Context;
use super::packed::{general_layout, padded};
use super::params::{ConvParams, EltParams, ACT_NONE};
use super::pipelines::{buffer_entry, layout, pipeline, READ, UNIFORM, WRITE};
use super::plan::{conv_split, HW_GROUP};
use super::shaders::{compose, kernel_names};
use super::{KernelChoice, KernelSet, SubgroupUse};
use crate::backend::LocalFuture;
use crate::guidelines::net::{LabConv, LabNet, Op};
use crate::guidelines::paper::Column;
use crate::guidelines::{self, Lab};
use crate::{Error, Result};
use wgpu::util::DeviceExt;

/// Workgroups an element-wise pass uses at most (each strides over the rest).
const ELT_GROUPS: usize = 1024;

struct Dispatch {
    pipeline: usize,
    bind: wgpu::BindGroup,
    groups: [u32; 3],
}

struct Loaded {
    input: wgpu::Buffer,
    bufs: Vec<wgpu::Buffer>,
    input_bytes: u64,
    dispatches: Vec<Dispatch>,
    output: usize,
    output_bytes: u64,
    staging: wgpu::Buffer,
    _held: Vec<wgpu::Buffer>,
}

/// The benchmark networks on one WebGPU device.
pub struct LabGpu {
    ctx: Context,
    set: KernelSet,
    /// conv, relu, add.
    layouts: [wgpu::BindGroupLayout; 3],
    pipelines: [wgpu::ComputePipeline; 3],
    loaded: Option<Loaded>,
}

const CONV: usize = 0;
const RELU: usize = 1;
const ADD: usize = 2;

fn div_up(a: usize, b: usize) -> usize {
    a.div_ceil(b)
}

impl LabGpu {
    /// Opens the device and builds the three pipelines.
    pub async fn new() -> Result<LabGpu> {
        let ctx = Context::acquire(None).await?;
        let set = KernelChoice::Auto.resolve(ctx.device_type);
        let device = &ctx.device;
        let [_, _, _, conv_name] = kernel_names(set, SubgroupUse::NONE);
        let scope = device.push_error_scope(wgpu::ErrorFilter::Validation);
        let module = |name: &str| -> Result<wgpu::ShaderModule> {
            let source = compose(name)?;
            Ok(device.create_shader_module(wgpu::ShaderModuleDescriptor {
                label: Some(name),
                source: wgpu::ShaderSource::Wgsl(source.into()),
            }))
        };
        let (conv, elt) = (module(conv_name)?, module("eltwise")?);
        let conv_layout = layout(
            device,
            "lab conv and add",
            &[
                buffer_entry(0, UNIFORM),
                buffer_entry(1, READ),
                buffer_entry(2, READ),
                buffer_entry(3, WRITE),
            ],
        );
        let add_layout = layout(
            device,
            "lab add",
            &[
                buffer_entry(0, UNIFORM),
                buffer_entry(1, READ),
                buffer_entry(2, WRITE),
            ],
        );
        let relu_layout = layout(
            device,
            "lab relu",
            &[buffer_entry(0, UNIFORM), buffer_entry(2, WRITE)],
        );
        let pipelines = [
            pipeline(device, &conv_layout, &conv, "conv_main"),
            pipeline(device, &relu_layout, &elt, "relu_main"),
            pipeline(device, &add_layout, &elt, "add_main"),
        ];
        if let Some(e) = scope.pop().await {
            return Err(Error::Gpu(format!(
                "building the benchmark pipelines failed: {e}"
            )));
        }
        Ok(LabGpu {
            ctx,
            set,
            layouts: [conv_layout, relu_layout, add_layout],
            pipelines,
            loaded: None,
        })
    }

    pub fn adapter(&self) -> &str {
        &self.ctx.adapter_name
    }

    /// A software adapter (SwiftShader, lavapipe, WARP): no GPU memory hierarchy.
    pub fn software(&self) -> bool {
        self.ctx.device_type == wgpu::DeviceType::Cpu
    }

    fn load_net(&self, net: &LabNet, batch: usize, input: &[f32]) -> Result<Loaded> {
        net.check().map_err(Error::Input)?;
        if input.len() != batch * net.image_len(0) {
            return Err(Error::Input("benchmark input has the wrong length".into()));
        }
        let device = &self.ctx.device;
        let limits = device.limits();
        let max_bytes = limits
            .max_storage_buffer_binding_size
            .min(limits.max_buffer_size);
        // Vec4 passes read whole vec4s: buffers hold a multiple of 4 floats.
        let floats: Vec<usize> = (0..net.buffers.len())
            .map(|b| (batch * net.image_len(b)).next_multiple_of(4))
            .collect();
        if floats.iter().any(|&f| f as u64 * 4 > max_bytes) {
            return Err(Error::Gpu(format!(
                "a benchmark buffer is larger than this device binds ({max_bytes} bytes)"
            )));
        }
        let bufs: Vec<wgpu::Buffer> = floats
            .iter()
            .map(|&f| {
                device.create_buffer(&wgpu::BufferDescriptor {
                    label: Some("lab activation"),
                    size: f as u64 * 4,
                    usage: wgpu::BufferUsages::STORAGE
                        | wgpu::BufferUsages::COPY_DST
                        | wgpu::BufferUsages::COPY_SRC,
                    mapped_at_creation: false,
                })
            })
            .collect();
        let input_buf = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some("lab input"),
            contents: bytemuck::cast_slice(input),
            usage: wgpu::BufferUsages::COPY_SRC,
        });
        let mut weights = Vec::new();
        let mut held = Vec::new();
        let mut dispatches = Vec::new();
        let max_groups = limits.max_compute_workgroups_per_dimension as usize;
        for op in &net.ops {
            let d = match op {
                Op::Conv { conv, src, dst } => {
                    let (params, groups) =
                        self.conv_params(conv, net, batch, (src.buf, src.off), (dst.buf, dst.off));
                    if groups.iter().any(|&g| g as usize > max_groups) {
                        return Err(Error::Gpu(
                            "a benchmark conv needs more workgroups than this device has".into(),
                        ));
                    }
                    let (w, b) = general_layout(
                        &conv.weight,
                        &conv.bias,
                        conv.taps,
                        conv.groups,
                        conv.out_ch,
                    );
                    let mut packed = w;
                    let b_at = packed.len();
                    packed.extend(b);
                    let params = ConvParams {
                        w: 0,
                        b: (b_at / 4) as u32,
                        ..params
                    };
                    let wbuf = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
                        label: Some("lab weights"),
                        contents: bytemuck::cast_slice(&packed),
                        usage: wgpu::BufferUsages::STORAGE,
                    });
                    let ubuf = uniform(device, bytemuck::bytes_of(&params));
                    let bind = self.bind(
                        &self.layouts[CONV],
                        &[
                            (0, &ubuf),
                            (1, &wbuf),
                            (2, &bufs[src.buf]),
                            (3, &bufs[dst.buf]),
                        ],
                    );
                    weights.push(wbuf);
                    held.push(ubuf);
                    Dispatch {
                        pipeline: CONV,
                        bind,
                        groups,
                    }
                }
                Op::Relu { buf } => {
                    let (ubuf, groups) = elt(device, floats[*buf]);
                    let bind = self.bind(&self.layouts[RELU], &[(0, &ubuf), (2, &bufs[*buf])]);
                    held.push(ubuf);
                    Dispatch {
                        pipeline: RELU,
                        bind,
                        groups,
                    }
                }
                Op::Add { src, dst } => {
                    let (ubuf, groups) = elt(device, floats[*dst]);
                    let bind = self.bind(
                        &self.layouts[ADD],
                        &[(0, &ubuf), (1, &bufs[*src]), (2, &bufs[*dst])],
                    );
                    held.push(ubuf);
                    Dispatch {
                        pipeline: ADD,
                        bind,
                        groups,
                    }
                }
            };
            dispatches.push(d);
        }
        held.extend(weights);
        let output_bytes = (batch * net.image_len(net.output) * 4) as u64;
        let staging = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("lab readback"),
            size: output_bytes.max(4),
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        Ok(Loaded {
            input: input_buf,
            input_bytes: (input.len() * 4) as u64,
            bufs,
            dispatches,
            output: net.output,
            output_bytes,
            staging,
            _held: held,
        })
    }

    /// `conv.wgsl`'s parameters (weights at 0 of their own buffer) and workgroups.
    fn conv_params(
        &self,
        conv: &LabConv,
        net: &LabNet,
        batch: usize,
        (src, src_off): (usize, usize),
        (dst, dst_off): (usize, usize),
    ) -> (ConvParams, [u32; 3]) {
        let u = |v: usize| v as u32;
        let plane = net.plane();
        let pixels = batch * plane;
        let (k, m) = (conv.in_ch / conv.groups, conv.out_ch / conv.groups);
        let blocks = padded(m) / 16;
        let split = match self.set {
            KernelSet::Hardware => conv_split(conv.taps * k, pixels, conv.groups * blocks),
            KernelSet::Software => 1,
        };
        let per_group = match self.set {
            KernelSet::Hardware => HW_GROUP / split,
            KernelSet::Software => 64,
        };
        let dst_c = net.buffers[dst];
        let params = ConvParams {
            p: u(pixels),
            ohw: u(plane),
            ih: u(net.side),
            iw: u(net.side),
            ow: u(net.side),
            stride: 1,
            taps: u(conv.taps),
            k: u(k),
            m: u(m),
            bpg: u(blocks),
            src_c: u(net.buffers[src]),
            src_off: u(src_off),
            dst_c: u(dst_c),
            cat_off: u(dst_off),
            cpg: u(dst_c),
            shuffle: 1,
            w: 0,
            b: 0,
            act: ACT_NONE,
            split: u(split),
        };
        (
            params,
            [u(div_up(pixels, per_group)), u(conv.groups * blocks), 1],
        )
    }

    fn bind(
        &self,
        layout: &wgpu::BindGroupLayout,
        entries: &[(u32, &wgpu::Buffer)],
    ) -> wgpu::BindGroup {
        let entries: Vec<_> = entries
            .iter()
            .map(|&(binding, buf)| wgpu::BindGroupEntry {
                binding,
                resource: buf.as_entire_binding(),
            })
            .collect();
        self.ctx
            .device
            .create_bind_group(&wgpu::BindGroupDescriptor {
                label: Some("lab"),
                layout,
                entries: &entries,
            })
    }

    /// Records one run: the input copied in, then every op; with `read`, the output copied
    /// to the staging buffer.
    fn submit(&self, l: &Loaded, read: bool) {
        let mut enc = self
            .ctx
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("lab run"),
            });
        enc.copy_buffer_to_buffer(&l.input, 0, &l.bufs[0], 0, l.input_bytes);
        {
            let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some("lab"),
                timestamp_writes: None,
            });
            for d in &l.dispatches {
                pass.set_pipeline(&self.pipelines[d.pipeline]);
                pass.set_bind_group(0, &d.bind, &[]);
                let [x, y, z] = d.groups;
                pass.dispatch_workgroups(x, y, z);
            }
        }
        if read {
            enc.copy_buffer_to_buffer(&l.bufs[l.output], 0, &l.staging, 0, l.output_bytes);
        }
        self.ctx.queue.submit([enc.finish()]);
    }
}

fn uniform(device: &wgpu::Device, bytes: &[u8]) -> wgpu::Buffer {
    device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
        label: Some("lab params"),
        contents: bytes,
        usage: wgpu::BufferUsages::UNIFORM,
    })
}

/// An element-wise pass over `floats` floats: its parameters and workgroups.
fn elt(device: &wgpu::Device, floats: usize) -> (wgpu::Buffer, [u32; 3]) {
    let len4 = floats / 4;
    let params = EltParams {
        len4: len4 as u32,
        pad: [0; 3],
    };
    let groups = div_up(len4, 256).clamp(1, ELT_GROUPS) as u32;
    (uniform(device, bytemuck::bytes_of(&params)), [groups, 1, 1])
}

impl Lab for LabGpu {
    fn name(&self) -> String {
        // The browser may name a software adapter only "software adapter": say it once.
        let name = &self.ctx.adapter_name;
        let soft = if self.software() && !name.contains("software") {
            ", software adapter"
        } else {
            ""
        };
        format!("webgpu ({name}{soft})")
    }

    fn column(&self) -> Column {
        Column::Gpu
    }

    fn load<'a>(
        &'a mut self,
        net: &'a LabNet,
        batch: usize,
        input: &'a [f32],
    ) -> LocalFuture<'a, Result<()>> {
        Box::pin(async move {
            self.loaded = None;
            let scope = self
                .ctx
                .device
                .push_error_scope(wgpu::ErrorFilter::OutOfMemory);
            let loaded = self.load_net(net, batch, input);
            if let Some(e) = scope.pop().await {
                return Err(Error::Gpu(format!(
                    "the benchmark network does not fit this device: {e}"
                )));
            }
            self.loaded = Some(loaded?);
            self.ctx.health.check()
        })
    }

    fn time(&mut self) -> LocalFuture<'_, Result<f64>> {
        Box::pin(async move {
            let l = self.loaded.as_ref().ok_or_else(guidelines::not_loaded)?;
            // Nothing else is in flight: the fence measures this run alone.
            self.ctx.wait_idle().await?;
            let start = web_time::Instant::now();
            self.submit(l, false);
            self.ctx.wait_idle().await?;
            Ok(start.elapsed().as_secs_f64() * 1000.0)
        })
    }

    fn output(&mut self) -> LocalFuture<'_, Result<Vec<f32>>> {
        Box::pin(async move {
            let l = self.loaded.as_ref().ok_or_else(guidelines::not_loaded)?;
            self.submit(l, true);
            let (tx, rx) = futures_channel::oneshot::channel();
            l.staging.map_async(wgpu::MapMode::Read, .., move |r| {
                let _ = tx.send(r);
            });
            self.ctx.poll()?;
            rx.await
                .map_err(|_| Error::Gpu("the GPU dropped the readback".into()))?
                .map_err(|e| Error::Gpu(format!("reading the benchmark output failed: {e}")))?;
            let out = l
                .staging
                .get_mapped_range(..l.output_bytes)
                .map_err(|e| Error::Gpu(format!("reading the benchmark output failed: {e}")))?
                .to_vec();
            l.staging.unmap();
            self.ctx.health.check()?;
            Ok(bytemuck::pod_collect_to_vec(&out))
        })
    }
}
