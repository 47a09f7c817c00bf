//! Teach's export as torchvision reads it (issue 22): a head trained on the engine's pooled
//! features of photo crops and exported in F32 and F16 gives, in the engine, the logits
//! torchvision computes from its own features of the same crops (the committed fixtures of
//! `tools/make_fixtures.py --teach-fixtures`). Random backbones of every width, with exactly
//! constant and near-constant feature dimensions, and the tutorial's networks; natively and in
//! headless Chrome.

mod common;
#[cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

use common::fixtures::{self, TEACH_CROPS, TEACH_FEATURES};
use shufflenet_web::classes::ClassNames;
use shufflenet_web::engine::{Engine, EngineOptions, Preference};
use shufflenet_web::model::{Arch, Linear, Width};
use shufflenet_web::preprocess::{MEAN, STD};
use shufflenet_web::teach::{self, Samples, TrainOptions, Unknown};
use shufflenet_web::weights::{self, StateDict};
use shufflenet_web::Tensor;

/// The fixture script's backbones, by the name its features are stored under; all seeded
/// with `SEED`.
const BACKBONES: [&str; 6] = [
    "x0.5",
    "x1.0",
    "x1.5",
    "x2.0",
    "tutorial_x0.5_g1",
    "tutorial_x1.0_g2",
];
const SEED: u64 = 13;
/// torchvision's logits against the engine's, relative to the largest (the bounds).
const F32_BOUND: f64 = 1e-4;
const F16_BOUND: f64 = 2e-2;

fn arch(name: &str) -> Arch {
    let width = |w: &str| Width::parse(w).unwrap();
    match name.strip_prefix("tutorial_x") {
        Some(rest) => {
            let (w, g) = rest.split_once("_g").unwrap();
            Arch::tutorial_width(width(w), g.parse().unwrap(), 1000).unwrap()
        }
        None => Arch::width(width(&name[1..])),
    }
}

/// The rule `flatten_features` in tools/make_fixtures.py applies too (were the two to differ,
/// the logits below would): conv5's output channel c gets its gain (BatchNorm weight, or the
/// tutorial's conv5 weight row) times 0 when c % 8 == 0 (an exactly constant pooled feature)
/// and times 1e-5 when c % 8 == 1.
fn flatten_features(sd: &mut StateDict) {
    let name = if sd.get("conv5.1.weight").is_some() {
        "conv5.1.weight"
    } else {
        "conv5.weight"
    };
    let gain = sd.tensors.get_mut(name).unwrap();
    let row = gain.data.len() / gain.shape[0];
    for (c, values) in gain.data.chunks_exact_mut(row).enumerate() {
        let by = match c % 8 {
            0 => 0.0,
            1 => 1e-5,
            _ => continue,
        };
        values.iter_mut().for_each(|v| *v *= by);
    }
}

/// The crops as one normalized batch, as the script builds it: `(p / 255 - mean) / std`.
fn crops() -> (Tensor, Vec<usize>) {
    let (shape, pixels) = fixtures::tensor(TEACH_CROPS, "pixels");
    let (_, labels) = fixtures::tensor(TEACH_CROPS, "labels");
    let (n, h, w) = (shape[0], shape[1], shape[2]);
    let mut x = vec![0.0f32; n * 3 * h * w];
    for (i, v) in x.iter_mut().enumerate() {
        let (img, c, p) = (i / (3 * h * w), i / (h * w) % 3, i % (h * w));
        *v = (pixels[(img * h * w + p) * 3 + c] / 255.0 - MEAN[c]) / STD[c];
    }
    let labels = labels.iter().map(|&l| l as usize).collect();
    (Tensor::new([n, 3, h, w], x).unwrap(), labels)
}

/// Rows `idx` of a `[n][d]` matrix.
fn rows(m: &[f32], d: usize, idx: &[usize]) -> Vec<f32> {
    idx.iter()
        .flat_map(|&i| m[i * d..(i + 1) * d].iter().copied())
        .collect()
}

/// `W f + b` in f64: what torchvision's `fc` computes from its features, without the f32
/// summation order of any one implementation.
fn reference_logits(head: &Linear, features: &[f32]) -> Vec<f32> {
    features
        .chunks_exact(head.in_f)
        .flat_map(|f| {
            head.weight
                .chunks_exact(head.in_f)
                .zip(&head.bias)
                .map(|(w, b)| {
                    let dot: f64 = w.iter().zip(f).map(|(w, x)| *w as f64 * *x as f64).sum();
                    (dot + *b as f64) as f32
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

suite_test!(
    async fn every_backbone_exports_a_head_torchvision_reads_the_same() {
        let (x, labels) = crops();
        let taught_per_class: usize = fixtures::metadata(TEACH_CROPS, "taught_per_class")
            .parse()
            .unwrap();
        let names: Vec<String> =
            serde_json::from_str(&fixtures::metadata(TEACH_CROPS, "classes")).unwrap();
        let classes = names.len();
        let names = ClassNames::given(names).unwrap();
        // The first `taught_per_class` crops of each class are taught (a quarter of them
        // held out); the fixture holds torchvision's features of the others.
        let taught: Vec<usize> = (0..labels.len())
            .filter(|&i| {
                labels[i] < classes
                    && labels[..i].iter().filter(|&&l| l == labels[i]).count() < taught_per_class
            })
            .collect();
        let (_, compared) = fixtures::tensor(TEACH_FEATURES, "compared");
        let compared: Vec<usize> = compared.iter().map(|&i| i as usize).collect();
        assert!(compared.iter().all(|i| !taught.contains(i)));

        for name in BACKBONES {
            let arch = arch(name);
            let mut sd = weights::random::state_dict(&arch, SEED);
            flatten_features(&mut sd);
            let file = weights::write_safetensors(&sd, false, None, None).unwrap();
            let mut eng = Engine::new(
                weights::load(&file).unwrap().network,
                Preference::Cpu,
                EngineOptions::default(),
            )
            .await;
            let out = eng.run(&x).await.unwrap();
            let d = out.feature_len;
            // Exactly constant features are in the set, as the rule makes them.
            let constant = (0..d)
                .filter(|&j| (1..out.batch).all(|i| out.features_of(i)[j] == out.features_of(0)[j]))
                .count();
            assert!(constant >= d / 8, "{name}: {constant} constant features");

            let taught_labels: Vec<usize> = taught.iter().map(|&i| labels[i]).collect();
            let (train_idx, held_idx) = teach::split(&taught_labels, classes, 0.25, 0);
            let pick = |idx: &[usize]| {
                let global: Vec<usize> = idx.iter().map(|&i| taught[i]).collect();
                let l: Vec<usize> = global.iter().map(|&i| labels[i]).collect();
                (rows(&out.features, d, &global), l)
            };
            let ((train_x, train_y), (held_x, held_y)) = (pick(&train_idx), pick(&held_idx));
            let samples = Samples {
                features: &train_x,
                feature_len: d,
                labels: &train_y,
                classes,
            };
            let held = Samples {
                features: &held_x,
                labels: &held_y,
                ..samples.clone()
            };
            let opts = TrainOptions::default();
            let t = teach::train(&samples, &opts).unwrap();
            let unknown = Unknown::fit(&samples, Some(&held)).unwrap();
            let max_w = t.head.weight.iter().fold(0.0f32, |m, w| m.max(w.abs()));
            let max_b = t.head.bias.iter().fold(0.0f32, |m, b| m.max(b.abs()));
            let (w_bound, b_bound) = (
                teach::weight_bound(&samples, &opts),
                teach::bias_bound(&samples, &opts),
            );
            assert!(max_w <= w_bound, "{name}: |w| {max_w} > bound {w_bound}");
            assert!(max_b <= b_bound, "{name}: |b| {max_b} > bound {b_bound}");

            let torch = fixtures::tensor(TEACH_FEATURES, name).1;
            assert_eq!(torch.len(), compared.len() * d, "{name}: fixture features");
            for f16 in [false, true] {
                let bytes =
                    weights::export_with_head(&file, &t.head, &names, Some(&unknown), f16).unwrap();
                let back = weights::load(&bytes).unwrap();
                assert!(back.info.unknown.is_some(), "{name}: the threshold travels");
                // The head as the file holds it (F16 values widened).
                let want = reference_logits(&back.network.fc, &torch);
                let mut again =
                    Engine::new(back.network, Preference::Cpu, EngineOptions::default()).await;
                let got = again
                    .run(&x)
                    .await
                    .unwrap()
                    .logits
                    .chunks_exact(classes)
                    .enumerate()
                    .filter(|(i, _)| compared.contains(i))
                    .flat_map(|(_, l)| l.to_vec())
                    .collect::<Vec<f32>>();
                let rel = common::rel_err(&got, &want) as f64;
                let bound = if f16 { F16_BOUND } else { F32_BOUND };
                report!(
                    "{name} {}: torchvision vs engine logits {rel:.2e} (bound {bound:.0e}); max |w| {max_w:.3} (bound {w_bound:.1}), max |b| {max_b:.3} (bound {b_bound:.1}); {constant} of {d} features constant",
                    if f16 { "F16" } else { "F32" }
                );
                assert!(rel <= bound, "{name} f16={f16}: {rel:.2e} > {bound:.0e}");
            }
        }
    }
);
