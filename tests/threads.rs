//! The fast CPU backend on several threads computes every output element with the same
//! arithmetic as on one: results are bit-identical, at every width, at the 7 x 7 maps of
//! stage 4 (224 x 224 input) and on a long stream of small frames with backends dropped
//! and rebuilt mid-stream (weights swapped) and frames abandoned before they ran.
//!
//! Natively on std threads, and in the threaded wasm build (`pkg-threads`) on Web Workers
//! sharing the module's memory. The single-threaded wasm builds have no threads, so there
//! these checks would hold trivially. In the threaded wasm build, a Web Worker that traps in
//! the middle of a part fails the split at once instead of hanging its caller.
#![cfg(any(not(target_arch = "wasm32"), target_feature = "atomics"))]

mod common;

wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

use common::input;
use shufflenet_web::backend::{Backend, Frame};
use shufflenet_web::cpu::FastCpu;
use shufflenet_web::model::{Arch, Width};
use shufflenet_web::weights::random_network;

/// The threaded wasm build starts its Web Workers once, before any pool uses them.
async fn start_threads(threads: usize) {
    #[cfg(target_arch = "wasm32")]
    assert!(
        shufflenet_web::cpu::start_web_threads(threads)
            .await
            .unwrap()
            >= threads
    );
    let _ = threads;
}

/// Two backends on the same weights, one on `threads` threads.
fn pair(width: Width, seed: u64, threads: usize) -> (FastCpu, FastCpu) {
    let net = random_network(&Arch::width(width), seed);
    let many = FastCpu::with_threads(&net, threads);
    assert_eq!(many.threads(), threads.max(1));
    (FastCpu::new(&net), many)
}

suite_test!(
    async fn every_width_at_224_matches_one_thread_bit_for_bit() {
        start_threads(4).await;
        let x = input(1, 224, 224, 7);
        for width in Width::ALL {
            let (mut one, mut many) = pair(width, 1, 3);
            let want = one.run(Frame::Tensor(&x)).await.unwrap();
            let got = many.run(Frame::Tensor(&x)).await.unwrap();
            assert!(
                got.logits == want.logits,
                "x{} on {} threads differs from one thread",
                width.label(),
                many.threads()
            );
        }
    }
);

suite_test!(
    async fn stream_of_frames_on_four_threads_with_swaps_and_abandoned_frames() {
        // 64 x 64 frames reach 2 x 2 maps in stage 4: every layer still splits four ways.
        // Four threads on this 2-core CI machine hand over slowly (about 0.1 s a frame when
        // the cores are busy), so the stream is 100 frames natively; in Chrome, where the
        // Web Workers spin on shared memory, the 500 take a few seconds.
        const FRAMES: usize = if cfg!(target_arch = "wasm32") {
            500
        } else {
            100
        };
        start_threads(4).await;
        let frames: Vec<_> = (0..8).map(|s| input(1, 64, 64, s)).collect();
        let (mut one, mut many) = pair(Width::X1_0, 0, 4);
        for i in 0..FRAMES {
            if i % 25 == 24 {
                // Weights swapped mid-stream: the pool is dropped (its threads joined) and a
                // new one started.
                (one, many) = pair(Width::X1_0, i as u64, 4);
            }
            let x = &frames[i % frames.len()];
            if i % 7 == 3 {
                // A frame cancelled before it ran leaves the pool idle and usable.
                drop(many.run(Frame::Tensor(x)));
            }
            let want = one.run(Frame::Tensor(x)).await.unwrap();
            let got = many.run(Frame::Tensor(x)).await.unwrap();
            assert!(
                got.logits == want.logits,
                "frame {i}: four threads differ from one"
            );
        }
    }
);

/// A Web Worker that traps in the middle of its part (a panic: the build aborts on panic)
/// never finishes it. Its caller must not wait for it: the split fails promptly with the
/// trap's message, and later pools leave the dead worker alone until threads start afresh.
#[cfg(target_arch = "wasm32")]
#[wasm_bindgen_test::wasm_bindgen_test]
async fn a_worker_that_traps_mid_part_fails_the_split_at_once() {
    let now = || web_sys::window().unwrap().performance().unwrap().now();
    start_threads(4).await;
    let since = now();
    let failed = shufflenet_web::cpu::trap_a_cpu_thread(2)
        .expect_err("a worker trapped in its part: the split must fail");
    let ms = now() - since;
    let message = failed.to_string();
    wasm_bindgen_test::console_log!("the caller failed in {ms:.2} ms: {message}");
    assert!(
        ms < 500.0,
        "the caller took {ms} ms to notice the dead worker"
    );
    assert!(
        message.starts_with("a CPU thread failed: a deliberate fault in a CPU thread"),
        "{message}"
    );

    // The dead worker's threads are gone for every pool made from now on ...
    let net = random_network(&Arch::width(Width::X0_5), 5);
    assert_eq!(FastCpu::with_threads(&net, 4).threads(), 1);
    // ... until the threads start again: fresh workers, as exact as before.
    start_threads(4).await;
    let (mut one, mut many) = pair(Width::X0_5, 5, 4);
    let x = input(1, 64, 64, 5);
    let want = one.run(Frame::Tensor(&x)).await.unwrap();
    assert!(many.run(Frame::Tensor(&x)).await.unwrap().logits == want.logits);
}
