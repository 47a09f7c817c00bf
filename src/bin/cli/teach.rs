//! `shufflenet teach`: a new classifier head from a folder of images per class (the layout of
//! torchvision's `ImageFolder`), on the loaded backbone's pooled features, written out as a
//! torchvision state_dict with the folder names as class names.

use std::path::{Path, PathBuf};

use shufflenet_web::classes::ClassNames;
use shufflenet_web::engine::Engine;
use shufflenet_web::preprocess::{self, Crop};
use shufflenet_web::teach::{self, Samples, TrainOptions, Unknown};
use shufflenet_web::weights::{self, StateDict};
use shufflenet_web::{Error, Result};

/// The class folders of `data`, by name; hidden entries skipped.
fn class_dirs(data: &Path) -> Result<Vec<(String, PathBuf)>> {
    let io = |e: std::io::Error| Error::Io(format!("{}: {e}", data.display()));
    let mut dirs: Vec<(String, PathBuf)> = std::fs::read_dir(data)
        .map_err(io)?
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
        .filter(|(name, _)| !name.starts_with('.'))
        .collect();
    dirs.sort();
    if dirs.len() < 2 {
        return Err(Error::Input(format!(
            "{}: teaching needs a folder per class, at least two (found {})",
            data.display(),
            dirs.len()
        )));
    }
    Ok(dirs)
}

/// Pooled features of every readable image in `dir`; unreadable files are skipped with a
/// warning that names them.
fn features_of(eng: &mut Engine, dir: &Path) -> Result<(Vec<f32>, usize)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| Error::Io(format!("{}: {e}", dir.display())))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    let (mut features, mut count) = (Vec::new(), 0);
    for path in files {
        let img = match image::open(&path) {
            Ok(img) => img.to_rgb8(),
            Err(e) => {
                eprintln!("warning: skipping {}: {e}", path.display());
                continue;
            }
        };
        let (w, h) = img.dimensions();
        let x = preprocess::pixels_to_tensor(img.as_raw(), w as usize, h as usize, 3, Crop::Eval)?;
        let out = pollster::block_on(eng.run(&x))?;
        features.extend_from_slice(out.features_of(0));
        count += 1;
    }
    if count == 0 {
        return Err(Error::Input(format!(
            "{}: no readable images in this class folder",
            dir.display()
        )));
    }
    Ok((features, count))
}

pub fn run(
    mut eng: Engine,
    mut sd: StateDict,
    data: &Path,
    holdout: f32,
    seed: u64,
    f16: bool,
) -> Result<Vec<u8>> {
    if !(0.0..1.0).contains(&holdout) {
        return Err(Error::Usage(format!(
            "--holdout {holdout}: expected a fraction in [0, 1)"
        )));
    }
    let dirs = class_dirs(data)?;
    let (mut features, mut labels) = (Vec::new(), Vec::new());
    for (label, (name, dir)) in dirs.iter().enumerate() {
        let (f, n) = features_of(&mut eng, dir)?;
        eprintln!("{name}: {n} images");
        features.extend(f);
        labels.extend(std::iter::repeat_n(label, n));
    }
    let d = features.len() / labels.len();
    let classes = dirs.len();
    let (train_idx, held_idx) = teach::split(&labels, classes, holdout, seed);
    let pick = |idx: &[usize]| -> (Vec<f32>, Vec<usize>) {
        let f = idx
            .iter()
            .flat_map(|&i| features[i * d..(i + 1) * d].iter().copied())
            .collect();
        (f, idx.iter().map(|&i| labels[i]).collect())
    };
    let (train_x, train_y) = pick(&train_idx);
    let samples = Samples {
        features: &train_x,
        feature_len: d,
        labels: &train_y,
        classes,
    };
    let t = teach::train(
        &samples,
        &TrainOptions {
            seed,
            ..TrainOptions::default()
        },
    )?;
    eprintln!(
        "trained on {} samples in {:.0} ms ({} steps, {}), training accuracy {:.1}%",
        train_y.len(),
        t.ms,
        t.losses.len() - 1,
        if t.converged {
            "converged"
        } else {
            "stopped at the limit"
        },
        t.train_accuracy * 100.0
    );
    let (held_x, held_y) = pick(&held_idx);
    if !held_y.is_empty() {
        let predicted: Vec<usize> = held_x
            .chunks_exact(d)
            .map(|x| teach::predict(&t.head, x))
            .collect();
        println!("held-out accuracy ({} images):", held_y.len());
        for (c, (name, _)) in dirs.iter().enumerate() {
            let of_class: Vec<usize> = (0..held_y.len()).filter(|&i| held_y[i] == c).collect();
            let right = of_class.iter().filter(|&&i| predicted[i] == c).count();
            println!("  {name}: {right}/{}", of_class.len());
        }
        let right = predicted
            .iter()
            .zip(&held_y)
            .filter(|(p, l)| p == l)
            .count();
        println!(
            "  all: {right}/{} ({:.1}%)",
            held_y.len(),
            100.0 * right as f32 / held_y.len() as f32
        );
    }
    // "None of these": class means from the training split, the threshold from the held-out one.
    let held = Samples {
        features: &held_x,
        feature_len: d,
        labels: &held_y,
        classes,
    };
    let unknown = Unknown::fit(&samples, Some(&held))?;
    let rejected = held_x
        .chunks_exact(d)
        .filter(|x| unknown.rejects(x))
        .count();
    eprintln!(
        "\"none of these\" threshold {:.3}: {rejected}/{} held-out images of your classes would be rejected",
        unknown.threshold,
        held_y.len()
    );
    weights::replace_head(&mut sd, &t.head);
    let names = ClassNames::given(dirs.into_iter().map(|(name, _)| name).collect())?;
    weights::write_safetensors(&sd, f16, Some(&names), Some(&unknown))
}
