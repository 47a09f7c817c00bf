//! The committed fixtures written by `tools/make_fixtures.py` from torchvision.

use safetensors::SafeTensors;

pub const SMALL_F32: &[u8] = include_bytes!("../fixtures/small.safetensors");
pub const SMALL_F16: &[u8] = include_bytes!("../fixtures/small_f16.safetensors");
pub const SMALL_PTH: &[u8] = include_bytes!("../fixtures/small.pth");
pub const SMALL_F16_PTH: &[u8] = include_bytes!("../fixtures/small_f16.pth");
pub const SMALL_LEGACY_PTH: &[u8] = include_bytes!("../fixtures/small_legacy.pth");
const SMALL_IO: &[u8] = include_bytes!("../fixtures/small_io.safetensors");
const PREPROCESS: &[u8] = include_bytes!("../fixtures/preprocess.safetensors");

/// A tensor from a fixture file as (shape, f32 values); F16 and U8 are widened.
pub fn tensor(file: &[u8], name: &str) -> (Vec<usize>, Vec<f32>) {
    let st = SafeTensors::deserialize(file).expect("fixture parses");
    let v = st.tensor(name).expect("fixture tensor exists");
    let data = match v.dtype() {
        safetensors::Dtype::F32 => v
            .data()
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
            .collect(),
        safetensors::Dtype::F16 => v
            .data()
            .chunks_exact(2)
            .map(|c| half::f16::from_le_bytes(c.try_into().unwrap()).to_f32())
            .collect(),
        safetensors::Dtype::U8 => v.data().iter().map(|b| *b as f32).collect(),
        d => panic!("fixture dtype {d:?}"),
    };
    (v.shape().to_vec(), data)
}

/// torchvision's input and outputs for the small network: `input`, `stem`, `stage2`,
/// `stage3`, `stage4`, `logits`.
pub fn small_io(name: &str) -> (Vec<usize>, Vec<f32>) {
    tensor(SMALL_IO, name)
}

pub fn small_input() -> shufflenet_web::Tensor {
    let (s, d) = small_io("input");
    shufflenet_web::Tensor::new([s[0], s[1], s[2], s[3]], d).unwrap()
}

/// The test picture's RGB bytes and torchvision's `eval` / `square` transforms of it.
pub fn preprocess(name: &str) -> (Vec<usize>, Vec<f32>) {
    tensor(PREPROCESS, name)
}

/// The tutorial's network (issue 11), narrow, with 1 and 2 groups, saved as its readers do:
/// `torch.save(model.state_dict(), "….mdl")`.
pub const TUTORIAL_G1: &[u8] = include_bytes!("../fixtures/tutorial_g1.mdl");
pub const TUTORIAL_G2: &[u8] = include_bytes!("../fixtures/tutorial_g2.mdl");
const TUTORIAL_IO: &[u8] = include_bytes!("../fixtures/tutorial_io.safetensors");

/// PyTorch's outputs of the tutorial fixtures: `input`, and `g{1,2}.{stem, stage2, stage3,
/// stage4, logits}`.
pub fn tutorial_io(name: &str) -> (Vec<usize>, Vec<f32>) {
    tensor(TUTORIAL_IO, name)
}

pub fn tutorial_input() -> shufflenet_web::Tensor {
    let (s, d) = tutorial_io("input");
    shufflenet_web::Tensor::new([s[0], s[1], s[2], s[3]], d).unwrap()
}

/// Photo crops for Teach (issue 22): `pixels` (u8 `[N][56][56][3]`) and `labels` (u8; 0 to 2
/// are the taught classes, 3 the never-taught one), with the class names in the metadata.
pub const TEACH_CROPS: &[u8] = include_bytes!("../fixtures/teach_crops.safetensors");
/// torchvision's pooled features of the compared crops (`compared`: their indices) for each
/// backbone of tests/teach_export.rs.
pub const TEACH_FEATURES: &[u8] = include_bytes!("../fixtures/teach_features.safetensors");

/// A metadata entry of a fixture file.
pub fn metadata(file: &[u8], key: &str) -> String {
    let (_, meta) = SafeTensors::read_metadata(file).expect("fixture parses");
    meta.metadata()
        .as_ref()
        .and_then(|m| m.get(key).cloned())
        .expect("fixture metadata entry")
}
