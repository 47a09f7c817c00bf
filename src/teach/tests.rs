use super::*;

/// `per_class` samples of each of `classes` clusters in `d` dimensions: class `c` is
/// centred on `spread` along axis `c`, with noise of amplitude `noise`.
fn clusters(
    classes: usize,
    per_class: usize,
    d: usize,
    spread: f32,
    noise: f32,
) -> (Vec<f32>, Vec<usize>) {
    let jitter = seeded(classes * per_class * d, 42, noise);
    let mut features = Vec::new();
    let mut labels = Vec::new();
    for c in 0..classes {
        for i in 0..per_class {
            let at = (c * per_class + i) * d;
            features.extend((0..d).map(|j| jitter[at + j] + if j == c { spread } else { 0.0 }));
            labels.push(c);
        }
    }
    (features, labels)
}

fn samples<'a>(features: &'a [f32], labels: &'a [usize], d: usize, classes: usize) -> Samples<'a> {
    Samples {
        features,
        feature_len: d,
        labels,
        classes,
    }
}

#[test]
fn separable_features_reach_full_training_accuracy() {
    let (f, l) = clusters(5, 50, 64, 1.0, 0.3);
    let t = train(&samples(&f, &l, 64, 5), &TrainOptions::default()).unwrap();
    assert_eq!(t.train_accuracy, 1.0);
    assert_eq!((t.head.out_f, t.head.in_f), (5, 64));
}

#[test]
fn loss_decreases_monotonically_and_converges() {
    // Overlapping clusters: a convex problem whose optimum is not at infinity.
    let (f, l) = clusters(3, 40, 16, 0.5, 1.0);
    let t = train(
        &samples(&f, &l, 16, 3),
        &TrainOptions {
            l2: 1e-2,
            ..Default::default()
        },
    )
    .unwrap();
    assert!(t.converged, "not converged in {} steps", t.losses.len());
    assert!(t.losses.len() > 3);
    for pair in t.losses.windows(2) {
        assert!(pair[1] < pair[0], "loss rose: {pair:?}");
    }
}

#[test]
fn same_seed_same_head() {
    let (f, l) = clusters(3, 10, 8, 1.0, 0.5);
    let s = samples(&f, &l, 8, 3);
    let opts = TrainOptions {
        seed: 9,
        ..Default::default()
    };
    let (a, b) = (train(&s, &opts).unwrap(), train(&s, &opts).unwrap());
    assert_eq!(a.head.weight, b.head.weight);
    assert_eq!(a.head.bias, b.head.bias);
}

#[test]
fn bad_input_is_refused_with_a_message() {
    let (mut f, l) = clusters(3, 4, 8, 1.0, 0.1);
    let message = |s: Samples| match train(&s, &TrainOptions::default()) {
        Err(Error::Input(m)) => m,
        other => panic!("expected an input error, got {other:?}"),
    };
    assert!(message(samples(&f, &l, 8, 4)).contains("class 3 has no samples"));
    let one = vec![0; 12];
    assert!(message(samples(&f, &one, 8, 1)).contains("at least two classes"));
    assert!(message(samples(&f[1..], &l, 8, 3)).contains("feature values"));
    f[8 * 5 + 2] = f32::NAN;
    assert!(message(samples(&f, &l, 8, 3)).contains("feature 2 of sample 5"));
}

#[test]
fn the_time_cap_stops_training() {
    let (f, l) = clusters(3, 20, 16, 0.5, 1.0);
    let opts = TrainOptions {
        max_ms: 0.0,
        ..Default::default()
    };
    let t = train(&samples(&f, &l, 16, 3), &opts).unwrap();
    assert!(!t.converged);
    assert_eq!(t.losses.len(), 1);
}

#[test]
fn the_split_holds_out_a_share_of_every_class_by_seed() {
    let labels: Vec<usize> = (0..50).map(|i| i % 5).collect();
    let (train, held) = split(&labels, 5, 0.2, 7);
    assert_eq!((train.len(), held.len()), (40, 10));
    for c in 0..5 {
        assert_eq!(held.iter().filter(|&&i| labels[i] == c).count(), 2);
    }
    assert_eq!(split(&labels, 5, 0.2, 7), (train, held.clone()));
    assert_ne!(split(&labels, 5, 0.2, 8).1, held);
    // The only sample of a class always trains.
    assert_eq!(split(&[0, 1], 2, 0.5, 1), (vec![0, 1], vec![]));
}

/// The case that exported weights of 8.5e6: features of real size in most dimensions, and a
/// few whose spread is tiny (but above any "constant" test) or exactly zero.
#[test]
fn near_constant_dimensions_cannot_blow_up_the_head() {
    let (d, classes) = (64, 3);
    let (mut f, l) = clusters(classes, 30, d, 1.0, 0.3);
    let wobble = seeded(f.len(), 7, 1e-5);
    for (i, row) in f.chunks_exact_mut(d).enumerate() {
        row[10] = 4.0 + wobble[i * d]; // near-constant: spread 1e-5 around 4
        row[11] = 2.5; // exactly constant
        row[12] = 1e3 + wobble[i * d + 1] * 10.0; // large and near-constant
    }
    let s = samples(&f, &l, d, classes);
    let opts = TrainOptions::default();
    let t = train(&s, &opts).unwrap();
    let largest = t.head.weight.iter().fold(0f32, |m, w| m.max(w.abs()));
    let bias = t.head.bias.iter().fold(0f32, |m, b| m.max(b.abs()));
    let (bound, bias_limit) = (weight_bound(&s, &opts), bias_bound(&s, &opts));
    println!(
        "largest |weight| {largest:.3} (bound {bound:.1}), |bias| {bias:.3} (bound {bias_limit:.1})"
    );
    assert!(largest <= bound, "{largest} > {bound}");
    assert!(bias <= bias_limit, "{bias} > {bias_limit}");
    assert!(
        largest < 1e3,
        "{largest}: the head works through cancellation"
    );
    assert_eq!(t.train_accuracy, 1.0);
    // The head survives F16: logits move by little next to their spread.
    let half =
        |v: &[f32]| -> Vec<f32> { v.iter().map(|x| half::f16::from_f32(*x).to_f32()).collect() };
    let h16 = Linear {
        weight: half(&t.head.weight),
        bias: half(&t.head.bias),
        ..t.head.clone()
    };
    for row in f.chunks_exact(d).take(20) {
        let (a, b) = (logits(&t.head, row), logits(&h16, row));
        let scale = a.iter().fold(0f32, |m, x| m.max(x.abs())).max(1.0);
        let diff = a
            .iter()
            .zip(&b)
            .fold(0f32, |m, (x, y)| m.max((x - y).abs()));
        assert!(diff / scale < 2e-2, "F16 head: {diff} on logits of {scale}");
    }
}

/// Rows `idx` of `features` (`d` wide) and their labels.
fn rows(features: &[f32], labels: &[usize], idx: &[usize], d: usize) -> (Vec<f32>, Vec<usize>) {
    let x = idx
        .iter()
        .flat_map(|&i| features[i * d..(i + 1) * d].to_vec())
        .collect();
    (x, idx.iter().map(|&i| labels[i]).collect())
}

/// "None of these" on clusters: three classes taught, a fourth never. The means learn from one
/// third of each taught class, the threshold from another, and the rates are measured on the
/// last third and on the untaught class. Prints the rates.
#[test]
fn none_of_these_rejects_an_untaught_class_and_keeps_taught_ones() {
    let d = 16;
    let (f, l) = clusters(4, 60, d, 4.0, 1.0);
    let part =
        |k: usize| -> Vec<usize> { (0..l.len()).filter(|&i| l[i] < 3 && i % 3 == k).collect() };
    let (train_x, train_y) = rows(&f, &l, &part(0), d);
    let (held_x, held_y) = rows(&f, &l, &part(1), d);
    let (test_x, _) = rows(&f, &l, &part(2), d);
    let untaught: Vec<usize> = (0..l.len()).filter(|&i| l[i] == 3).collect();
    let (other_x, _) = rows(&f, &l, &untaught, d);
    let unknown = Unknown::fit(
        &samples(&train_x, &train_y, d, 3),
        Some(&samples(&held_x, &held_y, d, 3)),
    )
    .unwrap();
    let rate = |x: &[f32]| {
        let n = x.len() / d;
        x.chunks_exact(d).filter(|v| unknown.rejects(v)).count() as f32 / n as f32
    };
    let (rejected_untaught, rejected_taught) = (rate(&other_x), rate(&test_x));
    println!(
        "none of these: {:.0}% of the untaught class rejected, {:.0}% of unseen taught samples wrongly rejected",
        100.0 * rejected_untaught,
        100.0 * rejected_taught
    );
    assert!(rejected_untaught >= 0.9, "{rejected_untaught}");
    assert!(rejected_taught <= 0.1, "{rejected_taught}");
}

#[test]
fn none_of_these_travels_in_metadata_and_refuses_another_head() {
    let d = 8;
    let (f, l) = clusters(3, 10, d, 3.0, 0.5);
    let unknown = Unknown::fit(&samples(&f, &l, d, 3), None).unwrap();
    assert!(unknown.threshold.is_finite() && unknown.threshold > 0.0);
    let metadata: std::collections::HashMap<String, String> = [unknown.to_metadata()].into();
    let back = Unknown::from_metadata(&metadata, d, 3).unwrap().unwrap();
    assert_eq!(back, unknown);
    let other = Unknown::from_metadata(&metadata, d, 4)
        .unwrap_err()
        .to_string();
    assert!(other.contains("4 classes of 8 features"), "{other}");
    let broken: std::collections::HashMap<String, String> = [(
        unknown::METADATA_KEY.to_string(),
        "{\"threshold\": 1}".to_string(),
    )]
    .into();
    assert!(Unknown::from_metadata(&broken, d, 3).is_err());
    assert_eq!(
        Unknown::from_metadata(&Default::default(), d, 3).unwrap(),
        None
    );
}
