//! Steps of the units the fused kernels do not run (the tutorial's network): one dispatch
//! per conv, and the pass-through copy.

use super::dispatch::{Act, Kernel, Step, ACTS};
use super::tiles::{conv_split, div_up, HW_GROUP};
use crate::gpu::packed::{GeneralConv, GeneralUnit};
use crate::gpu::params::{act_code, ConvParams};
use crate::gpu::shape::DispatchShape;
use crate::gpu::KernelSet;
use crate::model::{Dims, HalfOrder, Stage};

/// Steps of the units the fused kernels do not run: one dispatch per conv.
pub(super) struct General<'a> {
    pub(super) set: KernelSet,
    pub(super) n: usize,
    pub(super) stage: Stage,
    pub(super) steps: &'a mut Vec<Step>,
    pub(super) size: &'a mut [usize; ACTS],
}

/// Where a conv's output goes: its branch's channels of the concatenation, shuffled.
#[derive(Clone, Copy)]
struct Store {
    dst: Act,
    /// Channels per image of `dst`.
    channels: usize,
    cat_off: usize,
    shuffle: usize,
}

impl Store {
    /// A branch-private buffer of `channels`, in order.
    fn plain(dst: Act, channels: usize) -> Store {
        Store {
            dst,
            channels,
            cat_off: 0,
            shuffle: 1,
        }
    }
}

impl General<'_> {
    /// Stride 1: the processed half through its three convs, the other half copied.
    /// Stride 2: both branches from the whole input. Each stores its outputs shuffled.
    pub(super) fn unit(
        &mut self,
        g: &GeneralUnit,
        (src, input): (Act, Dims),
        (dst, output): (Act, Dims),
    ) {
        let out_c = output.c;
        let shuffle = g.shuffle_groups;
        let store = |cat_off: usize| Store {
            dst,
            channels: out_c,
            cat_off,
            shuffle,
        };
        let [c1, _, c3] = &g.branch2;
        let n2 = c3.out_ch;
        match &g.branch1 {
            None => {
                let b = c1.in_ch;
                let pass = input.c - b;
                let (proc_off, pass_off) = match g.order {
                    HalfOrder::ProcessedFirst => (0, b),
                    HalfOrder::PassFirst => (pass, 0),
                };
                self.branch(g, (src, proc_off, input), store(proc_off), output);
                self.copy((src, pass_off, input.c), pass, store(pass_off), output);
            }
            Some([d1, p1]) => {
                let n1 = p1.out_ch;
                let (b1_at, b2_at) = match g.order {
                    HalfOrder::ProcessedFirst => (n2, 0),
                    HalfOrder::PassFirst => (0, n1),
                };
                let mid = Dims {
                    c: d1.out_ch,
                    ..output
                };
                self.conv(d1, (src, 0, input), Store::plain(Act::Tmp2, d1.out_ch), mid);
                self.conv(p1, (Act::Tmp2, 0, mid), store(b1_at), output);
                self.branch(g, (src, 0, input), store(b2_at), output);
            }
        }
    }

    /// Branch 2's 1x1, 3x3 and 1x1, reading `src` from channel `off`.
    fn branch(
        &mut self,
        g: &GeneralUnit,
        (src, off, input): (Act, usize, Dims),
        out: Store,
        output: Dims,
    ) {
        let [c1, c2, c3] = &g.branch2;
        let t1 = Dims {
            c: c1.out_ch,
            ..input
        };
        let t2 = Dims {
            c: c2.out_ch,
            ..output
        };
        self.conv(c1, (src, off, input), Store::plain(Act::Tmp, c1.out_ch), t1);
        self.conv(
            c2,
            (Act::Tmp, 0, t1),
            Store::plain(Act::Tmp2, c2.out_ch),
            t2,
        );
        self.conv(c3, (Act::Tmp2, 0, t2), out, output);
    }

    /// One conv: `input` is the whole source buffer's shape per image (its channels
    /// `off..` read), `output` the shape written.
    fn conv(
        &mut self,
        c: &GeneralConv,
        (src, off, input): (Act, usize, Dims),
        out: Store,
        output: Dims,
    ) {
        let u = |v: usize| v as u32;
        let hw = self.set == KernelSet::Hardware;
        let n = self.n;
        let pixels = n * output.plane();
        let (k, m) = (c.in_ch / c.groups, c.out_ch / c.groups);
        let r = c.taps * k;
        let split = if hw {
            conv_split(r, pixels, c.groups * c.blocks())
        } else {
            1
        };
        let need = n * out.channels * output.plane();
        self.size[out.dst as usize] = self.size[out.dst as usize].max(need);
        let params = ConvParams {
            p: u(pixels),
            ohw: u(output.plane()),
            ih: u(input.h),
            iw: u(input.w),
            ow: u(output.w),
            stride: u(c.stride),
            taps: u(c.taps),
            k: u(k),
            m: u(m),
            bpg: u(c.blocks()),
            src_c: u(input.c),
            src_off: u(off),
            dst_c: u(out.channels),
            cat_off: u(out.cat_off),
            cpg: u(out.channels / out.shuffle),
            shuffle: u(out.shuffle),
            w: c.at.w4(),
            b: c.at.b4(),
            act: act_code(c.act),
            split: u(split),
        };
        let (per_group, lanes) = if hw {
            (HW_GROUP / split, HW_GROUP)
        } else {
            (64, 64)
        };
        let groups = [div_up(pixels, per_group), c.groups * c.blocks(), 1];
        let f = |floats: usize| (floats * 4) as u64;
        let tree = if split > 1 { split.ilog2() as usize } else { 0 };
        let launch = self.launch(Kernel::Conv, groups, lanes);
        let shape = DispatchShape {
            // One slice of the taps x input channels, then the tree over the slices.
            serial_steps: (r.div_ceil(split) + tree) as u64,
            bytes_read: f(n * c.in_ch * input.plane() + c.out_ch * (r + 1)),
            bytes_written: f(n * c.out_ch * output.plane()),
            ..launch
        };
        self.push(Kernel::Conv, &params, (src, out.dst), groups, shape);
    }

    /// `channels` channels of `src` (`src_c` per image, from `off`) into `out`.
    fn copy(
        &mut self,
        (src, off, src_c): (Act, usize, usize),
        channels: usize,
        out: Store,
        output: Dims,
    ) {
        let u = |v: usize| v as u32;
        let n = self.n;
        let pixels = n * output.plane();
        let params = ConvParams {
            p: u(pixels),
            ohw: u(output.plane()),
            m: u(channels),
            src_c: u(src_c),
            src_off: u(off),
            dst_c: u(out.channels),
            cat_off: u(out.cat_off),
            cpg: u(out.channels / out.shuffle),
            shuffle: u(out.shuffle),
            ..Default::default()
        };
        let groups = [div_up(pixels, 64), channels, 1];
        let bytes = (n * channels * output.plane() * 4) as u64;
        let shape = DispatchShape {
            serial_steps: 1,
            bytes_read: bytes,
            bytes_written: bytes,
            ..self.launch(Kernel::Copy, groups, 64)
        };
        self.push(Kernel::Copy, &params, (src, out.dst), groups, shape);
    }

    /// The launch shape of `kernel` over `groups` workgroups of `lanes` invocations.
    fn launch(&self, kernel: Kernel, groups: [usize; 3], lanes: usize) -> DispatchShape {
        DispatchShape::launch(self.stage, kernel.label(self.set), groups, lanes)
    }

    /// A step of `kernel` reading `src` and writing `dst`.
    fn push(
        &mut self,
        kernel: Kernel,
        params: &ConvParams,
        (src, dst): (Act, Act),
        groups: [usize; 3],
        shape: DispatchShape,
    ) {
        self.steps.push(Step {
            kernel,
            params: bytemuck::bytes_of(params).to_vec(),
            src,
            src2: src,
            dst,
            groups,
            shape,
        });
    }
}
