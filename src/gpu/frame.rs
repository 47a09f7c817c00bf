//! RGBA frames in: where each output pixel of the 224 x 224 input samples the frame.
//! The geometry is `preprocess::rgba_to_tensor`'s; the shader does the sampling.

use super::params::{AxisParams, PreParams};
pub use crate::preprocess::Crop;

/// Side of the network input a frame is turned into.
pub const SIDE: usize = crate::preprocess::SIZE;

/// The shader's parameters: the crop and resize geometry of `preprocess::axes`.
pub fn params(width: usize, height: usize, crop: Crop) -> PreParams {
    let u = |v: usize| v as u32;
    let [x, y] = crate::preprocess::axes(width, height, crop).map(|a| AxisParams {
        src_off: u(a.src_off),
        in_len: u(a.in_len),
        out_len: u(a.out_len),
        out_off: u(a.out_off),
    });
    PreParams {
        x,
        y,
        side: u(SIDE),
        pad: [0; 3],
    }
}

/// The frame texture and the preprocessing bind group, kept while frames keep their size.
pub struct FrameInput {
    pub key: (u32, u32, Crop),
    pub texture: wgpu::Texture,
    pub bind: wgpu::BindGroup,
    _params: wgpu::Buffer,
}

impl FrameInput {
    pub fn new(
        device: &wgpu::Device,
        layout: &wgpu::BindGroupLayout,
        dst: &wgpu::Buffer,
        key: (u32, u32, Crop),
    ) -> FrameInput {
        use wgpu::util::DeviceExt;
        let (width, height, crop) = key;
        let texture = device.create_texture(&wgpu::TextureDescriptor {
            label: Some("frame"),
            size: wgpu::Extent3d {
                width,
                height,
                depth_or_array_layers: 1,
            },
            mip_level_count: 1,
            sample_count: 1,
            dimension: wgpu::TextureDimension::D2,
            format: wgpu::TextureFormat::Rgba8Unorm,
            // RENDER_ATTACHMENT: copy_external_image_to_texture requires it.
            usage: wgpu::TextureUsages::TEXTURE_BINDING
                | wgpu::TextureUsages::COPY_DST
                | wgpu::TextureUsages::RENDER_ATTACHMENT,
            view_formats: &[],
        });
        let p = params(width as usize, height as usize, crop);
        let params = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some("preprocess"),
            contents: bytemuck::bytes_of(&p),
            usage: wgpu::BufferUsages::UNIFORM,
        });
        let view = texture.create_view(&Default::default());
        let bind = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("preprocess"),
            layout,
            entries: &[
                wgpu::BindGroupEntry {
                    binding: 0,
                    resource: params.as_entire_binding(),
                },
                wgpu::BindGroupEntry {
                    binding: 1,
                    resource: wgpu::BindingResource::TextureView(&view),
                },
                wgpu::BindGroupEntry {
                    binding: 2,
                    resource: dst.as_entire_binding(),
                },
            ],
        });
        FrameInput {
            key,
            texture,
            bind,
            _params: params,
        }
    }

    pub fn groups() -> [u32; 3] {
        let g = SIDE.div_ceil(8) as u32;
        [g, g, 1]
    }
}
