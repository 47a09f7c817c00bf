//! Agreement with torchvision on the committed fixtures, natively and in the browser.

mod common;

use common::{assert_close, fixtures, rel_err};
use shufflenet_web::cpu::reference;
use shufflenet_web::engine::{Engine, Preference};
use shufflenet_web::preprocess::{pixels_to_tensor, Crop};
use shufflenet_web::weights::{self, DType, Format};

#[cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

suite_test!(
    fn reference_matches_torchvision_at_every_stage() {
        let net = weights::load(fixtures::SMALL_F32).unwrap().network;
        let input = fixtures::small_input();
        let per_image = input.image_len();
        for n in 0..input.batch() {
            let x = reference::Map {
                c: 3,
                h: input.height(),
                w: input.width(),
                data: input.data[n * per_image..(n + 1) * per_image].to_vec(),
            };
            let (bounds, logits) = reference::forward_image(&net, x, &mut Default::default());
            for (name, got) in ["stem", "stage2", "stage3", "stage4"].iter().zip(&bounds) {
                let (shape, want) = fixtures::small_io(name);
                assert_eq!([got.c, got.h, got.w], shape[1..], "{name} shape");
                let len = want.len() / shape[0];
                assert_close(name, &got.data, &want[n * len..(n + 1) * len], 1e-4);
            }
            let (_, want) = fixtures::small_io("logits");
            let classes = net.fc.out_f;
            assert_close(
                "logits",
                &logits,
                &want[n * classes..(n + 1) * classes],
                1e-4,
            );
        }
    }
);

suite_test!(
    async fn every_backend_matches_torchvision_f32() {
        let (_, want) = fixtures::small_io("logits");
        for pref in [Preference::Reference, Preference::Cpu] {
            let net = weights::load(fixtures::SMALL_F32).unwrap().network;
            let mut engine = Engine::new(net, pref).await.unwrap();
            let out = engine.run(&fixtures::small_input()).await.unwrap();
            assert_eq!((out.batch, out.classes), (2, 10));
            assert_close(engine.backend(), &out.logits, &want, 1e-4);
        }
    }
);

suite_test!(
    fn f16_weights_stay_within_2e_2() {
        let (_, want) = fixtures::small_io("logits");
        for file in [fixtures::SMALL_F16, fixtures::SMALL_F16_PTH] {
            let loaded = weights::load(file).unwrap();
            assert_eq!(loaded.info.dtype, DType::F16);
            let out = reference::run(&loaded.network, &fixtures::small_input()).unwrap();
            let e = rel_err(&out.logits, &want);
            assert!(e <= 2e-2, "F16 logits off by {e:.3e}");
        }
    }
);

suite_test!(
    fn pth_zip_and_legacy_hold_the_same_tensors_as_safetensors() {
        let st = weights::load(fixtures::SMALL_F32).unwrap();
        for (bytes, format) in [
            (fixtures::SMALL_PTH, Format::TorchZip),
            (fixtures::SMALL_LEGACY_PTH, Format::TorchLegacy),
        ] {
            let pth = weights::load(bytes).unwrap();
            assert_eq!(pth.info.format, format);
            assert_eq!(pth.info.arch, st.info.arch);
            assert_eq!(pth.state_dict.tensors, st.state_dict.tensors, "{format:?}");
            // num_batches_tracked is an integer counter: read and skipped, never a float.
            assert!(pth
                .state_dict
                .ignored
                .iter()
                .all(|n| n.ends_with("num_batches_tracked")));
            assert!(!pth.state_dict.ignored.is_empty());
        }
    }
);

suite_test!(
    fn infers_the_custom_architecture() {
        let info = weights::load(fixtures::SMALL_F32).unwrap().info;
        assert_eq!(info.arch.stages_repeats, [2, 3, 2]);
        assert_eq!(info.arch.stages_out_channels, [8, 16, 32, 64, 96]);
        assert_eq!(info.arch.num_classes, 10);
        assert_eq!(info.arch.known_width(), None);
    }
);

fn check_preprocess(crop: Crop, name: &str) {
    let (shape, pixels) = fixtures::preprocess("pixels");
    let bytes: Vec<u8> = pixels.iter().map(|v| *v as u8).collect();
    let got = pixels_to_tensor(&bytes, shape[1], shape[0], 3, crop).unwrap();
    let (want_shape, want) = fixtures::preprocess(name);
    assert_eq!(got.shape[..], want_shape[..]);
    // PIL rounds to 8 bits after each resize pass; we stay in f32. One 8-bit step is
    // 1 / 255 / 0.225 = 0.0174 after normalization: allow two.
    let diff = shufflenet_web::tensor::max_abs_diff(&got.data, &want);
    assert!(diff < 0.035, "{name}: max |diff| {diff} vs PIL");
}

suite_test!(
    fn eval_transform_matches_torchvision() {
        check_preprocess(Crop::Eval, "eval");
    }
);

suite_test!(
    fn square_crop_matches_pil() {
        check_preprocess(Crop::Square, "square");
    }
);
