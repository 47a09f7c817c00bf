//! Bad weights files give clear errors, never a panic or an unbounded allocation.

mod common;

use common::fixtures;
use shufflenet_web::model::{Arch, Width};
use shufflenet_web::weights::{self, StateDict};
use shufflenet_web::Error;

#[cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

fn err(bytes: &[u8]) -> Error {
    match weights::load(bytes) {
        Ok(_) => panic!("loaded bad weights"),
        Err(e) => e,
    }
}

fn small_sd() -> StateDict {
    weights::load(fixtures::SMALL_F32).unwrap().state_dict
}

fn save(sd: &StateDict) -> Vec<u8> {
    weights::write_safetensors(sd, false).unwrap()
}

suite_test!(
    fn html_and_other_files_are_not_weights() {
        let e = err(b"<!DOCTYPE html><html><body>404 Not Found</body></html>");
        assert!(matches!(e, Error::NotWeights(_)), "{e}");
        assert!(e.to_string().contains("HTML"), "{e}");
        assert!(err(b"").to_string().contains("empty"));
        assert!(err(b"\x89PNG\r\n\x1a\n0000").to_string().contains("image"));
        assert!(err(b"{\"a\": 1}").to_string().contains("JSON"));
    }
);

suite_test!(
    fn truncation_anywhere_is_an_error() {
        for file in [
            fixtures::SMALL_F32,
            fixtures::SMALL_PTH,
            fixtures::SMALL_LEGACY_PTH,
        ] {
            // Every cut point in the first 4 KiB, then a stride through the rest.
            let cuts = (0..4096).chain((4096..file.len()).step_by(997));
            for cut in cuts.filter(|c| *c < file.len()) {
                assert!(weights::load(&file[..cut]).is_err(), "cut at {cut} loaded");
            }
        }
    }
);

suite_test!(
    fn absurd_safetensors_header_sizes_are_refused() {
        for len in [u64::MAX, 1 << 40, 1 << 30, 100] {
            let mut b = len.to_le_bytes().to_vec();
            b.extend_from_slice(b"{\"a\":1}");
            let e = err(&b);
            assert!(matches!(e, Error::Corrupt(_)), "header {len}: {e}");
        }
    }
);

suite_test!(
    fn missing_and_unexpected_tensors_are_named() {
        let mut sd = small_sd();
        sd.tensors.remove("stage3.1.branch2.5.weight");
        let e = err(&save(&sd));
        assert!(matches!(e, Error::Missing(_)), "{e}");
        assert!(e.to_string().contains("stage3.1.branch2.5.weight"), "{e}");

        let mut sd = small_sd();
        sd.insert("classifier.weight", vec![2], vec![0.0, 1.0]);
        let e = err(&save(&sd));
        assert!(e.to_string().contains("classifier.weight"), "{e}");
    }
);

suite_test!(
    fn wrong_shapes_say_expected_and_got() {
        let mut sd = small_sd();
        let t = sd.tensors.get_mut("stage2.0.branch2.3.weight").unwrap();
        t.shape = vec![t.shape[0], 1, 9, 1];
        let e = err(&save(&sd));
        match e {
            Error::Shape {
                name,
                expected,
                got,
            } => {
                assert_eq!(name, "stage2.0.branch2.3.weight");
                assert_eq!(expected, vec![8, 1, 3, 3]);
                assert_eq!(got, vec![8, 1, 9, 1]);
            }
            e => panic!("wrong error {e}"),
        }
    }
);

suite_test!(
    fn non_finite_values_are_refused() {
        let mut sd = small_sd();
        sd.tensors.get_mut("conv5.1.running_var").unwrap().data[3] = f32::NAN;
        let e = err(&save(&sd));
        assert!(matches!(e, Error::NonFinite { index: 3, .. }), "{e}");
        let mut sd = small_sd();
        sd.tensors.get_mut("fc.weight").unwrap().data[0] = f32::INFINITY;
        assert!(matches!(err(&save(&sd)), Error::NonFinite { .. }));
    }
);

suite_test!(
    fn unsupported_dtypes_are_named() {
        use safetensors::{tensor::TensorView, Dtype};
        let data = vec![0u8; 16];
        let view = TensorView::new(Dtype::BF16, vec![8], &data).unwrap();
        let b = safetensors::serialize([("conv1.1.weight", view)], None).unwrap();
        let e = err(&b);
        assert!(matches!(e, Error::Dtype { .. }), "{e}");
        assert!(e.to_string().contains("BF16"), "{e}");
    }
);

suite_test!(
    fn a_pickled_module_is_not_a_state_dict() {
        // pickle: PROTO 2, GLOBAL 'torchvision.models ShuffleNetV2', EMPTY_TUPLE, NEWOBJ, STOP,
        // zipped the way torch.save lays it out.
        let mut pkl = vec![0x80, 2, b'c'];
        pkl.extend_from_slice(b"torchvision.models.shufflenetv2\nShuffleNetV2\n");
        pkl.extend_from_slice(&[b')', 0x81, b'.']);
        let bytes = zip_with("archive/data.pkl", &pkl);
        let e = err(&bytes);
        assert!(e.to_string().contains("state_dict"), "{e}");
    }
);

fn zip_with(name: &str, data: &[u8]) -> Vec<u8> {
    // A one-entry stored zip: local header, data, central directory, end record.
    let crc = crc32(data);
    let mut out = Vec::new();
    let le16 = |v: u16| v.to_le_bytes();
    let le32 = |v: u32| v.to_le_bytes();
    out.extend_from_slice(b"PK\x03\x04");
    out.extend_from_slice(&le16(20));
    out.extend_from_slice(&[0; 4]); // flags, method: stored
    out.extend_from_slice(&[0; 4]); // time, date
    out.extend_from_slice(&le32(crc));
    out.extend_from_slice(&le32(data.len() as u32));
    out.extend_from_slice(&le32(data.len() as u32));
    out.extend_from_slice(&le16(name.len() as u16));
    out.extend_from_slice(&le16(0));
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(data);
    let cd = out.len();
    out.extend_from_slice(b"PK\x01\x02");
    out.extend_from_slice(&le16(20));
    out.extend_from_slice(&le16(20));
    out.extend_from_slice(&[0; 8]);
    out.extend_from_slice(&le32(crc));
    out.extend_from_slice(&le32(data.len() as u32));
    out.extend_from_slice(&le32(data.len() as u32));
    out.extend_from_slice(&le16(name.len() as u16));
    out.extend_from_slice(&[0; 12]);
    out.extend_from_slice(&le32(0));
    out.extend_from_slice(name.as_bytes());
    let cd_len = out.len() - cd;
    out.extend_from_slice(b"PK\x05\x06");
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&le16(1));
    out.extend_from_slice(&le16(1));
    out.extend_from_slice(&le32(cd_len as u32));
    out.extend_from_slice(&le32(cd as u32));
    out.extend_from_slice(&le16(0));
    out
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for b in data {
        crc ^= *b as u32;
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

suite_test!(
    fn flipped_bytes_never_panic() {
        // Deterministic mutations of each format; every outcome must be Ok or Err.
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for file in [
            fixtures::SMALL_F32,
            fixtures::SMALL_PTH,
            fixtures::SMALL_LEGACY_PTH,
        ] {
            for _ in 0..150 {
                let mut b = file.to_vec();
                for _ in 0..1 + next() % 4 {
                    // Mostly headers and pickles, where structure lives.
                    let limit = if next() % 2 == 0 {
                        b.len().min(2048)
                    } else {
                        b.len()
                    };
                    let i = (next() as usize) % limit;
                    b[i] = next() as u8;
                }
                let _ = weights::load(&b);
            }
        }
    }
);

suite_test!(
    fn random_weights_round_trip_for_every_width() {
        for w in Width::ALL {
            let arch = Arch::width(w);
            let sd = weights::random::state_dict(&arch, 7);
            let loaded = weights::load(&save(&sd)).unwrap();
            assert_eq!(loaded.info.arch.known_width(), Some(w));
        }
    }
);
