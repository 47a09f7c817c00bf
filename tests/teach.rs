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
