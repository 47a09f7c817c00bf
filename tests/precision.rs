//! F16 weights (what the page downloads by default: half the bytes) against F32: the logits
//! of every width on the fixture picture and noise frames stay within the suite's F16 bound,
//! and the figures (largest difference, top-1 agreement) are printed for docs/publish.md.
//! Native only: a measurement of the files, not of a backend.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use common::rel_err;
use shufflenet_web::backend::{Backend, Frame};
use shufflenet_web::cpu::FastCpu;
use shufflenet_web::model::{Arch, Width};
use shufflenet_web::preprocess::{rgba_to_tensor, top_k, Crop};
use shufflenet_web::weights;

/// The conformance suite's bound for F16 weights, relative to the largest F32 logit.
const F16_BOUND: f32 = 2e-2;

fn logits(file: &[u8], input: &shufflenet_web::Tensor) -> Vec<f32> {
    let loaded = weights::load(file).unwrap();
    let mut cpu = FastCpu::new(&loaded.network);
    pollster::block_on(cpu.run(Frame::Tensor(input)))
        .unwrap()
        .logits
}

#[test]
fn f16_weights_stay_within_the_bound_at_every_width() {
    let picture = image::open(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/image.png"
    ))
    .unwrap()
    .to_rgba8();
    let mut frames = vec![rgba_to_tensor(
        &picture,
        picture.width() as usize,
        picture.height() as usize,
        Crop::Eval,
    )
    .unwrap()];
    frames.extend((0..7).map(|seed| common::input(1, 224, 224, seed)));
    for width in Width::ALL {
        let sd = weights::random::state_dict(&Arch::width(width), 0);
        let f32_file = weights::write_safetensors(&sd, false, None, None).unwrap();
        let f16_file = weights::write_safetensors(&sd, true, None, None).unwrap();
        let (mut worst, mut agree) = (0f32, 0);
        for input in &frames {
            let (full, half) = (logits(&f32_file, input), logits(&f16_file, input));
            worst = worst.max(rel_err(&half, &full));
            agree += usize::from(top_k(&full, 1)[0].0 == top_k(&half, 1)[0].0);
        }
        println!(
            "x{}: F16 {} bytes vs F32 {}; logits within {worst:.1e} of F32's largest; top-1 agrees on {agree}/{}",
            width.label(),
            f16_file.len(),
            f32_file.len(),
            frames.len()
        );
        assert!(worst < F16_BOUND, "x{}: {worst}", width.label());
    }
}
