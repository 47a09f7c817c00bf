//! Seeded random weights in torchvision's layout: the untrained stand-in used offline and by
//! the tests. BatchNorm statistics and affine parameters are random too, so folding bugs show.

use super::{DType, StateDict};
use crate::model::Arch;

/// SplitMix64: tiny, seedable, and identical on every target.
struct SplitMix(u64);

impl SplitMix {
    fn next_f32(&mut self) -> f32 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 40) as f32 / (1u64 << 24) as f32
    }

    fn uniform(&mut self, lo: f32, hi: f32) -> f32 {
        lo + (hi - lo) * self.next_f32()
    }
}

/// Random weights shaped like `ShuffleNetV2(arch).state_dict()`. Conv weights follow a
/// He-uniform scale so activations stay in a sane range through the whole depth.
pub fn state_dict(arch: &Arch, seed: u64) -> StateDict {
    let mut rng = SplitMix(seed);
    let mut sd = StateDict::default();
    for (name, shape) in super::expected(arch) {
        let n: usize = shape.iter().product();
        let part = name.rsplit('.').next().unwrap_or_default();
        let is_bn = shape.len() == 1 && name != "fc.bias";
        let data: Vec<f32> = if is_bn {
            let (lo, hi) = match part {
                "weight" => (0.5, 1.5),
                "bias" => (-0.2, 0.2),
                "running_mean" => (-0.2, 0.2),
                _ => (0.5, 1.5),
            };
            (0..n).map(|_| rng.uniform(lo, hi)).collect()
        } else {
            let fan_in: usize = shape[1..].iter().product::<usize>().max(1);
            let bound = (6.0 / fan_in as f32).sqrt();
            (0..n).map(|_| rng.uniform(-bound, bound)).collect()
        };
        sd.insert(name, shape, data);
    }
    sd.note_dtype(DType::F32);
    sd
}
