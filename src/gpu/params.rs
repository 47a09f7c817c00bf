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
    /// Hardware set: channel quads per workgroup (the software set uses 16 channels), and
    /// slices the 1x1's reduction is split into.
    pub quads: u32,
    pub split: u32,
    pub pad: [u32; 3],
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
    /// Hardware set: slices the reduction over input channels is split into, and pixel
    /// quads per workgroup tile (`split * pq * 4 = 256` invocations).
    pub split: u32,
    pub pq: u32,
    /// The head only: conv5's activation (`ACT_*`).
    pub act: u32,
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
    /// `ACT_RELU` or `ACT_RELU6`.
    pub act: u32,
    pub pad: u32,
}

/// `Conv` in conv.wgsl, conv_split.wgsl and shuffle_copy.wgsl: one conv of a unit the
/// fused kernels do not run (the tutorial's), or its pass-through copy.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct ConvParams {
    pub p: u32,
    pub ohw: u32,
    pub ih: u32,
    pub iw: u32,
    pub ow: u32,
    pub stride: u32,
    pub taps: u32,
    pub k: u32,
    pub m: u32,
    pub bpg: u32,
    pub src_c: u32,
    pub src_off: u32,
    pub dst_c: u32,
    pub cat_off: u32,
    pub cpg: u32,
    pub shuffle: u32,
    pub w: u32,
    pub b: u32,
    pub act: u32,
    pub split: u32,
}

/// Activation codes the kernels take.
pub const ACT_NONE: u32 = 0;
pub const ACT_RELU: u32 = 1;
pub const ACT_RELU6: u32 = 2;

/// The code of `act`.
pub fn act_code(act: crate::model::Activation) -> u32 {
    match act {
        crate::model::Activation::None => ACT_NONE,
        crate::model::Activation::Relu => ACT_RELU,
        crate::model::Activation::Relu6 => ACT_RELU6,
    }
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

/// Every parameter block against the WGSL struct it feeds, as naga (wgpu's shader
/// compiler) lays the struct out: same fields at the same offsets, same size.
#[cfg(all(test, not(target_arch = "wasm32")))]
mod layout_tests {
    use super::*;
    use std::mem::{offset_of, size_of};

    /// (field, offset) of a Rust struct's fields that are not padding.
    macro_rules! fields {
        ($t:ty: $($f:ident),*) => {
            (size_of::<$t>(), vec![$((stringify!($f), offset_of!($t, $f))),*])
        };
    }

    /// The named struct of `source`: its fields that are not padding, and its size.
    fn wgsl_struct(source: &str, name: &str) -> (usize, Vec<(String, usize)>) {
        let module = naga::front::wgsl::parse_str(source).expect("the shader parses");
        let mut layouter = naga::proc::Layouter::default();
        layouter
            .update(module.to_ctx())
            .expect("the shader's types lay out");
        for (handle, ty) in module.types.iter() {
            if ty.name.as_deref() != Some(name) {
                continue;
            }
            let naga::TypeInner::Struct { members, .. } = &ty.inner else {
                panic!("{name} is not a struct");
            };
            let fields = members
                .iter()
                .filter_map(|m| m.name.clone().map(|n| (n, m.offset as usize)))
                .filter(|(n, _)| !n.starts_with("pad"))
                .collect();
            return (layouter[handle].size as usize, fields);
        }
        panic!("no struct {name} in the shader");
    }

    fn check(file: &str, source: &str, name: &str, (size, rust): (usize, Vec<(&str, usize)>)) {
        let (wgsl_size, wgsl) = wgsl_struct(source, name);
        let rust: Vec<(String, usize)> = rust
            .into_iter()
            .filter(|(n, _)| !n.starts_with("pad"))
            .map(|(n, o)| (n.to_string(), o))
            .collect();
        assert_eq!(rust, wgsl, "{file}: fields of {name}");
        assert_eq!(size, wgsl_size, "{file}: size of {name}");
    }

    #[test]
    fn parameter_blocks_match_the_wgsl_structs() {
        let dw = || {
            fields!(DwParams: c, k, src_c, src_off, ih, iw, oh, ow, stride, tile, tiles_x,
                branches, pw_w, cp4, pw_b, dw_w, dw_b, dst_c, dst_off, quads, split, pad)
        };
        let pw = || {
            fields!(PwParams: m, k, p, ohw, src_c, src_off, dst_c, out_mul, out_add, w, mp4, b,
                copy_c, split, pq, act)
        };
        let fc = || fields!(FcParams: n, in_f, out_f, w_off, b_off, pad);
        let shaders = [
            ("dw.wgsl", include_str!("shaders/dw.wgsl")),
            ("dw_quad.wgsl", include_str!("shaders/dw_quad.wgsl")),
            ("pw.wgsl", include_str!("shaders/pw.wgsl")),
            ("pw_tiled.wgsl", include_str!("shaders/pw_tiled.wgsl")),
            ("fc.wgsl", include_str!("shaders/fc.wgsl")),
            ("fc_split.wgsl", include_str!("shaders/fc_split.wgsl")),
        ];
        for (file, source) in shaders {
            match file.split(['_', '.']).next() {
                Some("dw") => check(file, source, "Dw", dw()),
                Some("pw") => check(file, source, "Pw", pw()),
                _ => check(file, source, "Fc", fc()),
            }
        }
        let stem = include_str!("shaders/stem.wgsl");
        let stem_fields =
            fields!(StemParams: n, ih, iw, ch, cw, ph, pw, oc, w_off, b_off, act, pad);
        check("stem.wgsl", stem, "Stem", stem_fields);
        for (file, source) in [
            ("conv.wgsl", include_str!("shaders/conv.wgsl")),
            ("conv_split.wgsl", include_str!("shaders/conv_split.wgsl")),
            (
                "shuffle_copy.wgsl",
                include_str!("shaders/shuffle_copy.wgsl"),
            ),
        ] {
            let conv = fields!(ConvParams: p, ohw, ih, iw, ow, stride, taps, k, m, bpg, src_c,
                src_off, dst_c, cat_off, cpg, shuffle, w, b, act, split);
            check(file, source, "Conv", conv);
        }
        let pre = include_str!("shaders/preprocess.wgsl");
        let axis = fields!(AxisParams: src_off, in_len, out_len, out_off);
        check("preprocess.wgsl", pre, "Axis", axis);
        check(
            "preprocess.wgsl",
            pre,
            "Pre",
            fields!(PreParams: x, y, side, pad),
        );
        // Blocks of two (the unit kernels' branches) sit in arrays: 16-byte strides.
        assert_eq!(size_of::<DwParams>() % 16, 0);
        assert_eq!(size_of::<PwParams>() % 16, 0);
    }
}
