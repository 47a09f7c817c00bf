//! One conformance suite for every backend and every build: the same checks, natively
//! (`cargo test`) and in headless Chrome (`wasm-pack test`). A backend joins with one
//! `backend_suite!` line naming its constructor.
//!
//! Every backend is checked at every stage and at the logits against torchvision's own
//! outputs (the committed fixtures), on a custom architecture at odd sizes, 1 x 1 maps and
//! batches, on RGBA frames through its own preprocessing, and on bad input. Pooled
//! features are checked against the reference's (and, through the fixture's fc, against
//! torchvision's logits), and a swapped-in head against the reference with that head.
//!
//! Bounds are relative to the largest reference magnitude, per where the backend runs; the
//! suite prints each figure. Largest errors seen:
//!
//! | backend / adapter                       | bound | seen (F32 vs torchvision) |
//! |-----------------------------------------|-------|---------------------------|
//! | CPU: reference, fast                    | 1e-4  | 5.7e-7 |
//! | WebGPU on lavapipe (native), both sets  | 1e-5  | 8.1e-7 |
//! | WebGPU on SwiftShader (Chrome), others  | 1e-3  | 8.1e-7 |
//! | any backend with F16 weights            | 2e-2  | 1.2e-3 |
//!
//! The tutorial's network (issue 11) is checked the same way against the fixture script's
//! PyTorch definition of it, with 1 and 2 groups, on every backend.

mod common;

#[cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

use common::{fixtures, input, noise, rel_err};
use shufflenet_web::backend::{Backend, Frame, RgbaFrame};
use shufflenet_web::cpu::reference::{self, Reference};
use shufflenet_web::cpu::FastCpu;
use shufflenet_web::model::{Arch, Linear, Network};
use shufflenet_web::preprocess::{self, Crop};
use shufflenet_web::{weights, Error, Tensor};

/// The bound for F32 weights on `backend`, by where it runs.
fn bound(backend: &dyn Backend) -> f32 {
    match backend.info().adapter {
        None => 1e-4,
        Some(a) if a.contains("llvmpipe") || a.contains("lavapipe") => 1e-5,
        Some(_) => 1e-3,
    }
}

fn check(backend: &dyn Backend, what: &str, got: &[f32], want: &[f32], tol: f32) {
    let e = rel_err(got, want);
    report!(
        "{} {what}: relative error {e:.2e} (bound {tol:.0e})",
        backend.info().name
    );
    assert!(
        e <= tol,
        "{} {what}: relative error {e:.3e} exceeds {tol:.0e}",
        backend.info().name
    );
}

/// A narrow network of torchvision's general constructor, unlike the fixtures' own.
fn custom() -> Network {
    let arch = Arch::new([1, 2, 1], [8, 16, 32, 48, 40], 7).unwrap();
    weights::random_network(&arch, 3)
}

pub async fn torchvision_f32(backend: &mut dyn Backend) {
    let (_, want) = fixtures::small_io("logits");
    let out = backend
        .run(Frame::Tensor(&fixtures::small_input()))
        .await
        .unwrap();
    assert_eq!((out.batch, out.classes), (2, 10));
    let tol = bound(backend);
    check(backend, "torchvision logits", &out.logits, &want, tol);
    // The fixtures hold no pooled stage: the fixture's fc over the features must give
    // torchvision's logits.
    let fc = weights::load(fixtures::SMALL_F32).unwrap().network.fc;
    assert_eq!(
        (out.feature_len, out.features.len()),
        (fc.in_f, 2 * fc.in_f)
    );
    let from_features: Vec<f32> = (0..out.batch)
        .flat_map(|i| apply(&fc, out.features_of(i)))
        .collect();
    check(
        backend,
        "torchvision logits from features",
        &from_features,
        &want,
        tol,
    );
    let got = backend
        .stage_outputs(&fixtures::small_input())
        .await
        .unwrap();
    for (name, got) in ["stem", "stage2", "stage3", "stage4"].iter().zip(&got) {
        let (shape, want) = fixtures::small_io(name);
        assert_eq!(got.shape[..], shape[..], "{name} shape");
        check(
            backend,
            &format!("torchvision {name}"),
            &got.data,
            &want,
            tol,
        );
    }
}

/// The tutorial's network with `groups` groups, every stage and the logits against PyTorch.
pub async fn tutorial_f32(backend: &mut dyn Backend, groups: usize) {
    let x = fixtures::tutorial_input();
    let tol = bound(backend);
    let out = backend.run(Frame::Tensor(&x)).await.unwrap();
    let (_, want) = fixtures::tutorial_io(&format!("g{groups}.logits"));
    assert_eq!((out.batch, out.classes), (2, 5));
    check(
        backend,
        &format!("tutorial g{groups} logits"),
        &out.logits,
        &want,
        tol,
    );
    let got = backend.stage_outputs(&x).await.unwrap();
    for (name, got) in ["stem", "stage2", "stage3", "stage4"].iter().zip(&got) {
        let (shape, want) = fixtures::tutorial_io(&format!("g{groups}.{name}"));
        assert_eq!(got.shape[..], shape[..], "{name} shape");
        check(
            backend,
            &format!("tutorial g{groups} {name}"),
            &got.data,
            &want,
            tol,
        );
    }
}

pub fn torchvision_f16(backend: &mut dyn Backend, got: &[f32]) {
    let (_, want) = fixtures::small_io("logits");
    check(backend, "torchvision logits, F16 weights", got, &want, 2e-2);
}

/// A custom architecture at odd sizes, 1 x 1 maps (a 1 x 1 input) and a batch of 3.
pub async fn custom_shapes(backend: &mut dyn Backend, net: &Network) {
    let tol = bound(backend);
    for (n, h, w) in [(3, 13, 11), (1, 1, 1), (2, 7, 30)] {
        let x = input(n, h, w, (h * w) as u32);
        let got = backend.run(Frame::Tensor(&x)).await.unwrap();
        let want = reference::run(net, &x).unwrap();
        assert_eq!((got.batch, got.classes), (n, 7));
        check(
            backend,
            &format!("custom {n}x3x{h}x{w}"),
            &got.logits,
            &want.logits,
            tol,
        );
    }
}

/// RGBA frames through the backend's own preprocessing, against the CPU's.
pub async fn rgba_frames(backend: &mut dyn Backend, net: &Network) {
    let (w, h) = (61u32, 40u32);
    let pixels: Vec<u8> = noise((w * h * 4) as usize, 9)
        .iter()
        .map(|v| ((v + 2.0) * 63.0) as u8)
        .collect();
    let tol = bound(backend).max(1e-4);
    for crop in [Crop::Eval, Crop::Square] {
        let frame = RgbaFrame {
            pixels: &pixels,
            width: w,
            height: h,
        };
        let got = backend.run(Frame::Rgba(frame, crop)).await.unwrap();
        let x = preprocess::rgba_to_tensor(&pixels, w as usize, h as usize, crop).unwrap();
        let want = reference::run(net, &x).unwrap();
        check(
            backend,
            &format!("RGBA {crop:?}"),
            &got.logits,
            &want.logits,
            tol,
        );
    }
}

/// Bad input is an `Error::Input` and the backend keeps working; size changes are followed.
pub async fn bad_input_then_sizes(backend: &mut dyn Backend, net: &Network) {
    for bad in [Tensor::zeros([1, 4, 8, 8]), Tensor::zeros([0, 3, 8, 8])] {
        let r = backend.run(Frame::Tensor(&bad)).await;
        assert!(matches!(r, Err(Error::Input(_))), "{:?}", bad.shape);
    }
    let bad_frame = RgbaFrame {
        pixels: &[0; 7],
        width: 2,
        height: 2,
    };
    assert!(backend
        .run(Frame::Rgba(bad_frame, Crop::Eval))
        .await
        .is_err());
    let (a, b) = (input(1, 33, 35, 1), input(1, 20, 9, 2));
    let first = backend.run(Frame::Tensor(&a)).await.unwrap().logits;
    let other = backend.run(Frame::Tensor(&b)).await.unwrap().logits;
    let want = reference::run(net, &b).unwrap().logits;
    check(
        backend,
        "after a size change",
        &other,
        &want,
        bound(backend),
    );
    let again = backend.run(Frame::Tensor(&a)).await.unwrap().logits;
    assert_eq!(again, first, "same input, same logits");
}

/// `fc` over one image's features.
fn apply(fc: &Linear, x: &[f32]) -> Vec<f32> {
    (0..fc.out_f)
        .map(|o| {
            let row = &fc.weight[o * fc.in_f..(o + 1) * fc.in_f];
            fc.bias[o] + row.iter().zip(x).map(|(w, v)| w * v).sum::<f32>()
        })
        .collect()
}

/// Pooled features match the reference's; a bad head is refused and changes nothing; a
/// new head with another class count is swapped in and matches the reference with it.
pub async fn features_and_head_swap(backend: &mut dyn Backend, net: &Network) {
    let tol = bound(backend);
    let x = input(2, 19, 23, 5);
    let got = backend.run(Frame::Tensor(&x)).await.unwrap();
    let want = reference::run(net, &x).unwrap();
    assert_eq!(got.feature_len, net.conv5.out_ch);
    check(
        backend,
        "pooled features",
        &got.features,
        &want.features,
        tol,
    );
    let k = net.conv5.out_ch;
    let head = |classes: usize, seed: u32| Linear {
        in_f: k,
        out_f: classes,
        weight: noise(classes * k, seed),
        bias: noise(classes, seed + 1),
    };
    let mut nan = head(3, 7);
    nan.weight[4] = f32::NAN;
    let narrow = Linear {
        in_f: k - 1,
        ..head(3, 7)
    };
    for bad in [nan, narrow] {
        assert!(matches!(
            backend.set_head(&bad),
            Err(Error::Input(_) | Error::NonFinite { .. })
        ));
    }
    let same = backend.run(Frame::Tensor(&x)).await.unwrap();
    assert_eq!(same.logits, got.logits, "a refused head changes nothing");
    let fc = head(3, 11);
    backend.set_head(&fc).unwrap();
    let swapped = backend.run(Frame::Tensor(&x)).await.unwrap();
    let mut taught = net.clone();
    taught.fc = fc;
    let want = reference::run(&taught, &x).unwrap();
    assert_eq!(swapped.classes, 3);
    check(backend, "swapped head", &swapped.logits, &want.logits, tol);
    check(
        backend,
        "features after the swap",
        &swapped.features,
        &got.features,
        tol,
    );
}

/// The whole suite for one backend. `$make` is an async fn building it from a network;
/// `$tutorial` one building it for the tutorial's network (`None`: a backend that does not
/// run it, which must then refuse it at build, never run it wrongly; none does today).
macro_rules! backend_suite {
    ($suite:ident, $make:path, $tutorial:path) => {
        mod $suite {
            use super::*;

            suite_test!(
                async fn matches_pytorch_on_the_tutorial_network() {
                    for (groups, file) in [(1, fixtures::TUTORIAL_G1), (2, fixtures::TUTORIAL_G2)] {
                        let net = weights::load(file).unwrap().network;
                        if let Some(mut backend) = $tutorial(&net).await {
                            tutorial_f32(&mut *backend, groups).await;
                        }
                    }
                }
            );

            suite_test!(
                async fn matches_torchvision_f32() {
                    let net = weights::load(fixtures::SMALL_F32).unwrap().network;
                    torchvision_f32(&mut *$make(&net).await).await;
                }
            );

            suite_test!(
                async fn matches_torchvision_f16() {
                    for file in [fixtures::SMALL_F16, fixtures::SMALL_F16_PTH] {
                        let net = weights::load(file).unwrap().network;
                        let mut backend = $make(&net).await;
                        let out = backend
                            .run(Frame::Tensor(&fixtures::small_input()))
                            .await
                            .unwrap();
                        torchvision_f16(&mut *backend, &out.logits);
                    }
                }
            );

            suite_test!(
                async fn custom_architecture_odd_sizes_and_batches() {
                    let net = custom();
                    custom_shapes(&mut *$make(&net).await, &net).await;
                }
            );

            suite_test!(
                async fn rgba_frames_through_its_preprocessing() {
                    let net = custom();
                    rgba_frames(&mut *$make(&net).await, &net).await;
                }
            );

            suite_test!(
                async fn pooled_features_and_head_swap() {
                    let net = custom();
                    features_and_head_swap(&mut *$make(&net).await, &net).await;
                }
            );

            suite_test!(
                async fn bad_input_and_size_changes() {
                    let net = custom();
                    bad_input_then_sizes(&mut *$make(&net).await, &net).await;
                }
            );
        }
    };
}

async fn make_reference(net: &Network) -> Box<dyn Backend> {
    Box::new(Reference::new(net))
}

async fn make_fast_cpu(net: &Network) -> Box<dyn Backend> {
    Box::new(FastCpu::new(net))
}

async fn tutorial_reference(net: &Network) -> Option<Box<dyn Backend>> {
    Some(make_reference(net).await)
}

async fn tutorial_fast_cpu(net: &Network) -> Option<Box<dyn Backend>> {
    Some(make_fast_cpu(net).await)
}

backend_suite!(reference_backend, make_reference, tutorial_reference);
backend_suite!(fast_cpu, make_fast_cpu, tutorial_fast_cpu);

/// Three threads: uneven splits of every layer (natively, and in the threaded wasm build on
/// Web Workers; the single-threaded wasm builds have one thread).
#[cfg(any(not(target_arch = "wasm32"), target_feature = "atomics"))]
async fn make_fast_cpu_threads(net: &Network) -> Box<dyn Backend> {
    #[cfg(target_arch = "wasm32")]
    shufflenet_web::cpu::start_web_threads(3).await.unwrap();
    let fast = FastCpu::with_threads(net, 3);
    assert_eq!(fast.threads(), 3, "the pool runs on three threads");
    Box::new(fast)
}

#[cfg(any(not(target_arch = "wasm32"), target_feature = "atomics"))]
async fn tutorial_fast_cpu_threads(net: &Network) -> Option<Box<dyn Backend>> {
    Some(make_fast_cpu_threads(net).await)
}

#[cfg(any(not(target_arch = "wasm32"), target_feature = "atomics"))]
backend_suite!(
    fast_cpu_threads,
    make_fast_cpu_threads,
    tutorial_fast_cpu_threads
);

#[cfg(feature = "gpu")]
mod gpu_backends {
    use super::*;
    use shufflenet_web::gpu::{GpuBackend, GpuOptions, KernelChoice, KernelSet};

    async fn make(net: &Network, set: KernelSet) -> Box<dyn Backend> {
        let options = GpuOptions {
            kernels: KernelChoice::Set(set),
            warm_up_side: 16,
            ..GpuOptions::default()
        };
        Box::new(GpuBackend::with_options(net, options).await.unwrap())
    }

    pub async fn software(net: &Network) -> Box<dyn Backend> {
        make(net, KernelSet::Software).await
    }

    pub async fn hardware(net: &Network) -> Box<dyn Backend> {
        make(net, KernelSet::Hardware).await
    }

    pub async fn software_tutorial(net: &Network) -> Option<Box<dyn Backend>> {
        Some(software(net).await)
    }

    pub async fn hardware_tutorial(net: &Network) -> Option<Box<dyn Backend>> {
        Some(hardware(net).await)
    }
}

#[cfg(feature = "gpu")]
backend_suite!(
    webgpu_software_kernels,
    gpu_backends::software,
    gpu_backends::software_tutorial
);
#[cfg(feature = "gpu")]
backend_suite!(
    webgpu_hardware_kernels,
    gpu_backends::hardware,
    gpu_backends::hardware_tutorial
);
