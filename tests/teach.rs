//! The head trainer at the size, natively and in headless Chrome (wasm CPU path):
//! 5 classes x 50 samples of 1024 ReLU-like features. Prints the training time (the target,
//! under 200 ms in wasm, is read from the printed figure, not asserted: timing tests flake).

mod common;
#[cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

use common::noise;
use shufflenet_web::teach::{train, Samples, TrainOptions};

suite_test!(
    fn five_classes_of_fifty_train_and_print_their_time() {
        let (classes, per_class, d) = (5, 50, 1024);
        // Pooled features are non-negative; each class lifts its own 64 features.
        let mut features: Vec<f32> = noise(classes * per_class * d, 3)
            .iter()
            .map(|v| v.max(0.0))
            .collect();
        let labels: Vec<usize> = (0..classes * per_class).map(|i| i / per_class).collect();
        for (x, &c) in features.chunks_exact_mut(d).zip(&labels) {
            for v in &mut x[c * 64..(c + 1) * 64] {
                *v += 0.5;
            }
        }
        let samples = Samples {
            features: &features,
            feature_len: d,
            labels: &labels,
            classes,
        };
        let t = train(&samples, &TrainOptions::default()).unwrap();
        report!(
            "teach 5 classes x 50 samples x 1024 features: {:.1} ms, {} steps, converged {}, train accuracy {:.3}",
            t.ms,
            t.losses.len() - 1,
            t.converged,
            t.train_accuracy
        );
        assert!(t.converged);
        assert_eq!(t.train_accuracy, 1.0);
    }
);

suite_test!(
    async fn an_exported_taught_head_loads_back_with_its_names_and_logits() {
        use common::{assert_close, fixtures, input};
        use shufflenet_web::classes::ClassNames;
        use shufflenet_web::engine::{Engine, EngineOptions, Preference};
        use shufflenet_web::model::Linear;
        use shufflenet_web::weights;

        // torchvision's network (head `fc.*`) and the tutorial's (head `linear.*`).
        for file in [fixtures::SMALL_PTH, fixtures::TUTORIAL_G1] {
            let loaded = weights::load(file).unwrap();
            let (d, classes) = (loaded.network.fc.in_f, loaded.network.fc.out_f);
            let mut eng =
                Engine::new(loaded.network, Preference::Cpu, EngineOptions::default()).await;
            let x = input(2, 40, 48, 5);
            let head = Linear {
                in_f: d,
                out_f: 3,
                weight: noise(3 * d, 8),
                bias: vec![0.5, -0.25, 0.0],
            };
            // A head that does not fit the features is refused and changes nothing.
            let wrong = Linear {
                in_f: d + 1,
                weight: noise(3 * (d + 1), 8),
                ..head.clone()
            };
            assert!(eng.set_head(wrong).is_err());
            assert_eq!(eng.run(&x).await.unwrap().classes, classes);

            eng.set_head(head.clone()).unwrap();
            let taught = eng.run(&x).await.unwrap();
            assert_eq!(taught.classes, 3);
            let names = ClassNames::given(vec!["cup".into(), "pen".into(), "key".into()]).unwrap();
            let bytes = weights::export_with_head(file, &head, &names, None, false).unwrap();
            let back = weights::load(&bytes).unwrap();
            assert_eq!(
                back.info.arch.family,
                weights::load(file).unwrap().info.arch.family
            );
            assert_eq!(back.info.class_names.names(), names.names());
            let mut again =
                Engine::new(back.network, Preference::Cpu, EngineOptions::default()).await;
            assert_close(
                "exported logits",
                &again.run(&x).await.unwrap().logits,
                &taught.logits,
                1e-5,
            );
            // Names that do not match the head are refused.
            let two = ClassNames::given(vec!["a".into(), "b".into()]).unwrap();
            assert!(weights::export_with_head(file, &head, &two, None, false).is_err());
        }
    }
);
