//! Picks the backend that runs a loaded network, for the CLI and the browser alike.

use crate::cpu::FastCpu;
use crate::model::Network;
use crate::preprocess::{self, Crop};
use crate::tensor::Tensor;
use crate::{Error, Output, Result};

/// Which backend the caller asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Preference {
    /// WebGPU where it works, the CPU otherwise.
    Auto,
    Gpu,
    Cpu,
    /// The plain reference loops (CLI checks only).
    Reference,
}

impl Preference {
    pub fn parse(s: &str) -> Result<Preference> {
        match s {
            "auto" => Ok(Preference::Auto),
            "webgpu" | "gpu" => Ok(Preference::Gpu),
            "cpu" => Ok(Preference::Cpu),
            "reference" => Ok(Preference::Reference),
            _ => Err(Error::Usage(format!(
                "unknown backend {s:?}: expected auto, webgpu, cpu or reference"
            ))),
        }
    }
}

/// A loaded network and the backend that runs it.
///
/// With `Auto` or `Gpu` the WebGPU backend runs frames while it works. Any GPU failure
/// (no WebGPU, no adapter, a pipeline that fails to build, a device lost mid-stream) moves
/// the engine to the CPU by itself: the reason is kept for `fallback_reason`, and a frame
/// that failed on the GPU is rerun on the CPU, so no frame is lost.
pub struct Engine {
    net: Network,
    cpu: FastCpu,
    preference: Preference,
    #[cfg(feature = "gpu")]
    gpu: Option<crate::gpu::GpuBackend>,
    #[cfg(feature = "gpu")]
    gpu_options: crate::gpu::GpuOptions,
    fallback: Option<String>,
}

impl Engine {
    pub async fn new(net: Network, preference: Preference) -> Result<Engine> {
        #[cfg(feature = "gpu")]
        return Engine::with_gpu_options(net, preference, Default::default()).await;
        #[cfg(not(feature = "gpu"))]
        Ok(Engine {
            cpu: FastCpu::new(&net),
            net,
            preference,
            fallback: (preference != Preference::Cpu && preference != Preference::Reference)
                .then(|| "built without the gpu feature".to_string()),
        })
    }

    /// `new` with GPU options (tests force faults through these).
    #[cfg(feature = "gpu")]
    pub async fn with_gpu_options(
        net: Network,
        preference: Preference,
        gpu_options: crate::gpu::GpuOptions,
    ) -> Result<Engine> {
        let mut engine = Engine {
            cpu: FastCpu::new(&net),
            net,
            preference,
            gpu: None,
            gpu_options,
            fallback: None,
        };
        if matches!(preference, Preference::Auto | Preference::Gpu) {
            if let Err(e) = engine.start_gpu().await {
                engine.fallback = Some(e.to_string());
            }
        }
        Ok(engine)
    }

    #[cfg(feature = "gpu")]
    async fn start_gpu(&mut self) -> Result<()> {
        let gpu = crate::gpu::GpuBackend::with_options(&self.net, self.gpu_options).await?;
        self.gpu = Some(gpu);
        self.fallback = None;
        Ok(())
    }

    /// Switches to `Gpu` (erring with the reason if WebGPU cannot run) or `Cpu`; returns the
    /// backend now in use.
    pub async fn set_backend(&mut self, preference: Preference) -> Result<&'static str> {
        match preference {
            #[cfg(feature = "gpu")]
            Preference::Gpu | Preference::Auto => {
                if self.gpu.is_none() {
                    if let Err(e) = self.start_gpu().await {
                        self.fallback = Some(e.to_string());
                        if preference == Preference::Gpu {
                            return Err(e);
                        }
                    }
                }
            }
            #[cfg(not(feature = "gpu"))]
            Preference::Gpu => {
                return Err(Error::Gpu("built without the gpu feature".into()));
            }
            _ => {
                #[cfg(feature = "gpu")]
                {
                    self.gpu = None;
                }
            }
        }
        self.preference = preference;
        Ok(self.backend())
    }

    /// Why WebGPU is not running frames, if it was wanted and is not.
    pub fn fallback_reason(&self) -> Option<&str> {
        self.fallback.as_deref()
    }

    /// The GPU adapter's name while WebGPU runs frames.
    pub fn adapter_name(&self) -> Option<String> {
        #[cfg(feature = "gpu")]
        return self.gpu.as_ref().map(|g| g.adapter_name());
        #[cfg(not(feature = "gpu"))]
        None
    }

    /// Dispatch and transfer figures of the last GPU frame.
    #[cfg(feature = "gpu")]
    pub fn gpu_stats(&self) -> Option<crate::gpu::GpuStats> {
        self.gpu.as_ref().map(|g| g.stats())
    }

    /// Keeps a GPU result, or on a GPU failure records why, drops the GPU and returns
    /// `None` so the caller reruns the frame on the CPU. Bad input is the caller's error.
    #[cfg(feature = "gpu")]
    fn gpu_outcome(&mut self, r: Result<Output>) -> Result<Option<Output>> {
        match r {
            Ok(out) => Ok(Some(out)),
            Err(Error::Gpu(why)) => {
                self.fallback = Some(format!("GPU: {why}"));
                self.gpu = None;
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    pub fn network(&self) -> &Network {
        &self.net
    }

    /// The backend that runs the next frame.
    pub fn backend(&self) -> &'static str {
        #[cfg(feature = "gpu")]
        if self.gpu.is_some() {
            return "webgpu";
        }
        match self.preference {
            Preference::Reference => "cpu-reference",
            _ => self.cpu.name(),
        }
    }

    /// Runs an already normalized N x 3 x H x W batch.
    pub async fn run(&mut self, input: &Tensor) -> Result<Output> {
        #[cfg(feature = "gpu")]
        if let Some(gpu) = &mut self.gpu {
            let r = gpu.run(input).await;
            if let Some(out) = self.gpu_outcome(r)? {
                return Ok(out);
            }
        }
        match self.preference {
            Preference::Reference => crate::cpu::reference::run(&self.net, input),
            _ => self.cpu.run(input),
        }
    }

    /// Preprocesses an RGBA frame and classifies it.
    pub async fn run_rgba(
        &mut self,
        rgba: &[u8],
        width: u32,
        height: u32,
        crop: Crop,
    ) -> Result<Output> {
        #[cfg(feature = "gpu")]
        if let Some(gpu) = &mut self.gpu {
            let r = gpu.run_rgba(rgba, width, height, crop).await;
            if let Some(out) = self.gpu_outcome(r)? {
                return Ok(out);
            }
        }
        let input = preprocess::rgba_to_tensor(rgba, width as usize, height as usize, crop)?;
        self.run(&input).await
    }

    /// Classifies an ImageBitmap: copied straight into a GPU texture when WebGPU runs
    /// frames, read back through a 2D canvas for the CPU.
    #[cfg(target_arch = "wasm32")]
    pub async fn run_image_bitmap(
        &mut self,
        bitmap: &web_sys::ImageBitmap,
        crop: Crop,
    ) -> Result<Output> {
        #[cfg(feature = "gpu")]
        if let Some(gpu) = &mut self.gpu {
            let r = gpu.run_image_bitmap(bitmap, crop).await;
            if let Some(out) = self.gpu_outcome(r)? {
                return Ok(out);
            }
        }
        let rgba = bitmap_pixels(bitmap)?;
        self.run_rgba(&rgba, bitmap.width(), bitmap.height(), crop)
            .await
    }
}

/// An ImageBitmap's RGBA pixels, drawn on an OffscreenCanvas (works in windows and workers).
#[cfg(target_arch = "wasm32")]
fn bitmap_pixels(bitmap: &web_sys::ImageBitmap) -> Result<Vec<u8>> {
    use wasm_bindgen::JsCast;
    let js = |e: wasm_bindgen::JsValue| Error::Input(format!("reading the image: {e:?}"));
    let (w, h) = (bitmap.width(), bitmap.height());
    if w == 0 || h == 0 {
        return Err(Error::Input(format!("a {w} x {h} image is empty")));
    }
    let canvas = web_sys::OffscreenCanvas::new(w, h).map_err(js)?;
    let ctx: web_sys::OffscreenCanvasRenderingContext2d = canvas
        .get_context("2d")
        .map_err(js)?
        .ok_or_else(|| Error::Input("no 2D canvas context".into()))?
        .dyn_into()
        .map_err(|_| Error::Input("the 2D context is not a 2D context".into()))?;
    ctx.draw_image_with_image_bitmap(bitmap, 0.0, 0.0)
        .map_err(js)?;
    Ok(ctx
        .get_image_data(0.0, 0.0, w as f64, h as f64)
        .map_err(js)?
        .data()
        .0)
}
