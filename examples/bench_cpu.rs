//! Native timing of the fast CPU path (batch 1, 224x224), every width, on 1 thread or on
//! each count given as `tN`.
//! `cargo run --release --no-default-features --example bench_cpu [frames] [width...] [tN...]`

use pollster::block_on;
use shufflenet_web::backend::{Backend, Frame};
use shufflenet_web::cpu::FastCpu;
use shufflenet_web::model::{Arch, Stage, Width};
use shufflenet_web::weights::random_network;
use shufflenet_web::Tensor;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (threads, args): (Vec<String>, Vec<String>) =
        std::env::args().skip(1).partition(|a| a.starts_with('t'));
    let threads = match threads.is_empty() {
        true => vec![1],
        false => threads
            .iter()
            .map(|t| t[1..].parse::<usize>())
            .collect::<Result<_, _>>()?,
    };
    let frames: usize = args.first().map_or(Ok(30), |a| a.parse())?;
    let widths = match args.get(1..) {
        Some(w) if !w.is_empty() => w
            .iter()
            .map(|w| Width::parse(w))
            .collect::<Result<Vec<_>, _>>()?,
        _ => Width::ALL.to_vec(),
    };
    let input = Tensor::new(
        [1, 3, 224, 224],
        (0..3 * 224 * 224)
            .map(|i| (i % 251) as f32 / 125.0 - 1.0)
            .collect(),
    )?;
    for (width, &threads) in widths
        .into_iter()
        .flat_map(|w| threads.iter().map(move |t| (w, t)))
    {
        let mut cpu = FastCpu::with_threads(&random_network(&Arch::width(width), 1), threads);
        for _ in 0..3 {
            block_on(cpu.run(Frame::Tensor(&input)))?;
        }
        let mut totals = Vec::with_capacity(frames);
        let on_cpu = on_cpu_ms();
        let mut stages = [0.0; 5];
        for _ in 0..frames {
            let t = std::time::Instant::now();
            let out = block_on(cpu.run(Frame::Tensor(&input)))?;
            totals.push(t.elapsed().as_secs_f64() * 1e3);
            stages
                .iter_mut()
                .zip(out.times.ms)
                .for_each(|(s, m)| *s += m / frames as f64);
        }
        // Time actually on a core: steadier than the wall clock on a busy machine.
        let on_cpu = on_cpu_ms()
            .zip(on_cpu)
            .map(|(b, a)| (b - a) / frames as f64);
        totals.sort_by(f64::total_cmp);
        let parts: Vec<String> = Stage::ALL
            .iter()
            .zip(stages)
            .map(|(s, m)| format!("{} {m:.2}", s.name()))
            .collect();
        println!(
            "{}-t{threads} x{}: median {:.2} ms/frame, min {:.2}, on-cpu mean {} ({})",
            cpu.info().name,
            width.label(),
            totals[frames / 2],
            totals[0],
            on_cpu.map_or("n/a".into(), |m| format!("{m:.2}")),
            parts.join(", ")
        );
    }
    Ok(())
}

/// This thread's time on a CPU so far (Linux scheduler statistics), if available.
fn on_cpu_ms() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    Some(stat.split_whitespace().next()?.parse::<f64>().ok()? / 1e6)
}
