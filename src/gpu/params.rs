//! Uniform parameter blocks, laid out exactly as the WGSL structs of the same names.

use bytemuck::{Pod, Zeroable};

/// `Conv` in conv1x1.wgsl: one 1x1 convolution, optionally fed by a depthwise 3x3.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct ConvParams {
    pub m: u32,
    pub k: u32,
    pub p: u32,
    pub ohw: u32,
    pub ow: u32,
    pub ih: u32,
    pub iw: u32,
    pub stride: u32,
    pub src_c: u32,
    pub src_off: u32,
    pub dst_c: u32,
    pub out_mul: u32,
    pub out_add: u32,
    pub w_off: u32,
    pub b_off: u32,
    pub dw_w_off: u32,
    pub dw_b_off: u32,
    /// 0: plain 1x1; 1: depthwise 3x3 then 1x1.
    pub mode: u32,
    /// Read X from 0: `src`, 1: `src2`.
    pub sel: u32,
    /// Channels of `src` to copy pass-through channels from; 0: no copy.
    pub copy_c: u32,
    pub relu: u32,
    pub pad: [u32; 3],
}

/// `Params` in conv1x1.wgsl: one `ConvParams` per branch (workgroup_id.z).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct UnitParams {
    pub conv: [ConvParams; 2],
}

/// `Stem` in stem.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct StemParams {
    pub n: u32,
    pub ih: u32,
    pub iw: u32,
    pub ch: u32,
    pub cw: u32,
    pub ph: u32,
    pub pw: u32,
    pub oc: u32,
    pub w_off: u32,
    pub b_off: u32,
    pub pad: [u32; 2],
}

/// `Fc` in fc.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct FcParams {
    pub n: u32,
    pub in_f: u32,
    pub out_f: u32,
    pub w_off: u32,
    pub b_off: u32,
    pub pad: [u32; 3],
}

/// `Axis` in preprocess.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable, PartialEq, Eq)]
pub struct AxisParams {
    pub src_off: u32,
    pub in_len: u32,
    pub out_len: u32,
    pub out_off: u32,
}

/// `Pre` in preprocess.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable, PartialEq, Eq)]
pub struct PreParams {
    pub x: AxisParams,
    pub y: AxisParams,
    pub side: u32,
    pub pad: [u32; 3],
}
