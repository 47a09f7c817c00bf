//! Picks the backend that runs a loaded network, for the CLI and the browser alike.

use crate::backend::{Backend, Capabilities, RgbaFrame};
use crate::cpu::reference::Reference;
use crate::cpu::FastCpu;
use crate::model::{Linear, Network};
use crate::preprocess::Crop;
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

/// The fast CPU backend on `threads` threads, or the reference should its kernels ever
/// refuse a network (they run every network the graph describes, the tutorial's too).
fn cpu_backend(net: &Network, threads: usize) -> Box<dyn Backend> {
    match FastCpu::with_threads(net, threads) {
        Ok(fast) => Box::new(fast),
        Err(_) => Box::new(Reference::new(net)),
    }
}

/// A loaded network and the backend that runs it.
///
/// With `Auto` or `Gpu` the WebGPU backend runs frames while it works. Any device failure
/// (no WebGPU, no adapter, a pipeline that fails to build, a device lost mid-stream) moves
/// the engine to the fast CPU backend by itself: the reason is kept for `fallback_reason`,
/// and a frame that failed on the device is rerun on the CPU, so no frame is lost.
pub struct Engine {
    net: Network,
    backend: Box<dyn Backend>,
    #[cfg(feature = "gpu")]
    gpu_options: crate::gpu::GpuOptions,
    fallback: Option<String>,
    /// Who ran the last frame: the backend, or the fast CPU for a frame too big for it.
    last_ran: &'static str,
    /// Threads of the fast CPU backend, the caller's included.
    cpu_threads: usize,
    /// The fast CPU that runs frames too big for the device (see `too_big_for_device`).
    oversize: Option<FastCpu>,
}

impl Engine {
    pub async fn new(net: Network, preference: Preference) -> Result<Engine> {
        let mut engine = Engine {
            backend: cpu_backend(&net, 1),
            net,
            #[cfg(feature = "gpu")]
            gpu_options: Default::default(),
            fallback: None,
            last_ran: "",
            cpu_threads: 1,
            oversize: None,
        };
        engine.start(preference).await;
        Ok(engine)
    }

    /// `new` with options for the WebGPU backend (kernel set, timing; tests force faults).
    #[cfg(feature = "gpu")]
    pub async fn with_gpu_options(
        net: Network,
        preference: Preference,
        gpu_options: crate::gpu::GpuOptions,
    ) -> Result<Engine> {
        let mut engine = Engine {
            backend: cpu_backend(&net, 1),
            net,
            gpu_options,
            fallback: None,
            last_ran: "",
            cpu_threads: 1,
            oversize: None,
        };
        engine.start(preference).await;
        Ok(engine)
    }

    /// Builds the backend `preference` asks for; a device that cannot start leaves the fast
    /// CPU backend running and says why.
    async fn start(&mut self, preference: Preference) {
        match preference {
            Preference::Reference => self.backend = Box::new(Reference::new(&self.net)),
            Preference::Cpu => self.backend = self.fast_cpu(),
            Preference::Auto | Preference::Gpu => match self.start_device().await {
                Ok(device) => {
                    self.backend = device;
                    self.fallback = None;
                }
                Err(e) => self.fallback = Some(e.to_string()),
            },
        }
    }

    #[cfg(feature = "gpu")]
    async fn start_device(&self) -> Result<Box<dyn Backend>> {
        let gpu = crate::gpu::GpuBackend::with_options(&self.net, self.gpu_options).await?;
        Ok(Box::new(gpu))
    }

    #[cfg(not(feature = "gpu"))]
    async fn start_device(&self) -> Result<Box<dyn Backend>> {
        Err(Error::Gpu("built without the gpu feature".into()))
    }

    /// Switches to `Gpu` (erring with the reason if WebGPU cannot run), `Cpu` or
    /// `Reference`; returns the backend now in use.
    pub async fn set_backend(&mut self, preference: Preference) -> Result<&'static str> {
        let on_device = self.backend.capabilities().device_preprocessing;
        let wants_device = matches!(preference, Preference::Auto | Preference::Gpu);
        if on_device != wants_device || !wants_device {
            self.start(preference).await;
        }
        if preference == Preference::Gpu && !self.backend.capabilities().device_preprocessing {
            let why = self.fallback.clone().unwrap_or_default();
            return Err(Error::Gpu(why));
        }
        Ok(self.backend())
    }

    fn fast_cpu(&self) -> Box<dyn Backend> {
        cpu_backend(&self.net, self.cpu_threads)
    }

    /// Runs the fast CPU backend on `threads` threads from now on (restarting it if it runs
    /// frames). Results do not depend on the count.
    pub fn set_cpu_threads(&mut self, threads: usize) {
        self.cpu_threads = threads.max(1);
        self.oversize = None;
        if self.backend.name().starts_with("cpu-") {
            self.backend = self.fast_cpu();
        }
    }

    /// Why WebGPU is not running frames, if it was wanted and is not.
    pub fn fallback_reason(&self) -> Option<&str> {
        self.fallback.as_deref()
    }

    /// The GPU adapter's name while WebGPU runs frames.
    pub fn adapter_name(&self) -> Option<String> {
        self.backend.adapter_name()
    }

    /// Dispatch and transfer figures of the last GPU frame.
    #[cfg(feature = "gpu")]
    pub fn gpu_stats(&self) -> Option<crate::gpu::GpuStats> {
        self.backend.gpu_stats()
    }

    /// Swaps the classifier for `fc` (same features in, any number of classes out) without
    /// touching the backbone; the network keeps it too, so a fallback or a backend switch
    /// runs the same head. On error nothing changes.
    pub fn set_head(&mut self, fc: Linear) -> Result<()> {
        self.backend.set_head(&fc)?;
        self.oversize = None;
        self.net.arch.num_classes = fc.out_f;
        self.net.fc = fc;
        Ok(())
    }

    pub fn network(&self) -> &Network {
        &self.net
    }

    /// The backend that runs the next frame.
    pub fn backend(&self) -> &'static str {
        self.backend.name()
    }

    pub fn capabilities(&self) -> Capabilities {
        self.backend.capabilities()
    }

    /// Keeps a result, or on a device failure records why, moves to the fast CPU backend
    /// and returns `None` so the caller reruns the frame there. Bad input is the caller's.
    fn failed_over(&mut self, result: Result<Output>) -> Result<Option<Output>> {
        match result {
            Err(Error::Gpu(why)) => {
                self.fallback = Some(format!("GPU: {why}"));
                self.backend = self.fast_cpu();
                Ok(None)
            }
            other => other.map(Some),
        }
    }

    /// The backend that ran the last frame (the fast CPU for one too big for the device).
    pub fn last_ran(&self) -> &'static str {
        self.last_ran
    }

    /// A frame larger than the device's textures runs on the fast CPU, that frame only: the
    /// page scales frames to 2,048 pixels first, but a library caller may pass any size the
    /// CPU takes, and a device limit is no reason to refuse it.
    /// That CPU backend is built on the first such frame and kept for the next ones.
    fn too_big_for_device(&mut self, width: u32, height: u32) -> Option<&mut FastCpu> {
        let max = self.backend.max_frame_side()?;
        if width.max(height) <= max {
            return None;
        }
        if self.oversize.is_none() {
            self.oversize = FastCpu::with_threads(&self.net, self.cpu_threads).ok();
        }
        self.oversize.as_mut()
    }

    /// Runs an already normalized N x 3 x H x W batch.
    pub async fn run(&mut self, input: &Tensor) -> Result<Output> {
        let result = self.backend.run(input).await;
        let out = match self.failed_over(result)? {
            Some(out) => out,
            None => self.backend.run(input).await?,
        };
        self.last_ran = self.backend.name();
        Ok(out)
    }

    /// Preprocesses an RGBA frame (on the device where the backend can) and classifies it.
    pub async fn run_rgba(
        &mut self,
        rgba: &[u8],
        width: u32,
        height: u32,
        crop: Crop,
    ) -> Result<Output> {
        let frame = RgbaFrame {
            pixels: rgba,
            width,
            height,
        };
        if let Some(cpu) = self.too_big_for_device(width, height) {
            let out = cpu.run_rgba(frame, crop).await?;
            self.last_ran = cpu.name();
            return Ok(out);
        }
        let result = self.backend.run_rgba(frame, crop).await;
        let out = match self.failed_over(result)? {
            Some(out) => out,
            None => self.backend.run_rgba(frame, crop).await?,
        };
        self.last_ran = self.backend.name();
        Ok(out)
    }

    /// Classifies an ImageBitmap: the backend decides how to read it (copied straight into
    /// a GPU texture on WebGPU, read through a 2D canvas for the CPU).
    #[cfg(target_arch = "wasm32")]
    pub async fn run_image_bitmap(
        &mut self,
        bitmap: &web_sys::ImageBitmap,
        crop: Crop,
    ) -> Result<Output> {
        if let Some(cpu) = self.too_big_for_device(bitmap.width(), bitmap.height()) {
            let out = cpu.run_image_bitmap(bitmap, crop).await?;
            self.last_ran = cpu.name();
            return Ok(out);
        }
        let result = self.backend.run_image_bitmap(bitmap, crop).await;
        let out = match self.failed_over(result)? {
            Some(out) => out,
            None => self.backend.run_image_bitmap(bitmap, crop).await?,
        };
        self.last_ran = self.backend.name();
        Ok(out)
    }
}
