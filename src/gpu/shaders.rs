//! The WGSL kernels, composed from shared pieces when the pipelines are built.
//!
//! A source line `#import NAME` stands for the piece NAME: a `.wgsl` file of `shaders/` by
//! its stem (shared bindings, loads and stores, activations, or a whole kernel another one
//! extends), a parameter block's struct generated from its Rust twin in `params.rs` (`Dw`,
//! `Pw`, ...), or the activation codes (`act_codes`). Pieces are expanded recursively, each
//! once per kernel wherever it is first imported, so two pieces may import a third. WGSL
//! lets a module declare things in any order, so where a piece lands does not matter.

use std::borrow::Cow;

use super::params::{
    act_codes_wgsl, AxisParams, ConvParams, DwParams, EltParams, FcParams, PreParams, PwParams,
    StemParams, WgslStruct,
};
use super::{KernelSet, SubgroupUse};
use crate::{Error, Result};

/// The `.wgsl` files, by the name kernels import them with.
const FILES: &[(&str, &str)] = &[
    ("activation", include_str!("shaders/activation.wgsl")),
    ("conv", include_str!("shaders/conv.wgsl")),
    ("conv_io", include_str!("shaders/conv_io.wgsl")),
    ("conv_split", include_str!("shaders/conv_split.wgsl")),
    ("dw", include_str!("shaders/dw.wgsl")),
    ("dw_io", include_str!("shaders/dw_io.wgsl")),
    ("dw_quad", include_str!("shaders/dw_quad.wgsl")),
    ("eltwise", include_str!("shaders/eltwise.wgsl")),
    ("fc", include_str!("shaders/fc.wgsl")),
    ("fc_io", include_str!("shaders/fc_io.wgsl")),
    ("fc_split", include_str!("shaders/fc_split.wgsl")),
    ("fc_staged", include_str!("shaders/fc_staged.wgsl")),
    ("fc_subgroup", include_str!("shaders/fc_subgroup.wgsl")),
    ("head_subgroup", include_str!("shaders/head_subgroup.wgsl")),
    ("preprocess", include_str!("shaders/preprocess.wgsl")),
    ("pw", include_str!("shaders/pw.wgsl")),
    ("pw_io", include_str!("shaders/pw_io.wgsl")),
    ("pw_tiled", include_str!("shaders/pw_tiled.wgsl")),
    ("shuffle_copy", include_str!("shaders/shuffle_copy.wgsl")),
    ("stem", include_str!("shaders/stem.wgsl")),
];

/// The piece `name`, as written (its own imports not yet expanded).
fn piece(name: &str) -> Option<Cow<'static, str>> {
    let generated = match name {
        DwParams::NAME => DwParams::wgsl(),
        PwParams::NAME => PwParams::wgsl(),
        StemParams::NAME => StemParams::wgsl(),
        ConvParams::NAME => ConvParams::wgsl(),
        FcParams::NAME => FcParams::wgsl(),
        EltParams::NAME => EltParams::wgsl(),
        AxisParams::NAME => AxisParams::wgsl(),
        PreParams::NAME => PreParams::wgsl(),
        "act_codes" => act_codes_wgsl(),
        _ => {
            let file = FILES.iter().find(|(file, _)| *file == name)?;
            return Some(Cow::Borrowed(file.1));
        }
    };
    Some(Cow::Owned(generated))
}

/// The complete source of kernel `name`: its file with every import expanded.
pub fn compose(name: &str) -> Result<String> {
    let mut out = String::new();
    let mut seen = Vec::new();
    expand(name, &mut seen, &mut out)?;
    Ok(out)
}

fn expand(name: &str, seen: &mut Vec<String>, out: &mut String) -> Result<()> {
    if seen.iter().any(|s| s == name) {
        return Ok(());
    }
    seen.push(name.to_owned());
    let source = piece(name)
        .ok_or_else(|| Error::Gpu(format!("WGSL: no piece named {name:?} to import")))?;
    for line in source.lines() {
        match line.strip_prefix("#import ") {
            Some(import) => expand(import.trim(), seen, out)?,
            None => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    Ok(())
}

/// Kernels of one kernel set: (depthwise, 1x1 + head, fc, one conv of a unit the fused
/// kernels do not run). The stem, the pass-through copy and the preprocessing are shared.
/// `subgroups`: which of the hardware set's reductions use them.
pub fn kernel_names(set: KernelSet, subgroups: SubgroupUse) -> [&'static str; 4] {
    match set {
        KernelSet::Software => ["dw", "pw", "fc", "conv"],
        KernelSet::Hardware => [
            "dw_quad",
            // pw_tiled with the subgroup head beside its own.
            if subgroups.head_lanes > 0 {
                "head_subgroup"
            } else {
                "pw_tiled"
            },
            if subgroups.classifier {
                "fc_subgroup"
            } else {
                "fc_split"
            },
            "conv_split",
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

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;

    /// Every kernel the pipelines build, in every variant.
    fn all_kernels() -> Vec<&'static str> {
        let mut names = vec!["stem", "shuffle_copy", "preprocess", "eltwise"];
        for (set, subgroups) in [
            (KernelSet::Software, SubgroupUse::NONE),
            (KernelSet::Hardware, SubgroupUse::NONE),
            (KernelSet::Hardware, SubgroupUse::for_min_size(32)),
        ] {
            names.extend(kernel_names(set, subgroups));
        }
        names.sort_unstable();
        names.dedup();
        names
    }

    fn validate(label: &str, source: &str) {
        let module = naga::front::wgsl::parse_str(source)
            .unwrap_or_else(|e| panic!("{label}: {}", e.emit_to_string(source)));
        naga::valid::Validator::new(
            naga::valid::ValidationFlags::all(),
            naga::valid::Capabilities::all(),
        )
        .validate(&module)
        .unwrap_or_else(|e| panic!("{label}: {}", e.emit_to_string(source)));
    }

    #[test]
    fn every_kernel_composes_and_validates() {
        for name in all_kernels() {
            let source = compose(name).unwrap();
            assert!(!source.contains("#import"), "{name}");
            validate(name, &source);
        }
    }

    #[test]
    fn a_piece_imported_twice_lands_once() {
        // head_subgroup imports pw_tiled, and both reach pw_io's Pw through it.
        let source = compose("head_subgroup").unwrap();
        assert_eq!(source.matches("struct Pw {").count(), 1);
        assert_eq!(source.matches("fn pool_lanes(").count(), 1);
        assert_eq!(source.matches("fn head_main(").count(), 1);
        assert_eq!(source.matches("fn head_subgroup_main(").count(), 1);
    }

    #[test]
    fn an_unknown_import_is_an_error() {
        let mut out = String::new();
        let err = expand("no_such_piece", &mut Vec::new(), &mut out).unwrap_err();
        assert!(err.to_string().contains("no_such_piece"), "{err}");
    }

    #[test]
    fn every_file_is_a_kernel_or_imported_by_one() {
        let mut reached = Vec::new();
        for name in all_kernels() {
            expand(name, &mut reached, &mut String::new()).unwrap();
        }
        for (file, _) in FILES {
            assert!(reached.iter().any(|r| r == file), "{file}.wgsl is not used");
        }
    }

    #[test]
    fn f16_variants_of_every_kernel_validate_and_widen_every_weight_load() {
        for name in all_kernels() {
            let source = compose(name).unwrap();
            if !source.contains("var<storage, read> weights") {
                continue;
            }
            let f16 = with_f16_weights(&source);
            validate(&format!("{name} (f16)"), &f16);
            let loads = source.matches("weights[").count();
            let widened = f16.matches("32>(weights[").count() + f16.matches("f32(weights[").count();
            assert_eq!(widened, loads, "{name}: every weight load widened");
            assert!(f16.contains("array<vec4<f16>>") || f16.contains("array<f16>"));
        }
    }
}
