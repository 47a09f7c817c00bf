//! Bad weights files give clear errors, never a panic or an unbounded allocation.

mod common;
#[cfg(not(target_arch = "wasm32"))]
#[path = "weights/mutate.rs"]
mod mutate;
#[path = "weights/torch_save.rs"]
mod torch_save;

use common::fixtures;
use shufflenet_web::classes::{ClassNames, Source};
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
    weights::write_safetensors(sd, false, None, None).unwrap()
}

suite_test!(
    fn html_and_other_files_are_not_weights() {
        let e = err(b"<!DOCTYPE html><html><body>404 Not Found</body></html>");
        assert!(matches!(e, Error::Foreign { .. }), "{e}");
        assert!(e.to_string().contains("HTML"), "{e}");
        assert!(err(b"").to_string().contains("empty"));
        assert!(err(b"\x89PNG\r\n\x1a\n0000")
            .to_string()
            .contains("picture"));
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
        for len in [u64::MAX, 1 << 40, 1 << 30] {
            let mut b = len.to_le_bytes().to_vec();
            b.extend_from_slice(b"{\"a\":1}");
            let e = err(&b);
            assert!(matches!(e, Error::Corrupt(_)), "header {len}: {e}");
        }
        // A plausible length past the end: the file is cut short, and says where.
        let mut b = 100u64.to_le_bytes().to_vec();
        b.extend_from_slice(b"{\"a\":1}");
        let e = err(&b);
        assert!(
            matches!(
                e,
                Error::Truncated {
                    at: 15,
                    needs: 108,
                    ..
                }
            ),
            "{e}"
        );
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
        let bytes = torch_save::zip(&[("archive/data.pkl".into(), pkl)]);
        let e = err(&bytes);
        assert!(e.to_string().contains("state_dict"), "{e}");
    }
);

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

// ---- Hostile files (issue 9): each bomb is refused with a named error, quickly. ----

use torch_save::{op, Pickle, View, Wrap};

/// Generous next to the milliseconds these take: catches the minutes and gigabytes the
/// bombs cost before they were bounded, not speed (timings are printed).
const BOMB_SECONDS: f64 = 5.0;

/// `weights::load`'s error and how long it took, printed; asserted under `BOMB_SECONDS`.
fn refuse(what: &str, bytes: &[u8]) -> Error {
    let start = web_time::Instant::now();
    let e = err(bytes);
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{what}: {} bytes refused in {:.1} ms: {e}",
        bytes.len(),
        secs * 1e3
    );
    assert!(secs < BOMB_SECONDS, "{what}: took {secs:.2} s");
    e
}

/// Named tensor views, and storages by key with their bytes.
type Views = Vec<(String, View)>;
type Storages = Vec<(String, Vec<u8>)>;

/// The fixture's tensors, each in a storage of its own (as torch.save writes them).
fn separate_storages(sd: &StateDict) -> (Views, Storages) {
    let mut views = Vec::new();
    let mut storages = Vec::new();
    for (i, (name, t)) in sd.tensors.iter().enumerate() {
        views.push((
            name.clone(),
            View::f32(&i.to_string(), t.data.len(), 0, &t.shape),
        ));
        storages.push((i.to_string(), torch_save::f32_bytes(&t.data)));
    }
    (views, storages)
}

fn assert_same_tensors(got: &StateDict, want: &StateDict) {
    assert_eq!(got.tensors.len(), want.tensors.len());
    for (name, t) in &want.tensors {
        assert_eq!(got.get(name), Some(t), "{name}");
    }
}

suite_test!(
    fn checkpoints_holding_a_state_dict_or_model_load() {
        let want = small_sd();
        let (views, storages) = separate_storages(&want);
        for wrap in [Wrap::Bare, Wrap::Under("state_dict"), Wrap::Under("model")] {
            let pkl = torch_save::state_dict_pickle(&views, wrap);
            let zip = torch_save::torch_zip(pkl.clone(), &storages);
            assert_same_tensors(&weights::load(&zip).unwrap().state_dict, &want);
            let legacy: Vec<_> = storages
                .iter()
                .map(|(k, b)| (k.clone(), b.clone(), 4))
                .collect();
            let legacy = torch_save::torch_legacy(pkl, &legacy);
            assert_same_tensors(&weights::load(&legacy).unwrap().state_dict, &want);
        }
    }
);

suite_test!(
    fn storages_shared_between_keys_load() {
        // Every tensor a view into one flat storage, plus an integer counter on a storage of
        // its own: the file holds each value once and loads to the same weights.
        let want = small_sd();
        let total: usize = want.tensors.values().map(|t| t.data.len()).sum();
        let mut flat = Vec::with_capacity(total);
        let mut views = Vec::new();
        for (name, t) in &want.tensors {
            views.push((name.clone(), View::f32("flat", total, flat.len(), &t.shape)));
            flat.extend_from_slice(&t.data);
        }
        let mut counter = View::f32("count", 1, 0, &[]);
        counter.class = "LongStorage";
        views.push(("conv1.1.num_batches_tracked".into(), counter));
        let storages = [
            ("flat".to_string(), torch_save::f32_bytes(&flat)),
            ("count".to_string(), 7u64.to_le_bytes().to_vec()),
        ];
        let zip =
            torch_save::torch_zip(torch_save::state_dict_pickle(&views, Wrap::Bare), &storages);
        let loaded = weights::load(&zip).unwrap();
        assert_same_tensors(&loaded.state_dict, &want);
        assert_eq!(loaded.state_dict.ignored, ["conv1.1.num_batches_tracked"]);
        // An integer counter is only accepted where a BatchNorm has one.
        views.last_mut().unwrap().0 = "fc.num_batches_tracked".into();
        let zip =
            torch_save::torch_zip(torch_save::state_dict_pickle(&views, Wrap::Bare), &storages);
        let e = refuse("a counter without its BatchNorm", &zip);
        assert!(e.to_string().contains("fc.num_batches_tracked"), "{e}");
    }
);

suite_test!(
    fn a_storage_under_a_thousand_keys_is_refused_by_name() {
        // A 4 MB storage viewed whole by 1,000 keys (4 GB if copied per key).
        let sd = small_sd();
        let (mut views, mut storages) = separate_storages(&sd);
        let n = 1 << 20;
        storages.push(("big".into(), vec![0u8; 4 * n]));
        for i in 0..1000 {
            views.push((format!("junk.{i}"), View::f32("big", n, 0, &[n])));
        }
        let zip =
            torch_save::torch_zip(torch_save::state_dict_pickle(&views, Wrap::Bare), &storages);
        let e = refuse("1,000 keys on one 4 MB storage", &zip);
        assert!(matches!(e, Error::Unexpected(_)), "{e}");
        assert!(e.to_string().contains("junk.0"), "{e}");
    }
);

suite_test!(
    fn overlapping_views_of_one_storage_are_refused_by_budget() {
        // Every expected tensor of a wide network viewing the start of one 2 MB storage:
        // names and shapes are right, but decoding would cost many times the file.
        let arch = Arch::new([1, 1, 1], [16, 1024, 1024, 1024, 16], 10).unwrap();
        let expected = weights::expected(&arch);
        let n = expected
            .iter()
            .map(|(_, s)| s.iter().product::<usize>())
            .max()
            .unwrap();
        let views: Vec<_> = expected
            .iter()
            .map(|(name, shape)| (name.clone(), View::f32("one", n, 0, shape)))
            .collect();
        let storages = [("one".to_string(), vec![0u8; 4 * n])];
        let zip =
            torch_save::torch_zip(torch_save::state_dict_pickle(&views, Wrap::Bare), &storages);
        let e = refuse("overlapping views of one storage", &zip);
        assert!(matches!(e, Error::Budget(_)), "{e}");
    }
);

suite_test!(
    fn a_sparse_memo_does_not_grow_per_index() {
        // 1.3 MB of LONG_BINPUTs whose indices jump by 1,024: a dense memo reaches gigabytes.
        let mut p = Pickle::new();
        p.op(op::NONE);
        for i in 0..260_000u32 {
            p.put(i * 1024);
        }
        let zip = torch_save::zip(&[("archive/data.pkl".into(), p.stop())]);
        let e = refuse("memo bomb", &zip);
        assert!(matches!(e, Error::Budget(_)), "{e}");
        assert!(e.to_string().contains("pickle"), "{e}");
    }
);

suite_test!(
    fn the_legacy_pickle_is_capped() {
        // A legacy state_dict pickle of 17 MiB (a state_dict's is some 60 kB).
        let mut p = Pickle::new();
        p.op(op::BINBYTES);
        p.0.extend_from_slice(&(17u32 << 20).to_le_bytes());
        p.0.resize(p.0.len() + (17 << 20), 0);
        let legacy = torch_save::torch_legacy(p.stop(), &[]);
        let e = refuse("17 MiB legacy pickle", &legacy);
        assert!(matches!(e, Error::Budget(_)), "{e}");
        assert!(e.to_string().contains("legacy .pth state_dict"), "{e}");
    }
);

suite_test!(
    fn a_reused_tuple_is_not_copied_per_use() {
        // One memoised argument tuple of 200,000 items, passed to _rebuild_tensor_v2 200,000
        // times: copying it per call is 4e10 element copies.
        let mut p = Pickle::new();
        p.global("torch._utils", "_rebuild_tensor_v2").put(0);
        p.op(op::MARK)
            .op(op::MARK)
            .str("storage")
            .global("torch", "FloatStorage");
        p.str("0")
            .str("cpu")
            .long(1)
            .op(op::TUPLE)
            .op(op::BINPERSID);
        p.long(0).ints(&[1]).ints(&[1]);
        for _ in 0..200_000 {
            p.op(op::NONE);
        }
        p.op(op::TUPLE).put(1);
        for _ in 0..200_000 {
            p.get(0).get(1).op(op::REDUCE).op(op::POP);
        }
        let zip = torch_save::zip(&[("archive/data.pkl".into(), p.stop())]);
        let e = refuse("reused tuple", &zip);
        assert!(matches!(e, Error::Budget(_)), "{e}");

        // A shape tuple that long is no shape at all.
        let mut v = View::f32("0", 1, 0, &[1]);
        v.shape = vec![1; 10_000];
        v.stride = vec![1; 10_000];
        let pkl = torch_save::state_dict_pickle(&[("conv1.0.weight".into(), v)], Wrap::Bare);
        let zip = torch_save::torch_zip(pkl, &[("0".into(), vec![0; 4])]);
        let e = refuse("10,000-dimension shape", &zip);
        assert!(e.to_string().contains("bad tensor size"), "{e}");
    }
);

suite_test!(
    fn a_hundred_thousand_zero_size_tensors_are_refused_quickly() {
        use safetensors::{tensor::TensorView, Dtype};
        let empty: &[u8] = &[];
        let header = |names: &mut dyn Iterator<Item = String>| {
            let views: Vec<_> = names
                .map(|n| (n, TensorView::new(Dtype::F32, vec![0], empty).unwrap()))
                .collect();
            safetensors::serialize(views, None).unwrap()
        };
        // Stage repeat counts come from the names: 100,000 units in stage 2.
        let file = header(
            &mut std::iter::once("conv1.0.weight".to_string())
                .chain((0..100_000).map(|i| format!("stage2.{i}.branch2.0.weight"))),
        );
        let e = refuse("100,000 stage2 units", &file);
        assert!(matches!(e, Error::Layout(_)), "{e}");
        assert!(e.to_string().contains("more than 16 units"), "{e}");

        // 100,000 unknown names beside a complete network: found by hash, named.
        let sd = small_sd();
        let mut views: Vec<(String, TensorView)> = sd
            .tensors
            .iter()
            .map(|(n, t)| {
                let bytes: &[u8] = bytemuck::cast_slice(&t.data);
                (
                    n.clone(),
                    TensorView::new(Dtype::F32, t.shape.clone(), bytes).unwrap(),
                )
            })
            .collect();
        views.extend((0..100_000).map(|i| {
            (
                format!("extra.{i}"),
                TensorView::new(Dtype::F32, vec![0], empty).unwrap(),
            )
        }));
        let file = safetensors::serialize(views, None).unwrap();
        let e = refuse("100,000 unknown zero-size tensors", &file);
        assert!(matches!(e, Error::Unexpected(_)), "{e}");
        assert!(e.to_string().contains("and 99992 more"), "{e}");
    }
);

suite_test!(
    fn names_are_checked_before_f16_values_are_widened() {
        // An F16 file whose one tensor has a name no network has: refused from its header,
        // without decoding the 16 MB the reader would otherwise widen to 32 MB of f32.
        use safetensors::{tensor::TensorView, Dtype};
        let data = vec![0u8; 16 << 20];
        let view = TensorView::new(Dtype::F16, vec![8 << 20], &data).unwrap();
        let file = safetensors::serialize([("junk.weight", view)], None).unwrap();
        let start = web_time::Instant::now();
        let decoded = weights::read_state_dict(&file).unwrap().0;
        let decode = start.elapsed().as_secs_f64();
        assert_eq!(decoded.values(), 8 << 20);
        drop(decoded);
        let e = refuse("F16 file with a foreign name", &file);
        let start = web_time::Instant::now();
        let _ = weights::load(&file);
        let refused = start.elapsed().as_secs_f64();
        println!("decoding the F16 values takes {:.1} ms", decode * 1e3);
        assert!(matches!(e, Error::Layout(_)), "{e}");
        assert!(
            refused * 10.0 < decode,
            "refused in {refused:.4} s, decoding takes {decode:.4} s"
        );
    }
);

suite_test!(
    fn pth_shape_and_offset_arithmetic_never_overflows() {
        let sd = small_sd();
        let (views, mut storages) = separate_storages(&sd);
        storages.push(("x".into(), vec![0u8; 16]));
        let big = 1i64 << 40;
        let bad_views = [
            // A zero dimension makes the element count 0 but the strides overflow.
            (vec![0, big, big], vec![big, big, 1], "zero-size"),
            (vec![big, big], vec![big, 1], "overflows"),
            (vec![big << 20, big << 20, 4], vec![0, 0, 1], "overflows"),
        ];
        for (shape, stride, want) in bad_views {
            let mut v = views.clone();
            let conv = v.iter_mut().find(|(n, _)| n == "conv5.1.bias").unwrap();
            conv.1 = View {
                class: "FloatStorage",
                key: "x".into(),
                storage_numel: 4,
                offset: 0,
                shape,
                stride,
            };
            let zip =
                torch_save::torch_zip(torch_save::state_dict_pickle(&v, Wrap::Bare), &storages);
            let e = refuse(want, &zip);
            assert!(matches!(e, Error::Shape { .. } | Error::Corrupt(_)), "{e}");
        }
        // Offsets and storage sizes near the top of the range.
        for (numel, offset) in [(i64::MAX, i64::MAX - 1), (i64::MAX / 2, 0), (4, i64::MAX)] {
            let mut v = views.clone();
            v[0].1 = View {
                storage_numel: numel,
                offset,
                ..View::f32("x", 4, 0, &[1])
            };
            let zip =
                torch_save::torch_zip(torch_save::state_dict_pickle(&v, Wrap::Bare), &storages);
            let e = refuse("huge offset", &zip);
            assert!(matches!(e, Error::Corrupt(_)), "{e}");
        }
    }
);

/// The fuzz target on stable Rust, bounded: every file in `fuzz/corpus/weights` (seeds, and
/// whatever `cargo fuzz` finds), then thousands of structured mutations of the fixtures.
/// Each must load or fail with an error: a panic fails the test and saves the input.
#[cfg(not(target_arch = "wasm32"))]
#[test]
fn fuzz_replay_corpus_and_structured_mutations() {
    use mutate::Rng;
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let check = |what: &str, input: &[u8]| -> bool {
        match std::panic::catch_unwind(|| weights::load(input).is_ok()) {
            Ok(loaded) => loaded,
            Err(_) => {
                let saved = root.join("target/fuzz-failure.bin");
                std::fs::write(&saved, input).unwrap();
                panic!("{what} panicked; the input is in {}", saved.display());
            }
        }
    };
    let start = web_time::Instant::now();
    let mut seeds = 0;
    for entry in std::fs::read_dir(root.join("fuzz/corpus/weights")).unwrap() {
        let path = entry.unwrap().path();
        check(&path.display().to_string(), &std::fs::read(&path).unwrap());
        seeds += 1;
    }
    assert!(seeds >= 8, "the corpus has {seeds} files");

    let zip = mutate::unzip(fixtures::SMALL_PTH);
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let (mut loaded, mut refused) = (0, 0);
    const CASES: usize = 3000;
    for case in 0..CASES {
        let input = match case % 4 {
            0 => mutate::mutate_zip(&mut rng, &zip),
            1 => mutate::mutate_legacy(&mut rng, fixtures::SMALL_LEGACY_PTH),
            2 => mutate::mutate_safetensors(&mut rng, fixtures::SMALL_F32),
            _ => mutate::mutate_safetensors(&mut rng, fixtures::SMALL_F16),
        };
        if check(&format!("mutation {case}"), &input) {
            loaded += 1;
        } else {
            refused += 1;
        }
    }
    println!(
        "{seeds} corpus files and {CASES} mutations ({loaded} loaded, {refused} refused) in {:.2} s",
        start.elapsed().as_secs_f64()
    );
    // Mutations that never get past the framing would test nothing.
    assert!(
        refused > CASES / 2 && loaded > 0,
        "{loaded} loaded, {refused} refused"
    );
}

suite_test!(
    fn class_names_in_the_metadata_load_and_are_checked_against_the_head() {
        let sd = weights::random::state_dict(&Arch::width(Width::X0_5), 2);
        let names = |n: usize| ClassNames::given((0..n).map(|i| format!("kind {i}")).collect());
        let named =
            weights::write_safetensors(&sd, false, Some(&names(1000).unwrap()), None).unwrap();
        let loaded = weights::load(&named).unwrap();
        assert_eq!(loaded.info.class_names.source(), Source::Given);
        assert_eq!(loaded.info.class_names.name(999), "kind 999");
        let unnamed = weights::load(&save(&sd)).unwrap();
        assert_eq!(unnamed.info.class_names.source(), Source::ImageNet);

        let three = weights::write_safetensors(&sd, false, Some(&names(3).unwrap()), None).unwrap();
        let e = err(&three).to_string();
        assert!(e.contains("3 names") && e.contains("1000 outputs"), "{e}");
    }
);
