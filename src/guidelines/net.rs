//! The benchmark networks: a short list of ops over a few NCHW buffers, and the paper's
//! cost model (FLOPs as multiply-adds, MAC as floats moved, section 2).

/// A 1x1 or 3x3 (padding 1, stride 1) convolution with bias and no activation, dense or in
/// groups. Weights `[out][in / groups][taps]`.
#[derive(Clone, Debug)]
pub struct LabConv {
    /// 1 (1x1) or 9 (3x3).
    pub taps: usize,
    pub in_ch: usize,
    pub out_ch: usize,
    pub groups: usize,
    pub weight: Vec<f32>,
    pub bias: Vec<f32>,
}

impl LabConv {
    /// Seeded weights scaled by the fan-in, so twenty stacked layers stay near unit size.
    pub fn random(taps: usize, in_ch: usize, out_ch: usize, groups: usize, seed: u64) -> LabConv {
        assert!(
            groups > 0 && in_ch.is_multiple_of(groups) && out_ch.is_multiple_of(groups),
            "{in_ch} -> {out_ch} channels in {groups} groups"
        );
        let fan_in = in_ch / groups * taps;
        let scale = (3.0 / fan_in as f32).sqrt();
        let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
        LabConv {
            taps,
            in_ch,
            out_ch,
            groups,
            weight: (0..out_ch * fan_in).map(|_| rng.unit() * scale).collect(),
            bias: (0..out_ch).map(|_| rng.unit() * 0.1).collect(),
        }
    }

    /// Multiply-adds per output pixel.
    pub fn macs_per_pixel(&self) -> usize {
        self.out_ch * self.in_ch / self.groups * self.taps
    }
}

/// Channels `off..` of buffer `buf`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct At {
    pub buf: usize,
    pub off: usize,
}

impl At {
    pub fn whole(buf: usize) -> At {
        At { buf, off: 0 }
    }
}

#[derive(Clone, Debug)]
pub enum Op {
    /// Reads `conv.in_ch` channels of `src`, writes `conv.out_ch` channels of `dst` (a
    /// parallel branch writes its slice of the concatenation).
    Conv { conv: LabConv, src: At, dst: At },
    /// `buf = max(buf, 0)`, every channel.
    Relu { buf: usize },
    /// `dst += src`, every channel (both have as many).
    Add { src: usize, dst: usize },
}

/// A benchmark network on `side x side` images: buffer 0 holds the input, `output` the
/// result; `buffers[b]` is buffer b's channel count.
#[derive(Clone, Debug)]
pub struct LabNet {
    pub side: usize,
    pub buffers: Vec<usize>,
    pub output: usize,
    pub ops: Vec<Op>,
}

/// The paper's cost of a network for one batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cost {
    /// Multiply-adds of the convolutions per image (the paper's FLOPs, `B = hw c1 c2`).
    pub flops: u64,
    /// Bytes moved per batch by the paper's model: every op reads its inputs and writes its
    /// output once (`hw (c1 + c2) + c1 c2` for a 1x1, `2hwc` for ReLU, `3hwc` for an add),
    /// weights once per batch; 4 bytes a float.
    pub mac_bytes: u64,
}

impl LabNet {
    pub fn plane(&self) -> usize {
        self.side * self.side
    }

    /// Floats of one image in buffer `b`.
    pub fn image_len(&self, b: usize) -> usize {
        self.buffers[b] * self.plane()
    }

    pub fn input_channels(&self) -> usize {
        self.buffers[0]
    }

    pub fn output_channels(&self) -> usize {
        self.buffers[self.output]
    }

    pub fn cost(&self, batch: usize) -> Cost {
        let hw = self.plane() as u64;
        let n = batch as u64;
        let mut flops = 0;
        let mut floats = 0;
        for op in &self.ops {
            match op {
                Op::Conv { conv, .. } => {
                    flops += hw * conv.macs_per_pixel() as u64;
                    floats += n * hw * (conv.in_ch + conv.out_ch) as u64 + conv.weight.len() as u64;
                }
                Op::Relu { buf } => floats += 2 * n * hw * self.buffers[*buf] as u64,
                Op::Add { dst, .. } => floats += 3 * n * hw * self.buffers[*dst] as u64,
            }
        }
        Cost {
            flops,
            mac_bytes: 4 * floats,
        }
    }

    /// Every op reads and writes inside its buffers with matching channel counts.
    pub fn check(&self) -> Result<(), String> {
        let fits = |at: At, c: usize| self.buffers.get(at.buf).is_some_and(|&bc| at.off + c <= bc);
        for (i, op) in self.ops.iter().enumerate() {
            let ok = match op {
                Op::Conv { conv, src, dst } => {
                    src.buf != dst.buf && fits(*src, conv.in_ch) && fits(*dst, conv.out_ch)
                }
                Op::Relu { buf } => *buf < self.buffers.len(),
                Op::Add { src, dst } => {
                    src != dst
                        && *src.max(dst) < self.buffers.len()
                        && self.buffers[*src] == self.buffers[*dst]
                }
            };
            if !ok {
                return Err(format!("op {i} ({op:?}) does not fit the buffers"));
            }
        }
        (self.output < self.buffers.len())
            .then_some(())
            .ok_or_else(|| "no such output buffer".into())
    }
}

/// A network under construction: ops over buffers, input in buffer 0.
struct Builder {
    side: usize,
    buffers: Vec<usize>,
    ops: Vec<Op>,
    seed: u64,
}

impl Builder {
    fn new(side: usize, buffers: Vec<usize>, seed: u64) -> Builder {
        Builder {
            side,
            buffers,
            ops: Vec::new(),
            seed,
        }
    }

    fn conv(
        &mut self,
        taps: usize,
        (in_ch, out_ch, groups): (usize, usize, usize),
        src: At,
        dst: At,
    ) {
        self.seed += 1;
        let conv = LabConv::random(taps, in_ch, out_ch, groups, self.seed);
        self.ops.push(Op::Conv { conv, src, dst });
    }

    fn finish(self, output: usize) -> LabNet {
        let net = LabNet {
            side: self.side,
            buffers: self.buffers,
            output,
            ops: self.ops,
        };
        debug_assert_eq!(net.check(), Ok(()));
        net
    }
}

/// G1: `REPEAT` blocks of a 1x1 `c1 -> c2` and a 1x1 `c2 -> c1`.
pub fn widths(side: usize, c1: usize, c2: usize, repeat: usize, seed: u64) -> LabNet {
    let mut b = Builder::new(side, vec![c1, c2], seed);
    for _ in 0..repeat {
        b.conv(1, (c1, c2, 1), At::whole(0), At::whole(1));
        b.conv(1, (c2, c1, 1), At::whole(1), At::whole(0));
    }
    b.finish(0)
}

/// G2: `repeat` 1x1 convs of `c` channels in `g` groups. When `g` does not divide `c`, the
/// layers alternate between the multiples of `g` below and above it.
pub fn groups(side: usize, c: usize, g: usize, repeat: usize, seed: u64) -> LabNet {
    let even = c - c % g;
    let odd = if c.is_multiple_of(g) { c } else { even + g };
    let mut b = Builder::new(side, vec![even, odd], seed);
    for i in 0..repeat {
        let (s, t) = (i % 2, 1 - i % 2);
        let (cin, cout) = if s == 0 { (even, odd) } else { (odd, even) };
        b.conv(1, (cin, cout, g), At::whole(s), At::whole(t));
    }
    b.finish(repeat % 2)
}

/// G3 (Appendix Fig. 1): `repeat` blocks of `n` 1x1 convs. In series, each `c -> c`; in
/// parallel, each reads the block's `c` channels and writes its `c / n` of their
/// concatenation.
pub fn fragments(
    side: usize,
    c: usize,
    n: usize,
    parallel: bool,
    repeat: usize,
    seed: u64,
) -> LabNet {
    let mut b = Builder::new(side, vec![c, c], seed);
    let mut cur = 0;
    for _ in 0..repeat {
        if parallel {
            for j in 0..n {
                let dst = At {
                    buf: 1 - cur,
                    off: j * c / n,
                };
                b.conv(1, (c, c / n, 1), At::whole(cur), dst);
            }
            cur = 1 - cur;
        } else {
            for _ in 0..n {
                b.conv(1, (c, c, 1), At::whole(cur), At::whole(1 - cur));
                cur = 1 - cur;
            }
        }
    }
    b.finish(cur)
}

/// G4: `repeat` ResNet bottleneck units of `c` channels: 1x1, 3x3, 1x1, each of the first
/// two followed by ReLU, then the shortcut's add and the unit's last ReLU, with or without
/// the ReLUs and the shortcut.
pub fn bottleneck(
    side: usize,
    c: usize,
    relu: bool,
    shortcut: bool,
    repeat: usize,
    seed: u64,
) -> LabNet {
    let mut b = Builder::new(side, vec![c, c, c], seed);
    let (mut x, mut t) = (0, 1);
    for _ in 0..repeat {
        b.conv(1, (c, c, 1), At::whole(x), At::whole(t));
        if relu {
            b.ops.push(Op::Relu { buf: t });
        }
        b.conv(9, (c, c, 1), At::whole(t), At::whole(2));
        if relu {
            b.ops.push(Op::Relu { buf: 2 });
        }
        // The unit's output reuses the first temporary: its input is still needed.
        b.conv(1, (c, c, 1), At::whole(2), At::whole(t));
        if shortcut {
            b.ops.push(Op::Add { src: x, dst: t });
        }
        if relu {
            b.ops.push(Op::Relu { buf: t });
        }
        (x, t) = (t, x);
    }
    b.finish(x)
}

/// xorshift64*: seeded values in [-1, 1).
pub struct Rng(pub u64);

impl Rng {
    pub fn unit(&mut self) -> f32 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let bits = self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 40;
        bits as f32 / (1u64 << 23) as f32 - 1.0
    }
}
