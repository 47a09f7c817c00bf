//! Every weight of the folded network in one flat f32 buffer, uploaded once at load.
//! Kernels find their tensors through the offsets recorded here.
//!
//! Layouts are chosen for the kernels: 1x1 convs are transposed to `[in][out]` with `out`
//! padded to a multiple of 16 (one invocation's block, read as 4 uniform vec4 loads), the
//! classifier is transposed to `[in][out]` (kept `[out][in]` for `fc_subgroup`), and every
//! tensor starts on a vec4 boundary.

use crate::model::{ConvKind, Linear, Network};

/// Where one layer's weight and bias start in the packed buffer, in floats.
#[derive(Clone, Copy, Debug)]
pub struct ConvAt {
    pub w: u32,
    pub b: u32,
}

impl ConvAt {
    /// The offsets in vec4s (every tensor is vec4-aligned).
    pub fn w4(self) -> u32 {
        self.w / 4
    }

    pub fn b4(self) -> u32 {
        self.b / 4
    }
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
    /// The classifier is stored `[out][in]`, for `fc_subgroup.wgsl`.
    pub fc_rows: bool,
}

/// Output channels of a 1x1 rounded up to whole 16-channel blocks.
pub fn padded(channels: usize) -> usize {
    channels.next_multiple_of(16)
}

struct Packer {
    data: Vec<f32>,
}

impl Packer {
    fn align(&mut self) -> u32 {
        self.data.resize(self.data.len().next_multiple_of(4), 0.0);
        self.data.len() as u32
    }

    fn put(&mut self, w: &[f32], b: &[f32]) -> ConvAt {
        let w_at = self.align();
        self.data.extend_from_slice(w);
        let b_at = self.align();
        self.data.extend_from_slice(b);
        ConvAt { w: w_at, b: b_at }
    }

    /// `[out][in]` stored as `[in][padded out]`, bias padded with zeros.
    fn transposed(&mut self, w: &[f32], b: &[f32], out: usize, inp: usize, out_p: usize) -> ConvAt {
        let mut t = vec![0.0; inp * out_p];
        for o in 0..out {
            for i in 0..inp {
                t[i * out_p + o] = w[o * inp + i];
            }
        }
        let mut bias = b.to_vec();
        bias.resize(out_p, 0.0);
        self.put(&t, &bias)
    }

    fn conv(&mut self, c: &crate::model::Conv) -> ConvAt {
        match c.kind {
            ConvKind::Pointwise => {
                self.transposed(&c.weight, &c.bias, c.out_ch, c.in_ch, padded(c.out_ch))
            }
            _ => self.put(&c.weight, &c.bias),
        }
    }
}

impl Packer {
    /// The classifier, last in the buffer so a taught head replaces only the tail.
    fn fc(&mut self, fc: &Linear, rows: bool) -> ConvAt {
        let at = if rows {
            self.put(&fc.weight, &fc.bias)
        } else {
            self.transposed(&fc.weight, &fc.bias, fc.out_f, fc.in_f, fc.out_f)
        };
        self.align();
        at
    }
}

impl Offsets {
    /// A new classifier packed to follow the backbone (which ends at `self.fc.w`): the
    /// tail to write there and the offsets that then hold.
    pub fn with_fc(&self, fc: &Linear) -> (Vec<f32>, Offsets) {
        let start = self.fc.w as usize;
        let mut p = Packer {
            data: vec![0.0; start],
        };
        let at = p.fc(fc, self.fc_rows);
        let tail = p.data.split_off(start);
        (
            tail,
            Offsets {
                fc: at,
                ..self.clone()
            },
        )
    }

    /// All weights in execution order, and where each layer starts; `fc_rows` keeps the
    /// classifier `[out][in]`.
    pub fn pack(net: &Network, fc_rows: bool) -> (Vec<f32>, Offsets) {
        let mut p = Packer {
            data: Vec::with_capacity(net.folded_params() * 11 / 10),
        };
        let stem = p.conv(&net.stem);
        let units = net
            .units()
            .map(|u| UnitAt {
                branch1: u.branch1.as_ref().map(|b| [p.conv(&b[0]), p.conv(&b[1])]),
                branch2: [
                    p.conv(&u.branch2[0]),
                    p.conv(&u.branch2[1]),
                    p.conv(&u.branch2[2]),
                ],
            })
            .collect();
        let conv5 = p.conv(&net.conv5);
        let fc = p.fc(&net.fc, fc_rows);
        (
            p.data,
            Offsets {
                stem,
                units,
                conv5,
                fc,
                fc_rows,
            },
        )
    }
}
