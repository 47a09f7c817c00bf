//! Every fast CPU kernel against the reference backend: all four widths, odd spatial sizes
//! that are multiples of no tile, and batches of more than one image. The tutorial's
//! network (issue 11) adds dense and grouped 3x3 convs, ReLU6, the processed-first half
//! order and shuffles of 1, 2 and 4 groups.

mod common;
#[cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

use common::{assert_close, noise};
use shufflenet_web::cpu::probe::{self, Cut, Order};
use shufflenet_web::cpu::reference::{self, Map};
use shufflenet_web::model::{Activation, Arch, Conv, ConvKind, Network, Width};
use shufflenet_web::weights::random_network;

/// Per-kernel tolerance relative to the largest reference value: only summation order differs.
const KERNEL_TOL: f32 = 1e-5;

fn networks() -> impl Iterator<Item = (Width, Network)> {
    Width::ALL
        .into_iter()
        .map(|w| (w, random_network(&Arch::width(w), 7 + w as u64)))
}

/// Narrow tutorial networks with 1, 2 and 4 groups (4: groups of 5 channels, a multiple
/// of no vector).
fn tutorial_networks() -> impl Iterator<Item = (usize, Network)> {
    [1, 2, 4].into_iter().map(|g| {
        let arch = Arch::tutorial([40, 80, 160], g, 56, 5).unwrap();
        (g, random_network(&arch, 30 + g as u64))
    })
}

fn map(c: usize, h: usize, w: usize, seed: u32) -> Map {
    Map {
        c,
        h,
        w,
        data: noise(c * h * w, seed),
    }
}

/// Odd sizes, a 1x1 map, and one wider than tall.
const SIZES: [(usize, usize); 4] = [(7, 5), (1, 1), (2, 3), (13, 11)];

suite_test!(
    fn stem_matches_reference() {
        for (width, net) in networks() {
            // Odd and even sides, and maps the pool or the conv brings down to one pixel.
            for (h, w) in [(37, 29), (36, 30), (3, 4), (1, 1)] {
                let x = map(3, h, w, h as u32);
                let want = reference::maxpool(&reference::conv(&net.stem, &x));
                let got = probe::stem(&net.stem, &x, 1, Order::FirstToLast);
                assert_eq!((got.c, got.h, got.w), (want.c, want.h, want.w));
                assert_close(
                    &format!("stem x{} {h}x{w}", width.label()),
                    &got.data,
                    &want.data,
                    KERNEL_TOL,
                );
                // Cut in bands (threads), the same bits; down to a pool row a band. Both
                // orders: the band below or the band above finishes each boundary.
                for bands in [2, 3, got.h] {
                    for order in Order::BOTH {
                        assert_eq!(
                            got,
                            probe::stem(&net.stem, &x, bands, order),
                            "stem in {bands} bands, {order:?}"
                        );
                    }
                }
            }
        }
    }
);

suite_test!(
    fn pointwise_matches_reference_dense_and_scattered() {
        for (width, net) in networks() {
            let convs = net.stages.iter().flat_map(|s| {
                let first = &s[0];
                let b1 = first.branch1.as_ref().map(|b| &b[1]);
                [&first.branch2[0], &first.branch2[2], &s[1].branch2[0]]
                    .into_iter()
                    .chain(b1)
            });
            for (i, conv) in convs.chain([&net.conv5]).enumerate() {
                let (h, w) = SIZES[i % SIZES.len()];
                let x = map(conv.in_ch, h, w, i as u32);
                let want = reference::conv(conv, &x);
                for scattered in [false, true] {
                    let got = probe::pointwise(conv, &x, scattered, false);
                    let what = format!(
                        "pointwise {}->{} x{} scattered={scattered}",
                        conv.in_ch,
                        conv.out_ch,
                        width.label()
                    );
                    assert_close(&what, &got.data, &want.data, KERNEL_TOL);
                }
            }
        }
    }
);

suite_test!(
    fn pointwise_matches_reference_at_every_column_tail() {
        // Output counts with a last block of 1 to 8 real columns (the kernel computes a last
        // block of at most 4 as one vector), odd and even input counts, and more than one tile,
        // cut by pixels and by columns (the head's layers).
        for (i, (k, n)) in [
            (3, 1),
            (5, 2),
            (7, 4),
            (24, 58),
            (9, 5),
            (13, 116),
            (1, 8),
            (2, 12),
        ]
        .into_iter()
        .enumerate()
        {
            let seed = 40 + i as u32;
            let conv = Conv {
                kind: ConvKind::Pointwise,
                in_ch: k,
                out_ch: n,
                stride: 1,
                act: Activation::None,
                weight: noise(k * n, seed),
                bias: noise(n, seed + 100),
            };
            // 7 x 7: a lone last pixel after whole tiles (4 or 6 pixels); 1 x 1: the fc's input.
            for (h, w) in [(7, 5), (7, 7), (1, 1)] {
                let x = map(k, h, w, seed);
                let want = reference::conv(&conv, &x);
                for (scattered, by_columns) in
                    [(false, false), (true, false), (false, true), (true, true)]
                {
                    let got = probe::pointwise(&conv, &x, scattered, by_columns);
                    let what = format!(
                        "pointwise {k}->{n} on {h}x{w} scattered={scattered} by_columns={by_columns}"
                    );
                    assert_close(&what, &got.data, &want.data, KERNEL_TOL);
                }
            }
        }
    }
);

suite_test!(
    fn depthwise_matches_reference_at_both_strides() {
        for (width, net) in networks() {
            for (s, units) in net.stages.iter().enumerate() {
                for conv in [&units[0].branch2[1], &units[1].branch2[1]] {
                    for (i, &(h, w)) in SIZES.iter().enumerate() {
                        let x = map(conv.in_ch, h + s, w, i as u32);
                        let want = reference::conv(conv, &x);
                        let got = probe::depthwise(conv, &x);
                        assert_eq!((got.h, got.w), (want.h, want.w));
                        let what = format!(
                            "depthwise/{} {}x{} x{}",
                            conv.stride,
                            x.h,
                            x.w,
                            width.label()
                        );
                        assert_close(&what, &got.data, &want.data, KERNEL_TOL);
                    }
                }
            }
        }
    }
);

suite_test!(
    fn whole_stages_match_reference() {
        // A stage chains the in-place units, so the channel bookkeeping of every unit is
        // checked, not just the first.
        for (width, net) in networks() {
            stages_match_reference(&format!("x{}", width.label()), &net);
        }
    }
);

suite_test!(
    fn head_matches_reference() {
        for (width, net) in networks() {
            let x = map(net.conv5.in_ch, 3, 5, 11);
            let want = reference::pool_fc(&net.fc, &reference::conv(&net.conv5, &x));
            let got = probe::head(&net.conv5, &net.fc, &x, 1);
            assert_close(&format!("head x{}", width.label()), &got, &want, KERNEL_TOL);
            // Cut by output channels (threads take runs of them), the same bits.
            for parts in [3, 7] {
                let cut = probe::head(&net.conv5, &net.fc, &x, parts);
                let same = cut
                    .iter()
                    .zip(&got)
                    .all(|(a, b)| a.to_bits() == b.to_bits());
                assert!(same, "head x{} in {parts} parts", width.label());
            }
        }
    }
);

suite_test!(
    fn dense_and_grouped_3x3_match_reference_at_both_strides() {
        for (groups, net) in tutorial_networks() {
            let convs = net.units().flat_map(|u| {
                let b1 = u.branch1.as_ref().map(|b| &b[0]);
                [&u.branch2[1]].into_iter().chain(b1)
            });
            for (i, conv) in convs.enumerate() {
                // The tutorial's 3x3s have no activation; check ReLU6 fused as well.
                let mut relu6 = conv.clone();
                relu6.act = Activation::Relu6;
                for conv in [conv, &relu6] {
                    let (h, w) = SIZES[i % SIZES.len()];
                    let x = map(conv.in_ch, h + 2, w, i as u32);
                    let want = reference::conv(conv, &x);
                    for scattered in [false, true] {
                        let got = probe::spatial(conv, &x, scattered);
                        assert_eq!((got.c, got.h, got.w), (want.c, want.h, want.w));
                        let what = format!(
                            "3x3/{} {}->{} groups {} (model groups {groups}) {:?} \
                             {}x{} scattered={scattered}",
                            conv.stride,
                            conv.in_ch,
                            conv.out_ch,
                            conv.groups(),
                            conv.act,
                            x.h,
                            x.w
                        );
                        assert_close(&what, &got.data, &want.data, KERNEL_TOL);
                        assert!(
                            conv.act != Activation::Relu6 || got.data.iter().all(|v| *v <= 6.0),
                            "{what}: ReLU6 caps at 6"
                        );
                    }
                }
            }
        }
    }
);

suite_test!(
    fn tutorial_stem_pointwise_and_head_match_reference() {
        for (groups, net) in tutorial_networks() {
            let x = map(3, 17, 19, 4);
            let want = reference::maxpool(&reference::conv(&net.stem, &x));
            let got = probe::stem(&net.stem, &x, 1, Order::FirstToLast);
            assert_close(
                &format!("tutorial g{groups} stem (ReLU6)"),
                &got.data,
                &want.data,
                KERNEL_TOL,
            );
            let convs = net.units().flat_map(|u| {
                let b1 = u.branch1.as_ref().map(|b| &b[1]);
                [&u.branch2[0], &u.branch2[2]].into_iter().chain(b1)
            });
            for (i, conv) in convs.enumerate() {
                let (h, w) = SIZES[i % SIZES.len()];
                let x = map(conv.in_ch, h, w, i as u32);
                let want = reference::conv(conv, &x);
                for scattered in [false, true] {
                    let got = probe::pointwise(conv, &x, scattered, false);
                    let what = format!(
                        "tutorial g{groups} pointwise {}->{} scattered={scattered}",
                        conv.in_ch, conv.out_ch
                    );
                    assert_close(&what, &got.data, &want.data, KERNEL_TOL);
                }
            }
            // conv5 without activation: negative features reach the pool.
            let x = map(net.conv5.in_ch, 3, 5, 11);
            let conv5 = reference::conv(&net.conv5, &x);
            assert!(conv5.data.iter().any(|v| *v < 0.0));
            let want = reference::pool_fc(&net.fc, &conv5);
            let got = probe::head(&net.conv5, &net.fc, &x, 1);
            assert_close(&format!("tutorial g{groups} head"), &got, &want, KERNEL_TOL);
        }
    }
);

suite_test!(
    fn tutorial_stages_match_reference() {
        // The processed half first and g-way shuffles, chained through both units of every
        // stage so the channel bookkeeping carries from unit to unit.
        for (groups, net) in tutorial_networks() {
            stages_match_reference(&format!("tutorial g{groups}"), &net);
        }
    }
);

/// Every stage of `net` on the fast CPU against the reference, each stage fed the reference's
/// output of the one before.
fn stages_match_reference(what: &str, net: &shufflenet_web::model::Network) {
    let mut x = map(net.stem.out_ch, 15, 13, 3);
    for (s, units) in net.stages.iter().enumerate() {
        let want = units.iter().fold(x.clone(), |m, u| reference::unit(u, &m));
        let got = probe::units(units, &x, 1, None, Order::FirstToLast);
        assert_eq!((got.c, got.h, got.w), (want.c, want.h, want.w));
        let what = format!("{what} stage{}", s + 2);
        assert_close(&what, &got.data, &want.data, KERNEL_TOL * 10.0);
        // Cut in parts (threads take parts) by rows or by pixels, every output is the
        // same arithmetic: the same bits, whether rows straddle a boundary or not, and
        // whichever neighbour finishes a boundary's rows.
        for cut in [Some(Cut::Rows), Some(Cut::Pixels), None] {
            for parts in [1, 2, 3, 7] {
                for order in Order::BOTH {
                    let cut_up = probe::units(units, &x, parts, cut, order);
                    assert!(
                        cut_up
                            .data
                            .iter()
                            .zip(&got.data)
                            .all(|(a, b)| a.to_bits() == b.to_bits()),
                        "{what} in {parts} parts ({cut:?}, {order:?}) differs from one part"
                    );
                }
            }
        }
        x = want;
    }
}
