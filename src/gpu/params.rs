//! Uniform parameter blocks, laid out exactly as the WGSL structs of the same names.

use bytemuck::{Pod, Zeroable};

/// `Dw` in dw.wgsl: [1x1 + ReLU ->] depthwise 3x3 for one branch.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct DwParams {
    pub c: u32,
    pub k: u32,
    pub src_c: u32,
    pub src_off: u32,
    pub ih: u32,
    pub iw: u32,
    pub oh: u32,
    pub ow: u32,
    pub stride: u32,
    pub tile: u32,
    pub tiles_x: u32,
    pub branches: u32,
    pub pw_w: u32,
    pub cp4: u32,
    pub pw_b: u32,
    pub dw_w: u32,
    pub dw_b: u32,
    pub dst_c: u32,
    pub dst_off: u32,
    pub pad: u32,
}

/// `Pw` in pw.wgsl: the last 1x1 + ReLU of one branch, stored shuffled (or conv5 + pool).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct PwParams {
    pub m: u32,
    pub k: u32,
    pub p: u32,
    pub ohw: u32,
    pub src_c: u32,
    pub src_off: u32,
    pub dst_c: u32,
    pub out_mul: u32,
    pub out_add: u32,
    pub w: u32,
    pub mp4: u32,
    pub b: u32,
    pub copy_c: u32,
    pub pad: [u32; 3],
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
