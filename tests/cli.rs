//! The `shufflenet` command line, end to end (native only).
#![cfg(not(target_arch = "wasm32"))]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_shufflenet");

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn cli(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().expect("runs the CLI")
}

fn ok(args: &[&str]) -> String {
    let out = cli(args);
    assert!(
        out.status.success(),
        "shufflenet {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Fails with a one-line message on stderr, no panic.
fn fails(args: &[&str]) -> String {
    let out = cli(args);
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(!out.status.success(), "shufflenet {args:?} succeeded");
    assert!(err.starts_with("error: "), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    err
}

fn read_npy(path: &Path) -> (Vec<u64>, Vec<f32>) {
    let bytes = std::fs::read(path).unwrap();
    let npy = npyz::NpyFile::new(&bytes[..]).unwrap();
    let shape = npy.shape().to_vec();
    (shape, npy.into_vec().unwrap())
}

#[test]
fn run_matches_torchvision_for_every_file_format() {
    let dir = tempfile::tempdir().unwrap();
    let (_, want) = read_npy(&fixture("small_logits.npy"));
    for (weights, tol) in [
        ("small.safetensors", 1e-4),
        ("small.pth", 1e-4),
        ("small_legacy.pth", 1e-4),
        ("small_f16.safetensors", 2e-2),
    ] {
        for backend in ["cpu", "reference"] {
            let out = dir.path().join("logits.npy");
            let w = fixture(weights);
            let input = fixture("small_input.npy");
            ok(&[
                "run",
                w.to_str().unwrap(),
                input.to_str().unwrap(),
                out.to_str().unwrap(),
                "--backend",
                backend,
            ]);
            let (shape, got) = read_npy(&out);
            assert_eq!(shape, vec![2, 10]);
            common::assert_close(&format!("{weights} on {backend}"), &got, &want, tol);
        }
    }
}

#[test]
fn convert_pth_to_safetensors_and_f16() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("w.safetensors");
    let out16 = dir.path().join("w16.safetensors");
    let pth = fixture("small.pth");
    ok(&["convert", pth.to_str().unwrap(), out.to_str().unwrap()]);
    ok(&[
        "convert",
        pth.to_str().unwrap(),
        out16.to_str().unwrap(),
        "--f16",
    ]);
    let info = ok(&["info", out.to_str().unwrap()]);
    assert!(
        info.contains("dtype: F32") && info.contains("format: safetensors"),
        "{info}"
    );
    let info16 = ok(&["info", out16.to_str().unwrap()]);
    assert!(info16.contains("dtype: F16"), "{info16}");
    // F16 halves the tensor bytes.
    let (a, b) = (
        std::fs::metadata(&out).unwrap().len(),
        std::fs::metadata(&out16).unwrap().len(),
    );
    assert!(b < a * 6 / 10, "{b} vs {a}");
}

#[test]
fn info_names_widths_and_counts_parameters() {
    let dir = tempfile::tempdir().unwrap();
    let w = dir.path().join("x05.safetensors");
    ok(&[
        "random",
        w.to_str().unwrap(),
        "--width",
        "0.5",
        "--seed",
        "3",
    ]);
    let info = ok(&["info", w.to_str().unwrap()]);
    assert!(info.contains("architecture: x0.5"), "{info}");
    // torchvision's count, written by tools/make_fixtures.py.
    let counts = std::fs::read_to_string(fixture("param_counts.txt")).unwrap();
    let want = counts.lines().find_map(|l| l.strip_prefix("0.5 ")).unwrap();
    assert!(info.contains(&format!("parameters: {want}\n")), "{info}");
}

#[test]
fn classify_prints_top_k_as_json() {
    let w = fixture("small.safetensors");
    let img = fixture("image.png");
    let out = ok(&[
        "classify",
        w.to_str().unwrap(),
        img.to_str().unwrap(),
        "--top",
        "3",
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    let top = v["top"].as_array().unwrap();
    assert_eq!(top.len(), 3);
    let probs: Vec<f64> = top.iter().map(|t| t["prob"].as_f64().unwrap()).collect();
    assert!(probs.windows(2).all(|p| p[0] >= p[1]), "{probs:?}");
    assert!(probs.iter().all(|p| (0.0..=1.0).contains(p)));
}

#[test]
fn bench_reports_stages() {
    let w = fixture("small.safetensors");
    let out = ok(&[
        "bench",
        w.to_str().unwrap(),
        "--runs",
        "3",
        "--size",
        "64",
        "--batch",
        "2",
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["runs"], 3);
    assert!(v["median_ms"].as_f64().unwrap() > 0.0);
    for s in ["stem", "stage2", "stage3", "stage4", "head"] {
        assert!(v["stages"][s].as_f64().unwrap() >= 0.0, "{s}");
    }
}

/// Top-k as (index, name) pairs from `classify --json`.
fn top_names(out: &str) -> Vec<(u64, String)> {
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    v["top"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["index"].as_u64().unwrap(),
                t["name"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn class_names_travel_with_the_weights() {
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    let (five, named, kept) = (
        path("five.pth"),
        path("named.safetensors"),
        path("kept.safetensors"),
    );
    let img = fixture("image.png");
    let img = img.to_str().unwrap();
    ok(&[
        "random",
        &five,
        "--width",
        "0.5",
        "--classes",
        "5",
        "--seed",
        "3",
    ]);

    // A 5-class head without names: "class N", and top-k capped at the class count.
    let plain = top_names(&ok(&["classify", &five, img, "--top", "10", "--json"]));
    assert_eq!(plain.len(), 5, "{plain:?}");
    for (i, name) in &plain {
        assert_eq!(name, &format!("class {i}"));
    }
    assert!(ok(&["info", &five]).contains("class names: none"));

    // class_indices.json embedded by convert, then used by classify and shown by info.
    let flowers = ["daisy", "dandelion", "roses", "sunflowers", "tulips"];
    let indices: serde_json::Map<String, serde_json::Value> = flowers
        .iter()
        .enumerate()
        .map(|(i, f)| (i.to_string(), serde_json::json!(f)))
        .collect();
    std::fs::write(
        path("class_indices.json"),
        serde_json::to_string(&indices).unwrap(),
    )
    .unwrap();
    ok(&[
        "convert",
        &five,
        &named,
        "--labels",
        &path("class_indices.json"),
    ]);
    assert!(
        ok(&["info", &named]).contains("class names: daisy, dandelion, roses, sunflowers, tulips")
    );
    let top = top_names(&ok(&["classify", &named, img, "--top", "3", "--json"]));
    assert_eq!(top.len(), 3);
    for (k, (i, name)) in top.iter().enumerate() {
        assert_eq!(*i, plain[k].0, "same model, same order");
        assert_eq!(name, flowers[*i as usize]);
    }
    // A later convert keeps them; labels.txt overrides them for one classify.
    ok(&["convert", &named, &kept, "--f16"]);
    assert!(ok(&["info", &kept]).contains("class names: daisy"));
    std::fs::write(path("labels.txt"), "a\nb\nc\nd\ne\n").unwrap();
    let relabelled = top_names(&ok(&[
        "classify",
        &kept,
        img,
        "--labels",
        &path("labels.txt"),
        "--json",
    ]));
    assert!(relabelled
        .iter()
        .all(|(i, n)| n == ["a", "b", "c", "d", "e"][*i as usize]));

    // A count that does not match the head names both numbers, and nothing is written.
    std::fs::write(path("four.txt"), "a\nb\nc\nd\n").unwrap();
    let err = fails(&[
        "convert",
        &five,
        &path("out.safetensors"),
        "--labels",
        &path("four.txt"),
    ]);
    assert!(
        err.contains("4 names") && err.contains("5 outputs"),
        "{err}"
    );
    assert!(!dir.path().join("out.safetensors").exists());
    let err = fails(&["classify", &five, img, "--labels", &path("four.txt")]);
    assert!(
        err.contains("4 names") && err.contains("5 outputs"),
        "{err}"
    );
    // A 1000-class head keeps ImageNet's names.
    ok(&["random", &path("imagenet.safetensors"), "--width", "0.5"]);
    assert!(ok(&["info", &path("imagenet.safetensors")]).contains("class names: ImageNet-1k"));
}

/// `--backend webgpu` runs on WebGPU or fails; `auto` falls back to the CPU and says so.
#[cfg(feature = "gpu")]
#[test]
fn asking_for_webgpu_without_an_adapter_is_an_error() {
    let w = fixture("small.safetensors");
    let args = [
        "bench",
        w.to_str().unwrap(),
        "--runs",
        "1",
        "--size",
        "32",
        "--json",
    ];
    // wgpu reads WGPU_BACKEND: DirectX 12 does not exist here, so no adapter is found.
    let without_adapter = |backend: &str| {
        Command::new(BIN)
            .args(args)
            .args(["--backend", backend])
            .env("WGPU_BACKEND", "dx12")
            .output()
            .unwrap()
    };
    let gpu = without_adapter("webgpu");
    let err = String::from_utf8_lossy(&gpu.stderr);
    assert!(!gpu.status.success(), "ran without an adapter");
    assert!(
        err.starts_with("error: ") && err.contains("adapter"),
        "{err}"
    );
    let auto = without_adapter("auto");
    assert!(
        auto.status.success(),
        "{}",
        String::from_utf8_lossy(&auto.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&auto.stdout).unwrap();
    assert_ne!(v["backend"], "webgpu", "{v}");
}

#[test]
fn bad_inputs_fail_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let html = dir.path().join("404.pth");
    std::fs::write(&html, "<!DOCTYPE html><title>404</title>").unwrap();
    let err = fails(&["info", html.to_str().unwrap()]);
    assert!(err.contains("HTML"), "{err}");
    fails(&["info", "/nonexistent/weights.pth"]);

    // A .npy whose header claims far more data than it holds.
    let npy = dir.path().join("huge.npy");
    let mut header = b"\x93NUMPY\x01\x00".to_vec();
    let dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (100000, 3, 100000, 100000), }";
    let pad = 64 - (10 + dict.len() + 1) % 64;
    let text = format!("{dict}{}\n", " ".repeat(pad));
    header.extend_from_slice(&(text.len() as u16).to_le_bytes());
    header.extend_from_slice(text.as_bytes());
    std::fs::write(&npy, &header).unwrap();
    let w = fixture("small.safetensors");
    let out = dir.path().join("o.npy");
    let err = fails(&[
        "run",
        w.to_str().unwrap(),
        npy.to_str().unwrap(),
        out.to_str().unwrap(),
    ]);
    assert!(err.contains("more data"), "{err}");

    let img = dir.path().join("not-an-image.png");
    std::fs::write(&img, b"hello").unwrap();
    fails(&["classify", w.to_str().unwrap(), img.to_str().unwrap()]);
    fails(&[
        "random",
        dir.path().join("x.st").to_str().unwrap(),
        "--width",
        "3",
    ]);
    // Thread counts outside the crate's range, in words.
    for threads in ["0", "17"] {
        let err = fails(&[
            "bench",
            w.to_str().unwrap(),
            "--runs",
            "1",
            "--threads",
            threads,
        ]);
        assert!(err.contains("expected 1 to 16"), "{err}");
    }
}

#[test]
fn endless_and_oversized_inputs_are_refused_before_being_read() {
    // A device that never ends: refused on its first bytes.
    let start = std::time::Instant::now();
    let err = fails(&["info", "/dev/zero"]);
    assert!(err.contains("not a weights file"), "{err}");
    let weights = fixture("small.safetensors");
    let err = fails(&["run", weights.to_str().unwrap(), "/dev/zero", "/dev/null"]);
    assert!(err.contains("not a .npy file"), "{err}");
    // A (sparse) file that starts like a zip but is larger than any weights file.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("huge.pth");
    let file = std::fs::File::create(&path).unwrap();
    std::io::Write::write_all(&mut &file, b"PK\x03\x04").unwrap();
    file.set_len(600 << 20).unwrap();
    let err = fails(&["info", path.to_str().unwrap()]);
    assert!(
        err.contains("larger than any ShuffleNetV2 weights file"),
        "{err}"
    );
    let secs = start.elapsed().as_secs_f64();
    println!("both refused in {:.1} ms", secs * 1e3);
    // Reading either whole takes seconds and half a gigabyte or more.
    assert!(secs < 5.0, "took {secs:.2} s");
}

/// A `w x h` PNG: a reddish or bluish picture with per-image noise (`seed`).
fn picture(path: &Path, reddish: bool, seed: u32) {
    let mut state = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    let img = image::RgbImage::from_fn(48, 40, |x, y| {
        state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        let n = (state >> 27) as u8;
        let stripe = ((x + y) / 6 % 2) as u8 * 40;
        if reddish {
            image::Rgb([200 + n, 30 + stripe, 20 + n])
        } else {
            image::Rgb([20 + n, 40 + stripe, 200 + n])
        }
    });
    img.save(path).unwrap();
}

#[test]
fn teach_trains_a_head_from_image_folders() {
    let dir = tempfile::tempdir().unwrap();
    let path = |p: &str| dir.path().join(p);
    let data = path("data");
    for (class, reddish) in [("apples", true), ("sea", false)] {
        std::fs::create_dir_all(data.join(class)).unwrap();
        for i in 0..10 {
            picture(
                &data.join(class).join(format!("{i}.png")),
                reddish,
                i + u32::from(reddish) * 100,
            );
        }
    }
    std::fs::write(data.join("apples/notes.txt"), "not an image").unwrap();
    let backbone = path("backbone.safetensors");
    let s = |p: &Path| p.to_str().unwrap().to_string();
    ok(&["random", &s(&backbone), "--width", "0.5", "--seed", "2"]);
    let taught = path("taught.safetensors");
    let out = cli(&[
        "teach",
        &s(&backbone),
        &s(&data),
        "-o",
        &s(&taught),
        "--holdout",
        "0.2",
        "--seed",
        "1",
    ]);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("warning: skipping") && stderr.contains("notes.txt"),
        "{stderr}"
    );
    assert!(
        stdout.contains("apples: 2/2") && stdout.contains("sea: 2/2"),
        "{stdout}"
    );
    // The export: the backbone with a 2-class head named by the folders.
    let info = ok(&["info", &s(&taught)]);
    assert!(
        info.contains("classes: 2") && info.contains("class names: apples, sea"),
        "{info}"
    );
    // New pictures of each kind are classified right.
    for (reddish, want) in [(true, "apples"), (false, "sea")] {
        let img = path(&format!("new-{want}.png"));
        picture(&img, reddish, 999);
        let top = top_names(&ok(&[
            "classify",
            &s(&taught),
            &s(&img),
            "--top",
            "1",
            "--json",
        ]));
        assert_eq!(top[0].1, want);
    }
    // Something never taught (green and flat) is "none of these", by name and in JSON.
    let green = path("green.png");
    image::RgbImage::from_pixel(48, 40, image::Rgb([30, 200, 40]))
        .save(&green)
        .unwrap();
    let text = ok(&["classify", &s(&taught), &s(&green)]);
    assert!(
        text.contains("unknown") && !text.contains("apples"),
        "{text}"
    );
    let json: serde_json::Value =
        serde_json::from_str(ok(&["classify", &s(&taught), &s(&green), "--json"]).trim()).unwrap();
    assert_eq!(json["unknown"], true, "{json}");
    assert!(json["top"][0].get("name").is_none(), "{json}");
    assert!(stderr.contains("\"none of these\" threshold"), "{stderr}");
    // A class folder without images is an error naming it (after the other folders' lines).
    std::fs::create_dir_all(data.join("empty")).unwrap();
    let out = cli(&[
        "teach",
        &s(&backbone),
        &s(&data),
        "-o",
        &s(&path("x.safetensors")),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && !err.contains("panicked"), "{err}");
    assert!(
        err.contains("error: ") && err.contains("empty: no readable images"),
        "{err}"
    );
    assert!(!path("x.safetensors").exists());
}

/// `guidelines --json`: one object per table, each row with its figures and the paper's.
#[test]
fn guidelines_json_has_four_tables_of_rows() {
    let out = ok(&[
        "guidelines",
        "--backend",
        "cpu",
        "--json",
        "--runs",
        "1",
        "--size",
        "8",
    ]);
    let tables: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object a line"))
        .collect();
    let numbers: Vec<u64> = tables
        .iter()
        .map(|t| t["table"].as_u64().unwrap())
        .collect();
    assert_eq!(numbers, [1, 2, 3, 4]);
    for t in &tables {
        assert!(t["guideline"].as_str().unwrap().starts_with('G'));
        assert_eq!(t["paper_column"].as_str(), Some("Snapdragon 810 (ARM)"));
        assert!(!t["verdict"].as_str().unwrap().is_empty());
        let rows = t["rows"].as_array().unwrap();
        assert!(rows.len() >= 4, "{t}");
        assert_eq!(rows[0]["ratio"].as_f64(), Some(1.0));
        for r in rows {
            for key in ["median_ms", "throughput", "ratio", "paper", "paper_ratio"] {
                assert!(r[key].as_f64().is_some_and(|v| v > 0.0), "{key} in {r}");
            }
            for key in ["flops", "mac_bytes"] {
                assert!(r[key].as_u64().is_some_and(|v| v > 0), "{key} in {r}");
            }
        }
    }
}

#[test]
fn guidelines_refuses_bad_settings_in_words() {
    assert!(fails(&["guidelines", "--backend", "tpu"]).contains("expected cpu, webgpu or all"));
    assert!(fails(&["guidelines", "--scales", "3"]).contains("none of the paper's"));
    assert!(fails(&["guidelines", "--size", "0"]).contains("input side 0"));
}
