//! Every weight of the folded network in one flat f32 buffer, uploaded once at load.
//! Kernels find their tensors through the offsets recorded here.

use crate::model::{Conv, Network};

/// Where one conv's weight and bias start in the packed buffer.
#[derive(Clone, Copy, Debug)]
pub struct ConvAt {
    pub w: u32,
    pub b: u32,
}

/// Offsets of a unit's convs (see `model::Unit` for their order).
#[derive(Clone, Debug)]
pub struct UnitAt {
    pub branch1: Option<[ConvAt; 2]>,
    pub branch2: [ConvAt; 3],
}

/// Where each layer lives in the packed weights.
#[derive(Clone, Debug)]
pub struct Offsets {
    pub stem: ConvAt,
    pub units: Vec<UnitAt>,
    pub conv5: ConvAt,
    pub fc: ConvAt,
}

impl Offsets {
    /// All weights in execution order, and where each layer starts.
    pub fn pack(net: &Network) -> (Vec<f32>, Offsets) {
        let mut data = Vec::with_capacity(net.folded_params());
        let mut put = |w: &[f32], b: &[f32]| {
            let at = ConvAt {
                w: data.len() as u32,
                b: (data.len() + w.len()) as u32,
            };
            data.extend_from_slice(w);
            data.extend_from_slice(b);
            at
        };
        let mut conv = |c: &Conv| put(&c.weight, &c.bias);
        let stem = conv(&net.stem);
        let units = net
            .units()
            .map(|u| UnitAt {
                branch1: u.branch1.as_ref().map(|b| [conv(&b[0]), conv(&b[1])]),
                branch2: [
                    conv(&u.branch2[0]),
                    conv(&u.branch2[1]),
                    conv(&u.branch2[2]),
                ],
            })
            .collect();
        let conv5 = conv(&net.conv5);
        let fc = put(&net.fc.weight, &net.fc.bias);
        (
            data,
            Offsets {
                stem,
                units,
                conv5,
                fc,
            },
        )
    }
}
