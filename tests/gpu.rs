//! The WebGPU backend against the reference, its budgets, its memory, and its failures.
//! Runs natively (lavapipe) and in headless Chrome (SwiftShader).
#![cfg(feature = "gpu")]

mod common;

#[cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

use common::{input, rel_err};
use shufflenet_web::backend::{Backend, Frame, RgbaFrame};
use shufflenet_web::cpu::reference;
use shufflenet_web::engine::{Engine, EngineOptions, Preference};
use shufflenet_web::gpu::{
    self, Crop, FrameShape, GpuBackend, GpuFault, GpuOptions, KernelChoice, KernelSet, LiveObjects,
    Profiling, SubgroupUse, WeightPrecision,
};
use shufflenet_web::model::{Arch, Width};
use shufflenet_web::{weights, Error, TimingMethod};

fn small() -> GpuOptions {
    GpuOptions {
        warm_up_side: 32,
        ..GpuOptions::default()
    }
}

/// `small()` with the kernel set forced.
fn forced_set(set: KernelSet) -> GpuOptions {
    GpuOptions {
        kernels: KernelChoice::Set(set),
        ..small()
    }
}

/// Native inputs, or the smaller browser ones (SwiftShader runs each frame on the CPU).
fn sized(native: [usize; 3], browser: [usize; 3]) -> [usize; 3] {
    if cfg!(target_arch = "wasm32") {
        browser
    } else {
        native
    }
}

/// Both kernel sets against the reference on the same network and input.
async fn check_against_reference(width: Width, [n, h, w]: [usize; 3]) {
    let net = weights::random_network(&Arch::width(width), 7);
    let x = input(n, h, w, 11);
    let want = reference::run(&net, &x).unwrap();
    for set in KernelSet::ALL {
        let mut gpu = GpuBackend::with_options(&net, forced_set(set))
            .await
            .unwrap();
        assert_eq!(gpu.kernel_set(), set);
        let got = gpu.run(Frame::Tensor(&x)).await.unwrap();
        assert_eq!((got.batch, got.classes), (n, 1000));
        let e = rel_err(&got.logits, &want.logits);
        report!(
            "x{} {n}x3x{h}x{w} {}: relative error {e:.2e}",
            width.label(),
            set.name()
        );
        assert!(
            e <= 1e-3,
            "x{} {}: relative error {e:.3e} exceeds 1e-3",
            width.label(),
            set.name()
        );
        let stats = gpu.stats();
        assert_eq!(stats.kernels, set);
        assert!(stats.counts.dispatches_per_frame <= 40, "{stats:?}");
        assert_eq!(stats.counts.readbacks_per_frame, 1);
        assert_eq!(stats.counts.submits_per_frame, 1);
    }
}

suite_test!(
    async fn x0_5_matches_reference_batch_3() {
        check_against_reference(Width::X0_5, sized([3, 64, 64], [3, 19, 17])).await;
    }
);

suite_test!(
    async fn x1_0_matches_reference_odd_size_batch_2() {
        check_against_reference(Width::X1_0, sized([2, 45, 37], [2, 23, 13])).await;
    }
);

suite_test!(
    async fn x1_5_matches_reference_batch_2() {
        check_against_reference(Width::X1_5, sized([2, 64, 64], [2, 9, 11])).await;
    }
);

suite_test!(
    async fn x2_0_matches_reference_batch_2() {
        check_against_reference(Width::X2_0, sized([2, 64, 48], [2, 7, 5])).await;
    }
);

// Full size natively. In Chrome, where SwiftShader takes seconds per such frame, the shared
// conformance suite covers large maps with the torchvision fixtures.
#[cfg(not(target_arch = "wasm32"))]
#[test]
fn x0_5_matches_reference_at_224() {
    pollster::block_on(check_against_reference(Width::X0_5, [1, 224, 224]));
}

// 1 x 1 images: every spatial map is a single pixel, all padding paths run. (In Chrome the
// conformance suite runs 1 x 1 maps on both sets.)
#[cfg(not(target_arch = "wasm32"))]
#[test]
fn tiny_inputs_match_reference() {
    pollster::block_on(check_against_reference(Width::X0_5, [2, 1, 1]));
}

suite_test!(
    async fn f16_weights_where_the_adapter_has_shader_f16() {
        // lavapipe offers shader-f16 (SwiftShader does not: there the backend keeps f32 and
        // says so). f16 weights, f32 arithmetic: within 2e-2 of the reference.
        let net = weights::random_network(&Arch::width(Width::X1_0), 12);
        let [n, h, w] = sized([2, 45, 37], [1, 9, 7]);
        let x = input(n, h, w, 13);
        let want = reference::run(&net, &x).unwrap();
        for set in KernelSet::ALL {
            let options = GpuOptions {
                weights: WeightPrecision::F16,
                ..forced_set(set)
            };
            let mut gpu = GpuBackend::with_options(&net, options).await.unwrap();
            let got = gpu.run(Frame::Tensor(&x)).await.unwrap();
            let stats = gpu.stats();
            let e = rel_err(&got.logits, &want.logits);
            report!(
                "{} set, f16 weights: {} on {}, relative error {e:.2e}",
                set.name(),
                stats.f16_weights,
                gpu.adapter_name()
            );
            if stats.f16_weights {
                assert!(e <= 2e-2, "{}: f16 relative error {e:.3e}", set.name());
                // Half the f32 bytes, give or take the alignment padding.
                assert!(stats.counts.weight_bytes <= (net.folded_params() * 2 * 11 / 10) as u64);
            } else {
                assert!(e <= 1e-3, "{}: f32 relative error {e:.3e}", set.name());
                assert!(stats.counts.weight_bytes >= (net.folded_params() * 4) as u64);
            }
        }
        // On this machine's native adapter (lavapipe) f16 must really have run.
        #[cfg(not(target_arch = "wasm32"))]
        {
            let options = GpuOptions {
                weights: WeightPrecision::F16,
                ..small()
            };
            let gpu = GpuBackend::with_options(&net, options).await.unwrap();
            if gpu.adapter_name().contains("llvmpipe") {
                assert!(gpu.stats().f16_weights, "lavapipe has shader-f16");
            }
        }
    }
);

// Natively only: wgpu 30 does not pass subgroups through the browser's WebGPU, so in Chrome
// both runs would be the workgroup-memory reductions the other tests cover.
#[cfg(not(target_arch = "wasm32"))]
mod subgroups {
    use super::*;
    use common::fixtures;
    use shufflenet_web::Tensor;

    /// The hardware set with subgroups asked or not (and the head's lanes forced) against
    /// `want`, within 1e-4 relative.
    async fn run(
        net: &shufflenet_web::model::Network,
        x: &Tensor,
        want: &[f32],
        (subgroups, head_lanes): (bool, Option<usize>),
        what: &str,
    ) {
        let options = GpuOptions {
            subgroups,
            head_lanes,
            ..forced_set(KernelSet::Hardware)
        };
        let mut gpu = GpuBackend::with_options(net, options).await.unwrap();
        let got = gpu.run(Frame::Tensor(x)).await.unwrap();
        let stats = gpu.stats();
        let e = rel_err(&got.logits, want);
        report!(
            "{what}, hardware set, {:?} on {} (subgroups {:?}): relative error {e:.2e}",
            stats.subgroups,
            gpu.adapter_name(),
            stats.subgroup_sizes
        );
        assert!(
            e <= 1e-4,
            "{what} {:?}: relative error {e:.3e}",
            stats.subgroups
        );
        assert!(
            subgroups || !stats.subgroups.any(),
            "used without being asked"
        );
        assert!(stats.shape.max_serial_steps <= 256, "{:?}", stats.shape);
        // This machine's native adapter (lavapipe) has 8-lane subgroups: there the
        // reductions must really have run with them when asked (the head forced).
        if gpu.adapter_name().contains("llvmpipe") {
            assert_eq!(stats.subgroup_sizes, Some([8, 8]), "lavapipe's subgroups");
            let asked = SubgroupUse {
                classifier: true,
                head_lanes: head_lanes.unwrap_or(0),
            };
            let used = if subgroups { asked } else { SubgroupUse::NONE };
            assert_eq!(stats.subgroups, used);
        }
    }

    suite_test!(
        async fn subgroup_reductions_match_the_reference_at_every_width() {
            // The classifier (subgroupAdd) and conv5 + pool (a subgroupShuffleXor butterfly
            // per pixel, forced to lavapipe's 8 lanes) with and without subgroups (the
            // classifier alone: `check_against_reference`). 2 x 193 x 129: a 7 x 5 head map,
            // two 32-pixel tiles of the 8-lane head, the second ragged.
            for width in Width::ALL {
                let net = weights::random_network(&Arch::width(width), 14);
                let x = input(2, 193, 129, 15);
                let want = reference::run(&net, &x).unwrap().logits;
                for asked in [(true, Some(8)), (false, None)] {
                    let what = format!("x{} 2x3x193x129", width.label());
                    run(&net, &x, &want, asked, &what).await;
                }
            }
        }
    );

    suite_test!(
        async fn subgroup_head_with_runs_narrower_equal_and_wider_than_subgroups() {
            // 4 lanes per pixel: two pixels' runs share each 8-lane subgroup. 8: one run a
            // subgroup. 16 (what 16-lane and wider subgroups get): runs wider than lavapipe's
            // subgroups, which the kernel must notice and sum through workgroup memory.
            let net = weights::random_network(&Arch::width(Width::X0_5), 16);
            let x = input(3, 193, 161, 17);
            let want = reference::run(&net, &x).unwrap().logits;
            for lanes in [4, 8, 16] {
                let what = format!("head lanes {lanes}");
                run(&net, &x, &want, (true, Some(lanes)), &what).await;
            }
        }
    );

    suite_test!(
        async fn subgroup_reductions_match_torchvision() {
            let net = weights::load(fixtures::SMALL_F32).unwrap().network;
            let (_, want) = fixtures::small_io("logits");
            let x = fixtures::small_input();
            for asked in [(true, Some(8)), (true, None), (false, None)] {
                run(&net, &x, &want, asked, "torchvision fixture").await;
            }
        }
    );
}

suite_test!(
    fn hardware_set_meets_the_work_shape_target() {
        // Computed from the plan: no GPU involved. The target at 224 x 224, batch 1 (set for
        // x1.0, met at every width): every dispatch launches >= 4,096 invocations, no
        // reduction chain is longer than 256.
        for width in Width::ALL {
            let net = weights::random_network(&Arch::width(width), 1);
            // The hardware set without subgroups, with them as lavapipe's 8 lanes get them
            // (the classifier only), as 16 or more lanes get them (the head too), and with
            // the head forced to 8 lanes (the tests' `head_lanes`).
            for (set, subgroups) in [
                (KernelSet::Software, SubgroupUse::NONE),
                (KernelSet::Hardware, SubgroupUse::NONE),
                (KernelSet::Hardware, SubgroupUse::for_min_size(8)),
                (KernelSet::Hardware, SubgroupUse::for_min_size(32)),
                (
                    KernelSet::Hardware,
                    SubgroupUse {
                        classifier: true,
                        head_lanes: 8,
                    },
                ),
            ] {
                let shape = gpu::work_shape(&net, set, subgroups, [1, 224, 224]);
                report!(
                    "x{} {} set{}, 1 x 224 x 224:",
                    width.label(),
                    set.name(),
                    if subgroups.any() {
                        format!(
                            " with subgroups, {} lanes in the head",
                            subgroups.head_lanes
                        )
                    } else {
                        String::new()
                    }
                );
                report!("{}", gpu::shape_table(&shape));
                let t = FrameShape::of(&shape);
                assert_eq!(t.dispatches, 35);
                if set == KernelSet::Hardware {
                    assert!(
                        t.min_invocations_per_dispatch >= 4096,
                        "x{}: {t:?}",
                        width.label()
                    );
                    assert!(t.max_serial_steps <= 256, "x{}: {t:?}", width.label());
                }
            }
        }
        let net = weights::random_network(&Arch::width(Width::X1_0), 1);
        let shape =
            |set, subgroups| FrameShape::of(&gpu::work_shape(&net, set, subgroups, [1, 224, 224]));
        let before = shape(KernelSet::Software, SubgroupUse::NONE);
        let after = shape(KernelSet::Hardware, SubgroupUse::NONE);
        // Same compulsory traffic: the sets differ in how work is cut, not in what is read.
        assert_eq!(before.bytes_written, after.bytes_written);
        assert!(before.min_invocations_per_dispatch < 4096, "{before:?}");
        assert!(before.max_serial_steps > 256, "{before:?}");
    }
);

suite_test!(
    async fn frame_budget_for_every_width() {
        for width in Width::ALL {
            let net = weights::random_network(&Arch::width(width), 1);
            let mut gpu = GpuBackend::with_options(&net, small()).await.unwrap();
            gpu.run(Frame::Tensor(&input(1, 32, 32, 1))).await.unwrap();
            let s = gpu.stats();
            assert!(
                s.counts.dispatches_per_frame <= 40,
                "x{}: {s:?}",
                width.label()
            );
            assert_eq!(
                (s.counts.readbacks_per_frame, s.counts.submits_per_frame),
                (1, 1)
            );
            assert_eq!(s.counts.bytes_uploaded_per_frame, 3 * 32 * 32 * 4);
            // Logits, the pooled features (conv5's channels) and the timestamps.
            let floats = (1000 + net.conv5.out_ch) as u64 * 4;
            assert!(
                s.counts.bytes_read_back_per_frame >= floats
                    && s.counts.bytes_read_back_per_frame <= floats + 128
            );
            assert!(s.counts.weight_bytes as usize >= net.folded_params() * 4);
            // Figures for the report (not asserted): ms per frame on this adapter. 224 x 224
            // only natively: SwiftShader's figure says nothing about real GPUs.
            let sides: &[usize] = if cfg!(target_arch = "wasm32") {
                &[16]
            } else {
                &[224, 16]
            };
            for &side in sides {
                let x = input(1, side, side, 1);
                gpu.run(Frame::Tensor(&x)).await.unwrap();
                let start = web_time::Instant::now();
                let out = gpu.run(Frame::Tensor(&x)).await.unwrap();
                let ms = start.elapsed().as_secs_f64() * 1e3;
                report!(
                    "x{} {side}x{side} on {}: {ms:.1} ms/frame, stages {:?} ({})",
                    width.label(),
                    gpu.adapter_name(),
                    out.times.ms.map(|t| (t * 10.0).round() / 10.0),
                    out.times.method.name()
                );
            }
        }
    }
);

suite_test!(
    async fn stage_times_are_reported() {
        let net = weights::random_network(&Arch::width(Width::X0_5), 2);
        let x = input(1, 64, 64, 3);
        let mut gpu = GpuBackend::with_options(&net, small()).await.unwrap();
        let auto = gpu.run(Frame::Tensor(&x)).await.unwrap();
        assert_eq!(auto.times.method, gpu.timing_method());
        assert!(auto.times.total() > 0.0, "{:?}", auto.times);
        report!("adapter {}: {:?}", gpu.adapter_name(), auto.times);

        let fenced_options = GpuOptions {
            profiling: Profiling::Fenced,
            ..small()
        };
        let mut fenced = GpuBackend::with_options(&net, fenced_options)
            .await
            .unwrap();
        let out = fenced.run(Frame::Tensor(&x)).await.unwrap();
        assert_eq!(out.times.method, TimingMethod::GpuFenced);
        assert!(out.times.ms.iter().all(|&t| t > 0.0), "{:?}", out.times);
        assert_eq!(fenced.stats().counts.submits_per_frame, 6);
        assert!(rel_err(&out.logits, &auto.logits) <= 1e-6);
    }
);

/// Device objects that grew between two counts, by name (empty: none grew).
fn grown(before: LiveObjects, after: LiveObjects) -> Vec<&'static str> {
    [
        ("buffers", before.buffers, after.buffers),
        ("textures", before.textures, after.textures),
        ("bind groups", before.bind_groups, after.bind_groups),
        ("buffer bytes", before.buffer_bytes, after.buffer_bytes),
    ]
    .into_iter()
    .filter(|(_, b, a)| a > b)
    .map(|(name, _, _)| name)
    .collect()
}

suite_test!(
    async fn soak_keeps_device_objects_and_memory_flat() {
        let net = weights::random_network(&Arch::width(Width::X0_5), 3);
        let mut gpu = GpuBackend::with_options(&net, small()).await.unwrap();
        let x = input(1, 16, 16, 5);
        // Natively wgpu counts objects, so 1,000 frames; in Chrome only wasm memory is seen,
        // and the page soak runs minutes of webcam frames.
        let frames: u64 = if cfg!(target_arch = "wasm32") {
            200
        } else {
            1000
        };
        let first = gpu.run(Frame::Tensor(&x)).await.unwrap();
        let before = gpu.live_objects();
        #[cfg(target_arch = "wasm32")]
        let memory = core::arch::wasm32::memory_size(0);
        for _ in 1..frames {
            let out = gpu.run(Frame::Tensor(&x)).await.unwrap();
            assert_eq!(out.logits, first.logits);
        }
        assert_eq!(gpu.stats().counts.frames, frames);
        let after = gpu.live_objects();
        report!("device objects before {before:?}, after {frames} frames {after:?}");
        assert_eq!(
            grown(before, after),
            Vec::<&str>::new(),
            "grew over {frames} frames"
        );
        #[cfg(target_arch = "wasm32")]
        assert_eq!(
            core::arch::wasm32::memory_size(0),
            memory,
            "wasm memory grew"
        );
    }
);

// wgpu counts device objects natively; the browser's WebGPU reports none.
#[cfg(not(target_arch = "wasm32"))]
#[test]
fn the_leak_check_catches_a_leaked_buffer() {
    let net = weights::random_network(&Arch::width(Width::X0_5), 3);
    let mut gpu = pollster::block_on(GpuBackend::with_options(&net, small())).unwrap();
    let x = input(1, 16, 16, 5);
    pollster::block_on(gpu.run(Frame::Tensor(&x))).unwrap();
    let before = gpu.live_objects();
    assert!(before.buffers > 0, "wgpu's counters are on: {before:?}");
    gpu.leak_a_buffer();
    pollster::block_on(gpu.run(Frame::Tensor(&x))).unwrap();
    assert_eq!(
        grown(before, gpu.live_objects()),
        ["buffers", "buffer bytes"]
    );
}

async fn forced(fault: GpuFault, set: KernelSet) -> Result<GpuBackend, Error> {
    let net = weights::random_network(&Arch::width(Width::X0_5), 4);
    let options = GpuOptions {
        fault: Some(fault),
        ..forced_set(set)
    };
    GpuBackend::with_options(&net, options).await
}

fn gpu_error(r: Result<GpuBackend, Error>) -> String {
    match r {
        Err(Error::Gpu(why)) => why,
        Err(e) => panic!("expected a GPU error, got {e}"),
        Ok(_) => panic!("expected the forced fault to fail"),
    }
}

suite_test!(
    async fn missing_webgpu_is_reported() {
        let why = gpu_error(forced(GpuFault::NoWebGpu, KernelSet::Software).await);
        assert!(why.contains("navigator.gpu"), "{why}");
    }
);

suite_test!(
    async fn missing_adapter_is_reported() {
        let why = gpu_error(forced(GpuFault::NoAdapter, KernelSet::Software).await);
        assert!(why.contains("adapter"), "{why}");
    }
);

suite_test!(
    async fn failed_pipeline_is_reported() {
        for set in KernelSet::ALL {
            let why = gpu_error(forced(GpuFault::PipelineFailure, set).await);
            assert!(why.contains("pipeline"), "{}: {why}", set.name());
        }
    }
);

suite_test!(
    async fn lost_device_fails_that_frame_and_later_ones() {
        for set in KernelSet::ALL {
            let mut gpu = forced(GpuFault::DeviceLost { frame: 2 }, set)
                .await
                .unwrap();
            let x = input(1, 16, 16, 6);
            gpu.run(Frame::Tensor(&x)).await.unwrap();
            gpu.run(Frame::Tensor(&x)).await.unwrap();
            for _ in 0..2 {
                match gpu.run(Frame::Tensor(&x)).await {
                    Err(Error::Gpu(why)) => assert!(why.contains("lost"), "{why}"),
                    other => panic!(
                        "expected a lost device, got {:?}",
                        other.map(|o| o.logits.len())
                    ),
                }
            }
        }
    }
);

// Natively only: the conformance suite checks bad input on both sets in Chrome too.
#[cfg(not(target_arch = "wasm32"))]
suite_test!(
    async fn bad_input_is_an_error() {
        let net = weights::random_network(&Arch::width(Width::X0_5), 5);
        let mut gpu = GpuBackend::with_options(&net, small()).await.unwrap();
        let wrong = shufflenet_web::Tensor::zeros([1, 4, 8, 8]);
        assert!(matches!(
            gpu.run(Frame::Tensor(&wrong)).await,
            Err(Error::Input(_))
        ));
        // The backend still works afterwards.
        gpu.run(Frame::Tensor(&input(1, 8, 8, 1))).await.unwrap();
    }
);

// Natively only: in Chrome the conformance suite checks RGBA frames on both sets; the
// per-frame counts asserted here come from the plan, not the adapter.
#[cfg(not(target_arch = "wasm32"))]
suite_test!(
    async fn rgba_frames_match_cpu_preprocessing() {
        let net = weights::random_network(&Arch::width(Width::X0_5), 8);
        let mut gpu = GpuBackend::with_options(&net, small()).await.unwrap();
        // Odd sizes, both orientations, up- and downscaling.
        for (w, h, crop) in [
            (97, 61, Crop::Square),
            (300, 410, Crop::Eval),
            (641, 480, Crop::Eval),
            (150, 333, Crop::Square),
        ] {
            let mut state = (w * 31 + h) as u32;
            let rgba: Vec<u8> = (0..w * h * 4)
                .map(|_| {
                    state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                    (state >> 24) as u8
                })
                .collect();
            let frame = RgbaFrame {
                pixels: &rgba,
                width: w as u32,
                height: h as u32,
            };
            let got = gpu.run(Frame::Rgba(frame, crop)).await.unwrap();
            let stats = gpu.stats();
            assert_eq!(stats.counts.dispatches_per_frame, 36);
            assert_eq!(stats.counts.readbacks_per_frame, 1);
            assert_eq!(stats.counts.bytes_uploaded_per_frame, (w * h * 4) as u64);
            let want = gpu
                .run(Frame::Tensor(
                    &shufflenet_web::preprocess::rgba_to_tensor(&rgba, w, h, crop).unwrap(),
                ))
                .await
                .unwrap();
            let e = rel_err(&got.logits, &want.logits);
            report!("{w}x{h} {crop:?}: relative error {e:.2e}");
            assert!(e <= 1e-3, "{w}x{h} {crop:?}: relative error {e:.3e}");
        }
        assert!(matches!(
            gpu.run(Frame::Rgba(
                RgbaFrame {
                    pixels: &[0; 12],
                    width: 2,
                    height: 2,
                },
                Crop::Eval,
            ))
            .await,
            Err(Error::Input(_))
        ));
    }
);

async fn engine_with(fault: GpuFault, set: KernelSet) -> Engine {
    let net = weights::random_network(&Arch::width(Width::X0_5), 9);
    let options = GpuOptions {
        fault: Some(fault),
        ..forced_set(set)
    };
    let options = EngineOptions {
        gpu: options,
        ..EngineOptions::default()
    };
    Engine::new(net, Preference::Auto, options).await
}

suite_test!(
    async fn engine_falls_back_when_the_gpu_cannot_start() {
        for (fault, says, set) in [
            (GpuFault::NoWebGpu, "navigator.gpu", KernelSet::Software),
            (GpuFault::NoAdapter, "adapter", KernelSet::Hardware),
            (GpuFault::PipelineFailure, "pipeline", KernelSet::Software),
            (GpuFault::PipelineFailure, "pipeline", KernelSet::Hardware),
        ] {
            let mut engine = engine_with(fault, set).await;
            assert_ne!(engine.backend(), "webgpu");
            let why = engine.fallback_reason().unwrap_or_default().to_string();
            assert!(why.contains(says), "{fault:?}: {why}");
            assert!(engine.info().adapter.is_none());
            let out = engine.run(&input(1, 32, 32, 2)).await.unwrap();
            assert_eq!(out.logits.len(), 1000);
            // Asking for WebGPU explicitly reports the reason.
            assert!(engine.set_backend(Preference::Gpu).await.is_err());
        }
    }
);

suite_test!(
    async fn engine_reruns_the_frame_on_the_cpu_when_the_device_is_lost() {
        for set in KernelSet::ALL {
            engine_reruns_lost_frames(set).await;
        }
    }
);

async fn engine_reruns_lost_frames(set: KernelSet) {
    let mut engine = engine_with(GpuFault::DeviceLost { frame: 1 }, set).await;
    assert_eq!(engine.backend(), "webgpu");
    assert!(engine.info().adapter.is_some());
    let x = input(1, 32, 32, 3);
    let on_gpu = engine.run(&x).await.unwrap();
    // Frame 1 fails on the GPU; the engine answers it on the CPU.
    let rerun = engine.run(&x).await.unwrap();
    assert_ne!(engine.backend(), "webgpu");
    let why = engine.fallback_reason().unwrap_or_default().to_string();
    assert!(why.contains("lost"), "{why}");
    assert!(rel_err(&rerun.logits, &on_gpu.logits) <= 1e-3);
    let rgba = vec![128u8; 40 * 30 * 4];
    let frame = RgbaFrame {
        pixels: &rgba,
        width: 40,
        height: 30,
    };
    let frame = engine.run(Frame::Rgba(frame, Crop::Square)).await.unwrap();
    assert_eq!(frame.logits.len(), 1000);
}

suite_test!(
    async fn engine_switches_backends() {
        let net = weights::random_network(&Arch::width(Width::X0_5), 10);
        let options = EngineOptions {
            gpu: small(),
            ..EngineOptions::default()
        };
        let mut engine = Engine::new(net, Preference::Cpu, options).await;
        assert_ne!(engine.backend(), "webgpu");
        assert_eq!(engine.set_backend(Preference::Gpu).await.unwrap(), "webgpu");
        let x = input(2, 24, 24, 4);
        let gpu = engine.run(&x).await.unwrap();
        assert!(engine
            .info()
            .stats
            .is_some_and(|s| s.counts.dispatches_per_frame <= 40));
        let cpu_name = engine.set_backend(Preference::Cpu).await.unwrap();
        assert_ne!(cpu_name, "webgpu");
        let cpu = engine.run(&x).await.unwrap();
        assert!(rel_err(&gpu.logits, &cpu.logits) <= 1e-3);
    }
);

/// The tutorial's network (issue 11) at its x2.0 planes: dense 3x3s of up to 488 channels
/// (4,392-step reductions), or grouped ones with 2 groups.
fn tutorial_x2_0(groups: usize) -> shufflenet_web::model::Network {
    let arch = Arch::tutorial([244, 488, 976], groups, 2048, 5).unwrap();
    weights::random_network(&arch, 20 + groups as u64)
}

// Natively: the x2.0 planes' weights and the reference's loops are too slow for the
// browser run, where the conformance suite checks the tutorial fixtures on both sets.
#[cfg(not(target_arch = "wasm32"))]
suite_test!(
    async fn tutorial_x2_0_matches_reference_on_both_sets_f32_and_f16() {
        let x = input(2, 45, 37, 21);
        for groups in [1, 2] {
            let net = tutorial_x2_0(groups);
            let want = reference::run(&net, &x).unwrap();
            for set in KernelSet::ALL {
                for precision in [WeightPrecision::F32, WeightPrecision::F16] {
                    let options = GpuOptions {
                        weights: precision,
                        ..forced_set(set)
                    };
                    let mut gpu = GpuBackend::with_options(&net, options).await.unwrap();
                    let got = gpu.run(Frame::Tensor(&x)).await.unwrap();
                    let stats = gpu.stats();
                    let e = rel_err(&got.logits, &want.logits);
                    let f = rel_err(&got.features, &want.features);
                    report!(
                        "tutorial x2.0 groups {groups} {} set, f16 weights {}: logits {e:.2e}, \
                         features {f:.2e}",
                        set.name(),
                        stats.f16_weights
                    );
                    let bound = if stats.f16_weights { 2e-2 } else { 1e-5 };
                    assert!(
                        e <= bound && f <= bound,
                        "{} set: {e:.3e} {f:.3e}",
                        set.name()
                    );
                    assert_eq!(stats.counts.dispatches_per_frame, 30, "{stats:?}");
                    assert_eq!(stats.counts.readbacks_per_frame, 1);
                }
            }
        }
    }
);

suite_test!(
    fn tutorial_work_shape_one_dispatch_per_conv() {
        // 1 (stem + pool) + 3 stages x (5 convs of the stride-2 unit + 3 convs and the copy
        // of the stride-1 unit) + 2 (conv5 + pool, fc). The hardware set keeps every chain
        // within 256 steps and, but for the 5-class classifier, every dispatch at 4,096
        // invocations or more.
        for groups in [1, 2] {
            let net = tutorial_x2_0(groups);
            for set in KernelSet::ALL {
                let shape = gpu::work_shape(&net, set, SubgroupUse::NONE, [1, 224, 224]);
                report!("tutorial x2.0 groups {groups} {} set:", set.name());
                report!("{}", gpu::shape_table(&shape));
                assert_eq!(shape.len(), 30);
                let convs = shape
                    .iter()
                    .filter(|d| d.kernel.starts_with("conv"))
                    .count();
                assert_eq!(convs, 3 * (5 + 3));
                assert_eq!(shape.iter().filter(|d| d.kernel == "copy").count(), 3);
                if set == KernelSet::Hardware {
                    let t = FrameShape::of(&shape);
                    assert!(t.max_serial_steps <= 256, "{t:?}");
                    let (fc, rest) = shape.split_last().unwrap();
                    assert_eq!(fc.kernel, "fc_split");
                    let least = rest.iter().map(|d| d.invocations).min().unwrap();
                    assert!(least >= 4096, "{least}");
                } else {
                    // The software set runs a dense 3x3's whole reduction in one invocation.
                    let longest = shape.iter().map(|d| d.serial_steps).max().unwrap();
                    assert_eq!(longest, 9 * 488 / groups as u64);
                }
            }
        }
    }
);
