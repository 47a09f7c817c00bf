//! Uniform parameter blocks. Each Rust struct here is the one source of its WGSL twin: the
//! `params!` macro defines the struct and writes the WGSL declaration (fields in the same
//! order, field docs as comments), which kernels import with `#import NAME` (see
//! `shaders.rs`). All fields are `u32` (or arrays of them, or another block), so `repr(C)`
//! and WGSL lay them out alike; `layout_tests` checks that with naga.

use bytemuck::{Pod, Zeroable};

/// A type a parameter block may hold, and how a field of it reads in WGSL.
pub trait WgslField {
    /// The WGSL member declaration(s) of a field `name` of this type.
    fn members(name: &str) -> String;
}

impl WgslField for u32 {
    fn members(name: &str) -> String {
        format!("    {name}: u32,\n")
    }
}

/// Padding: uniform arrays need 16-byte strides, so `[u32; N]` becomes N `u32` members.
impl<const N: usize> WgslField for [u32; N] {
    fn members(name: &str) -> String {
        (0..N).map(|i| format!("    {name}{i}: u32,\n")).collect()
    }
}

/// A parameter block with a WGSL declaration.
pub trait WgslStruct {
    /// The struct's name in WGSL.
    const NAME: &'static str;
    /// `struct NAME { ... }`.
    fn wgsl() -> String;
}

/// Defines a `repr(C)` parameter block and its WGSL declaration (`WgslStruct`).
macro_rules! params {
    ($(
        $(#[$meta:meta])*
        pub struct $name:ident as $wgsl:ident {
            $( $(#[doc = $doc:literal])* pub $field:ident: $ty:ty, )*
        }
    )*) => {$(
        $(#[$meta])*
        #[repr(C)]
        pub struct $name {
            $( $(#[doc = $doc])* pub $field: $ty, )*
        }

        impl WgslStruct for $name {
            const NAME: &'static str = stringify!($wgsl);
            fn wgsl() -> String {
                let mut s = format!("struct {} {{\n", stringify!($wgsl));
                $(
                    $( s.push_str(&format!("    //{}\n", $doc)); )*
                    s.push_str(&<$ty as WgslField>::members(stringify!($field)));
                )*
                s.push_str("}\n");
                s
            }
        }

        #[cfg(all(test, not(target_arch = "wasm32")))]
        impl $name {
            /// (field, byte offset) of every field, for the layout test.
            fn offsets() -> Vec<(&'static str, usize)> {
                vec![$( (stringify!($field), std::mem::offset_of!($name, $field)) ),*]
            }
        }

        impl WgslField for $name {
            fn members(name: &str) -> String {
                format!("    {name}: {},\n", stringify!($wgsl))
            }
        }
    )*};
}

params! {
    /// `Dw` of the depthwise kernels (dw.wgsl, dw_quad.wgsl): [1x1 + ReLU ->] depthwise 3x3
    /// for one branch.
    #[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
    pub struct DwParams as Dw {
        /// Channels produced (1x1 outputs = depthwise channels).
        pub c: u32,
        /// 1x1 input channels; 0: no 1x1, the depthwise reads the input directly.
        pub k: u32,
        /// Channels per image in src.
        pub src_c: u32,
        /// First input channel read (the stride-1 split is this offset).
        pub src_off: u32,
        pub ih: u32,
        pub iw: u32,
        pub oh: u32,
        pub ow: u32,
        pub stride: u32,
        /// Output tile side.
        pub tile: u32,
        pub tiles_x: u32,
        pub branches: u32,
        /// 1x1 weights, transposed [k][cp] in vec4s.
        pub pw_w: u32,
        /// Padded channel count / 4.
        pub cp4: u32,
        /// 1x1 bias (padded) in vec4s.
        pub pw_b: u32,
        /// Depthwise weights [c][9].
        pub dw_w: u32,
        /// Depthwise bias [c].
        pub dw_b: u32,
        /// Channels per image in dst.
        pub dst_c: u32,
        /// First dst channel written.
        pub dst_off: u32,
        /// Hardware set: channel quads per workgroup (the software set uses 16 channels).
        pub quads: u32,
        /// Hardware set: slices of the 1x1's reduction (split * quads * halo pixels <= 256).
        pub split: u32,
        pub pad: [u32; 3],
    }

    /// `Pw` of the 1x1 kernels (pw.wgsl, pw_tiled.wgsl): the last 1x1 + ReLU of one branch,
    /// stored shuffled (or conv5 + pool).
    #[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
    pub struct PwParams as Pw {
        /// Output channels.
        pub m: u32,
        /// Input channels.
        pub k: u32,
        /// Pixels over the batch.
        pub p: u32,
        /// Pixels per image.
        pub ohw: u32,
        pub src_c: u32,
        pub src_off: u32,
        pub dst_c: u32,
        pub out_mul: u32,
        pub out_add: u32,
        /// Weights [k][mp] in vec4s.
        pub w: u32,
        /// Padded output channels / 4.
        pub mp4: u32,
        /// Bias (padded) in vec4s.
        pub b: u32,
        /// > 0: copy pass-through channels from src2 (copy_c channels per image).
        pub copy_c: u32,
        /// Hardware set: slices the reduction over input channels is split into.
        pub split: u32,
        /// Hardware set: pixel quads per workgroup tile (`split * pq * 4 = 256` invocations).
        pub pq: u32,
        /// The head only: conv5's activation (`ACT_*`).
        pub act: u32,
    }

    /// `Stem` of stem.wgsl.
    #[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
    pub struct StemParams as Stem {
        pub n: u32,
        pub ih: u32,
        pub iw: u32,
        /// Conv output height.
        pub ch: u32,
        /// Conv output width.
        pub cw: u32,
        /// Pooled height.
        pub ph: u32,
        /// Pooled width.
        pub pw: u32,
        /// Output channels.
        pub oc: u32,
        pub w_off: u32,
        pub b_off: u32,
        /// `ACT_RELU` or `ACT_RELU6`.
        pub act: u32,
        pub pad: u32,
    }

    /// `Conv` of conv.wgsl, conv_split.wgsl and shuffle_copy.wgsl: one conv of a unit the
    /// fused kernels do not run (the tutorial's), or its pass-through copy.
    #[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
    pub struct ConvParams as Conv {
        /// Output pixels over the batch.
        pub p: u32,
        /// Output pixels per image.
        pub ohw: u32,
        pub ih: u32,
        pub iw: u32,
        pub ow: u32,
        pub stride: u32,
        /// 9 (3x3, padding 1) or 1 (1x1).
        pub taps: u32,
        /// Input channels per group.
        pub k: u32,
        /// Output channels per group (the copy: channels copied).
        pub m: u32,
        /// 16-channel blocks per group.
        pub bpg: u32,
        /// Channels per image in src.
        pub src_c: u32,
        /// First src channel read.
        pub src_off: u32,
        /// Channels per image in dst.
        pub dst_c: u32,
        /// This branch's first channel in the concatenation.
        pub cat_off: u32,
        /// Concatenated channels per shuffle group.
        pub cpg: u32,
        /// Shuffle groups (1: none).
        pub shuffle: u32,
        /// Weights in vec4s.
        pub w: u32,
        /// Bias [group][16 * bpg] in vec4s.
        pub b: u32,
        /// `ACT_*`.
        pub act: u32,
        /// Hardware set: reduction slices, a power of two, at most 256.
        pub split: u32,
    }

    /// `Fc` of the classifier kernels (fc.wgsl, fc_split.wgsl, fc_subgroup.wgsl).
    #[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
    pub struct FcParams as Fc {
        pub n: u32,
        pub in_f: u32,
        pub out_f: u32,
        pub w_off: u32,
        pub b_off: u32,
        pub pad: [u32; 3],
    }

    /// `Elt` of eltwise.wgsl: the guidelines' ReLU and add over whole buffers.
    #[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
    pub struct EltParams as Elt {
        /// Vec4s in the buffer.
        pub len4: u32,
        pub pad: [u32; 3],
    }

    /// `Axis` of preprocess.wgsl.
    #[derive(Clone, Copy, Debug, Default, Pod, Zeroable, PartialEq, Eq)]
    pub struct AxisParams as Axis {
        pub src_off: u32,
        pub in_len: u32,
        pub out_len: u32,
        pub out_off: u32,
    }

    /// `Pre` of preprocess.wgsl.
    #[derive(Clone, Copy, Debug, Default, Pod, Zeroable, PartialEq, Eq)]
    pub struct PreParams as Pre {
        pub x: AxisParams,
        pub y: AxisParams,
        pub side: u32,
        pub pad: [u32; 3],
    }
}

/// Activation codes the kernels take.
pub const ACT_NONE: u32 = 0;
pub const ACT_RELU: u32 = 1;
pub const ACT_RELU6: u32 = 2;

/// The activation codes as WGSL constants.
pub fn act_codes_wgsl() -> String {
    format!(
        "const ACT_NONE: u32 = {ACT_NONE}u;\nconst ACT_RELU: u32 = {ACT_RELU}u;\nconst ACT_RELU6: u32 = {ACT_RELU6}u;\n"
    )
}

/// The code of `act`.
pub fn act_code(act: crate::model::Activation) -> u32 {
    match act {
        crate::model::Activation::None => ACT_NONE,
        crate::model::Activation::Relu => ACT_RELU,
        crate::model::Activation::Relu6 => ACT_RELU6,
    }
}

/// Every parameter block against its generated WGSL struct as naga (wgpu's shader
/// compiler) lays it out: same fields at the same offsets, same size.
#[cfg(all(test, not(target_arch = "wasm32")))]
mod layout_tests {
    use super::*;
    use std::mem::size_of;

    /// The named struct of `source`: its fields that are not padding, and its size.
    fn wgsl_struct(source: &str, name: &str) -> (usize, Vec<(String, usize)>) {
        let module = naga::front::wgsl::parse_str(source)
            .unwrap_or_else(|e| panic!("{}", e.emit_to_string(source)));
        let mut layouter = naga::proc::Layouter::default();
        layouter
            .update(module.to_ctx())
            .expect("the structs lay out");
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
        panic!("no struct {name} in {source}");
    }

    fn check<T: WgslStruct>(offsets: Vec<(&str, usize)>, source: &str) {
        let (wgsl_size, wgsl) = wgsl_struct(source, T::NAME);
        let rust: Vec<(String, usize)> = offsets
            .into_iter()
            .filter(|(n, _)| !n.starts_with("pad"))
            .map(|(n, o)| (n.to_string(), o))
            .collect();
        assert_eq!(rust, wgsl, "fields of {}", T::NAME);
        assert_eq!(size_of::<T>(), wgsl_size, "size of {}", T::NAME);
    }

    #[test]
    fn parameter_blocks_match_their_wgsl_structs() {
        check::<DwParams>(DwParams::offsets(), &DwParams::wgsl());
        check::<PwParams>(PwParams::offsets(), &PwParams::wgsl());
        check::<StemParams>(StemParams::offsets(), &StemParams::wgsl());
        check::<ConvParams>(ConvParams::offsets(), &ConvParams::wgsl());
        check::<FcParams>(FcParams::offsets(), &FcParams::wgsl());
        check::<EltParams>(EltParams::offsets(), &EltParams::wgsl());
        check::<AxisParams>(AxisParams::offsets(), &AxisParams::wgsl());
        let pre = AxisParams::wgsl() + &PreParams::wgsl();
        check::<PreParams>(PreParams::offsets(), &pre);
        // Blocks of two (the unit kernels' branches) sit in arrays: 16-byte strides.
        assert_eq!(size_of::<DwParams>() % 16, 0);
        assert_eq!(size_of::<PwParams>() % 16, 0);
    }

    #[test]
    fn field_docs_become_wgsl_comments() {
        let dw = DwParams::wgsl();
        assert!(dw.starts_with("struct Dw {\n"), "{dw}");
        assert!(
            dw.contains("    // Output tile side.\n    tile: u32,\n"),
            "{dw}"
        );
        assert!(dw.contains("    pad2: u32,\n}\n"), "{dw}");
    }
}
