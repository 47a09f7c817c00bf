//! Agreement with torchvision on the committed fixtures, natively and in the browser.

mod common;

use common::fixtures;
use shufflenet_web::preprocess::{pixels_to_tensor, Crop};
use shufflenet_web::weights::{self, Format};

#[cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

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
