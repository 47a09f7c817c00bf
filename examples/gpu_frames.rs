//! Frames per width on the native GPU adapter: ms per frame, stage times and GpuStats.
//! `cargo run --release --example gpu_frames [frames]`

use shufflenet_web::backend::{Backend, Frame};
use shufflenet_web::gpu::GpuBackend;
use shufflenet_web::model::{Arch, Width};
use shufflenet_web::{weights, Tensor};

fn main() -> shufflenet_web::Result<()> {
    let frames: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    for width in Width::ALL {
        let net = weights::random_network(&Arch::width(width), 1);
        let mut gpu = pollster::block_on(GpuBackend::new(&net))?;
        let x = Tensor::zeros([1, 3, 224, 224]);
        let start = web_time::Instant::now();
        let mut stages = [0.0f64; 5];
        let mut method = None;
        for _ in 0..frames {
            let out = pollster::block_on(gpu.run(Frame::Tensor(&x)))?;
            for (s, t) in stages.iter_mut().zip(out.times.ms) {
                *s += t / frames as f64;
            }
            method = Some(out.times.method);
        }
        let ms = start.elapsed().as_secs_f64() * 1e3 / frames as f64;
        let s = gpu.stats();
        println!(
            "x{} {}: {ms:.1} ms/frame, stages {:?} ms ({}), {} dispatches, {} readback, {} B up, {} B down",
            width.label(),
            gpu.adapter_name(),
            stages.map(|t| (t * 10.0).round() / 10.0),
            method.map_or("-", |m| m.name()),
            s.counts.dispatches_per_frame,
            s.counts.readbacks_per_frame,
            s.counts.bytes_uploaded_per_frame,
            s.counts.bytes_read_back_per_frame,
        );
    }
    Ok(())
}
