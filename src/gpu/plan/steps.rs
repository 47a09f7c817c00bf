//! The steps of a frame for either kernel set: which kernel runs with which parameter block
//! over which activation buffers, in how many workgroups, and the work shape it reports.

use super::dispatch::{Act, Kernel, Step, ACTS};
use super::general_units::General;
use super::tiles::{
    div_up, dw_quads, dw_serial, dw_split, dw_tile, head_tile, pw_tile, FC_COLS, FC_SLICES,
    HW_GROUP, HW_MIN_INVOCATIONS,
};
use crate::gpu::packed::{padded, Offsets, UnitAt};
use crate::gpu::params::{act_code, DwParams, FcParams, PwParams, StemParams};
use crate::gpu::shape::DispatchShape;
use crate::gpu::KernelSet;
use crate::model::{Skeleton, Stage};

/// The steps of one frame and the floats each activation buffer needs.
pub(super) fn steps(
    d: &Skeleton,
    at: &Offsets,
    set: KernelSet,
    head_lanes: usize,
    n: usize,
    h: usize,
    w: usize,
) -> (Vec<Step>, [usize; ACTS]) {
    let u = |v: usize| v as u32;
    let f = |floats: usize| (floats * 4) as u64;
    let hw = set == KernelSet::Hardware;
    let shape = |stage: usize, kernel: Kernel, groups: [usize; 3], size: usize| {
        DispatchShape::launch(Stage::ALL[stage], kernel.label(set), groups, size)
    };
    let mut size = [0usize; ACTS];
    size[Act::Input as usize] = n * 3 * h * w;
    // Shapes come from the network's walk: stem, max pool, the units, conv5, pool, fc.
    let walk = d.dims(h, w);
    let units = at.units.len();
    let (conv1, pooled) = (walk[0].1, walk[1].1);
    let (ch, cw, ph, pw) = (conv1.h, conv1.w, pooled.h, pooled.w);
    let stem_out = conv1.c;
    let (conv5_in, conv5_out) = (walk[2 + units].0, walk[2 + units].1.c);
    let classes = walk[walk.len() - 1].1.c;
    let mut cur = Act::Ping;
    size[cur as usize] = n * stem_out * ph * pw;
    let stem_groups = [div_up(pw, 8), div_up(ph, 4), n];
    let mut steps = vec![Step {
        kernel: Kernel::Stem,
        params: bytemuck::bytes_of(&StemParams {
            n: u(n),
            ih: u(h),
            iw: u(w),
            ch: u(ch),
            cw: u(cw),
            ph: u(ph),
            pw: u(pw),
            oc: u(stem_out),
            w_off: at.stem.w,
            b_off: at.stem.b,
            act: act_code(at.stem_act),
            pad: 0,
        })
        .to_vec(),
        src: Act::Input,
        src2: Act::Input,
        dst: cur,
        groups: stem_groups,
        shape: DispatchShape {
            // 27 taps, then the 9 of the pool window.
            serial_steps: 27 + 9,
            bytes_read: f(n * 3 * h * w + stem_out * 28),
            bytes_written: f(n * stem_out * ph * pw),
            ..shape(0, Kernel::Stem, stem_groups, 64)
        },
    }];
    let unit_walk = walk[2..2 + units].iter().zip(&d.layers[2..2 + units]);
    for ((&(input, output), layer), ua) in unit_walk.zip(&at.units) {
        let (stride, stage) = (layer.stride, layer.stage as usize);
        let next = if cur == Act::Ping {
            Act::Pong
        } else {
            Act::Ping
        };
        let (branch1, branch2) = match ua {
            UnitAt::Fused { branch1, branch2 } => (branch1, branch2),
            UnitAt::General(g) => {
                let mut general = General {
                    set,
                    n,
                    stage: Stage::ALL[stage],
                    steps: &mut steps,
                    size: &mut size,
                };
                general.unit(g, (cur, input), (next, output));
                cur = next;
                continue;
            }
        };
        let (in_ch, b) = (input.c, output.c / 2);
        let (ih, iw, oh, ow) = (input.h, input.w, output.h, output.w);
        let branches = if branch1.is_some() { 2 } else { 1 };
        // Depthwise outputs: branch 2's channels, then (stride 2) branch 1's.
        let tmp_c = if branches == 2 { b + in_ch } else { b };
        size[next as usize] = size[next as usize].max(n * 2 * b * oh * ow);
        size[Act::Tmp as usize] = size[Act::Tmp as usize].max(n * tmp_c * oh * ow);
        // Branch 2's first 1x1 reads the second half (stride 1) or all of the input.
        let k2 = if stride == 1 { b } else { in_ch };

        // Dispatch 1: [1x1 + ReLU ->] depthwise for each branch. Stride 1 reads the second
        // half of the input: the split is an offset.
        // Small late maps get a tile their size, so no workgroup loops over empty pixels.
        // The hardware set halves the tile until there are enough workgroups and lanes to
        // split long 1x1 reductions over.
        let widest = if branches == 2 { b.max(in_ch) } else { b };
        let mut tile = dw_tile(stride).min(oh.max(ow));
        let (tiles_x, tiles, quads, dw_split) = loop {
            let tiles_x = div_up(ow, tile);
            let tiles = tiles_x * div_up(oh, tile);
            let halo = (tile - 1) * stride + 3;
            if !hw {
                break (tiles_x, tiles, 0, 0);
            }
            let split = dw_split(k2, halo * halo);
            let quads = dw_quads(split * halo * halo, widest, tiles * n * branches);
            let groups = tiles * div_up(widest, 4 * quads) * n * branches;
            let enough = groups * HW_GROUP >= HW_MIN_INVOCATIONS;
            if (enough && dw_serial(k2, split) <= 256) || tile <= 2 {
                break (tiles_x, tiles, quads, split);
            }
            tile = tile.div_ceil(2);
        };
        let dw_common = DwParams {
            ih: u(ih),
            iw: u(iw),
            oh: u(oh),
            ow: u(ow),
            stride: u(stride),
            tile: u(tile),
            tiles_x: u(tiles_x),
            branches: u(branches),
            src_c: u(in_ch),
            dst_c: u(tmp_c),
            quads: u(quads),
            split: u(dw_split),
            ..Default::default()
        };
        let [pw1, dw2, pw2] = *branch2;
        let dw_branch2 = DwParams {
            c: u(b),
            k: u(k2),
            src_off: u(if stride == 1 { b } else { 0 }),
            pw_w: pw1.w4(),
            cp4: u(padded(b) / 4),
            pw_b: pw1.b4(),
            dw_w: dw2.w,
            dw_b: dw2.b,
            ..dw_common
        };
        let dw_branch1 = match *branch1 {
            Some([dw1, _]) => DwParams {
                c: u(in_ch),
                dw_w: dw1.w,
                dw_b: dw1.b,
                dst_off: u(b),
                ..dw_common
            },
            None => DwParams::default(),
        };
        let channels_per_group = if hw { 4 * quads } else { 16 };
        let dw_groups = [tiles, div_up(widest, channels_per_group), n * branches];
        let branch1_weights = if branches == 2 { in_ch * 10 } else { 0 };
        steps.push(Step {
            kernel: Kernel::Dw,
            params: bytemuck::bytes_of(&[dw_branch2, dw_branch1]).to_vec(),
            src: cur,
            src2: cur,
            dst: Act::Tmp,
            groups: dw_groups,
            shape: DispatchShape {
                // The 1x1's inputs (or one slice of them and the slices' sum), then the 9 taps.
                serial_steps: if hw { dw_serial(k2, dw_split) } else { k2 + 9 } as u64,
                bytes_read: f(n * k2 * ih * iw + k2 * b + b + b * 10 + branch1_weights),
                bytes_written: f(n * tmp_c * oh * ow),
                ..shape(stage, Kernel::Dw, dw_groups, 256)
            },
        });

        // Dispatch 2: each branch's last 1x1 + ReLU into its shuffled channels (branch 2
        // odd, branch 1 even); stride 1 copies the pass-through half into the even ones.
        let pixels = n * oh * ow;
        let k_max = if branches == 2 { in_ch.max(b) } else { b };
        let (pq, split) = if hw {
            pw_tile(k_max, pixels, b, branches)
        } else {
            (0, 0)
        };
        let pw_common = PwParams {
            m: u(b),
            p: u(pixels),
            ohw: u(oh * ow),
            src_c: u(tmp_c),
            dst_c: u(2 * b),
            out_mul: 2,
            mp4: u(padded(b) / 4),
            split: u(split),
            pq: u(pq),
            ..Default::default()
        };
        let pw_branch2 = PwParams {
            k: u(b),
            out_add: 1,
            w: pw2.w4(),
            b: pw2.b4(),
            copy_c: if stride == 1 { u(in_ch) } else { 0 },
            ..pw_common
        };
        let pw_branch1 = match *branch1 {
            Some([_, pw]) => PwParams {
                k: u(in_ch),
                src_off: u(b),
                w: pw.w4(),
                b: pw.b4(),
                ..pw_common
            },
            None => PwParams::default(),
        };
        let (pw_groups, pw_size) = if hw {
            ([div_up(pixels, 4 * pq), div_up(b, 16), branches], HW_GROUP)
        } else {
            ([div_up(pixels, 64), div_up(b, 16), branches], 64)
        };
        let copied = if stride == 1 { n * b * oh * ow } else { 0 };
        steps.push(Step {
            kernel: Kernel::Pw,
            params: bytemuck::bytes_of(&[pw_branch2, pw_branch1]).to_vec(),
            src: Act::Tmp,
            src2: cur,
            dst: next,
            groups: pw_groups,
            shape: DispatchShape {
                // Software: the whole reduction. Hardware: one slice, then the slices' sum.
                serial_steps: if hw {
                    (div_up(k_max, split) + split) as u64
                } else {
                    k_max as u64
                },
                bytes_read: f(n * tmp_c * oh * ow + copied + (tmp_c + branches) * b),
                bytes_written: f(n * 2 * b * oh * ow),
                ..shape(stage, Kernel::Pw, pw_groups, pw_size)
            },
        });
        cur = next;
    }
    let c4 = conv5_in.c;
    size[Act::Pooled as usize] = n * conv5_out;
    size[Act::Logits as usize] = n * classes;
    let ohw = conv5_in.plane();
    let (head_pq, head_split) = head_tile(head_lanes);
    let head = PwParams {
        m: u(conv5_out),
        k: u(c4),
        p: u(n * ohw),
        ohw: u(ohw),
        src_c: u(c4),
        dst_c: u(conv5_out),
        w: at.conv5.w4(),
        mp4: u(padded(conv5_out) / 4),
        b: at.conv5.b4(),
        split: if hw { u(head_split) } else { 0 },
        pq: if hw { u(head_pq) } else { 0 },
        act: act_code(at.conv5_act),
        ..Default::default()
    };
    let head_groups = [n, div_up(conv5_out, 16), 1];
    steps.push(Step {
        kernel: Kernel::Head,
        params: bytemuck::bytes_of(&[head, PwParams::default()]).to_vec(),
        src: cur,
        src2: cur,
        dst: Act::Pooled,
        groups: head_groups,
        shape: DispatchShape {
            // The reduction (or one slice and the slices' sum: head_lanes lanes add it in
            // log2 exchanges), then the pixels pooled by one invocation and the invocations
            // pooled.
            serial_steps: if head_lanes > 0 {
                div_up(c4, head_split)
                    + head_split.ilog2() as usize
                    + div_up(ohw, 4 * head_pq)
                    + head_pq
            } else if hw {
                div_up(c4, head_split) + head_split + div_up(ohw, 4 * head_pq) + head_pq
            } else {
                c4 + div_up(ohw, 64) + 64
            } as u64,
            bytes_read: f(n * c4 * ohw + (c4 + 1) * conv5_out),
            bytes_written: f(n * conv5_out),
            kernel: if head_lanes > 0 {
                "head_subgroup"
            } else {
                Kernel::Head.label(set)
            },
            ..shape(4, Kernel::Head, head_groups, if hw { HW_GROUP } else { 64 })
        },
    });
    // The subgroup classifier runs where its weights were packed for it.
    let fc_subgroup = hw && at.fc_rows;
    let (fc_groups, fc_size) = if hw {
        ([div_up(classes, FC_COLS), n, 1], HW_GROUP)
    } else {
        ([div_up(classes, 64), n, 1], 64)
    };
    steps.push(Step {
        kernel: Kernel::Fc,
        params: bytemuck::bytes_of(&FcParams {
            n: u(n),
            in_f: u(conv5_out),
            out_f: u(classes),
            w_off: at.fc.w,
            b_off: at.fc.b,
            pad: [0; 3],
        })
        .to_vec(),
        src: Act::Pooled,
        src2: Act::Pooled,
        dst: Act::Logits,
        groups: fc_groups,
        shape: DispatchShape {
            // Per class every 256th feature, then the subgroups' sums (at most 64 of them).
            serial_steps: if fc_subgroup {
                FC_COLS * div_up(conv5_out, HW_GROUP) + HW_GROUP / 4
            } else if hw {
                div_up(conv5_out, FC_SLICES) + FC_SLICES
            } else {
                conv5_out
            } as u64,
            bytes_read: f(n * conv5_out + (conv5_out + 1) * classes),
            bytes_written: f(n * classes),
            kernel: if fc_subgroup {
                "fc_subgroup"
            } else {
                Kernel::Fc.label(set)
            },
            ..shape(4, Kernel::Fc, fc_groups, fc_size)
        },
    });
    (steps, size)
}

/// The work shape of every dispatch of a frame of `shape` ([batch, height, width]).
pub fn work_shape(
    d: &Skeleton,
    at: &Offsets,
    set: KernelSet,
    head_lanes: usize,
    shape: [usize; 3],
) -> Vec<DispatchShape> {
    let [n, h, w] = shape;
    steps(d, at, set, head_lanes, n, h, w)
        .0
        .into_iter()
        .map(|s| s.shape)
        .collect()
}
