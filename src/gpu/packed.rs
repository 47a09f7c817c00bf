//! Every weight of the folded network in one flat f32 buffer, uploaded once at load.
//! Kernels find their tensors through the offsets recorded here.
//!
//! Layouts are chosen for the kernels: units other than torchvision's get `conv.wgsl`'s
//! layout (`GeneralConv`); in torchvision's, 1x1 convs are transposed to `[in][out]` with `out`
//! padded to a multiple of 16 (one invocation's block, read as 4 uniform vec4 loads), the
//! classifier is transposed to `[in][out]` (kept `[out][in]` for `fc_subgroup`), and every
//! tensor starts on a vec4 boundary.

use crate::model::{Activation, Conv, ConvKind, HalfOrder, Linear, Network, Unit};

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

/// A unit's convs (see `model::Unit` for their order) as its kernels read them.
// A few dozen per network, walked once per plan: the size difference costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug)]
pub enum UnitAt {
    /// torchvision's unit, run by the fused kernels (`dw`, `pw` and their hardware twins).
    Fused {
        branch1: Option<[ConvAt; 2]>,
        branch2: [ConvAt; 3],
    },
    /// Any other (the tutorial's), one conv per dispatch (`conv.wgsl`, `conv_split.wgsl`).
    General(GeneralUnit),
}

/// One conv for `conv.wgsl`: weights `[group][tap][in / groups][16 * blocks]`, bias
/// `[group][16 * blocks]`, each group's outputs padded to whole 16-channel blocks.
#[derive(Clone, Copy, Debug)]
pub struct GeneralConv {
    pub at: ConvAt,
    /// 1 (1x1) or 9 (3x3).
    pub taps: usize,
    pub groups: usize,
    pub in_ch: usize,
    pub out_ch: usize,
    pub stride: usize,
    pub act: Activation,
}

impl GeneralConv {
    /// Output blocks of 16 channels per group.
    pub fn blocks(&self) -> usize {
        padded(self.out_ch / self.groups) / 16
    }
}

#[derive(Clone, Debug)]
pub struct GeneralUnit {
    pub branch1: Option<[GeneralConv; 2]>,
    pub branch2: [GeneralConv; 3],
    pub order: HalfOrder,
    pub shuffle_groups: usize,
}

/// Where each layer lives in the packed weights.
#[derive(Clone, Debug)]
pub struct Offsets {
    pub stem: ConvAt,
    /// ReLU (torchvision) or ReLU6 (the tutorial).
    pub stem_act: Activation,
    pub units: Vec<UnitAt>,
    pub conv5: ConvAt,
    /// ReLU (torchvision) or none (the tutorial).
    pub conv5_act: Activation,
    pub fc: ConvAt,
    /// The classifier is stored `[out][in]`, for `fc_subgroup.wgsl`.
    pub fc_rows: bool,
}

/// Output channels of a 1x1 rounded up to whole 16-channel blocks.
pub fn padded(channels: usize) -> usize {
    channels.next_multiple_of(16)
}

/// A conv's weights `[out][in / groups][taps]` and bias in `conv.wgsl`'s layout (see
/// `GeneralConv`).
pub fn general_layout(
    weight: &[f32],
    bias: &[f32],
    taps: usize,
    groups: usize,
    out_ch: usize,
) -> (Vec<f32>, Vec<f32>) {
    let m = out_ch / groups;
    let k = weight.len() / (out_ch * taps);
    let mp = padded(m);
    let mut w = vec![0.0; groups * taps * k * mp];
    let mut b = vec![0.0; groups * mp];
    for g in 0..groups {
        for o in 0..m {
            let filter = &weight[(g * m + o) * k * taps..][..k * taps];
            for i in 0..k {
                for t in 0..taps {
                    w[((g * taps + t) * k + i) * mp + o] = filter[i * taps + t];
                }
            }
            b[g * mp + o] = bias[g * m + o];
        }
    }
    (w, b)
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
    fn general(&mut self, c: &Conv) -> GeneralConv {
        let groups = c.groups();
        let taps = if c.kind == ConvKind::Pointwise { 1 } else { 9 };
        let (w, b) = general_layout(&c.weight, &c.bias, taps, groups, c.out_ch);
        GeneralConv {
            at: self.put(&w, &b),
            taps,
            groups,
            in_ch: c.in_ch,
            out_ch: c.out_ch,
            stride: c.stride,
            act: c.act,
        }
    }

    fn unit(&mut self, u: &Unit) -> UnitAt {
        if u.is_torchvision() {
            return UnitAt::Fused {
                branch1: u
                    .branch1
                    .as_ref()
                    .map(|b| [self.conv(&b[0]), self.conv(&b[1])]),
                branch2: [
                    self.conv(&u.branch2[0]),
                    self.conv(&u.branch2[1]),
                    self.conv(&u.branch2[2]),
                ],
            };
        }
        UnitAt::General(GeneralUnit {
            branch1: u
                .branch1
                .as_ref()
                .map(|b| [self.general(&b[0]), self.general(&b[1])]),
            branch2: [
                self.general(&u.branch2[0]),
                self.general(&u.branch2[1]),
                self.general(&u.branch2[2]),
            ],
            order: u.order,
            shuffle_groups: u.shuffle_groups,
        })
    }

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
        let units = net.units().map(|u| p.unit(u)).collect();
        let conv5 = p.conv(&net.conv5);
        let fc = p.fc(&net.fc, fc_rows);
        (
            p.data,
            Offsets {
                stem,
                stem_act: net.stem.act,
                units,
                conv5,
                conv5_act: net.conv5.act,
                fc,
                fc_rows,
            },
        )
    }
}
