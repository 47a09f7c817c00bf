//! Command-line parsing and the subcommands.

mod guidelines;
mod npy;
mod roofline;
mod teach;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use shufflenet_web::classes::{self, ClassNames, Source};
use shufflenet_web::engine::{Engine, EngineOptions, Preference};
use shufflenet_web::model::{Arch, Stage, Width};
use shufflenet_web::preprocess::{self, Crop};
use shufflenet_web::weights::{self, Loaded};
use shufflenet_web::{Error, Result, Tensor};

#[derive(Parser)]
#[command(
    name = "shufflenet",
    version,
    about = "ShuffleNetV2 (torchvision-exact) on the CPU or GPU"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Convert a torchvision .pth or .safetensors file to safetensors (validated on the way).
    Convert {
        input: PathBuf,
        output: PathBuf,
        /// Store F16 instead of F32.
        #[arg(long)]
        f16: bool,
        /// Class names to store with the weights: class_indices.json, a JSON array, or
        /// labels.txt (one per line). Without it, names the input holds are kept.
        #[arg(long)]
        labels: Option<PathBuf>,
    },
    /// Classify images (JPEG, PNG, WebP, BMP) with torchvision's eval transform.
    Classify {
        weights: PathBuf,
        #[arg(required = true)]
        images: Vec<PathBuf>,
        #[arg(long, default_value_t = 5)]
        top: usize,
        /// One JSON object per image.
        #[arg(long)]
        json: bool,
        /// eval (resize 256, center crop 224) or square (center square crop to 224).
        #[arg(long, default_value = "eval")]
        crop: String,
        /// Class names to show instead of the file's (or the defaults).
        #[arg(long)]
        labels: Option<PathBuf>,
        #[command(flatten)]
        backend: BackendArg,
    },
    /// Run an already normalized float32 N x 3 x H x W .npy; write N x classes logits .npy.
    Run {
        weights: PathBuf,
        input: PathBuf,
        output: PathBuf,
        #[command(flatten)]
        backend: BackendArg,
    },
    /// Width, parameter count, dtype and size of a weights file.
    Info { weights: PathBuf },
    /// Time whole-network runs: median, min and max ms, and per-stage ms.
    Bench {
        weights: PathBuf,
        #[arg(long, default_value_t = 30)]
        runs: usize,
        #[arg(long, default_value_t = 1)]
        batch: usize,
        /// Input side in pixels.
        #[arg(long, default_value_t = 224)]
        size: usize,
        #[arg(long)]
        json: bool,
        /// Also print the work shape of each GPU dispatch (workgroups, invocations, serial
        /// steps, bytes) as a table.
        #[arg(long)]
        shape: bool,
        /// Also measure this machine's peak multiply-add rate and memory bandwidth (one
        /// thread) and print, per stage and layer kind, the rate achieved against them.
        #[arg(long)]
        layers: bool,
        #[command(flatten)]
        backend: BackendArg,
    },
    /// Teach a new classifier head from a folder per class of images (ImageFolder layout):
    /// prints held-out accuracy per class and writes the backbone with the new head and the
    /// folder names as class names (loads in torchvision with num_classes = the folders).
    Teach {
        backbone: PathBuf,
        data: PathBuf,
        #[arg(short, long)]
        output: PathBuf,
        /// Share of each class's images held out to measure accuracy.
        #[arg(long, default_value_t = 0.2)]
        holdout: f32,
        /// Seed of the held-out split and the training start.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Write the model in F16 (half the bytes; logits within 2e-2 of F32's).
        #[arg(long)]
        f16: bool,
        #[command(flatten)]
        backend: BackendArg,
    },
    /// Measure the paper's four guidelines (ShuffleNet V2, Tables 1 to 4) on our kernels:
    /// per row the median ms, throughput in the paper's unit, FLOPs and the paper's MAC in
    /// bytes; per table the speed ratios against its first row, beside the paper's.
    Guidelines {
        /// cpu (against the paper's ARM column), webgpu (its GPU column) or all.
        #[arg(long, default_value = "cpu")]
        backend: String,
        /// One JSON object per table and line.
        #[arg(long)]
        json: bool,
        /// Timed runs per row (after one warm-up); the median is reported.
        #[arg(long, default_value_t = 7)]
        runs: usize,
        /// Input side in pixels (the paper's: 56).
        #[arg(long, default_value_t = 56)]
        size: usize,
        /// Images per batch.
        #[arg(long, default_value_t = 1)]
        batch: usize,
        /// Width scales, of the paper's 1,2,4.
        #[arg(long, default_value = "1", value_delimiter = ',')]
        scales: Vec<usize>,
        /// Tables to run (default all four), e.g. 1,3.
        #[arg(long, value_delimiter = ',')]
        tables: Vec<usize>,
    },
    /// Write seeded random weights in torchvision's layout (the untrained stand-in).
    Random {
        output: PathBuf,
        #[arg(long, default_value = "1.0")]
        width: String,
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Outputs of the classifier head (a fine-tuned model's class count).
        #[arg(long, default_value_t = 1000)]
        classes: usize,
        #[arg(long)]
        f16: bool,
        /// The tutorial's network (issue 11) at that width instead of torchvision's.
        #[arg(long)]
        tutorial: bool,
        /// The tutorial network's groups (its 3x3 convs and channel shuffle).
        #[arg(long, default_value_t = 1, requires = "tutorial")]
        groups: usize,
    },
}

#[derive(clap::Args)]
struct BackendArg {
    /// auto, webgpu, cpu or reference.
    #[arg(long, default_value = "cpu")]
    backend: String,
    /// WebGPU kernel set: auto (software on CPU-type adapters), hardware or software.
    #[arg(long, default_value = "auto")]
    kernels: String,
    /// WebGPU stage timing: auto (timestamp queries) or precise (a fenced submit per stage).
    #[arg(long, default_value = "auto")]
    timing: String,
    /// WebGPU weight storage: auto (f16 on hardware adapters with shader-f16), f32 or f16.
    #[arg(long, default_value = "auto")]
    gpu_weights: String,
    /// CPU threads, this one included.
    #[arg(long, default_value_t = 1)]
    threads: usize,
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Reads a file of at most `limit` bytes, refusing early what cannot be the right kind:
/// foreign first bytes (`check` sees the first 16) before the rest is read (`/dev/zero`), and
/// anything longer (by its length when it has one, else by counting: pipes and devices).
pub fn read_capped(
    path: &Path,
    limit: usize,
    what: &str,
    check: impl Fn(&[u8]) -> Result<()>,
) -> Result<Vec<u8>> {
    let io = |e: std::io::Error| Error::Io(format!("{}: {e}", path.display()));
    let too_large = || {
        Error::Input(format!(
            "{} is larger than any {what} this program reads (limit {limit} bytes)",
            path.display()
        ))
    };
    let mut file = std::fs::File::open(path).map_err(io)?;
    if file.metadata().map_err(io)?.len() > limit as u64 {
        return Err(too_large());
    }
    let mut bytes = Vec::new();
    (&mut file).take(16).read_to_end(&mut bytes).map_err(io)?;
    check(&bytes).map_err(|e| Error::Io(format!("{}: {e}", path.display())))?;
    file.take(limit as u64 + 1 - bytes.len() as u64)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() > limit {
        return Err(too_large());
    }
    Ok(bytes)
}

fn read(path: &Path) -> Result<Vec<u8>> {
    read_capped(
        path,
        weights::MAX_FILE_BYTES,
        "ShuffleNetV2 weights file",
        |head| weights::sniff(head).map(drop),
    )
}

fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    std::fs::write(path, bytes).map_err(|e| Error::Io(format!("{}: {e}", path.display())))
}

/// A names file, checked against a head of `outputs` classes.
fn read_names(path: &Path, outputs: usize) -> Result<ClassNames> {
    let bytes = read_capped(
        path,
        classes::MAX_FILE_BYTES,
        "class names file",
        |_| Ok(()),
    )?;
    let names = ClassNames::parse(&bytes, &path.display().to_string())?;
    names
        .check_count(outputs)
        .map_err(|e| Error::Input(format!("{}: {e}", path.display())))?;
    Ok(names)
}

fn load(path: &Path) -> Result<Loaded> {
    let bytes = read(path)?;
    weights::load(&bytes).map_err(|e| Error::Io(format!("{}: {e}", path.display())))
}

fn engine(loaded: Loaded, backend: &BackendArg) -> Result<Engine> {
    let pref = Preference::parse(&backend.backend)?;
    let most = shufflenet_web::cpu::MAX_THREADS;
    if !(1..=most).contains(&backend.threads) {
        return Err(Error::Usage(format!(
            "--threads {}: expected 1 to {most}",
            backend.threads
        )));
    }
    let options = EngineOptions {
        #[cfg(feature = "gpu")]
        gpu: {
            use shufflenet_web::gpu::{GpuOptions, KernelChoice, Profiling, WeightPrecision};
            GpuOptions {
                kernels: KernelChoice::parse(&backend.kernels)?,
                profiling: Profiling::parse(&backend.timing)?,
                weights: WeightPrecision::parse(&backend.gpu_weights)?,
                ..GpuOptions::default()
            }
        },
        cpu_threads: backend.threads,
    };
    let engine = pollster::block_on(Engine::new(loaded.network, pref, options));
    // `--backend webgpu` means WebGPU or an error, never CPU figures under its name.
    match engine.fallback_reason() {
        Some(why) if pref == Preference::Gpu => Err(Error::Gpu(why.to_string())),
        _ => Ok(engine),
    }
}

fn run(command: Command) -> Result<()> {
    match command {
        Command::Convert {
            input,
            output,
            f16,
            labels,
        } => {
            let loaded = load(&input)?;
            let names = match labels {
                Some(path) => read_names(&path, loaded.info.arch.num_classes)?,
                None => (*loaded.info.class_names).clone(),
            };
            let given = names.source() == Source::Given;
            let sd = &loaded.state_dict;
            write(
                &output,
                &weights::write_safetensors(sd, f16, given.then_some(&names), None)?,
            )?;
            eprintln!(
                "wrote {} ({}, {}{})",
                output.display(),
                loaded.info.arch.describe(),
                if f16 { "F16" } else { "F32" },
                if given { ", with its class names" } else { "" }
            );
            Ok(())
        }
        Command::Info { weights } => {
            let info = load(&weights)?.info;
            println!("architecture: {}", info.arch.describe());
            println!("stage repeats: {:?}", info.arch.stages_repeats);
            println!("channels: {:?}", info.arch.stages_out_channels);
            println!("classes: {}", info.arch.num_classes);
            println!("class names: {}", describe_names(&info.class_names));
            println!("parameters: {}", info.params);
            println!("dtype: {}", info.dtype.name());
            println!("format: {}", info.format.name());
            println!("bytes: {}", info.file_bytes);
            Ok(())
        }
        Command::Random {
            output,
            width,
            seed,
            classes,
            f16,
            tutorial,
            groups,
        } => {
            if classes == 0 || classes > classes::MAX_CLASSES {
                return Err(Error::Usage(format!(
                    "--classes {classes}: expected 1 to {}",
                    classes::MAX_CLASSES
                )));
            }
            let arch = if tutorial {
                Arch::tutorial_width(Width::parse(&width)?, groups, classes)?
            } else {
                Arch {
                    num_classes: classes,
                    ..Arch::width(Width::parse(&width)?)
                }
            };
            let sd = weights::random::state_dict(&arch, seed);
            write(&output, &weights::write_safetensors(&sd, f16, None, None)?)?;
            eprintln!(
                "wrote {} (untrained stand-in: {}, seed {seed})",
                output.display(),
                arch.describe()
            );
            Ok(())
        }
        Command::Run {
            weights,
            input,
            output,
            backend,
        } => {
            let mut eng = engine(load(&weights)?, &backend)?;
            let x = npy::read_nchw(&input)?;
            let out = pollster::block_on(eng.run(&x))?;
            npy::write_2d(&output, &out.logits, out.batch, out.classes)
        }
        Command::Classify {
            weights,
            images,
            top,
            json,
            crop,
            labels,
            backend,
        } => {
            let crop = Crop::parse(&crop)?;
            let loaded = load(&weights)?;
            let names = match labels {
                Some(path) => read_names(&path, loaded.info.arch.num_classes)?,
                None => (*loaded.info.class_names).clone(),
            };
            let unknown = loaded.info.unknown.clone();
            let mut eng = engine(loaded, &backend)?;
            for path in images {
                let img = image::open(&path)
                    .map_err(|e| Error::Input(format!("{}: {e}", path.display())))?
                    .to_rgb8();
                let (w, h) = img.dimensions();
                let x =
                    preprocess::pixels_to_tensor(img.as_raw(), w as usize, h as usize, 3, crop)?;
                let out = pollster::block_on(eng.run(&x))?;
                let best = preprocess::top_k(out.logits_of(0), top);
                // A taught head's "none of these": far from every class it was taught.
                let far = unknown
                    .as_deref()
                    .map(|u| (u.score(out.features_of(0)), u.threshold))
                    .filter(|(score, threshold)| score > threshold);
                print_predictions(&path, &best, &names, far, json);
            }
            Ok(())
        }
        Command::Guidelines {
            backend,
            json,
            runs,
            size,
            batch,
            scales,
            tables,
        } => {
            let settings = shufflenet_web::guidelines::Settings {
                side: size,
                batch,
                runs,
                scales,
            };
            guidelines::run(&backend, &tables, &settings, json)
        }
        Command::Teach {
            backbone,
            data,
            output,
            holdout,
            seed,
            f16,
            backend,
        } => {
            let loaded = load(&backbone)?;
            let sd = loaded.state_dict.clone();
            let bytes = teach::run(engine(loaded, &backend)?, sd, &data, holdout, seed, f16)?;
            write(&output, &bytes)?;
            eprintln!("wrote {}", output.display());
            Ok(())
        }
        Command::Bench {
            weights,
            runs,
            batch,
            size,
            json,
            shape,
            layers,
            backend,
        } => bench(
            load(&weights)?,
            &backend,
            (runs, batch, size),
            Report {
                json,
                shape,
                layers,
            },
        ),
    }
}

/// What `info` says of a file's class names.
fn describe_names(names: &ClassNames) -> String {
    match names.source() {
        Source::ImageNet => "ImageNet-1k".into(),
        Source::Numbered => "none (shown as \"class 0\", \"class 1\", ...)".into(),
        Source::Given => {
            let shown: Vec<&str> = names.names().iter().take(5).map(String::as_str).collect();
            let more = if names.len() > 5 { ", ..." } else { "" };
            format!("{}{more}", shown.join(", "))
        }
    }
}

/// `far`: the "none of these" score and threshold, when the image is far from every taught
/// class; then no class is named.
fn print_predictions(
    path: &Path,
    best: &[(usize, f32)],
    names: &ClassNames,
    far: Option<(f32, f32)>,
    json: bool,
) {
    if let Some((score, threshold)) = far {
        if json {
            let top: Vec<_> = best
                .iter()
                .map(|(i, p)| serde_json::json!({"index": i, "prob": p}))
                .collect();
            let v = serde_json::json!({"image": path.display().to_string(), "unknown": true,
                "score": score, "threshold": threshold, "top": top});
            println!("{v}");
        } else {
            println!("{}", path.display());
            println!("  unknown  (none of the taught classes: {score:.2} > {threshold:.2})");
        }
        return;
    }
    if json {
        let top: Vec<_> = best
            .iter()
            .map(|(i, p)| serde_json::json!({"index": i, "name": names.name(*i), "prob": p}))
            .collect();
        println!(
            "{}",
            serde_json::json!({"image": path.display().to_string(), "top": top})
        );
    } else {
        println!("{}", path.display());
        for (i, p) in best {
            println!("  {:6.2}%  {:4}  {}", p * 100.0, i, names.name(*i));
        }
    }
}

/// What `bench` prints besides its timings.
struct Report {
    json: bool,
    shape: bool,
    layers: bool,
}

fn bench(
    loaded: Loaded,
    backend: &BackendArg,
    (runs, batch, size): (usize, usize, usize),
    Report {
        json,
        shape,
        layers,
    }: Report,
) -> Result<()> {
    if runs == 0 || batch == 0 {
        return Err(Error::Usage("--runs and --batch must be at least 1".into()));
    }
    let arch = loaded.info.arch.describe();
    let mut eng = engine(loaded, backend)?;
    let x = Tensor::new(
        [batch, 3, size, size],
        (0..batch * 3 * size * size)
            .map(|i| ((i % 255) as f32 / 127.0) - 1.0)
            .collect(),
    )?;
    // Warm up caches, the allocator and (on the GPU) the driver.
    let warm = web_time::Instant::now();
    while warm.elapsed().as_secs_f64() < 0.5 {
        pollster::block_on(eng.run(&x))?;
    }
    let mut totals = Vec::with_capacity(runs);
    let mut stages = [0f64; 5];
    let mut last_times = None;
    for _ in 0..runs {
        let t = web_time::Instant::now();
        let out = pollster::block_on(eng.run(&x))?;
        totals.push(t.elapsed().as_secs_f64() * 1e3);
        for (s, v) in stages.iter_mut().zip(out.times.ms) {
            *s += v / runs as f64;
        }
        last_times = Some(out.times);
    }
    let gpu = gpu_figures(&eng, [batch, size, size]);
    if shape {
        match &gpu {
            // Beside JSON lines the table goes to stderr, so stdout stays JSON.
            Some(g) if json => eprint!("{}", g.table),
            Some(g) => print!("{}", g.table),
            None => eprintln!(
                "--shape: no GPU dispatches ({} ran the frames)",
                eng.backend()
            ),
        }
    }
    let roofline = layers.then(|| roofline::report(eng.network(), size, batch, &stages));
    totals.sort_by(f64::total_cmp);
    let median = totals[totals.len() / 2];
    let (min, max) = (totals[0], totals[totals.len() - 1]);
    if json {
        let st: serde_json::Map<_, _> = Stage::ALL
            .iter()
            .map(|s| (s.name().to_string(), serde_json::json!(stages[*s as usize])))
            .collect();
        let mut line = serde_json::json!({"backend": eng.backend(), "arch": arch, "batch": batch,
            "size": size, "runs": runs, "median_ms": median, "min_ms": min, "max_ms": max,
            "stages": st});
        if let Some(t) = last_times {
            line["timing"] = t.method.name().into();
            line["resolution_ms"] = t.resolution_ms.into();
            line["frames_averaged"] = t.frames_averaged.into();
        }
        if let Some(g) = &gpu {
            line["kernels"] = g.kernels.into();
            line["gpu_weights"] = g.weights.into();
            line["shape"] = g.json.clone();
        }
        if let Some(r) = &roofline {
            line["layers"] = r.json.clone();
        }
        println!("{line}");
    } else {
        println!(
            "{arch} on {}{}, batch {batch}, {size}x{size}, {runs} runs",
            eng.backend(),
            gpu.as_ref()
                .map(|g| format!(" ({} kernels)", g.kernels))
                .unwrap_or_default()
        );
        println!("median {median:.2} ms  min {min:.2} ms  max {max:.2} ms");
        for s in Stage::ALL {
            println!("  {:7} {:8.3} ms", s.name(), stages[s as usize]);
        }
        if let Some(r) = &roofline {
            print!("{}", r.table);
        }
    }
    Ok(())
}

/// What a GPU bench line adds: the kernel set that ran and the frame's work shape.
struct GpuFigures {
    kernels: &'static str,
    weights: &'static str,
    table: String,
    json: serde_json::Value,
}

#[cfg(feature = "gpu")]
fn gpu_figures(eng: &Engine, shape: [usize; 3]) -> Option<GpuFigures> {
    use shufflenet_web::gpu::{self, FrameShape, KernelSet, SubgroupUse};
    let stats = eng.info().stats?;
    let set = KernelSet::ALL
        .into_iter()
        .find(|s| s.name() == stats.kernels)?;
    let subgroups = SubgroupUse {
        classifier: stats.subgroups,
        head_lanes: stats.subgroup_head_lanes,
    };
    let dispatches = gpu::work_shape(eng.network(), set, subgroups, shape);
    let t = FrameShape::of(&dispatches);
    Some(GpuFigures {
        kernels: stats.kernels,
        weights: stats.weights,
        table: gpu::shape_table(&dispatches),
        json: serde_json::json!({"dispatches": t.dispatches, "workgroups": t.workgroups,
            "invocations": t.invocations, "bytes_read": t.bytes_read,
            "bytes_written": t.bytes_written,
            "min_invocations_per_dispatch": t.min_invocations_per_dispatch,
            "max_serial_steps": t.max_serial_steps, "subgroups": stats.subgroups,
            "subgroup_head_lanes": stats.subgroup_head_lanes,
            "subgroup_sizes": stats.subgroup_sizes}),
    })
}

#[cfg(not(feature = "gpu"))]
fn gpu_figures(_: &Engine, _: [usize; 3]) -> Option<GpuFigures> {
    None
}
