//! Native timing of the resize to 224 x 224 (`preprocess`) on one thread: camera frames in
//! their own YUV layout (I420) and RGBA pictures, at the sizes webcams deliver, square crop.
//! `cargo run --release --no-default-features --example bench_resize [frames]`

use shufflenet_web::backend::{Frame, RgbaFrame};
use shufflenet_web::preprocess::{Crop, Window};
use shufflenet_web::yuv::{Matrix, Plane, YuvFrame, YuvLayout};
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let frames: usize = std::env::args().nth(1).map_or(Ok(500), |a| a.parse())?;
    for (w, h) in [(320, 240), (640, 480), (1280, 720)] {
        let bytes = |len: usize| (0..len).map(|i| (i * 7 % 251) as u8).collect::<Vec<u8>>();
        let (yuv, rgba) = (bytes(w * h * 3 / 2), bytes(w * h * 4));
        let plane = |offset, stride| Plane { offset, stride };
        let camera = YuvFrame {
            data: &yuv,
            layout: YuvLayout::I420,
            width: w as u32,
            height: h as u32,
            planes: [
                plane(0, w),
                plane(w * h, w / 2),
                plane(w * h * 5 / 4, w / 2),
            ],
            matrix: Matrix::BT601,
            full_range: false,
            held: Window::all(w, h),
        };
        let picture = RgbaFrame {
            pixels: &rgba,
            width: w as u32,
            height: h as u32,
        };
        let i420 = time(frames, || Frame::Yuv(camera.clone(), Crop::Square))?;
        let rgba = time(frames, || Frame::Rgba(picture, Crop::Square))?;
        println!(
            "{{\"resize\":\"{w}x{h}\",\"frames\":{frames},\"i420_ms\":{i420:.3},\"rgba_ms\":{rgba:.3}}}"
        );
    }
    Ok(())
}

/// Mean ms of `frames` resizes of `frame()`, after one to warm up.
fn time<'a>(frames: usize, frame: impl Fn() -> Frame<'a>) -> Result<f64, shufflenet_web::Error> {
    frame().to_tensor()?;
    let start = Instant::now();
    for _ in 0..frames {
        std::hint::black_box(frame().to_tensor()?);
    }
    Ok(start.elapsed().as_secs_f64() * 1e3 / frames as f64)
}
